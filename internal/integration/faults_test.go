package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Fault kinds the proxy injects between the tool and the real S3 server.
const (
	faultSlowDown  = "503 SlowDown"
	faultInternal  = "500 InternalError"
	faultReset     = "connection reset mid-body"
	faultTruncated = "listing truncated mid-XML"
	faultStall     = "stall past the request timeout"
	faultThrottle  = "throttled body (1 KiB per 20 ms)"
)

var allFaults = []string{faultSlowDown, faultInternal, faultReset, faultTruncated, faultStall, faultThrottle}

// faultProxy forwards to the S3 server and injects faults. pick decides the fault for a request
// (its attempt number for the same method, path and query counted from 1); "" forwards cleanly.
type faultProxy struct {
	target *url.URL
	stall  time.Duration
	pick   func(r *http.Request, attempt int) string

	mu       sync.Mutex
	attempts map[string]int
	injected map[string]int
	requests int
}

func startFaultProxy(t *testing.T, endpoint string, p *faultProxy) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p.target, p.attempts, p.injected = u, map[string]int{}, map[string]int{}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func (p *faultProxy) counts() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.injected {
		out[k] = v
	}
	return out, p.requests
}

func isList(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Query().Has("list-type")
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
	p.mu.Lock()
	p.attempts[key]++
	attempt := p.attempts[key]
	p.requests++
	p.mu.Unlock()
	fault := ""
	if p.pick != nil {
		fault = p.pick(r, attempt)
	}
	if fault != "" {
		p.mu.Lock()
		p.injected[fault]++
		p.mu.Unlock()
	}
	switch fault {
	case faultSlowDown:
		s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		return
	case faultInternal:
		s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	case faultStall:
		select {
		case <-time.After(p.stall):
		case <-r.Context().Done():
			return
		}
	}
	resp, body, err := p.forward(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	switch fault {
	case faultReset:
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body[:len(body)/2])
		panic(http.ErrAbortHandler) // the connection drops with the body half sent
	case faultTruncated:
		// A complete HTTP response whose XML stops half way (no Content-Length to betray it).
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body[:len(body)/2])
		return
	case faultThrottle:
		w.WriteHeader(resp.StatusCode)
		for i := 0; i < len(body); i += 1024 {
			_, _ = w.Write(body[i:min(i+1024, len(body))])
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		return
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func (p *faultProxy) forward(r *http.Request) (*http.Response, []byte, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	out.Host = r.Host // the signature covers the Host header
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>fault</RequestId></Error>`, code, msg)
}

// TestIntegrationFaultsAreRetriedToTheExactCatalog injects every fault kind, each on the first
// or second attempt of a request, into a third of the requests: the tool retries and returns
// exactly the catalog a clean run returns.
func TestIntegrationFaultsAreRetriedToTheExactCatalog(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	_, clean := listJSON(t, "--catalog", "s3://catalog/pg", "--endpoint-url", endpoint)

	var mu sync.Mutex
	n, phase := 0, 0
	p := &faultProxy{stall: 3 * time.Second, pick: func(r *http.Request, attempt int) string {
		mu.Lock()
		defer mu.Unlock()
		if attempt > 2 {
			return ""
		}
		n++
		if n%2 != phase%2 {
			return ""
		}
		f := allFaults[(n/2+phase)%len(allFaults)]
		if f == faultTruncated && !isList(r) {
			f = faultReset
		}
		return f
	}}
	proxy := startFaultProxy(t, endpoint, p)
	// Pages of 2 keys: every WAL directory is listed in several pages, each a chance of a
	// fault. Three runs, each faulting other requests with other kinds.
	for phase = range 3 {
		_, faulty := listJSON(t, "--catalog", "s3://catalog/pg", "--endpoint-url", proxy, "--timeout", "1s", "--s3-page-size", "2")
		if faulty != clean {
			t.Errorf("run %d: the catalog read through faults differs from the clean one:\n%s\nclean:\n%s", phase, faulty, clean)
		}
	}
	injected, requests := p.counts()
	total := 0
	for _, f := range allFaults {
		if injected[f] == 0 {
			t.Errorf("no %q was injected", f)
		}
		total += injected[f]
	}
	t.Logf("RELIABILITY: %d faults injected into %d requests, catalog identical to the clean run: %v", total, requests, injected)
}

// TestIntegrationAPersistentFaultIsAnErrorNotAPlan fails one page of one WAL directory's listing
// on every attempt: the plan must not be made from the listing with a hole.
func TestIntegrationAPersistentFaultIsAnErrorNotAPlan(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	p := &faultProxy{pick: func(r *http.Request, _ int) string {
		q := r.URL.Query()
		if isList(r) && strings.HasSuffix(q.Get("prefix"), "wals/0000000100000000/") && q.Get("continuation-token") != "" {
			return faultSlowDown
		}
		return ""
	}}
	proxy := startFaultProxy(t, endpoint, p)
	r := runTool(t, nil, "plan", "--cluster", "pg/"+server, "--catalog", "s3://catalog/pg", "--endpoint-url", proxy, "--system-id", systemA(t), "--timeout", "1s", "--s3-page-size", "3")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (an error)\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.TrimSpace(r.stdout) != "" {
		t.Errorf("a plan was printed from a partial listing:\n%s", r.stdout)
	}
	mustContain(t, "stderr", r.stderr, "wals/0000000100000000/", "SlowDown", "6 tries in a row", "try again later")
	injected, _ := p.counts()
	if injected[faultSlowDown] < 5 {
		t.Errorf("only %d attempts at the failing page: retries were not made", injected[faultSlowDown])
	}
	t.Logf("RELIABILITY: one listing page failed %d times: %s", injected[faultSlowDown], strings.TrimSpace(r.stderr))
}

// TestIntegrationInterruptStopsCleanly sends SIGINT to a generate run stuck on a stalled S3
// server: it stops at once and writes nothing.
func TestIntegrationInterruptStopsCleanly(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	p := &faultProxy{stall: time.Minute, pick: func(*http.Request, int) string { return faultStall }}
	proxy := startFaultProxy(t, endpoint, p)
	out := filepath.Join(t.TempDir(), "out")
	repo := filepath.Join(root, "generator", "testdata", "repos", "argocd-helm")
	cmd := exec.Command(tool, "generate", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--catalog", "s3://catalog/pg",
		"--server-name", server, "--endpoint-url", proxy, "--out", out)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_EC2_METADATA_DISABLED=true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("an interrupted run exited 0")
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("still running 10s after SIGINT")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an interrupted run wrote %s", out)
	}
	mustContain(t, "stderr", stderr.String(), "interrupted: nothing was written")
	t.Logf("RELIABILITY: stopped %s after SIGINT: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
}
