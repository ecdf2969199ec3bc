package catalog

import (
	"sort"
	"strconv"
	"time"
)

// CNPGTarget is what CloudNativePG's backup selection reads of a recoveryTarget.
type CNPGTarget struct {
	BackupID string
	Time     *time.Time
	LSN      *LSN
	// TLI is targetTLI as written ("" or "latest" are ignored, as CloudNativePG ignores them).
	TLI string
}

// CNPGChoice is the backup CloudNativePG alone would recover from for target, as barman-cloud's
// pkg/catalog does it (FindBackupInfo, else LatestBackupInfo) over barman-cloud-backup-list's
// output: a backup counts when its begin and end times are set — its status and systemid are
// never read — the list is ordered by time (a backup sorts before another when it begins before
// the other ends), backupID wins outright, a time target takes the newest backup ending at or
// before it, an LSN target the newest whose end LSN is strictly below it, an integer targetTLI
// keeps only backups on that timeline. It returns nil when CloudNativePG would find none.
//
// The tool pins backupID in every Cluster it writes, so this is only for explaining where its
// own, stricter choice differs.
func (c *Catalog) CNPGChoice(t CNPGTarget) *Backup {
	var list []*Backup
	for _, b := range c.Backups {
		if b.Info != nil {
			list = append(list, b)
		}
	}
	done := func(b *Backup) bool { return !b.Info.BeginTime.IsZero() && !b.Info.EndTime.IsZero() }
	if t.BackupID != "" {
		for _, b := range list {
			if done(b) && b.ID == t.BackupID {
				return b
			}
		}
		return nil
	}
	sort.Sort(cnpgOrder(list))
	anyTLI := t.TLI == "" || t.TLI == "latest"
	for i := len(list) - 1; i >= 0; i-- {
		b := list[i]
		if !done(b) || !anyTLI && strconv.FormatUint(uint64(b.Info.Timeline), 10) != t.TLI {
			continue
		}
		switch {
		case t.Time != nil && b.Info.EndTime.After(*t.Time):
		case t.Time == nil && t.LSN != nil && b.Info.EndLSN >= *t.LSN:
		default:
			return b
		}
	}
	return nil
}

// cnpgOrder is barman-cloud's sort order: backups without a begin time go last, those without
// an end time first, otherwise a backup is before another when it begins before the other ends.
type cnpgOrder []*Backup

func (o cnpgOrder) Len() int      { return len(o) }
func (o cnpgOrder) Swap(i, j int) { o[i], o[j] = o[j], o[i] }
func (o cnpgOrder) Less(i, j int) bool {
	a, b := o[i].Info, o[j].Info
	switch {
	case a.BeginTime.IsZero():
		return false
	case a.EndTime.IsZero():
		return true
	}
	return a.BeginTime.Before(b.EndTime)
}
