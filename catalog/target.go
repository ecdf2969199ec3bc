package catalog

import (
	"fmt"
	"time"
)

// Target is what a user asks to recover: at most one of Time, LSN, XID, Name and Immediate,
// with the backup, system and timeline it must come from. The zero value means the latest
// recoverable point. The catalog chooses the backup for it (Select); the plan adds its checks.
type Target struct {
	BackupID  string
	SystemID  string
	Time      *time.Time
	LSN       *LSN
	XID       string
	Name      string
	Immediate bool
	// Exclusive stops just before the target instead of just after it.
	Exclusive bool
	// TLI is the timeline recovery must end on (targetTLI); 0 means the one PostgreSQL finds
	// with recovery_target_timeline = latest.
	TLI uint32
}

// Target kinds, as Kind returns them.
const (
	TargetLatest    = "latest"
	TargetTime      = "time"
	TargetLSN       = "lsn"
	TargetXID       = "xid"
	TargetName      = "name"
	TargetImmediate = "immediate"
)

// Kind names the target: latest, time, lsn, xid, name or immediate.
func (t Target) Kind() string {
	switch {
	case t.Time != nil:
		return TargetTime
	case t.LSN != nil:
		return TargetLSN
	case t.XID != "":
		return TargetXID
	case t.Name != "":
		return TargetName
	case t.Immediate:
		return TargetImmediate
	}
	return TargetLatest
}

// Describe says in words what was asked, times in UTC.
func (t Target) Describe() string {
	var s string
	switch t.Kind() {
	case TargetTime:
		s = "time " + t.Time.UTC().Format(time.RFC3339Nano)
	case TargetLSN:
		s = "LSN " + t.LSN.String()
	case TargetXID:
		s = "transaction " + t.XID
	case TargetName:
		s = fmt.Sprintf("restore point %q", t.Name)
	case TargetImmediate:
		s = "the end of the backup"
	default:
		s = "the latest recoverable point"
	}
	if t.Exclusive && t.Kind() != TargetLatest && t.Kind() != TargetImmediate && t.Kind() != TargetName {
		s += " (exclusive)"
	}
	if t.BackupID != "" {
		s += ", from backup " + t.BackupID
	}
	if t.SystemID != "" {
		s += ", system " + t.SystemID
	}
	if t.TLI != 0 {
		s += fmt.Sprintf(", timeline %d", t.TLI)
	}
	return s
}
