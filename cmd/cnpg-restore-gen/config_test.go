package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/githubtest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/gittest"
)

func writeConfig(t *testing.T, repo, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(repo, configFile), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-qm", "conventions")
}

func TestConfigFileSetsTheTeamsConventions(t *testing.T) {
	root, _ := sampleCatalog(t)
	sys := sampleSystemA(t, root)
	repo := fixtureRepo(t, "argocd-helm")
	writeConfig(t, repo, "newName: \"{cluster}-r\"\noverlayDir: restores/{namespace}/{cluster}\n")
	args := []string{"generate", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--catalog", root, "--server-name", "pg-main", "--system-id", sys, "--dry-run", "--quiet"}
	out, errOut, code := execute(t, args...)
	if code != exitOK || !strings.Contains(out, "+++ b/restores/auth/authentik-postgresql/cluster.yaml") || !strings.Contains(out, "+  name: authentik-postgresql-r\n") {
		t.Fatalf("exit %d\n%s%s", code, head(out, 30), errOut)
	}
	// A flag wins over the file.
	out, _, _ = execute(t, append(args, "--new-name", "authdb")...)
	if !strings.Contains(out, "+  name: authdb\n") {
		t.Errorf("--new-name did not win over newName:\n%s", head(out, 30))
	}
}

func TestConfigFileErrorsNameTheFile(t *testing.T) {
	repo := fixtureRepo(t, "argocd-helm")
	for _, tc := range []struct{ text, want string }{
		{"labels: [restore]\nreviewer: [bob]\n", `.cnpg-restore-gen.yaml:2: unknown key "reviewer"; did you mean reviewers?`},
		{"labels: restore\n", `.cnpg-restore-gen.yaml:1: labels: expected a list of strings, got a string ("restore") (write labels: [restore]`},
		{"Labels: [restore]\n", `unknown key "Labels"; did you mean labels?`},
		{"draft: maybe\n", `draft: expected true or false, got a string ("maybe")`},
		{"base: [main]\n", "base: expected a string, got a list"},
		{"reviewers: [alice, {name: bob}]\n", "reviewers: expected a list of strings, got a list holding a mapping"},
		{"base: main\nbase: develop\n", ".cnpg-restore-gen.yaml:2: base is set twice (first on line 1)"},
		{"strategy: sideways\n", `strategy "sideways" is not side-by-side or in-place`},
		{"overlayDir: ../outside\n", "overlayDir"},
		{"newName: \"{cluster}_R\"\n", "not a valid cluster name"},
	} {
		writeConfig(t, repo, tc.text)
		_, errOut, code := execute(t, "generate", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--catalog", "/nonexistent", "--server-name", "x", "--dry-run")
		if code == exitOK || !strings.Contains(errOut, configFile) || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d %s; want an error naming %s and %q", tc.text, code, errOut, configFile, tc.want)
		}
	}
}

func TestConfigFileForThePullRequest(t *testing.T) {
	gh := githubtest.Start(t)
	srv := gittest.Start(t, gh.Token)
	repo := fixtureRepo(t, "argocd-helm")
	writeConfig(t, repo, "forge: github\nforgeURL: "+gh.URL+"\nlabels: [restore, database]\nreviewers: [alice]\ndraft: true\nbranch: db-restore/{cluster}/{backup}\n")
	gitIn(t, repo, "remote", "add", "origin", srv.Repo(t, "homelab/gitops", repo, "main"))
	out, errOut, code := executeEnv(t, map[string]string{"GITHUB_TOKEN": gh.Token}, prArgs(t, repo, "2026-11-24 17:52:45+00")...)
	if code != exitOK || !strings.Contains(out, "Branch    db-restore/authentik-postgresql/20261124T175236 pushed") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	gh.Mu.Lock()
	defer gh.Mu.Unlock()
	if len(gh.PRs) != 1 {
		t.Fatalf("%d pull requests", len(gh.PRs))
	}
	pr := gh.PRs[0]
	if !pr.Draft || strings.Join(pr.Labels, ",") != "restore,database" || strings.Join(pr.Reviewers, ",") != "alice" {
		t.Errorf("pull request %+v: want a draft labelled restore, database with alice asked to review", pr)
	}
}

func head(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[:n]
	}
	return strings.Join(l, "\n")
}
