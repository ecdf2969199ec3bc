package catalog_test

import (
	"reflect"
	"testing"
	"time"

	. "github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
)

// FuzzReadWALRecords: any bytes — torn pages, lying lengths, bad CRCs, headers of other
// versions — are read without a panic, and what is read is ordered: events in LSN order, each
// inside the valid WAL the reader reports; read from a stored (compressed) segment, decompressed
// as the reader goes, it is the same.
func FuzzReadWALRecords(f *testing.F) {
	b := newWALBuilder(LSN(1<<20), 15)
	b.Commit(700, t0)
	b.Record(catalogtest.RmHeap, 0, 701, mainOnly(make([]byte, 9000))) // across a page
	b.Commit(701, t0.Add(time.Second))
	b.RestorePoint("rp", t0)
	b.Record(catalogtest.RmXLOG, catalogtest.XlogSwitch, 0, nil)
	b.PadTo(LSN(1<<20) + 3*8192)
	f.Add(b.Buf[:3*8192])
	f.Add(b.Buf[:8192+100])
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ReadWALRecords(LSN(1<<20), data)
		if err != nil {
			return
		}
		prev := LSN(0)
		for _, e := range w.Events {
			if e.LSN < prev || e.End <= e.LSN || e.LSN < w.First || e.Kind != EventSwitch && e.End > w.End {
				t.Fatalf("event %+v out of order (prev %s, first %s, end %s)", e, prev, w.First, w.End)
			}
			prev = e.LSN
		}
		if w.Records < len(w.Events) {
			t.Fatalf("%d records, %d events", w.Records, len(w.Events))
		}
		if len(data) <= 1<<20 {
			stored := catalogtest.Compress(t, data, "lz4")
			lazy, again, _, err := ReadStoredWAL(LSN(1<<20), [][]byte{stored}, "lz4", 1<<20, 0)
			if err != nil || !reflect.DeepEqual(lazy, w) || !reflect.DeepEqual(again, w) {
				t.Fatalf("read from a stored segment (error %v):\n%+v\nagain:\n%+v\nfrom the bytes:\n%+v", err, lazy, again, w)
			}
		}
	})
}
