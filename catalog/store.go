package catalog

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Store is what the catalog needs from object storage. Keys are relative to the catalog root
// (barman's destinationPath) and use "/" as separator. The S3 and local-directory backends
// implement it; tests may implement it over a map.
type Store interface {
	// List calls fn with each page of the listing of prefix, in key order. With delimited, keys
	// below the next "/" are rolled up into Page.Prefixes, as S3's ListObjectsV2 does with a
	// delimiter. An error from a later page must be returned, never hidden: a shorter listing
	// would look like missing WAL.
	List(ctx context.Context, prefix string, delimited bool, fn func(Page) error) error
	// Get returns the first n bytes of the object (all of it when it is shorter). A missing key
	// returns an error that wraps ErrNotFound.
	Get(ctx context.Context, key string, n int64) ([]byte, error)
}

// Page is one page of a listing.
type Page struct {
	Objects  []Object
	Prefixes []string // with a delimited listing: "prefix/child/" entries
}

// Object is one listed object.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
}

// ErrNotFound is wrapped by Store.Get when the key does not exist.
var ErrNotFound = errors.New("object not found")

// ServerNames lists the server names (directories) under the catalog root.
func ServerNames(ctx context.Context, store Store) ([]string, error) {
	var names []string
	err := store.List(ctx, "", true, func(p Page) error {
		for _, pr := range p.Prefixes {
			names = append(names, strings.TrimSuffix(pr, "/"))
		}
		return nil
	})
	return names, err
}
