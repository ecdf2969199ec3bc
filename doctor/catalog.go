package doctor

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// Default ages past which the newest base backup and the newest archived WAL are stale.
const (
	DefaultBackupMaxAge = 48 * time.Hour // without a schedule to read: a daily one that missed a day
	DefaultWALMaxAge    = 6 * time.Hour  // an idle database archives nothing: a warning only
)

// catalogRules are the findings that need the bucket.
var catalogRules = []Rule{
	{"catalog-unreadable", Error, "the cluster's backup catalog cannot be read",
		"what cannot be listed cannot be restored, and nothing else about the archive can be checked",
		"check the destinationPath, the endpoint and the read credentials (the error says which)"},
	{"catalog-two-systems", Error, "the archive path holds more than one database system",
		"a cluster rebuilt with initdb archives into the old one's path: the newest backup is then of the wrong, often empty, database — the runbook's incident",
		"give the rebuilt cluster its own serverName; restore with an explicit --system-id"},
	{"catalog-wal-gap", Error, "the WAL archive has a gap",
		"recovery stops at the first missing segment: everything written after the gap is lost",
		"take a new base backup now (it starts a recoverable window after the gap); then find why archiving skipped segments"},
	{"catalog-no-usable-backup", Error, "no backup in the catalog can be restored",
		"there is nothing to restore from: the cluster is one failure away from losing its data",
		"take a base backup now and check it with cnpg-restore-gen catalog check"},
	{"stale-backup", Error, "the newest base backup is old",
		"a restore replays all WAL since it, slowly, and retention removes what it needs: scheduled backups have stopped",
		"look at the ScheduledBackup's status and the last Backup objects (kubectl get backup); take one by hand meanwhile"},
	{"stale-wal", Warning, "no WAL has been archived for a while",
		"archiving may have stalled: WAL piles up on the volume until it is full (246 .ready files in the runbook's incident), and the recoverable window stops growing",
		"check cnpg_pg_stat_archiver_failed_count and the instance logs; an idle database archives nothing, which is harmless"},
	{"not-restorable", Error, "restoring the latest point now fails the plan's checks",
		"on the day the cluster is lost, cnpg-restore-gen plan (and CloudNativePG's own recovery) refuses or fails the same way",
		"run cnpg-restore-gen plan for the cluster and fix what its failed checks name"},
	{"failed-backups", Warning, "the newest backups failed",
		"failed runs leave the newest good backup older every day",
		"read the failed backups' error (catalog list shows it) and the Backup objects' status"},
}

func init() { Rules = append(Rules, catalogRules...) }

// catalog checks the bucket side of a cluster whose archive the repository names.
func (e *examiner) catalog(c overlays.Object, src *overlays.Source, opts Options) {
	cat, err := opts.Catalog(src)
	if err != nil {
		e.add("catalog-unreadable", c, 0, "%s/%s: %v", src.Catalog, src.ServerName, err)
		return
	}
	for _, f := range cat.Findings {
		switch f.Check {
		case catalog.CheckMixedSystemIDs:
			e.add("catalog-two-systems", c, 0, "%s: %s", cat.Location, f.Message)
		case catalog.CheckWALGap:
			e.add("catalog-wal-gap", c, 0, "%s: %s", cat.Location, f.Message)
		case catalog.CheckNoUsableBackup:
			e.add("catalog-no-usable-backup", c, 0, "%s", f.Message)
		}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	e.restorable(c, src, cat, now)
	walAge := opts.WALMaxAge
	if walAge == 0 {
		walAge = DefaultWALMaxAge
	}
	var newest *catalog.Backup
	failed := 0
	for i := len(cat.Backups) - 1; i >= 0; i-- {
		b := cat.Backups[i]
		if b.Usable() && b.Info != nil {
			newest = b
			break
		}
		if b.Status() == "FAILED" {
			failed++
		}
	}
	if failed >= 2 {
		e.add("failed-backups", c, 0, "the newest %d backups in %s failed", failed, cat.Location)
	}
	if newest != nil {
		e.backupAge(c, cat, newest, now, opts.BackupMaxAge)
	}
	var last time.Time
	for _, tli := range cat.WAL.Timelines() {
		for _, r := range cat.WAL.Runs(tli) {
			if _, hi := r.TimeRange(); hi.After(last) {
				last = hi
			}
		}
	}
	if !last.IsZero() && now.Sub(last) > walAge {
		e.add("stale-wal", c, 0, "the newest WAL in %s was archived %s ago (more than %s)", cat.Location, now.Sub(last).Round(time.Second), walAge)
	}
}

func (e *examiner) catalogOf(c overlays.Object, src *overlays.Source, opts Options) {
	if opts.Catalog == nil || src.Catalog == "" {
		return
	}
	if len(src.Unresolved) > 0 {
		for _, why := range src.Unresolved {
			e.add("catalog-unreadable", c, 0, "%s", why)
			return
		}
	}
	e.catalog(c, src, opts)
}

// scheduleParser reads a ScheduledBackup's schedule as CloudNativePG does: robfig/cron's
// default grammar, six fields with seconds first (five are read seconds first too, the day of
// the week then optional), and the @daily-style descriptors.
var scheduleParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.DowOptional | cron.Descriptor)

// backupAge: the newest usable backup is stale when a scheduled run should have replaced it
// and none did — the first run of any of the cluster's schedules after the backup began, plus
// a grace of an hour or twice the backup's own duration, has passed. With no schedule to read,
// or with maxAge set, the limit is an age (48h by default).
func (e *examiner) backupAge(c overlays.Object, cat *catalog.Catalog, newest *catalog.Backup, now time.Time, maxAge time.Duration) {
	age := now.Sub(newest.Info.EndTime).Round(time.Minute)
	if maxAge == 0 {
		grace := max(time.Hour, 2*newest.Info.EndTime.Sub(newest.Info.BeginTime))
		var due time.Time
		var by overlays.Object
		for _, sb := range e.schedules[c.Namespace+"/"+c.Name] {
			sched, err := scheduleParser.Parse(overlays.StringAt(sb.Body, "spec", "schedule"))
			if err != nil {
				continue // CloudNativePG refuses it too; the ScheduledBackup's status says so
			}
			next := sched.Next(newest.Info.BeginTime.UTC())
			if next.IsZero() {
				continue
			}
			if d := next.Add(grace); due.IsZero() || d.Before(due) {
				due, by = d, sb
			}
		}
		if !due.IsZero() {
			if now.After(due) {
				e.add("stale-backup", c, 0, "the newest usable backup in %s, %s, ended %s ago: ScheduledBackup %s (%q) should have made another by %s (its next run after it, plus %s), and none is in the catalog",
					cat.Location, newest.ID, age, by.Name, overlays.StringAt(by.Body, "spec", "schedule"), due.UTC().Format(time.RFC3339), grace.Round(time.Minute))
			}
			return
		}
		maxAge = DefaultBackupMaxAge
	}
	if now.Sub(newest.Info.EndTime) > maxAge {
		e.add("stale-backup", c, 0, "the newest usable backup in %s, %s, ended %s ago (more than %s)", cat.Location, newest.ID, age, maxAge)
	}
}

// restorable plans a restore of the latest point, as plan would today: the checks about the
// catalog (not those about names in the repository, which a restore picks) must pass.
func (e *examiner) restorable(c overlays.Object, src *overlays.Source, cat *catalog.Catalog, now time.Time) {
	p, err := plan.Make(plan.Input{Catalog: cat, Now: now,
		Source: plan.Source{Namespace: c.Namespace, Name: c.Name, ServerName: src.ServerName, Catalog: src.Catalog}})
	if err != nil {
		e.add("not-restorable", c, 0, "planning a restore of the latest point: %v", err)
		return
	}
	var failed []string
	for _, ch := range p.Failed() {
		switch ch.Name {
		case plan.CheckNewArchive, plan.CheckName, plan.CheckCollisions:
			continue // about the restored cluster's names, chosen at restore time
		}
		failed = append(failed, ch.Name+": "+ch.Detail)
	}
	if len(failed) > 0 {
		e.add("not-restorable", c, 0, "a restore of the latest point from %s fails now: %s", cat.Location, strings.Join(failed, "; "))
	}
}
