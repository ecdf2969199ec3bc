package objstore

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// stubHTTP answers every request with one canned response.
type stubHTTP struct {
	status int
	body   string
}

func (s stubHTTP) Do(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: s.status, Header: http.Header{"Content-Type": {"application/xml"}},
		Body: io.NopCloser(strings.NewReader(s.body)), ContentLength: int64(len(s.body))}, nil
}

func decodeBoth(t testing.TB, status int, body string) (fast, sdk *s3.ListObjectsV2Output, fastErr, sdkErr error) {
	t.Helper()
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://s3.test"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), HTTPClient: stubHTTP{status, body},
		RetryMaxAttempts: 1})
	in := &s3.ListObjectsV2Input{Bucket: aws.String("b"), Prefix: aws.String("p/")}
	fast, fastErr = client.ListObjectsV2(context.Background(), in, fastListV2)
	sdk, sdkErr = client.ListObjectsV2(context.Background(), in)
	return
}

var listOpts = cmp.Options{
	cmpopts.IgnoreUnexported(s3.ListObjectsV2Output{}, types.Object{}, types.CommonPrefix{}, types.Owner{}, types.RestoreStatus{}),
	cmpopts.IgnoreFields(s3.ListObjectsV2Output{}, "ResultMetadata"),
}

const listHead = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`

func TestFastListMatchesSDK(t *testing.T) {
	cases := map[string]string{
		"versitygw page": listHead + `<Name>catalog</Name><Prefix>pg/pg-main/wals/0000000100000000/</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>` +
			`<Contents><Key>pg/pg-main/wals/0000000100000000/000000010000000000000001.gz</Key><LastModified>2026-11-24T17:29:34.792Z</LastModified><ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>1412911</Size><StorageClass>STANDARD</StorageClass></Contents>` +
			`<Contents><Key>pg/pg-main/wals/0000000100000000/000000010000000000000002.gz</Key><LastModified>2026-11-24T17:29:36Z</LastModified><Size>16488</Size><Owner><ID>x</ID><DisplayName>y</DisplayName></Owner></Contents>` +
			`<KeyCount>2</KeyCount></ListBucketResult>`,
		"prefixes and a token": listHead + `<IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>` +
			`<Delimiter>/</Delimiter><CommonPrefixes><Prefix>pg/base/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>pg/wals/</Prefix></CommonPrefixes></ListBucketResult>`,
		"entities":     listHead + `<Contents><Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#65;&#x42;</Key><Size>1</Size></Contents></ListBucketResult>`,
		"url encoding": listHead + `<EncodingType>url</EncodingType><Contents><Key>a%20b%2Fc</Key><Size>1</Size></Contents></ListBucketResult>`,
		"empty":        listHead + `<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`,
		"whitespace":   listHead + "\n  <Contents>\n    <Key>k</Key>\n    <Size>3</Size>\n  </Contents>\n</ListBucketResult>\n",
		// The scanner gives these to the SDK.
		"cdata":         listHead + `<Contents><Key><![CDATA[x]]></Key></Contents></ListBucketResult>`,
		"comment":       listHead + `<!-- c --><Contents><Key>k</Key></Contents></ListBucketResult>`,
		"empty element": listHead + `<Contents><Key>k</Key><ETag/></Contents></ListBucketResult>`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			fast, sdk, fastErr, sdkErr := decodeBoth(t, 200, body)
			if (fastErr == nil) != (sdkErr == nil) {
				t.Fatalf("errors differ: fast %v, SDK %v", fastErr, sdkErr)
			}
			if d := cmp.Diff(sdk, fast, listOpts); d != "" {
				t.Errorf("fast decoder differs from the SDK (-sdk +fast):\n%s", d)
			}
		})
	}
}

func TestFastListLeavesErrorsToTheSDK(t *testing.T) {
	_, _, fastErr, _ := decodeBoth(t, 404, `<?xml version="1.0"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>`)
	var nsb *types.NoSuchBucket
	if !errors.As(fastErr, &nsb) {
		t.Errorf("404 NoSuchBucket = %T %v, want *types.NoSuchBucket", fastErr, fastErr)
	}
}

func TestParseListV2Refuses(t *testing.T) {
	for _, body := range []string{
		`<Other></Other>`,
		listHead + `<Contents><Key>k</Size></Contents></ListBucketResult>`,
		listHead + `<Contents><Key a="1">k</Key></Contents></ListBucketResult>`,
		listHead + `<Contents><Key>&bogus;</Key></Contents></ListBucketResult>`,
		listHead + `<Contents><Size>ten</Size></Contents></ListBucketResult>`,
		listHead + `<Contents>`,
	} {
		if _, ok := parseListV2([]byte(body)); ok {
			t.Errorf("parseListV2(%q) accepted it", body)
		}
	}
}

// FuzzParseListV2: whenever the scanner accepts a response, the SDK decodes it the same way.
func FuzzParseListV2(f *testing.F) {
	f.Add(listHead + `<Contents><Key>a&amp;b</Key><LastModified>2026-11-24T17:29:34.792Z</LastModified><Size>12</Size></Contents><IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken></ListBucketResult>`)
	f.Add(listHead + `<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>`)
	f.Add(listHead + `<EncodingType>url</EncodingType><Contents><Key>a%20b</Key></Contents></ListBucketResult>`)
	f.Fuzz(func(t *testing.T, body string) {
		if _, ok := parseListV2([]byte(body)); !ok {
			return
		}
		fast, sdk, fastErr, sdkErr := decodeBoth(t, 200, body)
		if sdkErr != nil {
			return // the SDK refuses what the scanner read: both are "a listing", the SDK is stricter
		}
		if fastErr != nil {
			t.Fatalf("fast path failed where the SDK did not: %v", fastErr)
		}
		if d := cmp.Diff(sdk, fast, listOpts); d != "" {
			t.Fatalf("fast decoder differs from the SDK on %q (-sdk +fast):\n%s", body, d)
		}
	})
}
