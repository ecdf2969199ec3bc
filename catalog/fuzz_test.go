package catalog

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseBackupInfo: the parser never panics, and whatever it accepts is self-consistent.
func FuzzParseBackupInfo(f *testing.F) {
	real, _ := os.ReadFile("testdata/barman-cloud-3.4-pg15.backup.info")
	f.Add(real)
	f.Add([]byte("status=DONE\nbackup_label='a\\nb'\ntablespaces=[('t', 1, '/x')]\n"))
	f.Add([]byte("copy_stats={'a': [1, (2, 3)], 'b': None}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseBackupInfo(data, "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for k := range info.Present {
			if _, ok := info.Raw[k]; !ok {
				t.Fatalf("present key %q missing from Raw", k)
			}
		}
		if info.Present["xlog_segment_size"] && info.SegmentSize.Validate() != nil {
			t.Fatalf("accepted invalid segment size %d", info.SegmentSize)
		}
		if info.Present["begin_wal"] {
			if w, err := ParseWALName(info.BeginWAL); err != nil || w.Kind != WALSegment {
				t.Fatalf("accepted begin_wal %q", info.BeginWAL)
			}
		}
	})
}

// FuzzParseWALName: accepted names round-trip through Segment/HashDir.
func FuzzParseWALName(f *testing.F) {
	for _, s := range []string{"000000010000000000000003", "00000002.history.gz", "000000010000000000000008.partial",
		"000000010000000000000002.00000028.backup", "0000000100000000000000FF.zst", "xyz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		w, err := ParseWALName(name)
		if err != nil {
			return
		}
		if w.TLI == 0 {
			t.Fatalf("accepted timeline 0 in %q", name)
		}
		if w.Kind == WALHistory {
			if w.HashDir() != "" || !strings.HasPrefix(strings.ToUpper(name), hex8(w.TLI)) {
				t.Fatalf("history %q decoded as %+v", name, w)
			}
			return
		}
		if !strings.HasPrefix(name, w.Segment()) || w.HashDir() != name[:16] {
			t.Fatalf("%q decoded as %+v (segment %s)", name, w, w.Segment())
		}
	})
}

// FuzzParseHistory: accepted histories are increasing and older than their timeline.
func FuzzParseHistory(f *testing.F) {
	f.Add(uint32(3), []byte("1\t0/80000A0\tno recovery target specified\n2\t0/D000000\treason\n"))
	f.Add(uint32(2), []byte("# c\n1 0/1\n"))
	f.Fuzz(func(t *testing.T, tli uint32, data []byte) {
		h, err := ParseHistory(tli, data, "h")
		if err != nil {
			return
		}
		for i, e := range h {
			if e.Parent >= tli || i > 0 && (e.Parent <= h[i-1].Parent || e.Switch < h[i-1].Switch) {
				t.Fatalf("accepted %+v for timeline %d", h, tli)
			}
		}
		p := Path(tli, h)
		if p[len(p)-1].TLI != tli || p[len(p)-1].End != 0 {
			t.Fatalf("path %+v does not end on timeline %d", p, tli)
		}
	})
}

// FuzzParseTime: accepted times carry a zone in the input and come back in UTC.
func FuzzParseTargetTime(f *testing.F) {
	for _, s := range []string{"2026-02-05T02:00:00Z", "2026-02-05 03:00:00+01", "2026-02-05 02:00:00", "2026-02-05 02:00:00 UTC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTargetTime(s)
		if err != nil {
			if !utf8.ValidString(err.Error()) && utf8.ValidString(s) {
				t.Fatalf("invalid error text for %q", s)
			}
			return
		}
		if got.Location().String() != "UTC" || got.Nanosecond()%1000 != 0 {
			t.Fatalf("ParseTargetTime(%q) = %v, not UTC", s, got)
		}
		trimmed := strings.TrimSpace(s)
		if !strings.ContainsAny(trimmed[10:], "Z+-") && !strings.HasSuffix(trimmed, "UTC") && !strings.HasSuffix(trimmed, "GMT") {
			t.Fatalf("ParseTargetTime(%q) accepted a time without a zone", s)
		}
	})
}
