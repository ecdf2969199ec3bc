// Package giteatest runs a real Gitea for tests: the binary hack/tools.sh builds into bin/,
// with sqlite, on 127.0.0.1, an admin user and a token made by the set-up, stopped when the
// test ends.
package giteatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// User is the admin user the set-up creates.
const User = "restorer"

// Gitea is a running server.
type Gitea struct {
	URL   string // http://127.0.0.1:PORT/
	Token string // a token of User with every scope
	dir   string
	log   *bytes.Buffer
}

func binDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "bin")
}

// Start starts Gitea in a temporary directory. It fails the test when bin/gitea is missing
// (run `make tools`).
func Start(t testing.TB) *Gitea {
	t.Helper()
	bin := filepath.Join(binDir(), "gitea")
	rootB, err := os.ReadFile(filepath.Join(binDir(), ".gitea.root"))
	if err != nil {
		t.Fatalf("bin/gitea is not built: run `make tools` (%v)", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	g := &Gitea{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), dir: dir, log: &bytes.Buffer{}}
	ini := fmt.Sprintf(`APP_NAME = cnpg-restore-gen test
RUN_MODE = prod
WORK_PATH = %[1]s
[database]
DB_TYPE = sqlite3
PATH = %[1]s/gitea.db
[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[2]d
ROOT_URL = %[3]s
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
STATIC_ROOT_PATH = %[4]s
APP_DATA_PATH = %[1]s/data
[repository]
ROOT = %[1]s/repos
[security]
INSTALL_LOCK = true
SECRET_KEY = test-secret-key
[service]
DISABLE_REGISTRATION = true
[mailer]
ENABLED = false
[log]
MODE = console
LEVEL = warn
[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false
[cron]
ENABLED = false
[actions]
ENABLED = false
`, dir, port, g.URL, strings.TrimSpace(string(rootB)))
	conf := filepath.Join(dir, "app.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		cmd := exec.Command(bin, append([]string{"-c", conf}, args...)...)
		cmd.Dir, cmd.Env = dir, g.env()
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				stderr = ee.Stderr
			}
			t.Fatalf("gitea %s: %v\n%s%s", args[0], err, out, stderr)
		}
		return string(out)
	}
	run("migrate")
	run("admin", "user", "create", "--admin", "--username", User, "--password", "Restore-Pa55word", "--email", User+"@example.com", "--must-change-password=false")
	// The token is the last line: Gitea logs to stdout too (the warning about running as root).
	lines := strings.Fields(run("admin", "user", "generate-access-token", "--username", User, "--token-name", "tests", "--scopes", "all", "--raw"))
	if len(lines) == 0 {
		t.Fatal("gitea printed no token")
	}
	g.Token = lines[len(lines)-1]

	ctx, cancel := context.WithCancel(context.Background())
	web := exec.CommandContext(ctx, bin, "-c", conf, "web")
	web.Dir, web.Env, web.Stdout, web.Stderr = dir, g.env(), g.log, g.log
	if err := web.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = web.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = web.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(g.URL + "api/v1/version")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("gitea web exited:\n%s", g.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitea did not answer on %s within 60s:\n%s", g.URL, g.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return g
}

func (g *Gitea) env() []string {
	return append(os.Environ(), "GITEA_WORK_DIR="+g.dir, "HOME="+g.dir, "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true")
}

// CreateRepo makes an empty repository of User and returns its clone URL (without credentials).
func (g *Gitea) CreateRepo(t testing.TB, name, defaultBranch string) string {
	t.Helper()
	var out struct {
		CloneURL string `json:"clone_url"`
	}
	g.API(t, http.MethodPost, "user/repos", map[string]any{"name": name, "default_branch": defaultBranch, "private": true}, &out)
	return out.CloneURL
}

// API calls the REST API as User and decodes the answer into out (when not nil).
func (g *Gitea) API(t testing.TB, method, path string, in, out any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, g.URL+"api/v1/"+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+g.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		t.Fatalf("gitea %s %s: %s %s", method, path, resp.Status, msg.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Push pushes branch of the checkout dir to the repository at url (made by CreateRepo) and
// waits until Gitea has recorded it: Gitea marks a repository non-empty from the push's hooks,
// and answers 404 to its pull request API until then.
func (g *Gitea) Push(t testing.TB, dir, url, branch string) {
	t.Helper()
	cmd := exec.Command("git", "-c", "http.extraHeader=Authorization: token "+g.Token, "push", "-q", url, branch)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git push %s: %v\n%s", url, err, out)
	}
	name := strings.TrimSuffix(url[strings.LastIndex(url, "/")+1:], ".git")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var repo struct {
			Empty bool `json:"empty"`
		}
		g.API(t, http.MethodGet, "repos/"+User+"/"+name, nil, &repo)
		var branches []map[string]any
		g.API(t, http.MethodGet, "repos/"+User+"/"+name+"/branches", nil, &branches)
		if !repo.Empty && len(branches) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitea still calls %s empty 30s after the push", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
