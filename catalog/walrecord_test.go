package catalog

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"time"
)

// walBuilder writes WAL the way PostgreSQL lays it out — page headers (long on a segment's
// first page), MAXALIGNed records, a record that runs on into the next page announced there
// with XLP_FIRST_IS_CONTRECORD and xlp_rem_len, CRC-32C over the record — for tests of the
// reader against the format's rules.
type walBuilder struct {
	start   LSN
	seg     int
	block   int
	magic   uint16
	sysid   uint64
	tli     uint32
	buf     []byte
	prev    LSN
	written []LSN // record starts
}

const testSysID = 7589448288821846035

func newWALBuilder(start LSN, magic uint16) *walBuilder {
	return &walBuilder{start: start, seg: 1 << 20, block: 8192, magic: magic, sysid: testSysID, tli: 1}
}

func (b *walBuilder) pos() LSN { return b.start + LSN(len(b.buf)) }

func (b *walBuilder) pageHeader(cont bool, rem int) {
	le := binary.LittleEndian
	p := b.pos()
	long := uint64(p)%uint64(b.seg) == 0
	n := walShortHeaderLen
	info := uint16(0)
	if long {
		n, info = walLongHeaderLen, xlpLongHeader
	}
	if cont {
		info |= xlpFirstIsContRecord
	}
	h := make([]byte, n)
	le.PutUint16(h[0:], b.magic)
	le.PutUint16(h[2:], info)
	le.PutUint32(h[4:], b.tli)
	le.PutUint64(h[8:], uint64(p))
	le.PutUint32(h[16:], uint32(rem))
	if long {
		le.PutUint64(h[24:], b.sysid)
		le.PutUint32(h[32:], uint32(b.seg))
		le.PutUint32(h[36:], uint32(b.block))
	}
	b.buf = append(b.buf, h...)
}

// raw writes bytes of one record (cont: the record began before them), adding page headers.
func (b *walBuilder) raw(p []byte, cont bool) {
	for i := 0; i < len(p); {
		if int(b.pos())%b.block == 0 {
			b.pageHeader(cont || i > 0, len(p)-i)
		}
		room := b.block - int(b.pos())%b.block
		n := min(room, len(p)-i)
		b.buf = append(b.buf, p[i:i+n]...)
		i += n
	}
}

func (b *walBuilder) align() {
	for int(b.pos())%walMaxAlign != 0 {
		b.buf = append(b.buf, 0)
	}
}

// record appends a record of rmgr rmid with the given xl_info, xl_xid and body (block headers,
// main data header, payload), and returns where it starts.
func (b *walBuilder) record(rmid, info byte, xid uint32, body []byte) LSN {
	le := binary.LittleEndian
	b.align()
	if int(b.pos())%b.block == 0 {
		b.pageHeader(false, 0)
	}
	at := b.pos()
	head := make([]byte, walRecordHeader)
	le.PutUint32(head[0:], uint32(walRecordHeader+len(body)))
	le.PutUint32(head[4:], xid)
	le.PutUint64(head[8:], uint64(b.prev))
	head[16], head[17] = info, rmid
	crc := crc32.Update(crc32.Update(0, castagnoli, body), castagnoli, head[:20])
	le.PutUint32(head[20:], crc)
	b.raw(append(head, body...), false)
	b.prev = at
	b.written = append(b.written, at)
	return at
}

// main is a body holding only main data.
func mainOnly(data []byte) []byte {
	if len(data) < 256 {
		return append([]byte{blockIDDataShort, byte(len(data))}, data...)
	}
	h := []byte{blockIDDataLong, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(h[1:], uint32(len(data)))
	return append(h, data...)
}

func pgMicros(t time.Time) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(t.Sub(pgEpoch)/time.Microsecond))
	return b
}

func (b *walBuilder) commit(xid uint32, at time.Time) LSN {
	return b.record(rmXACT, xactCommit, xid, mainOnly(pgMicros(at)))
}

// padTo fills with zeros up to the LSN (the unwritten rest of a segment).
func (b *walBuilder) padTo(l LSN) {
	for b.pos() < l {
		b.buf = append(b.buf, 0)
	}
}

var t0 = time.Date(2026, 11, 24, 17, 52, 45, 123456000, time.UTC)

func TestWALRecordsCommitsAcrossPagesAndSegments(t *testing.T) {
	b := newWALBuilder(LSN(3<<20), 0xD110)
	b.commit(700, t0)
	// A record larger than a page: its header and body cross page boundaries.
	big := make([]byte, 20000)
	b.record(10, 0, 701, mainOnly(big)) // a heap record: not an event
	b.commit(701, t0.Add(time.Second))
	// Fill up to just before the segment boundary, then a commit that crosses into the next
	// segment (its header split across the boundary).
	for b.pos() < LSN(4<<20)-4000 {
		b.record(10, 0, 702, mainOnly(make([]byte, 3000)))
	}
	b.align()
	filler := int(LSN(4<<20) - 16 - b.pos()) // the commit's header then starts 16 bytes before the boundary
	b.record(10, 0, 702, mainOnly(make([]byte, filler-walRecordHeader-5)))
	cross := b.commit(702, t0.Add(2*time.Second))
	last := b.commit(703, t0.Add(3*time.Second))
	end := b.pos()
	b.padTo(LSN(5 << 20))

	w, err := ReadWALRecords(LSN(3<<20), b.buf)
	if err != nil {
		t.Fatal(err)
	}
	if w.Version != 15 || w.First != LSN(3<<20)+walLongHeaderLen || w.End != end || w.Stop == "" || w.Records != len(b.written) {
		t.Fatalf("version %d first %s end %s (want %s) stop %q records %d (want %d)", w.Version, w.First, w.End, end, w.Stop, w.Records, len(b.written))
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
	w2, err := ReadWALRecords(LSN(4<<20), b.buf[1<<20:])
	if err != nil {
		t.Fatal(err)
	}
	if len(w2.Events) != 1 || w2.Events[0].LSN != last || w2.First != last {
		t.Fatalf("second segment alone: first %s, events %+v", w2.First, w2.Events)
	}
}

func TestWALRecordsPreparedAbortsRestorePointsAndSwitch(t *testing.T) {
	for magic, version := range walPageMagic {
		b := newWALBuilder(LSN(1<<20), magic)
		le := binary.LittleEndian
		b.record(rmXACT, xactAbort, 800, mainOnly(pgMicros(t0)))
		// COMMIT PREPARED with every optional part before the two-phase xid.
		statsItem := 12
		if version >= 18 {
			statsItem = 16
		}
		xinfo := uint32(xinfoHasDBInfo | xinfoHasSubxacts | xinfoHasRelLocators | xinfoHasDroppedStats | xinfoHasInvals | xinfoHasTwoPhase)
		d := append(pgMicros(t0.Add(time.Second)), le.AppendUint32(nil, xinfo)...)
		d = append(d, make([]byte, 8)...)                               // dbinfo
		d = append(le.AppendUint32(d, 2), make([]byte, 2*4)...)         // subxacts
		d = append(le.AppendUint32(d, 1), make([]byte, 12)...)          // relfilelocators
		d = append(le.AppendUint32(d, 3), make([]byte, 3*statsItem)...) // dropped stats
		d = append(le.AppendUint32(d, 2), make([]byte, 2*16)...)        // invalidations
		d = le.AppendUint32(d, 799)                                     // the prepared xid
		b.record(rmXACT, xactCommitPrepared|xactHasInfo, 0, mainOnly(d))
		// ROLLBACK PREPARED: no invalidations in an abort.
		xinfo = xinfoHasRelLocators | xinfoHasTwoPhase
		d = append(pgMicros(t0.Add(2*time.Second)), le.AppendUint32(nil, xinfo)...)
		d = append(le.AppendUint32(d, 1), make([]byte, 12)...)
		d = le.AppendUint32(d, 798)
		b.record(rmXACT, xactAbortPrepared|xactHasInfo, 0, mainOnly(d))
		// A commit whose main data follows a block reference with a compressed, holed image.
		blk := []byte{0, bkpBlockHasImage | 0x20, 5, 0} // id 0, image + data, 5 bytes of data
		blk = append(blk, le.AppendUint16(nil, 7)...)   // image length
		blk = append(blk, 0, 0, bkpImageHasHole|0x04)   // hole offset, info: hole + pglz
		blk = append(blk, 1, 0)                         // hole length
		blk = append(blk, make([]byte, 12+4)...)        // RelFileLocator, BlockNumber
		main := pgMicros(t0.Add(3 * time.Second))
		body := append(blk, blockIDDataShort, byte(len(main)))
		body = append(body, make([]byte, 7+5)...) // the image, the block's data
		body = append(body, main...)
		b.record(rmXACT, xactCommit, 801, body)
		// A restore point, a checkpoint, then a switch: the rest of the segment is padding.
		name := make([]byte, restorePointNameLen)
		copy(name, "before-migration")
		b.record(rmXLOG, xlogRestorePoint, 0, mainOnly(append(pgMicros(t0.Add(4*time.Second)), name...)))
		b.record(rmXLOG, xlogCheckpointOnline, 0, mainOnly(append(le.AppendUint64(nil, uint64(1<<20+40)), make([]byte, 80)...)))
		b.record(rmXLOG, xlogSwitch, 0, nil)
		b.padTo(LSN(2 << 20))
		// The next segment goes on after the switch.
		after := b.commit(802, t0.Add(5*time.Second))
		b.padTo(LSN(3 << 20))

		w, err := ReadWALRecords(LSN(1<<20), b.buf)
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
		b := newWALBuilder(LSN(1<<20), 0xD116)
		b.commit(900, t0)
		last := b.commit(901, t0.Add(time.Second))
		return b, last
	}
	b, last := build()
	end := b.pos()
	b.padTo(LSN(2 << 20))
	w, _ := ReadWALRecords(LSN(1<<20), b.buf)
	if w.End != end || !strings.Contains(w.Stop, "zeroed record") || w.LastCommit().LSN != last {
		t.Errorf("zeroed tail: end %s (want %s) stop %q", w.End, end, w.Stop)
	}
	// A flipped byte in the last commit's payload: its CRC fails, the WAL ends before it.
	b, last = build()
	b.buf[int(last-b.start)+walRecordHeader+3] ^= 0xFF
	b.padTo(LSN(2 << 20))
	w, _ = ReadWALRecords(LSN(1<<20), b.buf)
	if w.End > last || !strings.Contains(w.Stop, "CRC") || w.LastCommit().XID != 900 {
		t.Errorf("bad CRC: end %s stop %q events %+v", w.End, w.Stop, w.Events)
	}
	// A recycled page: a record runs on into a page whose header names another address.
	b = newWALBuilder(LSN(1<<20), 0xD116)
	b.commit(900, t0)
	for b.pos() < LSN(1<<20)+8000 {
		b.record(10, 0, 1, mainOnly(make([]byte, 1000)))
	}
	b.record(10, 0, 1, mainOnly(make([]byte, 2000))) // runs into the next page
	b.padTo(LSN(2 << 20))
	binary.LittleEndian.PutUint64(b.buf[8192+8:], uint64(LSN(9<<20)+8192))
	w, _ = ReadWALRecords(LSN(1<<20), b.buf)
	if !strings.Contains(w.Stop, "recycled") {
		t.Errorf("recycled page: stop %q", w.Stop)
	}
	// The next segment from another database system (a rebuilt cluster reusing the names).
	b, _ = build()
	b.padTo(LSN(2 << 20))
	other := newWALBuilder(LSN(2<<20), 0xD116)
	other.sysid = testSysID + 1
	other.commit(5, t0)
	other.padTo(LSN(3 << 20))
	w, _ = ReadWALRecords(LSN(1<<20), append(b.buf, other.buf...))
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
	binary.LittleEndian.PutUint16(b.buf, 0xD10D) // PostgreSQL 14
	if _, err := ReadWALRecords(LSN(1<<20), b.buf); err == nil || !strings.Contains(err.Error(), "0xd10d") {
		t.Errorf("PostgreSQL 14 WAL: %v", err)
	}
}
