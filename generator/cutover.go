package generator

import (
	"bytes"
	"cmp"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// A reference to the source cluster inside a string: a service host (<name>-rw, -ro, -r,
// bare or with .<ns>, .<ns>.svc, .<ns>.svc.cluster.local, and :port) or a secret name
// (<name>-app, <name>-superuser). Only the cluster name inside it is replaced.
type ref struct {
	start, end int    // the cluster name within the text
	full       string // the whole reference, for the record
	fullNew    string
}

var (
	serviceSuffixes = []string{"-rw", "-ro", "-r"}
	secretSuffixes  = []string{"-superuser", "-app", "-ca"}
)

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// matcher finds references to one cluster.
type matcher struct {
	old, new, ns string
}

// refs finds the references in text as seen from namespace ctx ("" when unknown); mentions
// counts the other places the bare cluster name appears as a word.
func (m matcher) refs(text, ctx string) (out []ref, mentions int) {
	sameNS := ctx == "" || ctx == m.ns
	for pos := 0; ; {
		i := strings.Index(text[pos:], m.old)
		if i < 0 {
			return out, mentions
		}
		i += pos
		pos = i + len(m.old)
		if i > 0 && (nameChar(text[i-1]) || text[i-1] == '.') {
			continue
		}
		rest := text[pos:]
		matched := false
		for _, sfx := range append(append([]string{}, secretSuffixes...), serviceSuffixes...) {
			if !strings.HasPrefix(rest, sfx) || len(rest) > len(sfx) && nameChar(rest[len(sfx)]) {
				continue
			}
			matched = true
			after := rest[len(sfx):]
			full := m.old + sfx
			secret := sfx == "-app" || sfx == "-superuser" || sfx == "-ca"
			if strings.HasPrefix(after, ".") {
				if secret {
					break // a file name such as pg-app.yaml, not a secret
				}
				host, ok := m.host(after)
				if !ok {
					break // another namespace's cluster of the same name, or not a host
				}
				full += host
				after = after[len(host):]
			} else if !sameNS {
				break // a bare name means the object's own namespace: not this cluster
			}
			if !secret {
				full += port(after)
			}
			out = append(out, ref{start: i, end: pos, full: full, fullNew: m.new + strings.TrimPrefix(full, m.old)})
			break
		}
		if !matched && (len(rest) == 0 || !nameChar(rest[0])) {
			mentions++
		}
	}
}

// host reads ".<ns>[.svc[.cluster.local]]" when <ns> is the cluster's namespace.
func (m matcher) host(s string) (string, bool) {
	for _, h := range []string{"." + m.ns + ".svc.cluster.local", "." + m.ns + ".svc", "." + m.ns} {
		if strings.HasPrefix(s, h) && (len(s) == len(h) || !nameChar(s[len(h)]) && s[len(h)] != '.') {
			return h, true
		}
	}
	return "", false
}

func port(s string) string {
	if !strings.HasPrefix(s, ":") {
		return ""
	}
	n := 1
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 1 {
		return ""
	}
	return s[:n]
}

func replaceRefs(text string, refs []ref, new string) string {
	var b strings.Builder
	last := 0
	for _, r := range refs {
		b.WriteString(text[last:r.start])
		b.WriteString(new)
		last = r.end
	}
	b.WriteString(text[last:])
	return b.String()
}

// A scalar to rewrite, with where it is.
type target struct {
	node     *yaml.Node
	raw      []ref // in the file's bytes, offsets absolute
	expected string
	edits    []Edit
	def      bool // in a substitution variable's definition
}

// cutover rewrites every reference the application makes to the source cluster, in place —
// through the substitution variable when that is how the application reaches it — and
// returns the files whose deployed objects move. What it can't rewrite safely becomes a
// follow-up.
func (g *gen) cutover() ([]string, error) {
	m := matcher{old: g.old, new: g.name, ns: g.ns}
	excluded := g.excludedDocs()
	edited := g.variables(m, excluded)
	for _, f := range g.in.Repo.Files {
		if !g.in.Repo.Deploys(f.Path) {
			continue // nothing applies it: an archive, a leftover, docs, CI
		}
		var targets []*target
		for _, doc := range f.Docs {
			if excluded[doc] || doc.Root() == nil {
				continue
			}
			kind, ctx := "", ""
			if o := g.in.Repo.ObjectOf(doc); o != nil {
				kind, ctx = o.Kind, contextNamespace(o)
			}
			walk(doc.Root(), nil, func(n *yaml.Node, keys []string) {
				g.scan(f, m, doc, kind, ctx, n, keys, &targets)
			})
		}
		if len(targets) == 0 {
			continue
		}
		if moved := g.applyTargets(f, targets); moved {
			edited = append(edited, f.Path)
		}
	}
	edited = sortedUnique(edited)
	sops := 0
	for _, sk := range g.in.Repo.Skipped {
		if !g.in.Repo.Deploys(sk.File) {
			continue
		}
		g.skippedMention(sk, m)
		if strings.HasPrefix(sk.Reason, "SOPS") {
			sops++
		}
	}
	if sops > 0 {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("%d SOPS-encrypted file(s) were not read: if one holds a host, connection string or password for %s, update it by hand", sops, m.old))
	}
	return edited, nil
}

// scan looks at one scalar.
func (g *gen) scan(f *yamledit.File, m matcher, doc *yamledit.Doc, kind, ctx string, n *yaml.Node, keys []string, targets *[]*target) {
	if n.Kind != yaml.ScalarNode || !strings.Contains(n.Value, m.old) {
		return
	}
	p := strings.Join(keys, ".")
	refsInValue, mentions := m.refs(n.Value, ctx)
	clusterField := n.Value == m.old && (g.defNodes[n] || (ctx == "" || ctx == m.ns) &&
		(p == "spec.cluster.name" && g.isCNPG(doc) || len(keys) > 0 && keys[len(keys)-1] == "cnpg.io/cluster"))
	if kind == "Secret" && (len(refsInValue) > 0 || clusterField) {
		g.res.FollowUps = append(g.res.FollowUps, FollowUp{File: f.Path, Line: n.Line,
			Detail: fmt.Sprintf("Secret %s (%s) refers to %s: secrets are never edited, update it through your secret manager", g.objName(doc), p, m.old)})
		return
	}
	if clusterField {
		refsInValue = []ref{{start: 0, end: len(m.old), full: m.old, fullNew: m.new}}
		mentions = 0
	}
	// The bare name is a reference only where a cluster is meant (clusterName: pg): a generic
	// name (postgres) is also a database, a user, a URL scheme, a path.
	if mentions > 0 && len(keys) > 0 && keys[0] != "metadata" && clusterKey(keys) {
		g.res.FollowUps = append(g.res.FollowUps, FollowUp{File: f.Path, Line: n.Line,
			Detail: fmt.Sprintf("%s mentions %s: not a service or secret name the tool knows; check whether it should name %s", p, m.old, m.new)})
	}
	if len(refsInValue) == 0 {
		return
	}
	start, end, ok := f.Span(n)
	var raw []ref
	if ok {
		text := string(f.Data[start:end])
		if clusterField {
			if text == m.old || text == `"`+m.old+`"` || text == "'"+m.old+"'" {
				off := strings.Index(text, m.old)
				raw = []ref{{start: off, end: off + len(m.old), full: m.old, fullNew: m.new}}
			}
		} else {
			raw, _ = m.refs(text, ctx)
		}
		for i := range raw {
			raw[i].start += start
			raw[i].end += start
		}
	}
	if !ok || len(raw) != len(refsInValue) {
		g.res.FollowUps = append(g.res.FollowUps, FollowUp{File: f.Path, Line: n.Line,
			Detail: fmt.Sprintf("%s refers to %s in a form the tool can't rewrite safely (escaped or split text): change it to %s by hand", p, refsInValue[0].full, refsInValue[0].fullNew)})
		return
	}
	t := &target{node: n, raw: raw, expected: replaceRefs(n.Value, refsInValue, m.new), def: g.defDocs[doc]}
	for _, r := range raw {
		t.edits = append(t.edits, Edit{File: f.Path, Line: f.Line(r.start), Old: r.full, New: r.fullNew})
	}
	*targets = append(*targets, t)
}

// applyTargets edits one file; it keeps only edits that read back as intended. It says
// whether the file's own objects move (edits beside variable definitions).
func (g *gen) applyTargets(f *yamledit.File, targets []*target) bool {
	try := func(ts []*target) ([]byte, error) {
		var reps []yamledit.Replacement
		want := map[*yaml.Node]string{}
		for _, t := range ts {
			for _, r := range t.raw {
				reps = append(reps, yamledit.Replacement{Start: r.start, End: r.end, New: g.name})
			}
			want[t.node] = t.expected
		}
		out, err := yamledit.Apply(f.Data, reps)
		if err != nil {
			return nil, err
		}
		return out, f.VerifyScalars(out, want)
	}
	out, err := try(targets)
	if err != nil {
		// Find the edits that don't verify; keep the others.
		var good []*target
		for _, t := range targets {
			if _, err := try([]*target{t}); err != nil {
				g.res.FollowUps = append(g.res.FollowUps, FollowUp{File: f.Path, Line: t.node.Line,
					Detail: fmt.Sprintf("rewriting %s here would change more than the name (%v): change it to %s by hand", t.edits[0].Old, err, t.edits[0].New)})
				continue
			}
			good = append(good, t)
		}
		if len(good) == 0 {
			return false
		}
		targets = good
		if out, err = try(good); err != nil {
			return false
		}
	}
	moved := false
	for _, t := range targets {
		g.res.Edits = append(g.res.Edits, t.edits...)
		moved = moved || !t.def
	}
	g.put(f.Path, out)
	return moved
}

// excludedDocs are the documents the cutover leaves alone: the source cluster and what
// belongs to it (its ScheduledBackups, its ObjectStore, Backups), and other Clusters.
func (g *gen) excludedDocs() map[*yamledit.Doc]bool {
	ex := map[*yamledit.Doc]bool{}
	for _, o := range g.in.Repo.Objects {
		cnpg := o.Group() == overlays.GroupCNPG
		switch {
		case cnpg && (o.Kind == "Cluster" || o.Kind == "Backup"):
			ex[o.Doc] = true
		case cnpg && o.Kind == "ScheduledBackup" && overlays.StringAt(o.Body, "spec", "cluster", "name") == g.old:
			ex[o.Doc] = true
		case g.src.ObjectStore != nil && o.Doc == g.src.ObjectStore.Doc:
			ex[o.Doc] = true
		}
	}
	return ex
}

func (g *gen) isCNPG(doc *yamledit.Doc) bool {
	o := g.in.Repo.ObjectOf(doc)
	return o != nil && o.Group() == overlays.GroupCNPG
}

func (g *gen) objName(doc *yamledit.Doc) string {
	o := g.in.Repo.ObjectOf(doc)
	if o == nil {
		return "?"
	}
	return o.Namespace + "/" + o.Name
}

// contextNamespace is the namespace a bare name inside the object resolves in.
func contextNamespace(o *overlays.Object) string {
	root := o.Doc.Root()
	switch {
	case o.Is(overlays.GroupFluxHelm, "HelmRelease"):
		return cmp.Or(str(root, "spec", "targetNamespace"), o.Namespace)
	case o.Is(overlays.GroupArgoCD, "Application"):
		return str(root, "spec", "destination", "namespace")
	}
	return o.Namespace
}

// walk visits every value node (not mapping keys) with its key path.
func walk(n *yaml.Node, keys []string, fn func(*yaml.Node, []string)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], append(keys[:len(keys):len(keys)], n.Content[i].Value), fn)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			walk(c, append(keys[:len(keys):len(keys)], "[]"), fn)
		}
	case yaml.ScalarNode:
		fn(n, keys)
	}
}

// skippedMention lists the files the scan could not read that mention the cluster.
func (g *gen) skippedMention(sk overlays.Skip, m matcher) {
	data := sk.Data
	if !bytes.Contains(data, []byte(m.old)) {
		return
	}
	refs, mentions := m.refs(string(data), "")
	if len(refs) == 0 && mentions == 0 {
		return
	}
	lines := map[int]bool{}
	for _, r := range refs {
		lines[bytes.Count(data[:r.start], []byte("\n"))+1] = true
	}
	var at []string
	for l := range lines {
		at = append(at, fmt.Sprint(l))
	}
	sort.Strings(at)
	detail := fmt.Sprintf("mentions %s but was not read (%s): check it by hand", m.old, sk.Reason)
	if len(at) > 0 {
		detail = fmt.Sprintf("refers to %s on line(s) %s but was not read (%s): change it by hand", m.old, strings.Join(at, ", "), sk.Reason)
	}
	g.res.FollowUps = append(g.res.FollowUps, FollowUp{File: sk.File, Detail: detail})
}
