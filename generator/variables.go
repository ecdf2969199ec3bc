package generator

import (
	"cmp"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// A route is a deployed value that reaches the source cluster through a Flux postBuild
// variable: the consumer's text says ${CNPG_NAME}-rw, the object Flux applies names the cluster.
type route struct {
	v    string           // the variable
	def  *overlays.Object // where the applier takes it from (ConfigMap, Secret, Kustomization)
	file string           // the consumer
	line int
	path string // the consumer value's key path
}

// varRoutes finds, on the deployed model, every value that reaches the cluster through a
// substitution variable.
func (g *gen) varRoutes(m matcher, excluded map[*yamledit.Doc]bool) []route {
	model := g.in.Repo.Model()
	if model == nil {
		return nil
	}
	var out []route
	for _, d := range model.Objects {
		if d.Source == nil || d.By == nil || excluded[d.Source.Doc] || len(d.By.Vars) == 0 {
			continue
		}
		ctx := d.Namespace
		if d.Kind == "HelmRelease" {
			ctx = cmp.Or(overlays.StringAt(d.Body, "spec", "targetNamespace"), ctx)
		}
		walk(d.Source.Doc.Root(), nil, func(n *yaml.Node, keys []string) {
			if !strings.Contains(n.Value, "${") {
				return
			}
			rendered, err := d.By.Substitute(n.Value)
			if err != nil || !m.refersIn(rendered, keys, ctx) {
				return
			}
			for _, v := range overlays.VarsIn(n.Value) {
				if strings.Contains(d.By.Vars[v], m.old) {
					out = append(out, route{v: v, def: d.By.Defs[v], file: d.File, line: n.Line, path: strings.Join(keys, ".")})
				}
			}
		})
	}
	return out
}

// refersIn says whether a rendered value names the cluster: a service host or secret name,
// or the bare name where a cluster is meant.
func (m matcher) refersIn(value string, keys []string, ctx string) bool {
	if refs, _ := m.refs(value, ctx); len(refs) > 0 {
		return true
	}
	return value == m.old && clusterKey(keys)
}

// clusterKey says whether a value at keys names a cluster: spec.cluster.name, a
// cnpg.io/cluster selector, or a key such as clusterName, existingCluster.
func clusterKey(keys []string) bool {
	if len(keys) == 0 {
		return false
	}
	last := strings.ToLower(keys[len(keys)-1])
	return strings.Contains(last, "cluster") && !strings.Contains(last, "issuer")
}

// variables turns the routes into edits of the variables' definitions — one edit, however
// many apps reach the cluster through it — or follow-ups where a definition can't move.
// It returns the consumers' files: the objects that move to the restored cluster.
func (g *gen) variables(m matcher, excluded map[*yamledit.Doc]bool) []string {
	routes := g.varRoutes(m, excluded)
	if len(routes) == 0 {
		return nil
	}
	ownVars := g.sourceVars(excluded)
	type key struct {
		def *overlays.Object
		v   string
	}
	byDef := map[key][]route{}
	var keys []key
	for _, r := range routes {
		k := key{r.def, r.v}
		if byDef[k] == nil {
			keys = append(keys, k)
		}
		byDef[k] = append(byDef[k], r)
	}
	var reached []string
	for _, k := range keys {
		rs := byDef[k]
		why := ""
		var node *yaml.Node
		switch {
		case ownVars[k.v] != "":
			why = fmt.Sprintf("the source cluster's own manifests use ${%s} too (%s): changing it would move the source", k.v, ownVars[k.v])
		case k.def == nil:
			why = fmt.Sprintf("${%s} is defined where the repository does not say", k.v)
		case k.def.Kind == "Secret":
			why = fmt.Sprintf("${%s} comes from Secret %s/%s (%s:%d), and secrets are never edited", k.v, k.def.Namespace, k.def.Name, k.def.File, k.def.Line)
		default:
			if node = definition(k.def, k.v); node == nil {
				why = fmt.Sprintf("${%s}'s definition in %s:%d is not a plain value", k.v, k.def.File, k.def.Line)
			}
		}
		if why != "" {
			for _, r := range rs {
				g.res.FollowUps = append(g.res.FollowUps, FollowUp{File: r.file, Line: r.line,
					Detail: fmt.Sprintf("%s reaches %s through ${%s}, but %s: make it name %s by hand", r.path, m.old, k.v, why, m.new)})
			}
			continue
		}
		if node.Value == m.old {
			g.defNodes[node] = true // the bare name: renamed whole by the scan
		}
		g.defDocs[k.def.Doc] = true
		var files []string
		for _, r := range rs {
			files = append(files, r.file)
		}
		files = sortedUnique(files)
		reached = append(reached, files...)
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("the substitution variable %s (%s %s, %s:%d) is cut over once for the %d value(s) that reach %s through it, in %s; Flux substitutes the new value when each of their Kustomizations next reconciles",
			k.v, k.def.Kind, k.def.Name, k.def.File, node.Line, len(rs), m.old, strings.Join(files, ", ")))
	}
	return sortedUnique(reached)
}

// definition is the scalar that defines v in def: a ConfigMap's data, a Kustomization's
// spec.postBuild.substitute.
func definition(def *overlays.Object, v string) *yaml.Node {
	root := def.Doc.Root()
	var n *yaml.Node
	if def.Kind == "ConfigMap" {
		n = get(root, "data", v)
	} else {
		n = get(root, "spec", "postBuild", "substitute", v)
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		return nil
	}
	return n
}

// sourceVars are the variables the source cluster's own documents use, each with where.
func (g *gen) sourceVars(excluded map[*yamledit.Doc]bool) map[string]string {
	out := map[string]string{}
	for _, o := range g.in.Repo.Objects {
		if !excluded[o.Doc] || !g.in.Repo.Deploys(o.File) {
			continue
		}
		walk(o.Doc.Root(), nil, func(n *yaml.Node, _ []string) {
			for _, v := range overlays.VarsIn(n.Value) {
				if out[v] == "" {
					out[v] = fmt.Sprintf("%s %s, %s:%d", o.Kind, o.Name, o.File, n.Line)
				}
			}
		})
	}
	return out
}

func sortedUnique(v []string) []string {
	sort.Strings(v)
	var out []string
	for i, s := range v {
		if i == 0 || s != v[i-1] {
			out = append(out, s)
		}
	}
	return out
}
