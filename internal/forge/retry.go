package forge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Retry is an http.RoundTripper that retries what a forge asks to be retried: 429, 403 with
// an exhausted rate limit or a Retry-After (GitHub's secondary limits), 500, 502, 503, 504,
// and connection errors. It waits as the response says (Retry-After in seconds or as a date,
// else X-RateLimit-Reset), else backs off exponentially with jitter. A wait longer than
// MaxWait is not made: the response goes back to the caller, which reports it.
//
// go-github v60 turns 403 rate-limit responses into errors but passes 429 through as a plain
// error response; retrying here, below the client, handles both the same way.
type Retry struct {
	Base     http.RoundTripper
	Attempts int           // total tries; default 5
	MaxWait  time.Duration // longest single wait; default 2 minutes
	// Sleep waits d or until ctx ends; nil uses a timer (tests record the waits instead).
	Sleep func(ctx context.Context, d time.Duration) error
	// Log receives one line per retry; nil discards them.
	Log io.Writer
	// Timeout bounds each try, its response body included (--timeout); 0 means none. A try that
	// runs out is final, an error naming the forge: a stalled server never hangs the run.
	Timeout time.Duration
}

// timedBody cancels its try's context once read and closed, and names the server when the try
// ran out of time while the body was read.
type timedBody struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	what   string
}

func (b timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && errors.Is(b.ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%s: %w", b.what, err)
	}
	return n, err
}

func (b timedBody) Close() error {
	defer b.cancel()
	return b.ReadCloser.Close()
}

// RoundTrip implements http.RoundTripper.
func (r *Retry) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	maxWait := r.MaxWait
	if maxWait <= 0 {
		maxWait = 2 * time.Minute
	}
	for try := 1; ; try++ {
		if try > 1 && req.Body != nil {
			if req.GetBody == nil {
				return nil, fmt.Errorf("%s %s: can't retry a request whose body can't be read again", req.Method, req.URL.Redacted())
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
		resp, err := r.try(base, req)
		wait, why := r.decide(req, resp, err, try)
		if why == "" || try >= attempts || wait > maxWait {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		if r.Log != nil {
			fmt.Fprintf(r.Log, "%s %s: %s; retrying in %s (%d of %d)\n", req.Method, req.URL.Redacted(), why, wait.Round(time.Millisecond), try+1, attempts)
		}
		sleep := r.Sleep
		if sleep == nil {
			sleep = timerSleep
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// try sends req once, under Timeout.
func (r *Retry) try(base http.RoundTripper, req *http.Request) (*http.Response, error) {
	if r.Timeout <= 0 {
		return base.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), r.Timeout)
	what := fmt.Sprintf("%s did not answer within --timeout (%s); check the forge, or raise --timeout", req.URL.Host, r.Timeout)
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && req.Context().Err() == nil {
			err = fmt.Errorf("%s: %w", what, err)
		}
		cancel()
		return nil, err
	}
	resp.Body = timedBody{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, what: what}
	return resp, nil
}

// decide says how long to wait before the next try and why; why is empty when the response
// is final.
func (r *Retry) decide(req *http.Request, resp *http.Response, err error, try int) (time.Duration, string) {
	backoff := time.Duration(1<<min(try-1, 6)) * time.Second
	backoff += time.Duration(rand.Int64N(int64(backoff / 4)))
	if err != nil {
		if req.Context().Err() != nil {
			return 0, "" // cancelled: not the network's fault
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, "" // a try that ran out of --timeout: a stalled forge, final
		}
		return backoff, err.Error()
	}
	h := resp.Header
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return waitFrom(h, backoff), "rate limited (429)"
	case resp.StatusCode == http.StatusForbidden && (h.Get("Retry-After") != "" || h.Get("X-RateLimit-Remaining") == "0"):
		return waitFrom(h, backoff), "rate limited (403)"
	case resp.StatusCode == http.StatusInternalServerError, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		return waitFrom(h, backoff), resp.Status
	}
	return 0, ""
}

// waitFrom reads Retry-After (seconds or an HTTP date), else X-RateLimit-Reset (Unix seconds)
// when the limit is spent, else the backoff.
func waitFrom(h http.Header, backoff time.Duration) time.Duration {
	if ra := h.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(time.Until(t), 0)
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Until(time.Unix(s, 0))+time.Second, 0)
		}
	}
	return backoff
}

func timerSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
