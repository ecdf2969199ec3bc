package overlays

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	_ "github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden" // defines -update
)

func TestFindSourcePlugin(t *testing.T) {
	r, err := ScanDir("testdata/repos/argocd-plugin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.FindSource("auth", "authentik-postgresql")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Plugin || s.ObjectStore == nil || s.ObjectStore.Name != "authentik-minio-store" {
		t.Errorf("plugin %v object store %+v", s.Plugin, s.ObjectStore)
	}
	if s.Catalog != "s3://homelab-postgres-backups/auth" || s.EndpointURL != "https://truenas.example.com:9000" || s.ServerName != "authentik-postgresql" || s.EndpointCASecret != "truenas-ca" {
		t.Errorf("source = %q %q %q", s.Catalog, s.EndpointURL, s.ServerName)
	}
	if s.Cluster.File != "apps/auth/authentik-postgresql/cluster.yaml" || s.Cluster.Line != 2 || s.Cluster.Namespace != "auth" {
		t.Errorf("cluster found at %s:%d in namespace %q", s.Cluster.File, s.Cluster.Line, s.Cluster.Namespace)
	}
	var skipped []string
	for _, sk := range r.Skipped {
		skipped = append(skipped, sk.File+": "+sk.Reason)
	}
	got := strings.Join(skipped, "\n")
	for _, want := range []string{"charts/authentik/templates/deployment.yaml: Helm chart template of charts/authentik", "apps/auth/secrets.sops.yaml: SOPS-encrypted"} {
		if !strings.Contains(got, want) {
			t.Errorf("skipped = %s, want %s", got, want)
		}
	}
}

func TestFindSourceLegacyMultiDocument(t *testing.T) {
	r, err := ScanDir("testdata/repos/flux-legacy")
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.FindSource("apps", "pg")
	if err != nil {
		t.Fatal(err)
	}
	if s.Plugin || s.Catalog != "s3://backups/apps" || s.EndpointURL != "http://minio.minio.svc:9000" || s.ServerName != "pg-2024" {
		t.Errorf("source = %+v", s)
	}
	if s.Cluster.Line != 7 {
		t.Errorf("cluster document starts at line %d, want 7", s.Cluster.Line)
	}
	if len(r.Find("", "Service", "apps", "pg-restored-rw")) != 1 {
		t.Errorf("service in the same file not found: %+v", r.Objects)
	}
}

func TestFindSourceErrors(t *testing.T) {
	r, err := ScanDir("testdata/repos/duplicate")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.FindSource("db", "pg"); err == nil || !strings.Contains(err.Error(), "defined 2 times (a/cluster.yaml:1, b/cluster.yaml:1)") {
		t.Errorf("duplicate cluster: %v", err)
	}
	r, _ = ScanDir("testdata/repos/argocd-plugin")
	if _, err := r.FindSource("auth", "authentik"); err == nil || !strings.Contains(err.Error(), "clusters there: auth/authentik-postgresql") {
		t.Errorf("unknown cluster: %v", err)
	}
	if _, err := ScanDir("testdata/repos/nope"); err == nil {
		t.Errorf("ScanDir(missing) = nil error")
	}
}

// TestArchiveUsersAreEveryClusterWritingToTheDestination: plugin clusters through their
// ObjectStore (serverName from the plugin parameters, else the cluster's name; the ObjectStore's
// own serverName is ignored by the plugin) and legacy clusters, but not clusters archiving
// elsewhere.
func TestArchiveUsersAreEveryClusterWritingToTheDestination(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"db/store.yaml": "apiVersion: barmancloud.cnpg.io/v1\nkind: ObjectStore\nmetadata: {name: store, namespace: db}\nspec:\n  configuration:\n    destinationPath: s3://bucket/pg/\n    serverName: ignored\n",
		"db/a.yaml":     "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: a, namespace: db}\nspec:\n  plugins:\n  - name: barman-cloud.cloudnative-pg.io\n    parameters: {barmanObjectName: store}\n",
		"db/b.yaml":     "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: b, namespace: db}\nspec:\n  plugins:\n  - name: barman-cloud.cloudnative-pg.io\n    parameters: {barmanObjectName: store, serverName: b-2025}\n",
		"db/c.yaml":     "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: c, namespace: other}\nspec:\n  backup:\n    barmanObjectStore: {destinationPath: s3://bucket/pg, serverName: c-legacy}\n",
		"db/d.yaml":     "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: d, namespace: db}\nspec:\n  backup:\n    barmanObjectStore: {destinationPath: s3://bucket/elsewhere}\n",
		// Same ObjectStore name, another namespace: not the store above.
		"db/e.yaml": "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: e, namespace: third}\nspec:\n  plugins:\n  - name: barman-cloud.cloudnative-pg.io\n    parameters: {barmanObjectName: store}\n",
	})
	r, err := ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range r.ArchiveUsers("s3://bucket/pg") {
		got = append(got, u.Cluster.Namespace+"/"+u.Cluster.Name+"="+u.ServerName)
	}
	want := "db/a=a db/b=b-2025 other/c=c-legacy"
	if strings.Join(got, " ") != want {
		t.Errorf("ArchiveUsers(s3://bucket/pg) = %q, want %q", strings.Join(got, " "), want)
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoresOfFindsClustersRecoveredFromTheSourcesArchive: in-tree form, the entry's name
// standing for the server name; a recovery from another archive is not one.
func TestRestoresOfFindsClustersRecoveredFromTheSourcesArchive(t *testing.T) {
	dir := t.TempDir()
	legacy := func(name, recoverFrom, dest string) string {
		return "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: " + name + ", namespace: db}\nspec:\n  backup:\n    barmanObjectStore: {destinationPath: s3://b/pg, serverName: " + name + "}\n" +
			"  bootstrap:\n    recovery: {source: " + recoverFrom + "}\n  externalClusters:\n  - name: " + recoverFrom + "\n    barmanObjectStore: {destinationPath: " + dest + "}\n"
	}
	writeTree(t, dir, map[string]string{
		"pg.yaml":       "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: pg, namespace: db}\nspec:\n  backup:\n    barmanObjectStore: {destinationPath: s3://b/pg}\n",
		"restored.yaml": legacy("pg-restored", "pg", "s3://b/pg/"),
		"other.yaml":    legacy("reports", "pg", "s3://elsewhere"),
	})
	r, err := ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := r.FindSource("db", "pg")
	if err != nil {
		t.Fatal(err)
	}
	got := r.RestoresOf(src)
	if len(got) != 1 || got[0].Name != "pg-restored" {
		t.Errorf("RestoresOf(db/pg) = %v, want db/pg-restored only", got)
	}
}

func TestRelative(t *testing.T) {
	for _, tc := range [][3]string{{"apps/auth", "apps/auth/pg", "pg"}, {"apps/auth/db", "apps/auth/pg", "../pg"}, {".", "a/b", "a/b"}, {"a", "a", "."}} {
		if got := Relative(tc[0], tc[1]); got != tc[2] {
			t.Errorf("Relative(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

// TestScanReadsAnInMemoryTree: Scan takes any fs.FS, so a repository can be a literal in a test;
// the namespace comes from the kustomization above the Cluster, and a symlink is noted with
// the bytes it points to, never followed.
func TestScanReadsAnInMemoryTree(t *testing.T) {
	fsys := fstest.MapFS{
		"apps/db/kustomization.yaml": {Data: []byte("namespace: db\nresources: [cluster.yaml]\n")},
		"apps/db/cluster.yaml": {Data: []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: pg\nspec:\n" +
			"  backup:\n    barmanObjectStore:\n      destinationPath: s3://bucket/db\n")},
		"apps/db/link.yaml": {Data: []byte("cluster.yaml"), Mode: fs.ModeSymlink},
	}
	r, err := Scan(fsys, "memory")
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.FindSource("db", "pg")
	if err != nil {
		t.Fatal(err)
	}
	if s.Catalog != "s3://bucket/db" || s.ServerName != "pg" || s.Cluster.File != "apps/db/cluster.yaml" {
		t.Errorf("FindSource(db, pg) = %s %s at %s, want s3://bucket/db pg at apps/db/cluster.yaml", s.Catalog, s.ServerName, s.Cluster.File)
	}
	if len(r.Skipped) != 1 || r.Skipped[0].File != "apps/db/link.yaml" || !strings.Contains(string(r.Skipped[0].Data), "kind: Cluster") {
		t.Errorf("Skipped = %+v, want apps/db/link.yaml with the bytes of cluster.yaml", r.Skipped)
	}
	if !r.Exists("apps/db") || r.Exists("apps/web") {
		t.Errorf("Exists(apps/db), Exists(apps/web) = %v, %v, want true, false", r.Exists("apps/db"), r.Exists("apps/web"))
	}
}

// TestBracesAreNotAHelmChart: "{{ }}" in a file is Go template text for many controllers —
// External Secrets Operator's target template, Prometheus alert annotations, Flux's
// HelmRelease values — and those files are manifests to read. Only a Helm chart's templates
// (under a directory holding Chart.yaml) and text that is not YAML are left unread.
func TestBracesAreNotAHelmChart(t *testing.T) {
	fsys := fstest.MapFS{
		"apps/app/externalsecret.yaml": {Data: []byte(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: app
  namespace: apps
spec:
  target:
    template:
      data:
        DATABASE_URL: "postgresql://{{ .USER }}@pg-rw.db.svc:5432/app"
`)},
		"apps/app/rule.yaml": {Data: []byte(`apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: pg
spec:
  groups:
    - name: pg
      rules:
        - alert: Down
          annotations:
            summary: '{{ $labels.pod }} is down'
`)},
		"charts/app/Chart.yaml":         {Data: []byte("apiVersion: v2\nname: app\nversion: 1.0.0\n")},
		"charts/app/templates/svc.yaml": {Data: []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n")},
		"charts/app/values.yaml":        {Data: []byte("host: pg-rw\n")},
		"tools/not-yaml.yaml":           {Data: []byte("{{- range .Values.x }}\n- {{ . }}\n{{- end }}\n")},
	}
	r, err := Scan(fsys, "mem")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ExternalSecret", "PrometheusRule"} {
		if !r.has(kind) {
			t.Errorf("the %s with {{ }} text was not read", kind)
		}
	}
	reasons := map[string]string{}
	for _, sk := range r.Skipped {
		reasons[sk.File] = sk.Reason
	}
	if why := reasons["charts/app/templates/svc.yaml"]; !strings.Contains(why, "Helm chart template") || !strings.Contains(why, "charts/app") {
		t.Errorf("the chart's template: skipped for %q, want it named a Helm chart template of charts/app", why)
	}
	if why := reasons["tools/not-yaml.yaml"]; !strings.Contains(why, "template") {
		t.Errorf("a template that is not YAML: skipped for %q", why)
	}
	if _, ok := reasons["charts/app/values.yaml"]; ok {
		t.Error("the chart's values file was skipped")
	}
}

func (r *Repo) has(kind string) bool {
	for _, o := range r.Objects {
		if o.Kind == kind {
			return true
		}
	}
	return false
}

// TestHelmRenderedClustersAreExplained: a Cluster the cloudnative-pg cluster chart renders —
// through a Flux HelmRelease or an Argo CD Application — is found by its release and named as
// the chart names it; restoring it is explained with the chart's own recovery values.
func TestHelmRenderedClustersAreExplained(t *testing.T) {
	fsys := fstest.MapFS{
		"db/kustomization.yaml": {Data: []byte("namespace: database\nresources: [repo.yaml, release.yaml]\n")},
		"db/repo.yaml":          {Data: []byte("apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: cnpg\nspec:\n  url: https://cloudnative-pg.github.io/charts\n")},
		"db/release.yaml":       {Data: []byte("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: pg\nspec:\n  chart:\n    spec:\n      chart: cluster\n      version: 0.3.1\n      sourceRef:\n        kind: HelmRepository\n        name: cnpg\n  values:\n    cluster:\n      instances: 2\n")},
	}
	argo := fstest.MapFS{
		"argo/app.yaml": {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: wiki-db\n  namespace: argocd\nspec:\n  source:\n    repoURL: https://cloudnative-pg.github.io/charts\n    chart: cluster\n    targetRevision: 0.3.1\n    helm:\n      valuesObject:\n        fullnameOverride: wiki-pg\n  destination:\n    namespace: wiki\n")},
	}
	r, err := Scan(fsys, "mem")
	if err != nil {
		t.Fatal(err)
	}
	ra, err := Scan(argo, "mem")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, h := range append(r.HelmClusters(), ra.HelmClusters()...) {
		got[h.Namespace+"/"+h.Name] = h.Via
	}
	if !strings.HasPrefix(got["database/pg-cluster"], "Flux HelmRelease database/pg") || !strings.HasPrefix(got["wiki/wiki-pg"], "Argo CD Application argocd/wiki-db") {
		t.Errorf("chart clusters = %v", got)
	}
	_, err = r.FindSource("database", "pg-cluster")
	if err == nil || !strings.Contains(err.Error(), "cluster Helm chart through Flux HelmRelease database/pg") || !strings.Contains(err.Error(), "mode: recovery") {
		t.Errorf("FindSource(chart cluster) = %v, want the chart's recovery explained", err)
	}
	if _, err := r.FindSource("database", "other"); err == nil || !strings.Contains(err.Error(), "database/pg-cluster (Helm chart)") {
		t.Errorf("FindSource(unknown) = %v, want the chart's clusters listed", err)
	}
}
