package catalog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memStore is a Store over a map, for unit tests. failList makes listing the given prefix fail
// on its second page (pages hold pageLen entries).
type memStore struct {
	objects  map[string][]byte
	mtimes   map[string]time.Time
	failList string
	pageLen  int
}

func newMemStore() *memStore {
	return &memStore{objects: map[string][]byte{}, mtimes: map[string]time.Time{}, pageLen: 1000}
}

func (m *memStore) put(key string, data []byte, mtime time.Time) {
	m.objects[key] = data
	m.mtimes[key] = mtime
}

func (m *memStore) List(_ context.Context, prefix string, delimited bool, fn func(Page) error) error {
	var keys []string
	for k := range m.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var page Page
	seen := map[string]bool{}
	n, pages := 0, 0
	flush := func() error {
		pages++
		if m.failList != "" && prefix == m.failList && pages == 2 {
			return errors.New("connection reset by peer")
		}
		err := fn(page)
		page, n = Page{}, 0
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
			page.Objects = append(page.Objects, Object{Key: k, Size: int64(len(m.objects[k])), LastModified: m.mtimes[k]})
			n++
		}
		if n >= m.pageLen {
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

func (m *memStore) Get(_ context.Context, key string, n int64) ([]byte, error) {
	d, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if int64(len(d)) > n {
		d = d[:n]
	}
	return d, nil
}

// fixture builds a synthetic catalog for server "pg" with 16 MiB segments unless size is set.
type fixture struct {
	t     *testing.T
	store *memStore
	size  SegmentSize
	clock time.Time
}

const (
	sysA = "7589448288821846035"
	sysB = "7602553142286061591"
)

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, store: newMemStore(), size: DefaultSegmentSize, clock: time.Date(2026, 2, 5, 2, 0, 0, 0, time.UTC)}
}

func (f *fixture) tick() time.Time {
	f.clock = f.clock.Add(time.Minute)
	return f.clock
}

// walHeader returns the first bytes of a segment as PostgreSQL writes them.
func walHeader(sys string, tli uint32, start LSN, segSize SegmentSize) []byte {
	b := make([]byte, 64)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 0xD110) // PostgreSQL 15's XLOG_PAGE_MAGIC
	le.PutUint16(b[2:], xlpLongHeader)
	le.PutUint32(b[4:], tli)
	le.PutUint64(b[8:], uint64(start))
	id, _ := strconv.ParseUint(sys, 10, 64)
	le.PutUint64(b[24:], id)
	le.PutUint32(b[32:], uint32(segSize))
	le.PutUint32(b[36:], 8192)
	return b
}

// wal archives segments first..last of timeline tli written by system sys.
func (f *fixture) wal(sys string, tli uint32, first, last uint64) {
	for no := first; no <= last; no++ {
		name := f.size.Name(tli, no)
		f.store.put("pg/wals/"+name[:16]+"/"+name, walHeader(sys, tli, f.size.StartLSN(no), f.size), f.tick())
	}
}

func (f *fixture) deleteWAL(tli uint32, no uint64) {
	name := f.size.Name(tli, no)
	delete(f.store.objects, "pg/wals/"+name[:16]+"/"+name)
}

func (f *fixture) history(tli uint32, content string) {
	f.store.put(fmt.Sprintf("pg/wals/%08X.history", tli), []byte(content), f.tick())
}

// backup writes a DONE backup of system sys on timeline tli from segment begin to end.
func (f *fixture) backup(id, sys string, tli uint32, begin, end uint64) {
	f.backupInfo(id, f.info(id, sys, tli, begin, end, "DONE"))
}

func (f *fixture) info(id, sys string, tli uint32, begin, end uint64, status string) string {
	bt := f.tick()
	et := f.tick()
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
`, f.size.StartLSN(begin)+40, f.size.Name(tli, begin), f.size.StartLSN(begin)+96, id,
		bt.Format("2006-01-02 15:04:05.000000-07:00"), f.size.Name(tli, begin), f.size.StartLSN(begin)+40,
		et.Format("2006-01-02 15:04:05.000000-07:00"), f.size.Name(tli, end), f.size.StartLSN(end)+256,
		status, sys, tli, uint64(f.size))
}

func (f *fixture) backupInfo(id, content string) {
	f.store.put("pg/base/"+id+"/backup.info", []byte(content), f.tick())
	f.store.put("pg/base/"+id+"/data.tar", []byte("tar"), f.tick())
}

func (f *fixture) load() *Catalog {
	f.t.Helper()
	c, err := Load(context.Background(), f.store, Options{ServerName: "pg", Location: "s3://bucket/prefix", Concurrency: 4})
	if err != nil {
		f.t.Fatalf("Load: %v", err)
	}
	return c
}

func findings(c *Catalog, sev Severity, check string) []Finding {
	var out []Finding
	for _, f := range c.Findings {
		if f.Severity == sev && f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func checks(c *Catalog) string {
	var s []string
	for _, f := range c.Findings {
		s = append(s, string(f.Severity)+":"+f.Check)
	}
	return strings.Join(s, ",")
}
