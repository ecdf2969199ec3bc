package catalog

import (
	"context"
	"fmt"
)

// PostgreSQL's recovery prefetcher (xlogprefetcher.c, recovery_prefetch = try, the default
// from PostgreSQL 15) decodes WAL ahead of replay: up to maintenance_io_concurrency (10) ×
// XLOGPREFETCHER_DISTANCE_MULTIPLIER (4) block references ahead, within wal_decode_buffer_size
// (512 kB) of records, and never past a shutdown checkpoint or an end-of-recovery record (they
// may change the timeline). When replay stops at a target, what it read ahead is WAL fetched
// for nothing: on a catalog of nearly empty, switched segments (a quiet database with
// archive_timeout) that is several segments, each one restore_command call; and when it read
// past the target's segment, the end of recovery fetches that segment once more.
const (
	readAheadBlocks      = 40
	readAheadBytes       = 512 << 10
	maxReadAheadSegments = 6

	xlogEndOfRecovery = 0x90
)

// ReadAhead is how far past the point where recovery stops PostgreSQL reads ahead, from the
// records after it.
type ReadAhead struct {
	// From is where replay stops; To where the last record read ahead starts.
	From LSN `json:"from"`
	To   LSN `json:"to"`
	// Segments is how many segments after From's the read-ahead fetches.
	Segments int `json:"segments"`
	// Why says what stops the read-ahead there.
	Why string `json:"why"`
	// SegmentsRead and BytesRead are what finding it took.
	SegmentsRead int   `json:"segmentsRead"`
	BytesRead    int64 `json:"bytesRead"`
}

// ReadAhead is what Load found PostgreSQL's read-ahead past Options.Locate's target would fetch,
// or nil (the latest point, or a stop it could not place).
func (c *Catalog) ReadAhead() *ReadAhead { return c.readAhead }

// stopLSN is where replay stops for t, when Load knows it: the first transaction past a time
// target (recovery stops before it), a located transaction or restore point (after it, or
// before with Exclusive), a target LSN, or the end of the backup an immediate target restores.
func (c *Catalog) stopLSN(t Target, l *Lineage) (LSN, bool) {
	switch {
	case t.Time != nil:
		if c.timeStop != nil && c.timeStop.FirstExcluded != nil {
			return c.timeStop.FirstExcluded.LSN, true
		}
	case t.XID != "" || t.Name != "":
		if c.located != nil && c.located.Event != nil {
			if t.Exclusive {
				return c.located.Event.LSN, true
			}
			return c.located.Event.End, true
		}
	case t.LSN != nil:
		return *t.LSN, true
	case t.Immediate:
		b := l.Last
		if t.BackupID != "" {
			b = c.Backup(t.BackupID)
		}
		if b != nil {
			return b.Info.EndLSN, true
		}
	}
	return 0, false
}

// findReadAhead reads the records after where replay stops for t, segment by segment, up to
// where PostgreSQL's read-ahead ends (readAheadBlocks, readAheadBytes, a barrier record, or
// maxReadAheadSegments).
func (c *Catalog) findReadAhead(ctx context.Context, store Store, root string, t Target) error {
	l := c.targetLineage(t)
	if l == nil {
		return nil
	}
	from, ok := c.stopLSN(t, l)
	if !ok || from == 0 {
		return nil
	}
	size := c.WAL.SegmentSize()
	first := size.SegNoOf(from)
	var refs []segmentRef
	for _, r := range c.pathSegments(l, first) {
		if r.SegNo != first+uint64(len(refs)) || len(refs) > maxReadAheadSegments {
			break
		}
		refs = append(refs, r)
	}
	if len(refs) == 0 {
		return nil
	}
	ra := &ReadAhead{From: from, To: from}
	var chunks []*walChunk
	defer func() {
		for _, ch := range chunks {
			ch.close()
		}
	}()
	blocks, bytes := 0, 0
	for _, ref := range refs {
		ch, stored, problem, err := c.fetchSegment(ctx, store, root, ref)
		if err != nil {
			return fmt.Errorf("while reading the WAL after %s in %s: %w", from, c.Location, err)
		}
		if problem != "" {
			return nil // the estimate takes the average instead
		}
		ra.SegmentsRead++
		ra.BytesRead += stored
		chunks = append(chunks, ch)
		blocks, bytes = 0, 0
		stopped := false
		_, err = readWALWith(size.StartLSN(first), chunks, 0, func(at LSN, head, body []byte) bool {
			if at < from {
				return true
			}
			ra.To = at
			_, n, _ := walkBlocks(body)
			blocks += n
			bytes += len(head) + len(body)
			rmid, info := head[17], head[16]&0xF0
			switch {
			case rmid == rmXLOG && (info == xlogCheckpointShutdown || info == xlogEndOfRecovery):
				ra.Why = "a shutdown checkpoint or end-of-recovery record, which read-ahead does not pass"
			case blocks >= readAheadBlocks:
				ra.Why = fmt.Sprintf("%d block references ahead of replay", readAheadBlocks)
			case bytes >= readAheadBytes:
				ra.Why = "the decode buffer (wal_decode_buffer_size, 512 kB) is full"
			default:
				return true
			}
			stopped = true
			return false
		})
		if p := c.chunkProblem(ref, ch); err != nil || p != "" {
			return nil
		}
		if stopped {
			break
		}
	}
	if ra.Why == "" {
		ra.Why = fmt.Sprintf("the end of the %d segments read", len(refs))
	}
	ra.Segments = int(size.SegNoOf(ra.To) - first)
	c.readAhead = ra
	return nil
}
