package catalog

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
)

// maxLocateSegments bounds the WAL read to find a transaction or restore point (16 MiB
// segments: 2 GiB of WAL). Beyond it the target stays unlocated and the plan says so.
const maxLocateSegments = 128

// Located is where the WAL holds the transaction or restore point a target names.
type Located struct {
	// What is the target in words: transaction 742, restore point "before-migration".
	What string `json:"what"`
	// Event is its record (nil when it was not found); TLI the timeline of its segment.
	Event *WALEvent `json:"event,omitempty"`
	TLI   uint32    `json:"timeline,omitempty"`
	// From and To are the segments searched, oldest and newest; Complete says they are the
	// whole replay from the oldest usable backup, so that not found means not there.
	From string `json:"from"`
	To   string `json:"to"`
	// Since is the backup whose first segment the search goes back to (the oldest usable, or
	// the one --backup-id names).
	Since    string `json:"since"`
	Complete bool   `json:"complete"`
	// SegmentsRead and BytesRead are what searching took.
	SegmentsRead int   `json:"segmentsRead"`
	BytesRead    int64 `json:"bytesRead"`
	// Problem says why the search stopped early (a segment that could not be read).
	Problem string `json:"problem,omitempty"`
}

// Located is where the WAL holds the target Load was asked to locate (Options.Locate), or nil.
func (c *Catalog) Located() *Located { return c.located }

// matches says whether the record is what t names: the end (commit or abort) of transaction
// t.XID, or a restore point named t.Name.
func matches(e WALEvent, t Target) bool {
	switch {
	case t.XID != "":
		return (e.Kind == EventCommit || e.Kind == EventAbort) && fmt.Sprint(e.XID) == t.XID
	case t.Name != "":
		return e.Kind == EventRestorePoint && e.Name == t.Name
	}
	return false
}

// locate searches the WAL of the lineage the target is about for the record it names, newest
// segment first, along the replay of the backup that reaches furthest, down to the oldest
// usable backup's first segment. For a restore point it goes on to the end of the newest
// backup before the one found: recovery stops at the first restore point of that name after
// the backup, and an older one of the same name there is the one it stops at.
func (c *Catalog) locate(ctx context.Context, store Store, root string, t Target) error {
	if t.XID == "" && t.Name == "" {
		return nil
	}
	l := c.targetLineage(t)
	if l == nil {
		return nil // Select refuses before the target matters
	}
	loc := &Located{What: "transaction " + t.XID}
	if t.Name != "" {
		loc.What = fmt.Sprintf("restore point %q", t.Name)
	}
	c.located = loc
	size := c.WAL.SegmentSize()
	oldest := l.First
	if t.BackupID != "" {
		oldest = c.Backup(t.BackupID)
	}
	loc.Since = oldest.ID
	bw, _ := ParseWALName(oldest.Info.BeginWAL)
	floor, _ := size.SegNo(bw.Log, bw.Seg)
	refs := c.pathSegments(l, floor)
	if len(refs) == 0 {
		return nil
	}
	if x, err := strconv.ParseUint(t.XID, 10, 32); err == nil && x >= firstNormalXID {
		if found, err := c.bisectXID(ctx, store, root, refs, uint32(x), loc); err != nil || found || loc.Problem != "" {
			return err
		}
		// Not where the xids say (a transaction that wrote long after it began, or WAL whose
		// xids do not grow): the whole search below decides.
	}
	slices.Reverse(refs) // newest first
	loc.To = size.Name(refs[0].TLI, refs[0].SegNo)
	var next *walChunk // the newer neighbour, for records that cross into it
	defer func() {
		if next != nil {
			next.close()
		}
	}()
	stopAt := uint64(0)
	for k, ref := range refs {
		if k >= maxLocateSegments || loc.SegmentsRead >= 2*maxLocateSegments {
			return nil
		}
		if loc.Event != nil && ref.SegNo < stopAt {
			break
		}
		seg, stored, problem, err := c.fetchSegment(ctx, store, root, ref)
		switch {
		case err != nil:
			return fmt.Errorf("while searching the WAL of %s for %s: %w", c.Location, loc.What, err)
		case problem == errNoSegment:
		case problem != "":
			loc.Problem = problem
			return nil
		}
		if seg == nil {
			break
		}
		loc.SegmentsRead++
		loc.BytesRead += stored
		loc.From = size.Name(ref.TLI, ref.SegNo)
		chunks := []*walChunk{seg}
		if next != nil {
			chunks = append(chunks, next)
		}
		end := size.StartLSN(ref.SegNo + 1)
		w, err := readWAL(size.StartLSN(ref.SegNo), chunks, end)
		if p := c.chunkProblem(ref, seg); p != "" {
			seg.close()
			loc.Problem = p
			return nil
		}
		if err != nil {
			seg.close()
			loc.Problem = fmt.Sprintf("%s/%s: %v", c.Location, size.Name(ref.TLI, ref.SegNo), err)
			return nil
		}
		for i := len(w.Events) - 1; i >= 0; i-- {
			e := w.Events[i]
			if e.LSN < end && matches(e, t) {
				loc.Event, loc.TLI = &e, ref.TLI
				stopAt = c.newestEndBefore(l, e.LSN)
				if t.XID != "" {
					stopAt = ref.SegNo + 1 // a transaction ends once
				}
			}
		}
		if next != nil {
			next.close()
		}
		next = seg
		if seg.short() {
			next.close()
			next = nil
		}
		if k == len(refs)-1 && loc.Event == nil {
			loc.Complete = true
		}
	}
	if loc.Event != nil {
		loc.Complete = true
	}
	return nil
}

// bisectXID looks for the end of transaction x by bisection on the xids the records carry
// (WALRecords.MaxXID), refs being the recovery path oldest first: a transaction gets its id when
// it first writes, so the first segment whose records carry x or a newer id is where x began at
// the latest, and its commit or abort is there or after it. From that segment it reads forward,
// within maxLocateSegments reads in all. It says whether it found the record; loc counts what
// it read.
func (c *Catalog) bisectXID(ctx context.Context, store Store, root string, refs []segmentRef, x uint32, loc *Located) (bool, error) {
	size := c.WAL.SegmentSize()
	type probe struct {
		seg *walChunk
		w   *WALRecords
	}
	probes := map[int]*probe{}
	defer func() {
		for _, p := range probes {
			if p.seg != nil {
				p.seg.close()
			}
		}
	}()
	read := func(i int) (*probe, error) {
		if p, ok := probes[i]; ok {
			return p, nil
		}
		p := &probe{}
		probes[i] = p
		seg, stored, problem, err := c.fetchSegment(ctx, store, root, refs[i])
		switch {
		case err != nil:
			return nil, fmt.Errorf("while searching the WAL of %s for %s: %w", c.Location, loc.What, err)
		case problem != "" && problem != errNoSegment:
			loc.Problem = problem
		case seg != nil:
			loc.SegmentsRead++
			loc.BytesRead += stored
			p.seg = seg
			w, err := readWAL(size.StartLSN(refs[i].SegNo), []*walChunk{seg}, 0)
			if why := c.chunkProblem(refs[i], seg); why != "" {
				loc.Problem = why
			} else if err == nil {
				p.w = w
			}
		}
		return p, nil
	}
	lo, hi := 0, len(refs)
	for lo < hi && loc.SegmentsRead < maxLocateSegments {
		mid := (lo + hi) / 2
		p, err := read(mid)
		if err != nil || loc.Problem != "" {
			return false, err
		}
		if p.w != nil && p.w.MaxXID != 0 && XIDFollowsOrEquals(p.w.MaxXID, x) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	want := Target{XID: fmt.Sprint(x)}
	for i := lo; i < len(refs) && loc.SegmentsRead < maxLocateSegments; i++ {
		p, err := read(i)
		if err != nil || loc.Problem != "" {
			return false, err
		}
		if p.seg == nil {
			continue
		}
		chunks := []*walChunk{p.seg}
		if i+1 < len(refs) && !p.seg.short() {
			next, err := read(i + 1) // a record that crosses into the next segment
			if err != nil || loc.Problem != "" {
				return false, err
			}
			if next.seg != nil {
				chunks = append(chunks, next.seg)
			}
		}
		w, err := readWAL(size.StartLSN(refs[i].SegNo), chunks, size.StartLSN(refs[i].SegNo+1))
		if err != nil {
			continue
		}
		end := size.StartLSN(refs[i].SegNo + 1)
		for _, e := range w.Events {
			if e.LSN < end && matches(e, want) {
				loc.Event, loc.TLI, loc.Complete = &e, refs[i].TLI, true
				loc.From, loc.To = size.Name(refs[0].TLI, refs[0].SegNo), size.Name(refs[len(refs)-1].TLI, refs[len(refs)-1].SegNo)
				return true, nil
			}
		}
	}
	return false, nil
}

// newestEndBefore is the segment where the newest usable backup of l that ends at or before
// lsn ends (0 when none does).
func (c *Catalog) newestEndBefore(l *Lineage, lsn LSN) uint64 {
	size := c.WAL.SegmentSize()
	var best LSN
	for _, b := range l.Usable() {
		if b.Info.EndLSN <= lsn && b.Info.EndLSN > best {
			best = b.Info.EndLSN
		}
	}
	return size.SegNoOf(best)
}

// targetLineage is the lineage a target is about: the --backup-id backup's, the --system-id
// one, or the only one; nil when none is restorable (Select then refuses).
func (c *Catalog) targetLineage(t Target) *Lineage {
	var l *Lineage
	for _, x := range c.Lineages {
		switch {
		case t.BackupID != "":
			if b := c.Backup(t.BackupID); b != nil && b.SystemID() == x.SystemID {
				l = x
			}
		case t.SystemID != "":
			if x.SystemID == t.SystemID {
				l = x
			}
		case len(c.Lineages) == 1:
			l = x
		}
	}
	if l == nil || l.Last == nil || l.First == nil {
		return nil
	}
	return l
}

// pathSegments are the segments from floor on of the replays from every usable backup of l,
// each from the timeline the newest backup's replay reads it from (the path recovery takes),
// oldest first.
func (c *Catalog) pathSegments(l *Lineage, floor uint64) []segmentRef {
	tliOf := map[uint64]uint32{}
	for _, b := range l.Usable() {
		for _, r := range []Replay{b.Replay, b.Latest} {
			for _, st := range r.Stretches {
				for no := st.First; no <= st.Last; no++ {
					tliOf[no] = st.TLI
				}
			}
		}
	}
	var refs []segmentRef
	for no, tli := range tliOf {
		if no >= floor {
			refs = append(refs, segmentRef{tli, no})
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].SegNo < refs[j].SegNo })
	return refs
}
