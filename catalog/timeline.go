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
				out = append(out, Span{Kind: SpanGap, Timeline: tli, SystemID: out[len(out)-1].SystemID, ID: size.Name(tli, prev.Last+1),
					Label: fmt.Sprintf("gap, %s missing from %s", plural(int(r.First-prev.Last-1), "segment"), size.Name(tli, prev.Last+1)),
					From:  prev.Modified(prev.Last), To: r.Modified(r.First)})
			}
			// One bar per database system along the run: a rebuilt cluster that archived into
			// the same path overwrote part of it, and that is what the picture must show.
			owners := c.runOwners(tli, r)
			first := r.First
			for no := r.First; no <= r.Last; no++ {
				sys := owners[no-r.First]
				if no < r.Last && owners[no+1-r.First] == sys {
					continue
				}
				from, to := r.TimeRangeOf(first, no)
				out = append(out, Span{Kind: SpanWAL, Timeline: tli, SystemID: sys, ID: size.Name(tli, first),
					Label: fmt.Sprintf("%s %s to %s", plural(int(no-first+1), "segment"), size.Name(tli, first), size.Name(tli, no)),
					From:  from, To: to, Usable: true})
				first = no + 1
			}
		}
	}
	return out
}

// runOwners says which database system wrote each segment of a run, as far as the catalog
// knows: the system of a backup whose replay reads it (replays are checked against the headers
// at their ends and wherever the system changes), else the system its header names, else that
// of the nearest known segment before it in the run, else after it; "" when nothing in the run
// is known.
func (c *Catalog) runOwners(tli uint32, r Run) []string {
	owners := make([]string, r.Segments())
	// Each system's replay stretches on this timeline, merged, so that many backups replaying
	// the same WAL cost no more than one.
	bySystem := map[string][]Stretch{}
	var systems []string
	for _, b := range c.Backups {
		if b.Info == nil || b.Info.SystemID == "" {
			continue
		}
		for _, st := range b.Replay.Stretches {
			if st.TLI == tli && st.Last >= r.First && st.First <= r.Last {
				if _, ok := bySystem[b.Info.SystemID]; !ok {
					systems = append(systems, b.Info.SystemID)
				}
				bySystem[b.Info.SystemID] = append(bySystem[b.Info.SystemID], st)
			}
		}
	}
	for _, sys := range systems {
		sts := bySystem[sys]
		slices.SortFunc(sts, func(a, b Stretch) int { return cmpU64(a.First, b.First) })
		var reach uint64 // every segment below reach is painted for this system
		for _, st := range sts {
			from := max(st.First, r.First, reach)
			for no := from; no <= min(st.Last, r.Last); no++ {
				if owners[no-r.First] == "" {
					owners[no-r.First] = sys
				}
			}
			reach = max(reach, st.Last+1)
		}
	}
	for ref, id := range c.walSystem {
		if ref.TLI == tli && ref.SegNo >= r.First && ref.SegNo <= r.Last && id != "" && id[0] != '?' && owners[ref.SegNo-r.First] == "" {
			owners[ref.SegNo-r.First] = id
		}
	}
	known := ""
	for i := range owners {
		if owners[i] == "" {
			owners[i] = known
		}
		known = owners[i]
	}
	for i := len(owners) - 1; i >= 0; i-- {
		if owners[i] == "" {
			owners[i] = known
		}
		known = owners[i]
	}
	return owners
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
	byWAL := map[walRow][]Span{}
	var rows []walRow
	many := manySystems(spans)
	for _, s := range spans {
		if s.Kind == SpanBackup {
			if many {
				s.Label += " (system " + s.SystemID + ")"
			}
			backups = append(backups, s)
			continue
		}
		k := walRow{s.Timeline, s.SystemID}
		if _, ok := byWAL[k]; !ok {
			rows = append(rows, k)
		}
		byWAL[k] = append(byWAL[k], s)
	}
	slices.SortFunc(rows, func(a, b walRow) int {
		if a.tli != b.tli {
			return int(a.tli) - int(b.tli)
		}
		return strings.Compare(a.system, b.system)
	})
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
	for _, k := range rows {
		// Section titles sit in a narrow margin that the first bars overlap: keep them short,
		// and name the database system in the bars.
		section(fmt.Sprintf("WAL TL %d", k.tli), byWAL[k], func(s Span) bool { return s.Kind == SpanGap }, func(s Span) {
			if many && k.system != "" {
				s.Label += ", system " + k.system
			}
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

// walRow is a WAL section or row of the picture: a timeline, and the database system that
// wrote that WAL when the catalog holds more than one.
type walRow struct {
	tli    uint32
	system string
}

func (k walRow) label(manySystems bool) string {
	switch {
	case !manySystems:
		return fmt.Sprintf("WAL timeline %d", k.tli)
	case k.system == "":
		return fmt.Sprintf("WAL timeline %d, system unknown", k.tli)
	}
	return fmt.Sprintf("WAL timeline %d, system %s", k.tli, k.system)
}

// manySystems says whether the spans come from more than one database system.
func manySystems(spans []Span) bool {
	seen := ""
	for _, s := range spans {
		if s.SystemID != "" && seen != "" && s.SystemID != seen {
			return true
		}
		if s.SystemID != "" {
			seen = s.SystemID
		}
	}
	return false
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
		switch {
		case r == ':' || r == '#' || r == ';' || r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return ' ' // ends a label, starts a comment or an entity, or is a control character
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// TextFit renders the picture in at most total columns, labels included: as many columns of
// time as fit, between 20 and 64.
func TextFit(spans []Span, total int) string {
	labelWidth := 0
	many := manySystems(spans)
	for _, s := range spans {
		label := walRow{s.Timeline, s.SystemID}.label(many)
		if s.Kind == SpanBackup {
			label = "backups"
			if many {
				label = "backups " + s.SystemID
			}
		}
		labelWidth = max(labelWidth, len(label))
	}
	return Text(spans, min(64, max(20, total-labelWidth-6)))
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
	many := manySystems(spans)
	for _, s := range spans {
		switch s.Kind {
		case SpanBackup:
			label := "backups"
			if many {
				label = "backups " + s.SystemID
			}
			mark := byte('B')
			if !s.Usable {
				mark = 'x'
			}
			get(label).cells[col(s.To)] = mark
		case SpanWAL, SpanGap:
			r := get(walRow{s.Timeline, s.SystemID}.label(many))
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
	if len(first)+len(last) >= width {
		first, last = lo.UTC().Format("01-02 15:04"), hi.UTC().Format("01-02 15:04")
	}
	if len(first)+len(last) < width {
		fmt.Fprintf(&b, "  %-*s  %s%*s\n", labelWidth, "", first, width-len(first), last)
	} else {
		fmt.Fprintf(&b, "  %-*s  %s\n", labelWidth, "", first)
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s  |%s|\n", labelWidth, r.label, r.cells)
	}
	const legend = "B backup (at its end)  x unusable  = WAL archived  ! gap"
	if len(legend) <= width+2 {
		fmt.Fprintf(&b, "  %-*s  %s\n", labelWidth, "", legend)
	} else {
		fmt.Fprintf(&b, "  %s\n", legend) // under the labels, to stay within the width
	}
	return b.String()
}
