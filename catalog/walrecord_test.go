package catalog_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	. "github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
)

const testSysID = 7589448288821846035

type walBuilder = catalogtest.WALBuilder

func newWALBuilder(start LSN, version int) *walBuilder {
	return catalogtest.NewWALBuilder(start, version, "7589448288821846035")
}

var mainOnly, pgMicros = catalogtest.MainOnly, catalogtest.PGTime

var t0 = time.Date(2026, 11, 24, 17, 52, 45, 123456000, time.UTC)

func TestWALRecordsCommitsAcrossPagesAndSegments(t *testing.T) {
	b := newWALBuilder(LSN(3<<20), 15)
	b.Commit(700, t0)
	// A record larger than a page: its header and body cross page boundaries.
	big := make([]byte, 20000)
	b.Record(catalogtest.RmHeap, 0, 701, mainOnly(big)) // a heap record: not an event
	b.Commit(701, t0.Add(time.Second))
	// Fill up to just before the segment boundary, then a commit that crosses into the next
	// segment (its header split across the boundary).
	for b.Pos() < LSN(4<<20)-4000 {
		b.Record(catalogtest.RmHeap, 0, 702, mainOnly(make([]byte, 3000)))
	}
	b.Align()
	filler := int(LSN(4<<20) - 16 - b.Pos()) // the commit's header then starts 16 bytes before the boundary
	b.Record(catalogtest.RmHeap, 0, 702, mainOnly(make([]byte, filler-24-5)))
	cross := b.Commit(702, t0.Add(2*time.Second))
	last := b.Commit(703, t0.Add(3*time.Second))
	end := b.Pos()
	b.PadTo(LSN(5 << 20))

	w, err := ReadWALRecords(LSN(3<<20), b.Buf)
	if err != nil {
		t.Fatal(err)
	}
	if w.Version != 15 || w.First != LSN(3<<20)+40 || w.End != end || w.Stop == "" || w.Records != len(b.Recorded) {
		t.Fatalf("version %d first %s end %s (want %s) stop %q records %d (want %d)", w.Version, w.First, w.End, end, w.Stop, w.Records, len(b.Recorded))
	}
	var commits []string
	for _, e := range w.Events {
		commits = append(commits, e.LSN.String()+" "+e.Kind+" "+e.Time.Format(time.RFC3339Nano))
	}
	if len(commits) != 4 || w.Events[2].LSN != cross || w.Events[3].LSN != last || w.LastCommit().XID != 703 || !w.LastCommit().Time.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("events:\n%s", strings.Join(commits, "\n"))
	}
	if uint64(cross)/(1<<20) != 3 || uint64(w.Events[2].End)/(1<<20) != 4 {
		t.Fatalf("the crossing commit %s..%s does not cross the segment boundary", cross, w.Events[2].End)
	}
	// Read from the second segment alone: the tail of the crossing record is skipped, as
	// pg_waldump skips it, and reading starts with the last commit.
	w2, err := ReadWALRecords(LSN(4<<20), b.Buf[1<<20:])
	if err != nil {
		t.Fatal(err)
	}
	if len(w2.Events) != 1 || w2.Events[0].LSN != last || w2.First != last {
		t.Fatalf("second segment alone: first %s, events %+v", w2.First, w2.Events)
	}
}

func TestWALRecordsPreparedAbortsRestorePointsAndSwitch(t *testing.T) {
	for version := range catalogtest.PageMagic {
		b := newWALBuilder(LSN(1<<20), version)
		le := binary.LittleEndian
		b.Record(catalogtest.RmXACT, catalogtest.XactAbort, 800, mainOnly(pgMicros(t0)))
		// COMMIT PREPARED with every optional part before the two-phase xid.
		statsItem := 12
		if version >= 18 {
			statsItem = 16
		}
		xinfo := uint32(catalogtest.XinfoHasDBInfo | catalogtest.XinfoHasSubxacts | catalogtest.XinfoHasRelLocators | catalogtest.XinfoHasDroppedStats | catalogtest.XinfoHasInvals | catalogtest.XinfoHasTwoPhase)
		d := append(pgMicros(t0.Add(time.Second)), le.AppendUint32(nil, xinfo)...)
		d = append(d, make([]byte, 8)...)                               // dbinfo
		d = append(le.AppendUint32(d, 2), make([]byte, 2*4)...)         // subxacts
		d = append(le.AppendUint32(d, 1), make([]byte, 12)...)          // relfilelocators
		d = append(le.AppendUint32(d, 3), make([]byte, 3*statsItem)...) // dropped stats
		d = append(le.AppendUint32(d, 2), make([]byte, 2*16)...)        // invalidations
		d = le.AppendUint32(d, 799)                                     // the prepared xid
		b.Record(catalogtest.RmXACT, catalogtest.XactCommitPrepared|catalogtest.XactHasInfo, 0, mainOnly(d))
		// ROLLBACK PREPARED: no invalidations in an abort.
		xinfo = catalogtest.XinfoHasRelLocators | catalogtest.XinfoHasTwoPhase
		d = append(pgMicros(t0.Add(2*time.Second)), le.AppendUint32(nil, xinfo)...)
		d = append(le.AppendUint32(d, 1), make([]byte, 12)...)
		d = le.AppendUint32(d, 798)
		b.Record(catalogtest.RmXACT, catalogtest.XactAbortPrepared|catalogtest.XactHasInfo, 0, mainOnly(d))
		// A commit whose main data follows a block reference with a compressed, holed image.
		blk := []byte{0, catalogtest.BkpBlockHasImage | 0x20, 5, 0} // id 0, image + data, 5 bytes of data
		blk = append(blk, le.AppendUint16(nil, 7)...)               // image length
		blk = append(blk, 0, 0, catalogtest.BkpImageHasHole|0x04)   // hole offset, info: hole + pglz
		blk = append(blk, 1, 0)                                     // hole length
		blk = append(blk, make([]byte, 12+4)...)                    // RelFileLocator, BlockNumber
		main := pgMicros(t0.Add(3 * time.Second))
		body := append(blk, catalogtest.BlockIDDataShort, byte(len(main)))
		body = append(body, make([]byte, 7+5)...) // the image, the block's data
		body = append(body, main...)
		b.Record(catalogtest.RmXACT, catalogtest.XactCommit, 801, body)
		// A restore point, a checkpoint, then a switch: the rest of the segment is padding.
		name := make([]byte, catalogtest.RestorePointNameLen)
		copy(name, "before-migration")
		b.Record(catalogtest.RmXLOG, catalogtest.XlogRestorePoint, 0, mainOnly(append(pgMicros(t0.Add(4*time.Second)), name...)))
		b.Record(catalogtest.RmXLOG, catalogtest.XlogCheckpointOnline, 0, mainOnly(append(le.AppendUint64(nil, uint64(1<<20+40)), make([]byte, 80)...)))
		b.Record(catalogtest.RmXLOG, catalogtest.XlogSwitch, 0, nil)
		b.PadTo(LSN(2 << 20))
		// The next segment goes on after the switch.
		after := b.Commit(802, t0.Add(5*time.Second))
		b.PadTo(LSN(3 << 20))

		w, err := ReadWALRecords(LSN(1<<20), b.Buf)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range w.Events {
			got = append(got, strings.Join([]string{e.Kind, e.Name, e.Time.Format("05.000000"), string(rune('0' + e.XID%10)), map[bool]string{true: "prepared"}[e.Prepared]}, " "))
		}
		want := []string{"abort  45.123456 0 ", "commit  46.123456 9 prepared", "abort  47.123456 8 prepared", "commit  48.123456 1 ",
			"restore-point before-migration 49.123456 0 ", "checkpoint  00.000000 0 ", "switch  00.000000 0 ", "commit  50.123456 2 "}
		if strings.Join(got, "|") != strings.Join(want, "|") || w.Events[0].Time.IsZero() {
			t.Errorf("PostgreSQL %d:\n got %q\nwant %q", version, got, want)
		}
		if w.Events[5].Redo != LSN(1<<20+40) || !w.Switched || w.Events[7].LSN != after || w.Version != version {
			t.Errorf("PostgreSQL %d: redo %s, switched %v, last %s (want %s)", version, w.Events[5].Redo, w.Switched, w.Events[7].LSN, after)
		}
	}
}

// TestWALRecordsEndOfValidWAL: recovery's end of WAL — a zeroed record, a record whose CRC
// fails, a recycled page, a segment of another database system — is where reading stops, said
// plainly; bytes that are not WAL at all are an error.
func TestWALRecordsEndOfValidWAL(t *testing.T) {
	build := func() (*walBuilder, LSN) {
		b := newWALBuilder(LSN(1<<20), 17)
		b.Commit(900, t0)
		last := b.Commit(901, t0.Add(time.Second))
		return b, last
	}
	b, last := build()
	end := b.Pos()
	b.PadTo(LSN(2 << 20))
	w, _ := ReadWALRecords(LSN(1<<20), b.Buf)
	if w.End != end || !strings.Contains(w.Stop, "zeroed record") || w.LastCommit().LSN != last {
		t.Errorf("zeroed tail: end %s (want %s) stop %q", w.End, end, w.Stop)
	}
	// A flipped byte in the last commit's payload: its CRC fails, the WAL ends before it.
	b, last = build()
	b.Buf[int(last-b.Start)+24+3] ^= 0xFF
	b.PadTo(LSN(2 << 20))
	w, _ = ReadWALRecords(LSN(1<<20), b.Buf)
	if w.End > last || !strings.Contains(w.Stop, "CRC") || w.LastCommit().XID != 900 {
		t.Errorf("bad CRC: end %s stop %q events %+v", w.End, w.Stop, w.Events)
	}
	// A recycled page: a record runs on into a page whose header names another address.
	b = newWALBuilder(LSN(1<<20), 17)
	b.Commit(900, t0)
	for b.Pos() < LSN(1<<20)+8000 {
		b.Record(catalogtest.RmHeap, 0, 1, mainOnly(make([]byte, 1000)))
	}
	b.Record(catalogtest.RmHeap, 0, 1, mainOnly(make([]byte, 2000))) // runs into the next page
	b.PadTo(LSN(2 << 20))
	binary.LittleEndian.PutUint64(b.Buf[8192+8:], uint64(LSN(9<<20)+8192))
	w, _ = ReadWALRecords(LSN(1<<20), b.Buf)
	if !strings.Contains(w.Stop, "recycled") {
		t.Errorf("recycled page: stop %q", w.Stop)
	}
	// The next segment from another database system (a rebuilt cluster reusing the names).
	b, _ = build()
	b.PadTo(LSN(2 << 20))
	other := newWALBuilder(LSN(2<<20), 17)
	other.SysID = testSysID + 1
	other.Commit(5, t0)
	other.PadTo(LSN(3 << 20))
	w, _ = ReadWALRecords(LSN(1<<20), append(b.Buf, other.Buf...))
	if w.LastCommit().XID != 901 {
		t.Errorf("another system's segment was read: %+v", w.Events)
	}
	for _, bad := range [][]byte{nil, make([]byte, 100), []byte(strings.Repeat("not wal ", 10))} {
		if _, err := ReadWALRecords(0, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// An unknown version's page magic is refused, not misread.
	b, _ = build()
	binary.LittleEndian.PutUint16(b.Buf, 0xD10D) // PostgreSQL 14
	if _, err := ReadWALRecords(LSN(1<<20), b.Buf); err == nil || !strings.Contains(err.Error(), "0xd10d") {
		t.Errorf("PostgreSQL 14 WAL: %v", err)
	}
}

// locateFixture: backup B1 ends in segment 2, then 64 1-MiB segments of real WAL from segment 3 on,
// each committing one transaction (xid 1000+n in segment n); with late, transaction 1010 began
// in segment 10 but commits only in segment 50.
func locateFixture(t *testing.T, late bool, target Target) *Catalog {
	f := catalogtest.NewFixture(t)
	f.Size = 1 << 20 // initdb --wal-segsize=1: 66 MiB of WAL, not 1 GiB
	f.WAL(catalogtest.SysA, 1, 1, 2)
	f.Backup("20260205T020000", catalogtest.SysA, 1, 2, 2)
	base := time.Date(2026, 2, 5, 2, 0, 0, 0, time.UTC)
	f.WALRecords(catalogtest.SysA, 1, 3, func(b *catalogtest.WALBuilder) {
		for n := uint64(3); n <= 66; n++ {
			xid, at := uint32(1000+n), base.Add(time.Duration(n)*time.Minute)
			if late && n == 10 {
				b.Record(catalogtest.RmHeap, 0, xid, catalogtest.MainOnly(make([]byte, 64))) // it writes, and stays open
			} else {
				b.Commit(xid, at)
			}
			if late && n == 50 {
				b.Commit(1010, at)
			}
			b.FillTo(f.Size.StartLSN(n+1) + 1024) // the next commit starts its segment
		}
	})
	return f.LoadFor(target)
}

// TestAnXIDIsFoundByBisection: a transaction's end is found by bisecting the recovery path on
// the xids its records carry, then reading forward — a handful of segments of 64, not the
// newest-first scan's 57 — and a transaction that began long before it ended is still found.
func TestAnXIDIsFoundByBisection(t *testing.T) {
	for _, tc := range []struct {
		name     string
		late     bool
		segment  string
		maxReads int
	}{
		{"commits where it began", false, "00000001000000000000000A", 10},
		{"commits 40 segments after it began", true, "000000010000000000000032", 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := locateFixture(t, tc.late, Target{XID: "1010"})
			loc := c.Located()
			if loc == nil || loc.Event == nil || loc.Event.XID != 1010 || !loc.Complete {
				t.Fatalf("located %+v", loc)
			}
			size := c.WAL.SegmentSize()
			if got := size.SegNoOf(loc.Event.LSN); size.Name(1, got) != tc.segment {
				t.Errorf("found in %s, want %s", size.Name(1, got), tc.segment)
			}
			if loc.SegmentsRead > tc.maxReads {
				t.Errorf("read %d segments, want at most %d", loc.SegmentsRead, tc.maxReads)
			}
			t.Logf("read %d of 66 segments", loc.SegmentsRead)
		})
	}
	// An xid the WAL never holds is still searched in full and not found.
	c := locateFixture(t, false, Target{XID: "5000"})
	if loc := c.Located(); loc == nil || loc.Event != nil || !loc.Complete {
		t.Errorf("xid 5000: %+v", loc)
	}
}
