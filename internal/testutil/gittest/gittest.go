// Package gittest runs a real Git server for tests: Debian's git http-backend behind Go's
// net/http/cgi, on 127.0.0.1, with a token check. Repositories are bare directories under a
// temporary root; the server stops when the test ends.
package gittest

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Server is a smart-HTTP Git server.
type Server struct {
	URL   string // http://127.0.0.1:port
	Root  string // the bare repositories
	Token string
	// Pushes counts the receive-pack requests (pushes) the server answered.
	Pushes atomic.Int64
}

// Start starts a server that accepts HTTP basic auth whose password is token.
func Start(t testing.TB, token string) *Server {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skipf("git is not installed: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	s := &Server{Root: t.TempDir(), Token: token}
	h := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + s.Root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=test"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); !ok || pass != s.Token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			s.Pushes.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Repo makes a bare repository name.git holding the commits of the checkout src (all its
// branches), with HEAD on head, and returns its URL.
func (s *Server) Repo(t testing.TB, name, src, head string) string {
	t.Helper()
	bare := filepath.Join(s.Root, name+".git")
	Git(t, "", "init", "-q", "--bare", "-b", head, bare)
	Git(t, bare, "config", "http.receivepack", "true")
	Git(t, src, "push", "-q", bare, "--all")
	return s.URL + "/" + name + ".git"
}

// Hook installs a hook script in the bare repository name.git (a pre-receive hook that
// refuses a branch stands in for a protected branch).
func (s *Server) Hook(t testing.TB, name, hook, script string) {
	t.Helper()
	p := filepath.Join(s.Root, name+".git", "hooks", hook)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Git runs git in dir with a fixed identity and fails the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Refs lists the refs of the bare repository name.git, read on disk.
func (s *Server) Refs(t testing.TB, name string) string {
	t.Helper()
	return Git(t, filepath.Join(s.Root, name+".git"), "for-each-ref", "--format=%(objectname) %(refname)")
}
