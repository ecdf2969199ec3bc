package catalog

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"
)

// WAL segment files start with an XLogLongPageHeaderData: magic, info, timeline, page address,
// remaining length (24 bytes with padding), then the system identifier, segment size and block
// size. The system identifier tells which database system wrote the segment, whatever its name.
const (
	walLongHeaderLen = 40
	xlpLongHeader    = 0x0002
)

// WALHeader is what the first page of a segment says about it.
type WALHeader struct {
	SystemID    string
	TLI         uint32
	PageAddr    LSN
	SegmentSize uint32
}

// ParseWALHeader decodes the long page header at the start of a WAL segment (little-endian, as
// on every platform CloudNativePG runs on).
func ParseWALHeader(data []byte) (WALHeader, error) {
	if len(data) < walLongHeaderLen {
		return WALHeader{}, fmt.Errorf("%d bytes is too short for a WAL page header", len(data))
	}
	le := binary.LittleEndian
	magic := le.Uint16(data[0:2])
	info := le.Uint16(data[2:4])
	if magic < 0xD000 || magic > 0xD1FF {
		return WALHeader{}, fmt.Errorf("not a WAL segment: page magic %#04x", magic)
	}
	if info&xlpLongHeader == 0 {
		return WALHeader{}, fmt.Errorf("not the start of a WAL segment: no long page header")
	}
	return WALHeader{
		TLI:         le.Uint32(data[4:8]),
		PageAddr:    LSN(le.Uint64(data[8:16])),
		SystemID:    strconv.FormatUint(le.Uint64(data[24:32]), 10),
		SegmentSize: le.Uint32(data[32:36]),
	}, nil
}

// peekBytes is how much of a stored segment to fetch to decompress its first 40 bytes.
func peekBytes(compression string) int64 {
	switch compression {
	case "":
		return walLongHeaderLen
	case "bz2":
		return 2 << 20 // bzip2 needs its whole first block
	default:
		return 256 << 10
	}
}

// segmentRef names one segment of one timeline.
type segmentRef struct {
	TLI   uint32
	SegNo uint64
}

// verifySystems reads the header of the segments that decide which system the WAL belongs to:
// the first segment each backup needs (its end is checked with the rest of its replay by
// verifyReplays), and the first of every run. It records the system identifier each reports in
// c.walSystem.
func (c *Catalog) verifySystems(ctx context.Context, store Store, root string, concurrency int) error {
	size := c.WAL.SegmentSize()
	want := map[segmentRef]bool{}
	for _, b := range c.Backups {
		if b.Info == nil || b.Info.Status != "DONE" || !b.Info.Present["begin_wal"] || !b.Info.Present["end_wal"] {
			continue
		}
		w, _ := ParseWALName(b.Info.BeginWAL)
		if no, err := size.SegNo(w.Log, w.Seg); err == nil {
			want[segmentRef{w.TLI, no}] = true
		}
	}
	for _, tli := range c.WAL.Timelines() {
		for _, r := range c.WAL.Runs(tli) {
			want[segmentRef{tli, r.First}] = true
		}
	}
	refs := make([]segmentRef, 0, len(want))
	for r := range want {
		if c.WAL.Has(r.TLI, r.SegNo) {
			refs = append(refs, r)
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		return refs[i].TLI < refs[j].TLI || refs[i].TLI == refs[j].TLI && refs[i].SegNo < refs[j].SegNo
	})
	c.walSystem = map[segmentRef]string{}
	return c.peekAll(ctx, store, root, concurrency, refs)
}

// peekAll reads the headers of refs, concurrently, into c.walSystem.
func (c *Catalog) peekAll(ctx context.Context, store Store, root string, concurrency int, refs []segmentRef) error {
	results := make([]string, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i, r := range refs {
		g.Go(func() error {
			var err error
			results[i], err = c.peekSystem(gctx, store, root, r)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, r := range refs {
		c.walSystem[r] = results[i]
	}
	return nil
}

// peekSystem reads the system identifier from the header of one archived segment; a header
// that cannot be decoded gives "?reason".
func (c *Catalog) peekSystem(ctx context.Context, store Store, root string, r segmentRef) (string, error) {
	size := c.WAL.SegmentSize()
	key, _ := c.WAL.Key(r.TLI, r.SegNo)
	run, _ := c.WAL.RunAt(r.TLI, r.SegNo)
	comp := run.CompressionAt(r.SegNo)
	data, err := store.Get(ctx, root+key, peekBytes(comp))
	if err != nil {
		return "", fmt.Errorf("while reading the header of %s/%s: %w", c.Location, key, err)
	}
	data, err = decompressPrefix(data, comp, walLongHeaderLen)
	if err == nil {
		var h WALHeader
		if h, err = ParseWALHeader(data); err == nil {
			if h.PageAddr == size.StartLSN(r.SegNo) {
				return h.SystemID, nil
			}
			err = fmt.Errorf("its first page is at %s, not %s where segment %s starts", h.PageAddr, size.StartLSN(r.SegNo), size.Name(r.TLI, r.SegNo))
		}
	}
	return "?" + err.Error(), nil
}

// verifyReplays checks that the WAL each usable backup's replay reads was written by the
// backup's own system: it reads the header at both ends of every stretch of the replay and,
// where the far end belongs to another system, finds by bisection where that system's WAL
// begins. A cluster rebuilt with initdb into the same path writes segments with the same names
// as the old one; only the headers tell them apart. It reports whether it learned anything
// that changes the analysis.
func (c *Catalog) verifyReplays(ctx context.Context, store Store, root string, concurrency int) (bool, error) {
	type job struct {
		st  Stretch
		sys string
	}
	seen := map[job]bool{}
	var jobs []job
	var ends []segmentRef
	wanted := map[segmentRef]bool{} // many backups' replays end on the same segment
	for _, b := range c.Backups {
		if !b.Usable() {
			continue
		}
		for _, st := range stretchesOf(b.replays()) {
			j := job{st, b.Info.SystemID}
			if seen[j] {
				continue
			}
			seen[j] = true
			jobs = append(jobs, j)
			for _, no := range []uint64{st.First, st.Last} {
				ref := segmentRef{st.TLI, no}
				if _, ok := c.walSystem[ref]; !ok && !wanted[ref] {
					wanted[ref] = true
					ends = append(ends, ref)
				}
			}
		}
	}
	before := len(c.walSystem)
	if err := c.peekAll(ctx, store, root, concurrency, ends); err != nil {
		return false, err
	}
	var mu sync.Mutex
	lookup := func(r segmentRef) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		id, ok := c.walSystem[r]
		return id, ok
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, j := range jobs {
		first, _ := lookup(segmentRef{j.st.TLI, j.st.First})
		last, _ := lookup(segmentRef{j.st.TLI, j.st.Last})
		if first != j.sys || last == j.sys || last == "" || last[0] == '?' {
			continue
		}
		g.Go(func() error {
			lo, hi := j.st.First, j.st.Last // own at lo, foreign at hi
			for hi-lo > 1 {
				mid := lo + (hi-lo)/2
				ref := segmentRef{j.st.TLI, mid}
				id, ok := lookup(ref)
				if !ok {
					var err error
					if id, err = c.peekSystem(gctx, store, root, ref); err != nil {
						return err
					}
					mu.Lock()
					c.walSystem[ref] = id
					mu.Unlock()
				}
				switch {
				case id == j.sys:
					lo = mid
				case id == "" || id[0] == '?':
					return nil // unreadable: stop narrowing, the far end still limits the replay
				default:
					hi = mid
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return false, err
	}
	return len(c.walSystem) != before, nil
}

func stretchesOf(replays []Replay) []Stretch {
	var out []Stretch
	for _, r := range replays {
		out = append(out, r.Stretches...)
	}
	return out
}

// replays are the recoveries a backup may be planned with: to its pinned or default timeline,
// to latest, and to each older timeline of the latest path.
func (b *Backup) replays() []Replay {
	replays := []Replay{b.Replay, b.Latest}
	for _, alt := range b.Alternatives {
		replays = append(replays, alt.Replay)
	}
	return replays
}
