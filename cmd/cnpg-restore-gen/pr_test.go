package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/sample"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/giteatest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/githubtest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/gittest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
)

// executeEnv is execute with an environment.
func executeEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &streams{Out: &out, ErrOut: &errb, Getenv: func(k string) string { return env[k] }})
	return out.String(), errb.String(), code
}

// prArgs are the arguments of a pr run on the Argo CD fixture against the sample catalog.
func prArgs(t *testing.T, repo, targetTime string) []string {
	t.Helper()
	root, _ := sampleCatalog(t)
	return []string{"pr", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--catalog", root, "--server-name", sample.ServerName,
		"--system-id", sampleSystemA(t, root), "--target-time", targetTime, "--quiet"}
}

func TestPRDryRunPrintsBranchDiffAndBodyAndTouchesNothing(t *testing.T) {
	repo := fixtureRepo(t, "argocd-helm")
	root, clean := sampleCatalog(t)
	args := []string{"pr", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--catalog", root, "--server-name", sample.ServerName,
		"--system-id", sampleSystemA(t, root), "--target-time", "2026-11-24 17:52:45+00", "--dry-run", "--quiet"}
	before := gitIn(t, repo, "for-each-ref")
	out, errOut, code := execute(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	scrubbed := strings.ReplaceAll(clean(out), version(), "VERSION")
	golden.Assert(t, "cli", ".md", []byte(scrubbed))
	for _, want := range []string{"Branch   restore/auth/authentik-postgresql-20261124T175236 (from main)", "+++ b/k8s/infrastructure/auth/authentik.yaml", "### Safety checks", "```mermaid"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	if after := gitIn(t, repo, "for-each-ref"); after != before {
		t.Errorf("--dry-run made refs:\n%s", after)
	}
	if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
		t.Errorf("--dry-run changed the work tree:\n%s", st)
	}
}

func TestPRNoPushCommitsInTheCheckoutOnly(t *testing.T) {
	repo := fixtureRepo(t, "argocd-helm")
	out, errOut, code := execute(t, append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--no-push")...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "committed in") || !strings.Contains(out, "not pushed") {
		t.Errorf("summary:\n%s", out)
	}
	branch := "restore/auth/authentik-postgresql-20261124T175236"
	files := gitIn(t, repo, "diff", "--name-only", "main", branch)
	if !strings.Contains(files, "authentik-postgresql-restored/cluster.yaml") || !strings.Contains(files, "k8s/infrastructure/auth/authentik.yaml") {
		t.Errorf("branch changes:\n%s", files)
	}
	if head := strings.TrimSpace(gitIn(t, repo, "rev-parse", "--abbrev-ref", "HEAD")); head != "main" {
		t.Errorf("HEAD moved to %s", head)
	}
	if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
		t.Errorf("work tree changed:\n%s", st)
	}
	msg := gitIn(t, repo, "log", "-1", "--format=%B", branch)
	if !strings.HasPrefix(msg, "Restore auth/authentik-postgresql as auth/authentik-postgresql-restored from backup 20261124T175236") {
		t.Errorf("commit message:\n%s", msg)
	}

	// Merged and verified: the cleanup pull request removes the old cluster.
	gitIn(t, repo, "merge", "-q", "--ff-only", branch)
	out, errOut, code = execute(t, "pr", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--cleanup", "--no-push")
	if code != exitOK {
		t.Fatalf("cleanup: exit %d\n%s%s", code, out, errOut)
	}
	files = gitIn(t, repo, "diff", "--name-status", "main", "restore/auth/authentik-postgresql-cleanup")
	if !strings.Contains(files, "D\tk8s/infrastructure/auth/authentik-postgresql/cluster.yaml") {
		t.Errorf("cleanup branch changes:\n%s", files)
	}
	if msg := gitIn(t, repo, "log", "-1", "--format=%s", "restore/auth/authentik-postgresql-cleanup"); !strings.HasPrefix(msg, "Clean up after the restore of auth/authentik-postgresql") {
		t.Errorf("cleanup commit: %s", msg)
	}
}

func TestPRForgeNonePushesToARealGitServer(t *testing.T) {
	srv := gittest.Start(t, "s3cret-token-for-git")
	repo := fixtureRepo(t, "argocd-helm")
	url := srv.Repo(t, "ops/homelab", repo, "main")
	gitIn(t, repo, "remote", "add", "origin", url)
	args := prArgs(t, repo, "2026-11-24 17:52:45+00")

	// No --forge and a host that names no forge: asked for, nothing pushed.
	_, errOut, code := executeEnv(t, map[string]string{"GITEA_TOKEN": "s3cret-token-for-git"}, args...)
	if code != exitError || !strings.Contains(errOut, "pass --forge") || srv.Pushes.Load() != 0 {
		t.Fatalf("unknown forge: exit %d %s", code, errOut)
	}
	// A wrong token: refused, and the token is not echoed.
	_, errOut, code = executeEnv(t, map[string]string{"GITEA_TOKEN": "wrong-token-123"}, append(args, "--forge", "none")...)
	if code != exitError || !strings.Contains(errOut, "refused the token") || strings.Contains(errOut, "wrong-token-123") {
		t.Fatalf("wrong token: exit %d %s", code, errOut)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token-for-git\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := execute(t, append(args, "--forge", "none", "--token-file", tokenFile)...)
	if code != exitOK || !strings.Contains(out, "pushed to "+url) || strings.Contains(out, "Pull request") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	refs := srv.Refs(t, "ops/homelab")
	if !strings.Contains(refs, " refs/heads/restore/auth/authentik-postgresql-20261124T175236\n") {
		t.Fatalf("the server has no restore branch:\n%s", refs)
	}
	out, _, code = execute(t, append(args, "--forge", "none", "--token-file", tokenFile)...)
	if code != exitOK || !strings.Contains(out, "is up to date") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "s3cret-token-for-git") {
		t.Errorf("the token is in the output")
	}
	if again := srv.Refs(t, "ops/homelab"); again != refs {
		t.Errorf("the second run changed the server's refs:\n%s", again)
	}
}

// giteaFixture starts Gitea (skipped with -short) and returns it with a checkout of the Argo
// CD fixture whose origin is a Gitea repository holding it.
func giteaFixture(t *testing.T) (*giteatest.Gitea, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Gitea")
	}
	g := giteatest.Start(t)
	url := g.CreateRepo(t, "homelab", "main")
	repo := fixtureRepo(t, "argocd-helm")
	gitIn(t, repo, "remote", "add", "origin", url)
	g.Push(t, repo, url, "main")
	return g, repo
}

// TestIntegrationPROnGitea is issue 5's acceptance: from a real catalog and a fixture GitOps
// repo pushed to a real Gitea, pr opens the branch and the pull request; the same inputs again
// create nothing; a new target updates the same pull request.
func TestIntegrationPROnGitea(t *testing.T) {
	g, repo := giteaFixture(t)
	env := map[string]string{"GITEA_TOKEN": g.Token}
	args := append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge", "gitea", "--label", "restore")

	out, errOut, code := executeEnv(t, env, args...)
	if code != exitOK {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "Pull request #1 created: "+g.URL+giteatest.User+"/homelab/pulls/1") {
		t.Fatalf("first run printed no PR URL:\n%s", out)
	}
	type pull struct {
		Number int    `json:"number"`
		Title  string `json:"title"`
		Body   string `json:"body"`
		Head   struct {
			Ref string `json:"ref"`
			Sha string `json:"sha"`
		} `json:"head"`
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
	}
	var open []pull
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/homelab/pulls?state=open", nil, &open)
	if len(open) != 1 || open[0].Head.Ref != "restore/auth/authentik-postgresql-20261124T175236" || len(open[0].Labels) != 1 {
		t.Fatalf("open pull requests: %+v", open)
	}
	for _, s := range []string{"### What is restored, from where", "### Safety checks", "```mermaid", "### Cutover edits", "### After the merge: post-restore checklist", "### Roll back and clean up", "2026-11-24 17:52:45+00:00"} {
		if !strings.Contains(open[0].Body, s) {
			t.Errorf("the PR body on Gitea lacks %q", s)
		}
	}
	first := open[0]

	out, errOut, code = executeEnv(t, env, args...)
	if code != exitOK || !strings.Contains(out, "is up to date") || !strings.Contains(out, "Pull request #1 unchanged") {
		t.Fatalf("same inputs: exit %d\n%s%s", code, out, errOut)
	}
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/homelab/pulls?state=open", nil, &open)
	if len(open) != 1 || open[0].Head.Sha != first.Head.Sha {
		t.Fatalf("same inputs changed the branch or opened another PR: %+v", open)
	}

	args = append(prArgs(t, repo, "2026-11-24 17:52:48+00"), "--forge", "gitea", "--label", "restore")
	out, errOut, code = executeEnv(t, env, args...)
	if code != exitOK || !strings.Contains(out, "rebuilt from main") || !strings.Contains(out, "Pull request #1 updated") {
		t.Fatalf("new target: exit %d\n%s%s", code, out, errOut)
	}
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/homelab/pulls?state=open", nil, &open)
	if len(open) != 1 || open[0].Number != 1 || open[0].Head.Sha == first.Head.Sha || !strings.Contains(open[0].Body, "2026-11-24 17:52:48+00:00") {
		t.Fatalf("new target: %+v", open)
	}
	var commits []map[string]any
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/homelab/pulls/1/commits", nil, &commits)
	if len(commits) != 1 {
		t.Errorf("the PR has %d commits, want the one rebuilt from the base", len(commits))
	}
	if strings.Contains(out+errOut, g.Token) {
		t.Errorf("the token is in the output")
	}
}

// TestPROnGitHubWithAnApp runs the GitHub path end to end: a GitHub App's key exchanged for an
// installation token, the branch pushed with it (git http-backend standing in for GitHub's Git
// server), the pull request opened on the GitHub API fake, then left alone on a second run.
func TestPROnGitHubWithAnApp(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	gh := githubtest.Start(t)
	gh.AppKey, gh.AppID, gh.Token = &key.PublicKey, "123", "none-until-the-app-asks"
	srv := gittest.Start(t, "ghs_installation_token")
	repo := fixtureRepo(t, "argocd-helm")
	gitIn(t, repo, "remote", "add", "origin", srv.Repo(t, "homelab/gitops", repo, "main"))
	env := map[string]string{"GITHUB_APP_ID": "123", "GITHUB_APP_PRIVATE_KEY_FILE": keyFile}
	args := append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge", "github", "--forge-url", gh.URL, "--draft", "--label", "restore")

	out, errOut, code := executeEnv(t, env, args...)
	if code != exitOK || !strings.Contains(out, "Pull request #1 created: "+gh.URL+"homelab/gitops/pull/1") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	gh.Mu.Lock()
	defer gh.Mu.Unlock()
	if len(gh.PRs) != 1 || !gh.PRs[0].Draft || gh.PRs[0].Head != "restore/auth/authentik-postgresql-20261124T175236" || !strings.Contains(gh.PRs[0].Body, "### Safety checks") {
		t.Fatalf("pull requests on the fake: %+v", gh.PRs)
	}
	gh.Mu.Unlock()
	out, errOut, code = executeEnv(t, env, args...)
	gh.Mu.Lock()
	if code != exitOK || !strings.Contains(out, "Pull request #1 unchanged") || !strings.Contains(out, "is up to date") {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
}

// TestIntegrationPRTwoRunsAtOnce: two pr runs for the same cluster at the same time end with
// one branch and one pull request, and both succeed.
func TestIntegrationPRTwoRunsAtOnce(t *testing.T) {
	g, repo := giteaFixture(t)
	env := map[string]string{"GITEA_TOKEN": g.Token}
	args := append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge", "gitea")

	type result struct {
		out, errOut string
		code        int
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			var out, errb bytes.Buffer
			code := run(context.Background(), args, &streams{Out: &out, ErrOut: &errb, Getenv: func(k string) string { return env[k] }})
			results <- result{out.String(), errb.String(), code}
		}()
	}
	outcomes := map[string]int{}
	for range 2 {
		r := <-results
		if r.code != exitOK {
			t.Fatalf("a concurrent run failed: exit %d\n%s%s", r.code, r.out, r.errOut)
		}
		for _, o := range []string{"created", "updated", "unchanged"} {
			if strings.Contains(r.out, "Pull request #1 "+o) {
				outcomes[o]++
			}
		}
	}
	if outcomes["created"] != 1 || outcomes["created"]+outcomes["updated"]+outcomes["unchanged"] != 2 {
		t.Errorf("outcomes %v: want one run to create pull request #1 and the other to find it", outcomes)
	}
	var open []map[string]any
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/homelab/pulls?state=all", nil, &open)
	var branches []map[string]any
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/homelab/branches", nil, &branches)
	if len(open) != 1 || len(branches) != 2 {
		t.Errorf("%d pull requests (open or closed) and %d branches, want 1 and 2 (main and the restore)", len(open), len(branches))
	}
}

// TestPRRedactsTheTokenFromErrors: a forge that echoes the token in an error (some proxies
// and old servers do) does not get it printed.
func TestPRRedactsTheTokenFromErrors(t *testing.T) {
	const canary = "ghp_CANARY-t0ken-5e3d"
	gh := githubtest.Start(t)
	gh.Token = canary
	gh.Fault(func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"message":"token ` + canary + ` is not allowed here"}`))
	})
	srv := gittest.Start(t, canary)
	repo := fixtureRepo(t, "argocd-helm")
	gitIn(t, repo, "remote", "add", "origin", srv.Repo(t, "homelab/gitops", repo, "main"))
	out, errOut, code := executeEnv(t, map[string]string{"GITHUB_TOKEN": canary},
		append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge", "github", "--forge-url", gh.URL)...)
	if code != exitError || !strings.Contains(errOut, "[REDACTED]") {
		t.Fatalf("exit %d, want an error with the token redacted:\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, canary) {
		t.Errorf("the token is in the output:\n%s%s", out, errOut)
	}
}

// TestPRNeverRewritesBranchesItDidNotMake: in a checkout (--no-push), --branch naming the
// branch Argo CD follows, or a branch holding a person's unpushed work, is refused and the
// branch is left as it was.
func TestPRNeverRewritesBranchesItDidNotMake(t *testing.T) {
	repo := fixtureRepo(t, "argocd-helm")
	gitIn(t, repo, "branch", "develop")
	gitIn(t, repo, "checkout", "-q", "-b", "wip")
	if err := os.WriteFile(filepath.Join(repo, "notes.txt"), []byte("unpushed work\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-qm", "unpushed work")
	gitIn(t, repo, "checkout", "-q", "main")
	before := gitIn(t, repo, "for-each-ref")
	for branch, want := range map[string]string{
		"main": "branch main is the branch Argo CD follows (Application argocd/auth, k8s/argocd/auth.yaml:",
		"wip":  "branch wip already exists",
	} {
		out, errOut, code := execute(t, append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--no-push", "--base", "develop", "--branch", branch)...)
		if code != exitError || !strings.Contains(errOut, want) {
			t.Errorf("--branch %s: exit %d\n%s%s", branch, code, out, errOut)
		}
	}
	if after := gitIn(t, repo, "for-each-ref"); after != before {
		t.Errorf("branches moved:\n%s\nwant\n%s", after, before)
	}
}
