package catalog

import (
	"fmt"
	"strings"
	"time"
)

// Candidate says why a backup was or wasn't chosen for a target.
type Candidate struct {
	ID     string `json:"id"`
	Chosen bool   `json:"chosen"`
	Reason string `json:"reason"`
}

// What a Selection could not choose.
const (
	RefusedBackup  = "backup"  // the backup asked for, or any restorable one
	RefusedLineage = "lineage" // the database system
	RefusedTarget  = "target"  // a backup that ends before the target
)

// Selection is the backup chosen for a Target, as CloudNativePG chooses it when backupID is not
// pinned — the newest restorable backup of the system that ends at or before the target — with
// the reason every other backup was not chosen.
type Selection struct {
	Lineage *Lineage
	// LineageReason says how the system was chosen (set with Lineage).
	LineageReason string
	Backup        *Backup
	// Candidates are the backups, newest first within the chosen system, then the others.
	Candidates []Candidate
	// Refused is RefusedBackup, RefusedLineage or RefusedTarget when no backup was chosen;
	// Reason says why, with what the catalog holds instead.
	Refused string
	Reason  string
}

// Select chooses the system and the backup for t. It is the one backup selector: catalog check
// and the plan both use it, and the plan adds its checks of the target and WAL on top.
func (c *Catalog) Select(t Target) Selection {
	var s Selection
	if c.selectLineage(t, &s) {
		c.selectBackup(t, &s)
	}
	return s
}

func (s *Selection) refuse(what, format string, a ...any) bool {
	s.Refused, s.Reason = what, fmt.Sprintf(format, a...)
	return false
}

func (c *Catalog) selectLineage(t Target, s *Selection) bool {
	switch {
	case t.BackupID != "":
		b := c.Backup(t.BackupID)
		if b == nil {
			return s.refuse(RefusedBackup, "backup %s is not in %s; backups there: %s", t.BackupID, c.Location, c.backupIDs())
		}
		if t.SystemID != "" && t.SystemID != b.SystemID() {
			return s.refuse(RefusedLineage, "backup %s belongs to system %s, not --system-id %s", b.ID, orUnknown(b.SystemID()), t.SystemID)
		}
		s.Lineage = c.Lineage(b.SystemID())
		s.LineageReason = fmt.Sprintf("backup %s chosen with --backup-id: system %s", b.ID, orUnknown(b.SystemID()))
	case t.SystemID != "":
		s.Lineage = c.Lineage(t.SystemID)
		if s.Lineage == nil {
			return s.refuse(RefusedLineage, "no backup of system %s in %s; systems there: %s", t.SystemID, c.Location, c.lineageList())
		}
		s.LineageReason = fmt.Sprintf("system %s chosen with --system-id (%d systems in the catalog)", t.SystemID, len(c.Lineages))
	case len(c.Lineages) == 0:
		return s.refuse(RefusedBackup, "%s holds no base backup", c.Location)
	case len(c.Lineages) == 1:
		s.Lineage = c.Lineages[0]
		s.LineageReason = "one database system in the catalog: " + orUnknown(s.Lineage.SystemID)
	default:
		return s.refuse(RefusedLineage, "%s holds %d database systems — %s. The newest backup may belong to a different, rebuilt database; pass --system-id (or --backup-id) to choose",
			c.Location, len(c.Lineages), c.lineageList())
	}
	return true
}

// misses says why backup b does not reach target t ("" when it does): it ends after the
// target time or LSN.
// missesLocated is misses, and for a transaction or restore point the WAL located: a backup
// that ends after its record, or whose replay does not pass through it, cannot reach it.
func (c *Catalog) missesLocated(b *Backup, t Target) string {
	loc := c.located
	if (t.XID == "" && t.Name == "") || loc == nil || loc.Event == nil {
		return misses(b.Info, t)
	}
	size := c.WAL.SegmentSize()
	seg := size.SegNoOf(loc.Event.LSN)
	if b.Info.EndLSN > loc.Event.LSN {
		return fmt.Sprintf("ends at %s, after %s (%s)", b.Info.EndLSN, loc.What, loc.Event.LSN)
	}
	for _, r := range []Replay{b.Replay, b.Latest} {
		for _, st := range r.Stretches {
			if st.TLI == loc.TLI && st.First <= seg && seg <= st.Last {
				return ""
			}
		}
	}
	return fmt.Sprintf("its replay does not pass through %s (%s, timeline %d)", loc.What, loc.Event.LSN, loc.TLI)
}

func misses(i *BackupInfo, t Target) string {
	switch {
	case t.Time != nil && i.EndTime.After(*t.Time):
		return fmt.Sprintf("ends at %s, after the target time", i.EndTime.Format(time.RFC3339))
	case t.LSN != nil && i.EndLSN > *t.LSN:
		return fmt.Sprintf("ends at %s, after the target LSN", i.EndLSN)
	}
	return ""
}

func (c *Catalog) selectBackup(t Target, s *Selection) {
	var chosen *Backup
	for _, b := range c.Backups {
		if b.SystemID() != s.Lineage.SystemID {
			s.Candidates = append(s.Candidates, Candidate{ID: b.ID, Reason: "belongs to system " + orUnknown(b.SystemID())})
		}
	}
	var mine []Candidate
	bs := s.Lineage.Backups
	for i := len(bs) - 1; i >= 0; i-- {
		b := bs[i]
		reason := ""
		switch {
		case t.BackupID != "" && b.ID != t.BackupID:
			reason = "not the backup asked for with --backup-id"
		case t.BackupID == "" && t.TLI != 0 && b.Info != nil && b.Info.Timeline != t.TLI:
			reason = fmt.Sprintf("on timeline %d: with targetTLI %d CloudNativePG considers only backups on that timeline", b.Info.Timeline, t.TLI)
		case b.NotExamined && chosen != nil:
			reason = "older than the chosen backup " + chosen.ID + " (its WAL was not read)"
		case !b.Usable():
			reason = "cannot be restored: " + strings.Join(b.Problems, "; ")
		case t.BackupID != "":
		case chosen != nil:
			reason = "older than the chosen backup " + chosen.ID
		default:
			reason = c.missesLocated(b, t)
		}
		if reason != "" {
			mine = append(mine, Candidate{ID: b.ID, Reason: reason})
			continue
		}
		chosen = b
		why := "the newest restorable backup"
		switch {
		case t.BackupID != "":
			why = "asked for with --backup-id"
		case t.Time != nil:
			why = "the newest restorable backup that ends at or before the target time"
		case t.LSN != nil:
			why = "the newest restorable backup that ends at or before the target LSN"
		case c.located != nil && c.located.Event != nil:
			why = fmt.Sprintf("the newest restorable backup that ends before %s (%s), as the WAL says", c.located.What, c.located.Event.LSN)
		}
		mine = append(mine, Candidate{ID: b.ID, Chosen: true, Reason: why})
	}
	s.Candidates = append(s.Candidates, mine...)
	l := s.Lineage
	switch {
	case chosen != nil:
		s.Backup = chosen
	case t.BackupID != "":
		b := c.Backup(t.BackupID)
		s.refuse(RefusedBackup, "backup %s (%s) cannot be restored: %s", b.ID, b.Status(), strings.Join(b.Problems, "; "))
	case len(l.Usable()) == 0:
		s.refuse(RefusedBackup, "no backup of system %s can be restored", orUnknown(l.SystemID))
	case t.TLI != 0 && !onTimeline(l.Usable(), t.TLI):
		s.refuse(RefusedBackup, "no restorable backup of system %s is on timeline %d, and with targetTLI %d CloudNativePG considers only backups on that timeline; pass --backup-id to recover from another timeline's backup", orUnknown(l.SystemID), t.TLI, t.TLI)
	default:
		s.refuse(RefusedTarget, "the target is before the end of the oldest restorable backup: %s", l.WindowText())
	}
}

func onTimeline(bs []*Backup, tli uint32) bool {
	for _, b := range bs {
		if b.Info.Timeline == tli {
			return true
		}
	}
	return false
}

// WindowText says from when to when the system can be recovered, for messages.
func (l *Lineage) WindowText() string {
	from, fromLSN, to, toLSN, ok := l.Window()
	if !ok {
		return fmt.Sprintf("system %s has no restorable backup", l.SystemID)
	}
	return fmt.Sprintf("system %s is recoverable from %s (%s, end of backup %s) to %s (%s, archive time of the last WAL)",
		l.SystemID, from.Format(time.RFC3339), fromLSN, l.First.ID, to.Format(time.RFC3339), toLSN)
}

// lineageList names each system with its backups and WAL, for messages.
func (c *Catalog) lineageList() string {
	var parts []string
	for _, l := range c.Lineages {
		first, last := l.Backups[0], l.Backups[len(l.Backups)-1]
		span := fmt.Sprintf("%d backups %s … %s", len(l.Backups), first.ID, last.ID)
		if len(l.Backups) == 1 {
			span = "1 backup " + first.ID
		}
		if _, _, to, toLSN, ok := l.Window(); ok {
			span += fmt.Sprintf(", WAL to %s (%s)", to.Format(time.RFC3339), toLSN)
		}
		parts = append(parts, fmt.Sprintf("%s: %s", orUnknown(l.SystemID), span))
	}
	return strings.Join(parts, "; ")
}

// WALFrom returns an Options.WALFrom for t: the first WAL segment of the backup Select would
// choose if every DONE backup could be restored, so that Load lists only the WAL from there
// on. When that backup turns out not to be restorable, or the catalog holds several systems,
// a plan on the pruned catalog fails a check and is made again on a full scan, so that
// refusals are explained from the whole catalog.
func WALFrom(t Target) func([]*Backup) string {
	return func(backups []*Backup) string {
		var best *Backup
		for _, b := range backups {
			i := b.Info
			if i == nil || i.Status != "DONE" || !i.Present["begin_wal"] || !i.Present["end_time"] || !i.Present["end_xlog"] {
				continue
			}
			switch {
			case t.BackupID != "":
				if b.ID == t.BackupID {
					return i.BeginWAL
				}
				continue
			case t.XID != "" || t.Name != "":
				return "" // where it is, the WAL says: all of it is listed
			case t.SystemID != "" && i.SystemID != t.SystemID, misses(i, t) != "":
				continue
			}
			if best == nil || b.ID > best.ID {
				best = b
			}
		}
		if best == nil {
			return ""
		}
		return best.Info.BeginWAL
	}
}
