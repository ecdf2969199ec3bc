package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Listing a year of WAL means decoding hundreds of thousands of <Contents> entries, and the
// SDK's generic XML decoder spent 62% of a full scan's CPU there (profiled on the 200k-segment
// benchmark catalog), CPU that a small S3 server shares with us. fastListV2 decodes successful
// ListObjectsV2 responses with a scanner that knows the few elements S3 sends; anything it does
// not expect — CDATA, attributes, comments, entities it does not know — and every error
// response go to the SDK's own deserializer, so the SDK stays the reference for what a response
// means. TestFastListMatchesSDK checks that both decode the same.
func fastListV2(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		orig, ok := st.Deserialize.Get("OperationDeserializer")
		if !ok {
			return errors.New("the S3 client has no OperationDeserializer to replace")
		}
		_, err := st.Deserialize.Swap("OperationDeserializer", &fastListDeserializer{orig: orig})
		return err
	})
}

type fastListDeserializer struct {
	orig middleware.DeserializeMiddleware
}

func (*fastListDeserializer) ID() string { return "OperationDeserializer" }

// replay hands an already received response to the SDK's deserializer.
type replay struct {
	out middleware.DeserializeOutput
	md  middleware.Metadata
	err error
}

func (r replay) HandleDeserialize(context.Context, middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
	return r.out, r.md, r.err
}

func (m *fastListDeserializer) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if err != nil || !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return m.orig.HandleDeserialize(ctx, in, replay{out, md, err})
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxListBody+1))
	_ = resp.Body.Close()
	if rerr != nil {
		return out, md, fmt.Errorf("reading a ListObjectsV2 response: %w", rerr)
	}
	if len(body) > maxListBody {
		return out, md, fmt.Errorf("a ListObjectsV2 page is larger than %d MiB, which no S3 listing is (a page of 1,000 keys is under 1 MiB): the endpoint is not a working S3 server", maxListBody>>20)
	}
	if result, ok := parseListV2(body); ok {
		out.Result = result
		return out, md, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return m.orig.HandleDeserialize(ctx, in, replay{out, md, err})
}

// maxListBody caps what is read of one listing page.
const maxListBody = 16 << 20

// parseListV2 decodes a ListBucketResult. ok is false when the document holds anything the
// scanner does not decode — any element other than the ones setListField knows, CDATA,
// comments, attributes below the root, unknown entities — and the caller then uses the SDK's
// decoder, so a response is never half understood.
func parseListV2(b []byte) (*s3.ListObjectsV2Output, bool) {
	out := &s3.ListObjectsV2Output{}
	var stack [4]string
	depth := 0
	var obj *types.Object
	var text []byte
	i := 0
	// An XML declaration may come first.
	if bytes.HasPrefix(b, []byte("<?xml")) {
		end := bytes.Index(b, []byte("?>"))
		if end < 0 {
			return nil, false
		}
		i = end + 2
	}
	for i < len(b) {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			if len(bytes.TrimSpace(b[i:])) > 0 {
				return nil, false
			}
			break
		}
		text = append(text[:0], b[i:i+lt]...)
		i += lt
		gt := bytes.IndexByte(b[i:], '>')
		if gt < 0 {
			return nil, false
		}
		tag := b[i+1 : i+gt]
		i += gt + 1
		switch {
		case len(tag) == 0 || tag[0] == '!' || tag[0] == '?' || tag[len(tag)-1] == '/':
			return nil, false // comments, CDATA, processing instructions, empty elements
		case tag[0] == '/':
			name := string(tag[1:])
			if depth == 0 || stack[depth-1] != name {
				return nil, false
			}
			val, ok := unescapeXML(text)
			if !ok {
				return nil, false
			}
			if !setListField(out, &obj, stack[:depth], val) {
				return nil, false
			}
			depth--
			text = text[:0]
		default:
			name := tag
			if sp := bytes.IndexAny(tag, " \t\r\n"); sp >= 0 {
				if depth != 0 { // only the root carries attributes (xmlns)
					return nil, false
				}
				name = tag[:sp]
			}
			if depth == len(stack) || len(bytes.TrimSpace(text)) > 0 {
				return nil, false
			}
			stack[depth] = string(name)
			depth++
			switch {
			case depth == 1 && stack[0] != "ListBucketResult":
				return nil, false
			case depth == 2 && stack[1] == "Contents":
				out.Contents = append(out.Contents, types.Object{})
				obj = &out.Contents[len(out.Contents)-1]
			case depth == 2 && stack[1] == "CommonPrefixes":
				out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{})
			}
		}
	}
	if depth != 0 {
		return nil, false
	}
	return out, true
}

// setListField stores the text of the element that just closed; false means "not understood".
func setListField(out *s3.ListObjectsV2Output, obj **types.Object, path []string, val string) bool {
	switch len(path) {
	case 2:
		switch path[1] {
		case "IsTruncated":
			v, err := strconv.ParseBool(val)
			if err != nil {
				return false
			}
			out.IsTruncated = aws.Bool(v)
		case "NextContinuationToken":
			out.NextContinuationToken = aws.String(val)
		case "ContinuationToken":
			out.ContinuationToken = aws.String(val)
		case "KeyCount":
			return setInt32(&out.KeyCount, val)
		case "MaxKeys":
			return setInt32(&out.MaxKeys, val)
		case "Name":
			out.Name = aws.String(val)
		case "Prefix":
			out.Prefix = aws.String(val)
		case "Delimiter":
			out.Delimiter = aws.String(val)
		case "StartAfter":
			out.StartAfter = aws.String(val)
		case "EncodingType":
			out.EncodingType = types.EncodingType(val)
		case "Contents", "CommonPrefixes":
			*obj = nil
		default:
			return false // an element the scanner does not decode: the SDK will
		}
	case 3:
		switch path[1] {
		case "Contents":
			o := *obj
			switch path[2] {
			case "Key":
				o.Key = aws.String(val)
			case "Size":
				v, err := strconv.ParseInt(val, 10, 64)
				if err != nil {
					return false
				}
				o.Size = aws.Int64(v)
			case "LastModified":
				t, err := time.Parse(time.RFC3339Nano, val)
				if err != nil {
					return false
				}
				o.LastModified = aws.Time(t)
			case "ETag":
				o.ETag = aws.String(val)
			case "StorageClass":
				o.StorageClass = types.ObjectStorageClass(val)
			default:
				return false
			}
		case "CommonPrefixes":
			if path[2] != "Prefix" {
				return false
			}
			out.CommonPrefixes[len(out.CommonPrefixes)-1].Prefix = aws.String(val)
		default:
			return false
		}
	default:
		return len(path) == 1 // the root; deeper elements (Owner/ID…) are the SDK's
	}
	return true
}

func setInt32(dst **int32, val string) bool {
	v, err := strconv.ParseInt(val, 10, 32)
	if err != nil {
		return false
	}
	*dst = aws.Int32(int32(v))
	return true
}

// unescapeXML decodes the five predefined entities and character references.
func unescapeXML(b []byte) (string, bool) {
	if bytes.IndexByte(b, '&') < 0 {
		return string(b), true
	}
	var out []byte
	for len(b) > 0 {
		amp := bytes.IndexByte(b, '&')
		if amp < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:amp]...)
		semi := bytes.IndexByte(b[amp:], ';')
		if semi < 0 {
			return "", false
		}
		ent := string(b[amp+1 : amp+semi])
		switch ent {
		case "amp":
			out = append(out, '&')
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			var r uint64
			var err error
			switch {
			case len(ent) > 2 && (ent[:2] == "#x" || ent[:2] == "#X"):
				r, err = strconv.ParseUint(ent[2:], 16, 32)
			case len(ent) > 1 && ent[0] == '#':
				r, err = strconv.ParseUint(ent[1:], 10, 32)
			default:
				return "", false
			}
			if err != nil || r > 0x10FFFF {
				return "", false
			}
			out = append(out, string(rune(r))...)
		}
		b = b[amp+semi+1:]
	}
	return string(out), true
}
