package catalog_test

import (
	"reflect"
	"testing"
	"time"

	. "github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
)

const seg16 = 16 << 20

// A stored segment is decompressed only as far as its records are read, through a window of
// about a megabyte, and reads the same as the whole segment does.
func TestStoredWALIsDecompressedOnlyAsFarAsItIsRead(t *testing.T) {
	start := LSN(5 * seg16)
	full := newWALBuilder(start, 16)
	full.SegSize = seg16
	full.Commit(900, t0)
	full.FillTo(start + seg16 - 64<<10)
	full.Commit(901, t0.Add(time.Second))
	full.PadTo(start + seg16)

	switched := newWALBuilder(start, 16)
	switched.SegSize = seg16
	switched.Commit(900, t0)
	switched.FillTo(start + 100<<10)
	switched.Commit(901, t0.Add(time.Second))
	switched.Switch()

	for _, tc := range []struct {
		name        string
		b           *walBuilder
		compression string
		maxExpanded int // how far into the segment reading may decompress
	}{
		{"a segment full of records, gzip", full, "gz", seg16},
		{"a segment full of records, zstd", full, "zst", seg16},
		{"a switched segment, gzip", switched, "gz", 256 << 10},
		{"a switched segment, lz4", switched, "lz4", 256 << 10},
		{"a switched segment, not compressed", switched, "", seg16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.b.Segment(start)
			want, err := ReadWALRecords(start, raw)
			if err != nil {
				t.Fatal(err)
			}
			stored := catalogtest.Compress(t, raw, tc.compression)
			first, again, reads, err := ReadStoredWAL(start, [][]byte{stored}, tc.compression, seg16, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(first, want) || !reflect.DeepEqual(again, want) {
				t.Fatalf("read through a chunk:\n%+v\nread again:\n%+v\nwhole segment:\n%+v", first, again, want)
			}
			r := reads[0]
			if r.Err != nil || r.Decompressed > tc.maxExpanded {
				t.Fatalf("decompressed %d bytes (at most %d), error %v", r.Decompressed, tc.maxExpanded, r.Err)
			}
			if tc.compression != "" && r.Window > 3<<20 { // an uncompressed one is its download
				t.Fatalf("the window grew to %d bytes: reading a segment must not hold it whole", r.Window)
			}
		})
	}
}

// A segment read for its own records takes only the beginning of the next, for the record
// that crosses into it.
func TestTheNextSegmentIsReadOnlyForTheRecordCrossingIntoIt(t *testing.T) {
	start := LSN(5 * seg16)
	b := newWALBuilder(start, 17)
	b.SegSize = seg16
	b.Commit(900, t0)
	b.FillTo(start + seg16 - 8000)
	b.Align()
	// The commit's header starts 16 bytes before the boundary: it ends in the second segment.
	b.Record(catalogtest.RmHeap, 0, 900, mainOnly(make([]byte, int(start+seg16-16-b.Pos())-24-5)))
	cross := b.Commit(901, t0.Add(time.Second))
	b.FillTo(start + 2*seg16 - 64<<10)
	b.Commit(902, t0.Add(2*time.Second))
	b.PadTo(start + 2*seg16)

	stored := [][]byte{catalogtest.Compress(t, b.Segment(start), "gz"), catalogtest.Compress(t, b.Segment(start+seg16), "gz")}
	w, _, reads, err := ReadStoredWAL(start, stored, "gz", seg16, start+seg16)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(w.Events); n != 2 || w.Events[1].LSN != cross || w.Events[1].End <= start+seg16 {
		t.Fatalf("events %+v: want the two commits starting in the first segment, the second ending in the next", w.Events)
	}
	if reads[1].Decompressed > 256<<10 {
		t.Fatalf("the next segment was decompressed to %d bytes for a record crossing into it", reads[1].Decompressed)
	}
}

// A stored segment that breaks off is a problem said with the reader's error, not a short read
// taken for the end of the WAL.
func TestATruncatedStoredSegmentIsAnError(t *testing.T) {
	start := LSN(5 * seg16)
	b := newWALBuilder(start, 15)
	b.SegSize = seg16
	b.Commit(900, t0)
	b.FillTo(start + seg16 - 64<<10)
	b.PadTo(start + seg16)
	stored := catalogtest.Compress(t, b.Segment(start), "gz")
	_, _, reads, err := ReadStoredWAL(start, [][]byte{stored[:len(stored)/2]}, "gz", seg16, 0)
	if err != nil {
		t.Fatal(err)
	}
	if reads[0].Err == nil {
		t.Fatalf("half a gzip segment read without an error: %+v", reads[0])
	}
}
