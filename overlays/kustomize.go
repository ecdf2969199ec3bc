package overlays

import (
	"path"
	"sort"
	"strings"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
)

// Kustomization is a kustomization.yaml of the repo and what it includes.
type Kustomization struct {
	File *yamledit.File
	Dir  string // its directory, relative to the repo root ("." for the root)
	// Resources maps each local entry of resources (and the legacy bases) to the repo-relative
	// path it names; Remote lists the entries that are URLs, which the tool never follows.
	Resources map[string]string
	Remote    []string
	// Component is set for a kustomize Component (kind: Component): a piece other
	// kustomizations include, not a deployable unit of its own.
	Component bool
}

// Kustomizations lists the repo's kustomization files in path order.
func (r *Repo) Kustomizations() []*Kustomization {
	var out []*Kustomization
	for _, f := range r.Files {
		if !IsKustomization(f.Path) || len(f.Docs) == 0 || f.Docs[0].Root() == nil {
			continue
		}
		_, kind := yamledit.Lookup(f.Docs[0].Root(), "kind")
		k := &Kustomization{File: f, Dir: path.Dir(f.Path), Resources: map[string]string{}, Component: kind != nil && kind.Value == "Component"}
		for _, key := range []string{"resources", "bases", "components"} {
			_, list := yamledit.Lookup(f.Docs[0].Root(), key)
			if list == nil {
				continue
			}
			for _, item := range list.Content {
				if item.Value == "" {
					continue
				}
				if isRemote(item.Value) {
					k.Remote = append(k.Remote, item.Value)
					continue
				}
				k.Resources[item.Value] = path.Clean(path.Join(k.Dir, item.Value))
			}
		}
		out = append(out, k)
	}
	return out
}

// isRemote tells a remote resource (git repository or URL) from a local path.
func isRemote(entry string) bool {
	return strings.Contains(entry, "://") || strings.HasPrefix(entry, "github.com/") || strings.HasPrefix(entry, "git@") || strings.Contains(entry, "?ref=")
}

// IncludedBy returns the kustomization that lists target (a file or directory, repo-relative)
// in its resources, and the entry as written; nil when none does.
func (r *Repo) IncludedBy(target string) (*Kustomization, string) {
	for _, k := range r.Kustomizations() {
		entries := make([]string, 0, len(k.Resources))
		for e := range k.Resources {
			entries = append(entries, e)
		}
		sort.Strings(entries)
		for _, e := range entries {
			if k.Resources[e] == target {
				return k, e
			}
		}
	}
	return nil, ""
}

// Relative is the path of target as seen from dir (both repo-relative), for a resources entry.
func Relative(dir, target string) string {
	d := strings.Split(path.Clean(dir), "/")
	t := strings.Split(path.Clean(target), "/")
	if path.Clean(dir) == "." {
		d = nil
	}
	i := 0
	for i < len(d) && i < len(t) && d[i] == t[i] {
		i++
	}
	var parts []string
	for range d[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}

// Owner returns the object among candidates whose directory (dirOf) is the nearest ancestor
// of file, for Flux Kustomizations and Argo CD Applications that apply a path.
func Owner[T any](file string, candidates []T, dirOf func(T) []string) (T, bool) {
	var best T
	bestLen, found := -1, false
	for _, c := range candidates {
		for _, dir := range dirOf(c) {
			dir = path.Clean(strings.TrimPrefix(dir, "./"))
			if dir == "." || dir == "/" || dir == "" {
				dir = "."
			}
			l := len(dir)
			if dir == "." {
				l = 0
			}
			if (dir == "." || file == dir || strings.HasPrefix(file, dir+"/")) && l > bestLen {
				best, bestLen, found = c, l, true
			}
		}
	}
	return best, found
}
