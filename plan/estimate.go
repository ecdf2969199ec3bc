package plan

import (
	"fmt"
	"math"
)

// The recovery-time model. A CloudNativePG recovery job downloads and unpacks the base backup
// (barman-cloud-restore), then PostgreSQL fetches each WAL segment with one
// barman-cloud-wal-restore process and replays it. So:
//
//	seconds = startup + backup bytes / restore rate + segments × per-segment time
//
// Calibrated on the real recovery test (internal/integration, TestIntegrationRecoveryProof),
// which logs measured and estimated times: a barman-cloud-wal-restore process costs about half a
// second before any network time, and restore throughput was far above the rate assumed here,
// which leaves room for real object stores and volumes. The runbook's incident (300+ segments in
// 5–7 minutes, 170 MB in about 30 s) fits the same figures.
const (
	estimateStartup     = 20.0     // seconds: job pod, barman-cloud start, PostgreSQL start and promotion
	estimateRestoreRate = 50 << 20 // bytes per second for download + decompress + untar
	estimatePerSegment  = 1.2      // seconds per WAL segment: fetch process + download + replay
	estimateModel       = "20 s + backup size / 50 MiB/s + 1.2 s per WAL segment"
)

// EstimateSeconds applies the model.
func EstimateSeconds(backupBytes int64, segments uint64) int {
	s := estimateStartup + float64(backupBytes)/estimateRestoreRate + estimatePerSegment*float64(segments)
	return int(math.Ceil(s))
}

func (s *selector) estimate() {
	if s.p.WAL == nil || s.p.Backup == nil {
		return
	}
	secs := EstimateSeconds(s.p.Backup.Size, s.p.WAL.Segments)
	model := estimateModel
	if s.p.WAL.UpperBound {
		model += " (upper bound: the WAL range runs to the end of the archive)"
	}
	s.p.Estimate = &Estimate{Seconds: secs, Model: fmt.Sprintf("%s = %ds", model, secs)}
}
