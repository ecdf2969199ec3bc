package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Span kinds of the timeline picture.
const (
	SpanBackup = "backup"
	SpanWAL    = "wal"
	SpanGap    = "gap"
)

// Span is one bar of the catalog's timeline picture: a backup from its start to its end, a run
// of archived WAL from the archive time of its first segment to that of its last, or a gap
// between two runs of one timeline.
type Span struct {
	Kind     string
	Timeline uint32
	SystemID string // backups only
	ID       string // the backup ID; the first segment for WAL and gaps
	Label    string
	From, To time.Time
	// Usable is false for a backup that can't be restored (failed, unreadable, no WAL).
	Usable bool
}

// Spans lists the catalog's backups (oldest first) and, timeline by timeline, its WAL runs
// and the gaps between them. A WAL run spans the oldest to the newest archive time of its
// segments. Spans without a time (a backup.info without begin_time) are left
// out: a picture can't place them.
func (c *Catalog) Spans() []Span {
	var out []Span
	for _, b := range c.Backups {
		if b.Info == nil || b.Info.BeginTime.IsZero() {
			continue
		}
		end := b.Info.EndTime
		if end.IsZero() {
			end = b.Info.BeginTime
		}
		label := b.ID
		if b.Info.BackupName != "" {
			label += " " + b.Info.BackupName
		}
		out = append(out, Span{Kind: SpanBackup, Timeline: b.Info.Timeline, SystemID: b.SystemID(), ID: b.ID, Label: label,
			From: b.Info.BeginTime.UTC(), To: end.UTC(), Usable: b.Usable()})
	}
	if c.WAL == nil {
		return out
	}
	size := c.WAL.SegmentSize()
	for _, tli := range c.WAL.Timelines() {
		runs := c.WAL.Runs(tli)
		for i, r := range runs {
			if i > 0 {
				prev := runs[i-1]
				out = append(out, Span{Kind: SpanGap, Timeline: tli, ID: size.Name(tli, prev.Last+1),
					Label: fmt.Sprintf("gap, %s missing from %s", plural(int(r.First-prev.Last-1), "segment"), size.Name(tli, prev.Last+1)),
					From:  prev.Modified(prev.Last), To: r.Modified(r.First)})
			}
			from, to := r.TimeRange()
			out = append(out, Span{Kind: SpanWAL, Timeline: tli, ID: size.Name(tli, r.First),
				Label: fmt.Sprintf("%s %s to %s", plural(int(r.Segments()), "segment"), size.Name(tli, r.First), size.Name(tli, r.Last)),
				From:  from, To: to, Usable: true})
		}
	}
	return out
}

// Mark is a point in time drawn on the picture: the recovery target, say.
type Mark struct {
	Label string
	At    time.Time
}

// maxBars bounds each section of the picture; a renderer can't lay out thousands of bars and
// a reader can't use them.
const maxBars = 30

// Mermaid renders spans as a Mermaid gantt chart (GitHub, Gitea and Forgejo draw it in
// Markdown): a section for the backups and one per timeline for the WAL, gaps in red, the
// highlighted backup as active and marks as milestones. Times are UTC. When a section has more
// than maxBars bars, the newest are kept (and the highlighted backup) and the rest counted.
func Mermaid(title string, spans []Span, highlight string, marks []Mark) string {
	var b strings.Builder
	b.WriteString("gantt\n")
	fmt.Fprintf(&b, "    title %s\n", mermaidText(title))
	b.WriteString("    dateFormat YYYY-MM-DDTHH:mm:ss\n")
	fmt.Fprintf(&b, "    axisFormat %s\n", axisFormat(spans, marks))
	var backups []Span
	byTLI := map[uint32][]Span{}
	var tlis []uint32
	systems := map[string]bool{}
	for _, s := range spans {
		if s.Kind == SpanBackup && s.SystemID != "" {
			systems[s.SystemID] = true
		}
	}
	for _, s := range spans {
		if s.Kind == SpanBackup {
			if len(systems) > 1 {
				s.Label += " (system " + s.SystemID + ")"
			}
			backups = append(backups, s)
			continue
		}
		if _, ok := byTLI[s.Timeline]; !ok {
			tlis = append(tlis, s.Timeline)
		}
		byTLI[s.Timeline] = append(byTLI[s.Timeline], s)
	}
	slices.Sort(tlis)
	n := 0
	bar := func(s Span, tags ...string) {
		n++
		to := s.To
		if !to.After(s.From) {
			to = s.From.Add(time.Second) // a bar needs a length
		}
		tags = append(tags, fmt.Sprintf("s%d", n))
		fmt.Fprintf(&b, "    %s :%s, %s, %s\n", mermaidText(s.Label), strings.Join(tags, ", "), mermaidTime(s.From), mermaidTime(to))
	}
	section := func(name string, list []Span, keep func(Span) bool, draw func(Span)) {
		if len(list) == 0 {
			return
		}
		fmt.Fprintf(&b, "    section %s\n", mermaidText(name))
		shown, dropped := trimBars(list, keep)
		if dropped > 0 {
			fmt.Fprintf(&b, "    %d older not shown :s%d, %s, %s\n", dropped, n+1, mermaidTime(list[0].From), mermaidTime(list[0].From.Add(time.Second)))
			n++
		}
		for _, s := range shown {
			draw(s)
		}
	}
	section("Backups", backups, func(s Span) bool { return s.ID == highlight }, func(s Span) {
		switch {
		case s.ID == highlight:
			bar(s, "active")
		case !s.Usable:
			bar(s, "crit")
		default:
			bar(s, "done")
		}
	})
	for _, tli := range tlis {
		section(fmt.Sprintf("WAL timeline %d", tli), byTLI[tli], func(s Span) bool { return s.Kind == SpanGap }, func(s Span) {
			if s.Kind == SpanGap {
				bar(s, "crit")
			} else {
				bar(s)
			}
		})
	}
	if len(marks) > 0 {
		b.WriteString("    section Restore\n")
		for _, m := range marks {
			n++
			fmt.Fprintf(&b, "    %s :milestone, crit, s%d, %s, 0s\n", mermaidText(m.Label), n, mermaidTime(m.At))
		}
	}
	return b.String()
}

// axisFormat labels the time axis finely enough to tell its ticks apart.
func axisFormat(spans []Span, marks []Mark) string {
	var lo, hi time.Time
	see := func(t time.Time) {
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	for _, s := range spans {
		see(s.From)
		see(s.To)
	}
	for _, m := range marks {
		see(m.At)
	}
	switch d := hi.Sub(lo); {
	case d < 15*time.Minute:
		return "%H:%M:%S"
	case d < 3*24*time.Hour:
		return "%m-%d %H:%M"
	}
	return "%Y-%m-%d"
}

// trimBars keeps the newest maxBars spans of a section and every span keep selects.
func trimBars(list []Span, keep func(Span) bool) ([]Span, int) {
	if len(list) <= maxBars {
		return list, 0
	}
	cut := len(list) - maxBars
	var out []Span
	for i, s := range list {
		if i >= cut || keep(s) {
			out = append(out, s)
		}
	}
	return out, len(list) - len(out)
}

func mermaidTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// mermaidText makes a label safe for a gantt line: ':' ends the label, '#' and ';' start
// comments and entities, and a line break ends the task.
func mermaidText(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ':', '#', ';', '\n', '\r', '\t':
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// Text renders spans as a picture for the terminal, width columns of time from the first span
// to the last: a row of backups per database system (B a backup, x one that can't be
// restored), and a row of WAL per timeline (= archived, ! a gap). Only ASCII, so it survives
// any terminal, log or NO_COLOR setting.
func Text(spans []Span, width int) string {
	if len(spans) == 0 || width < 10 {
		return ""
	}
	lo, hi := spans[0].From, spans[0].To
	for _, s := range spans {
		if s.From.Before(lo) {
			lo = s.From
		}
		if s.To.After(hi) {
			hi = s.To
		}
	}
	total := hi.Sub(lo)
	col := func(t time.Time) int {
		if total <= 0 {
			return 0
		}
		return min(int(float64(t.Sub(lo))/float64(total)*float64(width-1)), width-1)
	}
	type row struct {
		label string
		cells []byte
	}
	var rows []*row
	byLabel := map[string]*row{}
	get := func(label string) *row {
		if r, ok := byLabel[label]; ok {
			return r
		}
		r := &row{label: label, cells: []byte(strings.Repeat(" ", width))}
		byLabel[label] = r
		rows = append(rows, r)
		return r
	}
	systems := map[string]bool{}
	for _, s := range spans {
		if s.Kind == SpanBackup {
			systems[s.SystemID] = true
		}
	}
	for _, s := range spans {
		switch s.Kind {
		case SpanBackup:
			label := "backups"
			if len(systems) > 1 {
				label = "backups " + s.SystemID
			}
			mark := byte('B')
			if !s.Usable {
				mark = 'x'
			}
			get(label).cells[col(s.To)] = mark
		case SpanWAL, SpanGap:
			r := get(fmt.Sprintf("WAL timeline %d", s.Timeline))
			fill := byte('=')
			if s.Kind == SpanGap {
				fill = '!'
			}
			for c := col(s.From); c <= col(s.To); c++ {
				if s.Kind == SpanGap || r.cells[c] == ' ' {
					r.cells[c] = fill
				}
			}
		}
	}
	labelWidth := 0
	for _, r := range rows {
		labelWidth = max(labelWidth, len(r.label))
	}
	var b strings.Builder
	first, last := lo.UTC().Format("2006-01-02 15:04:05"), hi.UTC().Format("2006-01-02 15:04:05")
	fmt.Fprintf(&b, "  %-*s  %s%*s\n", labelWidth, "", first, width-len(first), last)
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s  |%s|\n", labelWidth, r.label, r.cells)
	}
	fmt.Fprintf(&b, "  %-*s  B backup (at its end)  x unusable  = WAL archived  ! gap\n", labelWidth, "")
	return b.String()
}
