package fileset

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// snapshot is every file under dir with its content, and every directory.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func seed(t *testing.T) string {
	dir := t.TempDir()
	for p, c := range map[string]string{"a/kustomization.yaml": "resources: [x.yaml]\n", "a/x.yaml": "kind: X\n", "b/old.yaml": "kind: Old\n"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var changes = []File{
	{Path: "a/kustomization.yaml", Content: []byte("resources: [x.yaml, new]\n")},
	{Path: "a/new/deep/cluster.yaml", Content: []byte("kind: Cluster\n")},
	{Path: "a/new/kustomization.yaml", Content: []byte("resources: [deep/cluster.yaml]\n")},
	{Path: "b/old.yaml", Delete: true},
}

func TestWriterAppliesEverything(t *testing.T) {
	dir := seed(t)
	if err := (Writer{Root: dir}).Write(changes); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dir)
	if got["a/kustomization.yaml"] != "resources: [x.yaml, new]\n" || got["a/new/deep/cluster.yaml"] != "kind: Cluster\n" {
		t.Errorf("files = %v", got)
	}
	if _, ok := got["b/old.yaml"]; ok {
		t.Errorf("b/old.yaml not deleted")
	}
	for p := range got {
		if strings.Contains(p, ".cnpg-restore-gen-") {
			t.Errorf("temporary file left: %s", p)
		}
	}
}

// A failure at any step leaves the tree exactly as it was.
func TestWriterFailureAtEveryStepChangesNothing(t *testing.T) {
	var steps []string
	for _, c := range changes {
		if c.Delete {
			steps = append(steps, "delete "+c.Path)
			continue
		}
		steps = append(steps, "stage "+c.Path, "commit "+c.Path)
	}
	sort.Strings(steps)
	for _, at := range steps {
		t.Run(at, func(t *testing.T) {
			dir := seed(t)
			before := snapshot(t, dir)
			boom := errors.New("injected")
			err := (Writer{Root: dir, fail: func(step string) error {
				if step == at {
					return boom
				}
				return nil
			}}).Write(changes)
			if !errors.Is(err, boom) {
				t.Fatalf("Write = %v, want the injected failure", err)
			}
			after := snapshot(t, dir)
			if len(after) != len(before) {
				t.Errorf("tree changed:\nbefore %v\nafter  %v", before, after)
			}
			for p, c := range before {
				if after[p] != c {
					t.Errorf("%s = %q, want %q", p, after[p], c)
				}
			}
		})
	}
}

func TestWriterRefusesEscapes(t *testing.T) {
	dir := seed(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../x.yaml", "/etc/x.yaml", "link/x.yaml"} {
		if err := (Writer{Root: dir}).Write([]File{{Path: p, Content: []byte("x")}}); err == nil {
			t.Errorf("Write(%s) = nil, want a refusal", p)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the root: %v", entries)
	}
}

func TestRelPathRefusesPathsOutsideTheRepository(t *testing.T) {
	for _, bad := range []string{"", "/abs", "../x", "a/../../x", `a\b`, ".git/config", "a/.GIT/x"} {
		if got, err := RelPath(bad); err == nil {
			t.Errorf("RelPath(%q) = %q, want an error", bad, got)
		}
	}
	if got, err := RelPath("a/./b/"); err != nil || got != "a/b" {
		t.Errorf("RelPath(%q) = %q, %v, want %q", "a/./b/", got, err, "a/b")
	}
}
