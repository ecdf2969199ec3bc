package gitops

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/gittest"
)

const token = "test-token-1234"

// upstream is a GitOps repo on a real git server, with its checkout.
func upstream(t *testing.T, head string) (*gittest.Server, string, string) {
	t.Helper()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.yaml"), []byte("host: db-rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, src, "init", "-q", "-b", head)
	// Some history, so that the shallow clone of the tip has a boundary.
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(src, "history.txt"), []byte(strings.Repeat("x", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		gittest.Git(t, src, "add", ".")
		gittest.Git(t, src, "commit", "-qm", fmt.Sprintf("history %d", i))
	}
	gittest.Git(t, src, "add", ".")
	gittest.Git(t, src, "commit", "-q", "--allow-empty", "-m", "init")
	srv := gittest.Start(t, token)
	return srv, srv.Repo(t, "homelab", src, head), src
}

func publish(t *testing.T, url, content string) (*Commit, error) {
	t.Helper()
	ctx := context.Background()
	w, err := Open(ctx, OpenOptions{Repo: url, Auth: TokenAuth(token)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.Publish(ctx, PublishOptions{Branch: "restore/auth/db-20260205T020001", Message: "Restore db",
		Author:  object.Signature{Name: "t", Email: "t@example.com"},
		Changes: []fileset.File{{Path: "app.yaml", Content: []byte(content)}, {Path: "db/cluster.yaml", Content: []byte("kind: Cluster\n")}},
		Push:    true})
}

func lsRemote(t *testing.T, url string) string {
	return gittest.Git(t, "", "-c", "http.extraHeader=Authorization: Basic "+basic(token), "ls-remote", url)
}

func basic(tok string) string {
	// user "x", password tok
	return b64("x:" + tok)
}

func TestPublishBranchesFromTheBaseTipAndIsIdempotent(t *testing.T) {
	srv, url, _ := upstream(t, "trunk")
	c, err := publish(t, url, "host: db-restored-rw\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Pushed || c.Unchanged || c.Base != "trunk" {
		t.Fatalf("first run: %+v, want a push from the remote's default branch trunk", c)
	}
	refs := lsRemote(t, url)
	if !strings.Contains(refs, c.Hash+"\trefs/heads/restore/auth/db-20260205T020001") {
		t.Fatalf("the server has no branch at %s:\n%s", c.Hash, refs)
	}
	// The commit's parent is the base tip, and it holds the changes.
	clone := t.TempDir()
	gittest.Git(t, "", "-c", "http.extraHeader=Authorization: Basic "+basic(token), "clone", "-q", "-b", "restore/auth/db-20260205T020001", url, clone)
	if got := strings.TrimSpace(gittest.Git(t, clone, "log", "-1", "--format=%s", "HEAD^")); got != "init" {
		t.Errorf("the restore commit's parent is %q, want the base tip", got)
	}
	if n := strings.TrimSpace(gittest.Git(t, clone, "rev-list", "--count", "HEAD")); n != "5" {
		t.Errorf("branch has %s commits, want the base's one plus the restore", n)
	}
	if b, _ := os.ReadFile(filepath.Join(clone, "app.yaml")); string(b) != "host: db-restored-rw\n" {
		t.Errorf("app.yaml on the branch = %q", b)
	}

	pushes := srv.Pushes.Load()
	again, err := publish(t, url, "host: db-restored-rw\n")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.Pushed || again.Hash != c.Hash || srv.Pushes.Load() != pushes {
		t.Fatalf("same inputs: %+v (%d pushes after %d), want nothing new", again, srv.Pushes.Load(), pushes)
	}

	changed, err := publish(t, url, "host: db-restored-2-rw\n")
	if err != nil {
		t.Fatal(err)
	}
	if !changed.Pushed || changed.Replaced != c.Hash {
		t.Fatalf("new inputs: %+v, want the branch rebuilt over %s", changed, c.Hash)
	}
	gittest.Git(t, clone, "-c", "http.extraHeader=Authorization: Basic "+basic(token), "fetch", "-q", "origin")
	if n := strings.TrimSpace(gittest.Git(t, clone, "rev-list", "--count", "origin/restore/auth/db-20260205T020001")); n != "5" {
		t.Errorf("rebuilt branch has %s commits, want one on the base (not stacked on the old one)", n)
	}
}

func TestARemoteIsClonedShallow(t *testing.T) {
	_, url, _ := upstream(t, "main")
	w, err := Open(context.Background(), OpenOptions{Repo: url, Auth: TokenAuth(token)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if n := strings.TrimSpace(gittest.Git(t, w.Dir, "rev-list", "--count", "HEAD")); n != "1" {
		t.Errorf("the clone has %s commits, want the tip alone", n)
	}
	dir := w.Dir
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s behind", dir)
	}
}

func TestPublishNeverOverwritesAConcurrentPush(t *testing.T) {
	_, url, _ := upstream(t, "main")
	if _, err := publish(t, url, "host: a\n"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := Open(ctx, OpenOptions{Repo: url, Auth: TokenAuth(token)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.beforePush = func() {
		// Someone else rebuilds the branch after this run read it.
		if _, err := publish(t, url, "host: someone-else\n"); err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.Publish(ctx, PublishOptions{Branch: "restore/auth/db-20260205T020001", Message: "m", Author: object.Signature{Name: "t", Email: "t@e"},
		Changes: []fileset.File{{Path: "app.yaml", Content: []byte("host: mine\n")}}, Push: true})
	if err == nil || !strings.Contains(err.Error(), "changed on") || !strings.Contains(err.Error(), "run again") {
		t.Fatalf("err = %v, want the lease to refuse", err)
	}
}

func TestPublishRacingTheSameChangeEndsWithOneBranch(t *testing.T) {
	srv, url, _ := upstream(t, "main")
	ctx := context.Background()
	w, err := Open(ctx, OpenOptions{Repo: url, Auth: TokenAuth(token)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var other *Commit
	w.beforePush = func() {
		// Another run with the same inputs pushes first.
		if other, err = publish(t, url, "host: same\n"); err != nil {
			t.Fatal(err)
		}
	}
	c, err := w.Publish(ctx, PublishOptions{Branch: "restore/auth/db-20260205T020001", Message: "m", Author: object.Signature{Name: "t", Email: "t@e"},
		Changes: []fileset.File{{Path: "app.yaml", Content: []byte("host: same\n")}, {Path: "db/cluster.yaml", Content: []byte("kind: Cluster\n")}}, Push: true})
	if err != nil {
		t.Fatalf("the slower run failed: %v", err)
	}
	if !c.Unchanged || c.Hash != other.Hash {
		t.Errorf("slower run: %+v, want the other run's commit %s kept", c, other.Hash)
	}
	if refs := srv.Refs(t, "homelab"); strings.Count(refs, "refs/heads/restore/") != 1 || !strings.Contains(refs, other.Hash) {
		t.Errorf("refs after the race:\n%s", refs)
	}
}

func TestPublishSaysWhenTheBaseMoved(t *testing.T) {
	srv, url, src := upstream(t, "main")
	if _, err := publish(t, url, "host: a\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "other.yaml"), []byte("x: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, src, "add", ".")
	gittest.Git(t, src, "commit", "-qm", "unrelated")
	gittest.Git(t, src, "push", "-q", filepath.Join(srv.Root, "homelab.git"), "main")
	c, err := publish(t, url, "host: a\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Pushed || !c.BaseMoved || c.Replaced == "" {
		t.Errorf("after the base moved: %+v, want the branch rebuilt on the new tip", c)
	}
}

func TestPublishErrorsSayWhatToDo(t *testing.T) {
	srv, url, _ := upstream(t, "main")
	ctx := context.Background()
	if _, err := Open(ctx, OpenOptions{Repo: url, Auth: TokenAuth("wrong")}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("wrong token: %v", err)
	}
	if _, err := Open(ctx, OpenOptions{Repo: url}); err == nil || !strings.Contains(err.Error(), "GITEA_TOKEN") {
		t.Errorf("no token: %v", err)
	}
	srv.Hook(t, "homelab", "pre-receive", `while read old new ref; do case "$ref" in refs/heads/restore/*) echo "branch is protected" >&2; exit 1;; esac; done`)
	_, err := publish(t, url, "host: x\n")
	if err == nil || !strings.Contains(err.Error(), "refused branch restore/auth/db-20260205T020001") || !strings.Contains(err.Error(), "protected") {
		t.Errorf("protected branch: %v", err)
	}
	if _, err := Open(ctx, OpenOptions{Repo: url, Base: "nope", Auth: TokenAuth(token)}); err == nil || !strings.Contains(err.Error(), "has no branch nope: pass --base") {
		t.Errorf("missing base: %v", err)
	}
}

func TestLocalPublishLeavesTheBranchInTheCheckoutOnly(t *testing.T) {
	srv, _, src := upstream(t, "main")
	if err := os.WriteFile(filepath.Join(src, "scratch.txt"), []byte("uncommitted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pushes := srv.Pushes.Load()
	ctx := context.Background()
	w, err := Open(ctx, OpenOptions{Repo: filepath.Join(src), Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c, err := w.Publish(ctx, PublishOptions{Branch: "restore/auth/db-x", Message: "m", Author: object.Signature{Name: "t", Email: "t@e"},
		Changes: []fileset.File{{Path: "app.yaml", Content: []byte("host: local\n")}}, Push: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(gittest.Git(t, src, "rev-parse", "restore/auth/db-x")); got != c.Hash {
		t.Errorf("checkout's branch = %s, want %s", got, c.Hash)
	}
	if head := strings.TrimSpace(gittest.Git(t, src, "rev-parse", "--abbrev-ref", "HEAD")); head != "main" {
		t.Errorf("the checkout moved to %s", head)
	}
	if b, _ := os.ReadFile(filepath.Join(src, "app.yaml")); string(b) != "host: db-rw\n" {
		t.Errorf("the checkout's work tree changed: %q", b)
	}
	if srv.Pushes.Load() != pushes {
		t.Errorf("a local run pushed to the server")
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestPublishNeverRewritesABranchItDidNotMake: the base branch, a protected branch (the one the
// GitOps controller follows) and a branch a person made are refused, on a real git server and
// in a checkout (--no-push); a branch the tool made is rebuilt as before.
func TestPublishNeverRewritesABranchItDidNotMake(t *testing.T) {
	srv, url, src := upstream(t, "main")
	gittest.Git(t, src, "branch", "develop")
	gittest.Git(t, src, "checkout", "-q", "-b", "feature")
	if err := os.WriteFile(filepath.Join(src, "wip.txt"), []byte("a person's work\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, src, "add", ".")
	gittest.Git(t, src, "commit", "-qm", "work in progress")
	gittest.Git(t, src, "checkout", "-q", "main")
	gittest.Git(t, src, "push", "-q", filepath.Join(srv.Root, "homelab.git"), "develop", "feature")
	feature := strings.TrimSpace(gittest.Git(t, src, "rev-parse", "feature"))
	ctx := context.Background()
	attempt := func(o OpenOptions, branch string, protected map[string]string) error {
		t.Helper()
		w, err := Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		_, err = w.Publish(ctx, PublishOptions{Branch: branch, Message: "Restore db", Author: object.Signature{Name: "t", Email: "t@e"},
			Changes: []fileset.File{{Path: "app.yaml", Content: []byte("host: db-restored-rw\n")}}, Push: true, Protected: protected})
		return err
	}
	remote := OpenOptions{Repo: url, Base: "develop", Auth: TokenAuth(token)}
	local := OpenOptions{Repo: src, Base: "develop", Local: true}
	for _, o := range []OpenOptions{remote, local} {
		where := "remote"
		if o.Local {
			where = "checkout"
		}
		if err := attempt(o, "develop", nil); err == nil || !strings.Contains(err.Error(), "branch develop is the base branch") {
			t.Errorf("%s: --branch equal to --base: %v", where, err)
		}
		if err := attempt(o, "main", map[string]string{"main": "the branch Flux follows (GitRepository flux-system/flux-system, clusters/home/flux-system/gotk-sync.yaml:3)"}); err == nil || !strings.Contains(err.Error(), "branch main is the branch Flux follows") {
			t.Errorf("%s: --branch main --base develop: %v", where, err)
		}
		if err := attempt(o, "feature", nil); err == nil || !strings.Contains(err.Error(), "branch feature already exists") || !strings.Contains(err.Error(), "not made by cnpg-restore-gen") {
			t.Errorf("%s: a person's branch: %v", where, err)
		}
		if err := attempt(o, "restore/auth/db-x", nil); err != nil {
			t.Fatalf("%s: a new branch: %v", where, err)
		}
		if err := attempt(o, "restore/auth/db-x", nil); err != nil {
			t.Errorf("%s: the tool's own branch, again: %v", where, err)
		}
	}
	if got := strings.TrimSpace(gittest.Git(t, src, "rev-parse", "feature")); got != feature {
		t.Errorf("the person's branch moved in the checkout: %s, want %s", got, feature)
	}
	if refs := lsRemote(t, url); !strings.Contains(refs, feature+"\trefs/heads/feature") {
		t.Errorf("the person's branch moved on the server:\n%s", refs)
	}
}
