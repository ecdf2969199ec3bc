package generator

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// CleanupInput names the old cluster and the restored one that replaced it.
type CleanupInput struct {
	Repo     *overlays.Repo
	Source   *overlays.Source // the old cluster
	Restored string           // the restored cluster's name, in the same namespace
}

// Cleanup is the follow-up change once the restore is verified: it removes the old Cluster,
// its ScheduledBackups, the restore's verification Job and, when no other cluster uses it,
// its ObjectStore (a recovery-only ObjectStore stays: the restored cluster names it). It
// refuses while anything the application uses still names the old cluster. Backups in the
// object store are never touched.
func Cleanup(in CleanupInput) (*Result, error) {
	if in.Repo == nil || in.Source == nil || in.Restored == "" {
		return nil, errors.New("generator: repo, source and restored name are required")
	}
	ns, old := in.Source.Cluster.Namespace, in.Source.Cluster.Name
	if in.Restored == old {
		return nil, fmt.Errorf("the restored cluster has the old one's name (an in-place restore): there is nothing to clean up")
	}
	restored := in.Repo.Find(overlays.GroupCNPG, "Cluster", ns, in.Restored)
	if len(restored) != 1 || get(restored[0].Doc.Root(), "spec", "bootstrap", "recovery") == nil {
		return nil, fmt.Errorf("no restored Cluster %s/%s (with bootstrap.recovery) in the repository: merge the restore first, or name it with --new-name", ns, in.Restored)
	}
	g := &gen{in: Input{Repo: in.Repo, Source: in.Source, Phase: PhaseCutover, Restored: in.Restored},
		src: in.Source, ns: ns, old: old, name: in.Restored,
		work: map[string]*yamledit.File{}, orig: map[string][]byte{}, deleted: map[string]bool{}, fileNotes: map[string][]string{},
		res: &Result{Files: []File{}, Edits: []Edit{}, FollowUps: []FollowUp{}, Notes: []string{}}}
	if _, err := g.cutover(); err != nil {
		return nil, err
	}
	if n := len(g.res.Edits); n > 0 {
		var where []string
		for _, e := range g.res.Edits {
			where = append(where, fmt.Sprintf("%s:%d %s", e.File, e.Line, e.Old))
		}
		return nil, fmt.Errorf("%d reference(s) still name %s (%s): merge the cutover first (generate --phase cutover), then clean up", n, old, strings.Join(where, ", "))
	}
	followUps := g.res.FollowUps
	g.work, g.orig, g.res.FollowUps = map[string]*yamledit.File{}, map[string][]byte{}, followUps

	victims := []overlays.Object{in.Source.Cluster}
	victims = append(victims, g.sourceScheduledBackups()...)
	// The verification Job did its work before the cutover: it leaves with the old cluster (an
	// Argo CD hook would run it on every sync, Flux would re-create it after its TTL).
	victims = append(victims, in.Repo.Find("batch", "Job", ns, in.Restored+"-verify")...)
	victims = append(victims, in.Repo.Find("", "ConfigMap", ns, in.Restored+"-verify")...)
	if store := in.Source.ObjectStore; store != nil && !storeUsedElsewhere(in.Repo, *store, old) {
		victims = append(victims, *store)
	}
	for _, v := range victims {
		if err := g.removeDoc(v); err != nil {
			return nil, err
		}
	}
	for _, store := range in.Repo.Find(overlays.GroupBarmanCloud, "ObjectStore", ns, in.Restored+"-recovery") {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("the recovery-only ObjectStore %s (%s) stays: %s still names it in externalClusters, and the barman-cloud plugin stops reconciling a cluster whose ObjectStore is missing (plugin-barman-cloud#504); it has no retention policy and never writes",
			store.Name, store.File, in.Restored))
	}
	g.res.Notes = append(g.res.Notes,
		fmt.Sprintf("deleting the Cluster %s/%s deletes its pods and PVCs: merge only once %s is verified (data, row counts, application logins, a first backup)", ns, old, in.Restored),
		fmt.Sprintf("the old backups under %s/%s stay in the object store: delete them by hand when you no longer need them", in.Source.Catalog, in.Source.ServerName),
		"Flux deletes removed objects when the Kustomization has prune: true; Argo CD only when the application prunes (automated prune, or a manual sync with prune): otherwise delete the Cluster by hand")
	return g.finish()
}

// storeUsedElsewhere tells whether another cluster uses the ObjectStore (to archive or as a
// recovery source).
func storeUsedElsewhere(r *overlays.Repo, store overlays.Object, old string) bool {
	for _, o := range r.Objects {
		if !o.Is(overlays.GroupCNPG, "Cluster") || o.Namespace != store.Namespace || o.Name == old {
			continue
		}
		uses := false
		walk(o.Doc.Root(), nil, func(n *yaml.Node, keys []string) {
			if len(keys) > 0 && keys[len(keys)-1] == "barmanObjectName" && n.Value == store.Name {
				uses = true
			}
		})
		if uses {
			return true
		}
	}
	return false
}
