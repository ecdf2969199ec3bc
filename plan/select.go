package plan

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/human"
)

type selector struct {
	in      Input
	p       *Plan
	c       *catalog.Catalog
	lineage *catalog.Lineage
	backup  *catalog.Backup
	// tli, replay and foreign are the recovery planned from backup: its target timeline (set
	// in the Cluster when pinned), how far the WAL reaches, the other system's segment that
	// cuts it short.
	tli     uint32
	pinned  bool
	replay  catalog.Replay
	foreign string
	// toSeg is the last segment replay needs (0 before fillWAL).
	toSeg uint64
	// tail is the end of the replay as its records say, when the catalog read them.
	tail *catalog.WALTail
}

func (s *selector) run() {
	if !s.choose() {
		return
	}
	b := s.backup
	br := s.c.BackupReport(b)
	s.p.Backup = &br
	s.p.SystemID = b.SystemID()
	if !s.chooseTimeline() {
		return
	}
	s.p.Target = s.recoveryTarget()
	s.parity()
	ok := s.checkTarget()
	s.p.WALEnd = s.tail
	if t := s.in.Target; t.XID != "" || t.Name != "" {
		s.p.Located = s.c.Located()
	}
	if s.in.Target.Time != nil {
		s.p.Stop = s.c.TimeStop()
	}
	if !ok {
		return
	}
	s.checkWAL()
	s.checkTimelines()
	s.estimate()
}

func window(l *catalog.Lineage) string { return l.WindowText() }

// choose takes the system and the backup the catalog's selector chooses, with its reasons.
func (s *selector) choose() bool {
	p := s.p
	sel := s.c.Select(s.in.Target)
	p.Candidates = sel.Candidates
	if sel.Lineage != nil {
		p.check(CheckLineage, true, "%s", sel.LineageReason)
	}
	switch sel.Refused {
	case catalog.RefusedBackup:
		p.check(CheckBackup, false, "%s", sel.Reason)
		return false
	case catalog.RefusedLineage:
		p.check(CheckLineage, false, "%s", sel.Reason)
		return false
	case catalog.RefusedTarget:
		p.check(CheckTarget, false, "%s", sel.Reason)
		return false
	}
	s.lineage, s.backup = sel.Lineage, sel.Backup
	info := s.backup.Info
	p.check(CheckBackup, true, "backup %s is DONE (%s to %s) and its WAL %s to %s is archived", s.backup.ID,
		info.BeginTime.Format(time.RFC3339), info.EndTime.Format(time.RFC3339), info.BeginWAL, info.EndWAL)
	return true
}

func (s *selector) recoveryTarget() RecoveryTarget {
	t := s.in.Target
	rt := RecoveryTarget{BackupID: s.backup.ID}
	if s.pinned {
		rt.TargetTLI = fmt.Sprint(s.tli)
	}
	yes := true
	switch {
	case t.Time != nil:
		rt.TargetTime = t.Time.UTC().Format(catalog.TargetTimeLayout)
	case t.LSN != nil:
		rt.TargetLSN = t.LSN.String()
	case t.XID != "":
		rt.TargetXID = t.XID
	case t.Name != "":
		rt.TargetName = t.Name
	case t.Immediate:
		rt.TargetImmediate = &yes
	}
	if t.Exclusive && (t.Time != nil || t.LSN != nil || t.XID != "") {
		rt.Exclusive = &yes
	}
	return rt
}

// checkTarget places the target inside what the chosen backup can reach.
func (s *selector) checkTarget() bool {
	t, p, b := s.in.Target, s.p, s.backup
	size := s.c.WAL.SegmentSize()
	r := s.replay
	endLSN, endTime := r.EndLSN(size), r.LastModified
	win := window(s.lineage)
	// The records at the end of the replay, when the catalog read them: time targets end at the
	// last transaction, LSN targets at the last valid record.
	tail := s.c.Tail(r)
	var last *catalog.WALEvent
	if tail != nil && tail.Problem == "" {
		last = tail.LastXact
		s.tail = tail
	}
	if last != nil {
		endTime = last.Time
		if r.LastModified.Before(last.Time.Add(-5*time.Minute)) || r.LastModified.After(last.Time.Add(time.Hour)) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("the archive time of the last WAL from backup %s (%s, S3 LastModified) is far from its last transaction's own time (%s): the catalog was copied or its times were reset; the plan goes by the times in the WAL",
				b.ID, r.LastModified.Format(time.RFC3339), last.Time.Format(time.RFC3339Nano)))
		}
	}
	unreached := last != nil && t.Time != nil && (t.Time.After(last.Time) || t.Time.Equal(last.Time) && !t.Exclusive)
	switch {
	case t.Time != nil && t.Time.After(s.in.Now):
		p.check(CheckTarget, false, "target time %s is in the future (now %s); %s", t.Time.Format(time.RFC3339), s.in.Now.UTC().Format(time.RFC3339), window(s.lineage))
	case t.Time != nil && t.Time.Before(b.Info.EndTime):
		p.check(CheckTarget, false, "target time %s is before backup %s ends (%s): recovery cannot stop before the backup is consistent; %s",
			t.Time.Format(time.RFC3339), b.ID, b.Info.EndTime.Format(time.RFC3339), win)
	case t.Time != nil && unreached:
		p.check(CheckTarget, false, "target time %s is not before the last transaction the WAL from backup %s holds (xid %d ended at %s, %s, in %s): recovery to a time stops at the first transaction that ends after it, so PostgreSQL would replay to the end of the WAL and stop with \"recovery ended before configured recovery target was reached\"; pick a time before %s, or recover to the latest point; %s",
			t.Time.Format(time.RFC3339Nano), b.ID, last.XID, last.Time.Format(time.RFC3339Nano), last.LSN, tail.Segment, last.Time.Format(time.RFC3339Nano), win)
	case t.Time != nil && t.Time.After(endTime):
		p.check(CheckTarget, false, "target time %s is after the last WAL reachable from backup %s (%s, archived %s); PostgreSQL would stop with \"recovery ended before configured recovery target was reached\"; %s",
			t.Time.Format(time.RFC3339), b.ID, size.Name(r.LastTLI, r.Reached-1), endTime.Format(time.RFC3339), win)
	case t.LSN != nil && *t.LSN < b.Info.EndLSN:
		p.check(CheckTarget, false, "target LSN %s is before backup %s is consistent (%s); %s", *t.LSN, b.ID, b.Info.EndLSN, win)
	case t.LSN != nil && tail != nil && tail.Problem == "" && tail.LastRecord != 0 && *t.LSN > tail.LastRecord:
		p.check(CheckTarget, false, "target LSN %s is past the start of the last valid record in the WAL from backup %s (%s; valid WAL ends at %s in %s, %s): recovery stops only at a record that starts at or after the target, so PostgreSQL would reach the end of the WAL first; %s",
			*t.LSN, b.ID, tail.LastRecord, tail.End, tail.Segment, orEnd(tail.Stop), win)
	case t.LSN != nil && *t.LSN >= endLSN:
		p.check(CheckTarget, false, "target LSN %s is beyond the WAL reachable from backup %s (up to %s); %s", *t.LSN, b.ID, endLSN, win)
	case t.Time != nil && last != nil:
		stop := ""
		if ts := s.c.TimeStop(); ts != nil && ts.FirstExcluded != nil {
			stop = fmt.Sprintf("; recovery stops before xid %d (ended %s, %s)", ts.FirstExcluded.XID, ts.FirstExcluded.Time.Format(time.RFC3339Nano), ts.FirstExcluded.LSN)
			if ts.LastIncluded != nil {
				stop += fmt.Sprintf(", the last transaction it applies is xid %d (ended %s)", ts.LastIncluded.XID, ts.LastIncluded.Time.Format(time.RFC3339Nano))
			}
		}
		p.check(CheckTarget, true, "target time %s is inside the window of backup %s: %s to its last transaction, xid %d at %s%s",
			t.Time.Format(time.RFC3339Nano), b.ID, b.Info.EndTime.Format(time.RFC3339), last.XID, last.Time.Format(time.RFC3339Nano), stop)
	case t.Time != nil:
		p.check(CheckTarget, true, "target time %s is inside the window of backup %s: %s to %s",
			t.Time.Format(time.RFC3339Nano), b.ID, b.Info.EndTime.Format(time.RFC3339), endTime.Format(time.RFC3339))
	case t.LSN != nil:
		p.check(CheckTarget, true, "target LSN %s is between the end of backup %s (%s) and the end of its WAL (%s)", *t.LSN, b.ID, b.Info.EndLSN, endLSN)
	case (t.XID != "" || t.Name != "") && located(s.c) && b.Info.EndLSN > s.c.Located().Event.LSN:
		loc := s.c.Located()
		p.check(CheckTarget, false, "backup %s ends at %s, after %s (%s at %s): recovery cannot stop before the backup is consistent; drop --backup-id, or name one that ends before it",
			b.ID, b.Info.EndLSN, loc.What, loc.Event.LSN, loc.Event.Time.Format(time.RFC3339Nano))
	case (t.XID != "" || t.Name != "") && located(s.c):
		loc := s.c.Located()
		verb := map[string]string{catalog.EventCommit: "committed", catalog.EventAbort: "aborted", catalog.EventRestorePoint: "created"}[loc.Event.Kind]
		p.check(CheckTarget, true, "%s is in the WAL: %s at %s (%s, in %s, timeline %d); backup %s ends before it (%s)",
			loc.What, verb, loc.Event.Time.Format(time.RFC3339Nano), loc.Event.LSN, size.Name(loc.TLI, size.SegNoOf(loc.Event.LSN)), loc.TLI, b.ID, b.Info.EndLSN)
	case (t.XID != "" || t.Name != "") && s.c.Located() != nil && s.c.Located().Complete && s.c.Located().Problem == "":
		loc := s.c.Located()
		p.check(CheckTarget, false, "%s is not in the WAL of system %s from backup %s on (%d segments searched, %s back to %s): recovery would replay to the end of the WAL without finding it and stop with \"recovery ended before configured recovery target was reached\"; %s",
			loc.What, orUnknownID(b.SystemID()), loc.Since, loc.SegmentsRead, loc.To, loc.From, win)
	case t.XID != "" || t.Name != "":
		what := "transaction " + t.XID
		if t.Name != "" {
			what = "restore point " + fmt.Sprintf("%q", t.Name)
		}
		why := "cannot be located from the catalog"
		if loc := s.c.Located(); loc != nil && loc.Problem != "" {
			why = "could not be searched for in the WAL (" + loc.Problem + ")"
		} else if loc != nil {
			why = fmt.Sprintf("is not in the newest %d segments of WAL searched (%s back to %s)", loc.SegmentsRead, loc.To, loc.From)
		}
		p.check(CheckTarget, true, "%s %s; WAL from backup %s reaches %s", what, why, b.ID, endLSN)
		p.Warnings = append(p.Warnings, fmt.Sprintf("the catalog cannot tell where %s is: if it happened before backup %s ended (%s), recovery fails; pass --backup-id with an older backup in that case",
			what, b.ID, b.Info.EndTime.Format(time.RFC3339)))
	case t.Immediate:
		p.check(CheckTarget, true, "recovery stops as soon as backup %s is consistent (%s)", b.ID, b.Info.EndLSN)
	case last != nil:
		p.check(CheckTarget, true, "latest: recovery replays all WAL reachable from backup %s, up to %s (last WAL %s); %s",
			b.ID, tail.End, size.Name(r.LastTLI, r.Reached-1), tail.TailText())
	default:
		p.check(CheckTarget, true, "latest: recovery replays all WAL reachable from backup %s, up to %s (last WAL %s, archived %s)",
			b.ID, endLSN, size.Name(r.LastTLI, r.Reached-1), endTime.Format(time.RFC3339))
	}
	return s.p.OK()
}

// targetSegment is the last segment replay needs for the target, and whether it is only an
// upper bound.
func (s *selector) targetSegment() (uint64, bool) {
	t, b := s.in.Target, s.backup
	size := s.c.WAL.SegmentSize()
	last := s.replay.Reached - 1
	switch {
	case t.Immediate:
		w, _ := catalog.ParseWALName(b.Info.EndWAL)
		no, _ := size.SegNo(w.Log, w.Seg)
		return no, false
	case t.LSN != nil:
		return size.SegNoOf(*t.LSN), false
	case t.Time != nil && s.timeStopSegment() != 0:
		return s.timeStopSegment(), false
	case t.Time != nil:
		// The first segment archived at or after the target holds the target's commits.
		for _, st := range s.replay.Stretches {
			for no := st.First; no <= st.Last; no++ {
				if run, ok := s.c.WAL.RunAt(st.TLI, no); ok && !run.Modified(no).Before(*t.Time) {
					return no, false
				}
			}
		}
		return last, false
	case (t.XID != "" || t.Name != "") && located(s.c):
		return size.SegNoOf(s.c.Located().Event.End - 1), false // the whole record is read
	case t.XID != "" || t.Name != "":
		return last, true
	}
	return last, false
}

// located says the catalog found the target's transaction or restore point in the WAL.
func located(c *catalog.Catalog) bool { return c.Located() != nil && c.Located().Event != nil }

func orUnknownID(id string) string {
	if id == "" {
		return "(unknown)"
	}
	return id
}

func (s *selector) checkWAL() {
	p, b := s.p, s.backup
	size := s.c.WAL.SegmentSize()
	w, _ := catalog.ParseWALName(b.Info.BeginWAL)
	begin, _ := size.SegNo(w.Log, w.Seg)
	to, upper := s.targetSegment()
	s.toSeg = to
	var stored int64
	var tls []uint32
	for _, st := range s.replay.Stretches {
		if st.First > to {
			break
		}
		last := min(st.Last, to)
		if run, ok := s.c.WAL.RunAt(st.TLI, st.First); ok {
			stored += run.Bytes / int64(run.Segments()) * int64(last-st.First+1)
		}
		tls = append(tls, st.TLI)
	}
	p.TimelinePath = tls
	if len(tls) > 0 {
		p.PromotedTimeline = s.promotedTimeline(tls[len(tls)-1])
	}
	segs := to - begin + 1
	p.WAL = &WALRange{From: b.Info.BeginWAL, To: size.Name(s.tliOf(to), to), Segments: segs, Bytes: segs * uint64(size), StoredBytes: stored, UpperBound: upper}

	// A gap after the end of the reachable WAL, with WAL archived beyond it, means "latest"
	// would silently lose everything after the gap.
	if s.in.Target.Kind() == catalog.TargetLatest || upper {
		for _, f := range s.c.Findings {
			if f.Check == catalog.CheckWALGap && f.Severity == catalog.SeverityError && f.SystemID == s.lineage.SystemID {
				p.check(CheckWAL, false, "%s; recover to a point before the gap explicitly with --target-lsn %s if that is what you want", f.Message, s.beforeGap())
				return
			}
		}
	}
	p.check(CheckWAL, true, "%d segments from %s to %s are archived on timeline(s) %s", segs, p.WAL.From, p.WAL.To, human.Timelines(tls, " → "))
	if s.foreign != "" {
		p.check(CheckWALSystem, true, "WAL headers name system %s up to the end; the next segment, %s, was written by another database system and ends recovery", b.SystemID(), s.foreign)
		p.Warnings = append(p.Warnings, fmt.Sprintf("WAL %s after this system's last segment belongs to another database system: recovery stops before it", s.foreign))
	} else {
		p.check(CheckWALSystem, true, "the WAL headers read along the replay all name system %s", b.SystemID())
	}
}

// beforeGap is the LSN to suggest for a recovery that stops before a gap: the start of the
// last archived segment (an LSN the replay surely reaches: every archived segment holds a
// record that begins in it), or the backup's end when that is later. The first missing
// segment's start would be refused, by this plan and by PostgreSQL, which never reaches it.
func (s *selector) beforeGap() catalog.LSN {
	size := s.c.WAL.SegmentSize()
	return max(size.StartLSN(s.replay.Reached-1), s.backup.Info.EndLSN)
}

func (s *selector) tliOf(segno uint64) uint32 {
	for _, st := range s.replay.Stretches {
		if segno >= st.First && segno <= st.Last {
			return st.TLI
		}
	}
	return s.replay.LastTLI
}

// parity says which backup CloudNativePG alone would pick for the user's target (without the
// backupID the plan pins), and why the plan's choice is the right one when they differ.
func (s *selector) parity() {
	t, b := s.in.Target, s.backup
	ct := catalog.CNPGTarget{BackupID: t.BackupID, Time: t.Time, LSN: t.LSN}
	if t.TLI != 0 {
		ct.TLI = fmt.Sprint(t.TLI)
	}
	const who = "CloudNativePG alone (barman-cloud's FindBackupInfo, or LatestBackupInfo without a time or LSN target)"
	cn := s.c.CNPGChoice(ct)
	par := &Parity{}
	switch {
	case cn == nil:
		par.Reason = fmt.Sprintf("%s would find no backup for this target; this plan pins backupID %s", who, b.ID)
	case cn.ID == b.ID:
		par.Backup, par.Agrees = cn.ID, true
		par.Reason = fmt.Sprintf("%s would pick the same backup, %s", who, cn.ID)
	default:
		par.Backup = cn.ID
		var why string
		switch {
		case cn.Info.Status != "DONE":
			why = fmt.Sprintf("it is %s, and CloudNativePG reads only its begin and end times, never the status", cn.Status())
		case cn.SystemID() != b.SystemID():
			why = fmt.Sprintf("it is a backup of database system %s, not %s: CloudNativePG never reads systemid", cmp.Or(cn.SystemID(), "unknown"), b.SystemID())
		case !cn.Usable():
			why = "it cannot be restored: " + strings.Join(cn.Problems, "; ")
		case t.LSN != nil && b.Info.EndLSN == *t.LSN:
			why = fmt.Sprintf("CloudNativePG takes only a backup whose end LSN is strictly below the target; %s ends exactly at %s, is consistent there, and replays less WAL", b.ID, *t.LSN)
		default:
			why = fmt.Sprintf("%s is the newest restorable backup of system %s that reaches the target", b.ID, b.SystemID())
		}
		par.Reason = fmt.Sprintf("%s would pick %s: %s; this plan pins backupID %s", who, cn.ID, why, b.ID)
	}
	s.p.CloudNativePG = par
}

// chooseTimeline settles the timeline recovery ends on: the one recovery_target_timeline =
// latest finds, unless the catalog pinned the backup to an older one (latest would follow
// another system's history) or the user asked for one with --target-tli.
func (s *selector) chooseTimeline() bool {
	b, p, want := s.backup, s.p, s.in.Target.TLI
	s.tli, s.replay, s.foreign, s.pinned = b.TargetTLI, b.Replay, b.ForeignWAL, b.PinTLI
	if want == 0 {
		return true
	}
	switch alt, ok := b.Alternatives[want]; {
	case want == b.LatestTLI:
		s.tli, s.replay, s.foreign = b.LatestTLI, b.Latest, b.LatestForeignWAL
	case ok:
		s.tli, s.replay, s.foreign = alt.TLI, alt.Replay, alt.ForeignWAL
	default:
		var on []string
		for _, span := range b.Path {
			if span.TLI >= b.Info.Timeline {
				on = append(on, fmt.Sprint(span.TLI))
			}
		}
		if b.LatestTLI != b.TargetTLI {
			on = append(on, fmt.Sprint(b.LatestTLI))
		}
		p.check(CheckTimelines, false, "--target-tli %d is not a timeline recovery from backup %s (timeline %d) can end on: %s", want, b.ID, b.Info.Timeline, strings.Join(dedupe(on), ", "))
		return false
	}
	s.pinned = true
	return true
}

func dedupe(v []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range v {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// checkTimelines refuses a recovery to the latest point when a newer timeline's history file
// is missing: recovery would stay on an older timeline and lose what the newer one holds.
func (s *selector) checkTimelines() {
	p, b := s.p, s.backup
	for _, f := range s.c.Findings {
		if (f.Check == catalog.CheckMissingHistory || f.Check == catalog.CheckBadHistory) && f.Timeline > s.tli && !s.pinned {
			if s.in.Target.Kind() == catalog.TargetLatest {
				p.check(CheckTimelines, false, "%s; the restore would end on timeline %d", f.Message, s.tli)
				return
			}
			p.Warnings = append(p.Warnings, f.Message)
		}
	}
	switch {
	case s.in.Target.TLI != 0:
		p.check(CheckTimelines, true, "recovery follows timeline(s) %s to timeline %d (targetTLI %d, from --target-tli)", human.Timelines(p.TimelinePath, " → "), s.tli, s.tli)
	case b.PinTLI:
		p.check(CheckTimelines, true, "recovery follows timeline(s) %s to timeline %d (targetTLI %d): %s", human.Timelines(p.TimelinePath, " → "), s.tli, s.tli, b.PinReason)
	default:
		p.check(CheckTimelines, true, "recovery follows timeline(s) %s to timeline %d (recovery_target_timeline = latest)", human.Timelines(p.TimelinePath, " → "), s.tli)
		if b.Abandoned > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("timeline %d's history switches recovery away from timeline %d, but no WAL of timeline %d is archived after the switch: PostgreSQL follows the history and stops there, so %d segments of timeline %d after the switch are not replayed; pass --target-tli %d to replay them if they are the history you want",
				b.LatestTLI, b.AbandonedTLI, b.LatestTLI, b.Abandoned, b.AbandonedTLI, b.AbandonedTLI))
		}
	}
}

// promotedTimeline is the timeline PostgreSQL switches to when recovery on tli ends and it
// promotes: from tli up, the newest timeline with a history file in the archive, plus one
// (findNewestTimeLine in PostgreSQL's timeline.c). A history file that exists but could not be
// read exists all the same.
func (s *selector) promotedTimeline(tli uint32) uint32 {
	newest := tli
	for {
		_, ok := s.c.History[newest+1]
		_, bad := s.c.BadHistory[newest+1]
		if !ok && !bad {
			return newest + 1
		}
		newest++
	}
}

func orEnd(stop string) string {
	if stop == "" {
		return "the end of the segment"
	}
	return stop
}

// timeStopSegment is the last segment recovery to the time reads, as the records say, when it
// is on the chosen backup's replay (0 when unknown).
func (s *selector) timeStopSegment() uint64 {
	no, ok := s.c.TimeStopSegment()
	if !ok || len(s.replay.Stretches) == 0 || no < s.replay.Stretches[0].First || no >= s.replay.Reached {
		return 0
	}
	return no
}
