package forge

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/githubtest"
)

type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return nil
}

func newTestGitHub(t *testing.T, token string) (*githubtest.Server, *GitHubClient, *waits) {
	t.Helper()
	f := githubtest.Start(t)
	ws := &waits{}
	httpc := &http.Client{Transport: &Retry{Sleep: ws.sleep, MaxWait: time.Minute}}
	g, err := NewGitHub(httpc, f.URL, token, f.Owner, f.Repo)
	if err != nil {
		t.Fatal(err)
	}
	return f, g, ws
}

var want = PullRequest{Head: "restore/auth/db-20260205T020001", Base: "main", Title: "Restore auth/db", Body: "## Restore\nbody\n", Labels: []string{"restore"}}

func TestGitHubEnsureCreatesThenLeavesThenUpdatesTheSamePullRequest(t *testing.T) {
	f, g, _ := newTestGitHub(t, "ghp_test")
	ctx := context.Background()
	pr, outcome, err := Ensure(ctx, g, want)
	if err != nil || outcome != Created || pr.Number != 1 || !strings.HasSuffix(pr.URL, "/homelab/gitops/pull/1") || !slices.Contains(pr.Labels, "restore") {
		t.Fatalf("first: %+v %s %v", pr, outcome, err)
	}
	calls := len(f.Calls)
	pr, outcome, err = Ensure(ctx, g, want)
	if err != nil || outcome != Unchanged || pr.Number != 1 {
		t.Fatalf("same inputs: %+v %s %v", pr, outcome, err)
	}
	if got := f.Calls[calls:]; len(got) != 1 || !strings.HasPrefix(got[0], "GET ") {
		t.Errorf("same inputs made %v, want only the lookup", got)
	}
	changed := want
	changed.Body = "## Restore\nnew target\n"
	pr, outcome, err = Ensure(ctx, g, changed)
	if err != nil || outcome != Updated || pr.Number != 1 || f.PRs[0].Body != changed.Body || len(f.PRs) != 1 {
		t.Fatalf("new inputs: %+v %s %v (%d PRs)", pr, outcome, err, len(f.PRs))
	}
}

func TestGitHubEnsureWhenAnotherRunOpensItFirst(t *testing.T) {
	f, g, _ := newTestGitHub(t, "ghp_test")
	f.BeforeCreate = func() {
		f.Mu.Lock()
		f.PRs = append(f.PRs, &githubtest.PR{Number: 7, Title: "other run", Body: "old", Head: want.Head, Base: want.Base, State: "open"})
		f.Mu.Unlock()
	}
	pr, outcome, err := Ensure(context.Background(), g, want)
	if err != nil || outcome != Updated || pr.Number != 7 || len(f.PRs) != 1 || f.PRs[0].Body != want.Body {
		t.Fatalf("got %+v %s %v, %d PRs; want PR 7 updated (422 already exists handled)", pr, outcome, err, len(f.PRs))
	}
}

func TestEnsureClosesItsDuplicateWhenTheForgeOpenedTwo(t *testing.T) {
	f, g, _ := newTestGitHub(t, "ghp_test")
	f.Racy = true
	f.BeforeCreate = func() {
		f.Mu.Lock()
		f.PRs = append(f.PRs, &githubtest.PR{Number: 1, Title: "other run", Body: "old", Head: want.Head, Base: want.Base, State: "open"})
		f.Mu.Unlock()
	}
	pr, outcome, err := Ensure(context.Background(), g, want)
	if err != nil || pr.Number != 1 || outcome != Updated {
		t.Fatalf("got %+v %s %v; want #1 kept and updated", pr, outcome, err)
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if len(f.PRs) != 2 || f.PRs[1].State != "closed" || f.PRs[0].State != "open" || f.PRs[0].Body != want.Body {
		t.Errorf("pull requests: %+v %+v; want #2 (this run's) closed and #1 updated", f.PRs[0], f.PRs[1])
	}
}

func TestGitHubRetriesRateLimitsAndTransientErrorsAsTheHeadersSay(t *testing.T) {
	f, g, ws := newTestGitHub(t, "ghp_test")
	reset := time.Now().Add(30 * time.Second).Unix()
	f.Fault(githubtest.Status(http.StatusTooManyRequests, "Retry-After", "3"))
	f.Fault(githubtest.Status(http.StatusForbidden, "Retry-After", "5")) // secondary rate limit
	f.Fault(githubtest.Status(http.StatusForbidden, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(reset, 10)))
	f.Fault(githubtest.Status(http.StatusBadGateway))
	pr, outcome, err := Ensure(context.Background(), g, want)
	if err != nil || outcome != Created || pr.Number != 1 {
		t.Fatalf("after faults: %+v %s %v", pr, outcome, err)
	}
	if len(ws.d) != 4 {
		t.Fatalf("waits %v, want 4", ws.d)
	}
	if ws.d[0] != 3*time.Second || ws.d[1] != 5*time.Second {
		t.Errorf("Retry-After not honoured: waited %v and %v", ws.d[0], ws.d[1])
	}
	if ws.d[2] < 25*time.Second || ws.d[2] > 32*time.Second {
		t.Errorf("X-RateLimit-Reset not honoured: waited %v for a reset 30s away", ws.d[2])
	}
	if ws.d[3] < 8*time.Second || ws.d[3] > 10*time.Second {
		t.Errorf("502 on the fourth try: backoff %v, want 8s plus jitter", ws.d[3])
	}
}

func TestGitHubGivesUpWithAClearError(t *testing.T) {
	t.Run("persistent 503", func(t *testing.T) {
		f, g, ws := newTestGitHub(t, "ghp_test")
		for range 5 {
			f.Fault(githubtest.Status(http.StatusServiceUnavailable))
		}
		_, _, err := Ensure(context.Background(), g, want)
		if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "homelab/gitops") || len(ws.d) != 4 {
			t.Fatalf("err = %v after %d waits", err, len(ws.d))
		}
	})
	t.Run("reset an hour away", func(t *testing.T) {
		f, g, ws := newTestGitHub(t, "ghp_test")
		f.Fault(githubtest.Status(http.StatusForbidden, "X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)))
		_, _, err := Ensure(context.Background(), g, want)
		if err == nil || !strings.Contains(err.Error(), "rate limit spent until") || len(ws.d) != 0 {
			t.Fatalf("err = %v after waits %v, want no hour-long wait and a clear error", err, ws.d)
		}
	})
	t.Run("workflow token without the repository setting", func(t *testing.T) {
		f, g, _ := newTestGitHub(t, "ghp_test")
		f.Fault(func(w http.ResponseWriter) { // the list of open pull requests: none
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("[]"))
		})
		f.Fault(func(w http.ResponseWriter) { // what GitHub answers the workflow's GITHUB_TOKEN
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"GitHub Actions is not permitted to create or approve pull requests.","documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}`))
		})
		_, _, err := Ensure(context.Background(), g, want)
		if err == nil || !strings.Contains(err.Error(), `Workflow permissions → "Allow GitHub Actions to create and approve pull requests"`) {
			t.Fatalf("err = %v, want the repository setting named", err)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		_, g, _ := newTestGitHub(t, "ghp_wrong")
		_, _, err := Ensure(context.Background(), g, want)
		if err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		f, g, _ := newTestGitHub(t, "ghp_test")
		f.Fault(githubtest.Status(http.StatusTooManyRequests, "Retry-After", "30"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, _, err := Ensure(ctx, g, want); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestParseRemoteAndDetect(t *testing.T) {
	for _, tc := range []struct {
		in, forge, root, owner, name string
	}{
		{"https://github.com/homelab/gitops.git", GitHub, "https://github.com/", "homelab", "gitops"},
		{"git@github.com:homelab/gitops.git", GitHub, "https://github.com/", "homelab", "gitops"},
		{"ssh://git@gitea.lan:2222/ops/cluster", Gitea, "https://gitea.lan/", "ops", "cluster"},
		{"http://user:pw@git.example.com:3000/forgejo/ops/cluster.git", "", "http://git.example.com:3000/forgejo/", "ops", "cluster"},
	} {
		r, err := ParseRemote(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if r.WebRoot() != tc.root || r.Owner != tc.owner || r.Name != tc.name {
			t.Errorf("%s: %+v root %s", tc.in, r, r.WebRoot())
		}
		got, err := Detect(r)
		if tc.forge == "" {
			if err == nil || !strings.Contains(err.Error(), "--forge") {
				t.Errorf("%s: detected %q, want an error asking for --forge", tc.in, got)
			}
		} else if got != tc.forge {
			t.Errorf("%s: forge %q, want %q", tc.in, got, tc.forge)
		}
		if strings.Contains(r.WebRoot(), "pw") {
			t.Errorf("credentials leaked into %s", r.WebRoot())
		}
	}
	if _, err := ParseRemote("/srv/git/gitops"); err == nil {
		t.Errorf("a path parsed as a forge remote")
	}
}

func TestGitHubAppInstallationToken(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	f := githubtest.Start(t)
	f.AppKey, f.AppID, f.Token = &key.PublicKey, "123", "not-yet"
	httpc := &http.Client{Transport: &Retry{}}
	tok, err := GitHubApp{ID: 123, PrivateKey: keyPEM}.InstallationToken(context.Background(), httpc, f.URL, f.Owner, f.Repo)
	if err != nil || tok != "ghs_installation_token" {
		t.Fatalf("token %q, %v", tok, err)
	}
	g, err := NewGitHub(httpc, f.URL, tok, f.Owner, f.Repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, outcome, err := Ensure(context.Background(), g, want); err != nil || outcome != Created {
		t.Fatalf("with the installation token: %s %v", outcome, err)
	}
	// Another App's key is refused, with a message that names the App.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})
	if _, err := (GitHubApp{ID: 123, PrivateKey: otherPEM}).InstallationToken(context.Background(), httpc, f.URL, f.Owner, f.Repo); err == nil || !strings.Contains(err.Error(), "GitHub App 123") {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := (GitHubApp{ID: 123, PrivateKey: []byte("not a key")}).InstallationToken(context.Background(), httpc, f.URL, f.Owner, f.Repo); err == nil || !strings.Contains(err.Error(), ".pem") {
		t.Fatalf("garbage key: %v", err)
	}
}
