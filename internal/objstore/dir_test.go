package objstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	_ "github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden" // defines -update
)

func tree(t *testing.T, files ...string) *Dir {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func list(t *testing.T, d *Dir, prefix string, delimited bool) (keys, prefixes []string, pages int) {
	t.Helper()
	err := d.List(context.Background(), prefix, delimited, func(p catalog.Page) error {
		pages++
		for _, o := range p.Objects {
			keys = append(keys, o.Key)
		}
		prefixes = append(prefixes, p.Prefixes...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, prefixes, pages
}

func TestDirListLikeS3(t *testing.T) {
	d := tree(t, "pg/base/20260205T020001/backup.info", "pg/base/20260205T020001/data.tar",
		"pg/wals/00000002.history", "pg/wals/0000000100000000/000000010000000000000001", "other/x")
	keys, prefixes, _ := list(t, d, "pg/wals/", true)
	if strings.Join(keys, ",") != "pg/wals/00000002.history" || strings.Join(prefixes, ",") != "pg/wals/0000000100000000/" {
		t.Errorf("delimited: keys %v prefixes %v", keys, prefixes)
	}
	keys, prefixes, _ = list(t, d, "pg/base/", false)
	if strings.Join(keys, ",") != "pg/base/20260205T020001/backup.info,pg/base/20260205T020001/data.tar" || len(prefixes) != 0 {
		t.Errorf("recursive: keys %v prefixes %v", keys, prefixes)
	}
	_, prefixes, _ = list(t, d, "", true)
	if strings.Join(prefixes, ",") != "other/,pg/" {
		t.Errorf("root: prefixes %v", prefixes)
	}
	if keys, prefixes, _ := list(t, d, "missing/", true); len(keys)+len(prefixes) != 0 {
		t.Errorf("missing prefix listed %v %v", keys, prefixes)
	}
}

func TestDirListPages(t *testing.T) {
	var files []string
	for i := 0; i < 2500; i++ {
		files = append(files, fmt.Sprintf("w/%08X", i))
	}
	d := tree(t, files...)
	keys, _, pages := list(t, d, "w/", false)
	if len(keys) != 2500 || pages != 3 {
		t.Errorf("listed %d keys in %d pages, want 2500 in 3", len(keys), pages)
	}
}

func TestDirGet(t *testing.T) {
	d := tree(t, "a/b")
	got, err := d.Get(context.Background(), "a/b", 4)
	if err != nil || string(got) != "cont" {
		t.Errorf("Get(a/b, 4) = %q, %v", got, err)
	}
	if _, err := d.Get(context.Background(), "a/c", 10); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"../etc/passwd", "/etc/passwd", "a/../../x", "a//b"} {
		if _, err := d.Get(context.Background(), bad, 10); err == nil || errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want a rejected key", bad, err)
		}
	}
}

func TestOpenLocations(t *testing.T) {
	dir := t.TempDir()
	for _, loc := range []string{dir, "file://" + dir} {
		o, err := Open(context.Background(), loc, S3Options{})
		if err != nil || o.Location != "file://"+dir {
			t.Errorf("Open(%q) = %+v, %v", loc, o, err)
		}
	}
	for loc, want := range map[string]string{
		"":                 "no catalog location",
		"gs://bucket/p":    "gs:// is not supported",
		"s3:///nobucket":   "not s3://bucket/prefix",
		"file://host/path": "not file:///absolute/path",
		dir + "/nope":      "no such file",
	} {
		if _, err := Open(context.Background(), loc, S3Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, want %q", loc, err, want)
		}
	}
}
