package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/human"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/termsafe"
)

func validOutput(o string) error {
	switch o {
	case "table", "json", "yaml":
		return nil
	}
	return usagef("-o %q: the output format is table, json or yaml", o)
}

// writeData prints v as indented JSON or as YAML.
func writeData(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeCatalogTable prints the catalog for people: per database system, its backups and the
// recoverable window; then the WAL, timelines and findings.
func writeCatalogTable(w io.Writer, c *catalog.Catalog, width int) error {
	w = termsafe.Writer(w) // names from the bucket and the repo never drive the terminal
	r := c.Report()
	var b strings.Builder
	fmt.Fprintf(&b, "Catalog   %s\n", r.Catalog)
	var tls []string
	for _, t := range r.Timelines {
		tls = append(tls, fmt.Sprint(t.ID))
	}
	hang(&b, width, "WAL       ", fmt.Sprintf("%d segments of %s (%s stored), %s to %s, timelines %s",
		r.WAL.Segments, human.Bytes(int64(r.WAL.SegmentSize)), human.Bytes(r.WAL.Bytes), orDash(r.WAL.First), orDash(r.WAL.Last), orDash(strings.Join(tls, ", "))))
	if len(r.Lineages) > 1 {
		b.WriteString("\n")
		hang(&b, width, "!! ", fmt.Sprintf("%d database systems share this path: pick one with --system-id or --backup-id.", len(r.Lineages)))
	}
	byID := map[string]catalog.BackupReport{}
	for _, br := range r.Backups {
		byID[br.ID] = br
	}
	for _, l := range r.Lineages {
		fmt.Fprintf(&b, "\nSystem %s   timelines %s\n", orDash(l.SystemID), orDash(human.Timelines(l.Timelines, ", ")))
		if l.From != nil {
			hang(&b, width, "  recoverable from ", fmt.Sprintf("%s (%s, end of the oldest usable backup)", shortTime(l.From.Time), l.From.LSN))
			hang(&b, width, "              to   ", fmt.Sprintf("%s (%s on timeline %d, last WAL %s)", shortTime(l.To.Time), l.To.LSN, l.To.Timeline, l.To.WAL))
		} else {
			fmt.Fprintf(&b, "  nothing recoverable: no usable backup\n")
		}
		narrow := width < 100 // no year, the end's date only when it differs, a shorter last column
		restorable, no := "RESTORABLE", "NO (below)"
		if narrow {
			restorable, no = "OK", "NO"
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tNAME\tSTATUS\tBEGIN\tEND\tTL\tSIZE\t"+restorable)
		var why []string
		for _, id := range l.Backups {
			br := byID[id]
			ok := "yes"
			if !br.Usable {
				ok = no
				why = append(why, fmt.Sprintf("%s cannot be restored: %s", br.ID, strings.Join(br.Problems, "; ")))
			}
			tl := "-"
			if br.Timeline != 0 {
				tl = fmt.Sprint(br.Timeline)
			}
			begin, end := shortTime(br.BeginTime), shortTime(br.EndTime)
			if narrow && len(begin) > 11 && len(end) > 11 && begin[:11] == end[:11] {
				end = end[11:]
			}
			if narrow && len(begin) > 5 {
				begin = begin[5:] // the year is in the window above
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", br.ID, orDash(br.Name), br.Status, begin, end, tl, human.Bytes(br.Size), ok)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, w := range why {
			hang(&b, width, "  ", w)
		}
	}
	if len(r.Timelines) > 0 {
		if pic := catalog.TextFit(c.Spans(), width); pic != "" {
			fmt.Fprintf(&b, "\nPicture (UTC)\n%s", pic)
		}
		fmt.Fprintf(&b, "\nTimelines\n")
		// Narrow: segment names without their timeline (it is the TL column), so the table fits.
		seg := func(name string) string { return name }
		if width < 96 {
			seg = func(name string) string {
				if len(name) == 24 {
					return name[8:]
				}
				return name
			}
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  TL\tPARENT\tSWITCH\tHISTORY\tSEGMENTS\tFIRST\tLAST")
		for _, t := range r.Timelines {
			parent := "-"
			if t.Parent != 0 {
				parent = fmt.Sprint(t.Parent)
			}
			hist := "yes"
			if !t.History {
				hist = "no"
				if t.ID == 1 {
					hist = "-"
				}
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%d\t%s\t%s\n", t.ID, parent, orDash(t.SwitchLSN), hist, t.Segments, orDash(seg(t.First)), orDash(seg(t.Last)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	writeFindings(&b, r.Findings, width)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFindings(b *strings.Builder, fs []catalog.Finding, width int) {
	if len(fs) == 0 {
		fmt.Fprintf(b, "\nFindings: none\n")
		return
	}
	fmt.Fprintf(b, "\nFindings\n")
	for _, f := range fs {
		hang(b, width, fmt.Sprintf("  %-7s  %-24s  ", f.Severity, f.Check), f.Message)
	}
}

func writeCheckTable(w io.Writer, r checkReport, width int) error {
	w = termsafe.Writer(w) // names from the bucket and the repo never drive the terminal
	var b strings.Builder
	verdict := "OK"
	if !r.OK {
		verdict = "CANNOT RESTORE"
	}
	hang(&b, width, "Catalog   ", r.Catalog)
	hang(&b, width, "Request   ", r.Request)
	hang(&b, width, "Verdict   ", verdict+": "+r.Answer)
	if r.Until != nil {
		hang(&b, width, "Reaches   ", fmt.Sprintf("%s on timeline %d (last WAL %s, archived %s)", r.Until.LSN, r.Until.Timeline, r.Until.WAL, shortTime(r.Until.Time)))
	}
	for _, n := range r.Notes {
		hang(&b, width, "Note      ", n)
	}
	if len(r.Blocking) > 0 {
		fmt.Fprintf(&b, "\nBlocking\n")
		for _, f := range r.Blocking {
			hang(&b, width, fmt.Sprintf("  %-24s  ", f.Check), f.Message)
		}
	}
	var others []catalog.Finding
	for _, f := range r.Findings {
		if !containsFinding(r.Blocking, f) {
			others = append(others, f)
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(&b, "\nOther findings (not blocking this request)\n")
		for _, f := range others {
			hang(&b, width, fmt.Sprintf("  %-7s  %-24s  ", f.Severity, f.Check), f.Message)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func containsFinding(fs []catalog.Finding, f catalog.Finding) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// width is how wide the tables may be: $COLUMNS when set, else the terminal's, else 80.
func (s *streams) width() int {
	if s.Getenv != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(s.Getenv("COLUMNS"))); err == nil && n >= 40 {
			return n
		}
	}
	if s.OutWidth >= 40 {
		return s.OutWidth
	}
	return 80
}

// hang writes prefix and text, wrapped at width on spaces; lines after the first are indented
// under the text. A word longer than the room (a path, a URL) is kept whole.
func hang(b *strings.Builder, width int, prefix, text string) {
	indent := strings.Repeat(" ", len([]rune(prefix)))
	room := max(width-len([]rune(prefix)), 20)
	line := prefix
	n := 0
	for _, word := range strings.Fields(text) {
		w := len([]rune(word))
		switch {
		case n == 0:
			line += word
			n = w
		case n+1+w > room:
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line, n = indent+word, w
		default:
			line += " " + word
			n += 1 + w
		}
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n")
}
