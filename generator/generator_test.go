package generator

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// canary is in the fixture repos' secrets: it must never appear in anything generated.
const canary = "CANARY-s3cr3t-7f3a9"

type fixture struct {
	repo, ns, name string
	strategy       string
	target         plan.RecoveryTarget
}

var fixtures = []fixture{
	{repo: "argocd-helm", ns: "auth", name: "authentik-postgresql", target: plan.RecoveryTarget{BackupID: "20260205T020001", TargetTime: "2026-02-05 08:05:58+00:00"}},
	{repo: "flux-helmrelease", ns: "gitea", name: "gitea-db"},
	{repo: "plain-manifests", ns: "shop", name: "shop-db", target: plan.RecoveryTarget{BackupID: "20261120T020000", TargetLSN: "0/5000060"}},
	{repo: "multi-doc", ns: "wiki", name: "wiki-pg"},
	{repo: "pooler", ns: "billing", name: "billing"},
	{repo: "pooler", ns: "billing", name: "billing", strategy: plan.InPlace},
	{repo: "flux-home", ns: "database", name: "postgres"},
	{repo: "argocd-appset", ns: "database", name: "pg-main"},
	{repo: "flux-component", ns: "database", name: "pg16"},
	{repo: "argocd-app-of-apps", ns: "shop", name: "shop-db", target: plan.RecoveryTarget{BackupID: "20261120T020000", TargetTime: "2026-11-20 09:30:00+00:00"}},
}

func (f fixture) testName() string {
	if f.strategy == plan.InPlace {
		return f.repo + "-in-place"
	}
	return f.repo
}

// testPlan is the plan the plan package would make for the fixture: the generator only reads
// the names and the target.
func testPlan(t *testing.T, src *overlays.Source, f fixture) *plan.Plan {
	t.Helper()
	target := f.target
	if target.BackupID == "" {
		target.BackupID = "20261123T020000"
	}
	restored := plan.Restored{Namespace: f.ns, Name: f.name + "-restored", ServerName: f.name + "-restored"}
	strategy := plan.SideBySide
	if f.strategy == plan.InPlace {
		restored.Name, restored.ServerName, strategy = f.name, f.name+"-2", plan.InPlace
	}
	return &plan.Plan{
		Source:   plan.Source{Namespace: f.ns, Name: f.name, ServerName: src.ServerName, Catalog: src.Catalog},
		Target:   target,
		Restored: restored,
		Strategy: strategy,
		Estimate: &plan.Estimate{Seconds: 1400},
		SystemID: "7711797346175449542",
		// Recovery ends on timeline 1; the archive holds 00000002.history, so PostgreSQL promotes
		// onto timeline 3.
		TimelinePath:     []uint32{1},
		PromotedTimeline: 3,
	}
}

// load scans the fixture's repo and finds its source cluster.
func load(t *testing.T, f fixture) (*overlays.Repo, *overlays.Source) {
	t.Helper()
	repo, err := overlays.ScanDir(filepath.Join("testdata", "repos", f.repo))
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.FindSource(f.ns, f.name)
	if err != nil {
		t.Fatal(err)
	}
	return repo, src
}

func render(t *testing.T, f fixture, phase string) (*overlays.Repo, *Result) {
	t.Helper()
	repo, src := load(t, f)
	res, err := Render(Input{Repo: repo, Source: src, Plan: testPlan(t, src, f), Phase: phase})
	if err != nil {
		t.Fatalf("Render(%s): %v", f.repo, err)
	}
	return repo, res
}

// report is what the golden files hold: the summary as JSON, then the diff.
func report(t *testing.T, res *Result) []byte {
	t.Helper()
	j, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(string(j) + "\n\n" + Diff(res.Files))
}

func TestRender(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.testName(), func(t *testing.T) {
			repo, res := render(t, f, PhaseAll)
			golden.Assert(t, "generator", ".diff", report(t, res))
			checkUnchangedLines(t, res)
			checkNoSecrets(t, res)
			dir := applyTo(t, repo, res)
			checkBuilds(t, dir)
			checkFixedPoint(t, dir, f, res)
		})
	}
}

// checkUnchangedLines: every line of an edited file stays byte-identical except the lines
// a cutover edit changed (the cluster name replaced, nothing else), text inserted into a line
// (an entry added to a flow list), added lines, and removed documents.
func checkUnchangedLines(t *testing.T, res *Result) {
	t.Helper()
	for _, f := range res.Files {
		if f.Old == nil || f.Delete {
			continue
		}
		removedDoc := strings.Contains(f.Summary, "removed")
		for _, e := range udiff.Lines(string(f.Old), string(f.Content)) {
			oldLines := strings.SplitAfter(string(f.Old[e.Start:e.End]), "\n")
			newLines := strings.SplitAfter(e.New, "\n")
			oldLines, newLines = oldLines[:len(oldLines)-1], newLines[:len(newLines)-1]
			switch {
			case len(oldLines) == 0: // lines added
			case len(newLines) == 0:
				if !removedDoc {
					t.Errorf("%s: lines removed: %q", f.Path, oldLines)
				}
			case len(oldLines) != len(newLines):
				t.Errorf("%s: %q became %q", f.Path, oldLines, newLines)
			default:
				for i := range oldLines {
					if !cutoverLine(res, oldLines[i], newLines[i]) && !insertion(oldLines[i], newLines[i]) {
						t.Errorf("%s: line changed beyond the edit:\n-%q\n+%q", f.Path, oldLines[i], newLines[i])
					}
				}
			}
		}
	}
}

// cutoverLine: the new line is the old one with references renamed and nothing else.
func cutoverLine(res *Result, old, new string) bool {
	for _, e := range res.Edits {
		if strings.ReplaceAll(old, e.Old, e.New) == new {
			return true
		}
	}
	return false
}

// insertion: the new line is the old one with text inserted at one place.
func insertion(old, new string) bool {
	p := 0
	for p < len(old) && p < len(new) && old[p] == new[p] {
		p++
	}
	return len(new) > len(old) && strings.HasSuffix(new, old[p:])
}

// checkNoSecrets: nothing generated carries data from the repo's secrets (the fixtures'
// secrets hold the canary): not new files, not lines added to edited ones, not the summary.
func checkNoSecrets(t *testing.T, res *Result) {
	t.Helper()
	for _, f := range res.Files {
		added := f.Content
		if f.Old != nil {
			var b strings.Builder
			for _, e := range udiff.Lines(string(f.Old), string(f.Content)) {
				b.WriteString(e.New)
			}
			added = []byte(b.String())
		}
		if bytes.Contains(added, []byte(canary)) {
			t.Errorf("%s: the change writes secret data", f.Path)
		}
	}
	j, _ := json.Marshal(res)
	if bytes.Contains(j, []byte(canary)) {
		t.Errorf("the summary contains secret data: %s", j)
	}
}

// applyTo copies the fixture repo to a temporary directory and applies the change.
func applyTo(t *testing.T, repo *overlays.Repo, res *Result) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(repo.Root)); err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if f.Delete {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkFixedPoint: on the changed repo, a cutover finds nothing left to change.
func checkFixedPoint(t *testing.T, dir string, f fixture, res *Result) {
	t.Helper()
	if f.strategy == plan.InPlace || res.TwoStep {
		return
	}
	repo, err := overlays.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.FindSource(f.ns, f.name)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Render(Input{Repo: repo, Source: src, Plan: testPlan(t, src, f), Phase: PhaseCutover})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Files) != 0 || len(again.Edits) != 0 {
		t.Errorf("a second cutover changes %d files, %d edits: %+v", len(again.Files), len(again.Edits), again.Edits)
	}
}

// TestRestoredClusterNeverSkipsTheEmptyArchiveCheck: the source's
// cnpg.io/skipEmptyWalArchiveCheck is not copied, and the PR says why.
func TestRestoredClusterNeverSkipsTheEmptyArchiveCheck(t *testing.T) {
	f := fixtures[2] // plain-manifests: its source cluster sets the annotation
	repo, res := render(t, f, "")
	if !strings.Contains(string(repo.File("shop/db/cluster.yaml").Data), SkipEmptyWALArchiveCheck) {
		t.Fatal("the fixture's source cluster lacks the annotation")
	}
	var restored []byte
	for _, file := range res.Files {
		if strings.Contains(string(file.Content), "kind: Cluster") && strings.Contains(string(file.Content), "name: shop-db-restored") {
			restored = file.Content
		}
	}
	if restored == nil {
		t.Fatal("no restored Cluster written")
	}
	if strings.Contains(string(restored), "skipEmptyWalArchiveCheck") {
		t.Errorf("the restored Cluster carries the annotation:\n%s", restored)
	}
	src, err := repo.FindSource(f.ns, f.name)
	if err != nil {
		t.Fatal(err)
	}
	if w := SkipEmptyWALArchiveCheckWarning(src); !strings.Contains(w, "check that a new cluster's archive is empty stays on") {
		t.Errorf("SkipEmptyWALArchiveCheckWarning = %q, want why the annotation was dropped", w)
	}
	other, err := overlays.ScanDir(filepath.Join("testdata", "repos", "pooler"))
	if err != nil {
		t.Fatal(err)
	}
	if src, err := other.FindSource("billing", "billing"); err != nil || SkipEmptyWALArchiveCheckWarning(src) != "" {
		t.Errorf("a cluster without the annotation: warning %q, %v", SkipEmptyWALArchiveCheckWarning(src), err)
	}
}

// TestRollbackTextMatchesWhatIsWritten: the pull request's rollback sentence is derived from
// the change itself: it says the restored cluster survives a revert exactly when the Cluster
// carries Argo CD's Prune=false,Delete=false or a Flux Kustomization with prune: false applies it.
func TestRollbackTextMatchesWhatIsWritten(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.testName(), func(t *testing.T) {
			_, res := render(t, f, "")
			if res.Rollback == nil {
				t.Fatal("no rollback for a restore change")
			}
			argoKept, fluxKept := false, false
			for _, file := range res.Files {
				c := string(file.Content)
				if strings.Contains(c, "kind: Cluster") && strings.Contains(c, "name: "+res.restoredName(f)) && strings.Contains(c, "argocd.argoproj.io/sync-options: Prune=false,Delete=false") {
					argoKept = true
				}
				if strings.Contains(c, "kind: Kustomization") && strings.Contains(c, "kustomize.toolkit.fluxcd.io") && strings.Contains(c, "prune: false") && strings.Contains(c, "healthCheckExprs") {
					fluxKept = true
				}
			}
			r := res.Rollback
			if r.Kept != (argoKept || fluxKept) {
				t.Errorf("rollback kept = %v, but written: Argo CD sync options %v, Flux prune: false %v\n%s", r.Kept, argoKept, fluxKept, r.Revert)
			}
			if argoKept && !strings.Contains(r.Revert, "Prune=false,Delete=false") || fluxKept && !strings.Contains(r.Revert, "prune: false") {
				t.Errorf("rollback does not name what keeps the cluster: %s", r.Revert)
			}
			if r.Kept && !strings.Contains(r.Revert, "keeps running, and archiving") || !strings.Contains(r.Remove, "kubectl delete cluster") && r.Kept {
				t.Errorf("a kept cluster's rollback must say it keeps archiving and how to remove it: %s / %s", r.Revert, r.Remove)
			}
		})
	}
}

func (r *Result) restoredName(f fixture) string {
	if f.strategy == plan.InPlace {
		return f.name
	}
	return f.name + "-restored"
}

// TestPluginParallelRecoveryUsesItsOwnObjectStore: --wal-parallel 8 on a plugin cluster writes
// a recovery-only ObjectStore — the source's destination and credentials, wal.maxParallel 8, no
// retention policy — that externalClusters reads through, listed before the Cluster; the
// source's ObjectStore, which the live cluster archives through, is not edited. The result
// builds, and the default (the plugin's 1) writes none.
func TestPluginParallelRecoveryUsesItsOwnObjectStore(t *testing.T) {
	f := fixtures[0] // argocd-helm: the barman-cloud plugin
	repo, src := load(t, f)
	res, err := Render(Input{Repo: repo, Source: src, Plan: testPlan(t, src, f), Phase: PhaseAll, WALParallel: 8})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "generator", ".diff", report(t, res))
	var store, cluster, kust string
	for _, file := range res.Files {
		switch {
		case strings.HasSuffix(file.Path, "/objectstore-recovery.yaml"):
			store = string(file.Content)
		case strings.HasSuffix(file.Path, "-restored/cluster.yaml"):
			cluster = string(file.Content)
		case strings.HasSuffix(file.Path, "-restored/kustomization.yaml"):
			kust = string(file.Content)
		case file.Path == src.ObjectStore.File:
			t.Errorf("the source's ObjectStore %s was edited", file.Path)
		}
	}
	if !strings.Contains(store, "name: authentik-postgresql-restored-recovery") || !strings.Contains(store, "maxParallel: 8") ||
		strings.Contains(store, "retentionPolicy") || !strings.Contains(store, "destinationPath:") {
		t.Errorf("recovery ObjectStore:\n%s", store)
	}
	if !strings.Contains(cluster, "barmanObjectName: authentik-postgresql-restored-recovery") {
		t.Errorf("externalClusters does not read through it:\n%s", cluster)
	}
	if i, j := strings.Index(kust, "objectstore-recovery.yaml"), strings.Index(kust, "cluster.yaml"); i < 0 || j < i {
		t.Errorf("kustomization does not list it before the Cluster:\n%s", kust)
	}
	applied := applyTo(t, repo, res)
	checkBuilds(t, applied)

	// Cleanup removes the old cluster but keeps the recovery ObjectStore: the restored Cluster
	// still names it, and the plugin stops reconciling a cluster whose ObjectStore is missing.
	after, err := overlays.ScanDir(applied)
	if err != nil {
		t.Fatal(err)
	}
	afterSrc, err := after.FindSource(f.ns, f.name)
	if err != nil {
		t.Fatal(err)
	}
	clean, err := Cleanup(CleanupInput{Repo: after, Source: afterSrc, Restored: f.name + "-restored"})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range clean.Files {
		if strings.HasSuffix(file.Path, "/objectstore-recovery.yaml") || (strings.HasSuffix(file.Path, "-restored/kustomization.yaml") && !strings.Contains(string(file.Content), "objectstore-recovery.yaml")) {
			t.Errorf("cleanup removes the recovery ObjectStore (%s: %s), which the restored Cluster names", file.Path, file.Summary)
		}
	}
	if !strings.Contains(strings.Join(clean.Notes, "\n"), "the recovery-only ObjectStore authentik-postgresql-restored-recovery (") {
		t.Errorf("cleanup does not say why the recovery ObjectStore stays: %q", clean.Notes)
	}
	_, def := render(t, f, PhaseAll)
	for _, file := range def.Files {
		if strings.HasSuffix(file.Path, "/objectstore-recovery.yaml") {
			t.Errorf("the plugin default wrote %s", file.Path)
		}
	}
}
