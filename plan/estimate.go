package plan

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// The recovery-time model. A CloudNativePG recovery job downloads and unpacks the base backup
// (barman-cloud-restore), then PostgreSQL starts, fetches each WAL segment through
// restore_command (one barman-cloud-wal-restore process per segment, or wal.maxParallel of them
// at once, the extra ones into a spool) and replays it, and promotes:
//
//	seconds = backup size / restore rate of its compression + start + segments × seconds per segment
//
// The restore rate depends on the backup's compression more than on its download: unpacking
// bzip2 is several times slower than reading an uncompressed tar. "start" is what recovery costs
// beyond the segments: PostgreSQL's start, the history files it looks for, the end-of-recovery
// checkpoint and the timeline lookups of the promotion. The seconds per segment depend on how
// many are fetched at once. The constants are measured: the real recovery test
// (internal/integration, TestIntegrationRecoveryProof) times every recovery it runs, fits this
// model to them by least squares, checks the fit is within ±30% on average over them, and with
// -calibrate records the fit in calibration.json, which is what ships. Kubernetes' part
// (scheduling the job's pod, pulling the image) is not in the estimate.

//go:embed calibration.json
var calibrationJSON []byte

// Calibration is the model's constants and the recoveries they were fitted to.
type Calibration struct {
	// Measured says where: the machine, the object store, PostgreSQL and barman-cloud.
	Measured string `json:"measured"`
	// RestoreBytesPerSecond is barman-cloud-restore's rate in bytes of backup (barman's size)
	// by the backup's compression ("none", "gzip", "bzip2", ...).
	RestoreBytesPerSecond map[string]float64 `json:"restoreBytesPerSecond"`
	StartSeconds          float64            `json:"startSeconds"`
	// SegmentSeconds is the time per WAL segment PostgreSQL asks restore_command for, by
	// segments fetched at once ("1", "4").
	SegmentSeconds map[string]float64 `json:"segmentSeconds"`
	// ExtraFetches is how many segments PostgreSQL asks for beyond the range it replays, on
	// average over the targets, for a target whose read-ahead the plan could not place: WAL its
	// prefetcher reads ahead of the target, and the target's segment again at the end.
	// ExtraFetchesLatest is the same for the latest point: the probes for a next segment at the
	// end of the archive, and the last one again.
	ExtraFetches       float64          `json:"extraFetches"`
	ExtraFetchesLatest float64          `json:"extraFetchesLatest"`
	Runs               []CalibrationRun `json:"runs"`
}

// CalibrationRun is one measured recovery.
type CalibrationRun struct {
	Case            string  `json:"case"`
	BackupBytes     int64   `json:"backupBytes"` // barman's size of the backup
	Compression     string  `json:"compression"` // of its data files: "none", "gzip", ...
	Segments        uint64  `json:"segments"`
	Parallel        int     `json:"parallel"`
	RestoreSeconds  float64 `json:"restoreSeconds"`
	RecoverySeconds float64 `json:"recoverySeconds"`
	// SegmentFetches and HistoryLookups are what PostgreSQL asked restore_command for (WAL
	// read ahead of the target and the end of the archive included), for the record.
	SegmentFetches int `json:"segmentFetches"`
	HistoryLookups int `json:"historyLookups"`
	// Latest says the recovery was to the end of the archive; ReadAhead is the segments past
	// the stop the plan said PostgreSQL reads ahead (nil when it could not say).
	Latest    bool `json:"latest,omitempty"`
	ReadAhead *int `json:"readAhead,omitempty"`
}

// Beyond is what the plan knows of the segments PostgreSQL asks for beyond the range:
// Latest, for the end of the archive, or ReadAhead, the segments its prefetcher reads past
// where replay stops (catalog.ReadAhead; nil when unknown), with Why.
type Beyond struct {
	Latest    bool
	ReadAhead *int
	Why       string
}

// beyond is the segments asked for beyond the range: for a known read-ahead, the segments
// read ahead and, when there are any, the stop's segment fetched again at the end of recovery
// (the read-ahead moved the reader past it); otherwise the measured average.
func (c Calibration) beyond(b Beyond) (float64, string) {
	switch {
	case b.Latest:
		return c.ExtraFetchesLatest, "at the end of the archive: the probes for a next segment and the last one again, as measured"
	case b.ReadAhead != nil && *b.ReadAhead == 0:
		return 0, "no read-ahead past the stop's segment (" + b.Why + ")"
	case b.ReadAhead != nil:
		return float64(*b.ReadAhead + 1), fmt.Sprintf("%d read ahead past the stop, up to %s, and the stop's segment again", *b.ReadAhead, b.Why)
	}
	return c.ExtraFetches, "read ahead of the target, on average"
}

// ShippedCalibration is calibration.json.
func ShippedCalibration() Calibration {
	var c Calibration
	if err := json.Unmarshal(calibrationJSON, &c); err != nil {
		panic("plan: calibration.json: " + err.Error()) // embedded: a broken file fails every test
	}
	return c
}

// segmentKey is the measured parallelism that stands for n: one at a time, or several.
func (c Calibration) segmentKey(n int) (string, bool) {
	if n <= 1 {
		return "1", true
	}
	if _, ok := c.SegmentSeconds[strconv.Itoa(n)]; ok {
		return strconv.Itoa(n), true
	}
	best := ""
	for k := range c.SegmentSeconds {
		if k != "1" && (best == "" || k < best) {
			best = k
		}
	}
	return best, false
}

// restoreRate is the measured rate for a compression, or the slowest measured one (exact false).
func (c Calibration) restoreRate(compression string) (rate float64, exact bool) {
	if compression == "" {
		compression = "none"
	}
	if r, ok := c.RestoreBytesPerSecond[compression]; ok {
		return r, true
	}
	for _, r := range c.RestoreBytesPerSecond {
		if rate == 0 || r < rate {
			rate = r
		}
	}
	return rate, false
}

// Estimate applies the model: a backup of size bytes (barman's size) compressed with
// compression ("" for none), segments to replay, parallel of them fetched at once.
func (c Calibration) Estimate(size int64, compression string, segments uint64, parallel int, b Beyond) Estimate {
	extra, why := c.beyond(b)
	key, exact := c.segmentKey(parallel)
	perSegment := c.SegmentSeconds[key]
	rate, rateExact := c.restoreRate(compression)
	restore := float64(size) / rate
	replay := c.StartSeconds + perSegment*(float64(segments)+extra)
	fetch := fmt.Sprintf("%s at a time", key)
	if key == "1" {
		fetch = "one at a time"
	} else if !exact {
		fetch = fmt.Sprintf("%d at a time, as measured with %s", parallel, key)
	}
	unpack := "uncompressed"
	if compression != "" && compression != "none" {
		unpack = compression
	}
	if !rateExact {
		unpack += ", taken as the slowest measured compression"
	}
	return Estimate{
		Seconds:        int(math.Ceil(restore + replay)),
		RestoreSeconds: round1(restore),
		ReplaySeconds:  round1(replay),
		Parallel:       max(parallel, 1),
		Model: fmt.Sprintf("backup size / %.0f MiB/s (%s), then %.1f s + %.2f s per WAL segment fetched %s, for the range's %d and %s more PostgreSQL asks for (%s)",
			rate/(1<<20), unpack, c.StartSeconds, perSegment, fetch, segments, strconv.FormatFloat(extra, 'f', -1, 64), why),
		Basis: fmt.Sprintf("fitted to %d real recoveries (%s); Kubernetes' start of the job's pod comes on top, and a remote object store adds its latency to every segment", len(c.Runs), c.Measured),
	}
}

// Predict is the model's seconds for a measured run: with fetches, for the segments
// PostgreSQL asked for (the model's form); else for the run's range, as a plan estimates.
func (c Calibration) Predict(r CalibrationRun, fetches bool) float64 {
	key, _ := c.segmentKey(r.Parallel)
	rate, _ := c.restoreRate(r.Compression)
	extra, _ := c.beyond(Beyond{Latest: r.Latest, ReadAhead: r.ReadAhead})
	n := float64(r.Segments) + extra
	if fetches {
		n = float64(r.SegmentFetches)
	}
	return float64(r.BackupBytes)/rate + c.StartSeconds + c.SegmentSeconds[key]*n
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

func (s *selector) estimate() {
	if s.p.WAL == nil || s.p.Backup == nil {
		return
	}
	b := Beyond{Latest: s.in.Target.Kind() == catalog.TargetLatest}
	if ra := s.c.ReadAhead(); ra != nil && !b.Latest {
		n := ra.Segments
		b.ReadAhead, b.Why = &n, ra.Why
		s.p.ReadAhead = ra
	}
	e := ShippedCalibration().Estimate(s.p.Backup.Size, s.p.Backup.Compression, s.p.WAL.Segments, s.in.WALParallel, b)
	if s.p.WAL.UpperBound {
		e.Model += " (upper bound: the WAL range runs to the end of the archive)"
	}
	s.p.Estimate = &e
}
