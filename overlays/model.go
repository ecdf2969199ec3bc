package overlays

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/drone/envsubst"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Applier is a Flux Kustomization that the repository's Flux deploys: it builds Path of this
// repository with kustomize, then substitutes Vars, and applies the result.
type Applier struct {
	// Object is the Kustomization as declared (its file and line).
	Object Object
	// Namespace and Name are the Kustomization's, as deployed (after its own applier's
	// substitution and namespace).
	Namespace, Name string
	// Path is spec.path, relative to the repository root ("." for the root).
	Path string
	// Spec is the Kustomization's spec as deployed.
	Spec map[string]any
	// Vars are the postBuild substitution variables the repository defines: spec.postBuild.
	// substitute over the ConfigMaps and plain Secrets of substituteFrom.
	Vars map[string]string
	// Defs is where each of Vars is defined: the ConfigMap or Secret of substituteFrom, or
	// the Kustomization itself for spec.postBuild.substitute (as declared).
	Defs map[string]*Object
	// Unknown says which substituteFrom sources the repository can't give (SOPS-encrypted,
	// external): the variables they define are unknown offline.
	Unknown []string
	// Parent is the applier that deploys this Kustomization; nil for a root (Flux's own,
	// applied by flux bootstrap).
	Parent *Applier
}

// String names the applier: "Flux Kustomization flux-system/apps".
func (a *Applier) String() string { return "Flux Kustomization " + a.Namespace + "/" + a.Name }

// Deployed is one object as its applier deploys it, with where it comes from.
type Deployed struct {
	APIVersion, Kind, Namespace, Name string
	// Body is the rendered object.
	Body map[string]any
	// Source is the repository document it was rendered from; nil when kustomize generated it
	// (a configMapGenerator) or the document could not be told apart.
	Source *Object
	// File is the repository file it comes from (kustomize's origin).
	File string
	By   *Applier
}

// Model is what the repository's GitOps controller deploys: every applier and every object
// it renders. Files outside it (archives, leftovers, CI workflows, docs) are deployed by
// nothing.
type Model struct {
	Appliers []*Applier
	Objects  []Deployed
	// Problems are what could not be rendered, each naming the applier and why.
	Problems []string
	// files are the repository files the objects come from, and the kustomization files the
	// builds read.
	files map[string]bool
}

// Deploys says whether a repository file is applied by the model's controller.
func (m *Model) Deploys(file string) bool { return m.files[file] }

// Deploys says whether the repository's controller applies the file. With a Model: whether a
// rendered object comes from it, a build reads it, or it is a template of a chart a deployed
// HelmRelease takes from the repository. Without one (a plain kustomize tree, Argo CD read by
// path): whether it holds Kubernetes objects — CI workflows, task files and docs do not.
func (r *Repo) Deploys(file string) bool {
	if m := r.Model(); m != nil && len(m.Appliers) > 0 {
		return m.Deploys(file)
	}
	if IsKustomization(file) {
		return true
	}
	for _, o := range r.Objects {
		if o.File == file {
			return true
		}
	}
	for _, sk := range r.Skipped {
		if sk.File == file {
			return bytes.Contains(sk.Data, []byte("apiVersion:")) && bytes.Contains(sk.Data, []byte("kind:"))
		}
	}
	return false
}

// Find returns the deployed objects of a group and kind with that namespace and name.
func (m *Model) Find(group, kind, namespace, name string) []Deployed {
	var out []Deployed
	for _, d := range m.Objects {
		if d.Kind == kind && d.Namespace == namespace && d.Name == name && strings.HasPrefix(d.APIVersion, group+"/") {
			out = append(out, d)
		}
	}
	return out
}

// Model renders what the repository's Flux deploys, once; nil when no Flux Kustomization is in
// the repository (a plain kustomize tree, Argo CD).
func (r *Repo) Model() *Model {
	r.modelOnce.Do(func() { r.model = r.buildModel() })
	return r.model
}

func (r *Repo) fluxKustomizations() []Object {
	var out []Object
	for _, o := range r.Objects {
		if o.Is(GroupFluxKustomize, "Kustomization") {
			out = append(out, o)
		}
	}
	return out
}

func (r *Repo) buildModel() *Model {
	all := r.fluxKustomizations()
	if len(all) == 0 || r.fsys == nil {
		return nil
	}
	m := &Model{files: map[string]bool{}}
	kfs, err := r.kustomizeFS()
	if err != nil {
		m.Problems = append(m.Problems, "the repository could not be read for kustomize: "+err.Error())
		return m
	}
	// The roots are what flux bootstrap applies: Kustomizations that apply their own file
	// (flux-system), or, in a repository without one, every Kustomization.
	var queue []*Applier
	for _, k := range all {
		p := cleanPath(str(k.Body, "spec", "path"))
		if dirHolds(p, k.File) || k.Name == "flux-system" {
			queue = append(queue, r.applier(k, k.Namespace, k.Name, spec(k.Body), nil))
		}
	}
	if len(queue) == 0 {
		m.Problems = append(m.Problems, "no Flux Kustomization applies itself (flux bootstrap's flux-system): every Kustomization of the repository is taken as deployed")
		for _, k := range all {
			queue = append(queue, r.applier(k, k.Namespace, k.Name, spec(k.Body), nil))
		}
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		if seen[a.Namespace+"/"+a.Name] {
			continue
		}
		seen[a.Namespace+"/"+a.Name] = true
		if !r.ownSource(a) {
			continue
		}
		m.Appliers = append(m.Appliers, a)
		objs, err := r.render(kfs, a, m)
		if err != nil {
			m.Problems = append(m.Problems, fmt.Sprintf("%s (%s:%d) does not build: %v", a, a.Object.File, a.Object.Line, err))
			continue
		}
		for _, d := range objs {
			m.Objects = append(m.Objects, d)
			if chart := gitChart(d); chart != "" {
				for _, f := range r.Files {
					if dirHolds(chart, f.Path) {
						m.files[f.Path] = true
					}
				}
				for _, sk := range r.Skipped {
					if dirHolds(chart, sk.File) {
						m.files[sk.File] = true
					}
				}
			}
			if d.Source != nil && d.Kind == "Kustomization" && d.Source.Is(GroupFluxKustomize, "Kustomization") {
				queue = append(queue, r.applier(*d.Source, d.Namespace, d.Name, spec(d.Body), a))
			}
		}
	}
	return m
}

// gitChart is the repository directory of the chart a HelmRelease installs from a
// GitRepository ("" for any other chart source).
func gitChart(d Deployed) string {
	if d.Kind != "HelmRelease" || !strings.HasPrefix(d.APIVersion, GroupFluxHelm+"/") {
		return ""
	}
	if str(d.Body, "spec", "chart", "spec", "sourceRef", "kind") != "GitRepository" {
		return ""
	}
	return cleanPath(str(d.Body, "spec", "chart", "spec", "chart"))
}

// ownSource says whether the applier builds this repository: its sourceRef is Flux's own
// GitRepository (flux-system), the one its root applies itself from, or its parent's.
func (r *Repo) ownSource(a *Applier) bool {
	ref, _ := a.Spec["sourceRef"].(map[string]any)
	kind, _ := ref["kind"].(string)
	name, _ := ref["name"].(string)
	if kind != "GitRepository" {
		return false
	}
	for p := a.Parent; p != nil; p = p.Parent {
		if pref, _ := p.Spec["sourceRef"].(map[string]any); pref["name"] == name {
			return true
		}
	}
	// A root is applied from what bootstrap cloned: its own source.
	return a.Parent == nil || name == "flux-system"
}

func (r *Repo) applier(k Object, namespace, name string, sp map[string]any, parent *Applier) *Applier {
	a := &Applier{Object: k, Namespace: namespace, Name: name, Path: cleanPath(str(sp, "path")), Spec: sp, Vars: map[string]string{}, Defs: map[string]*Object{}, Parent: parent}
	if a.Namespace == "" {
		a.Namespace = "flux-system"
	}
	post, _ := sp["postBuild"].(map[string]any)
	from, _ := post["substituteFrom"].([]any)
	for _, x := range from {
		ref, _ := x.(map[string]any)
		kind, _ := ref["kind"].(string)
		rname, _ := ref["name"].(string)
		optional, _ := ref["optional"].(bool)
		vars, def, why := r.substituteFrom(kind, a.Namespace, rname)
		switch {
		case why == "":
			for k, v := range vars {
				a.Vars[k] = strings.ReplaceAll(v, "\n", "")
				a.Defs[k] = def
			}
		case !optional || why != "not in the repository":
			a.Unknown = append(a.Unknown, fmt.Sprintf("%s %s/%s (%s)", kind, a.Namespace, rname, why))
		}
	}
	if inline, ok := post["substitute"].(map[string]any); ok {
		self := r.declared(k)
		for k, v := range inline {
			a.Vars[k] = strings.ReplaceAll(fmt.Sprint(v), "\n", "")
			a.Defs[k] = self
		}
	}
	return a
}

// declared is the repository's own Object for a copy of one (its document), nil when none is.
func (r *Repo) declared(o Object) *Object {
	for i := range r.Objects {
		if r.Objects[i].Doc == o.Doc && o.Doc != nil {
			return &r.Objects[i]
		}
	}
	return nil
}

// substituteFrom reads a ConfigMap's data or a plain Secret's data and stringData from the
// repository, with the object that holds them; why says why it can't ("" when it can).
func (r *Repo) substituteFrom(kind, namespace, name string) (map[string]string, *Object, string) {
	for _, sk := range r.Skipped {
		if strings.Contains(sk.Reason, "SOPS") && strings.Contains(string(sk.Data), "name: "+name) {
			return nil, nil, "SOPS-encrypted: its values are not read"
		}
	}
	var objs []*Object // as declared: the model is being built
	for i, o := range r.Objects {
		if o.Kind == kind && o.Name == name && o.Namespace == namespace {
			objs = append(objs, &r.Objects[i])
		}
	}
	if len(objs) == 0 {
		// Namespaced by the kustomization that includes it, perhaps: any one of that name.
		for i, o := range r.Objects {
			if o.Kind == kind && o.Name == name && o.Namespace == "" {
				objs = append(objs, &r.Objects[i])
			}
		}
	}
	if len(objs) == 0 {
		return nil, nil, "not in the repository"
	}
	out := map[string]string{}
	if data, ok := objs[0].Body["data"].(map[string]any); ok {
		for k, v := range data {
			s := fmt.Sprint(v)
			if kind == "Secret" {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, nil, "its data is not base64"
				}
				s = string(b)
			}
			out[k] = s
		}
	}
	if sd, ok := objs[0].Body["stringData"].(map[string]any); ok && kind == "Secret" {
		for k, v := range sd {
			out[k] = fmt.Sprint(v)
		}
	}
	return out, objs[0], ""
}

// kustomizeFS copies the repository into kustomize's in-memory file system (not .git; files
// up to the scan's size limit), so that builds read nothing else.
func (r *Repo) kustomizeFS() (filesys.FileSystem, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(r.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" {
				return fs.SkipDir
			}
			return mem.MkdirAll("/" + p)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxManifest {
			return err
		}
		b, err := fs.ReadFile(r.fsys, p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+p, b)
	})
	return mem, err
}

const originAnnotation = "config.kubernetes.io/origin"

// render builds the applier's path as Flux does — a kustomization.yaml generated when there is
// none, then targetNamespace, namePrefix/nameSuffix, patches, images and components — and
// substitutes the variables in every object not marked substitute: disabled.
func (r *Repo) render(kfs filesys.FileSystem, a *Applier, m *Model) ([]Deployed, error) {
	dir := "/" + a.Path
	if a.Path == "." {
		dir = "/"
	}
	if !kfs.IsDir(dir) {
		return nil, fmt.Errorf("spec.path %s is not a directory of the repository", a.Path)
	}
	kfile, k, err := fluxKustomization(kfs, dir)
	if err != nil {
		return nil, err
	}
	if ns := str(a.Spec, "targetNamespace"); ns != "" {
		k.Namespace = ns
	}
	k.NamePrefix += str(a.Spec, "namePrefix")
	k.NameSuffix = str(a.Spec, "nameSuffix") + k.NameSuffix
	if comps, ok := a.Spec["components"].([]any); ok {
		for _, c := range comps {
			k.Components = append(k.Components, fmt.Sprint(c))
		}
	}
	if patches, ok := a.Spec["patches"].([]any); ok {
		for _, p := range patches {
			b, err := yaml.Marshal(p)
			if err != nil {
				return nil, err
			}
			var kp kustypes.Patch
			if err := yaml.Unmarshal(b, &kp); err != nil {
				return nil, fmt.Errorf("spec.patches: %w", err)
			}
			k.Patches = append(k.Patches, kp)
		}
	}
	if images, ok := a.Spec["images"].([]any); ok {
		for _, im := range images {
			b, _ := yaml.Marshal(im)
			var ki kustypes.Image
			if err := yaml.Unmarshal(b, &ki); err != nil {
				return nil, fmt.Errorf("spec.images: %w", err)
			}
			k.Images = append(k.Images, ki)
		}
	}
	k.BuildMetadata = append(k.BuildMetadata, kustypes.OriginAnnotations)
	out, err := yaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	// Each build gets its own copy of the kustomization file; the repository's stays as it is.
	orig, _ := kfs.ReadFile(kfile)
	if err := kfs.WriteFile(kfile, out); err != nil {
		return nil, err
	}
	defer func() {
		if orig != nil {
			_ = kfs.WriteFile(kfile, orig)
		} else {
			_ = kfs.RemoveAll(kfile)
		}
	}()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = kustypes.LoadRestrictionsNone
	opts.PluginConfig = kustypes.DisabledPluginConfig()
	resMap, err := buildSafely(opts, kfs, dir)
	if err != nil {
		return nil, err
	}
	r.markKustomizations(kfs, dir, m)
	var objs []Deployed
	for _, res := range resMap.Resources() {
		d, err := r.deployed(res, a)
		if err != nil {
			return nil, err
		}
		if d.File != "" {
			m.files[d.File] = true
		}
		objs = append(objs, d)
	}
	return objs, nil
}

// buildSafely runs kustomize, which can panic on odd input, as an error.
func buildSafely(opts *krusty.Options, kfs filesys.FileSystem, dir string) (res resmap.ResMap, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kustomize failed: %v", p)
		}
	}()
	return krusty.MakeKustomizer(opts).Run(kfs, dir)
}

// fluxKustomization reads the kustomization file of dir, or generates one as Flux does: every
// YAML file below dir, and every directory that holds a kustomization file (not descended).
func fluxKustomization(kfs filesys.FileSystem, dir string) (string, *kustypes.Kustomization, error) {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		p := path.Join(dir, name)
		if kfs.Exists(p) && !kfs.IsDir(p) {
			b, err := kfs.ReadFile(p)
			if err != nil {
				return "", nil, err
			}
			k := &kustypes.Kustomization{}
			if err := yaml.Unmarshal(b, k); err != nil {
				return "", nil, fmt.Errorf("%s: %w", strings.TrimPrefix(p, "/"), err)
			}
			k.FixKustomization()
			return p, k, nil
		}
	}
	k := &kustypes.Kustomization{TypeMeta: kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind}}
	err := kfs.Walk(dir, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if info.IsDir() {
			for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
				if kfs.Exists(path.Join(p, name)) {
					k.Resources = append(k.Resources, "./"+strings.TrimPrefix(strings.TrimPrefix(p, dir), "/"))
					return fs.SkipDir
				}
			}
			return nil
		}
		if ext := path.Ext(p); ext == ".yaml" || ext == ".yml" {
			k.Resources = append(k.Resources, "./"+strings.TrimPrefix(strings.TrimPrefix(p, dir), "/"))
		}
		return nil
	})
	return path.Join(dir, "kustomization.yaml"), k, err
}

// markKustomizations records the kustomization files a build of dir reads.
func (r *Repo) markKustomizations(kfs filesys.FileSystem, dir string, m *Model) {
	for _, f := range r.Files {
		if IsKustomization(f.Path) && dirHolds(strings.TrimPrefix(dir, "/"), f.Path) {
			m.files[f.Path] = true
		}
	}
}

var varName = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// deployed turns a built resource into a Deployed: its origin read and removed, its variables
// substituted as Flux's postBuild does (drone/envsubst, Flux's own choice).
func (r *Repo) deployed(res *resource.Resource, a *Applier) (Deployed, error) {
	file := ""
	if ann := res.GetAnnotations(); ann[originAnnotation] != "" {
		var origin struct {
			Path string `json:"path"`
		}
		if err := yaml.Unmarshal([]byte(ann[originAnnotation]), &origin); err == nil && origin.Path != "" {
			file = cleanPath(path.Join(a.Path, origin.Path))
		}
		delete(ann, originAnnotation)
		if err := res.SetAnnotations(ann); err != nil {
			return Deployed{}, err
		}
	}
	data, err := res.AsYAML()
	if err != nil {
		return Deployed{}, err
	}
	disabled := res.GetLabels()["kustomize.toolkit.fluxcd.io/substitute"] == "disabled" || res.GetAnnotations()["kustomize.toolkit.fluxcd.io/substitute"] == "disabled"
	if len(a.Vars) > 0 && !disabled {
		for v := range a.Vars {
			if !varName.MatchString(v) {
				return Deployed{}, fmt.Errorf("postBuild variable %q is not a valid name", v)
			}
		}
		s, err := envsubst.Eval(string(data), func(v string) string { return a.Vars[v] })
		if err != nil {
			return Deployed{}, fmt.Errorf("variable substitution in %s %s: %w", res.GetKind(), res.GetName(), err)
		}
		data = []byte(s)
	}
	var body map[string]any
	if err := yaml.Unmarshal(data, &body); err != nil {
		return Deployed{}, fmt.Errorf("%s %s after substitution: %w", res.GetKind(), res.GetName(), err)
	}
	d := Deployed{APIVersion: str(body, "apiVersion"), Kind: str(body, "kind"), Namespace: str(body, "metadata", "namespace"), Name: str(body, "metadata", "name"), Body: body, File: file, By: a}
	d.Source = r.sourceOf(d, a)
	return d, nil
}

// sourceOf finds the document of d.File that d was rendered from: the one of its kind, or
// among several the one whose name, substituted, is d's.
func (r *Repo) sourceOf(d Deployed, a *Applier) *Object {
	var cands []*Object
	for i := range r.Objects {
		o := &r.Objects[i]
		if o.File == d.File && o.Kind == d.Kind {
			cands = append(cands, o)
		}
	}
	if len(cands) == 1 {
		return cands[0]
	}
	for _, o := range cands {
		name, err := envsubst.Eval(o.Name, func(v string) string { return a.Vars[v] })
		if err == nil && (name == d.Name || strings.Contains(d.Name, name) && name != "") {
			return o
		}
	}
	return nil
}

// UnknownVars lists the ${VAR} references of s that the applier's substitution leaves unknown.
func (a *Applier) UnknownVars(s string) []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		if _, ok := a.Vars[m[1]]; !ok && !strings.Contains(m[0], ":=") && !strings.Contains(m[0], ":-") {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// Substitute is s as the applier's postBuild substitution renders it.
func (a *Applier) Substitute(s string) (string, error) {
	return envsubst.Eval(s, func(v string) string { return a.Vars[v] })
}

// VarsIn lists the ${VAR} references of s, in order.
func VarsIn(s string) []string {
	var out []string
	for _, m := range varRef.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

var varRef = regexp.MustCompile(`\$\{([_[:alpha:]][_[:alpha:][:digit:]]*)[^}]*\}`)

func spec(body map[string]any) map[string]any {
	s, _ := body["spec"].(map[string]any)
	return s
}

// str reads a string at a key path of a decoded object.
func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

// cleanPath is a Flux spec.path or an origin as a clean repository path ("." for the root).
func cleanPath(p string) string {
	p = path.Clean("/" + strings.TrimPrefix(p, "./"))
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// dirHolds says whether file is inside dir (a clean repository path; "." holds everything).
func dirHolds(dir, file string) bool {
	return dir == "." || file == dir || strings.HasPrefix(file, dir+"/")
}

// Deployed is the repository as its controller deploys it: with a Model, every rendered object
// — its namespace, name and body as applied, its File and Line where it is declared, its Doc
// the declaring document (nil when kustomize generated it); without one, Objects as declared.
func (r *Repo) Deployed() []Object {
	m := r.Model()
	if m == nil || len(m.Appliers) == 0 {
		return r.Objects
	}
	r.deployedOnce.Do(func() {
		for _, d := range m.Objects {
			o := Object{APIVersion: d.APIVersion, Kind: d.Kind, Namespace: d.Namespace, Name: d.Name, File: d.File, Body: d.Body}
			if d.Source != nil {
				o.Line, o.Doc = d.Source.Line, d.Source.Doc
			}
			r.deployedObjs = append(r.deployedObjs, o)
		}
	})
	return r.deployedObjs
}

// AppliedBy is the applier that deploys the object declared at file:line, nil when none does
// (or without a Model).
func (r *Repo) AppliedBy(file string, line int) *Applier {
	m := r.Model()
	if m == nil {
		return nil
	}
	for _, d := range m.Objects {
		if d.File == file && (line == 0 || d.Source != nil && d.Source.Line == line) {
			return d.By
		}
	}
	return nil
}
