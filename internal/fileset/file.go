// Package fileset is a change to a tree of files and its writer: every change the tool makes
// (the generator's files, the commit gitops makes, --out) is a []File, and Writer applies one
// all or nothing, journaled so that kill -9 leaves the tree as before or complete.
package fileset

import (
	"fmt"
	"path"
	"strings"
)

// File is one file a change writes or deletes; its JSON form is the change's summary line.
type File struct {
	Path    string `json:"path"` // relative to the tree's root, with "/"
	Content []byte `json:"-"`    // nil when Delete
	Delete  bool   `json:"-"`
	Old     []byte `json:"-"` // the file before the change; nil for a new file
	// Summary says in one line what the change does to the file ("new: Cluster x", "deleted").
	Summary string `json:"summary"`
}

// RelPath checks a user-given path relative to the repository root and returns it cleaned: it
// must stay inside the repository and out of .git.
func RelPath(rel string) (string, error) {
	if rel == "" || path.IsAbs(rel) || strings.Contains(rel, "\\") {
		return "", fmt.Errorf("path %q must be relative to the repository root", rel)
	}
	clean := path.Clean(rel)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q leaves the repository", rel)
	}
	for _, part := range strings.Split(clean, "/") {
		if strings.EqualFold(part, ".git") {
			return "", fmt.Errorf("path %q is inside .git, git's own directory: nothing the tool writes goes there", rel)
		}
	}
	return clean, nil
}
