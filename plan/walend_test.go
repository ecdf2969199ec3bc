package plan

import (
	"cmp"
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	ct "github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
)

// walScenario is the scenario with real records in its last two segments (timeline 2, 11 and
// 12): commits at 02:23:10, 02:23:20 and, the last transaction, 02:24:30.5 (xid 742); then an
// idle stretch up to the last upload at 02:27.
func walScenario(t *testing.T) (*catalog.Catalog, catalog.LSN, catalog.LSN) {
	f := ct.NewFixture(t)
	f.WAL(ct.SysA, 1, 1, 2)
	f.Backup(B1, ct.SysA, 1, 2, 2)
	f.WAL(ct.SysA, 1, 3, 5)
	f.Backup(B2, ct.SysA, 1, 5, 5)
	f.WAL(ct.SysA, 1, 6, 7)
	f.History(2, "1\t0/8000000\tno recovery target specified\n")
	f.WAL(ct.SysA, 2, 8, 9)
	f.Backup(B3, ct.SysA, 2, 9, 9)
	f.WAL(ct.SysA, 2, 10, 10)
	var lastCommit, lastRecord catalog.LSN
	base := time.Date(2026, 2, 5, 2, 23, 0, 0, time.UTC)
	f.WALRecords(ct.SysA, 2, 11, func(b *ct.WALBuilder) {
		b.Commit(740, base.Add(10*time.Second))
		b.Commit(741, base.Add(20*time.Second))
		b.FillTo(f.Size.StartLSN(12)) // the last commit is in segment 12 or crosses into it
		lastCommit = b.Commit(742, base.Add(90*time.Second+500*time.Millisecond))
		lastRecord = b.Record(ct.RmXLOG, ct.XlogCheckpointOnline, 0, ct.MainOnly(make([]byte, 88)))
	})
	return f.Load(), lastCommit, lastRecord
}

// TestWindowEndsAtTheLastTransaction: with the records read, a time target between the last
// transaction and the last upload — the stretch PostgreSQL never reaches — is refused with the
// exact window, one before it passes and names the last transaction; an LSN past the last
// valid record is refused; latest says where the archive's last transaction is.
func TestWindowEndsAtTheLastTransaction(t *testing.T) {
	c, lastCommit, lastRecord := walScenario(t)
	plan := func(tg catalog.Target) *Plan {
		t.Helper()
		in := input(c)
		in.Target = tg
		p, err := Make(in)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := plan(catalog.Target{})
	if !p.OK() || p.WALEnd == nil || p.WALEnd.LastXact == nil || p.WALEnd.LastXact.XID != 742 || p.WALEnd.LastXact.LSN != lastCommit {
		t.Fatalf("latest: %s; walEnd %+v", failed(p), p.WALEnd)
	}
	if d := p.Checks[2].Detail; !strings.Contains(d, "last transaction in the archive: xid 742 committed at 2026-02-05T02:24:30.5Z") {
		t.Errorf("latest's target check: %s", d)
	}
	if p.WALEnd.SegmentsRead != 2 || p.WALEnd.BytesRead != 2*int64(catalog.DefaultSegmentSize) || p.WALEnd.LastRecord != lastRecord {
		t.Errorf("tail read: %d segments, %d bytes, last record %s (want %s)", p.WALEnd.SegmentsRead, p.WALEnd.BytesRead, p.WALEnd.LastRecord, lastRecord)
	}
	// Inside: before the last transaction.
	if p := plan(catalog.Target{Time: at("02:24:30")}); !p.OK() || !strings.Contains(p.Checks[2].Detail, "to its last transaction, xid 742 at 2026-02-05T02:24:30.5Z") {
		t.Errorf("02:24:30: %s %s", failed(p), p.Checks[2].Detail)
	}
	// The stretch after it: the upload times say inside, the WAL says never reached.
	for _, hm := range []string{"02:24:30.5", "02:25:00", "02:26:59"} {
		tt, _ := time.Parse("2006-01-02 15:04:05.999", "2026-02-05 "+hm)
		p := plan(catalog.Target{Time: &tt})
		if p.OK() || !strings.Contains(failed(p), "not before the last transaction the WAL from backup "+B3+" holds (xid 742 ended at 2026-02-05T02:24:30.5Z") ||
			!strings.Contains(failed(p), "recovery ended before configured recovery target was reached") {
			t.Errorf("%s: %s", hm, failed(p))
		}
	}
	// Exclusive: stopping just before the last transaction is reached at its own time.
	tt, _ := time.Parse(time.RFC3339Nano, "2026-02-05T02:24:30.5Z")
	if p := plan(catalog.Target{Time: &tt, Exclusive: true}); !p.OK() {
		t.Errorf("exclusive at the last transaction's time: %s", failed(p))
	}
	// LSN targets: the last record's start is reached, a byte after it is not.
	if p := plan(catalog.Target{LSN: &lastRecord}); !p.OK() {
		t.Errorf("LSN at the last record: %s", failed(p))
	}
	past := lastRecord + 8
	if p := plan(catalog.Target{LSN: &past}); p.OK() || !strings.Contains(failed(p), "past the start of the last valid record") {
		t.Errorf("LSN in the zeroed tail: %s", failed(p))
	}
}

// locateScenario is walScenario with records on timeline 1 between B2 and B3 too: transaction
// 600 and the restore point "before-upgrade" in segment 6; the restore point "nightly" twice,
// in segment 6 and again in segment 12 (after B3).
func locateScenario(t *testing.T, target catalog.Target) *catalog.Catalog {
	f := ct.NewFixture(t)
	f.WAL(ct.SysA, 1, 1, 2)
	f.Backup(B1, ct.SysA, 1, 2, 2)
	f.WAL(ct.SysA, 1, 3, 5)
	f.Backup(B2, ct.SysA, 1, 5, 5)
	base := time.Date(2026, 2, 5, 2, 13, 0, 0, time.UTC)
	f.WALRecords(ct.SysA, 1, 6, func(b *ct.WALBuilder) {
		b.Commit(600, base)
		b.RestorePoint("before-upgrade", base.Add(time.Second))
		b.RestorePoint("nightly", base.Add(2*time.Second))
		b.FillTo(f.Size.StartLSN(7))
		b.Commit(601, base.Add(3*time.Second))
	})
	f.History(2, "1\t0/8000000\tno recovery target specified\n")
	f.WAL(ct.SysA, 2, 8, 9)
	f.Backup(B3, ct.SysA, 2, 9, 9)
	f.WAL(ct.SysA, 2, 10, 10)
	f.WALRecords(ct.SysA, 2, 11, func(b *ct.WALBuilder) {
		b.Commit(740, base.Add(10*time.Minute))
		b.FillTo(f.Size.StartLSN(12))
		b.RestorePoint("nightly", base.Add(11*time.Minute))
		b.Commit(742, base.Add(12*time.Minute))
	})
	return f.LoadFor(target)
}

// TestXIDAndRestorePointTargetsAreLocatedInTheWAL: without --backup-id, a transaction or
// restore point is looked up in the records and the newest backup that ends before it is
// pinned; a restore point whose name recurs is the first after that backup, as recovery stops
// at; one that is not in the WAL at all is refused; --backup-id with a backup ending after it
// is refused.
func TestXIDAndRestorePointTargetsAreLocatedInTheWAL(t *testing.T) {
	cases := []struct {
		name   string
		target catalog.Target
		backup string
		at     string // the located record's segment
		to     string // the last segment recovery reads, when the record crosses into it
		fail   string
	}{
		{name: "xid after the newest backup", target: catalog.Target{XID: "742"}, backup: B3, at: "00000002000000000000000C"},
		{name: "xid before the newest backup", target: catalog.Target{XID: "600"}, backup: B2, at: "000000010000000000000006"},
		{name: "restore point before the newest backup", target: catalog.Target{Name: "before-upgrade"}, backup: B2, at: "000000010000000000000006"},
		{name: "a recurring restore point: the newest backup before its last", target: catalog.Target{Name: "nightly"}, backup: B3, at: "00000002000000000000000B", to: "00000002000000000000000C"},
		{name: "xid nowhere", target: catalog.Target{XID: "999"}, fail: "transaction 999 is not in the WAL of system"},
		{name: "backup id after the xid", target: catalog.Target{XID: "600", BackupID: B3}, fail: "transaction 600 is not in the WAL of system " + ct.SysA + " from backup " + B3 + " on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := input(locateScenario(t, tc.target))
			in.Target = tc.target
			p, err := Make(in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.fail != "" {
				if p.OK() || !strings.Contains(failed(p), tc.fail) {
					t.Fatalf("want refused with %q, got %s", tc.fail, failed(p))
				}
				return
			}
			if !p.OK() || p.Backup.ID != tc.backup || p.Target.BackupID != tc.backup {
				t.Fatalf("backup %v, %s; want %s pinned", p.Backup, failed(p), tc.backup)
			}
			if p.Located == nil || p.Located.Event == nil || !strings.Contains(p.Checks[2].Detail, "in "+tc.at) || p.WAL.UpperBound || p.WAL.To != cmp.Or(tc.to, tc.at) {
				t.Errorf("located %+v; check %q; WAL %+v", p.Located, p.Checks[2].Detail, p.WAL)
			}
		})
	}
}

// TestTimeTargetStopsWhereTheRecordsSay: a time target between transactions 600 and 601 stops
// before 601 — found by bisecting the WAL's own commit times, not archive times — so the WAL
// to replay ends in 601's segment, and the plan names the last transaction applied.
func TestTimeTargetStopsWhereTheRecordsSay(t *testing.T) {
	target := time.Date(2026, 2, 5, 2, 13, 1, 0, time.UTC)
	tg := catalog.Target{Time: &target}
	in := input(locateScenario(t, tg))
	in.Target = tg
	p, err := Make(in)
	if err != nil {
		t.Fatal(err)
	}
	if !p.OK() || p.Backup.ID != B2 || p.Stop == nil || p.Stop.FirstExcluded == nil || p.Stop.FirstExcluded.XID != 601 ||
		p.Stop.LastIncluded == nil || p.Stop.LastIncluded.XID != 600 {
		t.Fatalf("%s; backup %v; stop %+v", failed(p), p.Backup, p.Stop)
	}
	if p.WAL.To != p.Stop.Segment || !strings.Contains(p.Checks[2].Detail, "recovery stops before xid 601") || !strings.Contains(p.Checks[2].Detail, "the last transaction it applies is xid 600") {
		t.Errorf("WAL to %s (stop in %s); check %s", p.WAL.To, p.Stop.Segment, p.Checks[2].Detail)
	}
}

// withBlocks is a heap record body referencing n blocks (no images, one relation), then a
// little main data.
func withBlocks(n int) []byte {
	var body []byte
	for i := range n {
		flags := byte(0)
		if i > 0 {
			flags = 0x80 // BKPBLOCK_SAME_REL
		}
		body = append(body, byte(i), flags, 0, 0)
		if i == 0 {
			body = append(body, make([]byte, 12)...) // RelFileLocator
		}
		body = append(body, byte(i), 0, 0, 0) // BlockNumber
	}
	return append(body, ct.MainOnly(make([]byte, 16))...)
}

// TestTheEstimateCountsWhatPostgreSQLReadsAheadOfTheStop: PostgreSQL's recovery prefetcher
// decodes up to 40 block references ahead of replay and not past a shutdown checkpoint; the
// segments it reads past where a time target stops are fetched for nothing, and the stop's
// segment once more at the end of recovery. The plan reads the records after the stop for them.
func TestTheEstimateCountsWhatPostgreSQLReadsAheadOfTheStop(t *testing.T) {
	base := time.Date(2026, 2, 5, 2, 13, 0, 0, time.UTC)
	target := base.Add(time.Second)
	for _, tc := range []struct {
		name     string
		after    func(b *ct.WALBuilder) // the WAL after the first commit past the target
		segments int
		why      string
		model    string
	}{
		{"quiet switched segments up to a shutdown checkpoint", func(b *ct.WALBuilder) {
			b.Switch()
			b.Record(ct.RmHeap, 0, 602, withBlocks(2))
			b.Commit(602, base.Add(4*time.Second))
			b.Switch()
			b.Record(ct.RmHeap, 0, 603, withBlocks(3))
			b.Switch()
			b.Record(ct.RmXLOG, 0x00, 0, ct.MainOnly(make([]byte, 88))) // CHECKPOINT_SHUTDOWN
			b.Record(ct.RmHeap, 0, 604, withBlocks(30))
			b.Switch()
		}, 3, "shutdown checkpoint", "3 read ahead past the stop, up to a shutdown checkpoint"},
		{"a busy segment: 40 block references before its end", func(b *ct.WALBuilder) {
			for range 12 {
				b.Record(ct.RmHeap, 0, 602, withBlocks(4))
			}
			b.Switch()
			b.Record(ct.RmHeap, 0, 603, withBlocks(3))
			b.Switch()
		}, 0, "40 block references", "no read-ahead past the stop's segment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ct.NewFixture(t)
			f.WAL(ct.SysA, 1, 1, 2)
			f.Backup(B1, ct.SysA, 1, 2, 2)
			f.WALRecords(ct.SysA, 1, 3, func(b *ct.WALBuilder) {
				b.Commit(600, base)
				b.Commit(601, base.Add(3*time.Second))
				tc.after(b)
			})
			tg := catalog.Target{Time: &target}
			in := input(f.LoadFor(tg))
			in.Target = tg
			p, err := Make(in)
			if err != nil {
				t.Fatal(err)
			}
			if p.ReadAhead == nil || p.ReadAhead.Segments != tc.segments || !strings.Contains(p.ReadAhead.Why, tc.why) ||
				p.Estimate == nil || !strings.Contains(p.Estimate.Model, tc.model) {
				t.Fatalf("%s; read-ahead %+v; estimate %+v", failed(p), p.ReadAhead, p.Estimate)
			}
			if p.Stop == nil || p.Stop.FirstExcluded == nil || p.ReadAhead.From != p.Stop.FirstExcluded.LSN {
				t.Errorf("read-ahead from %s, the stop is %+v", p.ReadAhead.From, p.Stop)
			}
		})
	}
}
