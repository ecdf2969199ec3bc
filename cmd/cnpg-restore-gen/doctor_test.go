package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/giteatest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
)

func doctorRepo(name string) string {
	return filepath.Join("..", "..", "doctor", "testdata", "repos", name)
}

func TestDoctorExitCodesAndFormats(t *testing.T) {
	out, errOut, code := execute(t, "doctor", "--repo", doctorRepo("incident"))
	if code != exitSafety || !strings.Contains(errOut, "finding(s) of severity error or worse") {
		t.Fatalf("doctor on the incident repo: exit %d, stderr %q; want 3 and the count", code, errOut)
	}
	golden.Assert(t, "cli", ".txt", []byte(out))
	if _, _, code := execute(t, "doctor", "--repo", doctorRepo("clean")); code != exitOK {
		t.Errorf("doctor on the clean repo: exit %d, want 0", code)
	}
	// Warnings alone pass by default and fail with --fail-on warning.
	args := []string{"doctor", "--repo", doctorRepo("incident"), "--cluster", "auth/authentik-postgresql"}
	out, _, code = execute(t, append(args, "-o", "json")...)
	var rep struct {
		Findings []struct{ Rule, Severity string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if len(rep.Findings) == 0 || code != exitSafety {
		t.Errorf("-o json for auth/authentik-postgresql: exit %d, %d findings", code, len(rep.Findings))
	}
	out, _, _ = execute(t, append(args, "-o", "sarif")...)
	var sarif struct{ Version string }
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || sarif.Version != "2.1.0" {
		t.Errorf("-o sarif: %v, version %q", err, sarif.Version)
	}
	for _, bad := range [][]string{
		{"doctor"},
		{"doctor", "--repo", ".", "--fail-on", "info"},
		{"doctor", "--repo", ".", "-o", "yaml"},
		{"doctor", "--repo", ".", "--cluster", "nonamespace"},
	} {
		if _, _, code := execute(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if _, errOut, code := execute(t, "doctor", "--repo", doctorRepo("clean"), "--cluster", "db/nope"); code != exitError || !strings.Contains(errOut, "db/nope") {
		t.Errorf("an unknown cluster: exit %d, %q", code, errOut)
	}
}

func TestDoctorFlagsBecomeOptions(t *testing.T) {
	var got *doctorOptions
	cmd := newDoctorCmd(&streams{}, func(_ context.Context, o *doctorOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--repo", "r", "--cluster", "auth/pg", "--fail-on", "warning", "-o", "sarif",
		"--catalog-checks", "--wal-max-age", "30m", "--endpoint-url", "https://minio.example:9000"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Repo != "r" || got.Cluster != "pg" || got.Namespace != "auth" || got.Output != "sarif" || got.FailOn != "warning" ||
		!got.CatalogChecks || got.WALMaxAge != 30*time.Minute || got.BackupMaxAge != 0 || got.S3.EndpointURL != "https://minio.example:9000" {
		t.Errorf("options = %+v", *got)
	}
	// Catalog flags without --catalog-checks would be ignored: refused instead.
	if _, _, code := execute(t, "doctor", "--repo", ".", "--endpoint-url", "https://x"); code != exitUsage {
		t.Errorf("--endpoint-url without --catalog-checks: exit %d, want 2", code)
	}
}

// TestDoctorFix: --fix --dry-run prints the fixes and writes nothing; --fix refuses a dirty
// checkout, then writes them; the exit code counts what is left; a second --fix has nothing
// to do.
func TestDoctorFix(t *testing.T) {
	repo := checkoutOf(t, doctorRepo("incident"))
	scrub := func(s string) string { return strings.ReplaceAll(s, repo, "/tmp/repo") }

	out, errOut, code := execute(t, "doctor", "--repo", repo, "--fix", "--dry-run", "--cluster", "auth/authentik-postgresql")
	if code != exitSafety || !strings.Contains(out, "+  method: plugin") || !strings.Contains(errOut, "Would fix 3 finding(s)") {
		t.Fatalf("--fix --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	golden.Assert(t, "cli", ".txt", []byte(scrub(errOut)))
	if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
		t.Fatalf("--dry-run changed the checkout:\n%s", st)
	}
	if err := os.WriteFile(filepath.Join(repo, "wip.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := execute(t, "doctor", "--repo", repo, "--fix"); code != exitError || !strings.Contains(errOut, "uncommitted changes (wip.yaml)") {
		t.Fatalf("--fix on a dirty checkout: exit %d %s", code, errOut)
	}
	if st := gitIn(t, repo, "status", "--porcelain"); st != "?? wip.yaml\n" {
		t.Fatalf("a refused --fix changed the checkout:\n%s", st)
	}
	if err := os.Remove(filepath.Join(repo, "wip.yaml")); err != nil {
		t.Fatal(err)
	}
	// The cluster alone: one error is left, the archive path (never fixed mechanically).
	_, errOut, code = execute(t, "doctor", "--repo", repo, "--fix", "--cluster", "auth/authentik-postgresql")
	if code != exitSafety {
		t.Fatalf("--fix: exit %d, want 3 for what is left\n%s", code, errOut)
	}
	st := gitIn(t, repo, "status", "--porcelain")
	for _, want := range []string{" M auth/scheduledbackup.yaml", " M auth/kustomization.yaml", "?? auth/authentik-postgresql-backup-alerts.yaml"} {
		if !strings.Contains(st, want) {
			t.Errorf("git status after --fix lacks %q:\n%s", want, st)
		}
	}
	gitIn(t, repo, "add", ".")
	gitIn(t, repo, "commit", "-qm", "doctor --fix")
	_, errOut, _ = execute(t, "doctor", "--repo", repo, "--fix", "--cluster", "auth/authentik-postgresql")
	if !strings.Contains(errOut, "nothing to fix mechanically") || gitIn(t, repo, "status", "--porcelain") != "" {
		t.Errorf("a second --fix: %s", errOut)
	}
	for _, bad := range [][]string{
		{"doctor", "--repo", repo, "--dry-run"},
		{"doctor", "--repo", repo, "--fix", "-o", "sarif"},
	} {
		if _, _, code := execute(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// TestIntegrationDoctorFixPROnGitea: doctor --fix --pr proposes the fixes as a pull request on
// a real Gitea, from a private clone (the checkout is untouched); the same run again changes
// nothing; the body says what was fixed and what is still found.
func TestIntegrationDoctorFixPROnGitea(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Gitea")
	}
	g := giteatest.Start(t)
	url := g.CreateRepo(t, "homelab", "main")
	repo := checkoutOf(t, doctorRepo("incident"))
	gitIn(t, repo, "remote", "add", "origin", url)
	g.Push(t, repo, url, "main")
	env := map[string]string{"GITEA_TOKEN": g.Token}
	args := []string{"doctor", "--repo", repo, "--fix", "--pr", "--forge", "gitea", "--label", "backups"}

	out, errOut, code := executeEnv(t, env, args...)
	if code != exitSafety || !strings.Contains(out, "Pull request #1 created") {
		t.Fatalf("doctor --fix --pr: exit %d (want 3: the archive path is left)\n%s%s", code, out, errOut)
	}
	if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
		t.Errorf("--pr changed the checkout:\n%s", st)
	}
	var open []struct {
		Title string `json:"title"`
		Body  string `json:"body"`
		Head  struct {
			Ref string `json:"ref"`
			Sha string `json:"sha"`
		} `json:"head"`
	}
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/homelab/pulls?state=open", nil, &open)
	if len(open) != 1 || open[0].Head.Ref != "doctor/fix" || !strings.HasPrefix(open[0].Title, "doctor: 4 backup configuration fix") {
		t.Fatalf("open pull requests: %+v", open)
	}
	for _, want := range []string{"### Fixed", "**scheduled-backup-wrong-method ScheduledBackup auth/authentik-postgresql-daily", "`auth/authentik-postgresql-backup-alerts.yaml`",
		"### Still found (not mechanical)", "`archive-names-an-instance`"} {
		if !strings.Contains(open[0].Body, want) {
			t.Errorf("the pull request's body lacks %q:\n%s", want, open[0].Body)
		}
	}
	first := open[0].Head.Sha
	out, errOut, _ = executeEnv(t, env, args...)
	if !strings.Contains(out, "is up to date") || !strings.Contains(out, "Pull request #1 unchanged") {
		t.Fatalf("second run:\n%s%s", out, errOut)
	}
	g.API(t, http.MethodGet, "repos/"+giteatest.User+"/homelab/pulls?state=open", nil, &open)
	if len(open) != 1 || open[0].Head.Sha != first {
		t.Errorf("the second run moved the branch or opened another: %+v", open)
	}
	// Forge flags without --pr are refused.
	if _, _, code := execute(t, "doctor", "--repo", repo, "--fix", "--label", "x"); code != exitUsage {
		t.Errorf("--label without --pr: exit %d, want 2", code)
	}
}
