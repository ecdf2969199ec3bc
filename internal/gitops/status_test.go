package gitops

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

func runGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestDirty(t *testing.T) {
	dir := t.TempDir()
	if _, err := Dirty(dir); !errors.Is(err, ErrNotARepository) {
		t.Fatalf("Dirty(not a repo) = %v", err)
	}
	runGit(t, dir, "init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("ignored/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runGit(t, dir, "add", ".")
	runGit(t, dir, "commit", "-qm", "init")
	if got, err := Dirty(dir); err != nil || len(got) != 0 {
		t.Fatalf("Dirty(clean) = %v, %v", got, err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "ignored"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "ignored", "x"), []byte("x"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a: 2\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "new.yaml"), []byte("b: 1\n"), 0o644)
	got, err := Dirty(filepath.Join(dir))
	if err != nil || !reflect.DeepEqual(got, []string{"a.yaml", "new.yaml"}) {
		t.Errorf("Dirty = %v, %v; want [a.yaml new.yaml]", got, err)
	}
}
