package plan

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
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
	// average: WAL its prefetcher reads ahead of the target, and the probes for a next segment
	// at the end of the archive.
	ExtraFetches float64          `json:"extraFetches"`
	Runs         []CalibrationRun `json:"runs"`
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
func (c Calibration) Estimate(size int64, compression string, segments uint64, parallel int) Estimate {
	key, exact := c.segmentKey(parallel)
	perSegment := c.SegmentSeconds[key]
	rate, rateExact := c.restoreRate(compression)
	restore := float64(size) / rate
	replay := c.StartSeconds + perSegment*(float64(segments)+c.ExtraFetches)
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
		Model: fmt.Sprintf("backup size / %.0f MiB/s (%s), then %.1f s + %.2f s per WAL segment fetched %s, for the range's %d and about %.1f more PostgreSQL asks for",
			rate/(1<<20), unpack, c.StartSeconds, perSegment, fetch, segments, c.ExtraFetches),
		Basis: fmt.Sprintf("fitted to %d real recoveries (%s); Kubernetes' start of the job's pod comes on top, and a remote object store adds its latency to every segment", len(c.Runs), c.Measured),
	}
}

// Predict is the model's seconds for a measured run: with fetches, for the segments
// PostgreSQL asked for (the model's form); else for the run's range, as a plan estimates.
func (c Calibration) Predict(r CalibrationRun, fetches bool) float64 {
	key, _ := c.segmentKey(r.Parallel)
	rate, _ := c.restoreRate(r.Compression)
	n := float64(r.Segments) + c.ExtraFetches
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
	e := ShippedCalibration().Estimate(s.p.Backup.Size, s.p.Backup.Compression, s.p.WAL.Segments, s.in.WALParallel)
	if s.p.WAL.UpperBound {
		e.Model += " (upper bound: the WAL range runs to the end of the archive)"
	}
	s.p.Estimate = &e
}
