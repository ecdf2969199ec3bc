package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
)

// maxTailSegments bounds how far back from the end of a replay the reader looks for the last
// transaction: the last segment and the one before it (a record may cross into the last), then
// one more at a time, up to this many.
const maxTailSegments = 4

// WALTail is what the end of a replay path holds, read from its records: where valid WAL ends
// and which transaction ends last. Recovery to a time stops only at a commit or abort after the
// target, so a time target at or after the last one is never reached; a target LSN past the
// start of the last valid record is not either.
type WALTail struct {
	// TLI and Segment are the replay's last segment.
	TLI     uint32 `json:"timeline"`
	Segment string `json:"segment"`
	// LastXact is the newest commit or abort in the segments read (nil when they hold none);
	// LastCommit the newest commit.
	LastXact   *WALEvent `json:"lastTransaction,omitempty"`
	LastCommit *WALEvent `json:"lastCommit,omitempty"`
	// LastRecord is where the last valid record starts; End where valid WAL ends.
	LastRecord LSN `json:"lastRecord"`
	End        LSN `json:"end"`
	// Stop says why the records end there ("" when the segment read ends with a record).
	Stop string `json:"stop,omitempty"`
	// SegmentsRead and BytesRead are what reading it took (objects, stored bytes).
	SegmentsRead int   `json:"segmentsRead"`
	BytesRead    int64 `json:"bytesRead"`
	// Problem says why the tail could not be read; the window then rests on archive times.
	Problem string `json:"problem,omitempty"`
}

// Tail is what the end of replay r holds, when the catalog read it.
func (c *Catalog) Tail(r Replay) *WALTail {
	if r.Reached == 0 {
		return nil
	}
	return c.tails[segmentRef{r.LastTLI, r.Reached - 1}]
}

// TailBudget is what reading the tails of the replays took: segments and stored bytes.
func (c *Catalog) TailBudget() (segments int, bytes int64) {
	for _, t := range c.tails {
		segments += t.SegmentsRead
		bytes += t.BytesRead
	}
	return segments, bytes
}

// readTails reads the end of every usable backup's replays (each distinct end once).
func (c *Catalog) readTails(ctx context.Context, store Store, root string, concurrency int) error {
	seen := map[segmentRef]Replay{}
	for _, b := range c.Backups {
		if !b.Usable() {
			continue
		}
		for _, r := range b.replays() {
			if r.Reached == 0 || len(r.Stretches) == 0 {
				continue
			}
			ref := segmentRef{r.LastTLI, r.Reached - 1}
			if _, ok := seen[ref]; !ok {
				seen[ref] = r
			}
		}
	}
	refs := make([]segmentRef, 0, len(seen))
	for ref := range seen {
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool {
		return refs[i].TLI < refs[j].TLI || refs[i].TLI == refs[j].TLI && refs[i].SegNo < refs[j].SegNo
	})
	tails := make([]*WALTail, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, min(concurrency, 4))) // each holds up to maxTailSegments segments in memory
	for i, ref := range refs {
		g.Go(func() error {
			t, err := c.readTail(gctx, store, root, seen[ref])
			tails[i] = t
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	c.tails = map[segmentRef]*WALTail{}
	for i, ref := range refs {
		c.tails[ref] = tails[i]
	}
	return nil
}

// readTail reads the last segments of a replay, newest first, until it has read the last two
// and found a transaction's end, or maxTailSegments.
func (c *Catalog) readTail(ctx context.Context, store Store, root string, r Replay) (*WALTail, error) {
	size := c.WAL.SegmentSize()
	t := &WALTail{TLI: r.LastTLI, Segment: size.Name(r.LastTLI, r.Reached-1)}
	var refs []segmentRef
	for i := len(r.Stretches) - 1; i >= 0 && len(refs) < maxTailSegments; i-- {
		st := r.Stretches[i]
		for no := st.Last; no >= st.First && len(refs) < maxTailSegments; no-- {
			refs = append(refs, segmentRef{st.TLI, no})
			if no == 0 {
				break
			}
		}
	}
	var chunks []*walChunk // oldest first
	defer func() {
		for _, ch := range chunks {
			ch.close()
		}
	}()
	for _, ref := range refs {
		ch, stored, problem, err := c.fetchSegment(ctx, store, root, ref)
		switch {
		case err != nil:
			return nil, fmt.Errorf("while reading the last WAL of %s: %w", c.Location, err)
		case problem == errNoSegment:
		case problem != "":
			t.Problem = problem
			return t, nil
		}
		if ch == nil {
			break
		}
		t.SegmentsRead++
		t.BytesRead += stored
		chunks = append([]*walChunk{ch}, chunks...)
		w, err := readWAL(size.StartLSN(ref.SegNo), chunks, 0)
		if p := c.chunkProblem(ref, ch); p != "" {
			t.Problem = p
			return t, nil
		}
		if len(chunks) > 1 && ch.short() {
			break // a short segment in the middle cannot be followed by the newer ones
		}
		if err != nil {
			t.Problem = fmt.Sprintf("%s/%s: %v", c.Location, size.Name(ref.TLI, ref.SegNo), err)
			return t, nil
		}
		t.End, t.Stop, t.LastRecord = w.End, w.Stop, w.LastRecord
		t.LastXact, t.LastCommit = nil, nil
		for i := len(w.Events) - 1; i >= 0; i-- {
			e := w.Events[i]
			if t.LastXact == nil && (e.Kind == EventCommit || e.Kind == EventAbort) {
				t.LastXact = &e
			}
			if t.LastCommit == nil && e.Kind == EventCommit {
				t.LastCommit = &e
			}
		}
		if t.LastXact != nil {
			// Records begin in the segments read up to the newest transaction end: an older
			// segment adds nothing after it.
			break
		}
	}
	return t, nil
}

// TailText says where the WAL ends, for messages: "last transaction in the archive: xid 742
// committed at 2026-…".
func (t *WALTail) TailText() string {
	if t == nil || t.LastXact == nil {
		return ""
	}
	verb := "committed"
	if t.LastXact.Kind == EventAbort {
		verb = "aborted"
	}
	return fmt.Sprintf("last transaction in the archive: xid %d %s at %s (%s)", t.LastXact.XID, verb, t.LastXact.Time.Format(time.RFC3339Nano), t.LastXact.LSN)
}

// errNoSegment is fetchSegment's problem when the index has no such segment.
const errNoSegment = "no such segment"

// fetchSegment downloads one archived segment, to be decompressed as it is read. A segment
// missing or unreadable is a problem (said in words, with its key), not an error: what reads it
// falls back to archive times. err is for the store failing or the context ending. The caller
// closes the chunk, and asks chunkProblem after reading it.
func (c *Catalog) fetchSegment(ctx context.Context, store Store, root string, ref segmentRef) (ch *walChunk, stored int64, problem string, err error) {
	size := c.WAL.SegmentSize()
	key, ok := c.WAL.Key(ref.TLI, ref.SegNo)
	if !ok {
		return nil, 0, errNoSegment, nil
	}
	run, _ := c.WAL.RunAt(ref.TLI, ref.SegNo)
	data, err := store.Get(ctx, root+key, int64(size)*2)
	if err != nil {
		if ctx.Err() != nil || !errors.Is(err, ErrNotFound) {
			return nil, 0, "", fmt.Errorf("%s: %w", key, err)
		}
		return nil, 0, fmt.Sprintf("%s/%s: %v", c.Location, key, err), nil
	}
	ch, err = lazyChunk(data, run.CompressionAt(ref.SegNo), size)
	if err != nil {
		return nil, 0, fmt.Sprintf("%s/%s: %v", c.Location, key, err), nil
	}
	return ch, int64(len(data)), "", nil
}

// chunkProblem says why the part of a segment read so far could not be decompressed ("" when
// it could).
func (c *Catalog) chunkProblem(ref segmentRef, ch *walChunk) string {
	if ch == nil || ch.Err() == nil {
		return ""
	}
	key, _ := c.WAL.Key(ref.TLI, ref.SegNo)
	run, _ := c.WAL.RunAt(ref.TLI, ref.SegNo)
	return fmt.Sprintf("%s/%s: %s data: %v", c.Location, key, run.CompressionAt(ref.SegNo), ch.Err())
}
