package catalog

import (
	"fmt"
	"io"
)

// chunkStep is how much more of a segment a chunk decompresses when the reader needs bytes it
// does not have yet: enough that a run of records costs few reads, little enough that a
// segment whose valid WAL ends early (a switched segment is mostly padding) is not expanded.
const chunkStep = 64 << 10

// chunkKeep is how much of a segment, behind the record being read, a chunk may hold before
// it drops it: reading a segment takes a window of about this size, not the segment.
const chunkKeep = 1 << 20

// walChunk is one segment's contents for the WAL reader, decompressed only as far as the
// reader asks, through a window that slides along as it reads: the reader stops where valid
// WAL ends, so the padding after a switch record, or the rest of a segment it reads only for a
// record crossing into it, is never expanded, and a segment full of records is read in about
// chunkKeep bytes. Reading before the window starts the decompression over.
type walChunk struct {
	raw         []byte // the stored object, to start over from (nil: buf is all of it)
	compression string
	src         io.Reader // nil once decompression ended
	done        func()
	base        int // the offset in the segment of buf[0]
	buf         []byte
	max         int // the segment size: more is not a segment
	err         error
}

// loadedChunk is a chunk whose bytes are all at hand.
func loadedChunk(data []byte) *walChunk { return &walChunk{buf: data, max: len(data)} }

// lazyChunk is a chunk that undoes compression (a barman-cloud suffix, "" for none) of a
// stored segment as it is read.
func lazyChunk(data []byte, compression string, size SegmentSize) (*walChunk, error) {
	if compression == "" {
		if len(data) > int(size) {
			return nil, fmt.Errorf("%d bytes is more than a %s segment", len(data), size)
		}
		return &walChunk{buf: data, max: int(size)}, nil
	}
	c := &walChunk{raw: data, compression: compression, max: int(size)}
	if err := c.restart(); err != nil {
		return nil, err
	}
	return c, nil
}

// restart starts decompressing from the beginning of the segment.
func (c *walChunk) restart() error {
	c.close()
	r, done, err := newDecompressor(c.raw, c.compression)
	if err != nil {
		return fmt.Errorf("%s data: %w", c.compression, err)
	}
	c.src, c.done, c.base, c.buf, c.err = r, done, 0, c.buf[:0], nil
	return nil
}

// at returns the n bytes at offset o of the segment, when it has them.
func (c *walChunk) at(o, n int) ([]byte, bool) {
	if o < c.base {
		if c.raw == nil || c.restart() != nil {
			return nil, false
		}
	}
	if !c.has(o + n) {
		return nil, false
	}
	o -= c.base
	return c.buf[o : o+n : o+n], true
}

// has makes the first n bytes of the segment available when it has them and says whether it
// does (the window then ends at n or later).
func (c *walChunk) has(n int) bool {
	for c.base+len(c.buf) < n && c.src != nil {
		want := min(max(n, c.base+len(c.buf)+chunkStep), c.max+1) - c.base
		if cap(c.buf) < want {
			grown := make([]byte, len(c.buf), min(max(want, 2*cap(c.buf)), c.max+1-c.base))
			copy(grown, c.buf)
			c.buf = grown
		}
		var err error
		for len(c.buf) < want && err == nil {
			var got int
			got, err = c.src.Read(c.buf[len(c.buf):want])
			c.buf = c.buf[:len(c.buf)+got]
		}
		switch {
		case c.base+len(c.buf) > c.max:
			c.buf = c.buf[:c.max-c.base]
			c.fail(fmt.Errorf("it expands to more than a %s segment", SegmentSize(c.max)))
		case err == io.EOF: //nolint:errorlint // io.Reader returns io.EOF itself
			c.fail(nil)
		case err != nil:
			c.fail(err)
		}
	}
	return c.base+len(c.buf) >= n
}

// drop lets the window forget what lies more than chunkKeep before offset o: the reader is
// done with it. Nothing the chunk returned before may be used after.
func (c *walChunk) drop(o int) {
	if c.raw == nil || o-c.base < chunkKeep || o-c.base > len(c.buf) {
		return
	}
	n := copy(c.buf, c.buf[o-c.base:])
	c.buf, c.base = c.buf[:n], o
}

// fail ends decompression, with err (nil at the end of the data).
func (c *walChunk) fail(err error) {
	c.err = err
	c.close()
}

// close releases the decompressor; the bytes read so far stay.
func (c *walChunk) close() {
	if c.done != nil {
		c.done()
		c.done = nil
	}
	c.src = nil
}

// short says the segment is known to end before its size (a .partial or truncated file).
func (c *walChunk) short() bool { return c.src == nil && c.base+len(c.buf) < c.max }

// Err is why the segment could not be decompressed, nil when it could (so far).
func (c *walChunk) Err() error { return c.err }

// closeChunks closes every chunk of a cache.
func closeChunks[K comparable](m map[K]*walChunk) {
	for _, c := range m {
		if c != nil {
			c.close()
		}
	}
}
