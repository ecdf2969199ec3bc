package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/xeipuuv/gojsonschema"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

func examine(t *testing.T, repo string, opts Options) *Report {
	t.Helper()
	r, err := overlays.ScanDir(filepath.Join("testdata", "repos", repo))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Examine(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// The runbook's incident, in a repository: every cause it names is a finding on its line.
func TestIncidentRepoFindsEveryCause(t *testing.T) {
	rep := examine(t, "incident", Options{})
	got := map[string][]Finding{}
	for _, f := range rep.Findings {
		got[f.Rule] = append(got[f.Rule], f)
		if f.File == "" || f.Line == 0 || f.Why == "" || f.Fix == "" {
			t.Errorf("finding without a place, a reason or a fix: %+v", f)
		}
	}
	for rule, where := range map[string]string{
		"archive-names-an-instance":             "auth/objectstore.yaml",
		"scheduled-backup-wrong-method":         "auth/scheduledbackup.yaml",
		"scheduled-backup-suspended":            "auth/scheduledbackup.yaml",
		"scheduled-backup-five-field-schedule":  "auth/scheduledbackup.yaml",
		"scheduled-backup-other-cluster":        "auth/scheduledbackup.yaml",
		"scheduled-backup-missing-object-store": "",
		"shared-archive":                        "auth/legacy.yaml",
		"skip-empty-wal-archive-check":          "auth/cluster.yaml",
		"recovery-on-live-cluster":              "auth/cluster.yaml",
		"no-retention-policy":                   "auth/objectstore.yaml",
		"no-archive-alert":                      "auth/cluster.yaml",
		"in-tree-object-store":                  "auth/legacy.yaml",
		"no-scheduled-backup":                   "auth/legacy.yaml",
	} {
		fs := got[rule]
		if where == "" {
			// the weekly backup names a cluster that is gone: its store is not checked
			if len(fs) != 0 {
				t.Errorf("%s: %+v, want none (the backup's cluster is not deployed)", rule, fs)
			}
			continue
		}
		found := false
		for _, f := range fs {
			found = found || f.File == where
		}
		if !found {
			t.Errorf("no %s finding in %s: %+v", rule, where, fs)
		}
	}
	if rep.Worst() != Error {
		t.Errorf("worst = %q, want error", rep.Worst())
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "doctor", ".json", append(b, '\n'))
}

func TestCleanRepoHasNoFinding(t *testing.T) {
	rep := examine(t, "clean", Options{})
	if len(rep.Findings) != 0 || strings.Join(rep.Clusters, ",") != "db/app-db" {
		t.Errorf("clean repo: clusters %v, findings %+v", rep.Clusters, rep.Findings)
	}
}

func TestOneClusterOnly(t *testing.T) {
	rep := examine(t, "incident", Options{Namespace: "auth", Name: "authentik-postgresql-rebuilt"})
	for _, f := range rep.Findings {
		if f.Object != "Cluster auth/authentik-postgresql-rebuilt" {
			t.Errorf("finding about another cluster: %+v", f)
		}
	}
	r, _ := overlays.ScanDir(filepath.Join("testdata", "repos", "clean"))
	if _, err := Examine(r, Options{Namespace: "db", Name: "nope"}); err == nil || !strings.Contains(err.Error(), "db/nope") {
		t.Errorf("Examine(db/nope) error = %v, want one naming it", err)
	}
}

func TestSARIFPlacesEachFindingOnItsLine(t *testing.T) {
	rep := examine(t, "incident", Options{})
	b, err := rep.SARIF("v0.0.0-test")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "doctor", ".sarif", b)
	var log struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != len(rep.Findings) {
		t.Fatalf("SARIF version %q, %d runs: want 2.1.0, one run with a result per finding", log.Version, len(log.Runs))
	}
	rules := log.Runs[0].Tool.Driver.Rules
	for i, res := range log.Runs[0].Results {
		f := rep.Findings[i]
		loc := res.Locations[0].PhysicalLocation
		if rules[res.RuleIndex].ID != res.RuleID || res.RuleID != f.Rule || loc.ArtifactLocation.URI != f.File || loc.Region.StartLine != f.Line {
			t.Errorf("result %d = %+v, want rule %s at %s:%d", i, res, f.Rule, f.File, f.Line)
		}
	}
}

// A plugin ScheduledBackup for a cluster that archives through the in-tree store names no
// ObjectStore: every backup fails.
func TestPluginBackupWithoutObjectStore(t *testing.T) {
	fsys := fstest.MapFS{
		"kustomization.yaml": {Data: []byte("namespace: db\nresources: [cluster.yaml]\n")},
		"cluster.yaml": {Data: []byte(`apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: pg}
spec:
  instances: 1
  storage: {size: 1Gi}
  backup:
    retentionPolicy: 7d
    barmanObjectStore: {destinationPath: "s3://b/db"}
---
apiVersion: postgresql.cnpg.io/v1
kind: ScheduledBackup
metadata: {name: pg-daily}
spec:
  schedule: "0 0 2 * * *"
  method: plugin
  pluginConfiguration: {name: barman-cloud.cloudnative-pg.io}
  cluster: {name: pg}
`)},
	}
	r, err := overlays.Scan(fsys, "repo")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Examine(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, f := range rep.Findings {
		rules = append(rules, f.Rule)
	}
	if got := strings.Join(rules, ","); got != "scheduled-backup-no-object-store,no-archive-alert,in-tree-object-store" {
		t.Errorf("findings = %s", got)
	}
}

// With the catalog: ages against Now, and the catalog's own findings, on the cluster.
func TestCatalogAgesAndSystems(t *testing.T) {
	r, err := overlays.ScanDir(filepath.Join("testdata", "repos", "clean"))
	if err != nil {
		t.Fatal(err)
	}
	f := catalogtest.Healthy(t)
	cat := f.Load()
	newest := cat.Backups[len(cat.Backups)-1].Info.EndTime
	rules := func(opts Options) string {
		t.Helper()
		opts.Catalog = func(src *overlays.Source) (*catalog.Catalog, error) {
			if src.Catalog != "s3://pg-backups/db" || src.ServerName != "app-db" {
				t.Errorf("catalog asked for %s/%s", src.Catalog, src.ServerName)
			}
			return cat, nil
		}
		rep, err := Examine(r, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range rep.Findings {
			out = append(out, f.Rule)
		}
		return strings.Join(out, ",")
	}
	if got := rules(Options{Now: newest.Add(time.Hour)}); got != "" {
		t.Errorf("an hour after the newest backup: %s, want no finding", got)
	}
	if got := rules(Options{Now: newest.Add(72 * time.Hour)}); got != "stale-backup,stale-wal" {
		t.Errorf("three days later: %s, want stale-backup,stale-wal", got)
	}
	if got := rules(Options{Now: newest.Add(72 * time.Hour), BackupMaxAge: 96 * time.Hour, WALMaxAge: 96 * time.Hour}); got != "" {
		t.Errorf("three days later with four-day limits: %s, want none", got)
	}
	broken := func(*overlays.Source) (*catalog.Catalog, error) { return nil, errors.New("403 Forbidden") }
	rep, err := Examine(r, Options{Catalog: broken})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Rule != "catalog-unreadable" || !strings.Contains(rep.Findings[0].Message, "s3://pg-backups/db/app-db: 403 Forbidden") {
		t.Errorf("an unreadable catalog: %+v", rep.Findings)
	}
}

// TestBackupAgeFollowsTheSchedule: without --backup-max-age, the newest backup is stale once
// the ScheduledBackup's next run after it (02:00 daily, read as CloudNativePG reads it), plus
// the grace, has passed with no newer backup; an explicit age overrides the schedule.
func TestBackupAgeFollowsTheSchedule(t *testing.T) {
	r, err := overlays.ScanDir(filepath.Join("testdata", "repos", "clean"))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalogtest.Healthy(t).Load()
	newest := cat.Backups[len(cat.Backups)-1].Info
	sched, err := scheduleParser.Parse("0 0 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	due := sched.Next(newest.BeginTime.UTC())
	grace := max(time.Hour, 2*newest.EndTime.Sub(newest.BeginTime))
	find := func(opts Options) []Finding {
		t.Helper()
		opts.Catalog = func(*overlays.Source) (*catalog.Catalog, error) { return cat, nil }
		opts.WALMaxAge = 1000 * time.Hour
		rep, err := Examine(r, opts)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Findings
	}
	if got := find(Options{Now: due.Add(grace - time.Minute)}); len(got) != 0 {
		t.Errorf("before the next run's grace ends: %+v, want nothing", got)
	}
	got := find(Options{Now: due.Add(grace + time.Minute)})
	if len(got) != 1 || got[0].Rule != "stale-backup" || !strings.Contains(got[0].Message, `ScheduledBackup app-db-daily ("0 0 2 * * *") should have made another by `+due.Add(grace).UTC().Format(time.RFC3339)) {
		t.Errorf("after the missed run: %+v", got)
	}
	if got := find(Options{Now: due.Add(grace + time.Minute), BackupMaxAge: 30 * 24 * time.Hour}); len(got) != 0 {
		t.Errorf("an explicit 30-day limit: %+v, want nothing", got)
	}
	// Five fields are read seconds first: "0 3 * * *" runs at minute 3 of every hour.
	five, err := scheduleParser.Parse("0 3 * * *")
	if err != nil || !five.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Equal(time.Date(2026, 1, 1, 0, 3, 0, 0, time.UTC)) {
		t.Errorf("five fields: %v, %v", five, err)
	}
}

// TestNotRestorableSaysWhichCheckFails: a catalog whose latest point plan refuses — a second
// database system in the path — is a not-restorable finding naming the failed check; the
// healthy catalog is none.
func TestNotRestorableSaysWhichCheckFails(t *testing.T) {
	r, err := overlays.ScanDir(filepath.Join("testdata", "repos", "clean"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(cat *catalog.Catalog) []Finding {
		t.Helper()
		newest := cat.Backups[len(cat.Backups)-1].Info.EndTime
		rep, err := Examine(r, Options{Now: newest.Add(time.Minute), BackupMaxAge: 1000 * time.Hour, WALMaxAge: 1000 * time.Hour,
			Catalog: func(*overlays.Source) (*catalog.Catalog, error) { return cat, nil }})
		if err != nil {
			t.Fatal(err)
		}
		var out []Finding
		for _, f := range rep.Findings {
			if f.Rule == "not-restorable" {
				out = append(out, f)
			}
		}
		return out
	}
	if got := run(catalogtest.Healthy(t).Load()); len(got) != 0 {
		t.Errorf("healthy catalog: %+v", got)
	}
	f := catalogtest.Healthy(t)
	f.Backup("20260205T050001", catalogtest.SysB, 1, 20, 20) // a rebuilt cluster's first backup
	got := run(f.Load())
	if len(got) != 1 || !strings.Contains(got[0].Message, "single-lineage") {
		t.Fatalf("two systems: %+v, want not-restorable naming single-lineage", got)
	}
	t.Logf("two systems: %s", got[0].Message)
}

// sarifSchema is the SARIF 2.1.0 JSON schema (OASIS's errata01), as the go-sarif module
// carries it: read from the module's source in the module cache, so the schema is not copied
// into this repository.
func sarifSchema(t *testing.T) string {
	t.Helper()
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/owenrumney/go-sarif/v3").Output()
	if err != nil {
		t.Fatalf("go list the go-sarif module: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "pkg", "report", "v210", "sarif", "schema.go"))
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.IndexByte(src, '`'), bytes.LastIndexByte(src, '`')
	if i < 0 || j <= i || !bytes.Contains(src[i:j], []byte("sarif-schema-2.1.0.json")) {
		t.Fatal("no SARIF 2.1.0 schema in go-sarif's schema.go")
	}
	return string(src[i+1 : j])
}

// TestSARIFValidatesAgainstTheSchema: the SARIF doctor writes, as written (no round trip
// through a library's structs, which adds nulls the schema rejects), is valid against the
// SARIF 2.1.0 JSON schema.
func TestSARIFValidatesAgainstTheSchema(t *testing.T) {
	schema := gojsonschema.NewStringLoader(sarifSchema(t))
	validate := func(b []byte) []string {
		t.Helper()
		res, err := gojsonschema.Validate(schema, gojsonschema.NewBytesLoader(b))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range res.Errors() {
			out = append(out, e.String())
		}
		return out
	}
	for _, repo := range []string{"incident", "clean"} {
		b, err := examine(t, repo, Options{}).SARIF("v0.0.0-test")
		if err != nil {
			t.Fatal(err)
		}
		if errs := validate(b); len(errs) > 0 {
			t.Errorf("%s: the SARIF is not valid 2.1.0: %v", repo, errs)
		}
		if v := sarif.NewReport().Version; !bytes.Contains(b, []byte(`"version": "`+v+`"`)) {
			t.Errorf("%s: SARIF version is not %s", repo, v)
		}
	}
	// The check can fail: a result without its message is not SARIF.
	if errs := validate([]byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"r"}]}]}`)); len(errs) == 0 {
		t.Error("a result without a message passed the schema")
	}
}
