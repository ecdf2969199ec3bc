// Package sample unpacks testdata/sample/catalog.tar.gz, the real barman-cloud catalog that
// hack/make-sample.sh makes, for tests and the demo.
package sample

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ServerName is the barman server name of the sample catalog.
const ServerName = "pg-main"

// Archive is the path of the sample tarball.
func Archive() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "sample", "catalog.tar.gz")
}

// Extract unpacks the sample into dir, keeping each file's archive time, and returns the
// catalog root (barman's destinationPath) inside dir.
func Extract(dir string) (string, error) {
	f, err := os.Open(Archive())
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // read-only
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", Archive(), err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", Archive(), err)
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || strings.HasPrefix(name, "..") {
			return "", fmt.Errorf("%s: entry %q leaves the directory", Archive(), h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return "", err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return "", err
			}
			out, err := os.Create(target)
			if err != nil {
				return "", err
			}
			if _, err := io.Copy(out, tr); err != nil {
				_ = out.Close() // the copy error is the one to report
				return "", err
			}
			if err := out.Close(); err != nil {
				return "", err
			}
			if err := os.Chtimes(target, h.ModTime, h.ModTime); err != nil {
				return "", err
			}
		}
	}
	return filepath.Join(dir, "pg"), nil
}
