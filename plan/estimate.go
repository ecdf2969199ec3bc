package plan

import "math"

// The recovery-time model. A CloudNativePG recovery job downloads and unpacks the base backup
// (barman-cloud-restore), then PostgreSQL fetches each WAL segment with one
// barman-cloud-wal-restore process and replays it. So:
//
//	seconds = startup + backup bytes / restore rate + segments × per-segment time
//
// Calibration. The real recovery test (internal/integration, TestIntegrationRecoveryProof) logs
// measured times next to the estimate. On the 2-core test machine, with the S3 server on
// loopback: barman-cloud-restore of a 4 MB backup took 1–2 s, and recovery took about 7 s plus
// 0.3–0.5 s per segment (a Python process per segment, no network latency). A cluster adds pod
// scheduling and image start (the 20 s), a real object store adds latency per fetch and a real
// backup is larger: the runbook's incident — 170 MB restored in about 30 s, 300+ segments
// replayed in 5–7 minutes — is 1.0–1.4 s per segment, hence 1.2 s. The estimate is therefore
// pessimistic on loopback (22–33 s estimated for 9–13 s measured) and about right for the
// runbook.
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
	s.p.Estimate = &Estimate{Seconds: secs, Model: model}
}
