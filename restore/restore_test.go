package restore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/sample"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

func sampleOptions(t *testing.T) Options {
	t.Helper()
	root, err := sample.Extract(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Options{Repo: "argocd-helm", RepoFS: os.DirFS("../generator/testdata/repos/argocd-helm"),
		Namespace: "auth", Name: "authentik-postgresql", Catalog: root, ServerName: sample.ServerName}
}

// TestRenderRefusesAPlanThatFailsItsChecks: two database systems and no choice is a refusal that
// carries the plan, not a change.
func TestRenderRefusesAPlanThatFailsItsChecks(t *testing.T) {
	ch, err := Render(context.Background(), sampleOptions(t))
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Plan.OK() || !strings.Contains(err.Error(), "single-lineage") {
		t.Fatalf("Render(two systems) = %v, want a RefusedError naming single-lineage", err)
	}
	if ch == nil || ch.Plan != refused.Plan || ch.Files != nil {
		t.Errorf("Render(two systems) change = %+v, want the plan and no files", ch)
	}
}

// TestCutoverNeedsNoCatalog: the cutover phase reads only the repo; its pull request names the
// restored cluster without a plan.
func TestCutoverNeedsNoCatalog(t *testing.T) {
	fsys := fstest.MapFS{
		"db/kustomization.yaml": {Data: []byte("namespace: db\nresources: [pg.yaml, pg-restored.yaml, app.yaml]\n")},
		"db/pg.yaml": {Data: []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: pg\nspec:\n  instances: 1\n" +
			"  backup:\n    barmanObjectStore:\n      destinationPath: s3://bucket/db\n")},
		"db/pg-restored.yaml": {Data: []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: pg-restored\nspec:\n  instances: 1\n" +
			"  bootstrap:\n    recovery:\n      source: pg\n")},
		"db/app.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  DB_HOST: pg-rw\n")},
	}
	ch, err := Render(context.Background(), Options{Repo: "memory", RepoFS: fsys, Namespace: "db", Name: "pg", Phase: generator.PhaseCutover})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Plan != nil || ch.Restored != "pg-restored" || ch.Branch != "restore/db/pg-cutover" {
		t.Errorf("cutover: plan %v, restored %q, branch %q; want no plan, pg-restored, restore/db/pg-cutover", ch.Plan, ch.Restored, ch.Branch)
	}
	if len(ch.Edits) != 1 || ch.Edits[0].New != "pg-restored-rw" || !strings.Contains(ch.PullRequest.Title, "db/pg-restored") {
		t.Errorf("cutover: edits %+v, title %q; want DB_HOST cut over to pg-restored-rw", ch.Edits, ch.PullRequest.Title)
	}
	if !strings.Contains(ch.CommitMessage, "db/app.yaml: cutover") {
		t.Errorf("commit message %q does not list db/app.yaml", ch.CommitMessage)
	}
}

// TestIncompleteOptionsAreInputErrors: what the caller must give is said before anything is read.
func TestIncompleteOptionsAreInputErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"no cluster":       {Catalog: "/nonexistent", ServerName: "pg"},
		"no catalog":       {Namespace: "db", Name: "pg", ServerName: "pg"},
		"bad server name":  {Namespace: "db", Name: "pg", Catalog: "/nonexistent", ServerName: "../pg"},
		"render, no repo":  {Namespace: "db", Name: "pg", Catalog: "/nonexistent", ServerName: "pg", Phase: "render"},
		"unknown phase":    {Namespace: "db", Name: "pg", Repo: "/nonexistent", Phase: "later"},
		"cleanup, a phase": {Namespace: "db", Name: "pg", Repo: "/nonexistent", Phase: generator.PhaseRestore, Cleanup: true},
	} {
		var err error
		if o.Phase != "" {
			_, err = Render(context.Background(), o)
		} else {
			_, err = Plan(context.Background(), o)
		}
		var input *InputError
		if !errors.As(err, &input) {
			t.Errorf("%s: error %v, want an InputError", name, err)
		}
	}
}

// TestPlanWarnsOnlyAboutWhatIsDeployed: files no controller applies (CI workflows, task files)
// are not the plan's business, whatever they hold; encrypted manifests are the cutover's.
func TestPlanWarnsOnlyAboutWhatIsDeployed(t *testing.T) {
	sops := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ndata:\n  k: ENC[AES256_GCM,data:x]\nsops:\n  version: 3.9.0\n"
	fsys := fstest.MapFS{
		"db/kustomization.yaml": {Data: []byte("namespace: db\nresources: [pg.yaml, a.sops.yaml, b.sops.yaml]\n")},
		"db/pg.yaml": {Data: []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: pg\nspec:\n  instances: 1\n" +
			"  backup:\n    barmanObjectStore:\n      destinationPath: s3://bucket/db\n")},
		"db/a.sops.yaml":            {Data: []byte(strings.ReplaceAll(sops, "%s", "a"))},
		"db/b.sops.yaml":            {Data: []byte(strings.ReplaceAll(sops, "%s", "b"))},
		".github/workflows/ci.yaml": {Data: []byte("on: push\njobs:\n  test:\n    steps:\n      - run: {{ .Cmd }}\n")},
		"Taskfile.yaml":             {Data: []byte("tasks:\n  up:\n    cmds:\n      - {{.KUBECTL}} apply\n")},
		"db/broken.yaml":            {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {{ .Meta }}\n")},
	}
	repo, err := overlays.Scan(fsys, "memory")
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.FindSource("db", "pg")
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(discover(&Options{}, repo, src).notes, "\n")
	for _, absent := range []string{".github", "Taskfile"} {
		if strings.Contains(notes, absent) {
			t.Errorf("the plan warns about %s, which nothing applies:\n%s", absent, notes)
		}
	}
	if strings.Contains(notes, "SOPS") {
		t.Errorf("the plan warns about SOPS files, which the cutover notes once:\n%s", notes)
	}
	for _, want := range []string{"db/broken.yaml was not read (a template ({{ }}) that is not YAML until rendered)"} {
		if !strings.Contains(notes, want) {
			t.Errorf("the plan's warnings lack %q:\n%s", want, notes)
		}
	}
}

// TestUnknownVariableInTheCatalogIsNamed: a destinationPath built from a variable that only a
// SOPS-encrypted Secret defines is an input error naming the variable, the applier, where it
// takes its variables from and the flag that gives the value; with --catalog it plans on.
func TestUnknownVariableInTheCatalogIsNamed(t *testing.T) {
	fsys := fstest.MapFS{}
	root := "../generator/testdata/repos/flux-home"
	if err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(os.DirFS(root), p)
		fsys[p] = &fstest.MapFile{Data: b}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	store := "kubernetes/apps/database/postgres/cluster/objectstore.yaml"
	fsys[store].Data = []byte(strings.ReplaceAll(string(fsys[store].Data), "s3://${BACKUP_BUCKET}/cnpg", "s3://${PRIVATE_BUCKET}/cnpg"))
	ks := "kubernetes/apps/database/postgres/ks.yaml"
	fsys[ks].Data = []byte(strings.ReplaceAll(string(fsys[ks].Data), "        name: cluster-settings\n", "        name: cluster-settings\n      - kind: Secret\n        name: cluster-secrets\n"))
	fsys["clusters/home/cluster-secrets.sops.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-secrets\n  namespace: flux-system\nstringData:\n  PRIVATE_BUCKET: ENC[AES256_GCM,data:x]\nsops:\n  version: 3.9.0\n")}
	o := Options{Repo: "memory", RepoFS: fsys, Namespace: "database", Name: "postgres"}
	_, err := Plan(context.Background(), o)
	var input *InputError
	if !errors.As(err, &input) {
		t.Fatalf("Plan = %v, want an InputError", err)
	}
	for _, want := range []string{"${PRIVATE_BUCKET}", "Flux Kustomization flux-system/postgres", "Secret flux-system/cluster-secrets (SOPS-encrypted", "--catalog", store} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	o.Catalog = "/nonexistent/catalog"
	if _, err := Plan(context.Background(), o); errors.As(err, &input) && strings.Contains(err.Error(), "PRIVATE_BUCKET") {
		t.Errorf("with --catalog, the unknown variable still stops the plan: %v", err)
	}
}
