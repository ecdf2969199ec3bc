package generator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// fluxHome is the k8s-at-home layout: per-app Flux Kustomizations (ks.yaml) in flux-system,
// the database in its own namespace by targetNamespace, apps reaching it through a
// cluster-settings variable, an ExternalSecret template, an aliased ScheduledBackup, a
// LoadBalancer with a fixed address, an archived copy and a CI workflow that nothing applies.
var fluxHome = fixture{repo: "flux-home", ns: "database", name: "postgres"}

func fileOf(res *Result, p string) *File {
	for i := range res.Files {
		if res.Files[i].Path == p {
			return &res.Files[i]
		}
	}
	return nil
}

// TestSubstitutionVariableIsCutOverOnce: apps that reach the cluster as ${CNPG_NAME}-rw move
// with one edit of the variable, not a follow-up each; their Kustomizations wait for the
// restore, and flux-system, which applies the variable, is not made to.
func TestSubstitutionVariableIsCutOverOnce(t *testing.T) {
	_, res := render(t, fluxHome, PhaseAll)
	var onVar []Edit
	for _, e := range res.Edits {
		if e.File == "clusters/home/cluster-settings.yaml" {
			onVar = append(onVar, e)
		}
	}
	if len(onVar) != 1 || onVar[0].Old != "postgres" || onVar[0].New != "postgres-restored" {
		t.Errorf("edits of cluster-settings = %+v, want CNPG_NAME renamed once", onVar)
	}
	for _, f := range res.FollowUps {
		if strings.Contains(f.Detail, "CNPG_NAME") {
			t.Errorf("follow-up for a variable the cutover edits: %+v", f)
		}
	}
	for _, ks := range []string{"kubernetes/apps/auth/authentik/ks.yaml", "kubernetes/apps/media/immich/ks.yaml"} {
		if f := fileOf(res, ks); f == nil || !strings.Contains(string(f.Content), "- name: postgres-restored") {
			t.Errorf("%s does not wait for the restore", ks)
		}
	}
	if res.TwoStep || fileOf(res, "clusters/home/flux-system/gotk-sync.yaml") != nil {
		t.Errorf("flux-system was made to wait (two steps %v)", res.TwoStep)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "substitution variable CNPG_NAME") {
		t.Errorf("the notes do not say the variable is cut over: %q", res.Notes)
	}
}

// TestVariableTheSourceUsesStays: when the source's own ObjectStore builds its path from the
// variable, renaming it would move where the live cluster archives: each consumer is a
// follow-up instead, and the variable is untouched.
func TestVariableTheSourceUsesStays(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", fluxHome.repo))); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "kubernetes/apps/database/postgres/cluster/objectstore.yaml")
	b, err := os.ReadFile(store)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store, []byte(strings.ReplaceAll(string(b), "s3://${BACKUP_BUCKET}/cnpg", "s3://${BACKUP_BUCKET}/${CNPG_NAME}")), 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := overlays.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.FindSource(fluxHome.ns, fluxHome.name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Render(Input{Repo: repo, Source: src, Plan: testPlan(t, src, fluxHome)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Edits {
		if e.File == "clusters/home/cluster-settings.yaml" {
			t.Errorf("the variable the source archives by was edited: %+v", e)
		}
	}
	n := 0
	for _, f := range res.FollowUps {
		if strings.Contains(f.Detail, "${CNPG_NAME}") && strings.Contains(f.Detail, "ObjectStore postgres-store") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("follow-ups naming why CNPG_NAME stays: %d, want one per consumer (2): %+v", n, res.FollowUps)
	}
}

// TestAliasedScheduledBackupIsCarriedOver: a ScheduledBackup naming its cluster through a YAML
// alias, namespaced by its Kustomization's targetNamespace, is the one the restored cluster
// gets — its schedule, not a 02:00 default.
func TestAliasedScheduledBackupIsCarriedOver(t *testing.T) {
	_, res := render(t, fluxHome, PhaseAll)
	f := fileOf(res, "kubernetes/apps/database/postgres/cluster/postgres-restored/scheduledbackup.yaml")
	if f == nil {
		t.Fatal("no ScheduledBackup written")
	}
	c := string(f.Content)
	if !strings.Contains(c, `schedule: "0 30 3 * * *"`) || !strings.Contains(c, "name: postgres-restored\n") || strings.Contains(c, "*name") {
		t.Errorf("the restored ScheduledBackup is not the source's, for the restored cluster:\n%s", c)
	}
	if strings.Contains(strings.Join(res.Notes, "\n"), "has no ScheduledBackup") {
		t.Error("the notes say the source has no ScheduledBackup")
	}
}

// TestAdditionalServicesDoNotCollide: the restored cluster's managed.services.additional are
// its own — renamed, without the source's fixed load-balancer address and DNS name.
func TestAdditionalServicesDoNotCollide(t *testing.T) {
	_, res := render(t, fluxHome, PhaseAll)
	f := fileOf(res, "kubernetes/apps/database/postgres/cluster/postgres-restored/cluster.yaml")
	if f == nil {
		t.Fatal("no restored Cluster")
	}
	c := string(f.Content)
	if !strings.Contains(c, "name: postgres-restored-lb") || strings.Contains(c, "192.168.10.50") || strings.Contains(c, "postgres.home.arpa") {
		t.Errorf("the restored cluster's additional Service collides with the source's:\n%s", c)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "postgres-lb (managed.services.additional) is postgres-restored-lb") {
		t.Errorf("no note on the renamed Service: %q", res.Notes)
	}
}

// TestGenericNameDoesNotFlood: a cluster called postgres is also a database, a user, a URL
// scheme, a Kustomization and a path: none of those is a follow-up, and none is edited.
func TestGenericNameDoesNotFlood(t *testing.T) {
	_, res := render(t, fluxHome, PhaseAll)
	if len(res.FollowUps) != 0 {
		t.Errorf("follow-ups = %+v, want none: every reference is edited", res.FollowUps)
	}
	for _, e := range res.Edits {
		if e.Old == "postgres" && e.File != "clusters/home/cluster-settings.yaml" {
			t.Errorf("a bare mention was edited: %+v", e)
		}
	}
}

// TestFilesNothingDeploysAreLeftAlone: the archived cluster and its app, and the CI
// workflow, are neither edited nor reported.
func TestFilesNothingDeploysAreLeftAlone(t *testing.T) {
	_, res := render(t, fluxHome, PhaseAll)
	for _, f := range res.Files {
		if strings.HasPrefix(f.Path, "archive/") || strings.HasPrefix(f.Path, ".github/") {
			t.Errorf("%s was changed", f.Path)
		}
	}
	for _, f := range res.FollowUps {
		if strings.HasPrefix(f.File, "archive/") || strings.HasPrefix(f.File, ".github/") {
			t.Errorf("follow-up on a file nothing applies: %+v", f)
		}
	}
}

// TestRestoreKustomizationIsDeployed: on the changed repo, Flux deploys the restored Cluster
// through the restore's own Kustomization, in the source's namespace, and the variable
// renders the apps' hosts to the restored cluster.
func TestRestoreKustomizationIsDeployed(t *testing.T) {
	repo, res := render(t, fluxHome, PhaseAll)
	changed, err := overlays.ScanDir(applyTo(t, repo, res))
	if err != nil {
		t.Fatal(err)
	}
	m := changed.Model()
	got := m.Find(overlays.GroupCNPG, "Cluster", "database", "postgres-restored")
	if len(got) != 1 || got[0].By.Name != "postgres-restored" {
		t.Fatalf("restored Cluster deployed %d time(s) (%v), want once by Kustomization postgres-restored", len(got), got)
	}
	for _, hr := range []string{"authentik", "immich"} {
		ns := map[string]string{"authentik": "auth", "immich": "media"}[hr]
		d := m.Find(overlays.GroupFluxHelm, "HelmRelease", ns, hr)
		if len(d) != 1 {
			t.Fatalf("HelmRelease %s/%s deployed %d times", ns, hr, len(d))
		}
		b, _ := yamlText(d[0].Body)
		if !strings.Contains(b, "postgres-restored-rw.database.svc.cluster.local") || strings.Contains(b, " postgres-rw.") {
			t.Errorf("HelmRelease %s renders without the restored host:\n%s", hr, b)
		}
	}
}

func yamlText(v any) (string, error) {
	b, err := sigsyaml.Marshal(v)
	return string(b), err
}

// TestTemplatedClusterIsRestoredConcrete: a Cluster that Flux renders from a shared Component
// (${APP}${PG_VERSION}) is restored as a concrete copy beside the app's Kustomization, with its
// own Kustomization; the component is untouched, the source still deployed from it, and the
// restored cluster deployed once.
func TestTemplatedClusterIsRestoredConcrete(t *testing.T) {
	f := fixture{repo: "flux-component", ns: "database", name: "pg16"}
	repo, res := render(t, f, PhaseAll)
	for _, file := range res.Files {
		if strings.HasPrefix(file.Path, "kubernetes/components/") {
			t.Errorf("the shared component %s was changed", file.Path)
		}
		// verify.yaml holds the verification script, shell marked substitute: disabled.
		if strings.HasPrefix(file.Path, "kubernetes/apps/database/pg/pg16-restored/") && !strings.HasSuffix(file.Path, "/verify.yaml") && strings.Contains(string(file.Content), "${") {
			t.Errorf("%s is not concrete:\n%s", file.Path, file.Content)
		}
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "concrete copy of it as Flux renders it") {
		t.Errorf("the notes do not say why the restore is concrete: %q", res.Notes)
	}
	m, err := overlays.ScanDir(applyTo(t, repo, res))
	if err != nil {
		t.Fatal(err)
	}
	model := m.Model()
	if got := model.Find(overlays.GroupCNPG, "Cluster", "database", "pg16-restored"); len(got) != 1 || got[0].By.Name != "pg16-restored" {
		t.Errorf("restored cluster deployed as %v, want once by its own Kustomization", got)
	}
	if got := model.Find(overlays.GroupCNPG, "Cluster", "database", "pg16"); len(got) != 1 || got[0].By.Name != "pg" {
		t.Errorf("source cluster deployed as %v, want once by pg", got)
	}
	if got := model.Find(overlays.GroupCNPG, "ScheduledBackup", "database", "pg16-restored-daily"); len(got) != 1 {
		t.Errorf("restored ScheduledBackup deployed %d times", len(got))
	}
}
