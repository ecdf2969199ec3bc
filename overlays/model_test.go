package overlays

import (
	"strings"
	"testing"
)

// TestModelRendersTheK8sAtHomeLayout: Flux's own Kustomization applies cluster-apps, which
// applies one Kustomization per app (in flux-system, each with its targetNamespace); the
// database app takes its Cluster from a shared Component, named ${APP}${PG_VERSION}, and its
// bucket from a ConfigMap through substituteFrom. The archived copy is deployed by nothing.
func TestModelRendersTheK8sAtHomeLayout(t *testing.T) {
	r, err := ScanDir("testdata/repos/flux-ks-per-app")
	if err != nil {
		t.Fatal(err)
	}
	m := r.Model()
	if m == nil {
		t.Fatal("Model() = nil for a Flux repository")
	}
	var names []string
	for _, a := range m.Appliers {
		names = append(names, a.Namespace+"/"+a.Name)
	}
	if got := strings.Join(names, " "); got != "flux-system/flux-system flux-system/cluster-apps flux-system/pg flux-system/authentik" {
		t.Errorf("appliers = %s", got)
	}
	clusters := m.Find(GroupCNPG, "Cluster", "database", "pg16")
	if len(clusters) != 1 {
		t.Fatalf("Find(Cluster database/pg16) = %d objects; problems: %v", len(clusters), m.Problems)
	}
	c := clusters[0]
	if c.File != "kubernetes/components/cnpg/cluster.yaml" || c.Source == nil || c.Source.Name != "${APP}${PG_VERSION}" || c.By.Name != "pg" {
		t.Errorf("Cluster database/pg16 from %s (source %+v) by %s", c.File, c.Source, c.By)
	}
	if img := str(c.Body, "spec", "imageName"); img != "ghcr.io/cloudnative-pg/postgresql:16" {
		t.Errorf("imageName = %q after substitution", img)
	}
	stores := m.Find(GroupBarmanCloud, "ObjectStore", "database", "pg-s3")
	if len(stores) != 1 || str(stores[0].Body, "spec", "configuration", "destinationPath") != "s3://home-pg-backups/pg" {
		t.Errorf("ObjectStore database/pg-s3 = %+v", stores)
	}
	if m.Deploys("archive/old-db/cluster.yaml") || !m.Deploys("kubernetes/apps/auth/authentik/app/helmrelease.yaml") {
		t.Errorf("Deploys(archive) = %v, Deploys(helmrelease) = %v; want false, true", m.Deploys("archive/old-db/cluster.yaml"), m.Deploys("kubernetes/apps/auth/authentik/app/helmrelease.yaml"))
	}
	var apps *Applier
	for _, a := range m.Appliers {
		if a.Name == "cluster-apps" {
			apps = a
		}
	}
	if apps == nil || len(apps.Unknown) != 1 || !strings.Contains(apps.Unknown[0], "Secret flux-system/cluster-secrets (SOPS-encrypted") {
		t.Errorf("cluster-apps unknown = %v, want the SOPS secret", apps.Unknown)
	}
}

// TestFindSourceOnTheModel: the Cluster is found under its deployed name and namespace
// (targetNamespace, ${APP}${PG_VERSION}), its catalog comes out substituted, and the archived
// copy of the same cluster, which nothing deploys, is not a duplicate.
func TestFindSourceOnTheModel(t *testing.T) {
	r, err := ScanDir("testdata/repos/flux-ks-per-app")
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.FindSource("database", "pg16")
	if err != nil {
		t.Fatal(err)
	}
	if s.Catalog != "s3://home-pg-backups/pg" || s.EndpointURL != "https://nas.home.arpa:9000" || s.ServerName != "pg16" || !s.Plugin {
		t.Errorf("FindSource(database, pg16) = catalog %q endpoint %q server %q plugin %v", s.Catalog, s.EndpointURL, s.ServerName, s.Plugin)
	}
	if s.Cluster.File != "kubernetes/components/cnpg/cluster.yaml" || s.Cluster.Namespace != "database" {
		t.Errorf("cluster declared at %s in namespace %q", s.Cluster.File, s.Cluster.Namespace)
	}
}
