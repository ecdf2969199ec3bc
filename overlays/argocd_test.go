package overlays

import (
	"strings"
	"testing"
	"testing/fstest"

	"sigs.k8s.io/yaml"
)

// TestModelRendersArgoCDApplicationSets: the root Application (applied by hand) renders the
// argocd/ directory; its ApplicationSets generate one Application per apps/* directory (but
// the excluded one) and one per list element; each renders its path, objects namespaced by
// its destination.
func TestModelRendersArgoCDApplicationSets(t *testing.T) {
	r, err := ScanDir("../generator/testdata/repos/argocd-appset")
	if err != nil {
		t.Fatal(err)
	}
	m := r.Model()
	if m == nil {
		t.Fatal("no model")
	}
	if len(m.Problems) != 0 {
		t.Errorf("problems: %q", m.Problems)
	}
	var apps []string
	for _, a := range m.Appliers {
		parent := "-"
		if a.Parent != nil {
			parent = a.Parent.Name
		}
		apps = append(apps, a.Name+"<"+parent+":"+a.Path)
	}
	got := strings.Join(apps, " ")
	if want := "root<-:argocd grafana<root:apps/grafana wiki<root:apps/wiki infra-database<root:infra/database"; got != want {
		t.Errorf("appliers = %s, want %s", got, want)
	}
	c := m.Find(GroupCNPG, "Cluster", "database", "pg-main")
	if len(c) != 1 || c[0].By.Name != "infra-database" || c[0].By.Set == nil || c[0].By.Set.Name != "infra" {
		t.Fatalf("Cluster database/pg-main deployed as %+v, want once, by infra-database from ApplicationSet infra", c)
	}
	if d := m.Find("apps", "Deployment", "wiki", "wiki"); len(d) != 1 || d[0].File != "apps/wiki/deployment.yaml" {
		t.Errorf("wiki Deployment: %+v", d)
	}
	for file, want := range map[string]bool{
		"apps/wiki/deployment.yaml":       true,
		"apps/grafana/kustomization.yaml": true, // its helmCharts' valuesInline
		"apps/legacy/deployment.yaml":     false,
		"bootstrap/root.yaml":             true, // applied by hand: deployed, by no Application
	} {
		if got := m.Deploys(file); got != want {
			t.Errorf("Deploys(%s) = %v, want %v", file, got, want)
		}
	}
	if s := c[0].By.String(); s != "Argo CD Application argocd/infra-database" {
		t.Errorf("applier named %q", s)
	}
}

// TestModelRendersAppOfApps: the root Application renders apps/, whose Applications are
// deployed with it: shop's kustomize overlay (its base outside the path, the Application's
// own image override applied) and a multi-source Helm release whose values file comes from
// this repository through a ref.
func TestModelRendersAppOfApps(t *testing.T) {
	r, err := ScanDir("../generator/testdata/repos/argocd-app-of-apps")
	if err != nil {
		t.Fatal(err)
	}
	m := r.Model()
	if m == nil || len(m.Problems) != 0 {
		t.Fatalf("model %v, problems %q", m, m.Problems)
	}
	d := m.Find("apps", "Deployment", "shop", "shop")
	if len(d) != 1 || d[0].By.Name != "shop" || d[0].By.Parent == nil || d[0].By.Parent.Name != "lab-root" {
		t.Fatalf("shop Deployment: %+v", d)
	}
	b, _ := yaml.Marshal(d[0].Body)
	if !strings.Contains(string(b), "image: ghcr.io/example/shop:1.8.2") || !strings.Contains(string(b), "replicas: 3") {
		t.Errorf("the Application's image override or the overlay's patch is not applied:\n%s", b)
	}
	if d[0].File != "shop/base/app.yaml" {
		t.Errorf("the Deployment comes from %q, want shop/base/app.yaml", d[0].File)
	}
	by := m.AppliersOf("monitoring/values.yaml")
	if len(by) != 1 || by[0].Name != "kube-prometheus-stack" {
		t.Errorf("monitoring/values.yaml deployed by %v, want kube-prometheus-stack (through its $values ref)", by)
	}
	if m.Deploys("docs/restore-notes.yaml") {
		t.Error("docs are deployed")
	}
}

// TestApplicationSetTemplates: the default templates replace {{param}} and leave unknown
// ones; Go templates take Sprig's functions and honour missingkey=error.
func TestApplicationSetTemplates(t *testing.T) {
	tmpl := map[string]any{"metadata": map[string]any{"name": "{{ path.basename }}-{{unknown}}"}}
	out, err := renderTemplate(tmpl, pathParams("apps/my_app", "", false), false, nil)
	if err != nil || str(out, "metadata", "name") != "my_app-{{unknown}}" {
		t.Errorf("fasttemplate: %v, %v", out, err)
	}
	tmpl = map[string]any{"metadata": map[string]any{"name": `{{ .path.basenameNormalized | upper }}`}}
	out, err = renderTemplate(tmpl, pathParams("apps/my_app", "", true), true, nil)
	if err != nil || str(out, "metadata", "name") != "MY-APP" {
		t.Errorf("goTemplate: %v, %v", out, err)
	}
	tmpl = map[string]any{"metadata": map[string]any{"name": `{{ .nope }}`}}
	if _, err := renderTemplate(tmpl, map[string]any{}, true, []string{"missingkey=error"}); err == nil {
		t.Error("missingkey=error did not fail on a missing key")
	}
	if !greedyMatch("config/*/cluster.json", "config/eu/prod/cluster.json") || greedyMatch("config/*.json", "other/a.json") {
		t.Error("git file globbing is not the default greedy match")
	}
}

// TestOfflineBuildsFetchNothing: remote resources (URLs, git repositories), in any
// kustomization a build reads, and nested helmCharts are left out — never fetched — and
// the local rest still builds; a kustomization of remote resources alone builds empty.
func TestOfflineBuildsFetchNothing(t *testing.T) {
	fsys := fstest.MapFS{
		"root.yaml":                   {Data: []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: mon\n  namespace: argocd\nspec:\n  source:\n    repoURL: https://git.example.org/x.git\n    path: mon\n  destination:\n    namespace: monitoring\n")},
		"mon/kustomization.yaml":      {Data: []byte("resources:\n  - crds\n  - cm.yaml\n  - https://127.0.0.1:1/remote.yaml\n")},
		"mon/crds/kustomization.yaml": {Data: []byte("resources:\n  - https://127.0.0.1:1/crd.yaml\n  - github.com/example/repo//deploy?ref=v1.0.0\nhelmCharts:\n  - name: x\n    repo: https://127.0.0.1:1/charts\n")},
		"mon/cm.yaml":                 {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pg-alerts\ndata:\n  host: pg-rw.db.svc\n")},
	}
	r, err := Scan(fsys, "mem")
	if err != nil {
		t.Fatal(err)
	}
	m := r.Model()
	if len(m.Problems) != 0 {
		t.Fatalf("problems: %q", m.Problems)
	}
	if d := m.Find("", "ConfigMap", "monitoring", "pg-alerts"); len(d) != 1 {
		t.Errorf("the local ConfigMap is not deployed: %+v", m.Objects)
	}
}

// TestMatrixGenerator: a matrix of git directories and the git files each holds
// ({{path}}/app.yaml) makes one Application per directory with a file, its parameters merged.
func TestMatrixGenerator(t *testing.T) {
	fsys := fstest.MapFS{
		"set.yaml": {Data: []byte(`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: apps
  namespace: argocd
spec:
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://git.example.org/x.git
              directories:
                - path: apps/*
          - git:
              repoURL: https://git.example.org/x.git
              files:
                - path: '{{path}}/app.yaml'
  template:
    metadata:
      name: '{{path.basename}}'
    spec:
      source:
        repoURL: https://git.example.org/x.git
        path: '{{path}}'
      destination:
        namespace: '{{namespace}}'
`)},
		"apps/db/app.yaml":           {Data: []byte("namespace: database\n")},
		"apps/db/kustomization.yaml": {Data: []byte("resources: [cluster.yaml]\n")},
		"apps/db/cluster.yaml":       {Data: []byte("apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: pg\nspec:\n  instances: 1\n")},
		"apps/nofile/cm.yaml":        {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")},
	}
	r, err := Scan(fsys, "mem")
	if err != nil {
		t.Fatal(err)
	}
	m := r.Model()
	if len(m.Problems) != 0 {
		t.Fatalf("problems: %q", m.Problems)
	}
	if d := m.Find(GroupCNPG, "Cluster", "database", "pg"); len(d) != 1 || d[0].By.Name != "db" {
		t.Errorf("Cluster database/pg: %+v", d)
	}
	if m.Deploys("apps/nofile/cm.yaml") {
		t.Error("a directory without the file the matrix needs is deployed")
	}
}
