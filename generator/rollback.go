package generator

import (
	"fmt"
	"strings"
)

// Rollback says what reverting the change does to the restored cluster, derived from what the
// change writes (the sync options on the Cluster, the prune setting of the Flux Kustomization
// that applies it), and how to remove the restored cluster on purpose.
type Rollback struct {
	// Kept is set when a revert leaves the restored cluster running (and archiving).
	Kept bool `json:"kept"`
	// Revert and Remove are sentences for the pull request.
	Revert string `json:"revert"`
	Remove string `json:"remove"`
}

// Controllers that decide what a revert does.
const (
	keptByArgo = "argo"  // the Cluster carries Prune=false,Delete=false
	byUnknown  = ""      // nothing the tool can see applies the cluster
	keptByFlux = "flux"  // its own Flux Kustomization with prune: false
	fluxPrunes = "prune" // the source's Flux Kustomization, prune: true
	fluxKeeps  = "keep"  // the source's Flux Kustomization, prune unset or false
)

// rollback describes a revert of the restore change. how is one of the constants above; ks
// names the Flux Kustomization involved.
func (g *gen) rollback(how, ks string) {
	p := g.in.Plan
	cluster := fmt.Sprintf("`%s/%s`", g.ns, g.name)
	remove := fmt.Sprintf("after the revert, `kubectl delete cluster -n %s %s` (CloudNativePG deletes its volumes with it); its WAL and backups under server name `%s` stay in the bucket until you delete them.", g.ns, g.name, p.Restored.ServerName)
	var r Rollback
	back := "The cutover edits are undone, so the application points back at `" + g.old + "`"
	if g.name == g.old {
		back = "In place, a revert puts the source's manifest back on the same Cluster object: it does not bring the old data back, and it would make the restored cluster archive to the old server name `" + p.Source.ServerName + "` again. Fix forward instead of reverting"
	} else if g.in.Phase == PhaseRestore || g.res.TwoStep && len(g.res.Edits) == 0 {
		back = "Nothing else was changed, so the application keeps using `" + g.old + "`"
	}
	switch how {
	case keptByArgo:
		r.Kept = true
		lead := ". "
		if len(g.argoApplications()) == 0 {
			lead = ". If Argo CD applies this repo, "
		}
		r.Revert = back + lead + "Argo CD does not delete the restored Cluster " + cluster + ": it carries `argocd.argoproj.io/sync-options: Prune=false,Delete=false`, so it keeps running, and archiving, after the revert."
	case keptByFlux:
		r.Kept = true
		r.Revert = back + fmt.Sprintf(". Flux removes the Kustomization `%s`, but with `prune: false` it leaves the restored Cluster %s in place, so it keeps running, and archiving, after the revert.", ks, cluster)
	case fluxPrunes:
		r.Revert = back + fmt.Sprintf(". Flux deletes the restored Cluster %s, which its Kustomization `%s` applies with `prune: true`, and CloudNativePG deletes its volumes: the restored data is gone.", cluster, ks)
		remove = fmt.Sprintf("reverting this pull request removes it; its WAL and backups under server name `%s` stay in the bucket until you delete them.", p.Restored.ServerName)
	case fluxKeeps:
		r.Kept = true
		r.Revert = back + fmt.Sprintf(". The Flux Kustomization `%s` that applies the restored Cluster %s does not prune, so the cluster keeps running, and archiving, after the revert.", ks, cluster)
	default:
		r.Revert = back + fmt.Sprintf(". No Argo CD Application or Flux Kustomization in the repo applies the restored Cluster %s: whether a revert deletes it (and CloudNativePG its volumes) depends on how you apply the repo.", cluster)
	}
	r.Remove = remove
	g.res.Rollback = &r
}

// fluxPrune says whether a Flux Kustomization prunes (spec.prune: true).
func fluxPrune(prune string) bool { return strings.EqualFold(prune, "true") }
