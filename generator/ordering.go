package generator

import (
	"cmp"
	"fmt"
	"path"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/human"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// order is how the GitOps controller is made to apply the restored cluster before the
// cutover.
type order struct {
	argo bool
	// flux is set when Flux Kustomizations apply the repo: the restore gets its own.
	flux *fluxOrder
}

type fluxOrder struct {
	cluster   overlays.Object   // the Flux Kustomization that applies the source cluster
	dependers []overlays.Object // those that apply cutover edits: they dependsOn the restore
	// selfManaged are dependers that apply themselves (flux-system): never made to wait.
	selfManaged []overlays.Object
}

func (g *gen) fluxKustomizations() []overlays.Object {
	var out []overlays.Object
	for _, o := range g.in.Repo.Objects {
		if o.Is(overlays.GroupFluxKustomize, "Kustomization") && str(o.Doc.Root(), "spec", "path") != "" {
			out = append(out, o)
		}
	}
	return out
}

func (g *gen) argoApplications() []overlays.Object {
	var out []overlays.Object
	for _, o := range g.in.Repo.Objects {
		if o.Is(overlays.GroupArgoCD, "Application", "ApplicationSet") {
			out = append(out, o)
		}
	}
	return out
}

func fluxPath(o overlays.Object) []string { return []string{str(o.Doc.Root(), "spec", "path")} }

func argoPaths(o overlays.Object) []string {
	root := o.Doc.Root()
	var out []string
	if p := str(root, "spec", "source", "path"); p != "" {
		out = append(out, p)
	}
	if srcs := get(root, "spec", "sources"); srcs != nil {
		for _, s := range srcs.Content {
			if p := str(s, "path"); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// fluxApplier is the Flux Kustomization that deploys the object declared at file:line: from
// the deployment model, or by path without one.
func (g *gen) fluxApplier(file string, line int) (*overlays.Applier, bool) {
	if m := g.in.Repo.Model(); m != nil && len(m.Appliers) > 0 {
		a := g.in.Repo.AppliedBy(file, line)
		return a, a != nil && !a.Argo
	}
	c, ok := overlays.Owner(file, g.fluxKustomizations(), fluxPath)
	if !ok {
		return nil, false
	}
	self, _ := overlays.Owner(c.File, g.fluxKustomizations(), fluxPath)
	a := &overlays.Applier{Object: c, Namespace: c.Namespace, Name: c.Name}
	if self.Name != c.Name || self.Namespace != c.Namespace {
		a.Parent = &overlays.Applier{Object: self}
	}
	return a, true
}

// fluxAppliers are the Flux Kustomizations that deploy (or read) a file.
func (g *gen) fluxAppliers(file string) []*overlays.Applier {
	if m := g.in.Repo.Model(); m != nil && len(m.Appliers) > 0 {
		var out []*overlays.Applier
		for _, a := range m.AppliersOf(file) {
			if !a.Argo {
				out = append(out, a)
			}
		}
		return out
	}
	if a, ok := g.fluxApplier(file, 0); ok {
		return []*overlays.Applier{a}
	}
	return nil
}

// ordering decides how the restore is ordered before the cutover, and notes what the
// reviewer must know about it.
func (g *gen) ordering(edited []string) order {
	var o order
	fluxKS := g.fluxKustomizations()
	apps := g.argoApplications()
	o.argo = len(apps) > 0 || len(fluxKS) == 0
	if len(fluxKS) > 0 {
		if c, ok := g.fluxApplier(g.src.Cluster.File, g.src.Cluster.Line); ok {
			o.flux = &fluxOrder{cluster: c.Object}
			seen := map[string]bool{}
			for _, f := range edited {
				for _, d := range g.fluxAppliers(f) {
					if seen[d.Object.Namespace+"/"+d.Object.Name] {
						continue
					}
					seen[d.Object.Namespace+"/"+d.Object.Name] = true
					o.flux.dependers = append(o.flux.dependers, d.Object)
					if d.Parent == nil {
						// Flux's own Kustomization applies itself: it must never wait for a
						// database, or a failed restore stops every change to the cluster.
						o.flux.selfManaged = append(o.flux.selfManaged, d.Object)
					}
				}
			}
		}
	}
	if o.argo && g.in.Phase == PhaseAll && len(edited) > 0 {
		app, others := g.argoApps(apps, edited)
		if len(others) > 0 {
			// Sync waves order the resources of one Application: across Applications Argo CD
			// gives no order, so the cutover is a second change.
			g.dropCutover(fmt.Sprintf("the restored cluster is applied by Argo CD application %s and the cutover by %s; sync waves order resources within one application, never across applications", app, strings.Join(others, ", ")))
			return o
		}
		lead, in := "", ","
		if len(apps) == 0 {
			lead = "If Argo CD applies this repo as one Application: "
		}
		if app != "" {
			in = " of " + app + ", the one application that applies both,"
		}
		waves := "Argo CD applies the restored Cluster in sync wave -1 and the cutover in wave 0" + in + " so the application moves only once the cluster is healthy."
		if !g.in.Verify.Off {
			waves = "Argo CD applies the restored Cluster in sync wave -2, runs the verification Job as a Sync hook in wave -1 and applies the cutover in wave 0" + in + " so the application moves only once the cluster is healthy and its data passed the checks."
		}
		g.res.Notes = append(g.res.Notes, lead+waves+" Argo CD has a built-in health check for CloudNativePG Clusters only from v3.1: older versions need one in argocd-cm (resource.customizations.health.postgresql.cnpg.io_Cluster), or the waves won't wait.")
	}
	return o
}

// argoApps names the Argo CD application that applies the source cluster (where the
// restored one goes) and the others that apply cutover edits: from the deployment model
// (each ApplicationSet-generated app on its own), or by path without one.
func (g *gen) argoApps(apps []overlays.Object, edited []string) (string, []string) {
	var others []string
	if m := g.in.Repo.Model(); m != nil {
		if c := g.in.Repo.AppliedBy(g.src.Cluster.File, g.src.Cluster.Line); c != nil && c.Argo {
			for _, f := range edited {
				for _, a := range m.AppliersOf(f) {
					if a != c && a.Argo {
						others = append(others, a.Name)
					}
				}
			}
			return c.Name, sortedUnique(others)
		}
	}
	c, ok := overlays.Owner(g.src.Cluster.File, apps, argoPaths)
	if !ok {
		return "", nil
	}
	for _, f := range edited {
		if a, ok := overlays.Owner(f, apps, argoPaths); ok && a.Name != c.Name {
			others = append(others, a.Name)
		}
	}
	return c.Name, sortedUnique(others)
}

// fluxSplit gives the restored cluster its own Flux Kustomization, with a health check on the
// Cluster's Ready condition, and makes every Kustomization holding cutover edits depend on
// it. When the new Kustomization would be applied by one that depends on it, the layout
// can't order the two in one change: the restore goes first and the cutover follows.
func (g *gen) fluxSplit(o order) error {
	c := o.flux.cluster
	ksName := g.name
	for _, k := range g.fluxKustomizations() {
		if k.Name == ksName && k.Namespace == c.Namespace {
			return fmt.Errorf("a Flux Kustomization %s/%s already exists: pass another --new-name", c.Namespace, ksName)
		}
	}
	ksFile := path.Join(path.Dir(c.File), g.name+".yaml")
	// The new Kustomization is listed where the source's is: the same applier deploys it.
	appliers := g.fluxAppliers(c.File)
	deadlock := len(appliers) == 0
	for _, d := range o.flux.dependers {
		for _, a := range appliers {
			if d.Name == a.Object.Name && d.Namespace == a.Object.Namespace {
				deadlock = true
			}
		}
	}
	if g.tmpl != nil && deadlock {
		// A templated source has no kustomization of its own to put the overlay in: the
		// restore keeps its own Kustomization, and the cutover waits for a second change.
		g.dropCutover(fmt.Sprintf("the restore's own Flux Kustomization %s would be applied by a Kustomization that must wait for it", ksName))
		return g.fluxOwnKustomization(o, ksName, ksFile, nil)
	}
	if len(o.flux.selfManaged) > 0 && !deadlock {
		s := o.flux.selfManaged[0]
		g.dropCutover(fmt.Sprintf("the cutover edits files that Flux Kustomization %s/%s applies, and it applies itself (Flux's own): it is never made to wait for a database", s.Namespace, s.Name))
		return g.fluxOwnKustomization(o, ksName, ksFile, nil)
	}
	if deadlock || len(o.flux.dependers) == 0 && g.in.Phase == PhaseAll && len(g.res.Edits) > 0 {
		// Restore first: the overlay goes where the source cluster is, the cutover waits.
		g.dropCutover(fmt.Sprintf("Flux Kustomization %s applies both the cluster and the application, and a Kustomization of its own for the restore would be applied by the one that must wait for it", c.Name))
		how := fluxKeeps
		if fluxPrune(str(c.Doc.Root(), "spec", "prune")) {
			how = fluxPrunes
		}
		g.rollback(how, c.Namespace+"/"+c.Name)
		return g.wire()
	}
	return g.fluxOwnKustomization(o, ksName, ksFile, o.flux.dependers)
}

// fluxOwnKustomization writes the restore's own Flux Kustomization, a copy of the source
// cluster's settings (source, dependsOn, retries, decryption, substitution), and makes each of
// dependers wait for it.
func (g *gen) fluxOwnKustomization(o order, ksName, ksFile string, dependers []overlays.Object) error {
	c := o.flux.cluster
	root := c.Doc.Root()
	spec := mapping(
		"interval", cmp.Or(str(root, "spec", "interval"), "10m"),
		"path", "./"+g.overlay,
		"prune", false,
		"sourceRef", deepCopy(get(root, "spec", "sourceRef")),
		"wait", true,
		"timeout", g.fluxTimeout(str(root, "spec", "timeout")),
	)
	// What the source's Kustomization waits for (the operator, the plugin, storage) the
	// restore waits for too.
	for _, k := range []string{"dependsOn", "retryInterval", "decryption", "postBuild", "serviceAccountName", "kubeConfig"} {
		if v := get(root, "spec", k); v != nil {
			set(spec, k, deepCopy(v))
		}
	}
	set(spec, "healthCheckExprs", sequence(mapping(
		"apiVersion", cnpgAPI,
		"kind", "Cluster",
		"current", "status.conditions.exists(e, e.type == 'Ready' && e.status == 'True')",
	)))
	ks := mapping("apiVersion", str(root, "apiVersion"), "kind", "Kustomization",
		"metadata", mapping("name", ksName, "namespace", c.Namespace), "spec", spec)
	ks.HeadComment = fmt.Sprintf("# The restored cluster %s/%s, applied on its own so that what depends on it waits\n# until CloudNativePG reports it Ready. prune: false: removing this never deletes the database.", g.ns, g.name)
	b, err := encode(ks)
	if err != nil {
		return err
	}
	g.put(ksFile, b)
	if k, _ := g.in.Repo.IncludedBy(c.File); k != nil {
		entry := overlays.Relative(k.Dir, ksFile)
		g.note(k.File.Path, "includes the Flux Kustomization "+entry)
		if err := g.addResource(k.File.Path, entry); err != nil {
			return err
		}
	}
	for _, d := range dependers {
		f := g.current(d.File)
		item := map[string]any{"name": ksName}
		if d.Namespace != c.Namespace {
			item["namespace"] = c.Namespace
		}
		var doc *yamledit.Doc
		for _, x := range f.Docs {
			if r := x.Root(); r != nil && str(r, "kind") == "Kustomization" && str(r, "metadata", "name") == d.Name {
				doc = x
			}
		}
		out, err := f.AddListItem(doc, []string{"spec", "dependsOn"}, item)
		if err != nil {
			return fmt.Errorf("while making Flux Kustomization %s depend on %s: %w", d.Name, ksName, err)
		}
		g.put(d.File, out)
		g.note(d.File, fmt.Sprintf("Flux Kustomization %s waits for %s", d.Name, ksName))
	}
	g.rollback(keptByFlux, c.Namespace+"/"+ksName)
	g.fluxKS = c.Namespace + "/" + ksName
	g.res.Notes = append(g.res.Notes, fmt.Sprintf("Flux applies the restored cluster through its own Kustomization %s/%s (health check on the Cluster's Ready condition; healthCheckExprs need Flux v2.5 or later)", c.Namespace, ksName))
	if g.tmpl != nil {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("the source cluster is rendered by %s from %s, which other apps may share: the restored cluster is a concrete copy of it as Flux renders it (variables substituted) in %s/, and the shared file is not touched, so nothing else that uses it changes",
			g.tmpl, g.src.Cluster.File, g.overlay))
	}
	return nil
}

// fluxTimeout is how long Flux waits for the cluster: three times the estimate, at least 30m,
// and never less than the source's Kustomization allows (its timeout, a Go duration).
func (g *gen) fluxTimeout(source string) *yaml.Node {
	minutes := g.timeoutMinutes(source)
	var n *yaml.Node
	switch d, err := time.ParseDuration(source); {
	case err == nil && d%time.Minute == 0 && int(d.Minutes()) == minutes:
		n = scalar(source)
		n.LineComment = "# the source's own timeout, longer than three times the estimated recovery"
		return n
	case minutes%60 == 0:
		n = scalar(fmt.Sprintf("%dh", minutes/60))
	default:
		n = scalar(fmt.Sprintf("%dm", minutes))
	}
	if e := g.in.Plan.Estimate; e != nil {
		n.LineComment = fmt.Sprintf("# three times the estimated recovery (%s), at least 30m", human.Seconds(e.Seconds))
	}
	return n
}

// timeoutMinutes is how long the restore may take before the controller (and the verification
// Job) give up: three times the estimate, at least 30 minutes, and never less than the source's
// Kustomization allows (its timeout, a Go duration; "" when there is none).
func (g *gen) timeoutMinutes(source string) int {
	minutes := 30
	if e := g.in.Plan.Estimate; e != nil && e.Seconds*3/60+1 > minutes {
		minutes = e.Seconds*3/60 + 1
	}
	if d, err := time.ParseDuration(source); err == nil && int(d.Minutes()) > minutes {
		minutes = int(d.Minutes())
		if d%time.Minute != 0 {
			minutes++
		}
	}
	return minutes
}

// dropCutover turns the cutover into a second step.
func (g *gen) dropCutover(why string) {
	for p := range g.orig {
		if len(g.fileNotes[p]) == 0 && g.orig[p] != nil {
			delete(g.work, p)
			delete(g.orig, p)
		}
	}
	n := len(g.res.Edits)
	g.res.Edits = []Edit{}
	if n > 0 {
		g.res.TwoStep = true
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("TWO STEPS: %s. This change restores the cluster only; once it is Ready, run generate again with --phase cutover (and the same --new-name) for the %d cutover edit(s).", why, n))
	}
}
