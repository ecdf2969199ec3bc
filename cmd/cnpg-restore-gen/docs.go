package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// writeDocs writes the command reference generated from the commands themselves: Markdown into
// dir/cli and man pages into dir/man. The output depends on nothing but the commands: no date
// (cobra would stamp the current month, or SOURCE_DATE_EPOCH's, into every man page header), no
// version, no machine.
func writeDocs(root *cobra.Command, dir string) error {
	root.DisableAutoGenTag = true // no "Auto generated ... on <date>" footer
	root.Version = ""             // the version is the build's, not the docs'
	for _, sub := range []string{"cli", "man"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("while making the docs directory: %w", err)
		}
	}
	// <placeholders> would be read as HTML tags and vanish ("restore//-"): escape them in the
	// prose of the Markdown reference (flags sit in a code block there) and everywhere in the
	// man pages (md2man reads flag descriptions as Markdown too).
	escapePlaceholders(root, false)
	if err := doc.GenMarkdownTree(root, filepath.Join(dir, "cli")); err != nil {
		return fmt.Errorf("while writing the Markdown reference: %w", err)
	}
	escapePlaceholders(root, true)
	// cobra requires a date; give it a fixed one and then drop it from the .TH line, so the
	// header reads: title, section, no date, source, manual.
	epoch := time.Unix(0, 0).UTC()
	header := &doc.GenManHeader{Title: "CNPG-RESTORE-GEN", Section: "1", Date: &epoch, Source: "cnpg-restore-gen", Manual: "cnpg-restore-gen"}
	manDir := filepath.Join(dir, "man")
	if err := doc.GenManTree(root, header, manDir); err != nil {
		return fmt.Errorf("while writing the man pages: %w", err)
	}
	pages, err := filepath.Glob(filepath.Join(manDir, "*.1"))
	if err != nil {
		return err
	}
	stamp := []byte(`"` + epoch.Format("Jan 2006") + `"`)
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b = thLine.ReplaceAllFunc(b, func(line []byte) []byte { return bytes.Replace(line, stamp, []byte(`""`), 1) })
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

var thLine = regexp.MustCompile(`(?m)^\.TH .*$`)

var placeholder = regexp.MustCompile(`<([A-Za-z][^<>\n\\]*)>`)

// escapePlaceholders writes <x> as \<x\> in every command's long description and, with flags,
// in every flag's description; text already escaped is left as it is.
func escapePlaceholders(c *cobra.Command, flags bool) {
	esc := func(s string) string { return placeholder.ReplaceAllString(s, `\<$1\>`) }
	if !flags {
		c.Long = esc(c.Long)
	} else {
		c.Flags().VisitAll(func(f *pflag.Flag) { f.Usage = esc(f.Usage) })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { f.Usage = esc(f.Usage) })
	}
	for _, sub := range c.Commands() {
		escapePlaceholders(sub, flags)
	}
}
