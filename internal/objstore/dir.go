package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// pageSize mirrors S3's 1000 keys a page, so both backends stream alike.
const pageSize = 1000

// Dir is a catalog stored in a local directory: a bucket synced to disk, a NAS share, or the
// directory an S3 server keeps its objects in.
type Dir struct {
	root string
}

// NewDir returns a store rooted at dir, which must exist.
func NewDir(dir string) (*Dir, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("catalog directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("catalog %s is a file, not a directory", dir)
	}
	return &Dir{root: dir}, nil
}

// validKey rejects keys that could leave the root.
func validKey(key string) error {
	if key == "" {
		return nil
	}
	if strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return fmt.Errorf("key %q is not relative", key)
	}
	for _, part := range strings.Split(strings.TrimSuffix(key, "/"), "/") {
		if part == ".." || part == "." || part == "" {
			return fmt.Errorf("key %q has an empty, . or .. component", key)
		}
	}
	return nil
}

// List implements catalog.Store.
func (d *Dir) List(ctx context.Context, prefix string, delimited bool, fn func(catalog.Page) error) error {
	if err := validKey(prefix); err != nil {
		return err
	}
	// The directory to read is the prefix up to its last "/".
	dirKey := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dirKey = prefix[:i+1]
	}
	var page catalog.Page
	flush := func() error {
		if len(page.Objects)+len(page.Prefixes) == 0 {
			return nil
		}
		err := fn(page)
		page = catalog.Page{}
		return err
	}
	emitObj := func(key string, info fs.FileInfo) error {
		page.Objects = append(page.Objects, catalog.Object{Key: key, Size: info.Size(), LastModified: info.ModTime().UTC()})
		if len(page.Objects)+len(page.Prefixes) >= pageSize {
			return flush()
		}
		return nil
	}
	base := filepath.Join(d.root, filepath.FromSlash(dirKey))
	if !delimited {
		var keys []string
		infos := map[string]fs.FileInfo{}
		err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == base {
					return fs.SkipAll
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(d.root, p)
			key := filepath.ToSlash(rel)
			if !strings.HasPrefix(key, prefix) || !e.Type().IsRegular() {
				return nil
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			keys = append(keys, key)
			infos[key] = info
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading %s: %w", base, err)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := emitObj(k, infos[k]); err != nil {
				return err
			}
		}
		return flush()
	}
	entries, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", base, err)
	}
	// os.ReadDir sorts by file name; S3 sorts "x/" prefixes among keys by the same bytes.
	for _, e := range entries {
		key := dirKey + e.Name()
		if !strings.HasPrefix(key, prefix) && !strings.HasPrefix(key+"/", prefix) {
			continue
		}
		switch {
		case e.IsDir():
			page.Prefixes = append(page.Prefixes, key+"/")
			if len(page.Objects)+len(page.Prefixes) >= pageSize {
				if err := flush(); err != nil {
					return err
				}
			}
		case e.Type().IsRegular():
			info, err := e.Info()
			if err != nil {
				return fmt.Errorf("reading %s: %w", filepath.Join(base, e.Name()), err)
			}
			if err := emitObj(key, info); err != nil {
				return err
			}
		}
	}
	return flush()
}

// Get implements catalog.Store.
func (d *Dir) Get(ctx context.Context, key string, n int64) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d.root, filepath.FromSlash(path.Clean(key))))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	return io.ReadAll(io.LimitReader(f, n))
}
