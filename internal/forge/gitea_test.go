package forge

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/gitops"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/giteatest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/gittest"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// TestIntegrationGitea runs Ensure against a real Gitea: create, unchanged, update, draft,
// labels, and a second client racing the first.
func TestIntegrationGitea(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Gitea")
	}
	g := giteatest.Start(t)
	url := g.CreateRepo(t, "gitops", "main")
	src := t.TempDir()
	gittest.Git(t, src, "init", "-q", "-b", "main")
	gittest.Git(t, src, "commit", "-q", "--allow-empty", "-m", "init")
	g.Push(t, src, url, "main")

	// The branch goes through Gitea's own Git HTTP, with the token as the password.
	ctx := context.Background()
	w, err := gitops.Open(ctx, gitops.OpenOptions{Repo: url, Auth: gitops.TokenAuth(g.Token)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	head := "restore/auth/db-20260205T020001"
	if _, err := w.Publish(ctx, gitops.PublishOptions{Branch: head, Message: "restore", Author: object.Signature{Name: "t", Email: "t@e"},
		Changes: []fileset.File{{Path: "db/cluster.yaml", Content: []byte("kind: Cluster\n")}}, Push: true}); err != nil {
		t.Fatal(err)
	}

	client := func() *GiteaClient {
		c, err := NewGitea(ctx, &http.Client{Transport: &Retry{}}, g.URL, g.Token, giteatest.User, "gitops")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f := client()
	want := PullRequest{Head: head, Base: "main", Title: "Restore auth/db", Body: "## Restore\n\n```mermaid\ngantt\n```\n", Labels: []string{"restore"}, Draft: true}
	pr, outcome, err := Ensure(ctx, f, want)
	if err != nil || outcome != Created || !pr.Draft || !slices.Contains(pr.Labels, "restore") || !strings.HasPrefix(pr.URL, g.URL) {
		t.Fatalf("create: %+v %s %v", pr, outcome, err)
	}
	again, outcome, err := Ensure(ctx, client(), want)
	if err != nil || outcome != Unchanged || again.Number != pr.Number {
		t.Fatalf("same inputs: %+v %s %v", again, outcome, err)
	}
	want.Body = "## Restore\nnew target\n"
	upd, outcome, err := Ensure(ctx, f, want)
	if err != nil || outcome != Updated || upd.Number != pr.Number || upd.Body != want.Body || !upd.Draft {
		t.Fatalf("update: %+v %s %v", upd, outcome, err)
	}
	// Create on a branch that already has a PR: Gitea answers 409, which is ErrExists.
	if _, err := f.Create(ctx, want); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	var open []map[string]any
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/gitops/pulls?state=open", nil, &open)
	if len(open) != 1 {
		t.Fatalf("%d open pull requests, want 1", len(open))
	}
	// A bad token is reported as such.
	bad, err := NewGitea(ctx, &http.Client{Transport: &Retry{}}, g.URL, "0000000000000000000000000000000000000000", giteatest.User, "gitops")
	if err == nil {
		_, _, err = Ensure(ctx, bad, want)
	}
	if err == nil || !strings.Contains(err.Error(), "GITEA_TOKEN") {
		t.Fatalf("bad token: %v", err)
	}
}
