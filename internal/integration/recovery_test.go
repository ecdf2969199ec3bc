package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		ID   string `json:"id"`
		Name string `json:"name"`
		Size int64  `json:"size"`
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
		Segments int `json:"segments"`
	} `json:"wal"`
	Estimate struct {
		Seconds int `json:"seconds"`
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

// recoverAndRead does what CloudNativePG's recovery job does with a plan's recoveryTarget:
// barman-cloud-restore the backup, set restore_command to barman-cloud-wal-restore and the
// recovery target settings, start PostgreSQL until it promotes, and return the marker labels.
func recoverAndRead(t *testing.T, endpoint, serverName string, p planJSON) (labels []string, restoreTime, recoveryTime time.Duration) {
	t.Helper()
	pg := recoverTo(t, endpoint, serverName, p, false)
	out, err := pg.psql("SELECT label FROM marks ORDER BY id")
	if err != nil {
		t.Fatalf("reading marks: %v\n%s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			labels = append(labels, l)
		}
	}
	return labels, pg.restoreTime, pg.recoveryTime
}

// recovered is a PostgreSQL recovered from the catalog, listening on a Unix socket only.
type recovered struct {
	sock                      string
	psql                      func(q string) (string, error)
	restoreTime, recoveryTime time.Duration
}

// recoverTo restores the plan's backup and starts PostgreSQL with the plan's target. It waits
// for the promotion, or, with pause, for recovery to pause at the target (the server then
// stays in recovery, read-only).
func recoverTo(t *testing.T, endpoint, serverName string, p planJSON, pause bool) *recovered {
	t.Helper()
	base, err := os.MkdirTemp(catWork, "restore-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o777); err != nil {
		t.Fatal(err)
	}
	data, sock := filepath.Join(base, "data"), filepath.Join(base, "sock")
	start := time.Now()
	run(t, asPostgres("barman-cloud-restore", "--endpoint-url", endpoint, "s3://catalog/pg", serverName, p.Target.BackupID, data))
	restoreTime := time.Since(start)
	run(t, asPostgres("mkdir", "-p", sock))

	// CloudNativePG's translation of recoveryTarget into PostgreSQL settings.
	settings := []string{
		"listen_addresses = ''",
		"unix_socket_directories = '" + sock + "'",
		"port = 5432",
		"archive_mode = off", // the restored copy must not archive into the source's catalog
		fmt.Sprintf("restore_command = 'barman-cloud-wal-restore --endpoint-url %s s3://catalog/pg %s %%f %%p'", endpoint, serverName),
		"recovery_target_action = 'promote'",
		"recovery_target_timeline = 'latest'",
	}
	if pause {
		settings[5] = "recovery_target_action = 'pause'"
	}
	tg := p.Target
	switch {
	case tg.TargetTime != "":
		settings = append(settings, "recovery_target_time = '"+tg.TargetTime+"'")
	case tg.TargetLSN != "":
		settings = append(settings, "recovery_target_lsn = '"+tg.TargetLSN+"'")
	case tg.TargetXID != "":
		settings = append(settings, "recovery_target_xid = '"+tg.TargetXID+"'")
	case tg.TargetName != "":
		settings = append(settings, "recovery_target_name = '"+tg.TargetName+"'")
	case tg.TargetImmediate != nil && *tg.TargetImmediate:
		settings = append(settings, "recovery_target = 'immediate'")
	}
	if tg.Exclusive != nil && *tg.Exclusive {
		settings = append(settings, "recovery_target_inclusive = false")
	}
	if tg.TargetTLI != "" {
		settings[6] = "recovery_target_timeline = '" + tg.TargetTLI + "'"
	}
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
		time.Sleep(200 * time.Millisecond)
	}
	return &recovered{sock: sock, psql: psql, restoreTime: restoreTime, recoveryTime: time.Since(start)}
}

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

	cases := []struct {
		name   string
		flags  []string
		backup string // the backup name the plan must choose
		last   string // the last lineage-A marker that must be there; the next must not
	}{
		{"latest", nil, "b3-tl2", "a-last"},
		{"time between the backups", []string{"--target-time", mid("a-after-b1", "a-between-b1-b2")}, "b1-tl1", "a-after-b1"},
		{"time after the timeline switch", []string{"--target-time", mid("a-tl2-start", "a-after-b3")}, "b2-tl1", "a-tl2-start"},
		{"backup id", []string{"--backup-id", b2}, "b2-tl1", "a-last"},
		{"backup id, immediate", []string{"--backup-id", b1, "--target-immediate"}, "b1-tl1", "a-before-b1"},
		{"lsn", []string{"--target-lsn", markerByLabel(t, ms, "a-after-b2").lsn}, "b2-tl1", "a-after-b2"},
		{"xid, exclusive", []string{"--backup-id", b2, "--target-xid", markerByLabel(t, ms, "a-tl2-start").xid, "--target-exclusive"}, "b2-tl1", "a-after-b2"},
		{"named restore point", []string{"--backup-id", b1, "--target-name", "rp-between"}, "b1-tl1", "a-between-b1-b2"},
		// Without --backup-id the WAL says where they are: the newest backup that ends before
		// them (b1, not the newest b3, from which recovery would never reach them).
		{"xid, located in the WAL", []string{"--target-xid", markerByLabel(t, ms, "a-between-b1-b2").xid}, "b1-tl1", "a-between-b1-b2"},
		{"restore point, located in the WAL", []string{"--target-name", "rp-between"}, "b1-tl1", "a-between-b1-b2"},
	}
	var calibration []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := planFor(t, endpoint, append([]string{"--system-id", sysA}, tc.flags...)...)
			if p.Backup.Name != tc.backup {
				t.Fatalf("plan chose %s (%s), want %s", p.Backup.ID, p.Backup.Name, tc.backup)
			}
			got, restore, recovery := recoverAndRead(t, endpoint, server, p)
			want := lineageAMarks(ms, tc.last)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("recovered markers = %v\nwant exactly    %v", got, want)
			}
			calibration = append(calibration, fmt.Sprintf("%-32s backup %s: restore %.1fs, WAL replay %.1fs for %d segments; estimate %ds",
				tc.name, p.Backup.Name, restore.Seconds(), recovery.Seconds(), p.WAL.Segments, p.Estimate.Seconds))
		})
	}
	t.Logf("recovery-time calibration (measured on this machine):\n%s", strings.Join(calibration, "\n"))
}

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
	r := runTool(t, nil, "plan", "--cluster", "auth/"+rebuilt, "--catalog", "s3://catalog/pg", "--endpoint-url", endpoint, "--system-id", sysD, "-o", "json")
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	if p.Target.TargetTLI != "1" {
		t.Fatalf("plan target %+v, want targetTLI 1\n%s", p.Target, r.stdout)
	}
	var want []string
	for _, m := range readMarkers(t) {
		if m.kind == "mark" && strings.HasPrefix(m.label, "d-") {
			want = append(want, m.label)
		}
	}
	got, _, _ := recoverAndRead(t, endpoint, rebuilt, p)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("recovered with targetTLI 1: %v\nwant %v", got, want)
	}
	latest := p
	latest.Target.TargetTLI = ""
	lost, _, _ := recoverAndRead(t, endpoint, rebuilt, latest)
	if len(lost) >= len(want) {
		t.Errorf("recovery_target_timeline = latest recovered %v: the catalog no longer shows what the pin prevents", lost)
	}
	t.Logf("latest would have recovered %d of %d markers: %v", len(lost), len(want), lost)
}
