package catalog

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// WALIndex records which WAL segments the archive holds, per timeline, as sorted runs of
// consecutive segment numbers. It is built in two steps: Add every listed segment (any order),
// then Build with the segment size, which validates the names and compresses them into runs.
//
// Memory: while listing, a segment costs one 16-byte entry, grouped by WAL directory (timeline
// and "log" half of the name) so that no string is kept per segment; after Build, 4 bytes (its
// archive time) plus a few runs per timeline.
type WALIndex struct {
	raw   map[uint64][]rawSegment // key: tli<<32 | log, the hash directory
	runs  map[uint32][]Run
	size  SegmentSize
	count int
	bytes int64
}

type rawSegment struct {
	seg   uint32 // the "seg" half of the name
	mtime uint32 // unix seconds of the object's last modification
	size  uint32 // stored size (a segment object is at most 1 GiB)
	comp  uint8  // index into compressionSuffixes, +1; 0 for none
}

// Run is a stretch of consecutive segments present on one timeline.
type Run struct {
	TLI         uint32
	First, Last uint64 // segment numbers, inclusive
	// LastModified is the newest object time in the run: roughly when its last segment was archived.
	LastModified time.Time
	// Bytes is the stored (possibly compressed) size of the run's objects.
	Bytes int64
	// comps are where the compression suffix changes along the run (barman-cloud's compression
	// is a flag of each archive command, so it can change part-way): the first entry is at
	// First.
	comps []compChange
	// mtimes are the archive times of the run's segments, unix seconds, First to Last.
	mtimes []uint32
}

type compChange struct {
	from uint64
	code uint8
}

// CompressionAt returns the compression suffix of segment segno's object ("gz"; "" for none).
func (r Run) CompressionAt(segno uint64) string {
	code := uint8(0)
	for _, c := range r.comps {
		if c.from > segno {
			break
		}
		code = c.code
	}
	return compressionName(code)
}

// Compressions lists the suffixes used along the run, in order ("" for none).
func (r Run) Compressions() []string {
	out := make([]string, 0, len(r.comps))
	for _, c := range r.comps {
		out = append(out, compressionName(c.code))
	}
	return out
}

// Modified returns the archive time of segment segno of the run.
func (r Run) Modified(segno uint64) time.Time {
	if segno < r.First || segno > r.Last || len(r.mtimes) == 0 {
		return r.LastModified
	}
	return time.Unix(int64(r.mtimes[segno-r.First]), 0).UTC()
}

// TimeRange is the oldest and newest archive time of the run's segments (a segment archived
// again later, by another system, makes them differ from those of its ends).
func (r Run) TimeRange() (time.Time, time.Time) {
	if len(r.mtimes) == 0 {
		return r.LastModified, r.LastModified
	}
	lo, hi := r.mtimes[0], r.mtimes[0]
	for _, m := range r.mtimes {
		lo, hi = min(lo, m), max(hi, m)
	}
	return time.Unix(int64(lo), 0).UTC(), time.Unix(int64(hi), 0).UTC()
}

// TimeRangeOf is the oldest and newest archive time of segments first..last of the run.
func (r Run) TimeRangeOf(first, last uint64) (time.Time, time.Time) {
	if len(r.mtimes) == 0 || first < r.First || last > r.Last || first > last {
		return r.TimeRange()
	}
	ms := r.mtimes[first-r.First : last-r.First+1]
	lo, hi := ms[0], ms[0]
	for _, m := range ms {
		lo, hi = min(lo, m), max(hi, m)
	}
	return time.Unix(int64(lo), 0).UTC(), time.Unix(int64(hi), 0).UTC()
}

// Segments is the number of segments in the run.
func (r Run) Segments() uint64 { return r.Last - r.First + 1 }

// NewWALIndex returns an empty index.
func NewWALIndex() *WALIndex { return &WALIndex{raw: map[uint64][]rawSegment{}} }

func compressionCode(c string) uint8 {
	for i, s := range compressionSuffixes {
		if s[1:] == c {
			return uint8(i + 1)
		}
	}
	return 0
}

func compressionName(code uint8) string {
	if code == 0 {
		return ""
	}
	return compressionSuffixes[code-1][1:]
}

// Grow reserves room for n more segments of one WAL directory (a listing page), so that adding
// them does not reallocate.
func (x *WALIndex) Grow(tli, log uint32, n int) {
	k := uint64(tli)<<32 | uint64(log)
	x.raw[k] = slices.Grow(x.raw[k], n)
}

// Add records one segment object.
func (x *WALIndex) Add(w WALName, size int64, modified time.Time) {
	k := uint64(w.TLI)<<32 | uint64(w.Log)
	sz := uint32(math.MaxUint32)
	if size >= 0 && size < math.MaxUint32 {
		sz = uint32(size)
	}
	x.raw[k] = append(x.raw[k], rawSegment{seg: w.Seg, mtime: uint32(modified.Unix()), size: sz, comp: compressionCode(w.Compression)})
}

// Merge moves the segments of another index (one listing goroutine's) into x.
func (x *WALIndex) Merge(o *WALIndex) {
	for k, segs := range o.raw {
		if x.raw[k] == nil {
			x.raw[k] = segs
		} else {
			x.raw[k] = append(x.raw[k], segs...)
		}
	}
	o.raw = nil
}

// Build validates the names against the segment size and compresses them into runs.
func (x *WALIndex) Build(size SegmentSize) error {
	if err := size.Validate(); err != nil {
		return err
	}
	x.size = size
	x.runs = map[uint32][]Run{}
	x.count, x.bytes = 0, 0
	keys := make([]uint64, 0, len(x.raw))
	for k, segs := range x.raw {
		keys = append(keys, k)
		slices.SortFunc(segs, func(a, b rawSegment) int { return int(a.seg) - int(b.seg) })
	}
	slices.Sort(keys) // timeline, then log: segment order within each timeline
	per := size.SegmentsPerLog()
	// each visits the distinct segments in order: timeline, then segment number.
	each := func(fn func(tli uint32, no uint64, s rawSegment)) error {
		for _, k := range keys {
			tli, log := uint32(k>>32), uint32(k)
			segs := x.raw[k]
			for i, s := range segs {
				if uint64(s.seg) >= per {
					return fmt.Errorf("timeline %d: segment %08X%08X is out of range for %s WAL segments; is xlog_segment_size right?", tli, log, s.seg, size)
				}
				if i > 0 && s.seg == segs[i-1].seg {
					continue // the same segment under two compression suffixes
				}
				fn(tli, uint64(log)*per+uint64(s.seg), s)
			}
		}
		return nil
	}
	// First pass: the runs. Second pass: their archive times, in slices of the exact length.
	err := each(func(tli uint32, no uint64, s rawSegment) {
		x.count++
		x.bytes += int64(s.size)
		runs := x.runs[tli]
		if n := len(runs); n > 0 && runs[n-1].Last+1 == no {
			r := &runs[n-1]
			r.Last = no
			r.Bytes += int64(s.size)
			if r.comps[len(r.comps)-1].code != s.comp {
				r.comps = append(r.comps, compChange{from: no, code: s.comp})
			}
			return
		}
		x.runs[tli] = append(runs, Run{TLI: tli, First: no, Last: no, Bytes: int64(s.size), comps: []compChange{{from: no, code: s.comp}}})
	})
	if err != nil {
		return err
	}
	cursor := map[uint32]int{}
	_ = each(func(tli uint32, no uint64, s rawSegment) {
		runs := x.runs[tli]
		i := cursor[tli]
		if no > runs[i].Last {
			i++
			cursor[tli] = i
		}
		r := &runs[i]
		if r.mtimes == nil {
			r.mtimes = make([]uint32, 0, r.Segments())
		}
		r.mtimes = append(r.mtimes, s.mtime)
		if t := time.Unix(int64(s.mtime), 0).UTC(); t.After(r.LastModified) {
			r.LastModified = t
		}
	})
	x.raw = map[uint64][]rawSegment{}
	return nil
}

// SegmentSize is the size the index was built with.
func (x *WALIndex) SegmentSize() SegmentSize { return x.size }

// Count is the number of distinct segments indexed.
func (x *WALIndex) Count() int { return x.count }

// Bytes is the stored size of all indexed segments.
func (x *WALIndex) Bytes() int64 { return x.bytes }

// Timelines returns the timelines that have segments, ascending.
func (x *WALIndex) Timelines() []uint32 {
	out := make([]uint32, 0, len(x.runs))
	for t := range x.runs {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Runs returns the runs of a timeline, ascending.
func (x *WALIndex) Runs(tli uint32) []Run { return x.runs[tli] }

// RunAt returns the run of timeline tli that holds segment segno.
func (x *WALIndex) RunAt(tli uint32, segno uint64) (Run, bool) {
	runs := x.runs[tli]
	i := sort.Search(len(runs), func(i int) bool { return runs[i].Last >= segno })
	if i < len(runs) && runs[i].First <= segno {
		return runs[i], true
	}
	return Run{}, false
}

// Key returns the key of segment segno of timeline tli under wals/, with its compression
// suffix, and false when the segment is not archived.
func (x *WALIndex) Key(tli uint32, segno uint64) (string, bool) {
	run, ok := x.RunAt(tli, segno)
	if !ok {
		return "", false
	}
	name := x.size.Name(tli, segno)
	key := "wals/" + name[:16] + "/" + name
	if c := run.CompressionAt(segno); c != "" {
		key += "." + c
	}
	return key, true
}

// Has reports whether segment segno of timeline tli is archived.
func (x *WALIndex) Has(tli uint32, segno uint64) bool {
	_, ok := x.RunAt(tli, segno)
	return ok
}

// Missing is a stretch of segments that replay needs and the archive lacks.
type Missing struct {
	TLI         uint32
	First, Last uint64
}

// Replay is the outcome of following a timeline path through the archive from a start segment.
type Replay struct {
	// Reached is the first segment number that could not be found (replay ends before it).
	Reached uint64
	// LastTLI is the timeline of the last segment found; LastModified its run's archive time.
	LastTLI      uint32
	LastModified time.Time
	// Segments is how many segments were found along the way.
	Segments uint64
	// Stretches are the consecutive segments read from each timeline, in replay order.
	Stretches []Stretch
}

// Stretch is a range of segments replay reads from one timeline.
type Stretch struct {
	TLI         uint32
	First, Last uint64
}

// EndLSN is the LSN up to which WAL is available: the start of the first missing segment.
func (r Replay) EndLSN(size SegmentSize) LSN { return size.StartLSN(r.Reached) }

// Follow walks the archive from segment start along path, as PostgreSQL's recovery does: each
// segment is read from the newest timeline of the path that had begun by that segment, falling
// back to older timelines of the path. It stops at the first segment found on none of them, or
// after segment stop when stop is not zero.
func (x *WALIndex) Follow(path []TimelineSpan, start, stop uint64) Replay {
	r := Replay{Reached: start}
	seg := start
	for stop == 0 || seg <= stop {
		found, fallback := false, false
		for i := len(path) - 1; i >= 0; i-- {
			span := path[i]
			// A timeline serves the segments from the one holding its first LSN to the one
			// holding its switch point; segments it archived after that (an old primary that
			// kept running) are another history, which PostgreSQL refuses.
			if x.size.SegNoOf(span.Begin) > seg || span.End != 0 && seg > x.size.SegNoOf(span.End) {
				continue
			}
			run, ok := x.RunAt(span.TLI, seg)
			if !ok {
				fallback = true
				continue
			}
			// The run serves until it ends or a newer timeline of the path takes over.
			end := run.Last
			if i+1 < len(path) {
				if next := x.size.SegNoOf(path[i+1].Begin); next > seg && next-1 < end {
					end = next - 1
				}
			}
			if fallback {
				end = seg // a newer timeline may hold the next segment: look again
			}
			if stop != 0 && end > stop {
				end = stop
			}
			r.Segments += end - seg + 1
			r.LastTLI, r.LastModified = span.TLI, run.Modified(end)
			if n := len(r.Stretches); n > 0 && r.Stretches[n-1].TLI == span.TLI && r.Stretches[n-1].Last+1 == seg {
				r.Stretches[n-1].Last = end
			} else {
				r.Stretches = append(r.Stretches, Stretch{TLI: span.TLI, First: seg, Last: end})
			}
			seg = end + 1
			found = true
			break
		}
		if !found {
			break
		}
	}
	r.Reached = seg
	return r
}
