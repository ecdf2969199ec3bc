package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/golden"
)

// TestDocsAreCurrent: docs/cli/ is the reference generated from the commands themselves
// (Markdown) and docs/man/ the man pages; `go test ./cmd/... -update` rewrites them.
func TestDocsAreCurrent(t *testing.T) {
	root := newRootCmd(&streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, Getenv: func(string) string { return "" }})
	root.DisableAutoGenTag = true // no date: the files must not change from run to run
	root.Version = ""             // the version is the build's, not the docs'
	dir := t.TempDir()
	for _, sub := range []string{"cli", "man"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := doc.GenMarkdownTree(root, filepath.Join(dir, "cli")); err != nil {
		t.Fatal(err)
	}
	header := &doc.GenManHeader{Title: "CNPG-RESTORE-GEN", Section: "1", Source: "cnpg-restore-gen", Manual: "cnpg-restore-gen"}
	if err := doc.GenManTree(root, header, filepath.Join(dir, "man")); err != nil {
		t.Fatal(err)
	}
	repoDocs := filepath.Join(golden.Dir(), "..", "..", "docs")
	for _, sub := range []string{"cli", "man"} {
		want, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		have, _ := filepath.Glob(filepath.Join(repoDocs, sub, "*"))
		if *golden.Update {
			_ = os.RemoveAll(filepath.Join(repoDocs, sub))
			if err := os.CopyFS(filepath.Join(repoDocs, sub), os.DirFS(filepath.Join(dir, sub))); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if len(want) != len(have) {
			t.Errorf("docs/%s has %d files, the commands make %d: run go test ./cmd/... -update", sub, len(have), len(want))
			continue
		}
		for _, w := range want {
			got, _ := os.ReadFile(filepath.Join(repoDocs, sub, filepath.Base(w)))
			exp, _ := os.ReadFile(w)
			if !bytes.Equal(got, exp) {
				t.Errorf("docs/%s/%s is out of date: run go test ./cmd/... -update", sub, filepath.Base(w))
			}
		}
	}
}

// TestEveryCommandTeaches: each command has a short and a long description and examples.
func TestEveryCommandTeaches(t *testing.T) {
	root := newRootCmd(&streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, Getenv: func(string) string { return "" }})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			walk(s)
		}
		if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.CommandPath(), "cnpg-restore-gen completion") {
			return
		}
		if c.Short == "" || c.Long == "" {
			t.Errorf("%s lacks a short or long description", c.CommandPath())
		}
		if c.Runnable() && c.Example == "" {
			t.Errorf("%s has no example", c.CommandPath())
		}
	}
	walk(root)
}
