package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/waldump"
)

// walRun is a run of consecutive segments of one timeline written by one database system.
type walRun struct {
	server string
	tli    uint32
	names  []string // plain segment names, in order
	data   [][]byte // the decompressed segments
	start  catalog.LSN
	system string
}

// walRuns reads every segment of every server in the real catalogs the tests made (what the
// S3 server serves, on disk), decompressed, and splits them into runs: a gap in the numbering
// or another database system's segment (a rebuilt cluster reusing the names) starts a new one.
// A .partial segment (a promotion's last) is a run of its own.
func walRuns(t *testing.T) []walRun {
	t.Helper()
	var runs []walRun
	servers, _ := filepath.Glob(filepath.Join(s3Dir(), "catalog", "*", "*", "wals"))
	if len(servers) == 0 {
		t.Fatal("no wals/ directory in the real catalogs")
	}
	size := catalog.SegmentSize(16 << 20)
	for _, wals := range servers {
		server := filepath.Base(filepath.Dir(wals))
		type seg struct {
			name    catalog.WALName
			file    string
			segno   uint64
			partial bool
		}
		var segs []seg
		files, _ := filepath.Glob(filepath.Join(wals, "*", "*"))
		for _, f := range files {
			n, err := catalog.ParseWALName(filepath.Base(f))
			if err != nil || n.Kind != catalog.WALSegment && n.Kind != catalog.WALPartial {
				continue
			}
			no, err := size.SegNo(n.Log, n.Seg)
			if err != nil {
				t.Fatal(err)
			}
			segs = append(segs, seg{n, f, no, n.Kind == catalog.WALPartial})
		}
		sort.Slice(segs, func(i, j int) bool {
			a, b := segs[i], segs[j]
			if a.name.TLI != b.name.TLI {
				return a.name.TLI < b.name.TLI
			}
			if a.segno != b.segno {
				return a.segno < b.segno
			}
			return !a.partial && b.partial
		})
		var cur *walRun
		lastNo := uint64(0)
		for _, s := range segs {
			raw, err := os.ReadFile(s.file)
			if err != nil {
				t.Fatal(err)
			}
			data, err := catalog.DecompressSegment(raw, s.name.Compression, size)
			if err != nil {
				t.Fatalf("%s: %v", s.file, err)
			}
			h, err := catalog.ParseWALHeader(data)
			if err != nil {
				t.Fatalf("%s: %v", s.file, err)
			}
			if cur == nil || s.partial || cur.tli != s.name.TLI || s.segno != lastNo+1 || h.SystemID != cur.system {
				if cur != nil {
					runs = append(runs, *cur)
				}
				cur = &walRun{server: server, tli: s.name.TLI, start: size.StartLSN(s.segno), system: h.SystemID}
			}
			cur.names = append(cur.names, s.name.Segment())
			cur.data = append(cur.data, data)
			lastNo = s.segno
			if s.partial {
				runs = append(runs, *cur)
				cur = nil
			}
		}
		if cur != nil {
			runs = append(runs, *cur)
		}
	}
	return runs
}

var waldumpStop = regexp.MustCompile(`invalid record length at ([0-9A-F]+/[0-9A-F]+)`)

// TestIntegrationWALReaderMatchesPgWaldump is the WAL reader's differential test: on every
// segment of the real catalogs (PostgreSQL 15 through barman-cloud, gzip, bzip2 and plain; two
// timelines; rebuilt clusters; prepared transactions, aborts and restore points), every commit
// and abort — xid and timestamp to the microsecond, at the same LSN — and every restore point
// is what PostgreSQL's own pg_waldump prints, and valid WAL ends where pg_waldump says it does.
func TestIntegrationWALReaderMatchesPgWaldump(t *testing.T) {
	skipShort(t)
	bin := pgBin(t, "pg_waldump")
	compared, prepared, aborts, points := 0, 0, 0, 0
	for _, r := range walRuns(t) {
		dir := t.TempDir()
		for i, name := range r.names {
			if err := os.WriteFile(filepath.Join(dir, name), r.data[i], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		label := fmt.Sprintf("%s timeline %d %s..%s", r.server, r.tli, r.names[0], r.names[len(r.names)-1])
		want, stderr, err := waldump.Run(bin, dir, r.names[0], r.names[len(r.names)-1])
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		var concat []byte
		for _, d := range r.data {
			concat = append(concat, d...)
		}
		w, err := catalog.ReadWALRecords(r.start, concat)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		var got []waldump.Event
		for _, e := range w.Events {
			switch e.Kind {
			case catalog.EventCommit, catalog.EventAbort:
				got = append(got, waldump.Event{Kind: e.Kind, LSN: e.LSN.String(), XID: e.XID, Time: e.Time})
				if e.Prepared {
					prepared++
				}
				if e.Kind == catalog.EventAbort {
					aborts++
				}
			case catalog.EventRestorePoint:
				got = append(got, waldump.Event{Kind: e.Kind, LSN: e.LSN.String(), Name: e.Name}) // pg_waldump prints no time
				points++
			}
		}
		if a, b := eventsText(got), eventsText(want); a != b {
			t.Errorf("%s: the reader and pg_waldump differ\nreader:\n%s\npg_waldump:\n%s", label, a, b)
		}
		compared += len(want)
		// Where valid WAL ends: pg_waldump stops at the first zeroed record, where the reader
		// says it stopped.
		if m := waldumpStop.FindStringSubmatch(stderr); m != nil && strings.Contains(w.Stop, "zeroed record") {
			if !strings.Contains(w.Stop, m[1]) {
				t.Errorf("%s: pg_waldump stops at %s, the reader %q", label, m[1], w.Stop)
			}
		}
		t.Logf("%s: %d records, %d events, valid WAL %s..%s (%s)", label, w.Records, len(want), w.First, w.End, w.Stop)
	}
	t.Logf("%d events compared: %d prepared, %d aborts, %d restore points", compared, prepared, aborts, points)
	if compared == 0 || prepared == 0 || aborts == 0 || points == 0 {
		t.Errorf("the catalogs lack a kind of record to compare: %d events, %d prepared, %d aborts, %d restore points", compared, prepared, aborts, points)
	}
}

func eventsText(es []waldump.Event) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.String() + "\n")
	}
	return b.String()
}
