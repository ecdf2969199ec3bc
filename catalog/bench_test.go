package catalog

import (
	"os"
	"testing"
	"time"
)

func BenchmarkParseBackupInfo(b *testing.B) {
	data, err := os.ReadFile("testdata/barman-cloud-3.4-pg15.backup.info")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseBackupInfo(data, "b"); err != nil {
			b.Fatal(err)
		}
	}
}

// millionSegments indexes 1M segments on three timelines with a gap every 100k segments.
func millionSegments(b *testing.B) *WALIndex {
	b.Helper()
	x := NewWALIndex()
	now := time.Now()
	var size SegmentSize = DefaultSegmentSize
	for no := uint64(1); no <= 1_000_000; no++ {
		if no%100_000 == 0 {
			continue
		}
		tli := uint32(1 + no/400_000)
		x.Add(WALName{Kind: WALSegment, TLI: tli, Log: uint32(no / size.SegmentsPerLog()), Seg: uint32(no % size.SegmentsPerLog()), Compression: "gz"}, 1<<20, now)
	}
	return x
}

func BenchmarkWALIndexBuild1M(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		x := millionSegments(b)
		b.StartTimer()
		if err := x.Build(DefaultSegmentSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWALIndexAdd1M(b *testing.B) {
	for b.Loop() {
		millionSegments(b)
	}
}

func BenchmarkFollow1M(b *testing.B) {
	x := millionSegments(b)
	if err := x.Build(DefaultSegmentSize); err != nil {
		b.Fatal(err)
	}
	path := Path(3, []HistoryEntry{{Parent: 1, Switch: DefaultSegmentSize * 400_000}, {Parent: 2, Switch: DefaultSegmentSize * 800_000}})
	b.ResetTimer()
	for b.Loop() {
		r := x.Follow(path, 100_001, 0)
		if r.Reached != 200_000 {
			b.Fatalf("reached %d", r.Reached)
		}
	}
}
