package catalog_test

import (
	"os"
	"testing"

	. "github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
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

// BenchmarkWALIndex1M lists and builds an index of a million segments; B/op divided by the
// segments is the index's memory cost per segment (reported as B/segment).
func BenchmarkWALIndex1M(b *testing.B) {
	b.ReportAllocs()
	var x *WALIndex
	for b.Loop() {
		x = catalogtest.IndexWorkload(1_000_000)
	}
	_ = x
}

func BenchmarkFollow1M(b *testing.B) {
	x := catalogtest.IndexWorkload(1_000_000)
	path := Path(3, []HistoryEntry{{Parent: 1, Switch: DefaultSegmentSize * 333_334}, {Parent: 2, Switch: DefaultSegmentSize * 666_667}})
	b.ResetTimer()
	for b.Loop() {
		r := x.Follow(path, 100_001, 0)
		if r.Reached != 200_000 {
			b.Fatalf("reached %d", r.Reached)
		}
	}
}

func BenchmarkGapSearch1M(b *testing.B) {
	x := catalogtest.IndexWorkload(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		gaps := 0
		for _, tli := range x.Timelines() {
			gaps += len(x.Runs(tli)) - 1
		}
		if gaps < 9 {
			b.Fatalf("gaps %d", gaps)
		}
	}
}
