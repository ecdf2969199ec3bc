package objstore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// fakeS3 answers ListObjectsV2 with the pages page(n) returns (n counts from 1), and fails the
// test when a request is not a listing.
func fakeS3(t *testing.T, page func(n int, r *http.Request) string) *S3 {
	t.Helper()
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("list-type") != "2" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		n++
		w.Header().Set("Content-Type", "application/xml")
		_, _ = fmt.Fprint(w, page(n, r))
	}))
	t.Cleanup(srv.Close)
	s := s3For(t, srv.URL)
	return s
}

func listPage(truncated bool, next, encoding string, keys ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name>`)
	if encoding != "" {
		b.WriteString("<EncodingType>" + encoding + "</EncodingType>")
	}
	fmt.Fprintf(&b, "<IsTruncated>%v</IsTruncated>", truncated)
	if next != "" {
		b.WriteString("<NextContinuationToken>" + next + "</NextContinuationToken>")
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "<Contents><Key>%s</Key><Size>1</Size><LastModified>2026-02-05T02:00:00.000Z</LastModified></Contents>", k)
	}
	b.WriteString("</ListBucketResult>")
	return b.String()
}

func listAll(s *S3) ([]string, error) {
	var keys []string
	err := s.List(context.Background(), "pg-main/wals/", false, func(p catalog.Page) error {
		for _, o := range p.Objects {
			keys = append(keys, o.Key)
		}
		return nil
	})
	return keys, err
}

// TestPartialListingIsAnError: the misbehaviours after which the SDK's paginator stops
// quietly, leaving a catalog with a hole, each end the listing with an error naming the
// bucket and prefix.
func TestPartialListingIsAnError(t *testing.T) {
	k := func(i int) string { return fmt.Sprintf("pg/pg-main/wals/0000000100000000/%024X", i) }
	cases := []struct {
		name string
		page func(n int, r *http.Request) string
		want string
	}{
		{"truncated without a token", func(n int, _ *http.Request) string { return listPage(true, "", "", k(n)) },
			"page 1 says the listing goes on (IsTruncated) but gives no continuation token"},
		{"a token that repeats", func(n int, _ *http.Request) string { return listPage(true, "same", "", k(n)) },
			"page 2 repeats a continuation token the server already gave"},
		{"keys that stop advancing", func(n int, _ *http.Request) string {
			return listPage(true, fmt.Sprint("t", n), "", k(1))
		}, "page 2 does not advance past the previous page's last key"},
		{"empty pages forever", func(n int, _ *http.Request) string { return listPage(true, fmt.Sprint("t", n), "") },
			"pages in a row hold no key but say the listing goes on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := listAll(fakeS3(t, tc.page))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "s3://bucket/pg/pg-main/wals/") {
				t.Errorf("List: %v, want an error with %q naming the bucket and prefix", err, tc.want)
			}
		})
	}
}

// TestListingAsksForURLEncodedKeysAndDecodesThem: a key with a control character arrives
// percent-encoded and is read back exactly; a well-behaved multi-page listing is whole.
func TestListingAsksForURLEncodedKeysAndDecodesThem(t *testing.T) {
	s := fakeS3(t, func(n int, r *http.Request) string {
		if r.URL.Query().Get("encoding-type") != "url" {
			t.Errorf("listing without encoding-type=url: %s", r.URL)
		}
		if n == 1 {
			return listPage(true, "t1", "url", "pg/pg-main/wals/a%01b", "pg/pg-main/wals/c+d")
		}
		if r.URL.Query().Get("continuation-token") != "t1" {
			t.Errorf("page 2 asked with token %q", r.URL.Query().Get("continuation-token"))
		}
		return listPage(false, "", "url", "pg/pg-main/wals/e%2Bf")
	})
	keys, err := listAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys, "|"); got != "pg-main/wals/a\x01b|pg-main/wals/c d|pg-main/wals/e+f" {
		t.Errorf("keys %q", got)
	}
}

// TestAnEndlessListingBodyIsCut: a page body is read through a cap.
func TestAnEndlessListingBodyIsCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = fmt.Fprint(w, `<?xml version="1.0"?><ListBucketResult><Name>bucket</Name>`)
		chunk := []byte(strings.Repeat("<Contents><Key>x</Key></Contents>", 1000))
		for i := 0; i < 1000; i++ { // 33 MB, past the cap
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	s := s3For(t, srv.URL)
	if _, err := listAll(s); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("List: %v, want the page refused at the cap", err)
	}
}

// TestAServerRefusingEncodingTypeIsListedWithoutIt: an S3-compatible server that answers
// InvalidArgument to encoding-type=url is asked again without it.
func TestAServerRefusingEncodingTypeIsListedWithoutIt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		if r.URL.Query().Get("encoding-type") != "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>encoding-type is not supported</Message></Error>`)
			return
		}
		_, _ = fmt.Fprint(w, listPage(false, "", "", "pg/pg-main/wals/000000010000000000000001"))
	}))
	defer srv.Close()
	s := s3For(t, srv.URL)
	keys, err := listAll(s)
	if err != nil || len(keys) != 1 {
		t.Errorf("List = %v, %v; want the one key", keys, err)
	}
}

// s3For is an S3 client of bucket "bucket", prefix "pg/", on a test server.
func s3For(t *testing.T, endpoint string) *S3 {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	s, err := NewS3(context.Background(), "bucket", "pg/", S3Options{EndpointURL: endpoint, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
