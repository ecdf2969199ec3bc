package catalog

// ChunkRead is what reading one stored segment through a walChunk took: how far into the
// segment it decompressed, and the largest window it held.
type ChunkRead struct {
	Decompressed, Window int
	Err                  error
}

// ReadStoredWAL reads stored segments (compressed as compression says) from start as the
// catalog does, through lazily decompressed chunks, until (0: to the end of valid WAL), then
// reads them again the same way; it returns both results and what each chunk took.
func ReadStoredWAL(start LSN, stored [][]byte, compression string, size SegmentSize, until LSN) (first, again *WALRecords, reads []ChunkRead, err error) {
	var chunks []*walChunk
	for _, s := range stored {
		c, err := lazyChunk(s, compression, size)
		if err != nil {
			return nil, nil, nil, err
		}
		defer c.close()
		chunks = append(chunks, c)
	}
	if first, err = readWAL(start, chunks, until); err != nil {
		return nil, nil, nil, err
	}
	for _, c := range chunks {
		reads = append(reads, ChunkRead{Decompressed: c.base + len(c.buf), Window: cap(c.buf), Err: c.Err()})
	}
	again, err = readWAL(start, chunks, until)
	return first, again, reads, err
}
