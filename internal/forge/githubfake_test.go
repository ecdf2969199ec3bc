package forge

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeGitHub follows GitHub's documented REST behaviour for the calls the tool makes:
// list/create/update pull requests and add labels, "Bearer" token auth (401 "Bad
// credentials"), 422 "A pull request already exists", and rate limits as GitHub sends them
// (429 or 403 with Retry-After; 403 with X-RateLimit-Remaining: 0 and X-RateLimit-Reset).
type fakeGitHub struct {
	t      *testing.T
	token  string
	owner  string
	repo   string
	mu     sync.Mutex
	prs    []*fakePR
	faults []func(w http.ResponseWriter) // served first, one per request
	calls  []string
	// beforeCreate runs inside POST /pulls (a concurrent run opening the same PR).
	beforeCreate func()
	// appKey verifies GitHub App JWTs; installation tokens it issues are accepted as tokens.
	appKey *rsa.PublicKey
	appID  string
}

// app answers the GitHub App endpoints: the JWT must be RS256, signed by the App's key, issued
// by its ID and unexpired (GitHub's rules).
func (f *fakeGitHub) app(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == fmt.Sprintf("/repos/%s/%s/installation", f.owner, f.repo):
	case r.Method == http.MethodPost && r.URL.Path == "/app/installations/4242/access_tokens":
	default:
		return false
	}
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return f.appKey, nil }, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.appID), jwt.WithExpirationRequired())
	if err != nil || !tok.Valid {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprintf(w, `{"message":"A JSON web token could not be decoded: %v"}`, err)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte(`{"id":4242,"app_id":` + f.appID + `}`))
		return true
	}
	f.mu.Lock()
	f.token = "ghs_installation_token"
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"token":"ghs_installation_token","expires_at":"%s"}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	return true
}

type fakePR struct {
	Number int      `json:"number"`
	Title  string   `json:"title"`
	Body   string   `json:"body"`
	State  string   `json:"state"`
	Draft  bool     `json:"draft"`
	Head   string   `json:"-"`
	Base   string   `json:"-"`
	Labels []string `json:"-"`
}

func (f *fakeGitHub) json(pr *fakePR, base string) map[string]any {
	labels := []map[string]any{}
	for _, l := range pr.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	return map[string]any{"number": pr.Number, "title": pr.Title, "body": pr.Body, "state": pr.State, "draft": pr.Draft,
		"html_url": fmt.Sprintf("%s/%s/%s/pull/%d", base, f.owner, f.repo, pr.Number),
		"head":     map[string]any{"ref": pr.Head, "label": f.owner + ":" + pr.Head}, "base": map[string]any{"ref": pr.Base}, "labels": labels}
}

func startFakeGitHub(t *testing.T) (*fakeGitHub, *httptest.Server) {
	f := &fakeGitHub{t: t, token: "ghp_test", owner: "homelab", repo: "gitops"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if len(f.faults) > 0 {
		fault := f.faults[0]
		f.faults = f.faults[1:]
		f.mu.Unlock()
		fault(w)
		return
	}
	f.mu.Unlock()
	if f.appKey != nil && f.app(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	f.mu.Lock()
	token := f.token
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
		return
	}
	base := "http://" + r.Host
	prefix := fmt.Sprintf("/repos/%s/%s/", f.owner, f.repo)
	if !strings.HasPrefix(r.URL.Path, prefix) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, prefix)
	switch {
	case r.Method == http.MethodGet && rest == "pulls":
		q := r.URL.Query()
		out := []map[string]any{}
		f.mu.Lock()
		for _, pr := range f.prs {
			if (q.Get("state") == "" || q.Get("state") == pr.State) && (q.Get("head") == "" || q.Get("head") == f.owner+":"+pr.Head) && (q.Get("base") == "" || q.Get("base") == pr.Base) {
				out = append(out, f.json(pr, base))
			}
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && rest == "pulls":
		var in struct {
			Title, Head, Base, Body string
			Draft                   bool
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Title == "" || in.Head == "" || in.Base == "" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"message":"Validation Failed"}`))
			return
		}
		if f.beforeCreate != nil {
			hook := f.beforeCreate
			f.beforeCreate = nil
			hook()
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, pr := range f.prs {
			if pr.State == "open" && pr.Head == in.Head && pr.Base == in.Base {
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = fmt.Fprintf(w, `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for %s:%s."}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}`, f.owner, in.Head)
				return
			}
		}
		pr := &fakePR{Number: len(f.prs) + 1, Title: in.Title, Body: in.Body, Head: in.Head, Base: in.Base, Draft: in.Draft, State: "open"}
		f.prs = append(f.prs, pr)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(f.json(pr, base))
	case r.Method == http.MethodPatch && strings.HasPrefix(rest, "pulls/"):
		pr := f.pr(strings.TrimPrefix(rest, "pulls/"))
		if pr == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var in struct{ Title, Body *string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		if in.Title != nil {
			pr.Title = *in.Title
		}
		if in.Body != nil {
			pr.Body = *in.Body
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(f.json(pr, base))
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "issues/") && strings.HasSuffix(rest, "/labels"):
		pr := f.pr(strings.TrimSuffix(strings.TrimPrefix(rest, "issues/"), "/labels"))
		if pr == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		// GitHub takes {"labels": [...]} or a bare array of names.
		var raw json.RawMessage
		_ = json.NewDecoder(r.Body).Decode(&raw)
		var in struct{ Labels []string }
		if err := json.Unmarshal(raw, &in.Labels); err != nil {
			_ = json.Unmarshal(raw, &in)
		}
		f.mu.Lock()
		for _, l := range in.Labels {
			if !contains(pr.Labels, l) {
				pr.Labels = append(pr.Labels, l)
			}
		}
		out := f.json(pr, base)["labels"]
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(out)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
	}
}

func (f *fakeGitHub) pr(num string) *fakePR {
	n, _ := strconv.Atoi(num)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, pr := range f.prs {
		if pr.Number == n {
			return pr
		}
	}
	return nil
}

func (f *fakeGitHub) fault(fn func(w http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fn)
}

func status(code int, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"message":"%s"}`, http.StatusText(code))
	}
}
