// Package githubtest is a GitHub REST server for tests, on 127.0.0.1: GitHub can't be reached
// from the test machines, so it follows GitHub's documented behaviour for the calls the tool
// makes (pull requests, labels, App installation tokens), with its errors and rate limits.
package githubtest

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Server follows GitHub's documented REST behaviour for the calls the tool makes:
// list/create/update pull requests and add labels, "Bearer" token auth (401 "Bad
// credentials"), 422 "A pull request already exists", and rate limits as GitHub sends them
// (429 or 403 with Retry-After; 403 with X-RateLimit-Remaining: 0 and X-RateLimit-Reset).
type Server struct {
	URL    string // http://127.0.0.1:PORT/, the API root
	Token  string // the token it accepts
	Owner  string
	Repo   string
	Mu     sync.Mutex
	PRs    []*PR
	faults []func(w http.ResponseWriter) // served first, one per request
	Calls  []string
	// Racy skips the "already exists" check, as a forge that checks and inserts in two steps
	// does when two creates meet.
	Racy bool
	// BeforeCreate runs inside POST /pulls (a concurrent run opening the same PR).
	BeforeCreate func()
	// AppKey verifies GitHub App JWTs of App AppID; the installation token it issues then
	// becomes the token the server accepts.
	AppKey *rsa.PublicKey
	AppID  string
}

// app answers the GitHub App endpoints: the JWT must be RS256, signed by the App's key, issued
// by its ID and unexpired (GitHub's rules).
func (f *Server) app(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == fmt.Sprintf("/repos/%s/%s/installation", f.Owner, f.Repo):
	case r.Method == http.MethodPost && r.URL.Path == "/app/installations/4242/access_tokens":
	default:
		return false
	}
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return f.AppKey, nil }, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.AppID), jwt.WithExpirationRequired())
	if err != nil || !tok.Valid {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprintf(w, `{"message":"A JSON web token could not be decoded: %v"}`, err)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte(`{"id":4242,"app_id":` + f.AppID + `}`))
		return true
	}
	f.Mu.Lock()
	f.Token = "ghs_installation_token"
	f.Mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"token":"ghs_installation_token","expires_at":"%s"}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	return true
}

// PR is a pull request on the server.
type PR struct {
	Number    int      `json:"number"`
	Title     string   `json:"title"`
	Body      string   `json:"body"`
	State     string   `json:"state"`
	Draft     bool     `json:"draft"`
	Head      string   `json:"-"`
	Base      string   `json:"-"`
	Labels    []string `json:"-"`
	Reviewers []string `json:"-"`
}

func (f *Server) json(pr *PR, base string) map[string]any {
	labels := []map[string]any{}
	for _, l := range pr.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	return map[string]any{"number": pr.Number, "title": pr.Title, "body": pr.Body, "state": pr.State, "draft": pr.Draft,
		"html_url": fmt.Sprintf("%s/%s/%s/pull/%d", base, f.Owner, f.Repo, pr.Number),
		"head":     map[string]any{"ref": pr.Head, "label": f.Owner + ":" + pr.Head}, "base": map[string]any{"ref": pr.Base}, "labels": labels}
}

// Start serves repository homelab/gitops, accepting token ghp_test, until the test ends.
func Start(t testing.TB) *Server {
	f := &Server{Token: "ghp_test", Owner: "homelab", Repo: "gitops"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL + "/"
	return f
}

// ServeHTTP implements http.Handler.
func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.Mu.Lock()
	f.Calls = append(f.Calls, r.Method+" "+r.URL.Path)
	if len(f.faults) > 0 {
		fault := f.faults[0]
		f.faults = f.faults[1:]
		f.Mu.Unlock()
		fault(w)
		return
	}
	f.Mu.Unlock()
	if f.AppKey != nil && f.app(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Remaining", "4999")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	f.Mu.Lock()
	token := f.Token
	f.Mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
		return
	}
	base := "http://" + r.Host
	prefix := fmt.Sprintf("/repos/%s/%s/", f.Owner, f.Repo)
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
		f.Mu.Lock()
		for _, pr := range f.PRs {
			if (q.Get("state") == "" || q.Get("state") == pr.State) && (q.Get("head") == "" || q.Get("head") == f.Owner+":"+pr.Head) && (q.Get("base") == "" || q.Get("base") == pr.Base) {
				out = append(out, f.json(pr, base))
			}
		}
		f.Mu.Unlock()
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
		if f.BeforeCreate != nil {
			hook := f.BeforeCreate
			f.BeforeCreate = nil
			hook()
		}
		f.Mu.Lock()
		defer f.Mu.Unlock()
		for _, pr := range f.PRs {
			if !f.Racy && pr.State == "open" && pr.Head == in.Head && pr.Base == in.Base {
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = fmt.Fprintf(w, `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for %s:%s."}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}`, f.Owner, in.Head)
				return
			}
		}
		pr := &PR{Number: len(f.PRs) + 1, Title: in.Title, Body: in.Body, Head: in.Head, Base: in.Base, Draft: in.Draft, State: "open"}
		f.PRs = append(f.PRs, pr)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(f.json(pr, base))
	case r.Method == http.MethodPatch && strings.HasPrefix(rest, "pulls/"):
		pr := f.pr(strings.TrimPrefix(rest, "pulls/"))
		if pr == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var in struct{ Title, Body, State *string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		f.Mu.Lock()
		if in.State != nil {
			pr.State = *in.State
		}
		if in.Title != nil {
			pr.Title = *in.Title
		}
		if in.Body != nil {
			pr.Body = *in.Body
		}
		f.Mu.Unlock()
		_ = json.NewEncoder(w).Encode(f.json(pr, base))
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "pulls/") && strings.HasSuffix(rest, "/requested_reviewers"):
		pr := f.pr(strings.TrimSuffix(strings.TrimPrefix(rest, "pulls/"), "/requested_reviewers"))
		if pr == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var in struct{ Reviewers []string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		f.Mu.Lock()
		pr.Reviewers = append(pr.Reviewers, in.Reviewers...)
		out := f.json(pr, base)
		f.Mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(out)
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
		f.Mu.Lock()
		for _, l := range in.Labels {
			if !slices.Contains(pr.Labels, l) {
				pr.Labels = append(pr.Labels, l)
			}
		}
		out := f.json(pr, base)["labels"]
		f.Mu.Unlock()
		_ = json.NewEncoder(w).Encode(out)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}`))
	}
}

func (f *Server) pr(num string) *PR {
	n, _ := strconv.Atoi(num)
	f.Mu.Lock()
	defer f.Mu.Unlock()
	for _, pr := range f.PRs {
		if pr.Number == n {
			return pr
		}
	}
	return nil
}

// Fault queues a response served instead of the next request's.
func (f *Server) Fault(fn func(w http.ResponseWriter)) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.faults = append(f.faults, fn)
}

// Status is a fault answering code with the headers given as name, value pairs.
func Status(code int, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"message":"%s"}`, http.StatusText(code))
	}
}
