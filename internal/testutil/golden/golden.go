// Package golden compares test output with files under testdata/golden/ at the repository
// root. `go test ./... -update` rewrites them; read every diff before committing it.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Update is the -update flag. Every test package that has golden files imports this package,
// and those that do not import it for the flag alone, so `go test ./... -update` works.
var Update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// Dir is the repository's testdata/golden directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "golden")
}

// Path is the golden file for the running test: testdata/golden/<package>/<TestName><ext>.
func Path(t testing.TB, pkg, ext string) string {
	return filepath.Join(Dir(), pkg, strings.ReplaceAll(t.Name(), "/", "__")+ext)
}

// Assert compares got with the golden file for the running test, or rewrites it with -update.
func Assert(t testing.TB, pkg, ext string, got []byte) {
	t.Helper()
	p := Path(t, pkg, ext)
	if *Update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("golden file %s: %v (run go test -update to create it)", p, err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", p, d)
	}
}
