package fileset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	stagingDir  = "staging"
	journalFile = "journal.json"
)

// journal is what a change does once committed: each target gets its staged file, or is
// deleted. Written (and synced) before the first rename, removed after the last.
type journal struct {
	Root    string         `json:"root"`
	Entries []journalEntry `json:"entries"`
}

type journalEntry struct {
	Target string `json:"target"`         // absolute
	Temp   string `json:"temp,omitempty"` // absolute; empty for a delete
	Delete bool   `json:"delete,omitempty"`
}

func writeJournal(state, root string, changes []File, temps map[string]string) error {
	j := journal{Root: root}
	for _, c := range changes {
		target := filepath.Join(root, filepath.FromSlash(filepathClean(c.Path)))
		j.Entries = append(j.Entries, journalEntry{Target: target, Temp: temps[target], Delete: c.Delete})
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	tmp := filepath.Join(state, journalFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("while writing the journal in %s: %w", state, err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("while writing the journal in %s: %w", state, err)
	}
	if err := os.Rename(tmp, filepath.Join(state, journalFile)); err != nil {
		return err
	}
	return syncDir(state)
}

func removeJournal(state string) error {
	if err := os.Remove(filepath.Join(state, journalFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(state)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }() // read-only
	_ = d.Sync()                     // not every file system syncs directories
	return nil
}

// Recover finishes what a killed run left in state: a change whose journal was written is
// completed (its remaining files renamed into place, its deletes done); the staged files of a
// run killed before that point are removed, leaving the tree as it was. It says what it did,
// or "" when there was nothing to do.
func Recover(state string) (string, error) {
	if state == "" {
		return "", nil
	}
	did := ""
	b, err := os.ReadFile(filepath.Join(state, journalFile))
	switch {
	case err == nil:
		var j journal
		if err := json.Unmarshal(b, &j); err != nil {
			return "", fmt.Errorf("the journal %s of an interrupted run is unreadable (%w): check the checkout with git status, then delete it", filepath.Join(state, journalFile), err)
		}
		for _, e := range j.Entries {
			if e.Delete {
				if err := os.Remove(e.Target); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return "", err
				}
				continue
			}
			if _, err := os.Stat(e.Temp); err != nil {
				continue // already in place
			}
			if _, err := mkdirs(j.Root, filepath.Dir(e.Target)); err != nil {
				return "", err
			}
			if err := os.Rename(e.Temp, e.Target); err != nil {
				return "", fmt.Errorf("while completing an interrupted change: %w", err)
			}
		}
		if err := removeJournal(state); err != nil {
			return "", err
		}
		did = fmt.Sprintf("completed the change an interrupted run had begun writing into %s (%d files)", j.Root, len(j.Entries))
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	_ = os.Remove(filepath.Join(state, journalFile+".tmp"))
	leftovers, _ := filepath.Glob(filepath.Join(state, stagingDir, ".cnpg-restore-gen-*.tmp"))
	for _, l := range leftovers {
		if err := os.Remove(l); err != nil {
			return "", err
		}
	}
	if did == "" && len(leftovers) > 0 {
		did = fmt.Sprintf("removed %d temporary files an interrupted run left (the checkout was not changed)", len(leftovers))
	}
	return did, nil
}
