package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
)

// TestDocsAreCurrent: docs/cli/ is the reference generated from the commands themselves
// (Markdown) and docs/man/ the man pages; `go test ./cmd/... -update` rewrites them.
func TestDocsAreCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := writeDocs(newRootCmd(quietStreams()), dir); err != nil {
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

// TestDocsDoNotDependOnTheClock: the man pages carry no date, so the docs generated in another
// month (cobra reads SOURCE_DATE_EPOCH before the clock) are byte for byte the same.
func TestDocsDoNotDependOnTheClock(t *testing.T) {
	gen := func(epoch string) map[string]string {
		t.Setenv("SOURCE_DATE_EPOCH", epoch)
		dir := t.TempDir()
		if err := writeDocs(newRootCmd(quietStreams()), dir); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		for _, sub := range []string{"cli", "man"} {
			paths, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				files[sub+"/"+filepath.Base(p)] = string(b)
			}
		}
		return files
	}
	march, december := gen("1772323200"), gen("1796083200") // 2026-03-01, 2026-12-01
	if len(march) == 0 {
		t.Fatal("no docs generated")
	}
	if d := cmp.Diff(march, december); d != "" {
		t.Errorf("docs generated in March and in December differ (-march +december):\n%s", d)
	}
	for name, body := range december {
		if th := thLine.FindString(body); strings.HasPrefix(name, "man/") && th != `.TH "CNPG-RESTORE-GEN" "1" "" "cnpg-restore-gen" "cnpg-restore-gen"` {
			t.Errorf("%s: header %q, want one with an empty date", name, th)
		}
	}
}

// TestEveryCommandTeaches: each command has a short and a long description and examples.
func TestEveryCommandTeaches(t *testing.T) {
	root := newRootCmd(quietStreams())
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
		if c.Runnable() && !c.HasSubCommands() && c.Example == "" {
			t.Errorf("%s has no example", c.CommandPath())
		}
	}
	walk(root)
}

func quietStreams() *streams {
	return &streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
}

// TestHelpCitesOnlyTheRepository: no --help text, example or flag description names a file
// that is not in the repository (the design notes live outside it).
func TestHelpCitesOnlyTheRepository(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		text := c.Short + c.Long + c.Example
		c.Flags().VisitAll(func(f *pflag.Flag) { text += f.Usage })
		for _, outside := range []string{"DESIGN.md", "STYLE.md", "../shared"} {
			if strings.Contains(text, outside) {
				t.Errorf("%s --help cites %s, which is not in the repository", c.CommandPath(), outside)
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd(quietStreams()))
}

// TestDocsKeepPlaceholders: <placeholders> of the help survive in the man pages (md2man read
// them as HTML and dropped them: "restore//-") and are escaped in the Markdown prose, where
// GitHub would strip them too.
func TestDocsKeepPlaceholders(t *testing.T) {
	dir := t.TempDir()
	if err := writeDocs(newRootCmd(quietStreams()), dir); err != nil {
		t.Fatal(err)
	}
	pr, err := os.ReadFile(filepath.Join(dir, "man", "cnpg-restore-gen-pr.1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(pr), "restore//-") || !strings.Contains(string(pr), "restore/<namespace>/<cluster>-<backup ID>") ||
		!strings.Contains(string(pr), "(default <name>-restored") {
		t.Errorf("the pr man page lost its placeholders")
	}
	mds, _ := filepath.Glob(filepath.Join(dir, "cli", "*.md"))
	raw := regexp.MustCompile(`(^|[^\\])<[A-Za-z][^<>]*>`)
	for _, p := range mds {
		b, _ := os.ReadFile(p)
		inCode := false
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "```") {
				inCode = !inCode
				continue
			}
			if !inCode && raw.MatchString(strings.ReplaceAll(line, "`", "")) && !strings.Contains(line, "`<") {
				t.Errorf("%s:%d: a raw <placeholder> GitHub would strip: %s", filepath.Base(p), i+1, line)
			}
		}
	}
}
