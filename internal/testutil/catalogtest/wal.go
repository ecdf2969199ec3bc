package catalogtest

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strconv"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// The WAL format's constants a WALBuilder writes with (PostgreSQL's access/xlogrecord.h,
// access/xact.h, catalog/pg_control.h).
const (
	RmXLOG = 0
	RmXACT = 1
	RmHeap = 10

	XactCommit         = 0x00
	XactAbort          = 0x20
	XactCommitPrepared = 0x30
	XactAbortPrepared  = 0x40
	XactHasInfo        = 0x80

	XinfoHasDBInfo       = 1 << 0
	XinfoHasSubxacts     = 1 << 1
	XinfoHasRelLocators  = 1 << 2
	XinfoHasInvals       = 1 << 3
	XinfoHasTwoPhase     = 1 << 4
	XinfoHasDroppedStats = 1 << 8

	XlogCheckpointOnline = 0x10
	XlogSwitch           = 0x40
	XlogRestorePoint     = 0x70

	BlockIDDataShort = 255
	BkpBlockHasImage = 0x10
	BkpBlockHasData  = 0x20
	BkpImageHasHole  = 0x01
	BkpImageCompress = 0x04 // pglz

	RestorePointNameLen = 64

	walShortHeader = 24
	walLongHeader  = 40
	walRecord      = 24
)

// PageMagic is XLOG_PAGE_MAGIC by PostgreSQL major version.
var PageMagic = map[int]uint16{15: 0xD110, 16: 0xD113, 17: 0xD116, 18: 0xD118}

// PGEpoch is where PostgreSQL's timestamps count from.
var PGEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WALBuilder writes WAL the way PostgreSQL lays it out — page headers (long on a segment's
// first page), MAXALIGNed records, a record that runs on into the next page announced there
// with XLP_FIRST_IS_CONTRECORD and xlp_rem_len, CRC-32C over each record — for tests of the
// WAL reader against the format's rules, and catalogs whose segments hold real records.
type WALBuilder struct {
	Start    catalog.LSN
	SegSize  int
	Block    int
	Magic    uint16
	SysID    uint64
	TLI      uint32
	Buf      []byte
	prev     catalog.LSN
	Recorded []catalog.LSN // where each record starts
}

// NewWALBuilder starts WAL at start (a segment boundary) of system sys, 1 MiB segments.
func NewWALBuilder(start catalog.LSN, version int, sys string) *WALBuilder {
	id, _ := strconv.ParseUint(sys, 10, 64)
	return &WALBuilder{Start: start, SegSize: 1 << 20, Block: 8192, Magic: PageMagic[version], SysID: id, TLI: 1}
}

// Pos is where the next byte goes.
func (b *WALBuilder) Pos() catalog.LSN { return b.Start + catalog.LSN(len(b.Buf)) }

// PageHeader writes the header of the page starting at Pos.
func (b *WALBuilder) PageHeader(cont bool, rem int) {
	le := binary.LittleEndian
	p := b.Pos()
	long := uint64(p)%uint64(b.SegSize) == 0
	n, info := walShortHeader, uint16(0)
	if long {
		n, info = walLongHeader, 0x0002
	}
	if cont {
		info |= 0x0001
	}
	h := make([]byte, n)
	le.PutUint16(h[0:], b.Magic)
	le.PutUint16(h[2:], info)
	le.PutUint32(h[4:], b.TLI)
	le.PutUint64(h[8:], uint64(p))
	le.PutUint32(h[16:], uint32(rem))
	if long {
		le.PutUint64(h[24:], b.SysID)
		le.PutUint32(h[32:], uint32(b.SegSize))
		le.PutUint32(h[36:], uint32(b.Block))
	}
	b.Buf = append(b.Buf, h...)
}

func (b *WALBuilder) raw(p []byte) {
	for i := 0; i < len(p); {
		if int(b.Pos())%b.Block == 0 {
			b.PageHeader(i > 0, len(p)-i)
		}
		n := min(b.Block-int(b.Pos())%b.Block, len(p)-i)
		b.Buf = append(b.Buf, p[i:i+n]...)
		i += n
	}
}

// Align pads to the next MAXALIGN (8-byte) boundary.
func (b *WALBuilder) Align() {
	for b.Pos()%8 != 0 {
		b.Buf = append(b.Buf, 0)
	}
}

// Record appends a record of rmgr rmid with xl_info info, xl_xid xid and body (block headers,
// main data header, payload) and returns where it starts.
func (b *WALBuilder) Record(rmid, info byte, xid uint32, body []byte) catalog.LSN {
	le := binary.LittleEndian
	b.Align()
	if int(b.Pos())%b.Block == 0 {
		b.PageHeader(false, 0)
	}
	at := b.Pos()
	head := make([]byte, walRecord)
	le.PutUint32(head[0:], uint32(walRecord+len(body)))
	le.PutUint32(head[4:], xid)
	le.PutUint64(head[8:], uint64(b.prev))
	head[16], head[17] = info, rmid
	le.PutUint32(head[20:], crc32.Update(crc32.Update(0, castagnoli, body), castagnoli, head[:20]))
	b.raw(append(head, body...))
	b.prev = at
	b.Recorded = append(b.Recorded, at)
	return at
}

// MainOnly is a record body holding only main data.
func MainOnly(data []byte) []byte {
	if len(data) < 256 {
		return append([]byte{BlockIDDataShort, byte(len(data))}, data...)
	}
	h := []byte{254, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(h[1:], uint32(len(data)))
	return append(h, data...)
}

// PGTime is a TimestampTz.
func PGTime(t time.Time) []byte {
	return binary.LittleEndian.AppendUint64(nil, uint64(t.Sub(PGEpoch)/time.Microsecond))
}

// Commit appends a plain commit of xid at t.
func (b *WALBuilder) Commit(xid uint32, t time.Time) catalog.LSN {
	return b.Record(RmXACT, XactCommit, xid, MainOnly(PGTime(t)))
}

// RestorePoint appends pg_create_restore_point(name) at t.
func (b *WALBuilder) RestorePoint(name string, t time.Time) catalog.LSN {
	n := make([]byte, RestorePointNameLen)
	copy(n, name)
	return b.Record(RmXLOG, XlogRestorePoint, 0, MainOnly(append(PGTime(t), n...)))
}

// Switch appends pg_switch_wal() and pads the segment.
func (b *WALBuilder) Switch() catalog.LSN {
	at := b.Record(RmXLOG, XlogSwitch, 0, nil)
	seg := catalog.LSN(b.SegSize)
	b.PadTo((b.Pos() + seg - 1) / seg * seg)
	return at
}

// PadTo fills with zeros up to l (the unwritten rest of a segment).
func (b *WALBuilder) PadTo(l catalog.LSN) {
	for b.Pos() < l {
		b.Buf = append(b.Buf, 0)
	}
}

// Segment is the bytes of the segment starting at start.
func (b *WALBuilder) Segment(start catalog.LSN) []byte {
	o := int(start - b.Start)
	return b.Buf[o : o+b.SegSize]
}

// WALRecords archives segments from first on of timeline tli holding real records: fill
// writes them with b (its segments are the fixture's size); every segment fill reaches is
// stored, each with the next tick as its archive time, so upload times follow the records.
func (f *Fixture) WALRecords(sys string, tli uint32, first uint64, fill func(b *WALBuilder)) {
	b := NewWALBuilder(f.Size.StartLSN(first), 15, sys)
	b.SegSize, b.TLI = int(f.Size), tli
	fill(b)
	seg := catalog.LSN(f.Size)
	b.PadTo((b.Pos() + seg - 1) / seg * seg)
	for no := first; f.Size.StartLSN(no) < b.Pos(); no++ {
		name := f.Size.Name(tli, no)
		f.Store.Put("pg/wals/"+name[:16]+"/"+name, b.Segment(f.Size.StartLSN(no)), f.Tick())
	}
}

// FillTo writes heap records (no event) until the next record starts a little before l.
func (b *WALBuilder) FillTo(l catalog.LSN) {
	if n := int(l-b.Pos()) + b.Block; cap(b.Buf)-len(b.Buf) < n {
		b.Buf = slices.Grow(b.Buf, max(n, cap(b.Buf))) // doubling: appends of 4 kB records stay linear
	}
	for b.Pos()+8192 < l {
		b.Record(RmHeap, 0, 1, MainOnly(make([]byte, 4000)))
	}
	if n := int(l-b.Pos()) - walRecord - 5 - 2*walShortHeader - 16; n > 0 {
		b.Record(RmHeap, 0, 1, MainOnly(make([]byte, n)))
	}
}
