package plan

import (
	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// WALFrom returns a catalog.Options.WALFrom for a target: the first WAL segment of the backup
// the plan would choose if every DONE backup could be restored, so that the scan lists only the
// WAL from there on. When that backup turns out not to be restorable, or the catalog holds
// several systems, the pruned plan fails a check and the caller plans again on a full scan:
// refusals are always explained from the whole catalog.
func WALFrom(t Target) func([]*catalog.Backup) string {
	return func(backups []*catalog.Backup) string {
		var best *catalog.Backup
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
			case t.SystemID != "" && i.SystemID != t.SystemID:
				continue
			case t.Time != nil && i.EndTime.After(*t.Time):
				continue
			case t.LSN != nil && i.EndLSN > *t.LSN:
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
