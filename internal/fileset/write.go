package fileset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Writer applies a set of changes all or nothing: every file is first written to a
// temporary file beside its target, and only when all of them are written are they renamed
// into place; a failure at any step puts back what was there before.
type Writer struct {
	Root string
	// State is a directory outside the work tree, on its file system (the checkout's git
	// directory): temporary files go there, never into the tree, and a journal written before
	// the first rename makes the change survive kill -9: Recover completes it. Empty means
	// temporary files beside their targets and no journal (a private clone, --out).
	State string
	// fail, in tests, injects a failure at a named step ("stage <path>", "commit <path>",
	// "delete <path>").
	fail func(step string) error
}

type undo struct {
	path    string // absolute
	existed bool
	old     []byte
	mode    fs.FileMode
}

// Write applies the changes.
func (w Writer) Write(changes []File) (err error) {
	root, err := filepath.Abs(w.Root)
	if err != nil {
		return err
	}
	sorted := append([]File(nil), changes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var (
		createdDirs []string
		temps       = map[string]string{} // target → temporary file
		done        []undo
	)
	defer func() {
		if err == nil {
			return
		}
		for _, tmp := range temps {
			_ = os.Remove(tmp)
		}
		for i := len(done) - 1; i >= 0; i-- {
			u := done[i]
			if u.existed {
				_ = os.WriteFile(u.path, u.old, u.mode)
			} else {
				_ = os.Remove(u.path)
			}
		}
		for i := len(createdDirs) - 1; i >= 0; i-- {
			_ = os.Remove(createdDirs[i])
		}
	}()
	step := func(name string) error {
		if w.fail != nil {
			return w.fail(name)
		}
		return nil
	}

	// Stage.
	for _, c := range sorted {
		rel, err := RelPath(c.Path)
		if err != nil {
			return err
		}
		target := filepath.Join(root, filepath.FromSlash(rel))
		if err := insideRoot(root, filepath.Dir(target)); err != nil {
			return err
		}
		if c.Delete {
			continue
		}
		tmpDir := filepath.Dir(target)
		if w.State != "" {
			tmpDir = filepath.Join(w.State, stagingDir)
			if err := os.MkdirAll(tmpDir, 0o755); err != nil {
				return err
			}
		} else {
			dirs, err := mkdirs(root, filepath.Dir(target))
			createdDirs = append(createdDirs, dirs...)
			if err != nil {
				return fmt.Errorf("while creating %s: %w", filepath.Dir(target), err)
			}
		}
		if err := step("stage " + c.Path); err != nil {
			return err
		}
		f, err := os.CreateTemp(tmpDir, ".cnpg-restore-gen-*.tmp")
		if err != nil {
			return fmt.Errorf("while writing %s: %w", c.Path, err)
		}
		temps[target] = f.Name()
		_, werr := f.Write(c.Content)
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			return fmt.Errorf("while writing %s: %w", c.Path, err)
		}
	}
	// The commit point: from here a kill leaves a journal that Recover completes.
	if w.State != "" {
		if err := writeJournal(w.State, root, sorted, temps); err != nil {
			return err
		}
		defer func() {
			if err == nil {
				err = removeJournal(w.State)
			} else {
				_ = removeJournal(w.State) // the undo above put everything back
			}
		}()
	}
	// Commit.
	for _, c := range sorted {
		target := filepath.Join(root, filepath.FromSlash(filepathClean(c.Path)))
		u := undo{path: target, mode: 0o644}
		if st, err := os.Lstat(target); err == nil {
			if !st.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file: not overwriting it", c.Path)
			}
			if u.old, err = os.ReadFile(target); err != nil {
				return err
			}
			u.existed, u.mode = true, st.Mode().Perm()
		}
		if err := step(map[bool]string{true: "delete ", false: "commit "}[c.Delete] + c.Path); err != nil {
			return err
		}
		if c.Delete {
			if !u.existed {
				return fmt.Errorf("%s: nothing to delete", c.Path)
			}
			if err := os.Remove(target); err != nil {
				return fmt.Errorf("while deleting %s: %w", c.Path, err)
			}
			done = append(done, u)
			continue
		}
		if w.State != "" {
			dirs, err := mkdirs(root, filepath.Dir(target))
			createdDirs = append(createdDirs, dirs...)
			if err != nil {
				return fmt.Errorf("while creating %s: %w", filepath.Dir(target), err)
			}
		}
		if err := os.Chmod(temps[target], u.mode); err != nil {
			return err
		}
		if err := os.Rename(temps[target], target); err != nil {
			return fmt.Errorf("while writing %s: %w", c.Path, err)
		}
		delete(temps, target)
		done = append(done, u)
	}
	return nil
}

func filepathClean(p string) string {
	clean, _ := RelPath(p)
	return clean
}

// insideRoot refuses a directory that resolves (through symlinks) outside the root.
func insideRoot(root, dir string) error {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	d := dir
	for {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			if r != real && !strings.HasPrefix(r, real+string(filepath.Separator)) {
				return fmt.Errorf("%s leads outside %s (a symlink?): not writing there", dir, root)
			}
			return nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return nil
		}
		d = parent
	}
}

// mkdirs creates dir and its missing parents under root, returning those it created.
func mkdirs(root, dir string) ([]string, error) {
	var missing []string
	for d := dir; d != root && len(d) > len(root); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !os.IsExist(err) {
			return created, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}
