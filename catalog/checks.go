package catalog

// The checks a Finding reports, as they appear in `catalog check` and in JSON.
const (
	CheckWALOverwritten        = "wal-overwritten"
	CheckForeignWAL            = "foreign-wal"
	CheckLatestTimelineForeign = "latest-timeline-foreign"
	CheckHistoryWithoutWAL     = "history-without-wal"
	CheckBackupUnusable        = "backup-unusable"
	CheckPartialSegment        = "partial-segment"
	CheckStrayObject           = "stray-object"
	CheckMixedSystemIDs        = "mixed-system-ids"
	CheckWALGap                = "wal-gap"
	CheckNoUsableBackup        = "no-usable-backup"
	CheckBadHistory            = "bad-history"
	CheckMissingHistory        = "missing-history"
	CheckTimelineWithoutBackup = "timeline-without-backup"
)
