package overlays

import "strings"

// API groups of the objects the tool reads, in one place.
const (
	GroupCNPG          = "postgresql.cnpg.io"          // Cluster, ScheduledBackup, Pooler, Database
	GroupBarmanCloud   = "barmancloud.cnpg.io"         // the plugin's ObjectStore
	GroupFluxKustomize = "kustomize.toolkit.fluxcd.io" // Flux Kustomization
	GroupFluxSource    = "source.toolkit.fluxcd.io"    // Flux GitRepository
	GroupFluxHelm      = "helm.toolkit.fluxcd.io"      // Flux HelmRelease
	GroupArgoCD        = "argoproj.io"                 // Argo CD Application, ApplicationSet
	// BarmanCloudPlugin is the barman-cloud plugin's name in a Cluster's spec.plugins.
	BarmanCloudPlugin = "barman-cloud.cloudnative-pg.io"
)

// Group is the object's API group ("" for the core group).
func (o Object) Group() string {
	g, _, ok := strings.Cut(o.APIVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// Is says whether the object is of the API group and one of the kinds.
func (o Object) Is(group string, kinds ...string) bool {
	if o.Group() != group {
		return false
	}
	for _, k := range kinds {
		if o.Kind == k {
			return true
		}
	}
	return false
}

// IsKustomization says whether a repo path is a kustomization file (the names kustomize reads).
func IsKustomization(p string) bool {
	switch p[strings.LastIndex(p, "/")+1:] {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}
