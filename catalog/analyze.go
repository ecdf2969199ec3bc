package catalog

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Severity of a finding: an error means the catalog cannot deliver a restore it seems to offer.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Finding is one result of the integrity checks.
type Finding struct {
	Severity Severity `json:"severity"`
	// Check names the check: mixed-system-ids, wal-overwritten, foreign-wal, wal-gap,
	// missing-history, bad-history, timeline-without-backup, backup-unusable, no-usable-backup,
	// stray-object, partial-segment.
	Check    string `json:"check"`
	Message  string `json:"message"`
	BackupID string `json:"backupId,omitempty"`
	SystemID string `json:"systemId,omitempty"`
	Timeline uint32 `json:"timeline,omitempty"`
}

// Lineage is one database system in the catalog: the backups sharing a system identifier and
// the WAL their recovery reaches.
type Lineage struct {
	SystemID string
	// Backups are this system's backups, oldest first, usable or not.
	Backups []*Backup
	// First is the oldest usable backup (nil when none): its end is the first consistent point.
	First *Backup
	// Last is the usable backup whose replay reaches furthest (nil when none).
	Last *Backup
	// Timelines are the timelines of the backups and of their recovery paths, ascending.
	Timelines []uint32
}

// Usable returns the usable backups, oldest first.
func (l *Lineage) Usable() []*Backup {
	var out []*Backup
	for _, b := range l.Backups {
		if b.Usable() {
			out = append(out, b)
		}
	}
	return out
}

// Window is the recoverable window of a lineage: from the end of its oldest usable backup to
// the end of the archived WAL its newest replay reaches. ok is false when nothing is usable.
func (l *Lineage) Window() (from time.Time, fromLSN LSN, to time.Time, toLSN LSN, ok bool) {
	if l.First == nil || l.Last == nil {
		return time.Time{}, 0, time.Time{}, 0, false
	}
	return l.First.Info.EndTime, l.First.Info.EndLSN, l.Last.Replay.LastModified, l.Last.Replay.EndLSN(l.Last.segSize()), true
}

func (b *Backup) segSize() SegmentSize {
	if b.Info == nil {
		return DefaultSegmentSize
	}
	return b.Info.SegmentSize
}

// Gap is a hole in one timeline's WAL: segments First..Last are missing while WAL on both sides
// is archived.
type Gap struct {
	TLI         uint32
	First, Last uint64
}

type analysis struct {
	Lineages []*Lineage
	Findings []Finding
	Gaps     []Gap
	// walSystem is the system identifier read from the header of some segments, or "?reason"
	// when the header could not be read.
	walSystem map[segmentRef]string
}

// WALSystemID returns the system identifier the header of a segment reports, when it was read.
func (c *Catalog) WALSystemID(tli uint32, segno uint64) (id string, ok bool) {
	id, ok = c.walSystem[segmentRef{tli, segno}]
	if !ok || len(id) > 0 && id[0] == '?' {
		return "", false
	}
	return id, true
}

// Lineage returns the lineage of a system identifier.
func (c *Catalog) Lineage(systemID string) *Lineage {
	for _, l := range c.Lineages {
		if l.SystemID == systemID {
			return l
		}
	}
	return nil
}

// Backup returns the backup with that ID.
func (c *Catalog) Backup(id string) *Backup {
	for _, b := range c.Backups {
		if b.ID == id {
			return b
		}
	}
	return nil
}

// HasErrors reports whether any finding is an error.
func (c *Catalog) HasErrors() bool {
	for _, f := range c.Findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

func (c *Catalog) add(sev Severity, check, format string, a ...any) *Finding {
	c.Findings = append(c.Findings, Finding{Severity: sev, Check: check, Message: fmt.Sprintf(format, a...)})
	return &c.Findings[len(c.Findings)-1]
}

// newestTimeline is PostgreSQL's findNewestTimeLine: from tli, probe tli+1, tli+2, … for a
// history file and stop at the first that is missing.
func (c *Catalog) newestTimeline(tli uint32) uint32 {
	for {
		if _, ok := c.History[tli+1]; !ok {
			return tli
		}
		tli++
	}
}

// TimelinePath returns the path of spans to timeline tli from its history file.
func (c *Catalog) TimelinePath(tli uint32) []TimelineSpan { return Path(tli, c.History[tli]) }

func (c *Catalog) analyze() {
	size := c.WAL.SegmentSize()
	c.analysis = analysis{walSystem: c.walSystem}
	for _, b := range c.Backups {
		b.reset()
	}
	for _, b := range c.Backups {
		c.checkBackup(b, size)
	}
	c.groupLineages()
	c.findGaps()
	c.checkLineages()
	c.checkTimelines()
	for _, b := range c.Backups {
		if b.Overwritten {
			f := c.add(SeverityError, CheckWALOverwritten, "backup %s: %s", b.ID, b.Problems[len(b.Problems)-1])
			f.BackupID = b.ID
		} else if b.ForeignWAL != "" && b.Usable() {
			f := c.add(SeverityWarning, CheckForeignWAL, "backup %s: recovery stops before WAL %s, which database system %s wrote, not this backup's %s",
				b.ID, b.ForeignWAL, c.foreignSystem(b), b.Info.SystemID)
			f.BackupID, f.SystemID = b.ID, b.Info.SystemID
		} else if b.PinTLI && b.Usable() {
			f := c.add(SeverityWarning, CheckLatestTimelineForeign, "backup %s: %s", b.ID, b.PinReason)
			f.BackupID, f.SystemID = b.ID, b.Info.SystemID
		} else if b.Abandoned > 0 && b.Usable() {
			f := c.add(SeverityWarning, CheckHistoryWithoutWAL, "backup %s: %s", b.ID, b.Warnings[len(b.Warnings)-1])
			f.BackupID, f.SystemID = b.ID, b.Info.SystemID
		} else if !b.Usable() && !b.NotExamined {
			f := c.add(SeverityWarning, CheckBackupUnusable, "backup %s (%s) cannot be restored: %s", b.ID, b.Status(), strings.Join(b.Problems, "; "))
			f.BackupID = b.ID
		}
	}
	for _, p := range c.Partials {
		f := c.add(SeverityInfo, CheckPartialSegment, "%s.partial: the last, incomplete segment of timeline %d (normal after a promotion)", p.Segment(), p.TLI)
		f.Timeline = p.TLI
	}
	for _, s := range c.Stray {
		c.add(SeverityWarning, CheckStrayObject, "%s/%s is not part of barman's layout and was ignored", strings.TrimSuffix(c.Location, "/"+c.ServerName), s)
	}
	if more := c.StrayCount - len(c.Stray); more > 0 {
		c.add(SeverityWarning, CheckStrayObject, "%d more objects under %s are not part of barman's layout and were ignored (only the first %d are named)", more, c.Location, len(c.Stray))
	}
	order := map[Severity]int{SeverityError: 0, SeverityWarning: 1, SeverityInfo: 2}
	sort.SliceStable(c.Findings, func(i, j int) bool { return order[c.Findings[i].Severity] < order[c.Findings[j].Severity] })
}

// checkBackup decides whether one backup can be restored and how far its replay reaches.
func (c *Catalog) checkBackup(b *Backup, size SegmentSize) {
	badID := !backupIDRE.MatchString(b.ID)
	if b.Info == nil {
		switch {
		case badID:
			b.Problems = append(b.Problems, fmt.Sprintf("directory name %q is not a barman backup ID (YYYYMMDDTHHMMSS), and holds no backup.info", b.ID))
		case b.Key == "":
			b.Problems = append(b.Problems, "no backup.info (the upload never finished, or it was deleted)")
		}
		return
	}
	info := b.Info
	if badID {
		b.Problems = append(b.Problems, fmt.Sprintf("directory name %q is not a barman backup ID (YYYYMMDDTHHMMSS)", b.ID))
	}
	if info.BackupID != "" && info.BackupID != b.ID {
		b.Problems = append(b.Problems, fmt.Sprintf("backup.info says backup_id=%s but it sits in directory %s", info.BackupID, b.ID))
	}
	if info.Status != "DONE" {
		p := fmt.Sprintf("status is %s, only DONE backups can be restored", b.Status())
		if info.Error != "" {
			p += " (barman: " + info.Error + ")"
		}
		b.Problems = append(b.Problems, p)
		return
	}
	if m := info.Missing(); len(m) > 0 {
		b.Problems = append(b.Problems, "backup.info lacks "+strings.Join(m, ", "))
		return
	}
	if !hasDataTar(b.Files) {
		b.Problems = append(b.Problems, "no data.tar in the backup directory")
	}
	if info.SegmentSize != size {
		b.Problems = append(b.Problems, fmt.Sprintf("its WAL segment size %s differs from the catalog's %s", info.SegmentSize, size))
		return
	}
	beginW, _ := ParseWALName(info.BeginWAL)
	endW, _ := ParseWALName(info.EndWAL)
	if c.WALFrom != "" && info.BeginWAL[8:16] < c.WALFrom[8:16] {
		b.NotExamined = true
		b.Problems = append(b.Problems, fmt.Sprintf("not examined: this scan read WAL only from %s on", c.WALFrom))
		return
	}
	begin, err1 := size.SegNo(beginW.Log, beginW.Seg)
	end, err2 := size.SegNo(endW.Log, endW.Seg)
	if err1 != nil || err2 != nil || end < begin {
		b.Problems = append(b.Problems, fmt.Sprintf("begin_wal %s and end_wal %s do not make a WAL range", info.BeginWAL, info.EndWAL))
		return
	}

	for _, no := range []uint64{begin, end} {
		got, read := c.walSystem[segmentRef{beginW.TLI, no}]
		switch {
		case !read:
		case got != "" && got[0] == '?':
			b.Warnings = append(b.Warnings, fmt.Sprintf("the system identifier of WAL %s could not be checked: %s", size.Name(beginW.TLI, no), got[1:]))
		case got != info.SystemID:
			b.Problems = append(b.Problems, fmt.Sprintf("WAL %s in the archive was written by database system %s, not this backup's %s: another cluster archived into the same path and overwrote it",
				size.Name(beginW.TLI, no), got, info.SystemID))
			b.Overwritten = true
			return
		}
	}

	b.TargetTLI = c.newestTimeline(info.Timeline)
	b.Path = c.TimelinePath(b.TargetTLI)
	var own *TimelineSpan
	for i := range b.Path {
		if b.Path[i].TLI == info.Timeline {
			own = &b.Path[i]
		}
	}
	switch {
	case own == nil:
		b.Problems = append(b.Problems, fmt.Sprintf("timeline %d, the newest, does not descend from the backup's timeline %d", b.TargetTLI, info.Timeline))
		return
	case own.End != 0 && own.End < info.EndLSN:
		b.Problems = append(b.Problems, fmt.Sprintf("timeline %d forks from timeline %d at %s, before the backup ends at %s", b.TargetTLI, info.Timeline, own.End, info.EndLSN))
		return
	}
	b.Replay, b.ForeignWAL = c.replayAlong(b.Path, begin, info.SystemID)
	b.LatestTLI, b.Latest, b.LatestForeignWAL = b.TargetTLI, b.Replay, b.ForeignWAL
	c.chooseTimeline(b, begin)
	if b.ForeignWAL != "" {
		b.Warnings = append(b.Warnings, fmt.Sprintf("recovery stops before WAL %s, written by another database system", b.ForeignWAL))
	}
	if b.Replay.Reached <= end {
		b.Problems = append(b.Problems, fmt.Sprintf("WAL %s needed to make it consistent (%s to %s) is not archived",
			size.Name(c.tliAt(b.Path, b.Replay.Reached), b.Replay.Reached), info.BeginWAL, info.EndWAL))
	}
}

// replayAlong follows path from segment begin and cuts the replay before the first segment
// written by a system other than systemID: PostgreSQL refuses such a segment ("WAL file is from
// different database system") and recovery ends before it. It returns that segment's name.
func (c *Catalog) replayAlong(path []TimelineSpan, begin uint64, systemID string) (Replay, string) {
	r := c.WAL.Follow(path, begin, 0)
	cut, ok := c.foreignAlong(r, systemID)
	if !ok {
		return r, ""
	}
	return c.WAL.Follow(path, begin, cut-1), c.WAL.SegmentSize().Name(c.tliAt(path, cut), cut)
}

// TimelineReplay is a recovery from a backup with targetTLI set to one timeline.
type TimelineReplay struct {
	TLI        uint32
	Path       []TimelineSpan
	Replay     Replay
	ForeignWAL string
}

// chooseTimeline compares the latest replay with one stopping on each older timeline of its
// path. When latest runs into another system's WAL and an older timeline carries this system's
// own WAL further, the backup is pinned to that timeline. When latest switches to a timeline
// whose WAL is not archived, it is followed (PostgreSQL does), and the segments of the older
// timeline it leaves behind are counted.
func (c *Catalog) chooseTimeline(b *Backup, begin uint64) {
	info, size := b.Info, c.WAL.SegmentSize()
	var best *TimelineReplay
	for _, span := range b.Path {
		if span.TLI < info.Timeline || span.TLI >= b.LatestTLI {
			continue
		}
		path := c.TimelinePath(span.TLI)
		if len(path) == 0 || path[len(path)-1].TLI != span.TLI {
			continue
		}
		r, foreign := c.replayAlong(path, begin, info.SystemID)
		alt := TimelineReplay{TLI: span.TLI, Path: path, Replay: r, ForeignWAL: foreign}
		if b.Alternatives == nil {
			b.Alternatives = map[uint32]TimelineReplay{}
		}
		b.Alternatives[span.TLI] = alt
		if r.Reached > b.Latest.Reached && (best == nil || r.Reached >= best.Replay.Reached) {
			best = &alt
		}
	}
	if best == nil {
		return
	}
	more := best.Replay.Reached - b.Latest.Reached
	if b.ForeignWAL != "" {
		foreign := b.ForeignWAL
		w, _ := ParseWALName(foreign)
		no, _ := size.SegNo(w.Log, w.Seg)
		owner, _ := c.WALSystemID(w.TLI, no)
		b.PinReason = fmt.Sprintf("with recovery_target_timeline = latest, PostgreSQL follows timeline %d's history into WAL %s, written by database system %s, refuses it and promotes there; this system's own WAL goes on along timeline %d to %s (%s more segments), so targetTLI is set to %d",
			b.LatestTLI, foreign, orUnknown(owner), best.TLI, size.Name(best.Replay.LastTLI, best.Replay.Reached-1), fmt.Sprint(more), best.TLI)
		b.PinTLI, b.TargetTLI, b.Path, b.Replay, b.ForeignWAL = true, best.TLI, best.Path, best.Replay, best.ForeignWAL
		return
	}
	b.Abandoned, b.AbandonedTLI = more, best.TLI
	b.Warnings = append(b.Warnings, fmt.Sprintf("timeline %d's history file switches recovery away from timeline %d at segment %s, but no WAL of timeline %d is archived there: PostgreSQL follows the history and stops; %s of timeline %d after the switch are not replayed (targetTLI %d would replay them, if they are the history you want)",
		b.LatestTLI, best.TLI, size.Name(best.TLI, b.Latest.Reached-1), b.LatestTLI, plural(int(more), "segment"), best.TLI, best.TLI))
}

// foreignAlong returns the first segment of a replay whose header names a system other than
// systemID, among the segments whose headers were read.
func (c *Catalog) foreignAlong(r Replay, systemID string) (uint64, bool) {
	var cut uint64
	found := false
	for ref, id := range c.walSystem {
		if id == "" || id[0] == '?' || id == systemID {
			continue
		}
		for _, st := range r.Stretches {
			if st.TLI == ref.TLI && ref.SegNo >= st.First && ref.SegNo <= st.Last && (!found || ref.SegNo < cut) {
				cut, found = ref.SegNo, true
			}
		}
	}
	return cut, found
}

// foreignSystem names the system that wrote b.ForeignWAL.
func (c *Catalog) foreignSystem(b *Backup) string {
	w, err := ParseWALName(b.ForeignWAL)
	if err != nil {
		return "unknown"
	}
	no, _ := c.WAL.SegmentSize().SegNo(w.Log, w.Seg)
	if id, ok := c.WALSystemID(w.TLI, no); ok {
		return id
	}
	return "unknown"
}

// tliAt is the timeline of the path that serves segment segno.
func (c *Catalog) tliAt(path []TimelineSpan, segno uint64) uint32 {
	size := c.WAL.SegmentSize()
	for i := len(path) - 1; i >= 0; i-- {
		if size.SegNoOf(path[i].Begin) <= segno {
			return path[i].TLI
		}
	}
	return path[0].TLI
}

func hasDataTar(files []Object) bool {
	for _, f := range files {
		if strings.HasPrefix(path.Base(f.Key), "data.tar") {
			return true
		}
	}
	return false
}

func (c *Catalog) groupLineages() {
	byID := map[string]*Lineage{}
	for _, b := range c.Backups {
		id := b.SystemID()
		if id == "" && b.Info == nil {
			// No backup.info (an upload that never finished, a stray directory): it names no
			// database system, so it is no reason to call the catalog mixed. It stays listed
			// as an unusable backup.
			continue
		}
		l := byID[id]
		if l == nil {
			l = &Lineage{SystemID: id}
			byID[id] = l
			c.Lineages = append(c.Lineages, l)
		}
		l.Backups = append(l.Backups, b)
	}
	for _, l := range c.Lineages {
		tls := map[uint32]bool{}
		for _, b := range l.Backups {
			if b.Info != nil && b.Info.Timeline != 0 {
				tls[b.Info.Timeline] = true
			}
			if !b.Usable() {
				continue
			}
			for _, s := range b.Replay.Stretches {
				tls[s.TLI] = true
			}
			if l.First == nil || b.Info.EndTime.Before(l.First.Info.EndTime) {
				l.First = b
			}
			if l.Last == nil || b.Replay.Reached > l.Last.Replay.Reached ||
				b.Replay.Reached == l.Last.Replay.Reached && b.ID > l.Last.ID {
				l.Last = b
			}
		}
		for t := range tls {
			l.Timelines = append(l.Timelines, t)
		}
		sort.Slice(l.Timelines, func(i, j int) bool { return l.Timelines[i] < l.Timelines[j] })
	}
	// Lineages ordered by their newest backup, oldest lineage first.
	sort.SliceStable(c.Lineages, func(i, j int) bool {
		a, b := c.Lineages[i].Backups, c.Lineages[j].Backups
		return a[len(a)-1].ID < b[len(b)-1].ID
	})
}

func (c *Catalog) findGaps() {
	for _, tli := range c.WAL.Timelines() {
		runs := c.WAL.Runs(tli)
		for i := 1; i < len(runs); i++ {
			c.Gaps = append(c.Gaps, Gap{TLI: tli, First: runs[i-1].Last + 1, Last: runs[i].First - 1})
		}
	}
}

func (c *Catalog) checkLineages() {
	size := c.WAL.SegmentSize()
	if len(c.Lineages) > 1 {
		var parts []string
		for _, l := range c.Lineages {
			id := l.SystemID
			if id == "" {
				id = "unknown"
			}
			first, last := l.Backups[0], l.Backups[len(l.Backups)-1]
			parts = append(parts, fmt.Sprintf("%s (%s, %s … %s)", id, plural(len(l.Backups), "backup"), first.ID, last.ID))
		}
		c.add(SeverityError, CheckMixedSystemIDs,
			"the catalog holds %d database systems: %s; the newest backup may belong to a different, rebuilt database: pick one with --system-id or --backup-id",
			len(c.Lineages), strings.Join(parts, "; "))
	}
	anyUsable := false
	fatal := map[Gap]bool{}
	for _, l := range c.Lineages {
		if l.Last == nil {
			continue
		}
		anyUsable = true
		// A gap after the newest backup's start cuts off every later WAL: "latest" loses data.
		r := l.Last.Replay
		for _, g := range c.Gaps {
			onPath := false
			for _, s := range l.Last.Path {
				onPath = onPath || s.TLI == g.TLI
			}
			if !onPath {
				continue
			}
			if g.First == r.Reached {
				fatal[g] = true
				f := c.add(SeverityError, CheckWALGap,
					"WAL gap on timeline %d: %s to %s (%d segments) are missing; recovery from every backup stops at %s, and the %s of WAL archived after the gap cannot be replayed",
					g.TLI, size.Name(g.TLI, g.First), size.Name(g.TLI, g.Last), g.Last-g.First+1, r.EndLSN(size), c.walAfter(g))
				f.Timeline, f.SystemID = g.TLI, l.SystemID
			}
		}
	}
	for _, g := range c.Gaps {
		if fatal[g] {
			continue
		}
		f := c.add(SeverityWarning, CheckWALGap,
			"WAL gap on timeline %d: %s to %s (%d segments) are missing; no point inside it can be recovered, but a later backup bridges it",
			g.TLI, size.Name(g.TLI, g.First), size.Name(g.TLI, g.Last), g.Last-g.First+1)
		f.Timeline = g.TLI
		if c.gapBeforeBackups(g) {
			f.Message = fmt.Sprintf("WAL gap on timeline %d: %s to %s (%d segments) are missing, before any backup needs them (retention)",
				g.TLI, size.Name(g.TLI, g.First), size.Name(g.TLI, g.Last), g.Last-g.First+1)
			f.Severity = SeverityInfo
		}
	}
	if !anyUsable {
		c.add(SeverityError, CheckNoUsableBackup, "no backup in %s can be restored", c.Location)
	}
}

// gapBeforeBackups reports whether a gap ends before the begin_wal of every usable backup whose
// path uses its timeline: nothing needs those segments.
func (c *Catalog) gapBeforeBackups(g Gap) bool {
	size := c.WAL.SegmentSize()
	for _, b := range c.Backups {
		if !b.Usable() {
			continue
		}
		begin := size.SegNoOf(b.Info.BeginLSN)
		for _, s := range b.Path {
			if s.TLI == g.TLI && g.Last >= begin {
				return false
			}
		}
	}
	return true
}

// walAfter describes how much WAL is archived on a timeline after a gap.
func (c *Catalog) walAfter(g Gap) string {
	var n uint64
	for _, r := range c.WAL.Runs(g.TLI) {
		if r.First > g.Last {
			n += r.Segments()
		}
	}
	for _, t := range c.WAL.Timelines() {
		if t > g.TLI {
			for _, r := range c.WAL.Runs(t) {
				n += r.Segments()
			}
		}
	}
	return fmt.Sprintf("%d segments", n)
}

func (c *Catalog) checkTimelines() {
	for _, t := range c.timelineIDs() {
		if msg, bad := c.BadHistory[t]; bad {
			f := c.add(SeverityError, CheckBadHistory, "the history file of timeline %d cannot be read: %s", t, msg)
			f.Timeline = t
			continue
		}
		if _, ok := c.History[t]; t > 1 && !ok {
			f := c.add(SeverityError, CheckMissingHistory,
				"timeline %d has WAL or backups but no %08X.history: recovery to the latest point cannot follow it and stops on an older timeline", t, t)
			f.Timeline = t
		}
		if len(c.WAL.Runs(t)) == 0 {
			continue
		}
		used := false
		for _, b := range c.Backups {
			for _, s := range b.Path {
				used = used || b.Usable() && s.TLI == t
			}
		}
		if !used {
			f := c.add(SeverityWarning, CheckTimelineWithoutBackup,
				"timeline %d has %d WAL segments but no usable backup recovers through it", t, c.countSegments(t))
			f.Timeline = t
		}
	}
}

func (c *Catalog) countSegments(tli uint32) uint64 {
	var n uint64
	for _, r := range c.WAL.Runs(tli) {
		n += r.Segments()
	}
	return n
}
