// Package overlays reads the GitOps repository: every YAML object with where it is declared,
// the source Cluster and where it archives (its ObjectStore or barmanObjectStore), the
// kustomizations that include each file, and the branches the GitOps controllers follow. It
// reads the file system it is given; it never talks to a cluster.
package overlays

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
)

// Object is one Kubernetes object found in the repo.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string // metadata.namespace, else the namespace of the kustomization above it
	Name       string
	File       string // relative to the repo root, with "/"
	Line       int    // where the document starts
	Body       map[string]any
	Doc        *yamledit.Doc // the document, for edits
}

func (o Object) String() string {
	return fmt.Sprintf("%s %s/%s (%s:%d)", o.Kind, o.Namespace, o.Name, o.File, o.Line)
}

// Skip is a file the scan could not read, and why; it is never rewritten.
type Skip struct {
	File   string
	Reason string
	Data   []byte `json:"-"` // the bytes, to look for references the tool won't rewrite
}

// Repo is what Scan found.
type Repo struct {
	// Root names the repository in messages (the checkout's directory).
	Root    string
	fsys    fs.FS
	objects map[*yamledit.Doc]*Object
	// model is what the GitOps controller deploys, rendered on first use.
	modelOnce    sync.Once
	model        *Model
	deployedOnce sync.Once
	deployedObjs []Object
	Objects      []Object
	Skipped      []Skip
	// Files are the YAML files read, byte for byte, in path order.
	Files []*yamledit.File
}

// ObjectOf returns the Kubernetes object a document of the repo holds, or nil.
func (r *Repo) ObjectOf(doc *yamledit.Doc) *Object { return r.objects[doc] }

// File returns the file at a repo-relative path, or nil.
func (r *Repo) File(path string) *yamledit.File {
	for _, f := range r.Files {
		if f.Path == path {
			return f
		}
	}
	return nil
}

// maxManifest caps the size of a file the scan reads.
const maxManifest = 4 << 20

// ScanDir scans the checkout in dir. It reads through an os.Root, so no symlink leads it
// out of dir.
func ScanDir(dir string) (*Repo, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("repository %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	defer func() { _ = root.Close() }()
	r, err := Scan(root.FS(), dir)
	if err == nil {
		r.fsys = os.DirFS(dir) // for Exists (Lstat only), after the root is closed
	}
	return r, err
}

// Scan reads every .yaml/.yml file of fsys (not .git), decoding multi-document files; name is
// what messages call the repository (its directory). Files it cannot read as plain manifests
// — Helm templates, SOPS-encrypted files, invalid YAML — are listed in Skipped and otherwise
// left alone. Symlinks are never followed (fsys should implement fs.ReadLinkFS to say where
// they point).
func Scan(fsys fs.FS, name string) (*Repo, error) {
	r := &Repo{Root: name, fsys: fsys, objects: map[*yamledit.Doc]*Object{}}
	namespaces := map[string]string{} // directory → kustomization namespace
	err := fs.WalkDir(fsys, ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" {
				return fs.SkipDir
			}
			return nil
		}
		ext := strings.ToLower(path.Ext(rel))
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			r.Skipped = append(r.Skipped, symlinkSkip(fsys, rel))
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > maxManifest {
			r.Skipped = append(r.Skipped, Skip{File: rel, Reason: fmt.Sprintf("larger than %d bytes", maxManifest)})
			return nil
		}
		data, err := fs.ReadFile(fsys, rel)
		if err != nil {
			return err
		}
		r.readFile(rel, data, namespaces)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("while reading repository %s: %w", name, err)
	}
	// Namespaces from the nearest kustomization above each object without one.
	for i := range r.Objects {
		o := &r.Objects[i]
		r.objects[o.Doc] = o
		if o.Namespace != "" {
			continue
		}
		for dir := filepath.ToSlash(filepath.Dir(o.File)); ; dir = filepath.ToSlash(filepath.Dir(dir)) {
			if ns, ok := namespaces[dir]; ok && ns != "" {
				o.Namespace = ns
				break
			}
			if dir == "." || dir == "/" {
				break
			}
		}
	}
	return r, nil
}

func (r *Repo) readFile(rel string, data []byte, namespaces map[string]string) {
	if bytes.Contains(data, []byte("\nsops:")) && bytes.Contains(data, []byte("ENC[")) {
		r.Skipped = append(r.Skipped, Skip{rel, "SOPS-encrypted: never read or rewritten", data})
		return
	}
	// "{{ }}" alone is no Helm chart: External Secrets Operator's templates, Prometheus
	// annotations and HelmRelease values carry Go template text inside plain manifests.
	if chart := chartOf(r.fsys, rel); chart != "" {
		r.Skipped = append(r.Skipped, Skip{rel, "Helm chart template of " + chart + ": rendered by Helm, not read", data})
		return
	}
	f, err := yamledit.ParseFile(rel, data)
	if err != nil {
		r.Skipped = append(r.Skipped, Skip{rel, notYAML(data, err.Error()), data})
		return
	}
	// Decode every document first: a key set twice (which the node tree keeps, and which
	// kubectl and the GitOps controllers refuse or read differently) makes the whole file
	// unreadable, never half read.
	bodies := make([]map[string]any, len(f.Docs))
	for i, doc := range f.Docs {
		root := doc.Root()
		if root == nil || root.Kind != yaml.MappingNode {
			continue // empty, a scalar or a list document: not an object
		}
		if err := root.Decode(&bodies[i]); err != nil {
			r.Skipped = append(r.Skipped, Skip{rel, notYAML(data, oneLine(err.Error())), data})
			return
		}
	}
	r.Files = append(r.Files, f)
	for i, doc := range f.Docs {
		root, body := doc.Root(), bodies[i]
		if body == nil {
			continue
		}
		if IsKustomization(rel) {
			ns, _ := body["namespace"].(string)
			namespaces[filepath.ToSlash(filepath.Dir(rel))] = ns
		}
		apiVersion, _ := body["apiVersion"].(string)
		kind, _ := body["kind"].(string)
		meta, _ := body["metadata"].(map[string]any)
		if apiVersion == "" || kind == "" || meta == nil {
			continue
		}
		name, _ := meta["name"].(string)
		ns, _ := meta["namespace"].(string)
		r.Objects = append(r.Objects, Object{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name, File: rel, Line: root.Line, Body: body, Doc: doc})
	}
}

// notYAML is why a file that does not decode is skipped.
func notYAML(data []byte, why string) string {
	if bytes.Contains(data, []byte("{{")) {
		return "a template ({{ }}) that is not YAML until rendered"
	}
	return "not valid YAML: " + why
}

// chartOf is the Helm chart directory whose templates/ holds rel, "" when none does.
func chartOf(fsys fs.FS, rel string) string {
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if path.Base(dir) != "templates" {
			continue
		}
		chart := path.Dir(dir)
		if _, err := fs.Stat(fsys, path.Join(chart, "Chart.yaml")); err == nil {
			return chart
		}
	}
	return ""
}

// oneLine joins a multi-line message (yaml.v3's "unmarshal errors:" list) into one line.
func oneLine(s string) string {
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:")
	return strings.Join(strings.Fields(s), " ")
}

// Exists says whether a repo-relative path exists on disk, whatever it is (a directory, a
// file the scan does not read, one it cannot read, a dangling symlink).
func (r *Repo) Exists(rel string) bool {
	if r.fsys == nil {
		return false
	}
	_, err := fs.Lstat(r.fsys, rel)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// symlinkSkip is the note for a symlink, which the scan never follows: it may point out of the
// repository. Its references are looked for in the bytes it points to when those are a
// regular file of the repository.
func symlinkSkip(fsys fs.FS, rel string) Skip {
	target, _ := fs.ReadLink(fsys, rel)
	sk := Skip{File: rel, Reason: fmt.Sprintf("a symlink to %s: not followed; edit the file it points to", target)}
	if target == "" || path.IsAbs(target) {
		return sk
	}
	real := path.Join(path.Dir(rel), target)
	if !fs.ValidPath(real) {
		return sk
	}
	if st, err := fs.Stat(fsys, real); err == nil && st.Mode().IsRegular() && st.Size() <= maxManifest {
		if b, err := fs.ReadFile(fsys, real); err == nil {
			sk.Data = b
		}
	}
	return sk
}

// Find returns the objects of a kind (and API group, when group is not "") with that
// namespace and name.
func (r *Repo) Find(group, kind, namespace, name string) []Object {
	var out []Object
	for _, o := range r.Deployed() {
		if o.Kind == kind && o.Name == name && o.Namespace == namespace && (group == "" || strings.HasPrefix(o.APIVersion, group+"/")) {
			out = append(out, o)
		}
	}
	return out
}

// Source is what the repo says about the cluster to restore and where its backups are.
type Source struct {
	Cluster     Object
	ObjectStore *Object // the barman-cloud plugin's ObjectStore, when the cluster uses the plugin
	Plugin      bool    // the cluster archives through the barman-cloud plugin (else barmanObjectStore)
	Catalog     string  // destinationPath
	EndpointURL string
	ServerName  string
	// EndpointCASecret names the secret holding the endpoint's CA (endpointCA.name), if any:
	// the tool never reads secrets, the user passes the CA with --ca-bundle.
	EndpointCASecret string
	// Unresolved says, for destinationPath, endpointURL and serverName, why the value is not
	// known offline: a substitution variable the repository does not define.
	Unresolved map[string]string
}

// FindSource locates the Cluster namespace/name and derives its catalog location from its
// ObjectStore (plugin) or spec.backup.barmanObjectStore (legacy).
func (r *Repo) FindSource(namespace, name string) (*Source, error) {
	found := r.Find(GroupCNPG, "Cluster", namespace, name)
	switch len(found) {
	case 0:
		for _, h := range r.HelmClusters() {
			if h.Namespace == namespace && h.Name == name {
				return nil, fmt.Errorf("%s", h.Explain())
			}
		}
		var have []string
		for _, o := range r.Deployed() {
			if o.Is(GroupCNPG, "Cluster") {
				have = append(have, o.Namespace+"/"+o.Name)
			}
		}
		for _, h := range r.HelmClusters() {
			have = append(have, h.Namespace+"/"+h.Name+" (Helm chart)")
		}
		sort.Strings(have)
		if len(have) == 0 {
			return nil, fmt.Errorf("no CloudNativePG Cluster in %s%s", r.Root, r.skippedHint())
		}
		return nil, fmt.Errorf("no Cluster %s/%s in %s; clusters there: %s%s", namespace, name, r.Root, strings.Join(have, ", "), r.skippedHint())
	case 1:
	default:
		var where []string
		for _, o := range found {
			where = append(where, fmt.Sprintf("%s:%d", o.File, o.Line))
		}
		return nil, fmt.Errorf("cluster %s/%s is defined %d times (%s): remove the duplicate or point --repo at one tree", namespace, name, len(found), strings.Join(where, ", "))
	}
	s := &Source{Cluster: found[0], ServerName: name}
	// The barman-cloud plugin: spec.plugins[].parameters.barmanObjectName names an ObjectStore.
	if refs := barmanPlugins(found[0]); len(refs) > 0 {
		storeName := refs[0].Store
		s.ServerName = refs[0].ServerName
		if storeName == "" {
			return nil, fmt.Errorf("%s: the barman-cloud plugin entry has no parameters.barmanObjectName", found[0])
		}
		stores := r.Find(GroupBarmanCloud, "ObjectStore", namespace, storeName)
		if len(stores) != 1 {
			return nil, fmt.Errorf("%s uses ObjectStore %s/%s, which the repo defines %d times; pass --catalog and --endpoint-url", found[0], namespace, storeName, len(stores))
		}
		s.ObjectStore, s.Plugin = &stores[0], true
		cfg, _ := nested(stores[0].Body, "spec", "configuration").(map[string]any)
		s.Catalog, _ = cfg["destinationPath"].(string)
		s.EndpointURL, _ = cfg["endpointURL"].(string)
		s.EndpointCASecret, _ = nested(cfg, "endpointCA", "name").(string)
		r.unresolved(s, stores[0], "destinationPath", "spec", "configuration", "destinationPath")
		r.unresolved(s, stores[0], "endpointURL", "spec", "configuration", "endpointURL")
		return s, s.check()
	}
	// The in-tree (legacy) barmanObjectStore.
	bos, _ := nested(found[0].Body, "spec", "backup", "barmanObjectStore").(map[string]any)
	if bos == nil {
		return nil, fmt.Errorf("%s archives nowhere the tool can read: neither the barman-cloud plugin nor spec.backup.barmanObjectStore; pass --catalog", found[0])
	}
	s.Catalog, _ = bos["destinationPath"].(string)
	s.EndpointURL, _ = bos["endpointURL"].(string)
	s.EndpointCASecret, _ = nested(bos, "endpointCA", "name").(string)
	if sn, ok := bos["serverName"].(string); ok && sn != "" {
		s.ServerName = sn
	}
	for field, key := range map[string]string{"destinationPath": "destinationPath", "endpointURL": "endpointURL", "serverName": "serverName"} {
		r.unresolved(s, found[0], field, "spec", "backup", "barmanObjectStore", key)
	}
	return s, s.check()
}

// unresolved records why a source field is unknown offline: its declared text uses a Flux
// substitution variable that the applier's substitute and substituteFrom don't define here.
func (r *Repo) unresolved(s *Source, o Object, field string, keys ...string) {
	declared := r.objects[o.Doc]
	a := r.AppliedBy(o.File, o.Line)
	if declared == nil || a == nil {
		return
	}
	text, _ := nested(declared.Body, keys...).(string)
	vars := a.UnknownVars(text)
	if len(vars) == 0 {
		return
	}
	from := "defines none of them"
	if len(a.Unknown) > 0 {
		from = "takes its variables from " + strings.Join(a.Unknown, ", ")
	}
	if s.Unresolved == nil {
		s.Unresolved = map[string]string{}
	}
	s.Unresolved[field] = fmt.Sprintf("%s %s of %s %s (%s:%d) uses ${%s}, which %s cannot give offline: it %s",
		field, text, o.Kind, o.Name, o.File, o.Line, strings.Join(vars, "}, ${"), a, from)
}

func (s *Source) check() error {
	if s.Catalog == "" {
		return fmt.Errorf("%s: no destinationPath; pass --catalog", s.Cluster)
	}
	return nil
}

func (r *Repo) skippedHint() string {
	if len(r.Skipped) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d files could not be read, e.g. %s: %s)", len(r.Skipped), r.Skipped[0].File, r.Skipped[0].Reason)
}

// ValueAt is the value at a key path of a decoded object (nil when a step is missing or not a
// mapping).
func ValueAt(m map[string]any, keys ...string) any { return nested(m, keys...) }

func nested(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// barmanPluginRef is a Cluster's barman-cloud plugin entry: the ObjectStore it names and the
// server name it archives to (the cluster's own name when the parameters do not say).
type barmanPluginRef struct{ Store, ServerName string }

func barmanPlugins(o Object) []barmanPluginRef {
	spec, _ := o.Body["spec"].(map[string]any)
	plugins, _ := spec["plugins"].([]any)
	var out []barmanPluginRef
	for _, p := range plugins {
		pm, _ := p.(map[string]any)
		if pm["name"] != BarmanCloudPlugin {
			continue
		}
		params, _ := pm["parameters"].(map[string]any)
		ref := barmanPluginRef{ServerName: o.Name}
		ref.Store, _ = params["barmanObjectName"].(string)
		if sn, _ := params["serverName"].(string); sn != "" {
			ref.ServerName = sn
		}
		out = append(out, ref)
	}
	return out
}

// ArchiveUser is a Cluster in the repo that archives WAL under a destination, and the server
// name it archives to there.
type ArchiveUser struct {
	ServerName string
	Cluster    Object
}

// ArchiveUsers lists every Cluster in the repo whose WAL goes to destinationPath: through the
// barman-cloud plugin (its ObjectStore's destinationPath, serverName from the plugin parameters
// or the cluster's name; the ObjectStore's own serverName is ignored by the plugin) or the
// in-tree barmanObjectStore. Those server names are taken: a restored cluster archiving there
// would write into a live archive.
func (r *Repo) ArchiveUsers(destinationPath string) []ArchiveUser {
	want := strings.TrimSuffix(destinationPath, "/")
	var out []ArchiveUser
	for _, o := range r.Deployed() {
		if !o.Is(GroupCNPG, "Cluster") {
			continue
		}
		spec, _ := o.Body["spec"].(map[string]any)
		for _, ref := range barmanPlugins(o) {
			for _, st := range r.Find(GroupBarmanCloud, "ObjectStore", o.Namespace, ref.Store) {
				if dest, _ := nested(st.Body, "spec", "configuration", "destinationPath").(string); strings.TrimSuffix(dest, "/") == want {
					out = append(out, ArchiveUser{ServerName: ref.ServerName, Cluster: o})
					break
				}
			}
		}
		bos, _ := nested(spec, "backup", "barmanObjectStore").(map[string]any)
		if dest, _ := bos["destinationPath"].(string); bos != nil && strings.TrimSuffix(dest, "/") == want {
			serverName, _ := bos["serverName"].(string)
			if serverName == "" {
				serverName = o.Name
			}
			out = append(out, ArchiveUser{ServerName: serverName, Cluster: o})
		}
	}
	return out
}

// RestoresOf lists the Clusters of the repo, other than the source itself, that were
// bootstrapped by recovery from the source's archive: their bootstrap.recovery.source names an
// externalClusters entry that reads the source's ObjectStore (plugin) or destinationPath
// (in-tree) under the source's server name. A restore already made and merged is one of them.
// serverNames are more names the archive may have been read under (the --server-name of an
// earlier run), besides the manifest's.
func (r *Repo) RestoresOf(src *Source, serverNames ...string) []Object {
	names := append([]string{src.ServerName}, serverNames...)
	var out []Object
	for _, o := range r.Deployed() {
		if !o.Is(GroupCNPG, "Cluster") || o.Namespace != src.Cluster.Namespace ||
			o.File == src.Cluster.File && o.Line == src.Cluster.Line {
			continue
		}
		spec, _ := o.Body["spec"].(map[string]any)
		from, _ := nested(spec, "bootstrap", "recovery", "source").(string)
		ext, _ := spec["externalClusters"].([]any)
		for _, e := range ext {
			em, _ := e.(map[string]any)
			if name, _ := em["name"].(string); from == "" || name != from {
				continue
			}
			if readsArchive(em, o.Name, src, names) {
				out = append(out, o)
			}
		}
	}
	return out
}

// readsArchive says whether an externalClusters entry of cluster reads the source's archive.
// An omitted serverName is, for the plugin, the recovering cluster's own name; for the in-tree
// store, the entry's name.
func readsArchive(entry map[string]any, cluster string, src *Source, serverNames []string) bool {
	if p, ok := entry["plugin"].(map[string]any); ok && src.Plugin && p["name"] == BarmanCloudPlugin {
		params, _ := p["parameters"].(map[string]any)
		store, _ := params["barmanObjectName"].(string)
		server, _ := params["serverName"].(string)
		if server == "" {
			server = cluster
		}
		return src.ObjectStore != nil && store == src.ObjectStore.Name && slices.Contains(serverNames, server)
	}
	if bos, ok := entry["barmanObjectStore"].(map[string]any); ok {
		dest, _ := bos["destinationPath"].(string)
		server, _ := bos["serverName"].(string)
		if server == "" {
			server, _ = entry["name"].(string)
		}
		return strings.TrimSuffix(dest, "/") == strings.TrimSuffix(src.Catalog, "/") && slices.Contains(serverNames, server)
	}
	return false
}

// ControllerBranches are the branches the repo's GitOps controllers follow — a Flux
// GitRepository's spec.ref.branch, an Argo CD Application's or ApplicationSet template's
// targetRevision — each with where it is said: branches the tool must never write to.
func (r *Repo) ControllerBranches() map[string]string {
	out := map[string]string{}
	add := func(branch string, o Object, what string) {
		if branch == "" || branch == "HEAD" {
			return
		}
		if _, ok := out[branch]; !ok {
			out[branch] = fmt.Sprintf("the branch %s follows (%s %s/%s, %s:%d)", what, o.Kind, o.Namespace, o.Name, o.File, o.Line)
		}
	}
	for _, o := range r.Objects {
		switch {
		case o.Is(GroupFluxSource, "GitRepository"):
			b, _ := nested(o.Body, "spec", "ref", "branch").(string)
			add(b, o, "Flux")
		case o.Is(GroupArgoCD, "Application", "ApplicationSet"):
			spec, _ := o.Body["spec"].(map[string]any)
			if o.Kind == "ApplicationSet" {
				spec, _ = nested(spec, "template", "spec").(map[string]any)
			}
			sources, _ := spec["sources"].([]any)
			if src, ok := spec["source"]; ok {
				sources = append(sources, src)
			}
			for _, s := range sources {
				b, _ := nested(map[string]any{"s": s}, "s", "targetRevision").(string)
				add(b, o, "Argo CD")
			}
		}
	}
	return out
}
