package overlays

import (
	"strings"
	"testing"

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
