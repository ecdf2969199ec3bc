package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/sample"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
)

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// fixtureRepo copies a generator fixture repo into a fresh git checkout.
func fixtureRepo(t *testing.T, name string) string {
	t.Helper()
	return checkoutOf(t, filepath.Join("..", "..", "generator", "testdata", "repos", name))
}

// checkoutOf copies the directory src into a fresh git checkout with one commit.
func checkoutOf(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "init", "-q")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "-qm", "init")
	return dir
}

func TestGenerateEndToEnd(t *testing.T) {
	root, clean := sampleCatalog(t)
	sys := sampleSystemA(t, root)
	repo := fixtureRepo(t, "argocd-helm")
	scrub := func(s string) string { return strings.ReplaceAll(clean(s), repo, "/tmp/repo") }
	args := []string{"generate", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--catalog", root, "--server-name", sample.ServerName}

	// Two database systems and no --system-id: refused, nothing written.
	out, errOut, code := execute(t, args...)
	if code != exitSafety || !strings.Contains(errOut, "nothing written") {
		t.Fatalf("two systems: exit %d\n%s%s", code, out, errOut)
	}
	if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
		t.Fatalf("a refused plan changed the repo:\n%s", st)
	}

	args = append(args, "--system-id", sys, "--target-time", "2026-11-24 17:52:45+00")
	t.Run("dry_run", func(t *testing.T) {
		out, errOut, code := execute(t, append(args, "--dry-run")...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		golden.Assert(t, "cli", ".diff", []byte(scrub(out)))
		golden.Assert(t, "cli", ".txt", []byte(scrub(errOut)))
		if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
			t.Errorf("--dry-run changed the repo:\n%s", st)
		}
	})
	t.Run("dirty_refused", func(t *testing.T) {
		p := filepath.Join(repo, "README.md")
		if err := os.WriteFile(p, []byte("wip\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(p)
		_, errOut, code := execute(t, args...)
		if code != exitError || !strings.Contains(errOut, "uncommitted changes (README.md)") {
			t.Fatalf("exit %d %s", code, errOut)
		}
		if st := gitIn(t, repo, "status", "--porcelain"); st != "?? README.md\n" {
			t.Errorf("a refused write changed the repo:\n%s", st)
		}
	})
	t.Run("write", func(t *testing.T) {
		out, errOut, code := execute(t, args...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		golden.Assert(t, "cli", ".txt", []byte(scrub(out)))
		st := gitIn(t, repo, "status", "--porcelain")
		for _, want := range []string{" M k8s/infrastructure/auth/authentik.yaml", " M k8s/infrastructure/auth/authentik-postgresql/kustomization.yaml", "?? k8s/infrastructure/auth/authentik-postgresql/authentik-postgresql-restored/"} {
			if !strings.Contains(st, want) {
				t.Errorf("git status lacks %q:\n%s", want, st)
			}
		}
		gitIn(t, repo, "add", ".")
		gitIn(t, repo, "commit", "-qm", "restore")
	})
	t.Run("again_refused", func(t *testing.T) {
		_, errOut, code := execute(t, append(args, "--new-name", "authentik-postgresql-restored")...)
		if code != exitSafety || !strings.Contains(errOut, "nothing written") {
			t.Errorf("a second restore with the same name: exit %d %s", code, errOut)
		}
	})
	t.Run("rerun_finds_the_merged_restore", func(t *testing.T) {
		// The default name would be -restored-2, a second restore with no cutover: refused,
		// naming the restore already in the repo.
		out, errOut, code := execute(t, args...)
		if code != exitSafety || !strings.Contains(out, "the repo already holds a restore of auth/authentik-postgresql: auth/authentik-postgresql-restored (k8s/infrastructure/auth/authentik-postgresql/authentik-postgresql-restored/cluster.yaml:") {
			t.Errorf("re-run after the merge: exit %d\n%s%s", code, out, errOut)
		}
		// An explicit --new-name makes another, with a warning.
		out, errOut, code = execute(t, append(args, "--new-name", "authentik-postgresql-again", "--dry-run")...)
		if code != exitOK || !strings.Contains(errOut+out, "the repo already holds a restore of auth/authentik-postgresql") {
			t.Errorf("--new-name after the merge: exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("cutover_is_done", func(t *testing.T) {
		out, errOut, code := execute(t, "generate", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--phase", "cutover")
		if code != exitOK || !strings.Contains(out, "Nothing to change") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("cleanup", func(t *testing.T) {
		out, errOut, code := execute(t, "generate", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--cleanup", "--dry-run")
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		golden.Assert(t, "cli", ".diff", []byte(scrub(out)))
		golden.Assert(t, "cli", ".txt", []byte(scrub(errOut)))
	})
}

func TestGenerateUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--cluster", "auth/pg"}, "--repo is required"},
		{[]string{"generate", "--repo", ".", "--cluster", "auth/pg", "--phase", "later"}, `--phase "later"`},
		{[]string{"generate", "--repo", ".", "--cluster", "auth/pg", "--cleanup", "--phase", "cutover"}, "separate changes"},
		{[]string{"generate", "--repo", ".", "--cluster", "auth/pg", "--dry-run", "--out", "x"}, "drop --out"},
		{[]string{"generate", "--repo", ".", "--cluster", "auth/pg", "--overlay-dir", "../elsewhere"}, "leaves the repository"},
	}
	for _, tc := range cases {
		_, errOut, code := execute(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d stderr %q; want %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
}
