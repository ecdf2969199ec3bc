package generator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func renderDir(t *testing.T, dir string, f fixture, phase string) (*overlays.Repo, *Result, error) {
	t.Helper()
	repo, err := overlays.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.FindSource(f.ns, f.name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Render(Input{Repo: repo, Source: src, Plan: testPlan(t, src, f), Phase: phase})
	return repo, res, err
}

// Flux applies the cluster and the app through one Kustomization whose path also holds the
// place a restore Kustomization would go: the restore can't be ordered before the cutover in
// one change, so the change is the restore alone and says so.
func TestFluxLayoutThatCannotOrderMakesTwoSteps(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"clusters/home/flux-system/gotk-sync.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/home\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
		"clusters/home/kustomization.yaml":         "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [flux-system/gotk-sync.yaml, db.yaml, app.yaml]\n",
		"clusters/home/db.yaml":                    "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: pg, namespace: apps}\nspec:\n  instances: 1\n  storage: {size: 1Gi}\n  backup:\n    barmanObjectStore: {destinationPath: 's3://b/apps'}\n",
		"clusters/home/app.yaml":                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: apps}\ndata:\n  PGHOST: pg-rw.apps.svc\n",
	})
	f := fixture{ns: "apps", name: "pg"}
	_, res, err := renderDir(t, dir, f, PhaseAll)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TwoStep || len(res.Edits) != 0 {
		t.Fatalf("TwoStep = %v, edits %v", res.TwoStep, res.Edits)
	}
	golden.Assert(t, "generator", ".diff", report(t, res))
	// The second step, once the restore is merged: the cutover alone.
	applied := applyTo(t, &overlays.Repo{Root: dir}, res)
	_, second, err := renderDir(t, applied, f, PhaseCutover)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Edits) != 1 || second.Edits[0].New != "pg-restored-rw.apps.svc" {
		t.Errorf("second step edits = %+v", second.Edits)
	}
	for _, file := range second.Files {
		if strings.Contains(file.Path, "pg-restored/") {
			t.Errorf("the cutover step writes the overlay again: %s", file.Path)
		}
	}
}

func TestPhasesAndCleanupRefusals(t *testing.T) {
	f := fixtures[2] // plain-manifests
	dir := filepath.Join("testdata", "repos", f.repo)
	if _, _, err := renderDir(t, dir, f, PhaseCutover); err == nil || !strings.Contains(err.Error(), "is not in the repository") {
		t.Errorf("cutover before the restore: %v", err)
	}
	_, res, err := renderDir(t, dir, f, PhaseRestore)
	if err != nil || len(res.Edits) != 0 || !res.TwoStep {
		t.Fatalf("restore phase: %v, edits %v", err, res)
	}
	// Cleanup refuses while the application still names the old cluster (only the restore
	// is merged), and works once the cutover is.
	repo, err := overlays.ScanDir(applyTo(t, &overlays.Repo{Root: dir}, res))
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.FindSource(f.ns, f.name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Cleanup(CleanupInput{Repo: repo, Source: src, Restored: "shop-db-restored"}); err == nil || !strings.Contains(err.Error(), "still name shop-db") {
		t.Errorf("cleanup before the cutover: %v", err)
	}
	if _, err := Cleanup(CleanupInput{Repo: repo, Source: src, Restored: "nope"}); err == nil || !strings.Contains(err.Error(), "no restored Cluster shop/nope") {
		t.Errorf("cleanup without a restored cluster: %v", err)
	}
	_, all := render(t, f, PhaseAll)
	repo, err = overlays.ScanDir(applyTo(t, &overlays.Repo{Root: dir}, all))
	if err != nil {
		t.Fatal(err)
	}
	src, _ = repo.FindSource(f.ns, f.name)
	clean, err := Cleanup(CleanupInput{Repo: repo, Source: src, Restored: "shop-db-restored"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "generator", ".diff", report(t, clean))
	after := applyTo(t, repo, clean)
	checkBuilds(t, after)
}

func TestRenderRefusesAnExistingOverlay(t *testing.T) {
	f := fixtures[2]
	dir := writeRepo(t, nil)
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", f.repo))); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "shop/db/shop-db-restored"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shop/db/shop-db-restored/x.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := renderDir(t, dir, f, PhaseAll); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Render over an existing overlay: %v", err)
	}
}
