// Package catalogtest builds synthetic barman-cloud catalogs in memory for tests: an in-memory
// catalog.Store and a Fixture that writes WAL (with real page headers), history files and
// backup.info files the way barman-cloud does.
package catalogtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// MemStore is a catalog.Store over a map. FailList makes listing that prefix fail on its second
// page (pages hold PageLen entries).
type MemStore struct {
	Objects  map[string][]byte
	MTimes   map[string]time.Time
	FailList string
	PageLen  int
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{Objects: map[string][]byte{}, MTimes: map[string]time.Time{}, PageLen: 1000}
}

// Put stores an object.
func (m *MemStore) Put(key string, data []byte, mtime time.Time) {
	m.Objects[key] = data
	m.MTimes[key] = mtime
}

// Delete removes an object.
func (m *MemStore) Delete(key string) { delete(m.Objects, key) }

// List implements catalog.Store.
func (m *MemStore) List(_ context.Context, prefix string, delimited bool, fn func(catalog.Page) error) error {
	var keys []string
	for k := range m.Objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var page catalog.Page
	seen := map[string]bool{}
	n, pages := 0, 0
	flush := func() error {
		pages++
		if m.FailList != "" && prefix == m.FailList && pages == 2 {
			return errors.New("connection reset by peer")
		}
		err := fn(page)
		page, n = catalog.Page{}, 0
		return err
	}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		if i := strings.Index(rest, "/"); delimited && i >= 0 {
			p := prefix + rest[:i+1]
			if !seen[p] {
				seen[p] = true
				page.Prefixes = append(page.Prefixes, p)
				n++
			}
		} else {
			page.Objects = append(page.Objects, catalog.Object{Key: k, Size: int64(len(m.Objects[k])), LastModified: m.MTimes[k]})
			n++
		}
		if n >= m.PageLen {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if n > 0 || pages == 0 {
		return flush()
	}
	return nil
}

// Get implements catalog.Store.
func (m *MemStore) Get(_ context.Context, key string, n int64) ([]byte, error) {
	d, ok := m.Objects[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, catalog.ErrNotFound)
	}
	if int64(len(d)) > n {
		d = d[:n]
	}
	return d, nil
}

// Fixture builds a synthetic catalog for server "pg" under the store's root, with 16 MiB
// segments unless Size is changed before writing. Every object written advances Clock by a
// minute, so backups and WAL have increasing, predictable times.
type Fixture struct {
	T     testing.TB
	Store *MemStore
	Size  catalog.SegmentSize
	Clock time.Time
}

// Two system identifiers: A, the cluster, and B, one rebuilt with initdb into the same path.
const (
	SysA = "7589448288821846035"
	SysB = "7602553142286061591"
)

// NewFixture starts an empty catalog at 2026-02-05 02:00 UTC.
func NewFixture(t testing.TB) *Fixture {
	return &Fixture{T: t, Store: NewMemStore(), Size: catalog.DefaultSegmentSize, Clock: time.Date(2026, 2, 5, 2, 0, 0, 0, time.UTC)}
}

// Tick advances the clock by a minute and returns it.
func (f *Fixture) Tick() time.Time {
	f.Clock = f.Clock.Add(time.Minute)
	return f.Clock
}

// WALHeader returns the first bytes of a segment as PostgreSQL 15 writes them.
func WALHeader(sys string, tli uint32, start catalog.LSN, segSize catalog.SegmentSize) []byte {
	b := make([]byte, 64)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 0xD110) // PostgreSQL 15's XLOG_PAGE_MAGIC
	le.PutUint16(b[2:], 0x0002) // XLP_LONG_HEADER
	le.PutUint32(b[4:], tli)
	le.PutUint64(b[8:], uint64(start))
	id, _ := strconv.ParseUint(sys, 10, 64)
	le.PutUint64(b[24:], id)
	le.PutUint32(b[32:], uint32(segSize))
	le.PutUint32(b[36:], 8192)
	return b
}

// WAL archives segments first..last of timeline tli, written by system sys.
func (f *Fixture) WAL(sys string, tli uint32, first, last uint64) {
	for no := first; no <= last; no++ {
		name := f.Size.Name(tli, no)
		f.Store.Put("pg/wals/"+name[:16]+"/"+name, WALHeader(sys, tli, f.Size.StartLSN(no), f.Size), f.Tick())
	}
}

// WALCompressed archives segments first..last of timeline tli like WAL, compressed by one of
// the methods barman-cloud-wal-archive offers: "gz", "zst", "lz4", "xz" or "" for none.
func (f *Fixture) WALCompressed(sys string, tli uint32, first, last uint64, compression string) {
	for no := first; no <= last; no++ {
		name := f.Size.Name(tli, no)
		key := "pg/wals/" + name[:16] + "/" + name
		if compression != "" {
			key += "." + compression
		}
		f.Store.Put(key, Compress(f.T, WALHeader(sys, tli, f.Size.StartLSN(no), f.Size), compression), f.Tick())
	}
}

// Compress compresses data with the method a barman-cloud suffix names.
func Compress(t testing.TB, data []byte, compression string) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch compression {
	case "":
		return data
	case "gz":
		w = gzip.NewWriter(&b)
	case "zst":
		w, err = zstd.NewWriter(&b)
	case "lz4":
		w = lz4.NewWriter(&b)
	case "xz":
		w, err = xz.NewWriter(&b)
	default:
		t.Fatalf("catalogtest cannot compress with %q", compression)
	}
	if err == nil {
		_, err = w.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// WALKey is the key of segment no of timeline tli.
func (f *Fixture) WALKey(tli uint32, no uint64) string {
	name := f.Size.Name(tli, no)
	return "pg/wals/" + name[:16] + "/" + name
}

// DeleteWAL removes one segment.
func (f *Fixture) DeleteWAL(tli uint32, no uint64) { f.Store.Delete(f.WALKey(tli, no)) }

// History writes the history file of timeline tli.
func (f *Fixture) History(tli uint32, content string) {
	f.Store.Put(fmt.Sprintf("pg/wals/%08X.history", tli), []byte(content), f.Tick())
}

// Backup writes a DONE backup of system sys on timeline tli from segment begin to end.
func (f *Fixture) Backup(id, sys string, tli uint32, begin, end uint64) {
	f.BackupInfo(id, f.Info(id, sys, tli, begin, end, "DONE"))
}

// Info returns a backup.info as barman-cloud writes it; begin and end time take a tick each.
func (f *Fixture) Info(id, sys string, tli uint32, begin, end uint64, status string) string {
	bt := f.Tick()
	et := f.Tick()
	return fmt.Sprintf(`backup_label='START WAL LOCATION: %s (file %s)\nCHECKPOINT LOCATION: %s\n'
backup_name=backup-%s
begin_offset=40
begin_time=%s
begin_wal=%s
begin_xlog=%s
compression=None
copy_stats={'total_time': 5.5, 'number_of_workers': 2}
end_time=%s
end_wal=%s
end_xlog=%s
error=None
included_files=None
server_name=cloud
size=None
status=%s
systemid=%s
tablespaces=None
timeline=%d
version=150018
xlog_segment_size=%d
`, f.Size.StartLSN(begin)+40, f.Size.Name(tli, begin), f.Size.StartLSN(begin)+96, id,
		bt.Format("2006-01-02 15:04:05.000000-07:00"), f.Size.Name(tli, begin), f.Size.StartLSN(begin)+40,
		et.Format("2006-01-02 15:04:05.000000-07:00"), f.Size.Name(tli, end), f.Size.StartLSN(end)+256,
		status, sys, tli, uint64(f.Size))
}

// BackupInfo writes a backup directory with this backup.info and a data.tar.
func (f *Fixture) BackupInfo(id, content string) {
	f.Store.Put("pg/base/"+id+"/backup.info", []byte(content), f.Tick())
	f.Store.Put("pg/base/"+id+"/data.tar", []byte("tar"), f.Tick())
}

// Load reads the catalog of server "pg" at s3://bucket/prefix.
func (f *Fixture) Load() *catalog.Catalog {
	f.T.Helper()
	return f.LoadFor(catalog.Target{})
}

// LoadFor loads the catalog as a plan for target t does: its transaction or restore point
// searched for in the WAL.
func (f *Fixture) LoadFor(t catalog.Target) *catalog.Catalog {
	f.T.Helper()
	c, err := catalog.Load(context.Background(), f.Store, catalog.Options{ServerName: "pg", Location: "s3://bucket/prefix", Concurrency: 4, Locate: t})
	if err != nil {
		f.T.Fatalf("Load: %v", err)
	}
	return c
}

// Findings returns the findings of one severity and check.
func Findings(c *catalog.Catalog, sev catalog.Severity, check string) []catalog.Finding {
	var out []catalog.Finding
	for _, f := range c.Findings {
		if f.Severity == sev && f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

// Checks lists every finding as severity:check, for failure messages.
func Checks(c *catalog.Catalog) string {
	var s []string
	for _, f := range c.Findings {
		s = append(s, string(f.Severity)+":"+f.Check)
	}
	return strings.Join(s, ",")
}

// Healthy is lineage A: two backups on timeline 1, a promotion to timeline 2 at segment 8, a
// backup on timeline 2 and WAL up to segment 12.
func Healthy(t testing.TB) *Fixture {
	f := NewFixture(t)
	f.WAL(SysA, 1, 1, 7)
	f.Backup("20260205T020001", SysA, 1, 3, 3)
	f.Backup("20260205T030001", SysA, 1, 6, 6)
	f.Store.Put("pg/wals/0000000100000000/000000010000000000000008.partial", WALHeader(SysA, 1, f.Size.StartLSN(8), f.Size), f.Tick())
	f.History(2, "1\t0/80000A0\tno recovery target specified\n")
	f.WAL(SysA, 2, 8, 12)
	f.Backup("20260205T040001", SysA, 2, 10, 10)
	return f
}

// IndexWorkload adds n segments to a new WAL index — three timelines, a gap every 100,000
// segments, gzip-compressed names, one WAL directory at a time as the loader does — and builds
// it. It is the index benchmark's body (catalog's BenchmarkWALIndex and make bench).
func IndexWorkload(n int) *catalog.WALIndex {
	x := catalog.NewWALIndex()
	size := catalog.SegmentSize(catalog.DefaultSegmentSize)
	per := size.SegmentsPerLog()
	now := time.Date(2026, 2, 5, 2, 0, 0, 0, time.UTC)
	for no := uint64(1); no <= uint64(n); no++ {
		tli := uint32(1 + no*3/uint64(n+1))
		log, seg := uint32(no/per), uint32(no%per)
		if seg == 0 || no == 1 {
			x.Grow(tli, log, int(per))
		}
		if no%100_000 == 0 {
			continue
		}
		x.Add(catalog.WALName{Kind: catalog.WALSegment, TLI: tli, Log: log, Seg: seg, Compression: "gz"}, 1<<20, now.Add(time.Duration(no)*time.Second))
	}
	if err := x.Build(size); err != nil {
		panic(err)
	}
	return x
}
