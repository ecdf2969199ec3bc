package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultSegmentSize is PostgreSQL's default WAL segment size (wal_segment_size), 16 MiB.
const DefaultSegmentSize = 16 << 20

// WALKind says what an object under wals/ is.
type WALKind int

const (
	// WALSegment is a complete WAL segment, e.g. 000000010000000000000003.
	WALSegment WALKind = iota + 1
	// WALPartial is the last, incomplete segment of a timeline (…03.partial).
	WALPartial
	// WALHistory is a timeline history file, e.g. 00000002.history.
	WALHistory
	// WALBackupLabel is a backup label file, e.g. 000000010000000000000002.00000028.backup.
	WALBackupLabel
)

func (k WALKind) String() string {
	switch k {
	case WALSegment:
		return "segment"
	case WALPartial:
		return "partial"
	case WALHistory:
		return "history"
	case WALBackupLabel:
		return "backup-label"
	}
	return "unknown"
}

// compressionSuffixes are the suffixes barman-cloud-wal-archive and barman-cloud-backup add.
var compressionSuffixes = []string{".gz", ".bz2", ".snappy", ".zst", ".lz4", ".xz"}

// WALName is a decoded WAL archive file name.
type WALName struct {
	Kind WALKind
	// TLI is the timeline.
	TLI uint32
	// Log and Seg are the two halves of the segment part of the name ("XXXXXXXX" "YYYYYYYY").
	// They are zero for history files.
	Log, Seg uint32
	// Compression is the compression suffix without the dot ("gz"), empty when uncompressed.
	Compression string
}

// Segment returns the 24-hex-digit segment name (without suffixes); "" for a history file.
func (w WALName) Segment() string {
	if w.Kind == WALHistory {
		return ""
	}
	return fmt.Sprintf("%08X%08X%08X", w.TLI, w.Log, w.Seg)
}

// HashDir is the directory under wals/ where barman keeps this file: the first 16 hex digits of
// a segment name, and "" (the wals/ directory itself) for history files.
func (w WALName) HashDir() string {
	if w.Kind == WALHistory {
		return ""
	}
	return fmt.Sprintf("%08X%08X", w.TLI, w.Log)
}

// ParseWALName decodes the base name of an object stored under wals/. It accepts the names
// barman writes: segments, .partial segments, .history files and .backup labels, each with an
// optional compression suffix.
func ParseWALName(name string) (WALName, error) {
	var w WALName
	base := name
	for _, s := range compressionSuffixes {
		if strings.HasSuffix(base, s) {
			w.Compression = s[1:]
			base = strings.TrimSuffix(base, s)
			break
		}
	}
	switch {
	case len(base) == 24:
		w.Kind = WALSegment
	case len(base) == 32 && strings.HasSuffix(base, ".partial"):
		w.Kind = WALPartial
		base = base[:24]
	case len(base) == 16 && strings.HasSuffix(base, ".history"):
		w.Kind = WALHistory
		base = base[:8]
	case len(base) == 40 && strings.HasSuffix(base, ".backup") && base[24] == '.':
		if !isUpperHex(base[25:33]) {
			return WALName{}, fmt.Errorf("WAL name %q: backup label offset %q is not hexadecimal", name, base[25:33])
		}
		w.Kind = WALBackupLabel
		base = base[:24]
	default:
		return WALName{}, fmt.Errorf("WAL name %q: not a segment, .partial, .history or .backup name", name)
	}
	if !isUpperHex(base) {
		return WALName{}, fmt.Errorf("WAL name %q: %q is not upper-case hexadecimal", name, base)
	}
	tli, _ := strconv.ParseUint(base[:8], 16, 32)
	if tli == 0 {
		return WALName{}, fmt.Errorf("WAL name %q: timeline 0 does not exist", name)
	}
	w.TLI = uint32(tli)
	if w.Kind != WALHistory {
		log, _ := strconv.ParseUint(base[8:16], 16, 32)
		seg, _ := strconv.ParseUint(base[16:24], 16, 32)
		w.Log, w.Seg = uint32(log), uint32(seg)
	}
	return w, nil
}

func isUpperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return len(s) > 0
}

// SegmentSize describes the WAL segment size of a database system and converts between segment
// names and segment numbers. PostgreSQL numbers segments continuously; the name splits that
// number into "log" and "seg" halves with SegmentsPerLog segments in each log.
type SegmentSize uint64

// Validate checks that the size is one PostgreSQL allows: a power of two from 1 MiB to 1 GiB.
func (s SegmentSize) Validate() error {
	if s < 1<<20 || s > 1<<30 || s&(s-1) != 0 {
		return fmt.Errorf("WAL segment size %d is not a power of two between 1 MiB and 1 GiB", uint64(s))
	}
	return nil
}

// SegmentsPerLog is how many segments share one "log" half of the name (256 for 16 MiB).
func (s SegmentSize) SegmentsPerLog() uint64 { return 0x100000000 / uint64(s) }

// SegNo returns the segment number of a name, or an error when the "seg" half is out of range
// for this segment size (a sign that the size is wrong).
func (s SegmentSize) SegNo(log, seg uint32) (uint64, error) {
	per := s.SegmentsPerLog()
	if uint64(seg) >= per {
		return 0, fmt.Errorf("segment %08X%08X is out of range for %s WAL segments", log, seg, s)
	}
	return uint64(log)*per + uint64(seg), nil
}

// Name returns the 24-hex-digit name of segment segno on timeline tli.
func (s SegmentSize) Name(tli uint32, segno uint64) string {
	per := s.SegmentsPerLog()
	return fmt.Sprintf("%08X%08X%08X", tli, segno/per, segno%per)
}

// SegNoOf returns the number of the segment that contains lsn.
func (s SegmentSize) SegNoOf(lsn LSN) uint64 { return uint64(lsn) / uint64(s) }

// StartLSN is the first LSN of segment segno.
func (s SegmentSize) StartLSN(segno uint64) LSN { return LSN(segno * uint64(s)) }

func (s SegmentSize) String() string {
	if s%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", s>>30)
	}
	return fmt.Sprintf("%d MiB", s>>20)
}

// LSN is a PostgreSQL write-ahead log location.
type LSN uint64

// ParseLSN parses the "X/Y" form PostgreSQL prints.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("LSN %q is not of the form X/Y (hexadecimal, e.g. 0/3000060)", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("LSN %q is not of the form X/Y (hexadecimal, e.g. 0/3000060)", s)
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// MarshalText writes the LSN as PostgreSQL prints it (in JSON, "0/3000060").
func (l LSN) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads the X/Y form.
func (l *LSN) UnmarshalText(b []byte) error {
	v, err := ParseLSN(string(b))
	*l = v
	return err
}
