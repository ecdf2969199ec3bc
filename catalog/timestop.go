package catalog

import (
	"context"
	"fmt"
	"time"
)

// TimeStop is where recovery to a time stops, as the records say: PostgreSQL stops before the
// first transaction that ends after the target (at or after it, with recovery_target_inclusive
// off), so that transaction and the one before it bound what is restored.
type TimeStop struct {
	// FirstExcluded is the first commit or abort recovery does not apply; LastIncluded the
	// last one it does (nil when none is in the segments read before it).
	FirstExcluded *WALEvent `json:"firstExcluded,omitempty"`
	LastIncluded  *WALEvent `json:"lastIncluded,omitempty"`
	// Segment is where the first excluded record ends: the last segment recovery reads.
	Segment string `json:"segment,omitempty"`
	// SegmentsRead and BytesRead are what the bisection took.
	SegmentsRead int   `json:"segmentsRead"`
	BytesRead    int64 `json:"bytesRead"`
	// Problem says why the search stopped early.
	Problem string `json:"problem,omitempty"`

	segNo uint64
}

// TimeStop is where recovery to Options.Locate's time stops, when Load searched for it.
func (c *Catalog) TimeStop() *TimeStop { return c.timeStop }

// TimeStopSegment is the last segment recovery to the time reads (ok false when unknown).
func (c *Catalog) TimeStopSegment() (uint64, bool) {
	if c.timeStop == nil || c.timeStop.FirstExcluded == nil {
		return 0, false
	}
	return c.timeStop.segNo, true
}

// locateTime bisects the recovery path, from the first segment of the backup a time target
// would be restored from, for the first segment holding a transaction that ends past the
// target: commit times grow with the WAL, and archive times — wrong in a copied catalog — are
// not used. Each probe reads a segment and its successor, so that a record crossing into the
// next one is read whole.
func (c *Catalog) locateTime(ctx context.Context, store Store, root string, t Target) error {
	if t.Time == nil {
		return nil
	}
	l := c.targetLineage(t)
	if l == nil {
		return nil
	}
	var from *Backup
	for _, b := range l.Usable() {
		if t.BackupID != "" && b.ID == t.BackupID || t.BackupID == "" && !b.Info.EndTime.After(*t.Time) {
			from = b
		}
	}
	if from == nil {
		return nil
	}
	size := c.WAL.SegmentSize()
	bw, _ := ParseWALName(from.Info.BeginWAL)
	floor, _ := size.SegNo(bw.Log, bw.Seg)
	refs := c.pathSegments(l, floor)
	ts := &TimeStop{}
	c.timeStop = ts
	segs := map[int]*walChunk{}
	defer closeChunks(segs)
	get := func(i int) (*walChunk, error) {
		if d, ok := segs[i]; ok {
			return d, nil
		}
		seg, stored, problem, err := c.fetchSegment(ctx, store, root, refs[i])
		if err != nil {
			return nil, fmt.Errorf("while searching the WAL of %s for %s: %w", c.Location, t.Time.Format(time.RFC3339Nano), err)
		}
		if problem != "" && problem != errNoSegment {
			ts.Problem = problem
		}
		ts.SegmentsRead++
		ts.BytesRead += stored
		segs[i] = seg
		return seg, nil
	}
	past := func(e WALEvent) bool {
		if e.Kind != EventCommit && e.Kind != EventAbort {
			return false
		}
		return e.Time.After(*t.Time) || t.Exclusive && e.Time.Equal(*t.Time)
	}
	// events are the transaction ends that start in segment i.
	read := map[int][]WALEvent{}
	events := func(i int) ([]WALEvent, error) {
		if es, ok := read[i]; ok {
			return es, nil
		}
		seg, err := get(i)
		if err != nil || seg == nil {
			return nil, err
		}
		chunks := []*walChunk{seg}
		if i+1 < len(refs) && refs[i+1].SegNo == refs[i].SegNo+1 && !seg.short() {
			next, err := get(i + 1)
			if err != nil {
				return nil, err
			}
			if next != nil {
				chunks = append(chunks, next)
			}
		}
		end := size.StartLSN(refs[i].SegNo + 1)
		w, err := readWAL(size.StartLSN(refs[i].SegNo), chunks, end)
		for k, ch := range chunks {
			if p := c.chunkProblem(refs[i+k], ch); p != "" && ts.Problem == "" {
				ts.Problem = p
			}
		}
		if err != nil {
			return nil, nil
		}
		var out []WALEvent
		for _, e := range w.Events {
			if e.LSN < end && (e.Kind == EventCommit || e.Kind == EventAbort) {
				out = append(out, e)
			}
		}
		read[i] = out
		return out, nil
	}
	// isPast: the newest transaction end in segment i, or the first segment after it that
	// has one (at most a few: an idle stretch), is past the target.
	isPast := func(i int) (bool, error) {
		for j := i; j < len(refs) && j < i+4; j++ {
			es, err := events(j)
			if err != nil {
				return false, err
			}
			if len(es) > 0 {
				return past(es[len(es)-1]), nil
			}
		}
		return false, nil
	}
	lo, hi := 0, len(refs) // the first segment whose transactions reach past the target
	for lo < hi {
		mid := (lo + hi) / 2
		p, err := isPast(mid)
		if err != nil {
			return err
		}
		if ts.Problem != "" {
			return nil
		}
		if p {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	for i := lo; i < len(refs) && i < lo+4; i++ {
		es, err := events(i)
		if err != nil {
			return err
		}
		for k, e := range es {
			if !past(e) {
				continue
			}
			ts.FirstExcluded = &e
			ts.segNo = size.SegNoOf(e.End - 1)
			ts.Segment = size.Name(pathTLI(refs, ts.segNo), ts.segNo)
			if k > 0 {
				ts.LastIncluded = &es[k-1]
			}
			for j := i - 1; ts.LastIncluded == nil && j >= 0 && j >= i-4; j-- {
				prev, err := events(j)
				if err != nil {
					return err
				}
				if len(prev) > 0 {
					ts.LastIncluded = &prev[len(prev)-1]
				}
			}
			return nil
		}
	}
	return nil
}

// pathTLI is the timeline the path reads segment no from.
func pathTLI(refs []segmentRef, no uint64) uint32 {
	for _, r := range refs {
		if r.SegNo == no {
			return r.TLI
		}
	}
	return 0
}
