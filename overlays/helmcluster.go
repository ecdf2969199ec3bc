package overlays

import (
	"cmp"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// HelmCluster is a CloudNativePG Cluster that the cloudnative-pg "cluster" Helm chart renders:
// the tool renders no chart, so it is found by the release that installs it.
type HelmCluster struct {
	Namespace, Name string // the Cluster the chart makes (its fullname)
	// Via names the release: "Flux HelmRelease database/pg (apps/pg/helmrelease.yaml:1)".
	Via string
	// Values are the release's inline values.
	Values map[string]any
}

// cnpgChart says whether a chart reference is CloudNativePG's cluster chart.
func cnpgChart(repoURL, chart string) bool {
	return chart == "cluster" && strings.Contains(repoURL, "cloudnative-pg")
}

// HelmClusters are the Clusters the deployed releases of the cloudnative-pg cluster chart
// make: Flux HelmReleases, Argo CD Applications and kustomize helmCharts.
func (r *Repo) HelmClusters() []HelmCluster {
	var out []HelmCluster
	repos := map[string]string{} // namespace/name of a HelmRepository or OCIRepository → its URL
	for _, o := range r.Deployed() {
		if o.Kind == "HelmRepository" || o.Kind == "OCIRepository" {
			repos[o.Namespace+"/"+o.Name] = str(o.Body, "spec", "url")
		}
	}
	for _, o := range r.Deployed() {
		switch {
		case o.Is(GroupFluxHelm, "HelmRelease"):
			chart := str(o.Body, "spec", "chart", "spec", "chart")
			ref := "spec.chart.spec.sourceRef"
			ns, name := str(o.Body, "spec", "chart", "spec", "sourceRef", "namespace"), str(o.Body, "spec", "chart", "spec", "sourceRef", "name")
			if chart == "" { // spec.chartRef: an OCIRepository of the chart itself
				ref, chart = "spec.chartRef", "cluster"
				ns, name = str(o.Body, "spec", "chartRef", "namespace"), str(o.Body, "spec", "chartRef", "name")
			}
			url := repos[cmp.Or(ns, o.Namespace)+"/"+name]
			ociChart := ref == "spec.chartRef" && strings.HasSuffix(url, "cloudnative-pg/charts/cluster")
			if !cnpgChart(url, chart) && !ociChart {
				continue
			}
			target := str(o.Body, "spec", "targetNamespace")
			release := str(o.Body, "spec", "releaseName")
			if release == "" {
				release = o.Name
				if target != "" {
					release = target + "-" + o.Name // Flux's default release name
				}
			}
			values, _ := spec(o.Body)["values"].(map[string]any)
			out = append(out, helmCluster(cmp.Or(target, o.Namespace), release, values,
				fmt.Sprintf("Flux HelmRelease %s/%s (%s:%d)", o.Namespace, o.Name, o.File, o.Line)))
		case o.Is(GroupArgoCD, "Application"):
			for _, src := range argoSources(spec(o.Body)) {
				if !cnpgChart(str(src, "repoURL"), str(src, "chart")) {
					continue
				}
				helm, _ := src["helm"].(map[string]any)
				values, _ := helm["valuesObject"].(map[string]any)
				if values == nil {
					_ = yaml.Unmarshal([]byte(str(helm, "values")), &values)
				}
				out = append(out, helmCluster(str(o.Body, "spec", "destination", "namespace"), cmp.Or(str(helm, "releaseName"), o.Name), values,
					fmt.Sprintf("Argo CD Application %s/%s (%s:%d)", o.Namespace, o.Name, o.File, o.Line)))
			}
		}
	}
	for _, k := range r.Kustomizations() {
		if m := r.Model(); m != nil && len(m.Appliers) > 0 && !m.Deploys(k.File.Path) {
			continue
		}
		var body struct {
			Namespace  string `json:"namespace"`
			HelmCharts []struct {
				Name, Repo, ReleaseName, Namespace string
				ValuesInline                       map[string]any `json:"valuesInline"`
			} `json:"helmCharts"`
		}
		if err := yaml.Unmarshal(k.File.Data, &body); err != nil {
			continue
		}
		for _, c := range body.HelmCharts {
			if cnpgChart(c.Repo, c.Name) {
				out = append(out, helmCluster(cmp.Or(c.Namespace, body.Namespace), cmp.Or(c.ReleaseName, c.Name), c.ValuesInline,
					fmt.Sprintf("kustomize helmCharts in %s", k.File.Path)))
			}
		}
	}
	return out
}

// helmCluster names the Cluster as the chart's cluster.fullname does: fullnameOverride, else
// the release name when it contains the chart name (nameOverride or "cluster"), else
// <release>-<name>.
func helmCluster(namespace, release string, values map[string]any, via string) HelmCluster {
	name, _ := values["fullnameOverride"].(string)
	if name == "" {
		chart, _ := values["nameOverride"].(string)
		chart = cmp.Or(chart, "cluster")
		name = release
		if !strings.Contains(release, chart) {
			name = release + "-" + chart
		}
	}
	if ns, _ := values["namespaceOverride"].(string); ns != "" {
		namespace = ns
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return HelmCluster{Namespace: namespace, Name: strings.TrimSuffix(name, "-"), Via: via, Values: values}
}

// Explain is what restoring a chart-rendered Cluster takes, with the chart's own recovery values.
func (h HelmCluster) Explain() string {
	return fmt.Sprintf("Cluster %s/%s is rendered by CloudNativePG's cluster Helm chart through %s, and this tool renders no Helm chart. "+
		"Restore it with the chart: a second release of it whose values say mode: recovery, recovery.method: object_store, "+
		"recovery.clusterName: the server name the source archives under, recovery.provider and its bucket, path and credentials "+
		"as the source's backups section, recovery.pitrTarget.time for a point in time, and a backups path of its own (the chart's docs/Recovery.md); "+
		"check the target first with cnpg-restore-gen plan --catalog <the source's destinationPath> --server-name <its server name>",
		h.Namespace, h.Name, h.Via)
}
