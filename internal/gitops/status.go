// Package gitops talks to Git: the state of a checkout, and the private clone in which the
// restore's branch is committed and pushed with a lease. It is the only package (with the
// CLI) that imports go-git.
package gitops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
)

// ErrNotARepository is returned by Dirty for a directory outside any Git checkout.
var ErrNotARepository = errors.New("not a git repository")

// Dirty lists the paths with uncommitted changes (modified, staged or untracked, ignored
// files excepted) in the checkout that holds dir.
func Dirty(dir string) ([]string, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, ErrNotARepository
	}
	if err != nil {
		return nil, fmt.Errorf("while opening the git repository at %s: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("while opening the work tree of %s: %w", dir, err)
	}
	st, err := wt.Status()
	if err != nil {
		return nil, fmt.Errorf("while reading git status in %s: %w", dir, err)
	}
	var out []string
	for p, s := range st {
		if s.Staging != git.Unmodified || s.Worktree != git.Unmodified {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// StateDir is the directory where the tool keeps a checkout's run state (its lock, the
// journal and the staged files of a change being written): cnpg-restore-gen under the git
// directory of the checkout that holds dir (a linked worktree's own), outside the work tree so
// that nothing there ever shows in git status. ErrNotARepository for a directory outside any
// checkout.
func StateDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		dotgit := filepath.Join(d, ".git")
		st, err := os.Lstat(dotgit)
		switch {
		case err == nil && st.IsDir():
			return filepath.Join(dotgit, "cnpg-restore-gen"), nil
		case err == nil && st.Mode().IsRegular():
			// A linked worktree: ".git" is a file saying "gitdir: <path>".
			b, err := os.ReadFile(dotgit)
			if err != nil {
				return "", err
			}
			gd, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
			if !ok {
				return "", fmt.Errorf("%s is not a gitdir file", dotgit)
			}
			if !filepath.IsAbs(gd) {
				gd = filepath.Join(d, gd)
			}
			return filepath.Join(gd, "cnpg-restore-gen"), nil
		}
		if filepath.Dir(d) == d {
			return "", ErrNotARepository
		}
	}
}
