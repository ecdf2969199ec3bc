package plan

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/human"
	ct "github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
	_ "github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden" // defines -update
)

// Backups of the scenario, by end time: B1 02:04, B2 02:11, B3 02:20 (on timeline 2).
const (
	B1 = "20260205T020300"
	B2 = "20260205T021000"
	B3 = "20260205T021900"
)

// scenario is system A: B1 and B2 on timeline 1, a promotion to timeline 2 at segment 8, B3 on
// timeline 2, WAL to segment 12 (archived 02:25). Every object takes one minute of the clock.
func scenario(t *testing.T) *ct.Fixture {
	f := ct.NewFixture(t)
	f.WAL(ct.SysA, 1, 1, 2)        // 02:01-02:02
	f.Backup(B1, ct.SysA, 1, 2, 2) // begin 02:03, end 02:04
	f.WAL(ct.SysA, 1, 3, 5)        // 02:07-02:09
	f.Backup(B2, ct.SysA, 1, 5, 5) // begin 02:10, end 02:11
	f.WAL(ct.SysA, 1, 6, 7)        // 02:14-02:15
	f.History(2, "1\t0/8000000\tno recovery target specified\n")
	f.WAL(ct.SysA, 2, 8, 9)        // 02:17-02:18
	f.Backup(B3, ct.SysA, 2, 9, 9) // begin 02:19, end 02:20
	f.WAL(ct.SysA, 2, 10, 12)      // 02:23-02:25
	return f
}

func at(hm string) *time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", "2026-02-05 "+hm)
	if err != nil {
		panic(err)
	}
	return &t
}

func lsn(s string) *catalog.LSN {
	l, err := catalog.ParseLSN(s)
	if err != nil {
		panic(err)
	}
	return &l
}

var now = time.Date(2026, 2, 5, 3, 0, 0, 0, time.UTC)

func input(c *catalog.Catalog) Input {
	return Input{Catalog: c, Source: Source{Namespace: "auth", Name: "pg", ServerName: "pg", Catalog: "s3://bucket/prefix"}, Now: now}
}

func failed(p *Plan) string {
	var s []string
	for _, c := range p.Failed() {
		s = append(s, c.Name+": "+c.Detail)
	}
	return strings.Join(s, "\n")
}

func TestSelection(t *testing.T) {
	yes := true
	cases := []struct {
		name     string
		target   catalog.Target
		backup   string
		rt       RecoveryTarget
		from, to string
		path     string
		upper    bool
		warning  string
	}{
		{name: "latest", backup: B3, rt: RecoveryTarget{BackupID: B3},
			from: "000000020000000000000009", to: "00000002000000000000000C", path: "2"},
		{name: "time equal to a backup's end is inclusive", target: catalog.Target{Time: at("02:11:00")}, backup: B2,
			rt: RecoveryTarget{BackupID: B2, TargetTime: "2026-02-05 02:11:00+00:00"}, from: "000000010000000000000005", to: "000000010000000000000006", path: "1"},
		{name: "time just before a backup's end takes the older one", target: catalog.Target{Time: at("02:10:59")}, backup: B1,
			rt: RecoveryTarget{BackupID: B1, TargetTime: "2026-02-05 02:10:59+00:00"}, from: "000000010000000000000002", to: "000000010000000000000006", path: "1"},
		{name: "time after the timeline switch", target: catalog.Target{Time: at("02:18:30")}, backup: B2,
			rt: RecoveryTarget{BackupID: B2, TargetTime: "2026-02-05 02:18:30+00:00"}, from: "000000010000000000000005", to: "00000002000000000000000A", path: "1 → 2"},
		{name: "lsn after B2", target: catalog.Target{LSN: lsn("0/6000000")}, backup: B2,
			rt: RecoveryTarget{BackupID: B2, TargetLSN: "0/6000000"}, from: "000000010000000000000005", to: "000000010000000000000006", path: "1"},
		{name: "lsn before B2 is consistent takes B1", target: catalog.Target{LSN: lsn("0/5000050")}, backup: B1,
			rt: RecoveryTarget{BackupID: B1, TargetLSN: "0/5000050"}, from: "000000010000000000000002", to: "000000010000000000000005", path: "1"},
		{name: "xid", target: catalog.Target{XID: "1234"}, backup: B3, rt: RecoveryTarget{BackupID: B3, TargetXID: "1234"},
			from: "000000020000000000000009", to: "00000002000000000000000C", path: "2", upper: true, warning: "cannot tell where transaction 1234 is"},
		{name: "restore point", target: catalog.Target{Name: "before-upgrade"}, backup: B3, rt: RecoveryTarget{BackupID: B3, TargetName: "before-upgrade"},
			from: "000000020000000000000009", to: "00000002000000000000000C", path: "2", upper: true, warning: `restore point "before-upgrade"`},
		{name: "immediate", target: catalog.Target{Immediate: true}, backup: B3, rt: RecoveryTarget{BackupID: B3, TargetImmediate: &yes},
			from: "000000020000000000000009", to: "000000020000000000000009", path: "2"},
		{name: "backup id alone", target: catalog.Target{BackupID: B1}, backup: B1, rt: RecoveryTarget{BackupID: B1},
			from: "000000010000000000000002", to: "00000002000000000000000C", path: "1 → 2"},
		{name: "backup id with a time", target: catalog.Target{BackupID: B1, Time: at("02:12:30")}, backup: B1,
			rt: RecoveryTarget{BackupID: B1, TargetTime: "2026-02-05 02:12:30+00:00"}, from: "000000010000000000000002", to: "000000010000000000000006", path: "1"},
		{name: "exclusive", target: catalog.Target{Time: at("02:12:30"), Exclusive: true}, backup: B2,
			rt: RecoveryTarget{BackupID: B2, TargetTime: "2026-02-05 02:12:30+00:00", Exclusive: &yes}, from: "000000010000000000000005", to: "000000010000000000000006", path: "1"},
	}
	c := scenario(t).Load()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := input(c)
			in.Target = tc.target
			p, err := Make(in)
			if err != nil {
				t.Fatal(err)
			}
			if !p.OK() {
				t.Fatalf("plan failed:\n%s", failed(p))
			}
			if p.Backup.ID != tc.backup {
				t.Errorf("backup = %s, want %s", p.Backup.ID, tc.backup)
			}
			if got, want := rtString(p.Target), rtString(tc.rt); got != want {
				t.Errorf("recoveryTarget = %s, want %s", got, want)
			}
			if p.WAL.From != tc.from || p.WAL.To != tc.to || p.WAL.UpperBound != tc.upper {
				t.Errorf("WAL = %+v, want %s to %s (upper bound %v)", *p.WAL, tc.from, tc.to, tc.upper)
			}
			if got := human.Timelines(p.TimelinePath, " → "); got != tc.path {
				t.Errorf("timeline path = %s, want %s", got, tc.path)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings = %q, want %q", p.Warnings, tc.warning)
			}
			if p.SystemID != ct.SysA || p.Estimate == nil || p.Estimate.Seconds <= 0 {
				t.Errorf("systemId %q estimate %+v", p.SystemID, p.Estimate)
			}
			chosen := 0
			for _, cand := range p.Candidates {
				if cand.Chosen {
					chosen++
				}
				if cand.Reason == "" {
					t.Errorf("candidate %s has no reason", cand.ID)
				}
			}
			if chosen != 1 || len(p.Candidates) != 3 {
				t.Errorf("candidates = %+v, want 3 with one chosen", p.Candidates)
			}
		})
	}
}

func rtString(r RecoveryTarget) string {
	s := r.BackupID + " time=" + r.TargetTime + " lsn=" + r.TargetLSN + " xid=" + r.TargetXID + " name=" + r.TargetName + " tli=" + r.TargetTLI
	if r.TargetImmediate != nil {
		s += " immediate"
	}
	if r.Exclusive != nil {
		s += " exclusive"
	}
	return s
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *ct.Fixture)
		input  func(in *Input)
		check  string
		detail []string
	}{
		{name: "time before every backup", input: func(in *Input) { in.Target.Time = at("02:01:00") },
			check: CheckTarget, detail: []string{"before the end of the oldest restorable backup", "recoverable from 2026-02-05T02:04:00Z", "to 2026-02-05T02:25:00Z"}},
		{name: "time after the last WAL", input: func(in *Input) { in.Target.Time = at("02:40:00") },
			check: CheckTarget, detail: []string{"after the last WAL reachable", "00000002000000000000000C", "recoverable from"}},
		{name: "time in the future", input: func(in *Input) { in.Target.Time = at("02:40:00"); in.Now = *at("02:30:00") },
			check: CheckTarget, detail: []string{"in the future"}},
		{name: "lsn beyond the archive", input: func(in *Input) { in.Target.LSN = lsn("0/D000000") },
			check: CheckTarget, detail: []string{"beyond the WAL reachable", "0/D000000"}},
		{name: "lsn before every backup", input: func(in *Input) { in.Target.LSN = lsn("0/1000000") },
			check: CheckTarget, detail: []string{"before the end of the oldest restorable backup"}},
		{name: "backup id with an earlier time", input: func(in *Input) { in.Target.BackupID = B2; in.Target.Time = at("02:05:00") },
			check: CheckTarget, detail: []string{"before backup " + B2 + " ends"}},
		{name: "unknown backup id", input: func(in *Input) { in.Target.BackupID = "20990101T000000" },
			check: CheckBackup, detail: []string{"not in s3://bucket/prefix/pg", B1 + ", " + B2 + ", " + B3}},
		{name: "two systems and no choice",
			setup: func(f *ct.Fixture) {
				f.History(3, "1\t0/8000000\tx\n2\t0/D000000\tx\n")
				f.WAL(ct.SysB, 3, 13, 14)
				f.Backup("20260210T090949", ct.SysB, 3, 13, 13)
			},
			check: CheckLineage, detail: []string{"2 database systems", ct.SysA + ": 3 backups " + B1 + " … " + B3, ct.SysB + ": 1 backup 20260210T090949", "--system-id"}},
		{name: "unknown system id", input: func(in *Input) { in.Target.SystemID = ct.SysB },
			check: CheckLineage, detail: []string{"no backup of system " + ct.SysB}},
		{name: "backup of another system", input: func(in *Input) { in.Target.BackupID = B1; in.Target.SystemID = ct.SysB },
			check: CheckLineage, detail: []string{"belongs to system " + ct.SysA}},
		{name: "gap after the newest backup", setup: func(f *ct.Fixture) { f.DeleteWAL(2, 11) },
			check: CheckWAL, detail: []string{"WAL gap on timeline 2", "00000002000000000000000B", "--target-lsn 0/A000000"}},
		{name: "failed backup asked for", setup: func(f *ct.Fixture) {
			f.BackupInfo("20260205T023000", f.Info("20260205T023000", ct.SysA, 2, 12, 12, "FAILED"))
		}, input: func(in *Input) { in.Target.BackupID = "20260205T023000" },
			check: CheckBackup, detail: []string{"FAILED", "only DONE backups"}},
		{name: "backup whose end WAL is not archived", setup: func(f *ct.Fixture) {
			f.BackupInfo("20260205T023000", f.Info("20260205T023000", ct.SysA, 2, 12, 13, "DONE"))
		}, input: func(in *Input) { in.Target.BackupID = "20260205T023000" },
			check: CheckBackup, detail: []string{"WAL 00000002000000000000000D needed to make it consistent", "is not archived"}},
		{name: "missing history for the newest timeline", setup: func(f *ct.Fixture) {
			f.History(3, "1\t0/8000000\tx\n2\t0/C000000\tx\n")
			f.WAL(ct.SysA, 3, 12, 13)
			f.Store.Delete("pg/wals/00000003.history")
		}, check: CheckTimelines, detail: []string{"no 00000003.history", "end on timeline 2"}},
		{name: "invalid new name", input: func(in *Input) { in.NewName = "Auth_DB" },
			check: CheckName, detail: []string{`"Auth_DB" is not a valid cluster name`}},
		{name: "too long new name", input: func(in *Input) { in.NewName = strings.Repeat("a", 61) },
			check: CheckName, detail: []string{"at most 60"}},
		{name: "side by side with the source's name", input: func(in *Input) { in.NewName = "pg" },
			check: CheckName, detail: []string{"side-by-side needs a name other than"}},
		{name: "archive into the source", input: func(in *Input) { in.NewServerName = "pg" },
			check: CheckNewArchive, detail: []string{`into the source's server name "pg"`}},
		{name: "archive into an existing server", input: func(in *Input) { in.NewServerName = "old"; in.ServersInCatalog = []string{"pg", "old"} },
			check: CheckNewArchive, detail: []string{`"old" already exists`, "Expected empty archive"}},
		{name: "explicit name that collides", input: func(in *Input) {
			in.NewName = "pg-new"
			in.Taken = []Object{{Kind: "Secret", Namespace: "auth", Name: "pg-new-app"}, {Kind: "Service", Namespace: "other", Name: "pg-new-rw"}}
		}, check: CheckCollisions, detail: []string{"Secret pg-new-app", "namespace auth"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := scenario(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			in := input(f.Load())
			if tc.input != nil {
				tc.input(&in)
			}
			p, err := Make(in)
			if err != nil {
				t.Fatal(err)
			}
			var got *Check
			for i := range p.Checks {
				if p.Checks[i].Name == tc.check {
					got = &p.Checks[i]
				}
			}
			if got == nil || got.OK {
				t.Fatalf("check %s = %+v, want failed; all checks: %+v", tc.check, got, p.Checks)
			}
			for _, d := range tc.detail {
				if !strings.Contains(got.Detail, d) {
					t.Errorf("%s detail = %q, want it to contain %q", tc.check, got.Detail, d)
				}
			}
			if p.OK() {
				t.Errorf("plan OK despite a failed check")
			}
		})
	}
}

func TestFailedNewestBackupIsSkipped(t *testing.T) {
	f := scenario(t)
	f.BackupInfo("20260205T023000", f.Info("20260205T023000", ct.SysA, 2, 12, 12, "FAILED"))
	p, err := Make(input(f.Load()))
	if err != nil || !p.OK() || p.Backup.ID != B3 {
		t.Fatalf("plan = %v %s, backup %v; want B3", err, failed(p), p.Backup)
	}
	if p.Candidates[0].ID != "20260205T023000" || !strings.Contains(p.Candidates[0].Reason, "FAILED") {
		t.Errorf("candidates = %+v, want the FAILED backup first with its reason", p.Candidates)
	}
}

func TestChosenSystemAmongTwo(t *testing.T) {
	f := scenario(t)
	f.History(3, "1\t0/8000000\tx\n2\t0/D000000\tx\n")
	f.WAL(ct.SysB, 3, 13, 14)
	f.Backup("20260210T090949", ct.SysB, 3, 13, 13)
	c := f.Load()
	in := input(c)
	in.Target.SystemID = ct.SysA
	p, err := Make(in)
	if err != nil || !p.OK() {
		t.Fatalf("system A: %v\n%s", err, failed(p))
	}
	// B's timeline 3 forks from A's timeline 2: "latest" from A's backups would follow it into
	// B's WAL; the WAL headers stop that (a foreign segment), and the plan says so.
	if p.Backup.ID != B3 {
		t.Errorf("backup = %s, want %s", p.Backup.ID, B3)
	}
	in.Target = catalog.Target{BackupID: "20260210T090949"}
	p, err = Make(in)
	if err != nil || !p.OK() || p.SystemID != ct.SysB {
		t.Fatalf("backup of B: %v %s system %s", err, failed(p), p.SystemID)
	}
}

func TestNames(t *testing.T) {
	c := scenario(t).Load()
	cases := []struct {
		name     string
		input    func(in *Input)
		restored Restored
	}{
		{"default", nil, Restored{Namespace: "auth", Name: "pg-restored", ServerName: "pg-restored"}},
		{"default taken", func(in *Input) {
			in.Taken = []Object{{Kind: "Service", Namespace: "auth", Name: "pg-restored-rw"}, {Kind: "Cluster", Namespace: "auth", Name: "pg-restored-2"}}
		}, Restored{Namespace: "auth", Name: "pg-restored-3", ServerName: "pg-restored-3"}},
		{"server name taken in the catalog", func(in *Input) { in.ServersInCatalog = []string{"pg", "pg-restored"} },
			Restored{Namespace: "auth", Name: "pg-restored", ServerName: "pg-restored-2"}},
		{"in place", func(in *Input) {
			in.Strategy = InPlace
			in.Taken = []Object{{Kind: "Cluster", Namespace: "auth", Name: "pg"}}
		},
			Restored{Namespace: "auth", Name: "pg", ServerName: "pg-restored"}},
		{"explicit", func(in *Input) { in.NewName = "auth-db"; in.NewServerName = "auth-db-2026" },
			Restored{Namespace: "auth", Name: "auth-db", ServerName: "auth-db-2026"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := input(c)
			if tc.input != nil {
				tc.input(&in)
			}
			p, err := Make(in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Restored != tc.restored {
				t.Errorf("restored = %+v, want %+v", p.Restored, tc.restored)
			}
			if !p.OK() {
				t.Errorf("plan failed:\n%s", failed(p))
			}
		})
	}
	if _, err := Make(Input{Catalog: c, Strategy: "sideways"}); err == nil {
		t.Errorf("Make(strategy sideways) = nil error")
	}
}

func TestEstimateModel(t *testing.T) {
	c := Calibration{Measured: "a test", RestoreBytesPerSecond: map[string]float64{"none": 20 << 20, "bzip2": 10 << 20}, StartSeconds: 3,
		SegmentSeconds: map[string]float64{"1": 0.5, "4": 0.25}, ExtraFetches: 2, ExtraFetchesLatest: 3, Runs: make([]CalibrationRun, 7)}
	// 100 MiB of bzip2 and 38 segments (and 2 more asked for) one at a time: 10 + 3 + 20.
	e := c.Estimate(100<<20, "bzip2", 38, 1, Beyond{})
	if e.Seconds != 33 || e.RestoreSeconds != 10 || e.ReplaySeconds != 23 || e.Parallel != 1 {
		t.Errorf("Estimate(100 MiB bzip2, 40, 1) = %+v", e)
	}
	if e.Model != "backup size / 10 MiB/s (bzip2), then 3.0 s + 0.50 s per WAL segment fetched one at a time, for the range's 38 and 2 more PostgreSQL asks for (read ahead of the target, on average)" ||
		!strings.HasPrefix(e.Basis, "fitted to 7 real recoveries (a test)") {
		t.Errorf("model %q, basis %q", e.Model, e.Basis)
	}
	// What is asked beyond the range: at the latest point the probes at the end of the archive;
	// past a stop whose read-ahead the records place, the segments read ahead and the stop's
	// segment again — or nothing more when the read-ahead stays in the stop's segment.
	three, none := 3, 0
	for _, tc := range []struct {
		b     Beyond
		extra float64
		why   string
	}{
		{Beyond{Latest: true}, 3, "(at the end of the archive: the probes for a next segment and the last one again, as measured)"},
		{Beyond{ReadAhead: &three, Why: "a shutdown checkpoint"}, 4, "3 read ahead past the stop, up to a shutdown checkpoint, and the stop's segment again"},
		{Beyond{ReadAhead: &none, Why: "40 block references ahead of replay"}, 0, "(no read-ahead past the stop's segment (40 block references ahead of replay))"},
	} {
		e := c.Estimate(0, "", 38, 1, tc.b)
		if want := 3 + 0.5*(38+tc.extra); e.ReplaySeconds != round1(want) || !strings.Contains(e.Model, tc.why) {
			t.Errorf("Estimate(%+v): replay %v (want %v), model %q", tc.b, e.ReplaySeconds, want, e.Model)
		}
	}
	// Uncompressed restores at its own rate; an unmeasured compression at the slowest.
	if e := c.Estimate(100<<20, "", 0, 1, Beyond{}); e.RestoreSeconds != 5 || !strings.Contains(e.Model, "(uncompressed)") {
		t.Errorf("uncompressed: %+v", e)
	}
	if e := c.Estimate(100<<20, "snappy", 0, 1, Beyond{}); e.RestoreSeconds != 10 || !strings.Contains(e.Model, "(snappy, taken as the slowest measured compression)") {
		t.Errorf("snappy: %+v", e)
	}
	// Four at once is measured; eight is not, and says it uses the four's.
	if e := c.Estimate(100<<20, "bzip2", 38, 4, Beyond{}); e.Seconds != 23 || !strings.Contains(e.Model, "fetched 4 at a time,") {
		t.Errorf("Estimate(…, 4) = %+v", e)
	}
	if e := c.Estimate(100<<20, "bzip2", 38, 8, Beyond{}); e.Seconds != 23 || !strings.Contains(e.Model, "fetched 8 at a time, as measured with 4,") {
		t.Errorf("Estimate(…, 8) = %+v", e)
	}
	run := CalibrationRun{BackupBytes: 100 << 20, Compression: "none", Segments: 38, SegmentFetches: 42, Parallel: 4}
	if got, fetched := c.Predict(run, false), c.Predict(run, true); got != 18 || fetched != 18.5 {
		t.Errorf("Predict = %v for the range, %v for what was fetched; want 18 and 18.5", got, fetched)
	}
	// The shipped constants are a fit to real recoveries.
	s := ShippedCalibration()
	if len(s.Runs) < 10 || s.RestoreBytesPerSecond["none"] <= 0 || s.RestoreBytesPerSecond["gzip"] <= 0 || s.StartSeconds <= 0 || s.SegmentSeconds["1"] <= 0 || s.SegmentSeconds["4"] <= 0 {
		t.Errorf("calibration.json is not a fit to the recovery test's runs: %+v", s)
	}
}

// TestNewArchiveCountsEveryTakenServerName: a server name is taken when it is in the catalog
// read, or when any cluster of the repo archives there (the source's own name from its
// manifests, even when --server-name read another), and a copy read as the catalog is said to
// be a copy.
func TestNewArchiveCountsEveryTakenServerName(t *testing.T) {
	c := scenario(t).Load()
	check := func(p *Plan) Check {
		for _, ch := range p.Checks {
			if ch.Name == CheckNewArchive {
				return ch
			}
		}
		t.Fatalf("no %s check", CheckNewArchive)
		return Check{}
	}
	sourceOwn := TakenServerName{ServerName: "pg-live", By: "the source cluster auth/pg (cluster.yaml:1)"}
	cases := []struct {
		name       string
		input      func(in *Input)
		ok         bool
		serverName string
		detail     string
	}{
		{"--new-server-name equal to the manifest's, --server-name another", func(in *Input) {
			in.NewServerName = "pg-live"
			in.TakenServerNames = []TakenServerName{sourceOwn}
			in.ArchiveDestination = "s3://bucket/prefix"
		}, false, "pg-live", "is where the source cluster auth/pg (cluster.yaml:1) archives"},
		{"the default name skips a name another cluster archives to", func(in *Input) {
			in.TakenServerNames = []TakenServerName{sourceOwn, {ServerName: "pg-restored", By: "Cluster db/other (other.yaml:3)"}}
			in.ArchiveDestination = "s3://bucket/prefix"
		}, true, "pg-restored-2", `new, empty server name "pg-restored-2"`},
		{"in place with a copy as the catalog", func(in *Input) {
			in.Strategy = InPlace
			in.Source.Catalog = "file:///mnt/copy"
			in.ArchiveDestination = "s3://bucket/prefix/"
			in.TakenServerNames = []TakenServerName{{ServerName: "pg", By: "the source cluster auth/pg (cluster.yaml:1)"}}
		}, true, "pg-restored", "absent from the catalog read, file:///mnt/copy; that is a copy, not the destination the restored cluster archives to: make sure s3://bucket/prefix/pg-restored does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := input(c)
			tc.input(&in)
			p, err := Make(in)
			if err != nil {
				t.Fatal(err)
			}
			ch := check(p)
			if ch.OK != tc.ok || p.Restored.ServerName != tc.serverName || !strings.Contains(ch.Detail, tc.detail) {
				t.Errorf("new-archive = ok %v server name %q %q; want ok %v %q containing %q", ch.OK, p.Restored.ServerName, ch.Detail, tc.ok, tc.serverName, tc.detail)
			}
		})
	}
}

// rebuiltOverPromoted is the catalog of TestRebuiltClusterIsPinnedToItsOwnTimeline: system A
// promoted to timeline 2 at segment 5; system B, rebuilt into the path, archives timeline 1 to
// segment 12.
func rebuiltOverPromoted(t *testing.T) *catalog.Catalog {
	f := ct.NewFixture(t)
	f.WAL(ct.SysA, 1, 1, 4)
	f.Backup("20260205T020500", ct.SysA, 1, 2, 2)
	f.History(2, "1\t0/5000000\tno recovery target specified\n")
	f.WAL(ct.SysA, 2, 5, 7)
	f.WAL(ct.SysB, 1, 1, 2)
	f.Backup("20260210T090000", ct.SysB, 1, 2, 2)
	f.WAL(ct.SysB, 1, 3, 12)
	return f.Load()
}

// TestPlanPinsTheRebuiltSystemsOwnTimeline: never OK-and-wrong: the plan for B recovers along
// timeline 1 with targetTLI "1" written into the Cluster, and says why.
func TestPlanPinsTheRebuiltSystemsOwnTimeline(t *testing.T) {
	in := input(rebuiltOverPromoted(t))
	in.Target = catalog.Target{SystemID: ct.SysB}
	p, err := Make(in)
	if err != nil || !p.OK() {
		t.Fatalf("Make: %v\n%s", err, failed(p))
	}
	if p.Target.TargetTLI != "1" || p.WAL.To != "00000001000000000000000C" {
		t.Errorf("target %+v, WAL to %s; want targetTLI 1 and WAL to segment 12", p.Target, p.WAL.To)
	}
	for _, c := range p.Checks {
		if c.Name == CheckTimelines && !strings.Contains(c.Detail, "(targetTLI 1): with recovery_target_timeline = latest") {
			t.Errorf("timeline-history = %q, want the reason for the pin", c.Detail)
		}
	}
	// Asking for latest explicitly (--target-tli 2) is what PostgreSQL would do: it stops
	// before A's WAL, and the plan says so instead of hiding it.
	in.Target.TLI = 2
	p, _ = Make(in)
	if p.OK() || !strings.Contains(failed(p), "no restorable backup of system "+ct.SysB+" is on timeline 2") {
		t.Errorf("--target-tli 2 without --backup-id: %s", failed(p))
	}
	in.Target.BackupID = "20260210T090000"
	p, _ = Make(in)
	if p.WAL == nil {
		t.Fatalf("--target-tli 2: no WAL range\n%s", failed(p))
	}
	if !p.OK() || p.Target.TargetTLI != "2" || p.WAL.To != "000000010000000000000004" || !strings.Contains(strings.Join(p.Warnings, "\n"), "000000020000000000000005 after this system's last segment belongs to another database system") {
		t.Errorf("--target-tli 2: ok %v target %+v WAL to %s warnings %q", p.OK(), p.Target, p.WAL.To, p.Warnings)
	}
	// A timeline recovery cannot end on is refused, naming the ones it can.
	in.Target.TLI = 3
	if p, _ = Make(in); p.OK() || !strings.Contains(failed(p), "--target-tli 3 is not a timeline recovery from backup 20260210T090000 (timeline 1) can end on: 1, 2") {
		t.Errorf("--target-tli 3: %s", failed(p))
	}
}

// TestTargetTLIFiltersBackupsAsCloudNativePGDoes: without --backup-id, targetTLI N keeps only
// backups on timeline N (barman-cloud's FindBackupInfo).
func TestTargetTLIFiltersBackupsAsCloudNativePGDoes(t *testing.T) {
	in := input(scenario(t).Load())
	in.Target = catalog.Target{TLI: 1}
	p, err := Make(in)
	if err != nil || !p.OK() {
		t.Fatalf("Make: %v\n%s", err, failed(p))
	}
	if p.Backup.ID != B2 || p.Target.TargetTLI != "1" {
		t.Errorf("backup %s target %+v; want B2 (the newest on timeline 1) with targetTLI 1", p.Backup.ID, p.Target)
	}
	var why string
	for _, c := range p.Candidates {
		if c.ID == B3 {
			why = c.Reason
		}
	}
	if !strings.Contains(why, "on timeline 2: with targetTLI 1 CloudNativePG considers only backups on that timeline") {
		t.Errorf("B3 not chosen because %q", why)
	}
}

// TestHistoryWithoutWALIsFollowedAndSaid: the plan follows a timeline 2 history that has no WAL
// (as PostgreSQL does) and says how many timeline 1 segments that abandons.
func TestHistoryWithoutWALIsFollowedAndSaid(t *testing.T) {
	f := ct.NewFixture(t)
	f.WAL(ct.SysA, 1, 1, 3)
	f.Backup(B1, ct.SysA, 1, 2, 2)
	f.WAL(ct.SysA, 1, 4, 9)
	f.History(2, "1\t0/5000000\tno recovery target specified\n")
	p, err := Make(input(f.Load()))
	if err != nil || !p.OK() {
		t.Fatalf("Make: %v\n%s", err, failed(p))
	}
	if p.Target.TargetTLI != "" || p.WAL.To != "000000010000000000000005" {
		t.Errorf("target %+v WAL to %s; want latest, stopping at the switch", p.Target, p.WAL.To)
	}
	if w := strings.Join(p.Warnings, "\n"); !strings.Contains(w, "4 segments of timeline 1 after the switch are not replayed; pass --target-tli 1") {
		t.Errorf("warnings %q do not count the abandoned segments", w)
	}
}

// TestGapHintIsACommandThatWorks: the LSN the wal-continuity refusal suggests plans OK.
func TestGapHintIsACommandThatWorks(t *testing.T) {
	f := scenario(t)
	f.DeleteWAL(2, 11)
	c := f.Load()
	p, _ := Make(input(c))
	m := regexp.MustCompile(`--target-lsn (\S+)`).FindStringSubmatch(failed(p))
	if m == nil {
		t.Fatalf("no --target-lsn hint in %s", failed(p))
	}
	in := input(c)
	in.Target = catalog.Target{LSN: lsn(m[1])}
	if p, err := Make(in); err != nil || !p.OK() {
		t.Errorf("the hint --target-lsn %s is refused: %v\n%s", m[1], err, failed(p))
	}
}

// TestParityWithCloudNativePGsOwnSelection: where the plan picks differently from barman-cloud's
// FindBackupInfo on purpose, it says what CloudNativePG alone would pick and why.
func TestParityWithCloudNativePGsOwnSelection(t *testing.T) {
	f := scenario(t)
	// A FAILED backup with both times set: CloudNativePG counts it, it is the newest.
	f.BackupInfo("20260205T023000", f.Info("20260205T023000", ct.SysA, 2, 12, 12, "FAILED"))
	c := f.Load()
	p, _ := Make(input(c))
	if par := p.CloudNativePG; par == nil || par.Agrees || par.Backup != "20260205T023000" || !strings.Contains(par.Reason, "it is FAILED, and CloudNativePG reads only its begin and end times") {
		t.Errorf("latest: parity %+v", par)
	}
	// An LSN equal to a backup's end: CloudNativePG wants EndLSN < target, so it takes B1.
	b2End := c.Backup(B2).Info.EndLSN
	in := input(c)
	in.Target = catalog.Target{LSN: &b2End}
	p, _ = Make(in)
	if p.Backup.ID != B2 {
		t.Fatalf("plan chose %s for the LSN at B2's end, want B2", p.Backup.ID)
	}
	if par := p.CloudNativePG; par == nil || par.Backup != B1 || !strings.Contains(par.Reason, "strictly below the target") {
		t.Errorf("lsn: parity %+v", par)
	}
	// A time target between B1 and B2: both agree.
	in.Target = catalog.Target{Time: at("02:12:00")}
	if p, _ = Make(in); p.CloudNativePG == nil || !p.CloudNativePG.Agrees {
		t.Errorf("time: parity %+v", p.CloudNativePG)
	}
}

// TestARefusedPlanShowsTheTargetAsReadAndTheWindow: a time in the future, or a refusal before
// any backup is chosen, still says what was asked (in UTC) and what can be recovered.
func TestARefusedPlanShowsTheTargetAsReadAndTheWindow(t *testing.T) {
	in := input(scenario(t).Load())
	future := time.Date(2026, 2, 5, 17, 52, 45, 0, time.FixedZone("CET", 3600))
	in.Target = catalog.Target{Time: &future}
	p, _ := Make(in)
	if p.OK() || p.Requested != "time 2026-02-05T16:52:45Z" {
		t.Errorf("requested %q, ok %v", p.Requested, p.OK())
	}
	if f := failed(p); !strings.Contains(f, "is in the future (now 2026-02-05T03:00:00Z)") || !strings.Contains(f, "is recoverable from") {
		t.Errorf("the future target's refusal lacks the window: %s", f)
	}
}
