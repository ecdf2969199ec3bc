// Package objstore opens the storage a barman catalog lives in: an S3 bucket or a local
// directory, as a catalog.Store.
package objstore

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// Opened is a store and how to name its root in messages.
type Opened struct {
	Store    catalog.Store
	Location string
}

// Open opens a catalog location: s3://bucket/prefix, file:///path, or a plain path.
func Open(ctx context.Context, location string, opts S3Options) (Opened, error) {
	switch {
	case location == "":
		return Opened{}, fmt.Errorf("no catalog location: pass --catalog s3://bucket/prefix or a directory")
	case strings.HasPrefix(location, "s3://"):
		u, err := url.Parse(location)
		if err != nil || u.Host == "" {
			return Opened{}, fmt.Errorf("catalog %q is not s3://bucket/prefix", location)
		}
		st, err := NewS3(ctx, u.Host, strings.Trim(u.Path, "/"), opts)
		if err != nil {
			return Opened{}, err
		}
		return Opened{Store: st, Location: st.Location()}, nil
	case strings.HasPrefix(location, "file://"):
		u, err := url.Parse(location)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return Opened{}, fmt.Errorf("catalog %q is not file:///absolute/path", location)
		}
		return openDir(u.Path)
	case strings.Contains(location, "://"):
		scheme, _, _ := strings.Cut(location, "://")
		return Opened{}, fmt.Errorf("catalog %q: %s:// is not supported; use s3:// (any S3-compatible store) or a local directory", location, scheme)
	}
	return openDir(location)
}

func openDir(p string) (Opened, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return Opened{}, err
	}
	d, err := NewDir(abs)
	if err != nil {
		return Opened{}, err
	}
	return Opened{Store: d, Location: "file://" + filepath.ToSlash(abs)}, nil
}
