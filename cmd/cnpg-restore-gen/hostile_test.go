package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/gitops"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/sample"
)

// TestHostileRepos runs generate over the Argo CD fixture made odd or hostile in one way each:
// every case either works, with the odd part handled as a person would want, or fails with one
// clear line; never a wrong or half-made change. Files are edited on disk and the result is
// applied and parsed back.
func TestHostileRepos(t *testing.T) {
	root, _ := sampleCatalog(t)
	sys := sampleSystemA(t, root)
	const (
		app = "k8s/infrastructure/auth/authentik.yaml"
		cl  = "k8s/infrastructure/auth/authentik-postgresql/cluster.yaml"
		kz  = "k8s/infrastructure/auth/authentik-postgresql/kustomization.yaml"
	)
	cases := []struct {
		name   string
		file   string
		mutate func(string) string
		code   int
		want   []string // in stdout+stderr
		check  func(t *testing.T, repo string)
	}{
		{name: "anchor and alias", file: app,
			mutate: func(s string) string {
				return s + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n  namespace: auth\ndata:\n  primary: &h authentik-postgresql-rw\n  again: *h\n"
			},
			want: []string{"authentik.yaml:42  authentik-postgresql-rw → authentik-postgresql-restored-rw"},
			check: func(t *testing.T, repo string) {
				b := read(t, repo, app)
				if !strings.Contains(b, "primary: &h authentik-postgresql-restored-rw\n  again: *h\n") {
					t.Errorf("the anchored value was not rewritten in place:\n%s", b)
				}
			}},
		{name: "merge key in the cluster", file: cl,
			mutate: func(s string) string {
				return strings.Replace(s, "spec:\n", "spec:\n  <<: {enableSuperuserAccess: false}\n", 1)
			},
			check: func(t *testing.T, repo string) {
				b := read(t, repo, "k8s/infrastructure/auth/authentik-postgresql/authentik-postgresql-restored/cluster.yaml")
				if strings.Contains(b, "<<") || !strings.Contains(b, "enableSuperuserAccess: false") {
					t.Errorf("the merge key was not expanded in the restored cluster:\n%s", b)
				}
			}},
		{name: "duplicate key in the application", file: app,
			mutate: func(s string) string {
				return strings.Replace(s, "  name: authentik\n", "  name: authentik\n  name: other\n", 1)
			},
			want: []string{`authentik.yaml was not read (not valid YAML: line 6: mapping key "name" already defined at line 5)`, "refers to authentik-postgresql on line(s) 20, 31 but was not read"},
			check: func(t *testing.T, repo string) {
				if strings.Contains(read(t, repo, app), "restored") {
					t.Errorf("a file with a duplicate key was rewritten")
				}
			}},
		{name: "duplicate key in the cluster", file: cl, code: exitError,
			mutate: func(s string) string { return strings.Replace(s, "spec:\n", "spec:\n  instances: 1\n", 1) },
			want:   []string{"no CloudNativePG Cluster", `cluster.yaml: not valid YAML: line 10: mapping key "instances" already defined at line 9`}},
		{name: "byte order mark", file: app,
			mutate: func(s string) string { return "\ufeff" + s },
			want:   []string{"authentik.yaml:19  authentik-postgresql-rw → authentik-postgresql-restored-rw"},
			check: func(t *testing.T, repo string) {
				if b := read(t, repo, app); !strings.HasPrefix(b, "\ufeff# Authentik") {
					t.Errorf("the BOM was lost: %q", b[:20])
				}
			}},
		{name: "CRLF line endings", file: app,
			mutate: func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") },
			want:   []string{"authentik.yaml:30  authentik-postgresql-app → authentik-postgresql-restored-app"},
			check: func(t *testing.T, repo string) {
				if b := read(t, repo, app); strings.Count(b, "\n") != strings.Count(b, "\r\n") {
					t.Errorf("line endings were mixed")
				}
			}},
		{name: "tab indentation", file: app,
			mutate: func(s string) string { return strings.Replace(s, "  project: default", "\tproject: default", 1) },
			want:   []string{"authentik.yaml was not read (not valid YAML", "found character that cannot start any token", "change it by hand"}},
		{name: "SOPS-encrypted values", file: app,
			mutate: func(s string) string { return s + "sops:\n  mac: ENC[AES256_GCM,data:x]\n" },
			want:   []string{"SOPS-encrypted: never read or rewritten", "update it by hand"},
			check: func(t *testing.T, repo string) {
				if strings.Contains(read(t, repo, app), "restored") {
					t.Errorf("a SOPS file was rewritten")
				}
			}},
		{name: "remote resource in the kustomization", file: kz,
			mutate: func(s string) string { return s + "  - https://github.com/acme/base//cnpg?ref=v1\n" },
			want:   []string{"includes the restored cluster's overlay"},
			check: func(t *testing.T, repo string) {
				if b := read(t, repo, kz); !strings.Contains(b, "  - https://github.com/acme/base//cnpg?ref=v1\n") {
					t.Errorf("the remote resource was lost:\n%s", b)
				}
			}},
		{name: "multi-document file with a list and a scalar document", file: app,
			mutate: func(s string) string { return "--- just a string\n---\n- a\n- list\n---\n" + s + "...\n" },
			want:   []string{"authentik.yaml:24  authentik-postgresql-rw → authentik-postgresql-restored-rw"}},
		{name: "cluster defined twice", file: "k8s/infrastructure/auth/authentik-postgresql/cluster.yaml", code: exitError,
			mutate: func(old string) string {
				return old + "---\napiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: authentik-postgresql\n  namespace: auth\nspec:\n  instances: 1\n"
			},
			want: []string{"cluster auth/authentik-postgresql is defined 2 times", "remove the duplicate"}},
		// A copy that nothing applies (not in any kustomization Argo CD builds) is no duplicate.
		{name: "a copy nothing deploys", file: "k8s/infrastructure/auth/copy.yaml", code: exitOK,
			mutate: func(string) string {
				return "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: authentik-postgresql\n  namespace: auth\nspec:\n  instances: 1\n"
			},
			want: []string{"new: Cluster authentik-postgresql-restored"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo := fixtureRepo(t, "argocd-helm")
			p := filepath.Join(repo, tc.file)
			old, _ := os.ReadFile(p)
			if err := os.WriteFile(p, []byte(tc.mutate(string(old))), 0o644); err != nil {
				t.Fatal(err)
			}
			gitIn(t, repo, "add", ".")
			gitIn(t, repo, "commit", "-qm", "odd")
			out, errOut, code := execute(t, "generate", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--catalog", root,
				"--server-name", sample.ServerName, "--system-id", sys, "--quiet")
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
			if code != exitOK {
				if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 {
					t.Errorf("want one error line:\n%s", errOut)
				}
				if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
					t.Errorf("a failed run changed the repo:\n%s", st)
				}
				return
			}
			// Every file the run wrote still parses.
			for _, f := range strings.Fields(gitIn(t, repo, "ls-files", "--modified", "--others", "--exclude-standard")) {
				dec := yaml.NewDecoder(strings.NewReader(read(t, repo, f)))
				for {
					var v any
					err := dec.Decode(&v)
					if err != nil {
						if err.Error() != "EOF" {
							t.Errorf("%s no longer parses: %v", f, err)
						}
						break
					}
				}
			}
			if tc.check != nil {
				tc.check(t, repo)
			}
		})
	}
	t.Logf("RELIABILITY: %d odd or hostile GitOps repos", len(cases))
}

func read(t *testing.T, repo, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHostileCheckouts: what the checkout itself holds cannot make the tool write over a file,
// into .git, or read its conventions from outside the repository; a git worktree is a
// checkout like any other.
func TestHostileCheckouts(t *testing.T) {
	root, _ := sampleCatalog(t)
	sys := sampleSystemA(t, root)
	const overlay = "k8s/infrastructure/auth/authentik-postgresql/authentik-postgresql-restored"
	gen := func(repo string, extra ...string) (string, string, int) {
		return execute(t, append([]string{"generate", "--repo", repo, "--cluster", "auth/authentik-postgresql", "--catalog", root,
			"--server-name", sample.ServerName, "--system-id", sys}, extra...)...)
	}
	t.Run("overlay directory holding files the scan does not read", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		if err := os.MkdirAll(filepath.Join(repo, overlay), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, overlay, "NOTES.md"), []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		gitIn(t, repo, "add", ".")
		gitIn(t, repo, "commit", "-qm", "notes")
		_, errOut, code := gen(repo)
		if code != exitError || !strings.Contains(errOut, overlay+" already exists in the repository") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("--overlay-dir inside .git", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		_, errOut, code := gen(repo, "--overlay-dir", ".git/hooks")
		if code == exitOK || !strings.Contains(errOut, "inside .git") {
			t.Errorf("exit %d: %s", code, errOut)
		}
		if _, err := os.Stat(filepath.Join(repo, ".git", "hooks", "cluster.yaml")); err == nil {
			t.Errorf("something was written into .git")
		}
	})
	t.Run("config file that is a symlink out of the repo", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		outside := filepath.Join(t.TempDir(), "conventions.yaml")
		if err := os.WriteFile(outside, []byte("newName: from-outside\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(repo, ".cnpg-restore-gen.yaml")); err != nil {
			t.Fatal(err)
		}
		gitIn(t, repo, "add", ".")
		gitIn(t, repo, "commit", "-qm", "symlinked conventions")
		out, errOut, code := gen(repo, "--dry-run")
		if code == exitOK || !strings.Contains(errOut, "is not a regular file") || strings.Contains(out, "from-outside") {
			t.Errorf("exit %d: %s%s", code, out, errOut)
		}
	})
	t.Run("symlinked values file", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		app := filepath.Join(repo, "k8s/infrastructure/auth/authentik.yaml")
		if err := os.Rename(app, filepath.Join(repo, "authentik-real.yaml")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../../authentik-real.yaml", app); err != nil {
			t.Fatal(err)
		}
		gitIn(t, repo, "add", "-A")
		gitIn(t, repo, "commit", "-qm", "symlinked values")
		out, errOut, _ := gen(repo, "--dry-run")
		if !strings.Contains(out+errOut, "k8s/infrastructure/auth/authentik.yaml was not read (a symlink to ../../../authentik-real.yaml: not followed") {
			t.Errorf("the symlink is not reported:\n%s%s", out, errOut)
		}
		if !strings.Contains(out+errOut, "k8s/infrastructure/auth/authentik.yaml  refers to authentik-postgresql on line(s) 19, 30 but was not read (a symlink") {
			t.Errorf("its references are not listed:\n%s%s", out, errOut)
		}
	})
	t.Run("two runs at once", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		state, err := gitops.StateDir(repo)
		if err != nil {
			t.Fatal(err)
		}
		unlock, err := fileset.Lock(state) // the first run, still writing
		if err != nil {
			t.Fatal(err)
		}
		_, errOut, code := gen(repo)
		unlock()
		if code != exitError || !strings.Contains(errOut, "another cnpg-restore-gen run (pid") {
			t.Errorf("second run: exit %d: %s", code, errOut)
		}
		if st := gitIn(t, repo, "status", "--porcelain"); st != "" {
			t.Errorf("the refused run changed the tree:\n%s", st)
		}
	})
	t.Run("git worktree", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		wt, wt2 := filepath.Join(t.TempDir(), "wt"), filepath.Join(t.TempDir(), "wt2")
		gitIn(t, repo, "worktree", "add", "-q", "-b", "side", wt)
		gitIn(t, repo, "worktree", "add", "-q", "-b", "other", wt2)
		// A clean worktree is clean (go-git read it as all dirty before), and generate writes.
		out, errOut, code := gen(wt)
		if code != exitOK {
			t.Fatalf("generate in a worktree: exit %d\n%s%s", code, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(wt, overlay, "cluster.yaml")); err != nil {
			t.Errorf("nothing written in the worktree: %v", err)
		}
		out, errOut, code = execute(t, "pr", "--repo", wt2, "--cluster", "auth/authentik-postgresql", "--catalog", root, "--server-name", sample.ServerName,
			"--system-id", sys, "--no-push", "--target-time", "2026-11-24 17:52:45+00")
		if code != exitOK || !strings.Contains(out, "committed in "+wt2) || !strings.Contains(out, "from other") {
			t.Errorf("pr --no-push in a worktree: exit %d\n%s%s", code, out, errOut)
		}
		if st := gitIn(t, wt2, "status", "--porcelain"); st != "" {
			t.Errorf("pr changed the worktree:\n%s", st)
		}
	})
}
