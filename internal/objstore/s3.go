package objstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/redact"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// S3Options configure the S3 backend. Credentials are not here: they come from the standard
// AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, shared files, IMDS).
type S3Options struct {
	// EndpointURL is the S3 endpoint for MinIO, Ceph, B2, R2…; empty means AWS.
	EndpointURL string
	// Region; empty means the AWS chain's, or us-east-1 with a custom endpoint.
	Region string
	// Addressing is "auto" (path-style with a custom endpoint, virtual-hosted on AWS), "path"
	// or "virtual".
	Addressing string
	// CABundle is a PEM file of extra CAs to trust.
	CABundle string
	// InsecureSkipTLSVerify turns TLS verification off.
	InsecureSkipTLSVerify bool
	// MaxConns bounds idle connections kept per host (the listing concurrency).
	MaxConns int
	// Timeout bounds each request, reading its body included; a request that times out is
	// retried. Zero means DefaultTimeout.
	Timeout time.Duration
	// PageSize asks for listing pages of at most this many keys (S3's max-keys); zero leaves
	// the server's default (1000 on most).
	PageSize int
}

// DefaultTimeout bounds one S3 request.
const DefaultTimeout = time.Minute

// maxAttempts is how many times a request is tried: throttling (503 SlowDown), 500s, resets,
// timeouts and truncated bodies are retried with exponential backoff and jitter, at most
// maxBackoff apart.
const (
	maxAttempts = 6
	maxBackoff  = 10 * time.Second
)

// newRetryer is the SDK's standard retryer, tuned: more attempts, no client-side retry quota
// (the quota, meant to protect a struggling AWS region, fails a catalog scan of hundreds of
// concurrent listings after a burst of throttling), and a body cut short is retried like a
// reset connection.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") {
				return aws.TrueTernary
			}
			return aws.UnknownTernary
		}))
	})
}

// S3 is a catalog in an S3 bucket under a prefix.
type S3 struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or "path/to/dest/"
	endpoint string
	pageSize int
}

// NewS3 returns a store for s3://bucket/prefix.
func NewS3(ctx context.Context, bucket, prefix string, opts S3Options) (*S3, error) {
	var loadOpts []func(*config.LoadOptions) error
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	hc, err := httpClient(opts)
	if err != nil {
		return nil, err
	}
	// The SDK's own log lines (IMDS fallbacks, retries) would interleave with our output; its
	// errors reach the user through explain instead.
	loadOpts = append(loadOpts, config.WithHTTPClient(hc), config.WithRetryer(newRetryer), config.WithLogger(logging.Nop{}))
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pathStyle := false
	switch opts.Addressing {
	case "", "auto":
		pathStyle = opts.EndpointURL != ""
	case "path":
		pathStyle = true
	case "virtual":
	default:
		return nil, fmt.Errorf("S3 addressing %q is not auto, path or virtual", opts.Addressing)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
		}
		o.UsePathStyle = pathStyle
		// S3-compatible servers (B2, older MinIO and Ceph) reject or lack the newer checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	endpoint := redact.URL(opts.EndpointURL)
	if endpoint == "" {
		endpoint = "AWS S3 (" + cfg.Region + ")"
	}
	return &S3{client: client, bucket: bucket, prefix: prefix, endpoint: endpoint, pageSize: opts.PageSize}, nil
}

// httpClient is the SDK's buildable client (so AWS_CA_BUNDLE can still be added to it) with
// our TLS settings and a connection pool sized for the listing concurrency.
func httpClient(opts S3Options) (*awshttp.BuildableClient, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.CABundle != "" {
		pem, err := os.ReadFile(opts.CABundle)
		if err != nil {
			return nil, fmt.Errorf("reading --ca-bundle: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-bundle %s holds no PEM certificate", opts.CABundle)
		}
		tlsConf.RootCAs = pool
	}
	tlsConf.InsecureSkipVerify = opts.InsecureSkipTLSVerify //nolint:gosec // explicit user choice, warned about by the CLI
	conns := opts.MaxConns
	if conns <= 0 {
		conns = 32
	}
	bc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.TLSClientConfig = tlsConf
		t.MaxIdleConns = conns * 2
		t.MaxIdleConnsPerHost = conns
	}).WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second })
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return bc.WithTimeout(timeout), nil
}

// Location is s3://bucket/prefix, for messages.
func (s *S3) Location() string {
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// maxEmptyPages bounds the empty pages a listing may return in a row.
const maxEmptyPages = 10

// List implements catalog.Store. A listing is all or nothing: a page that says it is truncated
// but gives no continuation token, a token the server already gave, or a page whose keys do not
// advance past the previous page's is an error naming the bucket and prefix — the SDK's
// paginator would stop there silently, and a plan made from part of a catalog (a hidden
// .history file, hidden backups) can be wrong while every check says OK. Keys are asked for
// URL-encoded, so a key holding characters XML cannot carry does not make the page unreadable.
func (s *S3) List(ctx context.Context, prefix string, delimited bool, fn func(catalog.Page) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix), EncodingType: types.EncodingTypeUrl}
	if delimited {
		in.Delimiter = aws.String("/")
	}
	if s.pageSize > 0 {
		in.MaxKeys = aws.Int32(int32(min(s.pageSize, 1000)))
	}
	where := func() string { return fmt.Sprintf("s3://%s/%s%s on %s", s.bucket, s.prefix, prefix, s.endpoint) }
	tokens := map[string]bool{}
	last, empty := "", 0
	for page := 1; ; page++ {
		out, err := s.client.ListObjectsV2(ctx, in, fastListV2)
		var ae smithy.APIError
		if err != nil && page == 1 && in.EncodingType != "" && errors.As(err, &ae) &&
			(ae.ErrorCode() == "InvalidArgument" || ae.ErrorCode() == "NotImplemented") {
			// A server that does not take encoding-type: list as it can (keys with control
			// characters may then make a page unreadable, which is an error, not a hole).
			in.EncodingType = ""
			out, err = s.client.ListObjectsV2(ctx, in, fastListV2)
		}
		if err != nil {
			return s.explain(err, prefix)
		}
		decode := func(v *string) (string, error) {
			k := aws.ToString(v)
			if out.EncodingType != types.EncodingTypeUrl {
				return k, nil
			}
			d, err := url.QueryUnescape(k)
			if err != nil {
				return "", fmt.Errorf("listing %s: page %d holds key %q, which is not URL-encoded as asked (%w)", where(), page, k, err)
			}
			return d, nil
		}
		var pg catalog.Page
		pageMax := ""
		for _, o := range out.Contents {
			key, err := decode(o.Key)
			if err != nil {
				return err
			}
			pageMax = max(pageMax, key)
			pg.Objects = append(pg.Objects, catalog.Object{Key: strings.TrimPrefix(key, s.prefix), Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified).UTC()})
		}
		for _, cp := range out.CommonPrefixes {
			p, err := decode(cp.Prefix)
			if err != nil {
				return err
			}
			pageMax = max(pageMax, p)
			pg.Prefixes = append(pg.Prefixes, strings.TrimPrefix(p, s.prefix))
		}
		truncated := aws.ToBool(out.IsTruncated)
		next := aws.ToString(out.NextContinuationToken)
		if pageMax == "" {
			empty++ // S3 may send an empty page now and then; not forever
		}
		switch {
		case empty > maxEmptyPages:
			return fmt.Errorf("listing %s: %d pages in a row hold no key but say the listing goes on: the server's listing is broken, and a plan is never made from part of a catalog; check the S3 server", where(), empty)
		case page > 1 && pageMax != "" && pageMax <= last:
			return fmt.Errorf("listing %s: page %d does not advance past the previous page's last key %q: the server's listing is broken, and a plan is never made from part of a catalog; check the S3 server", where(), page, last)
		case truncated && next == "":
			return fmt.Errorf("listing %s: page %d says the listing goes on (IsTruncated) but gives no continuation token: the rest cannot be read, and a plan is never made from part of a catalog; check the S3 server", where(), page)
		case truncated && tokens[next]:
			return fmt.Errorf("listing %s: page %d repeats a continuation token the server already gave: the listing would loop, and a plan is never made from part of a catalog; check the S3 server", where(), page)
		}
		last = max(last, pageMax)
		if pageMax != "" {
			empty = 0
		}
		if err := fn(pg); err != nil {
			return err
		}
		if !truncated {
			return nil
		}
		tokens[next] = true
		in.ContinuationToken = aws.String(next)
	}
}

// Get implements catalog.Store with a ranged GET. The SDK retries the request; the body is read
// after the SDK returns, so a connection lost while reading it is retried here.
func (s *S3) Get(ctx context.Context, key string, n int64) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	for attempt := 1; ; attempt++ {
		data, err := s.get(ctx, key, n)
		var be bodyError
		if err == nil || !errors.As(err, &be) || attempt >= maxAttempts || ctx.Err() != nil {
			return data, err
		}
		delay := min(time.Duration(1<<(attempt-1))*100*time.Millisecond, maxBackoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// bodyError is a failure while reading a response body.
type bodyError struct{ err error }

func (e bodyError) Error() string { return e.err.Error() }
func (e bodyError) Unwrap() error { return e.err }

func (s *S3) get(ctx context.Context, key string, n int64) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
		Range:  aws.String(fmt.Sprintf("bytes=0-%d", n-1)),
	})
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusRequestedRangeNotSatisfiable {
			return nil, nil // an empty object
		}
		return nil, s.explain(err, key)
	}
	defer func() { _ = out.Body.Close() }() // read-only
	data, err := io.ReadAll(io.LimitReader(out.Body, n))
	if err != nil {
		return nil, bodyError{fmt.Errorf("reading s3://%s/%s%s: %w", s.bucket, s.prefix, key, err)}
	}
	if want := aws.ToInt64(out.ContentLength); want > 0 && int64(len(data)) < min(want, n) {
		return nil, bodyError{fmt.Errorf("reading s3://%s/%s%s: %w after %d of %d bytes", s.bucket, s.prefix, key, io.ErrUnexpectedEOF, len(data), want)}
	}
	return data, nil
}

// explain turns SDK errors into ones that say what to do.
func (s *S3) explain(err error, key string) error {
	where := fmt.Sprintf("s3://%s/%s%s on %s", s.bucket, s.prefix, key, s.endpoint)
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return fmt.Errorf("%s: %w", where, catalog.ErrNotFound)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return fmt.Errorf("bucket %q does not exist on %s; check --catalog", s.bucket, s.endpoint)
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%s: %w", where, catalog.ErrNotFound)
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "Forbidden":
			return fmt.Errorf("%s refused the credentials (%s); check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE", s.endpoint, ae.ErrorCode())
		}
	}
	if errors.As(err, &ae) && transient(ae.ErrorCode()) {
		return fmt.Errorf("%s answered %s (%s) to %d tries in a row: it is overloaded or failing; try again later, or lower --max-concurrency", s.endpoint, ae.ErrorCode(), ae.ErrorMessage(), maxAttempts)
	}
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s did not answer within --timeout in %d tries in a row; check the server, or raise --timeout", s.endpoint, maxAttempts)
	}
	msg := err.Error()
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var tve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &uae), errors.As(err, &tve), errors.As(err, &cie), strings.Contains(msg, "x509:"):
		return fmt.Errorf("TLS to %s failed: the server certificate is not trusted (%w); pass --ca-bundle FILE with the CA that signed it", s.endpoint, rootCause(err))
	case errors.As(err, &hne):
		return fmt.Errorf("TLS to %s failed: %w; check --endpoint-url", s.endpoint, hne)
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found"):
		return fmt.Errorf("no AWS credentials for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE", s.endpoint)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return fmt.Errorf("cannot reach %s (%w); check --endpoint-url and the network", s.endpoint, rootCause(err))
	}
	return fmt.Errorf("%s: %w", where, err)
}

// transient are the S3 error codes of a server that may answer later.
func transient(code string) bool {
	switch code {
	case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "ThrottlingException",
		"RequestThrottled", "TooManyRequests", "RequestTimeTooSkewed", "BadGateway", "GatewayTimeout":
		return true
	}
	return false
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
