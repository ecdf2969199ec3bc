package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
)

// generatorVersion changes whenever the synthetic catalog's layout changes (invalidates caches).
const generatorVersion = "4"

type scale struct {
	Name      string
	Backups   int
	Segments  int
	Timelines int
}

var scales = map[string]scale{
	"small": {Name: "small", Backups: 100, Segments: 20_000, Timelines: 4},
	"full":  {Name: "full", Backups: 500, Segments: 200_000, Timelines: 4},
}

const (
	bucket     = "bench"
	prefix     = "pg"
	serverName = "pg-bench"
	systemID   = "7589448288821846035"
	segSize    = catalog.DefaultSegmentSize
)

// layout is what the synthetic catalog holds, for the lower bound and the sanity checks.
type layout struct {
	sc          scale
	dirs        int // WAL hash directories
	histories   int
	baseObjects int
}

// tlStart is the first segment of timeline t (1-based); timelines split the range evenly.
func (sc scale) tlStart(t int) uint64 { return 1 + uint64((t-1)*sc.Segments/sc.Timelines) }

func (sc scale) tliOf(no uint64) uint32 {
	for t := sc.Timelines; t >= 1; t-- {
		if no >= sc.tlStart(t) {
			return uint32(t)
		}
	}
	return 1
}

var base0 = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)

// archiveTime of segment no: one segment every 150 s (a busy cluster's year is 200k segments).
func archiveTime(no uint64) time.Time { return base0.Add(time.Duration(no) * 150 * time.Second) }

// makeCatalog writes the synthetic catalog into root (the S3 server's directory) unless a
// complete one of the same version and scale is already there.
func makeCatalog(root string, sc scale, template []byte) (layout, error) {
	stamp := filepath.Join(root, ".complete")
	want := generatorVersion + " " + sc.Name
	l := layout{sc: sc, histories: sc.Timelines - 1, baseObjects: 2 * sc.Backups}
	size := catalog.SegmentSize(segSize)
	dirs := map[string]bool{}
	for no := uint64(1); no <= uint64(sc.Segments); no++ {
		dirs[size.Name(sc.tliOf(no), no)[:16]] = true
	}
	l.dirs = len(dirs)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return l, nil
	}
	if err := os.RemoveAll(root); err != nil {
		return l, err
	}
	srv := filepath.Join(root, bucket, prefix, serverName)
	write := func(rel string, data []byte, mtime time.Time) error {
		p := filepath.Join(srv, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	}
	// WAL: gzip-compressed segments holding only their real page header, except the last
	// boundarySegments of each timeline, which hold real records (boundaryWAL): plan reads the
	// end of the WAL from its records.
	boundary := boundaryWAL(sc)
	for no := uint64(1); no <= uint64(sc.Segments); no++ {
		tli := sc.tliOf(no)
		name := size.Name(tli, no)
		content, ok := boundary[name]
		if !ok {
			content = catalogtest.WALHeader(systemID, tli, size.StartLSN(no), size)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(content)
		_ = zw.Close()
		if err := write("wals/"+name[:16]+"/"+name+".gz", buf.Bytes(), archiveTime(no)); err != nil {
			return l, err
		}
	}
	// One history file per switch.
	for t := 2; t <= sc.Timelines; t++ {
		var h strings.Builder
		for p := 1; p < t; p++ {
			fmt.Fprintf(&h, "%d\t%s\tno recovery target specified\n", p, size.StartLSN(sc.tlStart(p+1)))
		}
		if err := write(fmt.Sprintf("wals/%08X.history", t), []byte(h.String()), archiveTime(sc.tlStart(t))); err != nil {
			return l, err
		}
	}
	// Base backups, from the real barman-cloud backup.info with this backup's values.
	step := uint64(sc.Segments / sc.Backups)
	for i := 0; i < sc.Backups; i++ {
		begin := 2 + uint64(i)*step
		end := begin + 1
		bt, et := archiveTime(begin).Add(-30*time.Second), archiveTime(end).Add(-10*time.Second)
		id := bt.Format("20060102T150405")
		info := fillInfo(template, map[string]string{
			"backup_name":       fmt.Sprintf("backup-%s", bt.Format("20060102150405")),
			"begin_time":        bt.Format("2006-01-02 15:04:05.000000-07:00"),
			"end_time":          et.Format("2006-01-02 15:04:05.000000-07:00"),
			"begin_wal":         size.Name(sc.tliOf(begin), begin),
			"end_wal":           size.Name(sc.tliOf(end), end),
			"begin_xlog":        (size.StartLSN(begin) + 40).String(),
			"end_xlog":          (size.StartLSN(end) + 256).String(),
			"timeline":          fmt.Sprint(sc.tliOf(begin)),
			"systemid":          systemID,
			"xlog_segment_size": fmt.Sprint(segSize),
			"backup_label":      fmt.Sprintf("'START WAL LOCATION: %s (file %s)\\nCHECKPOINT LOCATION: %s\\nBACKUP METHOD: streamed\\nBACKUP FROM: primary\\nSTART TIME: %s\\nLABEL: Barman backup cloud %s\\nSTART TIMELINE: %d\\n'", size.StartLSN(begin)+40, size.Name(sc.tliOf(begin), begin), size.StartLSN(begin)+96, bt.Format("2006-01-02 15:04:05 UTC"), id, sc.tliOf(begin)),
		})
		if err := write("base/"+id+"/backup.info", info, et); err != nil {
			return l, err
		}
		if err := write("base/"+id+"/data.tar.gz", []byte{0x1f, 0x8b}, et); err != nil {
			return l, err
		}
	}
	return l, os.WriteFile(stamp, []byte(want), 0o644)
}

// boundarySegments is how many segments at the end of each timeline hold real WAL: as many as
// plan reads at most for the end of a replay.
const boundarySegments = 4

// boundaryWAL is the content of the last boundarySegments segments of each timeline, by name:
// PostgreSQL 15 WAL with two commits in each segment, 60 and 30 s before the segment's archive
// time, then heap records, then pg_switch_wal (as archive_timeout would).
func boundaryWAL(sc scale) map[string][]byte {
	size := catalog.SegmentSize(segSize)
	out := map[string][]byte{}
	for t := 1; t <= sc.Timelines; t++ {
		last := uint64(sc.Segments)
		if t < sc.Timelines {
			last = sc.tlStart(t+1) - 1
		}
		first := last - boundarySegments + 1
		b := catalogtest.NewWALBuilder(size.StartLSN(first), 15, systemID)
		b.SegSize, b.TLI = int(segSize), uint32(t)
		for no := first; no <= last; no++ {
			xid := uint32(1000 + 2*no)
			b.Commit(xid, archiveTime(no).Add(-60*time.Second))
			b.Commit(xid+1, archiveTime(no).Add(-30*time.Second))
			b.FillTo(size.StartLSN(no) + catalog.LSN(segSize)/2)
			b.Switch()
		}
		for no := first; no <= last; no++ {
			out[size.Name(uint32(t), no)] = append([]byte(nil), b.Segment(size.StartLSN(no))...)
		}
	}
	return out
}

var infoLine = regexp.MustCompile(`(?m)^([a-z_]+)=(.*)$`)

// fillInfo replaces the values of keys in a backup.info template.
func fillInfo(template []byte, values map[string]string) []byte {
	return infoLine.ReplaceAllFunc(template, func(line []byte) []byte {
		m := infoLine.FindSubmatch(line)
		if v, ok := values[string(m[1])]; ok {
			return []byte(string(m[1]) + "=" + v)
		}
		return line
	})
}
