package catalog

import (
	"fmt"
	"strings"
	"time"
)

// Request is what a user wants restored; the zero value means the latest recoverable point.
type Request struct {
	SystemID   string
	BackupID   string
	TargetTime *time.Time
	TargetLSN  *LSN
	// Immediate stops at the end of the backup (targetImmediate).
	Immediate bool
	// Other names a target the catalog cannot check by itself (targetXID, targetName).
	Other string
}

// Answer says whether and how the catalog can deliver a Request.
type Answer struct {
	OK bool
	// Reason explains a refusal, with the recoverable window where it helps.
	Reason  string
	Lineage *Lineage
	Backup  *Backup
	// EndLSN and EndTime are how far recovery can go from Backup (EndTime is the archive time
	// of the last segment, an upper bound for the commits in it).
	EndLSN  LSN
	EndTime time.Time
	Notes   []string
	// Blocking are the error findings that make the catalog unfit for this request.
	Blocking []Finding
}

// Evaluate decides whether the catalog can deliver req, choosing the lineage and backup as
// CloudNativePG would. The plan command refines this; catalog check reports it.
func (c *Catalog) Evaluate(req Request) Answer {
	a := c.evaluate(req)
	for _, f := range c.Findings {
		if f.Severity != SeverityError {
			continue
		}
		switch {
		case f.Check == "mixed-system-ids" && a.Lineage != nil && (req.SystemID != "" || req.BackupID != ""):
			// The user chose the lineage: the others are not in play.
		case f.Check == "wal-overwritten" && a.Backup != nil && f.BackupID != a.Backup.ID:
		case f.Check == "wal-gap" && a.Lineage != nil && f.SystemID != "" && f.SystemID != a.Lineage.SystemID:
		case f.Check == "no-usable-backup" && a.OK:
		default:
			a.Blocking = append(a.Blocking, f)
		}
	}
	return a
}

func (c *Catalog) evaluate(req Request) Answer {
	var a Answer
	size := c.WAL.SegmentSize()
	switch {
	case req.BackupID != "":
		b := c.Backup(req.BackupID)
		if b == nil {
			return refuse("backup %s is not in %s; backups there: %s", req.BackupID, c.Location, c.backupIDs())
		}
		a.Lineage = c.Lineage(b.SystemID())
		if req.SystemID != "" && req.SystemID != b.SystemID() {
			return refuse("backup %s belongs to system %s, not --system-id %s", b.ID, b.SystemID(), req.SystemID)
		}
		if !b.Usable() {
			return refuse("backup %s cannot be restored: %s", b.ID, strings.Join(b.Problems, "; "))
		}
		a.Backup = b
	case req.SystemID != "":
		a.Lineage = c.Lineage(req.SystemID)
		if a.Lineage == nil {
			return refuse("no backup of system %s in %s; systems there: %s", req.SystemID, c.Location, c.systemIDs())
		}
	case len(c.Lineages) == 1:
		a.Lineage = c.Lineages[0]
	case len(c.Lineages) == 0:
		return refuse("%s holds no base backup", c.Location)
	default:
		return refuse("%s holds %d database systems (%s); pass --system-id or --backup-id to choose", c.Location, len(c.Lineages), c.systemIDs())
	}

	l := a.Lineage
	usable := l.Usable()
	if len(usable) == 0 {
		return Answer{Lineage: l, Reason: fmt.Sprintf("no backup of system %s can be restored", l.SystemID)}
	}
	from, _, to, toLSN, _ := l.Window()
	window := fmt.Sprintf("the recoverable window of system %s is %s (end of backup %s) to %s (WAL up to %s, archived %s)",
		l.SystemID, from.Format(time.RFC3339), l.First.ID, toLSN, size.Name(l.Last.Replay.LastTLI, l.Last.Replay.Reached-1), to.Format(time.RFC3339))

	if a.Backup == nil {
		// The newest usable backup that ends before the target.
		for i := len(usable) - 1; i >= 0; i-- {
			b := usable[i]
			if req.TargetTime != nil && b.Info.EndTime.After(*req.TargetTime) {
				continue
			}
			if req.TargetLSN != nil && b.Info.EndLSN > *req.TargetLSN {
				continue
			}
			a.Backup = b
			break
		}
		if a.Backup == nil {
			return Answer{Lineage: l, Reason: "the target is before the end of the oldest usable backup: " + window}
		}
	}
	b := a.Backup
	a.EndLSN, a.EndTime = b.Replay.EndLSN(size), b.Replay.LastModified
	switch {
	case req.TargetTime != nil && req.TargetTime.Before(b.Info.EndTime):
		return Answer{Lineage: l, Backup: b, Reason: fmt.Sprintf("target time %s is before backup %s ends (%s)", req.TargetTime.Format(time.RFC3339), b.ID, b.Info.EndTime.Format(time.RFC3339))}
	case req.TargetTime != nil && req.TargetTime.After(a.EndTime):
		return Answer{Lineage: l, Backup: b, Reason: fmt.Sprintf("target time %s is after the last archived WAL reachable from backup %s: %s", req.TargetTime.Format(time.RFC3339), b.ID, window)}
	case req.TargetLSN != nil && *req.TargetLSN < b.Info.EndLSN:
		return Answer{Lineage: l, Backup: b, Reason: fmt.Sprintf("target LSN %s is before backup %s is consistent (%s)", *req.TargetLSN, b.ID, b.Info.EndLSN)}
	case req.TargetLSN != nil && *req.TargetLSN >= a.EndLSN:
		return Answer{Lineage: l, Backup: b, Reason: fmt.Sprintf("target LSN %s is beyond the archived WAL reachable from backup %s (up to %s): %s", *req.TargetLSN, b.ID, a.EndLSN, window)}
	}
	if req.Other != "" {
		a.Notes = append(a.Notes, req.Other+" cannot be checked against the catalog: recovery will stop there only if the WAL after backup "+b.ID+" contains it")
	}
	a.OK = true
	return a
}

func refuse(format string, args ...any) Answer {
	return Answer{Reason: fmt.Sprintf(format, args...)}
}

func (c *Catalog) backupIDs() string {
	var ids []string
	for _, b := range c.Backups {
		ids = append(ids, b.ID)
	}
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

func (c *Catalog) systemIDs() string {
	var ids []string
	for _, l := range c.Lineages {
		ids = append(ids, fmt.Sprintf("%s with %s up to %s", orUnknown(l.SystemID), plural(len(l.Backups), "backup"), l.Backups[len(l.Backups)-1].ID))
	}
	return strings.Join(ids, "; ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
