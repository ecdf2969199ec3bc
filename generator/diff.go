package generator

import (
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// Diff is the change as a git-style unified diff, file by file in path order.
func Diff(files []File) string {
	var b strings.Builder
	for _, f := range files {
		from, to := "a/"+f.Path, "b/"+f.Path
		switch {
		case f.Delete:
			to = "/dev/null"
		case f.Old == nil:
			from = "/dev/null"
		}
		d := udiff.Unified(from, to, string(f.Old), string(f.Content))
		if d == "" {
			continue
		}
		b.WriteString("diff --git a/" + f.Path + " b/" + f.Path + "\n")
		b.WriteString(d)
	}
	return b.String()
}
