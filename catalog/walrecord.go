package catalog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// The WAL format, as PostgreSQL 15 to 18 write it (access/xlog_internal.h, access/xlogrecord.h,
// access/xact.h, catalog/pg_control.h). Pages of XLOG_BLCKSZ bytes each start with a page
// header (the long one on a segment's first page); records are MAXALIGNed (8 bytes) and flow
// across pages and segments, a page whose first bytes continue a record saying so
// (XLP_FIRST_IS_CONTRECORD, xlp_rem_len). A record is a 24-byte header, block headers and a
// main data header, then block images and data, then the main data last.

// walPageMagic is XLOG_PAGE_MAGIC of each PostgreSQL major version whose WAL this reads.
var walPageMagic = map[uint16]int{0xD110: 15, 0xD113: 16, 0xD116: 17, 0xD118: 18}

const (
	walShortHeaderLen = 24 // SizeOfXLogShortPHD: MAXALIGN(20)
	walRecordHeader   = 24 // SizeOfXLogRecord
	walMaxAlign       = 8
	walRecordMaxSize  = 1020 << 20 // XLogRecordMaxSize

	xlpFirstIsContRecord = 0x0001

	rmXLOG = 0
	rmXACT = 1

	// RM_XLOG_ID records (catalog/pg_control.h), by xl_info & 0xF0.
	xlogCheckpointShutdown = 0x00
	xlogCheckpointOnline   = 0x10
	xlogSwitch             = 0x40
	xlogRestorePoint       = 0x70

	// RM_XACT_ID records (access/xact.h), by xl_info & XLOG_XACT_OPMASK.
	xactOpMask         = 0x70
	xactCommit         = 0x00
	xactAbort          = 0x20
	xactCommitPrepared = 0x30
	xactAbortPrepared  = 0x40
	xactHasInfo        = 0x80

	xinfoHasDBInfo       = 1 << 0
	xinfoHasSubxacts     = 1 << 1
	xinfoHasRelLocators  = 1 << 2
	xinfoHasInvals       = 1 << 3
	xinfoHasTwoPhase     = 1 << 4
	xinfoHasDroppedStats = 1 << 8

	// Block reference headers (access/xlogrecord.h).
	blockIDDataShort  = 255
	blockIDDataLong   = 254
	blockIDOrigin     = 253
	blockIDTopLevel   = 252
	maxBlockID        = 32
	bkpBlockHasImage  = 0x10
	bkpBlockSameRel   = 0x80
	bkpImageHasHole   = 0x01
	bkpImageCompressd = 0x04 | 0x08 | 0x10 // BKPIMAGE_COMPRESS_PGLZ | _LZ4 | _ZSTD

	restorePointNameLen = 64 // MAXFNAMELEN
)

// pgEpoch is where PostgreSQL's TimestampTz counts microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func pgTime(us int64) time.Time { return pgEpoch.Add(time.Duration(us) * time.Microsecond).UTC() }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WAL event kinds: what a recovery target can stop at, and the records that bound the WAL.
const (
	EventCommit       = "commit"
	EventAbort        = "abort"
	EventRestorePoint = "restore-point"
	EventCheckpoint   = "checkpoint"
	EventSwitch       = "switch"
)

// WALEvent is one record a recovery target is about.
type WALEvent struct {
	Kind string `json:"kind"`
	// LSN is where the record starts, End where the next one may (recovery_target_lsn and
	// the record boundaries PostgreSQL compares with).
	LSN LSN `json:"lsn"`
	End LSN `json:"end"`
	// XID is the transaction a commit or abort ends (the prepared transaction's, for COMMIT
	// PREPARED and ROLLBACK PREPARED); Prepared says it was one.
	XID      uint32 `json:"xid,omitempty"`
	Prepared bool   `json:"prepared,omitempty"`
	// Time is the commit, abort or restore point's timestamp (zero for the others).
	Time time.Time `json:"time,omitzero"`
	// Name is a restore point's name; Redo a checkpoint's redo pointer; Shutdown says a
	// checkpoint is a shutdown checkpoint.
	Name     string `json:"name,omitempty"`
	Redo     LSN    `json:"redo,omitempty"`
	Shutdown bool   `json:"shutdown,omitempty"`
}

// WALRecords is what a run of WAL holds, read record by record.
type WALRecords struct {
	// Version is the PostgreSQL major version the page magic names.
	Version int
	// Events are the commits, aborts, restore points, checkpoints and switches, in order.
	Events []WALEvent
	// Records counts the valid records read; First is where the first one starts (after the
	// tail of a record that began before the data), End where valid WAL ends: just past the
	// last valid record, or at the end of the data when the last record runs past it.
	Records    int
	First, End LSN
	// LastRecord is where the last valid record starts.
	LastRecord LSN
	// Stop says why reading stopped before the end of the data ("" when the data ran out): a
	// zeroed page or record, a record that fails its CRC, a page header that is not the next
	// page's — the end of valid WAL, as recovery sees it. Switched says a switch record ended
	// the WAL written (the rest of its segment is padding).
	Stop     string
	Switched bool
	// MaxXID is the newest transaction id (in PostgreSQL's circular order) that a valid record
	// carries in xl_xid, 0 when none carries a normal one: transactions get their id when they
	// first write, so the WAL's xids grow along it, which is what locating an xid bisects on.
	MaxXID uint32
}

// firstNormalXID is FirstNormalTransactionId: 0 to 2 are not transactions.
const firstNormalXID = 3

// XIDFollowsOrEquals is TransactionIdFollowsOrEquals for normal xids: a is b or newer, in the
// circular order of 32-bit transaction ids.
func XIDFollowsOrEquals(a, b uint32) bool { return int32(a-b) >= 0 }

// LastCommit is the newest commit in the records, or nil.
func (w *WALRecords) LastCommit() *WALEvent {
	for i := len(w.Events) - 1; i >= 0; i-- {
		if w.Events[i].Kind == EventCommit {
			return &w.Events[i]
		}
	}
	return nil
}

// walStream reads the bytes of records out of WAL pages, skipping and checking page headers.
type walStream struct {
	chunks []*walChunk // consecutive segments from start
	start  LSN         // a segment boundary
	block  int         // XLOG_BLCKSZ
	magic  uint16
	tli    uint32
	// sysid and segSize are what every segment's long header must say.
	sysid   uint64
	segSize uint32
	// scratch holds a record header and a record body that cross pages, reused record to
	// record (what a record's events keep is copied out of it).
	scratch [2][]byte
}

// at returns the n bytes at l, which lie in one segment, when the data has them.
func (s *walStream) at(l LSN, n int) ([]byte, bool) {
	if l < s.start {
		return nil, false
	}
	i := uint64(l-s.start) / uint64(s.segSize)
	if i >= uint64(len(s.chunks)) {
		return nil, false
	}
	return s.chunks[i].at(int(uint64(l-s.start)%uint64(s.segSize)), n)
}

// mark says the reader is done with everything before l: no slice it was given before is
// used after.
func (s *walStream) mark(l LSN) {
	if i := uint64(l-s.start) / uint64(s.segSize); l >= s.start && i < uint64(len(s.chunks)) {
		s.chunks[i].drop(int(uint64(l-s.start) % uint64(s.segSize)))
	}
}

// has says whether the data holds the byte at l.
func (s *walStream) has(l LSN) bool {
	_, ok := s.at(l, 1)
	return ok
}

// pageHeader checks the header of the page starting at p and returns its length and its
// remaining-length field; ok is false where valid WAL ends (a zeroed or foreign page).
func (s *walStream) pageHeader(p LSN, first bool) (hdr int, info uint16, remLen uint32, why string) {
	d, ok := s.at(p, walShortHeaderLen)
	if !ok {
		return 0, 0, 0, ""
	}
	le := binary.LittleEndian
	magic, info := le.Uint16(d[0:2]), le.Uint16(d[2:4])
	tli, addr, rem := le.Uint32(d[4:8]), LSN(le.Uint64(d[8:16])), le.Uint32(d[16:20])
	switch {
	case magic == 0 && addr == 0:
		return 0, 0, 0, fmt.Sprintf("zeroed page at %s", p)
	case magic != s.magic:
		return 0, 0, 0, fmt.Sprintf("page at %s has magic %#04x, not %#04x", p, magic, s.magic)
	case addr != p:
		return 0, 0, 0, fmt.Sprintf("page at %s says it is page %s (recycled)", p, addr)
	case !first && tli < s.tli:
		return 0, 0, 0, fmt.Sprintf("page at %s is on timeline %d, before %d", p, tli, s.tli)
	}
	hdr = walShortHeaderLen
	if uint64(p)%uint64(s.segSize) == 0 {
		d, ok := s.at(p, walLongHeaderLen)
		if info&xlpLongHeader == 0 || !ok {
			return 0, 0, 0, fmt.Sprintf("segment at %s has no long page header", p)
		}
		if id := le.Uint64(d[24:32]); id != s.sysid {
			return 0, 0, 0, fmt.Sprintf("segment at %s is from database system %d, not %d", p, id, s.sysid)
		}
		if le.Uint32(d[32:36]) != s.segSize || int(le.Uint32(d[36:40])) != s.block {
			return 0, 0, 0, fmt.Sprintf("segment at %s has another segment or block size", p)
		}
		hdr = walLongHeaderLen
	}
	s.tli = tli
	return hdr, info, rem, ""
}

// read gathers n bytes of record data starting at l (not on a page header), crossing page
// headers; it returns the bytes (a slice of the data itself when they lie in one page, or of
// scratch buffer k: read them only, and only until the next read into k) and the LSN just past
// them. A page in between must say it continues a record. why is set where valid WAL ends.
func (s *walStream) read(l LSN, n, k int) (out []byte, next LSN, why string, ok bool) {
	block := LSN(s.block)
	if r := int(block - l%block); l%block != 0 && n <= r {
		// Within one page, as most records are: the data itself, not a copy.
		d, ok := s.at(l, n)
		if !ok {
			return nil, l, "", false // the data ends inside the record
		}
		return d, l + LSN(n), "", true
	}
	out = s.scratch[k][:0]
	defer func() { s.scratch[k] = out[:0] }()
	for len(out) < n {
		if l%block == 0 {
			hdr, info, _, why := s.pageHeader(l, false)
			if hdr == 0 {
				return nil, l, why, false
			}
			if info&xlpFirstIsContRecord == 0 {
				return nil, l, fmt.Sprintf("page at %s does not continue the record", l), false
			}
			l += LSN(hdr)
		}
		take := min(n-len(out), int(l-l%block+block-l))
		d, ok := s.at(l, take)
		if !ok {
			return nil, l, "", false // the data ends inside the record
		}
		out = append(out, d...)
		l += LSN(take)
	}
	return out, l, "", true
}

// ReadWALRecords reads the records of data, the contents of consecutive WAL segments starting
// at the segment boundary start, as PostgreSQL's WAL reader does: from the first record that
// begins in the data (the tail of one that began before is skipped, as pg_waldump skips it) to
// the end of valid WAL. It fails only when data is not WAL at all.
func ReadWALRecords(start LSN, data []byte) (*WALRecords, error) {
	h, err := ParseWALHeader(data)
	if err != nil {
		return nil, err
	}
	var chunks []*walChunk
	if size := int(h.SegmentSize); SegmentSize(size).Validate() == nil {
		for o := 0; o < len(data); o += size {
			chunks = append(chunks, loadedChunk(data[o:min(o+size, len(data))]))
		}
	} else {
		chunks = []*walChunk{loadedChunk(data)} // refused below
	}
	return readWAL(start, chunks, 0)
}

// readWAL reads the records of chunks, consecutive segments from the segment boundary start,
// as ReadWALRecords does, decompressing only what it reads. With until > 0 it stops before the
// first record that starts at or after until: a segment's records need only the beginning of
// the next one, for the record that crosses into it.
func readWAL(start LSN, chunks []*walChunk, until LSN) (*WALRecords, error) {
	return readWALWith(start, chunks, until, nil)
}

// readWALWith is readWAL calling each (when not nil) with every valid record, as its start, its
// header and its body (read them only, during the call); each returning false stops the reading
// after that record.
func readWALWith(start LSN, chunks []*walChunk, until LSN, each func(l LSN, head, body []byte) bool) (*WALRecords, error) {
	if len(chunks) == 0 {
		_, err := ParseWALHeader(nil)
		return nil, err
	}
	data, ok := chunks[0].at(0, walLongHeaderLen)
	if !ok {
		data = chunks[0].buf // shorter than a header: all of it
	}
	h, err := ParseWALHeader(data)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	block := int(le.Uint32(data[36:40]))
	version, known := walPageMagic[le.Uint16(data[0:2])]
	switch {
	case !known:
		return nil, fmt.Errorf("WAL page magic %#04x is not PostgreSQL 15, 16, 17 or 18's", le.Uint16(data[0:2]))
	case block < 1024 || block > 65536 || block&(block-1) != 0 || h.SegmentSize%uint32(block) != 0:
		return nil, fmt.Errorf("WAL block size %d is not a power of two from 1 kB to 64 kB dividing the segment", block)
	case h.PageAddr != start:
		return nil, fmt.Errorf("the WAL data starts at %s, its first page says %s", start, h.PageAddr)
	case SegmentSize(h.SegmentSize).Validate() != nil || uint64(start)%uint64(h.SegmentSize) != 0:
		return nil, fmt.Errorf("the WAL data must start at a segment boundary, not %s", start)
	}
	s := &walStream{chunks: chunks, start: start, block: block, magic: le.Uint16(data[0:2]), tli: h.TLI, sysid: le.Uint64(data[24:32]), segSize: h.SegmentSize}
	w := &WALRecords{Version: version}

	// The first record: past the continuation of one that began before the data.
	hdr, info, rem, _ := s.pageHeader(start, true)
	l := start + LSN(hdr)
	if info&xlpFirstIsContRecord != 0 {
		for rem > 0 {
			pageEnd := l - l%LSN(block) + LSN(block)
			take := min(LSN(rem), pageEnd-l)
			l += take
			rem -= uint32(take)
			if rem > 0 {
				if !s.has(l) {
					w.First, w.End = l, l
					return w, nil
				}
				h, _, _, why := s.pageHeader(l, false)
				if h == 0 {
					w.First, w.End, w.Stop = l, l, why
					return w, nil
				}
				l += LSN(h)
			}
		}
		l = alignLSN(l)
	}
	w.First = l
	var prev LSN
	for (until == 0 || l < until) && s.has(l) {
		s.mark(l)
		// A record header never starts in a page header: skip it.
		if l%LSN(block) == 0 {
			h, _, _, why := s.pageHeader(l, false)
			if h == 0 {
				w.Stop = why
				break
			}
			l += LSN(h)
		}
		head, after, why, ok := s.read(l, walRecordHeader, 0)
		if !ok {
			w.Stop = why
			break
		}
		total := int(le.Uint32(head[0:4]))
		if total == 0 {
			w.Stop = fmt.Sprintf("zeroed record at %s", l)
			break
		}
		if total < walRecordHeader {
			w.Stop = fmt.Sprintf("record at %s is %d bytes, shorter than its header", l, total)
			break
		}
		if total > walRecordMaxSize {
			w.Stop = fmt.Sprintf("record at %s claims %d bytes, more than a record may hold", l, total)
			break
		}
		if !s.has(after + LSN(total-walRecordHeader) - 1) {
			break // the data ends inside the record (its next segment is not here)
		}
		if p := LSN(le.Uint64(head[8:16])); prev != 0 && p != prev {
			w.Stop = fmt.Sprintf("record at %s points back to %s, not %s", l, p, prev)
			break
		}
		body, end, why, ok := s.read(after, total-walRecordHeader, 1)
		if !ok {
			w.Stop = why
			break
		}
		crc := crc32.Update(crc32.Update(0, castagnoli, body), castagnoli, head[:20])
		if crc != le.Uint32(head[20:24]) {
			w.Stop = fmt.Sprintf("record at %s fails its CRC", l)
			break
		}
		w.Records++
		w.LastRecord = l
		if x := le.Uint32(head[4:8]); x >= firstNormalXID && (w.MaxXID == 0 || !XIDFollowsOrEquals(w.MaxXID, x)) {
			w.MaxXID = x
		}
		ev, ok := decodeRecord(version, head, body)
		if ok {
			ev.LSN, ev.End = l, end
			w.Events = append(w.Events, ev)
		}
		prev, l = l, alignLSN(end)
		w.End = end
		if ok && ev.Kind == EventSwitch {
			// The rest of the segment is padding; the next record starts the next one.
			w.Switched = true
			seg := LSN(h.SegmentSize)
			l = (end + seg - 1) / seg * seg
			w.End = l
		}
		if each != nil && !each(w.LastRecord, head, body) {
			break
		}
	}
	if w.End < w.First {
		w.End = w.First
	}
	return w, nil
}

func alignLSN(l LSN) LSN { return (l + walMaxAlign - 1) &^ (walMaxAlign - 1) }

// mainData finds a record's main data: the block headers come first, the main data header
// last among them, and the main data is the record's last bytes.
func mainData(body []byte) ([]byte, bool) {
	d, _, ok := walkBlocks(body)
	return d, ok
}

// walkBlocks walks a record's block headers: it returns the main data and how many block
// references the record makes.
func walkBlocks(body []byte) (main []byte, blocks int, ok bool) {
	le := binary.LittleEndian
	i := 0
	for i < len(body) {
		id := body[i]
		switch {
		case id == blockIDDataShort:
			if i+2 > len(body) {
				return nil, blocks, false
			}
			d, ok := tail(body, int(body[i+1]))
			return d, blocks, ok
		case id == blockIDDataLong:
			if i+5 > len(body) {
				return nil, blocks, false
			}
			d, ok := tail(body, int(le.Uint32(body[i+1:i+5])))
			return d, blocks, ok
		case id == blockIDOrigin:
			i += 3
		case id == blockIDTopLevel:
			i += 5
		case id <= maxBlockID:
			if i+4 > len(body) {
				return nil, blocks, false
			}
			blocks++
			flags := body[i+1]
			i += 4
			if flags&bkpBlockHasImage != 0 {
				if i+5 > len(body) {
					return nil, blocks, false
				}
				bimg := body[i+4]
				i += 5
				if bimg&bkpImageHasHole != 0 && bimg&bkpImageCompressd != 0 {
					i += 2
				}
			}
			if flags&bkpBlockSameRel == 0 {
				i += 12 // RelFileLocator
			}
			i += 4 // BlockNumber
		default:
			return nil, blocks, false
		}
	}
	return nil, blocks, true // no main data
}

func tail(body []byte, n int) ([]byte, bool) {
	if n > len(body) {
		return nil, false
	}
	return body[len(body)-n:], true
}

// decodeRecord extracts the event a record is, if it is one of those recovery targets are
// about.
func decodeRecord(version int, head, body []byte) (WALEvent, bool) {
	le := binary.LittleEndian
	info, rmid := head[16], head[17]
	if rmid != rmXLOG && rmid != rmXACT {
		return WALEvent{}, false
	}
	data, ok := mainData(body)
	if !ok {
		return WALEvent{}, false
	}
	if rmid == rmXLOG {
		switch info & 0xF0 {
		case xlogSwitch:
			return WALEvent{Kind: EventSwitch}, true
		case xlogRestorePoint:
			if len(data) < 8+restorePointNameLen {
				return WALEvent{}, false
			}
			name := data[8 : 8+restorePointNameLen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			return WALEvent{Kind: EventRestorePoint, Time: pgTime(int64(le.Uint64(data[0:8]))), Name: string(name)}, true
		case xlogCheckpointOnline, xlogCheckpointShutdown:
			if len(data) < 8 {
				return WALEvent{}, false
			}
			return WALEvent{Kind: EventCheckpoint, Redo: LSN(le.Uint64(data[0:8])), Shutdown: info&0xF0 == xlogCheckpointShutdown}, true
		}
		return WALEvent{}, false
	}
	op := info & xactOpMask
	var kind string
	switch op {
	case xactCommit, xactCommitPrepared:
		kind = EventCommit
	case xactAbort, xactAbortPrepared:
		kind = EventAbort
	default:
		return WALEvent{}, false
	}
	if len(data) < 8 {
		return WALEvent{}, false
	}
	ev := WALEvent{Kind: kind, XID: le.Uint32(head[4:8]), Time: pgTime(int64(le.Uint64(data[0:8])))}
	if op == xactCommitPrepared || op == xactAbortPrepared {
		ev.Prepared = true
		xid, ok := twoPhaseXID(version, info, kind == EventCommit, data[8:])
		if !ok {
			return WALEvent{}, false
		}
		ev.XID = xid
	}
	return ev, true
}

// twoPhaseXID walks a commit or abort record's optional parts (ParseCommitRecord's and
// ParseAbortRecord's order; an abort has no invalidations) to the prepared transaction's xid.
func twoPhaseXID(version int, info uint8, commit bool, d []byte) (uint32, bool) {
	le := binary.LittleEndian
	if info&xactHasInfo == 0 || len(d) < 4 {
		return 0, false
	}
	xinfo := le.Uint32(d[0:4])
	d = d[4:]
	skip := func(n int) bool {
		if n < 0 || n > len(d) {
			return false
		}
		d = d[n:]
		return true
	}
	count := func(each int) bool { // an int count, then that many items
		if len(d) < 4 {
			return false
		}
		n := int(int32(le.Uint32(d[0:4])))
		return n >= 0 && skip(4+n*each)
	}
	statsItem := 12 // int kind; Oid dboid; Oid objoid
	if version >= 18 {
		statsItem = 16 // objid as two uint32
	}
	if xinfo&xinfoHasDBInfo != 0 && !skip(8) ||
		xinfo&xinfoHasSubxacts != 0 && !count(4) ||
		xinfo&xinfoHasRelLocators != 0 && !count(12) ||
		xinfo&xinfoHasDroppedStats != 0 && !count(statsItem) ||
		commit && xinfo&xinfoHasInvals != 0 && !count(16) {
		return 0, false
	}
	if xinfo&xinfoHasTwoPhase == 0 || len(d) < 4 {
		return 0, false
	}
	return le.Uint32(d[0:4]), true
}
