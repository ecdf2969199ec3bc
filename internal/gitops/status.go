// Package gitops talks to Git: the state of a checkout now; branches, commits, pushes and
// forges later. It is the only package (with the CLI) that imports go-git.
package gitops

import (
	"errors"
	"fmt"
	"sort"

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
