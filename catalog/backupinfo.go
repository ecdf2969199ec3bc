package catalog

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxBackupInfoSize caps how much of a backup.info file is read. Real files are a few KiB.
const MaxBackupInfoSize = 1 << 20

// BackupInfo is one backup.info file as barman wrote it, decoded and validated.
type BackupInfo struct {
	BackupID    string // backup_id (may be absent: the directory name is then the ID)
	BackupName  string // backup_name
	Status      string // status
	Error       string // error, set by barman on FAILED backups
	BeginTime   time.Time
	EndTime     time.Time
	BeginWAL    string // begin_wal, a segment name
	EndWAL      string // end_wal, a segment name
	BeginLSN    LSN    // begin_xlog
	EndLSN      LSN    // end_xlog
	Timeline    uint32 // timeline
	SystemID    string // systemid
	Size        int64  // size
	ClusterSize int64  // cluster_size
	Version     int    // version, PostgreSQL's server_version_num
	SegmentSize SegmentSize
	BackupLabel string // backup_label, the decoded label text

	// Present records which keys the file set to something other than None.
	Present map[string]bool
	// Raw keeps every key with its undecoded value, unknown keys included ("None" for None).
	Raw map[string]string
	// Warnings are oddities that did not make the file invalid.
	Warnings []string
}

var infoKeyRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// ParseBackupInfo decodes a backup.info file. It accepts everything barman's FieldListFile
// writes: key=value lines sorted by key, None for unset values, plain strings, and Python
// literals (repr) for backup_label, tablespaces, copy_stats and included_files. Blank lines and
// # comments are skipped, as barman does. It rejects lines without '=', keys that are not
// identifiers, duplicated keys, binary data, and values of the wrong type for the keys it
// knows, naming the line and key. source names the file in errors (bucket/key or path).
func ParseBackupInfo(data []byte, source string) (*BackupInfo, error) {
	if len(data) > MaxBackupInfoSize {
		return nil, fmt.Errorf("%s: backup.info is %d bytes, more than the %d a real one can be", source, len(data), MaxBackupInfoSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	info := &BackupInfo{Present: map[string]bool{}, Raw: map[string]string{}, SegmentSize: DefaultSegmentSize}
	lineOf := map[string]int{}
	lines := strings.Split(string(data), "\n")
	// barman ends every line with a newline: a last line without one was cut short.
	truncated := len(data) > 0 && data[len(data)-1] != '\n'
	for n, line := range lines {
		lineNo := n + 1
		where := func(format string, a ...any) error {
			msg := fmt.Sprintf(format, a...)
			if truncated && n == len(lines)-1 && !strings.Contains(msg, "truncated") {
				msg += " (the file ends mid-line: it is truncated)"
			}
			return fmt.Errorf("%s:%d: %s", source, lineNo, msg)
		}
		if !utf8.ValidString(line) || strings.ContainsRune(line, 0) {
			return nil, where("binary data, not a backup.info text line")
		}
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key, value, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, where("%q is not a key=value line (is the file truncated?)", clip(trimmed))
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !infoKeyRE.MatchString(key) {
			return nil, where("%q is not a backup.info key", clip(key))
		}
		if first, dup := lineOf[key]; dup {
			return nil, where("key %q is set twice (first on line %d)", key, first)
		}
		lineOf[key] = lineNo
		info.Raw[key] = value
		if value == "None" {
			continue
		}
		info.Present[key] = true
		if err := info.set(key, value); err != nil {
			return nil, where("key %q: %v", key, err)
		}
	}
	return info, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// set decodes one known key into its field; unknown keys stay in Raw only.
func (b *BackupInfo) set(key, value string) error {
	var err error
	switch key {
	case "backup_id":
		b.BackupID = value
	case "backup_name":
		b.BackupName = value
	case "status":
		b.Status = value
	case "error":
		b.Error = value
	case "begin_time":
		b.BeginTime, err = b.parseTime(key, value)
	case "end_time":
		b.EndTime, err = b.parseTime(key, value)
	case "begin_wal":
		b.BeginWAL, err = parseSegmentValue(value)
	case "end_wal":
		b.EndWAL, err = parseSegmentValue(value)
	case "begin_xlog":
		b.BeginLSN, err = ParseLSN(value)
	case "end_xlog":
		b.EndLSN, err = ParseLSN(value)
	case "timeline":
		var v uint64
		v, err = strconv.ParseUint(value, 10, 32)
		if err == nil && v == 0 {
			err = fmt.Errorf("timeline 0 does not exist")
		}
		b.Timeline = uint32(v)
	case "systemid":
		if _, perr := strconv.ParseUint(value, 10, 64); perr != nil {
			err = fmt.Errorf("%q is not a system identifier (an unsigned 64-bit number)", clip(value))
		}
		b.SystemID = value
	case "size":
		b.Size, err = parseSize(value)
	case "cluster_size":
		b.ClusterSize, err = parseSize(value)
	case "version":
		var v int64
		v, err = strconv.ParseInt(value, 10, 32)
		b.Version = int(v)
	case "xlog_segment_size":
		var v uint64
		v, err = strconv.ParseUint(value, 10, 64)
		if err == nil {
			b.SegmentSize = SegmentSize(v)
			err = b.SegmentSize.Validate()
		}
	case "backup_label":
		var v any
		if v, err = parsePyLiteral(value); err == nil {
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("a quoted string was expected, found %T", v)
			}
			b.BackupLabel = s
		}
	case "tablespaces", "copy_stats", "included_files", "snapshots_info":
		_, err = parsePyLiteral(value)
	case "deduplicated_size", "begin_offset", "end_offset":
		_, err = strconv.ParseInt(value, 10, 64)
	}
	if err != nil {
		return err
	}
	return nil
}

func parseSize(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size in bytes", clip(v))
	}
	return n, nil
}

func parseSegmentValue(v string) (string, error) {
	w, err := ParseWALName(v)
	if err != nil || w.Kind != WALSegment || w.Compression != "" {
		return "", fmt.Errorf("%q is not a WAL segment name", clip(v))
	}
	return v, nil
}

// barman writes str(datetime): "2026-02-05 02:00:01.123456+00:00"; dateutil also reads ISO 8601.
var infoTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
}

var naiveTimeLayouts = []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

func (b *BackupInfo) parseTime(key, v string) (time.Time, error) {
	for _, l := range infoTimeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	for _, l := range naiveTimeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s %q has no time zone; read as UTC", key, v))
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp like 2026-02-05 02:00:01.123456+00:00", clip(v))
}

// essentialKeys are what a restore needs from backup.info; without them a backup is unusable.
var essentialKeys = []string{"status", "begin_time", "end_time", "begin_wal", "end_wal", "begin_xlog", "end_xlog", "timeline", "systemid"}

// Missing lists the essential keys the file does not set, sorted.
func (b *BackupInfo) Missing() []string {
	var out []string
	for _, k := range essentialKeys {
		if !b.Present[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
