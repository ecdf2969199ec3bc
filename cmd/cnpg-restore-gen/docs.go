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
	if err := doc.GenMarkdownTree(root, filepath.Join(dir, "cli")); err != nil {
		return fmt.Errorf("while writing the Markdown reference: %w", err)
	}
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
