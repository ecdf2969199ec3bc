package integration

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// marker is one line of make-catalog.sh's markers.tsv.
type marker struct {
	kind, label string // kind: "mark", "backup" or "point"
	time        time.Time
	lsn, xid    string
}

func readMarkers(t *testing.T) []marker {
	t.Helper()
	f, err := os.Open(filepath.Join(catWork, "markers.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []marker
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		switch fields[0] {
		case "backup":
			out = append(out, marker{kind: "backup", label: fields[1], lsn: fields[2]})
		case "point":
			out = append(out, marker{kind: "point", label: fields[1], lsn: fields[2]})
		default:
			tm, err := time.Parse(time.RFC3339Nano, fields[1])
			if err != nil {
				t.Fatalf("markers.tsv: %v", err)
			}
			out = append(out, marker{kind: "mark", label: fields[0], time: tm, lsn: fields[2], xid: fields[3]})
		}
	}
	return out
}

func markerByLabel(t *testing.T, ms []marker, label string) marker {
	t.Helper()
	for _, m := range ms {
		if m.label == label {
			return m
		}
	}
	t.Fatalf("no marker %s", label)
	return marker{}
}

// lineageAMarks are lineage A's marker labels in commit order, up to and including last.
func lineageAMarks(ms []marker, last string) []string {
	var out []string
	for _, m := range ms {
		if m.kind != "mark" || !strings.HasPrefix(m.label, "a-") {
			continue
		}
		out = append(out, m.label)
		if m.label == last {
			break
		}
	}
	return out
}

// planJSON is the part of `plan -o json` the recovery needs.
type planJSON struct {
	Backup struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Size        int64  `json:"size"`
		Compression string `json:"compression"`
	} `json:"backup"`
	Target struct {
		BackupID        string `json:"backupID"`
		TargetTime      string `json:"targetTime"`
		TargetLSN       string `json:"targetLSN"`
		TargetXID       string `json:"targetXID"`
		TargetName      string `json:"targetName"`
		TargetImmediate *bool  `json:"targetImmediate"`
		Exclusive       *bool  `json:"exclusive"`
		TargetTLI       string `json:"targetTLI"`
	} `json:"target"`
	WAL struct {
		Segments int    `json:"segments"`
		From     string `json:"from"`
		To       string `json:"to"`
	} `json:"wal"`
	ReadAhead *struct {
		Segments int    `json:"segments"`
		Why      string `json:"why"`
	} `json:"readAhead"`
	Estimate struct {
		Seconds  int `json:"seconds"`
		Parallel int `json:"parallel"`
	} `json:"estimate"`
	Checks []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
}

// asPostgres runs a command as the postgres user when the tests run as root (PostgreSQL refuses
// root), with the S3 credentials barman-cloud needs.
func asPostgres(name string, args ...string) *exec.Cmd {
	env := []string{"AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey, "AWS_DEFAULT_REGION=us-east-1"}
	if os.Geteuid() == 0 {
		full := append([]string{"-u", "postgres", "--", "env"}, env...)
		full = append(full, "PATH="+os.Getenv("PATH"), name)
		return exec.Command("runuser", append(full, args...)...)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func pgBin(t *testing.T, name string) string {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		t.Fatalf("no PostgreSQL %s under /usr/lib/postgresql (run make tools)", name)
	}
	return matches[len(matches)-1]
}

func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// recoverAndRead runs the recovery job and returns the marker labels the recovered database
// holds.
func recoverAndRead(t *testing.T, job cnpgJob) ([]string, *recovered) {
	t.Helper()
	pg := recoverTo(t, job, false)
	out, err := pg.psql("SELECT label FROM marks ORDER BY id")
	if err != nil {
		t.Fatalf("reading marks: %v\n%s", err, out)
	}
	var labels []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			labels = append(labels, l)
		}
	}
	return labels, pg
}

// recovered is a PostgreSQL recovered from the catalog, listening on a Unix socket only.
type recovered struct {
	sock                      string
	psql                      func(q string) (string, error)
	restoreTime, recoveryTime time.Duration
	// historyCalls and segmentCalls count what PostgreSQL asked restore_command for.
	historyCalls, segmentCalls int
	calls                      []string // the file names, in order
}

// recoverTo does what CloudNativePG's recovery job does (see cnpgJob): it restores the
// backup and starts PostgreSQL with the job's restore_command and recovery settings, and waits
// for the promotion, or, with pause (recovery_target_action = pause instead of promote), for
// recovery to pause at the target (the server then stays in recovery, read-only). Only what a
// pod provides differs: a Unix socket in a temporary directory instead of the pod's network.
func recoverTo(t *testing.T, job cnpgJob, pause bool) *recovered {
	t.Helper()
	base, err := os.MkdirTemp(catWork, "restore-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o777); err != nil {
		t.Fatal(err)
	}
	data, sock, spool := filepath.Join(base, "data"), filepath.Join(base, "sock"), filepath.Join(base, "spool")
	args := []string{}
	if job.endpointURL != "" {
		args = append(args, "--endpoint-url", job.endpointURL)
	}
	args = append(args, job.destinationPath, job.serverName, job.backupID, data)
	start := time.Now()
	run(t, asPostgres("barman-cloud-restore", args...))
	restoreTime := time.Since(start)
	run(t, asPostgres("mkdir", "-p", sock))

	// The job's restore_command, behind a script that counts what PostgreSQL asks for (the
	// history files it looks up, the segments it reads ahead), for the estimate's calibration.
	fetch, calls := filepath.Join(base, "fetch.sh"), filepath.Join(base, "calls.log")
	script := fmt.Sprintf("#!/bin/sh\necho \"$1\" >> %s\nexec %s\n", calls,
		strings.NewReplacer("%f", `"$1"`, "%p", `"$2"`).Replace(job.restoreCommand(t, spool)))
	if err := os.WriteFile(fetch, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	action := "promote"
	if pause {
		action = "pause"
	}
	settings := append([]string{
		"listen_addresses = ''",
		"unix_socket_directories = '" + sock + "'",
		"port = 5432",
		"archive_command = 'false'", // the job's: the restored copy never archives into the source's catalog
		"recovery_target_action = " + action,
		"restore_command = 'sh " + fetch + " %f %p'",
	}, job.recoveryTarget...)
	conf := filepath.Join(data, "postgresql.auto.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n" + strings.Join(settings, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, asPostgres("touch", filepath.Join(data, "recovery.signal")))

	logFile := filepath.Join(base, "postgres.log")
	start = time.Now()
	if out, err := asPostgres(pgBin(t, "pg_ctl"), "-D", data, "-l", logFile, "-w", "-t", "120", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() { _ = asPostgres(pgBin(t, "pg_ctl"), "-D", data, "-m", "immediate", "stop").Run() })
	psql := func(q string) (string, error) {
		out, err := asPostgres("psql", "-X", "-At", "-h", sock, "-p", "5432", "-U", "postgres", "-d", "postgres", "-c", q).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	query, want := "SELECT pg_is_in_recovery()", "f"
	if pause {
		query, want = "SELECT pg_get_wal_replay_pause_state()", "paused"
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		out, err := psql(query)
		if err == nil && out == want {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("PostgreSQL did not finish recovery (%q, %v):\n%s", out, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rec := &recovered{sock: sock, psql: psql, restoreTime: restoreTime, recoveryTime: time.Since(start)}
	if log, err := os.ReadFile(calls); err == nil {
		rec.calls = strings.Fields(string(log))
		for _, name := range rec.calls {
			if strings.HasSuffix(name, ".history") {
				rec.historyCalls++
			} else {
				rec.segmentCalls++
			}
		}
	}
	return rec
}

// TestIntegrationRecoveryProof: for each target, generate writes the restore into a repository
// holding lineage A's cluster, and PostgreSQL recovers as CloudNativePG's recovery job would from
// the generated Cluster (its recoveryTarget, externalClusters and serverName; see cnpgJob). The
// recovered database must hold exactly the markers committed up to the target.
func TestIntegrationRecoveryProof(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	ms := readMarkers(t)
	sysA := systemA(t)
	mid := func(a, b string) string {
		ta, tb := markerByLabel(t, ms, a).time, markerByLabel(t, ms, b).time
		return ta.Add(tb.Sub(ta) / 2).Truncate(time.Microsecond).UTC().Format(time.RFC3339Nano)
	}
	rep, _ := listJSON(t, "--catalog", localCatalog())
	b1 := rep.Backups[backupByName(t, rep, "b1-tl1")].ID
	b2 := rep.Backups[backupByName(t, rep, "b2-tl1")].ID
	inTree, plugin := restoreRepo(t, endpoint, server, false), restoreRepo(t, endpoint, server, true)

	cases := []struct {
		name   string
		flags  []string
		plugin bool   // the source archives through the barman-cloud plugin
		backup string // the backup name the plan must choose
		last   string // the last lineage-A marker that must be there; the next must not
	}{
		{"latest", nil, false, "b3-tl2", "a-last"},
		{"latest, one segment at a time", []string{"--wal-parallel", "1"}, false, "b3-tl2", "a-last"},
		{"latest, plugin", nil, true, "b3-tl2", "a-last"},
		{"latest, plugin, recovery ObjectStore fetching 4 at once", []string{"--wal-parallel", "4"}, true, "b3-tl2", "a-last"},
		{"time between the backups", []string{"--target-time", mid("a-after-b1", "a-between-b1-b2")}, false, "b1-tl1", "a-after-b1"},
		{"time between the backups, plugin", []string{"--target-time", mid("a-after-b1", "a-between-b1-b2")}, true, "b1-tl1", "a-after-b1"},
		{"time after the timeline switch", []string{"--target-time", mid("a-tl2-start", "a-after-b3")}, false, "b2-tl1", "a-tl2-start"},
		{"backup id", []string{"--backup-id", b2}, false, "b2-tl1", "a-last"},
		{"backup id, immediate", []string{"--backup-id", b1, "--target-immediate"}, false, "b1-tl1", "a-before-b1"},
		{"lsn", []string{"--target-lsn", markerByLabel(t, ms, "a-after-b2").lsn}, false, "b2-tl1", "a-after-b2"},
		{"xid, exclusive", []string{"--backup-id", b2, "--target-xid", markerByLabel(t, ms, "a-tl2-start").xid, "--target-exclusive"}, false, "b2-tl1", "a-after-b2"},
		{"named restore point", []string{"--backup-id", b1, "--target-name", "rp-between"}, false, "b1-tl1", "a-between-b1-b2"},
		// Without --backup-id the WAL says where they are: the newest backup that ends before
		// them (b1, not the newest b3, from which recovery would never reach them).
		{"xid, located in the WAL", []string{"--target-xid", markerByLabel(t, ms, "a-between-b1-b2").xid}, false, "b1-tl1", "a-between-b1-b2"},
		{"restore point, located in the WAL", []string{"--target-name", "rp-between"}, true, "b1-tl1", "a-between-b1-b2"},
		// The longest replays, for the estimate's time per segment.
		{"backup id b1, all the WAL, one at a time", []string{"--backup-id", b1, "--wal-parallel", "1"}, false, "b1-tl1", "a-last"},
		{"backup id b1, all the WAL, 4 at once", []string{"--backup-id", b1, "--wal-parallel", "4"}, false, "b1-tl1", "a-last"},
	}
	var runs []plan.CalibrationRun
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo := inTree
			if tc.plugin {
				repo = plugin
			}
			flags := append([]string{"--system-id", sysA}, tc.flags...)
			out := generateRestore(t, endpoint, repo, server, flags...)
			job := jobFromManifests(t, repo, out, server+"-restored")
			if want := rep.Backups[backupByName(t, rep, tc.backup)].ID; job.backupID != want {
				t.Fatalf("the generated Cluster restores backup %s, want %s (%s)", job.backupID, want, tc.backup)
			}
			if job.serverName != server {
				t.Fatalf("the generated Cluster recovers from server name %q, want %q", job.serverName, server)
			}
			got, pg := recoverAndRead(t, job)
			want := lineageAMarks(ms, tc.last)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("recovered markers = %v\nwant exactly    %v", got, want)
			}
			p := planFor(t, endpoint, append([]string{"--repo", repo}, flags...)...) // only for the WAL range and the estimate
			tg := p.Target
			latest := tg.TargetTime == "" && tg.TargetLSN == "" && tg.TargetXID == "" && tg.TargetName == "" && tg.TargetImmediate == nil
			var readAhead *int
			ahead := "unknown"
			if p.ReadAhead != nil && !latest {
				readAhead, ahead = &p.ReadAhead.Segments, fmt.Sprintf("%d segment(s), up to %s", p.ReadAhead.Segments, p.ReadAhead.Why)
			}
			t.Logf("WAL range %s..%s, read-ahead from the records %s; PostgreSQL asked restore_command for %s", p.WAL.From, p.WAL.To, ahead, strings.Join(pg.calls, " "))
			if readAhead != nil {
				// The plan knows what PostgreSQL fetches: the range, what its prefetcher reads
				// ahead past the stop, and then the stop's segment again.
				want := p.WAL.Segments + *readAhead
				if *readAhead > 0 {
					want++
				}
				if pg.segmentCalls != want {
					t.Errorf("PostgreSQL asked for %d segments; the plan's range (%d) and read-ahead (%s) say %d", pg.segmentCalls, p.WAL.Segments, ahead, want)
				}
			}
			if p.Estimate.Parallel != max(job.maxParallel, 1) {
				t.Errorf("the plan estimates %d segments at once, the Cluster fetches %d", p.Estimate.Parallel, max(job.maxParallel, 1))
			}
			runs = append(runs, plan.CalibrationRun{Case: tc.name, BackupBytes: p.Backup.Size, Compression: cmp.Or(p.Backup.Compression, "none"), Segments: uint64(p.WAL.Segments),
				Parallel: max(job.maxParallel, 1), RestoreSeconds: round2(pg.restoreTime.Seconds()), RecoverySeconds: round2(pg.recoveryTime.Seconds()),
				HistoryLookups: pg.historyCalls, SegmentFetches: pg.segmentCalls, Latest: latest, ReadAhead: readAhead})
		})
	}
	if !t.Failed() {
		calibrate(t, runs)
	}
}

var calibrateFlag = flag.Bool("calibrate", false, "record the recovery-time model fitted to TestIntegrationRecoveryProof's recoveries in plan/calibration.json")

// calibrate fits the estimate's model (plan/estimate.go) to the recoveries just measured and
// checks it two ways, on average over the recoveries (each one's error is logged; one recovery
// on a loaded machine can be 40% off, which would make a per-recovery bound flaky): given the
// segments PostgreSQL asked for, within 30% (the model's form is right); from the plan's range
// alone, as an estimate is made, within 30%. On these catalogs' nearly empty, switched segments
// PostgreSQL's recovery prefetcher reads 0 to 3 segments past a target (the calls each case logs
// show it; XLogPrefetcher looks ahead up to maintenance_io_concurrency × 4 block references and
// not past a shutdown checkpoint), and when it did it fetches the target's segment again at the
// end of recovery; the model takes the average. It logs how the shipped constants compare, and with -calibrate records the fit as
// the shipped constants.
func calibrate(t *testing.T, runs []plan.CalibrationRun) {
	t.Helper()
	var b strings.Builder
	fit, err := fitModel(runs)
	if err != nil {
		t.Errorf("%v", err)
	}
	fit.Measured = measuredOn(t)
	shipped := plan.ShippedCalibration()
	fmt.Fprintf(&b, "%-50s %8s %6s %5s %3s %5s %8s %8s %14s %14s %14s\n", "recovery", "backup", "", "range", "at", "asked", "restore", "replay", "fit (asked)", "fit (range)", "shipped")
	var sumErr, askedErr float64
	for _, r := range runs {
		got := r.RestoreSeconds + r.RecoverySeconds
		fa, fr, sh := fit.Predict(r, true), fit.Predict(r, false), shipped.Predict(r, false)
		pct := func(x float64) float64 { return 100 * (x - got) / got }
		fmt.Fprintf(&b, "%-50s %7.1fM %6s %5d %3d %2d+%-2d %7.2fs %7.2fs %6.2fs %+5.0f%% %6.2fs %+5.0f%% %6.2fs %+5.0f%%\n", r.Case, float64(r.BackupBytes)/(1<<20), r.Compression, r.Segments, r.Parallel,
			r.SegmentFetches, r.HistoryLookups, r.RestoreSeconds, r.RecoverySeconds, fa, pct(fa), fr, pct(fr), sh, pct(sh))
		askedErr += math.Abs(fa-got) / got
		sumErr += math.Abs(fr-got) / got
	}
	mean, meanAsked := sumErr/float64(len(runs)), askedErr/float64(len(runs))
	fmt.Fprintf(&b, "fit: restore %v bytes/s by compression, then %.2fs + %.3fs per segment asked for one at a time, %.3fs four at once; %.1f asked beyond the range past a target, %.1f at the latest point, model given what was asked %.0f%% off on average; estimates from the range %.0f%% off on average",
		fit.RestoreBytesPerSecond, fit.StartSeconds, fit.SegmentSeconds["1"], fit.SegmentSeconds["4"], fit.ExtraFetches, fit.ExtraFetchesLatest, 100*meanAsked, 100*mean)
	t.Logf("recovery times, measured and estimated:\n%s", b.String())
	if err == nil && meanAsked > 0.3 {
		t.Errorf("given the segments PostgreSQL asked for, the model is %.0f%% off on average, more than 30%%: it does not describe these recoveries", 100*meanAsked)
	}
	if err == nil && mean > 0.3 {
		t.Errorf("the estimates from the plan's range are %.0f%% off on average, more than 30%%", 100*mean)
	}
	if *calibrateFlag && err == nil && !t.Failed() {
		data, err := json.MarshalIndent(fit, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "plan", "calibration.json"), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fitModel fits the model: each compression's restore rate (bytes of backup over seconds,
// summed over its runs); by least squares, recovery seconds = start + segments asked for ×
// a time per segment, one for one segment at a time and one for several (measured at 4); and
// the segments asked for beyond the range, on average.
func fitModel(runs []plan.CalibrationRun) (plan.Calibration, error) {
	bytes, secs := map[string]float64{}, map[string]float64{}
	var extra, extraLatest, targets, latest float64
	for _, r := range runs {
		bytes[r.Compression] += float64(r.BackupBytes)
		secs[r.Compression] += r.RestoreSeconds
		if r.Latest {
			extraLatest += float64(r.SegmentFetches) - float64(r.Segments)
			latest++
		} else {
			extra += float64(r.SegmentFetches) - float64(r.Segments)
			targets++
		}
	}
	rates := map[string]float64{}
	for c := range bytes {
		rates[c] = math.Round(bytes[c] / secs[c])
	}
	var x, y [][]float64
	for _, r := range runs {
		one, many := float64(r.SegmentFetches), 0.0
		if r.Parallel > 1 {
			one, many = 0, float64(r.SegmentFetches)
		}
		x = append(x, []float64{1, one, many})
		y = append(y, []float64{r.RecoverySeconds})
	}
	replay, err := leastSquares(x, y)
	r3 := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	fit := plan.Calibration{RestoreBytesPerSecond: rates, Runs: runs, SegmentSeconds: map[string]float64{},
		ExtraFetches: r3(extra / max(targets, 1)), ExtraFetchesLatest: r3(extraLatest / max(latest, 1))}
	if err != nil {
		return fit, fmt.Errorf("fitting the replay times: %w", err)
	}
	if replay[1] <= 0 || replay[2] <= 0 || replay[0] <= 0 {
		return fit, fmt.Errorf("replay time is not a start plus a time per segment (%v): the recoveries cannot calibrate the model", replay)
	}
	fit.StartSeconds, fit.SegmentSeconds["1"], fit.SegmentSeconds["4"] = r3(replay[0]), r3(replay[1]), r3(replay[2])
	return fit, nil
}

// leastSquares solves the normal equations XᵀX β = Xᵀy by Gaussian elimination.
func leastSquares(x, y [][]float64) ([]float64, error) {
	n := len(x[0])
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
		for k := range x {
			for j := 0; j < n; j++ {
				a[i][j] += x[k][i] * x[k][j]
			}
			a[i][n] += x[k][i] * y[k][0]
		}
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return nil, errors.New("the measurements do not determine the model (too few distinct sizes or segment counts)")
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < n; r++ {
			if r != c {
				f := a[r][c] / a[c][c]
				for j := c; j <= n; j++ {
					a[r][j] -= f * a[c][j]
				}
			}
		}
	}
	beta := make([]float64, n)
	for i := range beta {
		beta[i] = a[i][n] / a[i][i]
	}
	return beta, nil
}

// measuredOn describes the machine and the tools the recoveries ran with.
func measuredOn(t *testing.T) string {
	pg := strings.TrimSpace(run(t, exec.Command(pgBin(t, "postgres"), "--version")))
	barman := strings.TrimSpace(run(t, exec.Command("barman-cloud-restore", "--version")))
	return fmt.Sprintf("TestIntegrationRecoveryProof on %d CPUs (%s/%s), the S3 server on loopback, %s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, pg, barman)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// TestIntegrationRebuiltClusterKeepsItsOwnTimeline: on pg-rebuilt (hack/make-catalog.sh), the
// plan for the rebuilt lineage D pins targetTLI 1, and PostgreSQL recovering with it replays
// every one of D's markers; the same recovery with recovery_target_timeline = latest follows
// the old lineage's 00000002.history, meets its WAL and promotes early, losing D's last rows.
func TestIntegrationRebuiltClusterKeepsItsOwnTimeline(t *testing.T) {
	skipShort(t)
	const rebuilt = "pg-rebuilt"
	endpoint := startS3(t, s3Dir(), "", "")
	rep, _ := listJSON(t, "--catalog", localCatalog(), "--server-name", rebuilt)
	sysD := rep.Backups[backupByName(t, rep, "d-rebuilt")].SystemID
	repo := restoreRepo(t, endpoint, rebuilt, false)
	job := jobFromManifests(t, repo, generateRestore(t, endpoint, repo, rebuilt, "--system-id", sysD), rebuilt+"-restored")
	if job.recoveryTarget[0] != "recovery_target_timeline = '1'" {
		t.Fatalf("the generated Cluster's recovery settings %q do not pin timeline 1", job.recoveryTarget)
	}
	var want []string
	for _, m := range readMarkers(t) {
		if m.kind == "mark" && strings.HasPrefix(m.label, "d-") {
			want = append(want, m.label)
		}
	}
	got, _ := recoverAndRead(t, job)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("recovered with targetTLI 1: %v\nwant %v", got, want)
	}
	latest := job
	latest.recoveryTarget = job.recoveryTarget[1:]
	lost, _ := recoverAndRead(t, latest)
	if len(lost) >= len(want) {
		t.Errorf("recovery_target_timeline = latest recovered %v: the catalog no longer shows what the pin prevents", lost)
	}
	t.Logf("latest would have recovered %d of %d markers: %v", len(lost), len(want), lost)
}
