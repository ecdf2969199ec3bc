package catalog

import (
	"path"
	"slices"
	"strings"
	"time"
)

// Report is the stable JSON/YAML form of a catalog (DESIGN.md, "catalog list -o json").
type Report struct {
	ServerName string           `json:"serverName"`
	Catalog    string           `json:"catalog"`
	Backups    []BackupReport   `json:"backups"`
	Timelines  []TimelineReport `json:"timelines"`
	WAL        WALReport        `json:"wal"`
	Lineages   []LineageReport  `json:"lineages"`
	Findings   []Finding        `json:"findings"`
}

// BackupReport is one backup. Times are RFC3339 UTC; systemId is a string because it overflows
// a JSON number.
type BackupReport struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	BeginTime string `json:"beginTime"`
	EndTime   string `json:"endTime"`
	BeginWAL  string `json:"beginWal"`
	EndWAL    string `json:"endWal"`
	BeginLSN  string `json:"beginLsn"`
	EndLSN    string `json:"endLsn"`
	Timeline  uint32 `json:"timeline"`
	SystemID  string `json:"systemId"`
	Size      int64  `json:"size"`
	// ClusterSize is barman's cluster_size (barman 3.11 and later): the sum of
	// pg_tablespace_size over the cluster's tablespaces when the backup started.
	ClusterSize int64 `json:"clusterSize,omitempty"`
	// Compression is how the backup's data files are compressed ("" when they are not).
	Compression string `json:"compression,omitempty"`
	// PostgresVersion is the server_version_num of the backed-up server (150018).
	PostgresVersion int      `json:"postgresVersion,omitempty"`
	Usable          bool     `json:"usable"`
	Problems        []string `json:"problems,omitempty"`
	// RecoverableTo is the end of the WAL a recovery from this backup can replay.
	RecoverableTo *PointReport `json:"recoverableTo,omitempty"`
}

// PointReport is a point in the WAL.
type PointReport struct {
	LSN      string `json:"lsn"`
	Timeline uint32 `json:"timeline"`
	WAL      string `json:"wal"`
	// Time is the archive time of that segment: commits in it happened before.
	Time string `json:"time"`
}

// TimelineReport is one timeline.
type TimelineReport struct {
	ID        uint32 `json:"id"`
	Parent    uint32 `json:"parent,omitempty"`
	SwitchLSN string `json:"switchLsn,omitempty"`
	Reason    string `json:"reason,omitempty"`
	History   bool   `json:"history"`
	Segments  uint64 `json:"segments"`
	First     string `json:"first,omitempty"`
	Last      string `json:"last,omitempty"`
}

// WALReport summarizes the archive.
type WALReport struct {
	First       string      `json:"first"`
	Last        string      `json:"last"`
	Segments    int         `json:"segments"`
	Bytes       int64       `json:"bytes"`
	SegmentSize uint64      `json:"segmentSize"`
	Gaps        []GapReport `json:"gaps"`
	Partial     []string    `json:"partial,omitempty"`
}

// GapReport is a hole in a timeline.
type GapReport struct {
	Timeline uint32 `json:"timeline"`
	From     string `json:"from"`
	To       string `json:"to"`
	Segments uint64 `json:"segments"`
}

// LineageReport is one database system and its recoverable window.
type LineageReport struct {
	SystemID  string       `json:"systemId"`
	Backups   []string     `json:"backups"`
	Timelines []uint32     `json:"timelines"`
	From      *PointReport `json:"recoverableFrom,omitempty"`
	To        *PointReport `json:"recoverableTo,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// dataSuffixes are barman-cloud's data file suffixes by compression.
var dataSuffixes = map[string]string{".gz": "gzip", ".bz2": "bzip2", ".snappy": "snappy", ".lz4": "lz4", ".xz": "xz", ".zst": "zstd"}

// DataCompression is how the backup's data files are compressed, from their names (data.tar.gz
// is gzip), for a backup.info that does not say (barman-cloud 3.4 writes compression=None
// there for a gzip backup). "" when they are not compressed.
func (b *Backup) DataCompression() string {
	for _, f := range b.Files {
		base := path.Base(f.Key)
		if !strings.HasPrefix(base, "data.tar") && !strings.HasSuffix(strings.TrimSuffix(base, path.Ext(base)), ".tar") {
			continue
		}
		if c, ok := dataSuffixes[path.Ext(base)]; ok {
			return c
		}
	}
	return ""
}

// Size is the backup's size: barman's size or cluster_size, else what its files take in the store.
func (b *Backup) Size() int64 {
	if b.Info != nil && b.Info.Size > 0 {
		return b.Info.Size
	}
	if b.Info != nil && b.Info.ClusterSize > 0 {
		return b.Info.ClusterSize
	}
	var n int64
	for _, f := range b.Files {
		n += f.Size
	}
	return n
}

// ReplayEnd is the point a recovery from b can reach; nil when b is not usable.
func (c *Catalog) ReplayEnd(b *Backup) *PointReport {
	if !b.Usable() {
		return nil
	}
	size := c.WAL.SegmentSize()
	r := b.Replay
	return &PointReport{LSN: r.EndLSN(size).String(), Timeline: r.LastTLI, WAL: size.Name(r.LastTLI, r.Reached-1), Time: rfc3339(r.LastModified)}
}

// BackupReport is the stable form of one backup.
func (c *Catalog) BackupReport(b *Backup) BackupReport {
	br := BackupReport{ID: b.ID, Status: b.Status(), Size: b.Size(), SystemID: b.SystemID(), Usable: b.Usable(), Problems: b.Problems, RecoverableTo: c.ReplayEnd(b)}
	if i := b.Info; i != nil {
		br.Name, br.BeginTime, br.EndTime = i.BackupName, rfc3339(i.BeginTime), rfc3339(i.EndTime)
		br.BeginWAL, br.EndWAL, br.Timeline = i.BeginWAL, i.EndWAL, i.Timeline
		br.ClusterSize, br.PostgresVersion = i.ClusterSize, i.Version
		if c := i.Raw["compression"]; c != "" && c != "None" {
			br.Compression = strings.Trim(c, "'\"")
		}
		if i.Present["begin_xlog"] {
			br.BeginLSN = i.BeginLSN.String()
		}
		if i.Present["end_xlog"] {
			br.EndLSN = i.EndLSN.String()
		}
	}
	if br.Compression == "" {
		br.Compression = b.DataCompression()
	}
	return br
}

// Report builds the stable report.
func (c *Catalog) Report() Report {
	size := c.WAL.SegmentSize()
	r := Report{ServerName: c.ServerName, Catalog: c.Location, Backups: []BackupReport{}, Timelines: []TimelineReport{}, Lineages: []LineageReport{}, Findings: c.Findings}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	for _, b := range c.Backups {
		r.Backups = append(r.Backups, c.BackupReport(b))
	}
	for _, t := range c.timelineIDs() {
		tr := TimelineReport{ID: t}
		if h, ok := c.History[t]; ok {
			tr.History = true
			if len(h) > 0 {
				last := h[len(h)-1]
				tr.Parent, tr.SwitchLSN, tr.Reason = last.Parent, last.Switch.String(), last.Reason
			}
		}
		runs := c.WAL.Runs(t)
		if len(runs) > 0 {
			tr.First, tr.Last = size.Name(t, runs[0].First), size.Name(t, runs[len(runs)-1].Last)
		}
		tr.Segments = c.countSegments(t)
		r.Timelines = append(r.Timelines, tr)
	}
	r.WAL = WALReport{Segments: c.WAL.Count(), Bytes: c.WAL.Bytes(), SegmentSize: uint64(size), Gaps: []GapReport{}}
	if tls := c.WAL.Timelines(); len(tls) > 0 {
		first, last := c.WAL.Runs(tls[0]), c.WAL.Runs(tls[len(tls)-1])
		r.WAL.First, r.WAL.Last = size.Name(tls[0], first[0].First), size.Name(tls[len(tls)-1], last[len(last)-1].Last)
	}
	for _, g := range c.Gaps {
		r.WAL.Gaps = append(r.WAL.Gaps, GapReport{Timeline: g.TLI, From: size.Name(g.TLI, g.First), To: size.Name(g.TLI, g.Last), Segments: g.Last - g.First + 1})
	}
	for _, p := range c.Partials {
		r.WAL.Partial = append(r.WAL.Partial, p.Segment())
	}
	for _, l := range c.Lineages {
		lr := LineageReport{SystemID: l.SystemID, Timelines: l.Timelines}
		if lr.Timelines == nil {
			lr.Timelines = []uint32{}
		}
		for _, b := range l.Backups {
			lr.Backups = append(lr.Backups, b.ID)
		}
		if l.First != nil {
			i := l.First.Info
			lr.From = &PointReport{LSN: i.EndLSN.String(), Timeline: i.Timeline, WAL: i.EndWAL, Time: rfc3339(i.EndTime)}
			lr.To = c.ReplayEnd(l.Last)
		}
		r.Lineages = append(r.Lineages, lr)
	}
	return r
}

// timelineIDs are every timeline the catalog mentions, ascending.
func (c *Catalog) timelineIDs() []uint32 {
	seen := map[uint32]bool{}
	for _, t := range c.WAL.Timelines() {
		seen[t] = true
	}
	for t := range c.History {
		seen[t] = true
	}
	for t := range c.BadHistory {
		seen[t] = true
	}
	for _, b := range c.Backups {
		if b.Info != nil && b.Info.Timeline != 0 {
			seen[b.Info.Timeline] = true
		}
	}
	out := make([]uint32, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
