package catalog

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// maxDecompressed caps what a small catalog file (a .history file) may expand to.
const maxDecompressed = 4 << 20

// newDecompressor undoes the compression barman-cloud-wal-archive applies, named by the file
// suffix ("gz", "bz2", "snappy", "zst", "lz4", "xz"; "" for none). The returned func releases it.
func newDecompressor(data []byte, compression string) (io.Reader, func(), error) {
	src := bytes.NewReader(data)
	noop := func() {}
	switch compression {
	case "":
		return src, noop, nil
	case "gz":
		r, err := gzip.NewReader(src)
		return r, noop, err
	case "bz2":
		return bzip2.NewReader(src), noop, nil
	case "snappy":
		// python-snappy's framed stream format, which s2 reads.
		return s2.NewReader(src), noop, nil
	case "zst":
		d, err := zstd.NewReader(src)
		if err != nil {
			return nil, noop, err
		}
		return d, d.Close, nil
	case "lz4":
		return lz4.NewReader(src), noop, nil
	case "xz":
		r, err := xz.NewReader(src)
		return r, noop, err
	}
	return nil, noop, fmt.Errorf("unknown compression %q", compression)
}

// decompress returns the whole decompressed content of a small file.
func decompress(data []byte, compression string) ([]byte, error) {
	r, done, err := newDecompressor(data, compression)
	if err != nil {
		return nil, fmt.Errorf("%s data: %w", compression, err)
	}
	defer done()
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("%s data: %w", compression, err)
	}
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("%s data expands to more than %d bytes", compression, maxDecompressed)
	}
	return out, nil
}

// decompressPrefix returns the first n bytes of the decompressed form of data, which may be
// only the beginning of a compressed object.
func decompressPrefix(data []byte, compression string, n int) ([]byte, error) {
	r, done, err := newDecompressor(data, compression)
	if err != nil {
		return nil, fmt.Errorf("%s data: %w", compression, err)
	}
	defer done()
	out := make([]byte, n)
	got, err := io.ReadFull(r, out)
	if got == n {
		return out, nil
	}
	return nil, fmt.Errorf("%s data: only %d of the first %d bytes could be read: %w", compression, got, n, err)
}

// DecompressSegment returns a stored WAL segment as PostgreSQL wrote it: the object's bytes
// with the compression its name says undone. A whole segment is exactly size bytes; a .partial
// one may be shorter. More than size bytes is not a segment.
func DecompressSegment(data []byte, compression string, size SegmentSize) ([]byte, error) {
	r, done, err := newDecompressor(data, compression)
	if err != nil {
		return nil, fmt.Errorf("%s data: %w", compression, err)
	}
	defer done()
	out, err := io.ReadAll(io.LimitReader(r, int64(size)+1))
	if err != nil {
		return nil, fmt.Errorf("%s data: %w", compression, err)
	}
	if len(out) > int(size) {
		return nil, fmt.Errorf("%s data expands to more than a %s segment", compression, size)
	}
	return out, nil
}
