package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Answer says whether and how the catalog can deliver a Target.
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
func (c *Catalog) Evaluate(req Target) Answer {
	a := c.evaluate(req)
	for _, f := range c.Findings {
		if f.Severity != SeverityError {
			continue
		}
		switch {
		case f.Check == CheckMixedSystemIDs && a.Lineage != nil && (req.SystemID != "" || req.BackupID != ""):
			// The user chose the lineage: the others are not in play.
		case f.Check == CheckWALOverwritten && a.Backup != nil && f.BackupID != a.Backup.ID:
		case f.Check == CheckWALGap && a.Lineage != nil && f.SystemID != "" && f.SystemID != a.Lineage.SystemID:
		case f.Check == CheckNoUsableBackup && a.OK:
		default:
			a.Blocking = append(a.Blocking, f)
		}
	}
	return a
}

func (c *Catalog) evaluate(req Target) Answer {
	var a Answer
	size := c.WAL.SegmentSize()
	sel := c.Select(req)
	a.Lineage, a.Backup = sel.Lineage, sel.Backup
	if sel.Backup == nil {
		return Answer{Lineage: sel.Lineage, Reason: sel.Reason}
	}
	l := a.Lineage
	window := l.WindowText()
	b := a.Backup
	a.EndLSN, a.EndTime = b.Replay.EndLSN(size), b.Replay.LastModified
	switch {
	case req.Time != nil && req.Time.Before(b.Info.EndTime):
		return Answer{Lineage: l, Backup: b, Reason: fmt.Sprintf("target time %s is before backup %s ends (%s)", req.Time.Format(time.RFC3339), b.ID, b.Info.EndTime.Format(time.RFC3339))}
	case req.Time != nil && req.Time.After(a.EndTime):
		return Answer{Lineage: l, Backup: b, Reason: fmt.Sprintf("target time %s is after the last archived WAL reachable from backup %s: %s", req.Time.Format(time.RFC3339), b.ID, window)}
	case req.LSN != nil && *req.LSN < b.Info.EndLSN:
		return Answer{Lineage: l, Backup: b, Reason: fmt.Sprintf("target LSN %s is before backup %s is consistent (%s)", *req.LSN, b.ID, b.Info.EndLSN)}
	case req.LSN != nil && *req.LSN >= a.EndLSN:
		return Answer{Lineage: l, Backup: b, Reason: fmt.Sprintf("target LSN %s is beyond the archived WAL reachable from backup %s (up to %s): %s", *req.LSN, b.ID, a.EndLSN, window)}
	}
	if other := otherTarget(req); other != "" {
		a.Notes = append(a.Notes, other+" cannot be checked against the catalog: recovery will stop there only if the WAL after backup "+b.ID+" contains it")
	}
	a.OK = true
	return a
}

// otherTarget names a target the catalog cannot place by itself (a transaction or a restore
// point), or "".
func otherTarget(t Target) string {
	switch t.Kind() {
	case TargetXID:
		return "target XID " + t.XID
	case TargetName:
		return "restore point " + strconv.Quote(t.Name)
	}
	return ""
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
