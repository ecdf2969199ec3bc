package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
)

func TestHealthyCatalogIsRestorableToTheEndOfTheNewestTimeline(t *testing.T) {
	c := catalogtest.Healthy(t).Load()
	if c.HasErrors() {
		t.Fatalf("findings = %s, want no errors", catalogtest.Checks(c))
	}
	if len(c.Lineages) != 1 || c.Lineages[0].SystemID != catalogtest.SysA {
		t.Fatalf("lineages = %+v, want one of %s", c.Lineages, catalogtest.SysA)
	}
	for _, b := range c.Backups {
		if !b.Usable() {
			t.Errorf("backup %s unusable: %v", b.ID, b.Problems)
		}
		if b.TargetTLI != 2 {
			t.Errorf("backup %s target timeline = %d, want 2", b.ID, b.TargetTLI)
		}
		if want := uint64(13); b.Replay.Reached != want {
			t.Errorf("backup %s replay reaches %d, want %d", b.ID, b.Replay.Reached, want)
		}
	}
	b := c.Backup("20260205T020001")
	want := []Stretch{{TLI: 1, First: 3, Last: 7}, {TLI: 2, First: 8, Last: 12}}
	if got := b.Replay.Stretches; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("stretches = %+v, want %+v", got, want)
	}
	if got := c.ReplayEnd(b); got.LSN != "0/D000000" || got.WAL != "00000002000000000000000C" || got.Timeline != 2 {
		t.Errorf("ReplayEnd = %+v, want 0/D000000 at 00000002000000000000000C on timeline 2", got)
	}
	a := c.Evaluate(Target{})
	if !a.OK || len(a.Blocking) > 0 || a.Backup.ID != "20260205T040001" {
		t.Errorf("Evaluate(latest) = ok %v, %q, backup %v; want the newest backup", a.OK, a.Reason, a.Backup)
	}
	if len(c.Partials) != 1 || catalogtest.Findings(c, SeverityInfo, "partial-segment") == nil {
		t.Errorf("partial segment not reported: %s", catalogtest.Checks(c))
	}
}

func TestDeletedWALSegmentAfterTheNewestBackupIsAnError(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.DeleteWAL(2, 11)
	c := f.Load()
	gaps := catalogtest.Findings(c, SeverityError, "wal-gap")
	if len(gaps) != 1 || !strings.Contains(gaps[0].Message, "00000002000000000000000B to 00000002000000000000000B") {
		t.Fatalf("wal-gap errors = %+v (all: %s)", gaps, catalogtest.Checks(c))
	}
	if a := c.Evaluate(Target{}); len(a.Blocking) == 0 {
		t.Errorf("Evaluate(latest) has no blocking finding despite the gap")
	}
	if got := c.Backup("20260205T040001").Replay.Reached; got != 11 {
		t.Errorf("replay reaches %d, want 11 (stops at the gap)", got)
	}
}

func TestGapBridgedByALaterBackupIsAWarning(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.DeleteWAL(1, 5)
	c := f.Load()
	if len(catalogtest.Findings(c, SeverityWarning, "wal-gap")) != 1 || len(catalogtest.Findings(c, SeverityError, "wal-gap")) != 0 {
		t.Fatalf("findings = %s, want one wal-gap warning", catalogtest.Checks(c))
	}
	if b := c.Backup("20260205T020001"); b.Replay.Reached != 5 {
		t.Errorf("first backup replay reaches %d, want 5", b.Replay.Reached)
	}
	if a := c.Evaluate(Target{}); !a.OK || len(a.Blocking) != 0 {
		t.Errorf("Evaluate(latest) = %q %+v, want ok", a.Reason, a.Blocking)
	}
	tt := time.Date(2026, 2, 5, 2, 7, 0, 0, time.UTC) // after backup 1 ends, inside the gap
	if a := c.Evaluate(Target{BackupID: "20260205T020001", Time: &tt}); a.OK {
		t.Errorf("Evaluate(time inside the gap from backup 1) = ok, want refused")
	}
}

func TestGapBeforeEveryBackupIsOnlyInformation(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.DeleteWAL(1, 2)
	c := f.Load()
	if len(catalogtest.Findings(c, SeverityInfo, "wal-gap")) != 1 || c.HasErrors() {
		t.Fatalf("findings = %s, want one informational wal-gap", catalogtest.Checks(c))
	}
}

func TestMissingHistoryFileIsAnError(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.Store.Delete("pg/wals/00000002.history")
	c := f.Load()
	if len(catalogtest.Findings(c, SeverityError, "missing-history")) != 1 {
		t.Fatalf("findings = %s, want missing-history", catalogtest.Checks(c))
	}
	// With the timeline-2 backup gone too, nothing recovers through timeline 2's WAL.
	f.Store.Delete("pg/base/20260205T040001/backup.info")
	f.Store.Delete("pg/base/20260205T040001/data.tar")
	c = f.Load()
	if tw := catalogtest.Findings(c, SeverityWarning, "timeline-without-backup"); len(tw) != 1 || tw[0].Timeline != 2 {
		t.Errorf("findings = %s, want timeline 2 reported as reached by no backup", catalogtest.Checks(c))
	}
	// Without the history, recovery from timeline 1 cannot follow timeline 2.
	if b := c.Backup("20260205T020001"); b.TargetTLI != 1 || b.Replay.Reached != 8 {
		t.Errorf("backup on timeline 1: target %d reached %d, want 1 and 8", b.TargetTLI, b.Replay.Reached)
	}
	if a := c.Evaluate(Target{}); len(a.Blocking) == 0 {
		t.Errorf("Evaluate(latest) not blocked by the missing history")
	}
}

func TestFailedBackupIsUnusableButTheCatalogStillRestores(t *testing.T) {
	f := catalogtest.Healthy(t)
	info := f.Info("20260205T050001", catalogtest.SysA, 2, 12, 12, "FAILED")
	info = strings.Replace(info, "error=None", "error=failure uploading data (connection reset)", 1)
	f.BackupInfo("20260205T050001", info)
	c := f.Load()
	b := c.Backup("20260205T050001")
	if b.Usable() || !strings.Contains(strings.Join(b.Problems, ""), "status is FAILED") || !strings.Contains(strings.Join(b.Problems, ""), "connection reset") {
		t.Fatalf("FAILED backup: usable %v, problems %v", b.Usable(), b.Problems)
	}
	if a := c.Evaluate(Target{}); !a.OK || a.Backup.ID != "20260205T040001" {
		t.Errorf("Evaluate(latest) = %q, backup %v; want the newest DONE backup", a.Reason, a.Backup)
	}
	if a := c.Evaluate(Target{BackupID: "20260205T050001"}); a.OK || !strings.Contains(a.Reason, "FAILED") {
		t.Errorf("Evaluate(the FAILED backup) = ok %v %q, want refused naming FAILED", a.OK, a.Reason)
	}
}

func TestTruncatedBackupInfoNamesTheLine(t *testing.T) {
	f := catalogtest.Healthy(t)
	info := f.Info("20260205T050001", catalogtest.SysA, 2, 12, 12, "DONE")
	info = info[:strings.Index(info, "status=")+4] // cut inside "status=DONE"
	f.BackupInfo("20260205T050001", info)
	c := f.Load()
	b := c.Backup("20260205T050001")
	if b.Usable() || b.Status() != "INVALID" {
		t.Fatalf("truncated backup: usable %v status %s", b.Usable(), b.Status())
	}
	if p := strings.Join(b.Problems, ""); !strings.Contains(p, "s3://bucket/prefix/pg/base/20260205T050001/backup.info:16") || !strings.Contains(p, "truncated") {
		t.Errorf("problem = %q, want the key and line 16 and a hint", p)
	}
}

func TestSecondSystemUnderTheSamePathIsRefusedUntilChosen(t *testing.T) {
	f := catalogtest.Healthy(t)
	// A cluster rebuilt with initdb archiving into the same path, on a fresh timeline 3 to keep
	// the names apart (TestOverwrittenWAL covers the collision).
	f.History(3, "1\t0/80000A0\tno recovery target specified\n2\t0/D000000\tno recovery target specified\n")
	f.WAL(catalogtest.SysB, 3, 13, 15)
	f.Backup("20260210T090949", catalogtest.SysB, 3, 14, 14)
	c := f.Load()
	if len(catalogtest.Findings(c, SeverityError, "mixed-system-ids")) != 1 {
		t.Fatalf("findings = %s, want mixed-system-ids", catalogtest.Checks(c))
	}
	if a := c.Evaluate(Target{}); a.OK || !strings.Contains(a.Reason, "--system-id") {
		t.Errorf("Evaluate(latest) = ok %v %q, want a refusal asking for --system-id", a.OK, a.Reason)
	}
	a := c.Evaluate(Target{SystemID: catalogtest.SysA})
	if !a.OK || a.Backup.ID != "20260205T040001" || len(a.Blocking) != 0 {
		t.Errorf("Evaluate(system A) = ok %v %q backup %v blocking %v", a.OK, a.Reason, a.Backup, a.Blocking)
	}
}

func TestOverwrittenWALIsFoundByItsHeader(t *testing.T) {
	f := catalogtest.Healthy(t)
	// The rebuilt cluster starts at timeline 1 again and overwrites segments 1..3.
	f.WAL(catalogtest.SysB, 1, 1, 3)
	f.Backup("20260210T090949", catalogtest.SysB, 1, 2, 2)
	c := f.Load()
	b1 := c.Backup("20260205T020001")
	if b1.Usable() || !b1.Overwritten {
		t.Fatalf("backup whose begin_wal was overwritten: usable %v problems %v", b1.Usable(), b1.Problems)
	}
	if len(catalogtest.Findings(c, SeverityError, "wal-overwritten")) != 1 {
		t.Errorf("findings = %s, want wal-overwritten", catalogtest.Checks(c))
	}
	// The rebuilt system's replay must stop where system A's WAL begins (segment 4).
	b := c.Backup("20260210T090949")
	if !b.Usable() || b.Replay.Reached != 4 || b.ForeignWAL != "000000010000000000000004" {
		t.Errorf("rebuilt backup: usable %v reached %d foreign %q; want stop at segment 4", b.Usable(), b.Replay.Reached, b.ForeignWAL)
	}
	if fw := catalogtest.Findings(c, SeverityWarning, "foreign-wal"); len(fw) != 1 || !strings.Contains(fw[0].Message, "which database system "+catalogtest.SysA+" wrote") {
		t.Errorf("foreign-wal findings = %+v", fw)
	}
	// Choosing system A still works from its intact backups.
	if a := c.Evaluate(Target{SystemID: catalogtest.SysA}); !a.OK || len(a.Blocking) != 0 {
		t.Errorf("Evaluate(system A) = %q %+v", a.Reason, a.Blocking)
	}
}

func TestBackupOnANewerTimeline(t *testing.T) {
	f := catalogtest.NewFixture(t)
	f.History(2, "1\t0/5000000\tno recovery target specified\n")
	f.History(3, "1\t0/5000000\tno recovery target specified\n2\t0/9000000\tno recovery target specified\n")
	f.WAL(catalogtest.SysA, 1, 2, 4)
	f.WAL(catalogtest.SysA, 2, 5, 8)
	f.WAL(catalogtest.SysA, 3, 9, 11)
	f.Backup("20260205T020001", catalogtest.SysA, 1, 2, 2)
	f.Backup("20260205T030001", catalogtest.SysA, 3, 10, 10)
	c := f.Load()
	if c.HasErrors() {
		t.Fatalf("findings = %s", catalogtest.Checks(c))
	}
	newer := c.Backup("20260205T030001")
	if !newer.Usable() || newer.TargetTLI != 3 || newer.Replay.Reached != 12 {
		t.Errorf("backup on timeline 3: usable %v target %d reached %d", newer.Usable(), newer.TargetTLI, newer.Replay.Reached)
	}
	if old := c.Backup("20260205T020001"); old.Replay.Reached != 12 || len(old.Replay.Stretches) != 3 {
		t.Errorf("backup on timeline 1 replays %+v, want 3 stretches to 12", old.Replay.Stretches)
	}
	if got := c.Lineages[0].Timelines; len(got) != 3 {
		t.Errorf("lineage timelines = %v, want [1 2 3]", got)
	}
}

func TestTimelineThatForksBeforeTheBackupEnds(t *testing.T) {
	f := catalogtest.NewFixture(t)
	f.WAL(catalogtest.SysA, 1, 2, 6)
	f.Backup("20260205T020001", catalogtest.SysA, 1, 5, 6)
	f.History(2, "1\t0/3000000\tno recovery target specified\n")
	f.WAL(catalogtest.SysA, 2, 3, 4)
	c := f.Load()
	b := c.Backup("20260205T020001")
	if b.Usable() || !strings.Contains(strings.Join(b.Problems, ""), "forks") {
		t.Fatalf("backup after the fork point: usable %v problems %v", b.Usable(), b.Problems)
	}
}

func TestNonDefaultSegmentSize(t *testing.T) {
	f := catalogtest.NewFixture(t)
	f.Size = 64 << 20                  // 64 segments a log
	f.WAL(catalogtest.SysA, 1, 60, 70) // crosses from 000000010000000000000003F to 0000000100000001 00000000
	f.Backup("20260205T020001", catalogtest.SysA, 1, 62, 62)
	c := f.Load()
	if c.HasErrors() || c.WAL.SegmentSize() != 64<<20 {
		t.Fatalf("findings = %s, size %s", catalogtest.Checks(c), c.WAL.SegmentSize())
	}
	if got := c.ReplayEnd(c.Backups[0]); got.WAL != "000000010000000100000006" || got.LSN != "1/1C000000" {
		t.Errorf("ReplayEnd = %+v, want 000000010000000100000006 ending at 1/1C000000", got)
	}
	if runs := c.WAL.Runs(1); len(runs) != 1 {
		t.Errorf("runs = %+v, want one run across the log boundary", runs)
	}
}

func TestListingFailurePartWayIsAnError(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.Store.PageLen = 2
	f.Store.FailList = "pg/wals/0000000100000000/"
	_, err := Load(context.Background(), f.Store, Options{ServerName: "pg", Location: "s3://bucket/prefix"})
	if err == nil || !strings.Contains(err.Error(), "s3://bucket/prefix/pg/wals/0000000100000000/") || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Load with a failing page = %v, want an error naming the directory", err)
	}
}

func TestWrongServerNameSuggestsTheOnesThatExist(t *testing.T) {
	f := catalogtest.Healthy(t)
	_, err := Load(context.Background(), f.Store, Options{ServerName: "authentik", Location: "s3://bucket/prefix"})
	if err == nil || !strings.Contains(err.Error(), `server names found there: pg`) {
		t.Fatalf("Load(wrong server) = %v", err)
	}
	_, err = Load(context.Background(), catalogtest.NewMemStore(), Options{ServerName: "pg", Location: "s3://bucket/prefix"})
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("Load(empty) = %v", err)
	}
}

func TestBackupDirectoryWithoutBackupInfo(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.Store.Put("pg/base/20260205T050001/data.tar", []byte("x"), f.Tick())
	c := f.Load()
	if b := c.Backup("20260205T050001"); b == nil || b.Usable() || b.Status() != "MISSING" {
		t.Fatalf("backup without backup.info = %+v", b)
	}
}

func TestStrayObjectsAreReportedNotTrusted(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.Store.Put("pg/wals/0000000100000000/notes.txt", []byte("x"), f.Tick())
	f.Store.Put("pg/wals/README", []byte("x"), f.Tick())
	f.Store.Put("pg/wals/0000000100000000/000000020000000000000009", []byte("x"), f.Tick()) // wrong directory
	c := f.Load()
	if got := len(catalogtest.Findings(c, SeverityWarning, "stray-object")); got != 3 {
		t.Fatalf("stray-object findings = %d, want 3 (%s)", got, catalogtest.Checks(c))
	}
}

func TestEvaluateTargets(t *testing.T) {
	c := catalogtest.Healthy(t).Load()
	b2 := c.Backup("20260205T030001")
	tooEarly := c.Backups[0].Info.BeginTime.Add(-time.Hour)
	justAfterB2 := b2.Info.EndTime.Add(time.Second)
	tooLate := c.Backup("20260205T040001").Replay.LastModified.Add(time.Hour)
	lsn := b2.Info.EndLSN + 1
	beyond := LSN(0xD000000)
	cases := []struct {
		name   string
		req    Target
		ok     bool
		backup string
		reason string
	}{
		{"latest", Target{}, true, "20260205T040001", ""},
		{"time after backup 2", Target{Time: &justAfterB2}, true, "20260205T030001", ""},
		{"time before every backup", Target{Time: &tooEarly}, false, "", "before the end of the oldest restorable backup"},
		{"time after the last WAL", Target{Time: &tooLate}, false, "", "after the last archived WAL"},
		{"lsn after backup 2", Target{LSN: &lsn}, true, "20260205T030001", ""},
		{"lsn beyond the archive", Target{LSN: &beyond}, false, "", "beyond the archived WAL"},
		{"unknown backup", Target{BackupID: "20990101T000000"}, false, "", "not in"},
		{"unknown system", Target{SystemID: catalogtest.SysB}, false, "", "no backup of system"},
		{"xid", Target{XID: "42"}, true, "20260205T040001", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := c.Evaluate(tc.req)
			if a.OK != tc.ok {
				t.Fatalf("ok = %v (%q), want %v", a.OK, a.Reason, tc.ok)
			}
			if tc.ok && a.Backup.ID != tc.backup {
				t.Errorf("backup = %s, want %s", a.Backup.ID, tc.backup)
			}
			if !strings.Contains(a.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", a.Reason, tc.reason)
			}
		})
	}
}

func TestLoadHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Load(ctx, catalogtest.Healthy(t).Store, Options{ServerName: "pg"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Load(cancelled) = %v, want context.Canceled", err)
	}
}

func TestSegmentsOutsideATimelinesSpanAreNotReplayed(t *testing.T) {
	f := catalogtest.NewFixture(t)
	f.WAL(catalogtest.SysA, 1, 1, 10) // the old primary kept archiving on timeline 1 after the promotion
	f.History(2, "1\t0/80000A0\tno recovery target specified\n")
	f.WAL(catalogtest.SysA, 2, 6, 6) // a stray copy before timeline 2 began
	f.WAL(catalogtest.SysA, 2, 8, 12)
	f.DeleteWAL(2, 9)
	f.Backup("20260205T020001", catalogtest.SysA, 1, 3, 3)
	c := f.Load()
	b := c.Backup("20260205T020001")
	want := []Stretch{{TLI: 1, First: 3, Last: 7}, {TLI: 2, First: 8, Last: 8}}
	got := b.Replay.Stretches
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || b.Replay.Reached != 9 {
		t.Fatalf("stretches = %+v reached %d, want %+v reaching 9 (timeline 1's segment 9 is another history)", got, b.Replay.Reached, want)
	}
}

// countingStore counts Gets per key.
type countingStore struct {
	*catalogtest.MemStore
	mu   sync.Mutex
	gets map[string]int
}

func (s *countingStore) Get(ctx context.Context, key string, n int64) ([]byte, error) {
	s.mu.Lock()
	if n >= int64(DefaultSegmentSize) {
		key += " (whole)" // the tail's records, read apart from the header peeks
	}
	s.gets[key]++
	s.mu.Unlock()
	return s.MemStore.Get(ctx, key, n)
}

// TestEachWALHeaderIsReadOnce: each segment's header is peeked at once, and each segment whose
// records tell the end of a replay is read whole once, however many backups need them.
func TestEachWALHeaderIsReadOnce(t *testing.T) {
	f := catalogtest.Healthy(t)
	for i := 0; i < 20; i++ { // many backups whose replays end on the same segment
		f.Backup(fmt.Sprintf("20260206T%06d", i), catalogtest.SysA, 2, 11, 11)
	}
	cs := &countingStore{MemStore: f.Store, gets: map[string]int{}}
	if _, err := Load(context.Background(), cs, Options{ServerName: "pg", Location: "s3://b/p"}); err != nil {
		t.Fatal(err)
	}
	for key, n := range cs.gets {
		if n > 1 {
			t.Errorf("%s read %d times", key, n)
		}
	}
}

func TestHostileObjectKeysAreNeverTrusted(t *testing.T) {
	f := catalogtest.Healthy(t)
	info := f.Info("20260205T050001", catalogtest.SysA, 2, 12, 12, "DONE")
	f.BackupInfo("latest", info)                                                                      // not a backup ID
	f.Store.Put("pg/base/../../etc/backup.info", []byte(info), f.Tick())                              // climbs out
	f.Store.Put("pg/wals/0000000100000000/000000010000000000000009 (copy).gz", []byte("x"), f.Tick()) // a copy's name
	f.Store.Put("pg/wals/0000000100000000/../00000001000000000000000A", []byte("x"), f.Tick())        // climbs out
	f.Store.Put("pg/wals/0000000100000000/\x00\xff", []byte("x"), f.Tick())                           // binary name
	f.Store.Put("pg/wals/0000000100000000/00000001000000000000000g", []byte("x"), f.Tick())           // not hex
	f.Store.Put("pg/base/20260205T060001/data.tar", []byte("tar"), f.Tick())                          // an upload cut short
	c := f.Load()
	problems := map[string]string{}
	for _, b := range c.Backups {
		if !b.Usable() {
			problems[b.ID] = strings.Join(b.Problems, "; ")
		}
	}
	if !strings.Contains(problems["latest"], `"latest" is not a barman backup ID`) || !strings.Contains(problems[".."], `".." is not a barman backup ID`) ||
		!strings.Contains(problems["20260205T060001"], "no backup.info") {
		t.Errorf("unusable backups: %v (all: %v)", problems, ids(c))
	}
	if got := len(catalogtest.Findings(c, SeverityWarning, "stray-object")); got < 4 {
		t.Errorf("stray-object findings = %d, want the 4 odd WAL names (%s)", got, catalogtest.Checks(c))
	}
	// The real backups and WAL are still read, and the odd objects are not replayed.
	if a := c.Evaluate(Target{}); !a.OK {
		t.Errorf("the catalog no longer restores: %s", a.Reason)
	}
	if b := c.Backup("20260205T020001"); b == nil || !b.Usable() {
		t.Errorf("a real backup became unusable")
	}
}

func ids(c *Catalog) []string {
	var out []string
	for _, b := range c.Backups {
		out = append(out, b.ID)
	}
	return out
}

// TestCompressionChangingPartWayIsOneRun: barman-cloud-wal-archive's compression is a flag, so
// a cluster whose configuration changed archives .gz, then .zst, then plain segments: that is
// one continuous run of WAL, not three separated by "gaps of 0 segments", and every segment is
// read under its own suffix.
func TestCompressionChangingPartWayIsOneRun(t *testing.T) {
	f := catalogtest.NewFixture(t)
	f.WALCompressed(catalogtest.SysA, 1, 1, 3, "gz")
	f.Backup("20260205T020001", catalogtest.SysA, 1, 2, 2)
	f.WALCompressed(catalogtest.SysA, 1, 4, 5, "zst")
	f.WALCompressed(catalogtest.SysA, 1, 6, 7, "")
	f.WALCompressed(catalogtest.SysA, 1, 8, 9, "xz")
	c := f.Load()
	if runs := c.WAL.Runs(1); len(runs) != 1 || runs[0].First != 1 || runs[0].Last != 9 {
		t.Fatalf("runs = %+v, want one run of segments 1 to 9", runs)
	}
	if gaps := catalogtest.Findings(c, SeverityError, "wal-gap"); len(gaps) > 0 || len(c.Gaps) > 0 {
		t.Errorf("gaps %+v, findings %s; want none", c.Gaps, catalogtest.Checks(c))
	}
	for no, want := range map[uint64]string{1: ".gz", 4: ".zst", 6: "", 9: ".xz"} {
		name := c.WAL.SegmentSize().Name(1, no)
		if key, ok := c.WAL.Key(1, no); !ok || key != "wals/"+name[:16]+"/"+name+want {
			t.Errorf("Key(1, %d) = %q, %v; want the %q object", no, key, ok, want)
		}
	}
	if c.HasErrors() {
		t.Errorf("findings = %s, want no errors", catalogtest.Checks(c))
	}
	if b := c.Backup("20260205T020001"); !b.Usable() || b.Replay.Reached != 10 {
		t.Errorf("backup usable %v (%v), replay reaches %d; want usable to segment 10", b.Usable(), b.Problems, b.Replay.Reached)
	}
	if r := c.Report(); r.WAL.Segments != 9 || len(r.WAL.Gaps) != 0 {
		t.Errorf("report WAL = %+v, want 9 segments and no gap", r.WAL)
	}
}

// TestRebuiltClusterIsPinnedToItsOwnTimeline: system A promoted to timeline 2 at segment 5 and
// archived a little of it; system B, rebuilt with initdb into the same path, archives timeline 1
// far past that point. With recovery_target_timeline = latest, PostgreSQL would find A's
// 00000002.history, switch at A's switch point into A's WAL, refuse it and promote there, losing
// B's own WAL after segment 4. The catalog pins B's backup to timeline 1 instead.
func TestRebuiltClusterIsPinnedToItsOwnTimeline(t *testing.T) {
	f := catalogtest.NewFixture(t)
	f.WAL(catalogtest.SysA, 1, 1, 4)
	f.History(2, "1\t0/5000000\tno recovery target specified\n")
	f.WAL(catalogtest.SysA, 2, 5, 7)
	f.WAL(catalogtest.SysB, 1, 1, 2) // B overwrites A's first segments
	f.Backup("20260210T090000", catalogtest.SysB, 1, 2, 2)
	f.WAL(catalogtest.SysB, 1, 3, 12)
	c := f.Load()
	b := c.Backup("20260210T090000")
	if !b.Usable() {
		t.Fatalf("backup unusable: %v", b.Problems)
	}
	if !b.PinTLI || b.TargetTLI != 1 || b.Replay.Reached != 13 {
		t.Errorf("pin %v, target timeline %d, replay reaches %d; want pinned to timeline 1 up to segment 13", b.PinTLI, b.TargetTLI, b.Replay.Reached)
	}
	if b.LatestTLI != 2 || b.Latest.Reached != 5 {
		t.Errorf("latest: timeline %d reaching %d; want timeline 2 stopping at segment 5", b.LatestTLI, b.Latest.Reached)
	}
	if len(catalogtest.Findings(c, SeverityWarning, "latest-timeline-foreign")) != 1 {
		t.Errorf("findings = %s, want latest-timeline-foreign", catalogtest.Checks(c))
	}
	if !strings.Contains(b.PinReason, "000000020000000000000005") || !strings.Contains(b.PinReason, catalogtest.SysA) || !strings.Contains(b.PinReason, "8 more segments") {
		t.Errorf("pin reason %q should name A's WAL and the segments saved", b.PinReason)
	}
}

// TestHistoryWithoutWALIsFollowedAndTheAbandonedSegmentsCounted: a timeline 2 history file with
// no timeline 2 WAL: PostgreSQL switches to timeline 2 at segment 5 and stops; the catalog
// follows it the same way and counts timeline 1's segments after the switch.
func TestHistoryWithoutWALIsFollowedAndTheAbandonedSegmentsCounted(t *testing.T) {
	f := catalogtest.NewFixture(t)
	f.WAL(catalogtest.SysA, 1, 1, 3)
	f.Backup("20260205T020001", catalogtest.SysA, 1, 2, 2)
	f.WAL(catalogtest.SysA, 1, 4, 9)
	f.History(2, "1\t0/5000000\tno recovery target specified\n")
	c := f.Load()
	b := c.Backup("20260205T020001")
	if b.PinTLI || b.TargetTLI != 2 || b.Replay.Reached != 6 {
		t.Errorf("pin %v, timeline %d, reaches %d; want timeline 2 as PostgreSQL, stopping after segment 5", b.PinTLI, b.TargetTLI, b.Replay.Reached)
	}
	if len(catalogtest.Findings(c, SeverityWarning, "history-without-wal")) != 1 {
		t.Errorf("findings = %s, want history-without-wal", catalogtest.Checks(c))
	}
	if b.Abandoned != 4 || b.AbandonedTLI != 1 {
		t.Errorf("abandoned %d segments of timeline %d, want 4 of timeline 1 (6 to 9)", b.Abandoned, b.AbandonedTLI)
	}
	if !strings.Contains(strings.Join(b.Warnings, "\n"), "4 segments of timeline 1 after the switch are not replayed") {
		t.Errorf("warnings %q do not count the abandoned segments", b.Warnings)
	}
}

// TestStrayObjectsAreCountedNotStored: a bucket with many objects that are not barman's costs
// a count, not a string each: the first MaxStrayKept are named, the rest summed up.
func TestStrayObjectsAreCountedNotStored(t *testing.T) {
	f := catalogtest.Healthy(t)
	for i := range 5000 {
		f.Store.Put(fmt.Sprintf("pg/wals/junk-%05d.txt", i), []byte("x"), f.Clock)
	}
	c := f.Load()
	if c.StrayCount != 5000 || len(c.Stray) != MaxStrayKept {
		t.Fatalf("StrayCount %d, kept %d; want 5000 counted and %d kept", c.StrayCount, len(c.Stray), MaxStrayKept)
	}
	var summary []Finding
	for _, fd := range catalogtest.Findings(c, SeverityWarning, "stray-object") {
		if strings.Contains(fd.Message, "more objects") {
			summary = append(summary, fd)
		}
	}
	if len(summary) != 1 || !strings.Contains(summary[0].Message, "4900 more objects") {
		t.Errorf("summary findings %+v", summary)
	}
}

// TestLocationHintsFindTheCatalog: a wrong --catalog gets the command that reads the real
// catalog — the runbook's nested layout (destinationPath already ending in the server name),
// a --catalog at a server's own directory, and a root holding the server one prefix down.
func TestLocationHintsFindTheCatalog(t *testing.T) {
	moved := func(prefix string) *catalogtest.MemStore {
		f := catalogtest.Healthy(t)
		m := catalogtest.NewMemStore()
		for k, v := range f.Store.Objects {
			m.Put(prefix+strings.TrimPrefix(k, "pg/"), v, f.Store.MTimes[k])
		}
		return m
	}
	cases := []struct {
		name     string
		store    *catalogtest.MemStore
		location string
		want     string
	}{
		{"nested", moved("pg/pg/"), "s3://bucket/auth",
			"there is one a level deeper, at s3://bucket/auth/pg/pg: the destinationPath already ends in the server name; pass --catalog s3://bucket/auth/pg --server-name pg"},
		{"server directory", moved(""), "s3://bucket/auth/pg",
			"--catalog s3://bucket/auth/pg is itself a server's directory (it holds base/ or wals/); pass its parent: --catalog s3://bucket/auth --server-name pg"},
		{"bucket root", moved("auth/pg/"), "s3://bucket",
			"but s3://bucket/auth/pg is one: pass --catalog s3://bucket/auth"},
		{"prefixes only", moved("auth/elsewhere/"), "s3://bucket",
			"s3://bucket holds auth, none of them a server's directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), tc.store, Options{ServerName: "pg", Location: tc.location})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v\nwant %q", err, tc.want)
			}
		})
	}
}
