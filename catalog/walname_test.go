package catalog

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseWALName(t *testing.T) {
	cases := []struct {
		in   string
		want WALName
	}{
		{"000000010000000000000003", WALName{Kind: WALSegment, TLI: 1, Log: 0, Seg: 3}},
		{"00000002000000A1000000FF.gz", WALName{Kind: WALSegment, TLI: 2, Log: 0xA1, Seg: 0xFF, Compression: "gz"}},
		{"000000010000000000000008.partial.gz", WALName{Kind: WALPartial, TLI: 1, Seg: 8, Compression: "gz"}},
		{"000000010000000000000008.partial", WALName{Kind: WALPartial, TLI: 1, Seg: 8}},
		{"00000002.history", WALName{Kind: WALHistory, TLI: 2}},
		{"0000000A.history.bz2", WALName{Kind: WALHistory, TLI: 10, Compression: "bz2"}},
		{"000000010000000000000002.00000028.backup.zst", WALName{Kind: WALBackupLabel, TLI: 1, Seg: 2, Compression: "zst"}},
		{"000000010000000000000002.snappy", WALName{Kind: WALSegment, TLI: 1, Seg: 2, Compression: "snappy"}},
	}
	for _, c := range cases {
		got, err := ParseWALName(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseWALName(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "000000010000000000000003.tmp", "00000001000000000000000g", "000000010000000000000003x",
		"000000000000000000000001", "00000000.history", "../000000010000000000000003", "0000000100000000000000003",
		"000000010000000000000002.0000002Z.backup", "00000001.history.rar"} {
		if w, err := ParseWALName(bad); err == nil {
			t.Errorf("ParseWALName(%q) = %+v, want an error", bad, w)
		}
	}
}

func TestSegmentSizes(t *testing.T) {
	cases := []struct {
		size     SegmentSize
		log, seg uint32
		segno    uint64
		ok       bool
	}{
		{16 << 20, 0, 0xFF, 0xFF, true},
		{16 << 20, 1, 0, 0x100, true},
		{64 << 20, 1, 0, 0x40, true},
		{64 << 20, 0, 0x40, 0, false},
		{1 << 30, 2, 3, 11, true},
		{1 << 30, 2, 4, 0, false},
		{1 << 20, 0, 0xFFF, 0xFFF, true},
	}
	for _, c := range cases {
		got, err := c.size.SegNo(c.log, c.seg)
		if (err == nil) != c.ok || c.ok && got != c.segno {
			t.Errorf("%s.SegNo(%X, %X) = %d, %v; want %d ok=%v", c.size, c.log, c.seg, got, err, c.segno, c.ok)
		}
		if c.ok {
			if name := c.size.Name(1, c.segno); !strings.HasSuffix(name, strings.ToUpper(hex8(c.log)+hex8(c.seg))) {
				t.Errorf("%s.Name(1, %d) = %s", c.size, c.segno, name)
			}
		}
	}
	for _, bad := range []SegmentSize{0, 1000, 1 << 19, 2 << 30, 3 << 20} {
		if bad.Validate() == nil {
			t.Errorf("SegmentSize(%d).Validate() = nil, want an error", uint64(bad))
		}
	}
}

func hex8(v uint32) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xF]
		v >>= 4
	}
	return string(b)
}

func TestParseLSN(t *testing.T) {
	for in, want := range map[string]LSN{"0/3000028": 0x3000028, "1/0": 1 << 32, "FFFFFFFF/FFFFFFFF": ^LSN(0), "a/b": 0xA0000000B} {
		got, err := ParseLSN(in)
		if err != nil || got != want {
			t.Errorf("ParseLSN(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "/1", "1/", "x/1", "100000000/0", "0/-1"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q) = nil error", bad)
		}
	}
}

func TestParseHistory(t *testing.T) {
	got, err := ParseHistory(3, []byte("1\t0/80000A0\tno recovery target specified\n\n# comment\n2\t0/D000000\tbefore 2026-02-05 02:00:00+00\n"), "h")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Parent != 2 || got[1].Switch != 0xD000000 || got[1].Reason != "before 2026-02-05 02:00:00+00" {
		t.Errorf("ParseHistory = %+v", got)
	}
	path := Path(3, got)
	if len(path) != 3 || path[0] != (TimelineSpan{TLI: 1, End: 0x80000A0}) || path[2] != (TimelineSpan{TLI: 3, Begin: 0xD000000}) {
		t.Errorf("Path = %+v", path)
	}
	for name, bad := range map[string]string{
		"not increasing": "2\t0/1\n1\t0/2\n",
		"parent too new": "3\t0/1\n",
		"bad lsn":        "1\tzz\n",
		"empty":          "# nothing\n",
		"lsn backwards":  "1\t0/5\n2\t0/4\n",
	} {
		if _, err := ParseHistory(3, []byte(bad), "h"); err == nil {
			t.Errorf("ParseHistory(%s) = nil error", name)
		}
	}
}

func TestParseTargetTime(t *testing.T) {
	for in, want := range map[string]string{
		"2026-02-05T02:00:00Z":             "2026-02-05T02:00:00Z",
		"2026-02-05T03:00:00+01:00":        "2026-02-05T02:00:00Z",
		"2026-02-05 03:00:00+01":           "2026-02-05T02:00:00Z",
		"2026-02-05 03:00:00+0100":         "2026-02-05T02:00:00Z",
		"2026-02-05 02:00:00.123456+00:00": "2026-02-05T02:00:00.123456Z",
		"2026-02-05 02:00:00 UTC":          "2026-02-05T02:00:00Z",
	} {
		got, err := ParseTargetTime(in)
		if err != nil || got.Format("2006-01-02T15:04:05.999999Z07:00") != want {
			t.Errorf("ParseTargetTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseTargetTime("2026-02-05 02:00:00"); err == nil || !strings.Contains(err.Error(), "no time zone") {
		t.Errorf("ParseTargetTime(no zone) = %v, want a 'no time zone' error", err)
	}
	if _, err := ParseTargetTime("2026-02-05T02:00:00.1234567Z"); err == nil || !strings.Contains(err.Error(), "microseconds") {
		t.Errorf("ParseTargetTime(nanoseconds) = %v, want a precision error", err)
	}
	if _, err := ParseTargetTime("last tuesday"); err == nil {
		t.Errorf("ParseTargetTime(nonsense) = nil error")
	}
}

// TestEveryFormTheZoneHintNamesIsAccepted: the no-zone error suggests forms; each of them,
// on each of the ways to write a date and a time, parses to the same instant.
func TestEveryFormTheZoneHintNamesIsAccepted(t *testing.T) {
	for _, base := range []string{"2026-11-24", "2026-11-24 17:52", "2026-11-24T17:52", "2026-11-24 17:52:45", "2026-11-24T17:52:45", "2026-11-24 17:52:45.5"} {
		_, err := ParseTargetTime(base)
		if err == nil || !strings.Contains(err.Error(), "no time zone") {
			t.Fatalf("ParseTargetTime(%q) = %v, want the no-zone hint", base, err)
		}
		// The hint's forms, as it prints them.
		forms := regexp.MustCompile(`\(([^)]*)\)`).FindStringSubmatch(err.Error())[1]
		forms = strings.ReplaceAll(forms, " or ", ", ")
		for _, f := range strings.Split(forms, ", ") {
			want, _ := ParseTargetTime(base + "Z")
			got, err := ParseTargetTime(f)
			offset := strings.Contains(f, "+01") && !strings.Contains(f, "+01:00") && !strings.HasSuffix(f, "+0100")
			if err != nil {
				t.Errorf("the hint for %q suggests %q, which is refused: %v", base, f, err)
				continue
			}
			if offset {
				want = want.Add(-time.Hour)
			}
			if !got.Equal(want) {
				t.Errorf("ParseTargetTime(%q) = %s, want %s", f, got, want)
			}
		}
	}
}
