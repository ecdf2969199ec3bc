package doctor

import (
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// Default ages past which the newest base backup and the newest archived WAL are stale.
const (
	DefaultBackupMaxAge = 48 * time.Hour // a daily schedule that missed a day
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
	backupAge, walAge := opts.BackupMaxAge, opts.WALMaxAge
	if backupAge == 0 {
		backupAge = DefaultBackupMaxAge
	}
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
	if newest != nil && now.Sub(newest.Info.EndTime) > backupAge {
		e.add("stale-backup", c, 0, "the newest usable backup in %s, %s, ended %s ago (more than %s)", cat.Location, newest.ID, now.Sub(newest.Info.EndTime).Round(time.Minute), backupAge)
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
