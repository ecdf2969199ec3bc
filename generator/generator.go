// Package generator turns a restore plan into files for the GitOps repository: an overlay
// directory with the restored Cluster (a copy of the source's spec with bootstrap.recovery)
// and its ScheduledBackup, the wiring into the kustomization that included the source, the
// ordering the GitOps controller needs, and the cutover edits that point the application at
// the restored cluster. It reads the repo it is given and returns files; it writes nothing.
package generator

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// Phases of a restore.
const (
	PhaseAll     = "all"     // the restored cluster and the cutover in one change
	PhaseRestore = "restore" // the restored cluster only
	PhaseCutover = "cutover" // the cutover only, once the restored cluster is in the repo
)

// Input is what Render needs.
type Input struct {
	Repo   *overlays.Repo
	Source *overlays.Source
	// Plan is the checked plan, required unless Phase is PhaseCutover (the restore is merged).
	Plan *plan.Plan
	// Restored is the restored cluster's name for PhaseCutover; otherwise the plan's.
	Restored string
	// OverlayDir is the repo-relative directory of the restored cluster's overlay; empty
	// means <directory of the source cluster's file>/<restored name>.
	OverlayDir string
	Phase      string
	// Verify configures the verification Job of the restore (on unless Verify.Off).
	Verify Verify
	// WALParallel is how many WAL segments recovery fetches at once (wal.maxParallel); 0 means
	// the default (DefaultWALParallel).
	WALParallel int
}

// File is one file the change writes or deletes, with its summary line.
type File = fileset.File

// Edit is one cutover edit, for the pull request body.
type Edit struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// FollowUp is something the tool would not change by itself: the reviewer does it by hand.
type FollowUp struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Detail string `json:"detail"`
}

// Result is the change.
type Result struct {
	// Files are the change, in path order; in JSON each is its path and summary.
	Files     []File     `json:"changes"`
	Edits     []Edit     `json:"edits"`
	FollowUps []FollowUp `json:"followUps"`
	Notes     []string   `json:"notes"`
	// TwoStep is set when the cutover must be a second change, merged once the restored
	// cluster is ready (the GitOps layout can't order them in one).
	TwoStep bool `json:"twoStep"`
	// Rollback is what reverting the change does to the restored cluster (restore changes).
	Rollback *Rollback `json:"rollback,omitempty"`
	// Verification is the Job that checks the restored data before the cutover (nil with
	// --no-verify and for changes that restore nothing).
	Verification *Verification `json:"verification,omitempty"`
}

// cnpgAPI is the apiVersion of the CloudNativePG objects the generator writes.
const cnpgAPI = overlays.GroupCNPG + "/v1"

type gen struct {
	in  Input
	src *overlays.Source
	// recoveryStore is the recovery-only ObjectStore the overlay holds (nil: none).
	recoveryStore *yaml.Node
	ns            string
	old           string // the source cluster's name
	name          string // the restored cluster's name
	overlay       string // overlay directory
	work          map[string]*yamledit.File
	orig          map[string][]byte
	deleted       map[string]bool
	// fileNotes say what changed in an edited file besides cutover edits.
	fileNotes map[string][]string
	res       *Result
	// defNodes are substitution variables' definitions that hold the bare cluster name, and
	// defDocs the documents defining variables that reach the cluster: edits there move
	// their consumers, not the file's own applier.
	defNodes map[*yaml.Node]bool
	defDocs  map[*yamledit.Doc]bool
	// tmpl is the Flux Kustomization that renders the source cluster from a shared component
	// or template (nil for a cluster of its own): the restore is written concrete, as it
	// renders it.
	tmpl *overlays.Applier
	// order is how the restore is ordered before the cutover (set by restore).
	order order
	// fluxKS is the restore's own Flux Kustomization ("" when it has none).
	fluxKS string
}

func (g *gen) note(p, what string) {
	g.fileNotes[p] = append(g.fileNotes[p], what)
}

// Render builds the change for a restore.
func Render(in Input) (*Result, error) {
	if in.Phase == "" {
		in.Phase = PhaseAll
	}
	if in.Repo == nil || in.Source == nil || in.Plan == nil && in.Phase != PhaseCutover {
		return nil, errors.New("generator: repo, source and plan are required")
	}
	name := in.Restored
	if in.Plan != nil {
		name = in.Plan.Restored.Name
	}
	g := &gen{in: in, src: in.Source, ns: in.Source.Cluster.Namespace, old: in.Source.Cluster.Name, name: name,
		work: map[string]*yamledit.File{}, orig: map[string][]byte{}, deleted: map[string]bool{}, fileNotes: map[string][]string{},
		defNodes: map[*yaml.Node]bool{}, defDocs: map[*yamledit.Doc]bool{},
		res: &Result{Files: []File{}, Edits: []Edit{}, FollowUps: []FollowUp{}, Notes: []string{}}}
	if g.name == "" {
		return nil, errors.New("generator: no restored cluster name")
	}
	inPlace := g.name == g.old
	dir := in.OverlayDir
	if dir == "" {
		dir = path.Join(path.Dir(g.src.Cluster.File), g.name)
	}
	if a := in.Repo.AppliedBy(g.src.Cluster.File, g.src.Cluster.Line); a != nil && in.Phase != PhaseCutover && shared(in.Repo, a, g.src.Cluster.File) {
		// A Cluster from a shared Component or a template: a copy next to it would be a copy in
		// every app that uses it. The restore is a concrete copy, as the applier renders it,
		// beside the applier's own file and applied on its own.
		if a.Argo || inPlace {
			return nil, fmt.Errorf("the source cluster %s/%s is rendered by %s from %s, a shared component or base: restoring it needs a concrete overlay in %s, which this version writes only for Flux side-by-side restores; restore it by hand from the plan (cnpg-restore-gen plan)",
				g.ns, g.old, a, g.src.Cluster.File, a.Path)
		}
		g.tmpl = a
		if in.OverlayDir == "" {
			dir = path.Join(path.Dir(a.Object.File), g.name)
		}
	}
	var err error
	if g.overlay, err = fileset.RelPath(dir); err != nil {
		return nil, fmt.Errorf("overlay directory: %w", err)
	}
	switch in.Phase {
	case PhaseAll, PhaseRestore:
		exists := in.Repo.Root != "" && in.Repo.Exists(g.overlay)
		for _, f := range in.Repo.Files {
			exists = exists || strings.HasPrefix(f.Path, g.overlay+"/")
		}
		if exists {
			// Whatever it holds — files the scan reads or not, unreadable ones — it is never
			// written over.
			return nil, fmt.Errorf("%s already exists in the repository: pass --overlay-dir or another --new-name", g.overlay)
		}
	case PhaseCutover:
		if inPlace {
			return nil, errors.New("an in-place restore keeps the cluster's name: there is no cutover to make")
		}
		if len(in.Repo.Find(overlays.GroupCNPG, "Cluster", g.ns, g.name)) == 0 {
			return nil, fmt.Errorf("the restored cluster %s/%s is not in the repository: merge the restore first, or pass its name with --new-name", g.ns, g.name)
		}
	default:
		return nil, fmt.Errorf("phase %q is not %s, %s or %s", in.Phase, PhaseAll, PhaseRestore, PhaseCutover)
	}

	if in.Phase == PhaseRestore && !inPlace {
		g.res.TwoStep = true
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("TWO STEPS: this change restores the cluster only; once %s is Ready, run generate again with --phase cutover (and the same --new-name)", g.name))
	}
	var edited []string // files whose deployed objects the cutover moves
	if in.Phase != PhaseRestore && !inPlace {
		if edited, err = g.cutover(); err != nil {
			return nil, err
		}
	}
	if in.Phase != PhaseCutover {
		if err := g.restore(edited); err != nil {
			return nil, err
		}
		g.gate()
	} else {
		g.priorVerification()
	}
	return g.finish()
}

// restore writes the overlay and wires it in.
func (g *gen) restore(edited []string) error {
	p := g.in.Plan
	inPlace := g.name == g.old
	order := g.ordering(edited)
	g.order = order
	cluster, err := g.restoredCluster(order.argo)
	if err != nil {
		return err
	}
	clusterYAML, err := encode(cluster)
	if err != nil {
		return err
	}
	files := map[string][]byte{"cluster.yaml": clusterYAML}
	resources := []string{"cluster.yaml"}
	if g.recoveryStore != nil {
		b, err := encode(g.recoveryStore)
		if err != nil {
			return err
		}
		files["objectstore-recovery.yaml"] = b
		resources = append([]string{"objectstore-recovery.yaml"}, resources...)
	}
	if !inPlace {
		sbs, err := encode(g.scheduledBackups()...)
		if err != nil {
			return err
		}
		files["scheduledbackup.yaml"] = sbs
		resources = append(resources, "scheduledbackup.yaml")
	}
	source := ""
	if order.flux != nil {
		source = str(order.flux.cluster.Doc.Root(), "spec", "timeout")
	}
	if err := g.verification(files, &resources, order.argo, g.timeoutMinutes(source)*60); err != nil {
		return err
	}
	if err := g.writeOverlay(files, resources); err != nil {
		return err
	}
	if inPlace {
		if err := g.removeSourceCluster(); err != nil {
			return err
		}
		g.res.Notes = append(g.res.Notes,
			fmt.Sprintf("IN PLACE: the restored cluster keeps the name %s. Only merge this if the Cluster %s/%s and its PVCs no longer exist in Kubernetes: bootstrap.recovery runs only when a Cluster is created, so an existing cluster would be patched, not restored.", g.old, g.ns, g.old),
			fmt.Sprintf("IN PLACE: CloudNativePG creates a new %s-app secret with a new password; restart the applications that read it once the cluster is ready.", g.old),
			fmt.Sprintf("IN PLACE: the restored cluster archives to server name %s, not %s: the old backups stay untouched.", p.Restored.ServerName, p.Source.ServerName))
	}
	if order.flux != nil {
		return g.fluxSplit(order)
	}
	how := byUnknown
	if order.argo {
		how = keptByArgo
	}
	g.rollback(how, "")
	return g.wire()
}

// writeOverlay adds the overlay's files and its kustomization.yaml.
func (g *gen) writeOverlay(files map[string][]byte, resources []string) error {
	k, err := encode(mapping(
		"apiVersion", "kustomize.config.k8s.io/v1beta1",
		"kind", "Kustomization",
		"namespace", g.ns,
		"resources", sequence(scalars(resources)...),
	))
	if err != nil {
		return err
	}
	files["kustomization.yaml"] = k
	if err := buildOverlay(files); err != nil {
		return fmt.Errorf("the generated overlay does not build with kustomize: %w", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g.put(path.Join(g.overlay, n), files[n])
	}
	return nil
}

func scalars(v []string) []*yaml.Node {
	out := make([]*yaml.Node, len(v))
	for i, s := range v {
		out[i] = scalar(s)
	}
	return out
}

// buildOverlay runs kustomize over the overlay alone, in memory.
func buildOverlay(files map[string][]byte) error {
	fs := filesys.MakeFsInMemory()
	for n, b := range files {
		if err := fs.WriteFile("/overlay/"+n, b); err != nil {
			return err
		}
	}
	_, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/overlay")
	return err
}

// wire adds the overlay to the kustomization that includes the source cluster's file.
func (g *gen) wire() error {
	k, _ := g.in.Repo.IncludedBy(g.src.Cluster.File)
	if k == nil {
		g.res.FollowUps = append(g.res.FollowUps, FollowUp{File: g.src.Cluster.File,
			Detail: fmt.Sprintf("no kustomization.yaml lists %s: add %s/ to whatever applies it (Flux applies directories holding a kustomization.yaml; an Argo CD directory app needs it listed)", g.src.Cluster.File, g.overlay)})
		return nil
	}
	entry := overlays.Relative(k.Dir, g.overlay)
	g.note(k.File.Path, "includes the restored cluster's overlay "+entry)
	return g.addResource(k.File.Path, entry)
}

func (g *gen) addResource(kfile, entry string) error {
	f := g.current(kfile)
	if _, list := yamledit.Lookup(f.Docs[0].Root(), "resources"); list != nil && len(list.Content) > 0 && !strings.HasPrefix(entry, ".") {
		dotted := true
		for _, it := range list.Content {
			dotted = dotted && strings.HasPrefix(it.Value, "./")
		}
		if dotted {
			entry = "./" + entry // as the file writes its entries
		}
	}
	out, err := f.AddListItem(f.Docs[0], []string{"resources"}, entry)
	if err != nil {
		return fmt.Errorf("while adding %s to %s: %w", entry, kfile, err)
	}
	g.put(kfile, out)
	return nil
}

// current is the file as the change has it so far.
func (g *gen) current(p string) *yamledit.File {
	if f, ok := g.work[p]; ok {
		return f
	}
	return g.in.Repo.File(p)
}

// put records new content for a file (keeping the original for the diff).
func (g *gen) put(p string, content []byte) {
	if _, ok := g.orig[p]; !ok {
		if f := g.in.Repo.File(p); f != nil {
			g.orig[p] = f.Data
		} else {
			g.orig[p] = nil
		}
	}
	f, err := yamledit.ParseFile(p, content)
	if err != nil {
		// Every edit is verified by parsing it back before it gets here.
		panic(fmt.Sprintf("generator: %s does not parse after an edit: %v", p, err))
	}
	g.work[p] = f
	delete(g.deleted, p)
}

func (g *gen) remove(p string) {
	if _, ok := g.orig[p]; !ok {
		g.orig[p] = g.in.Repo.File(p).Data
	}
	delete(g.work, p)
	g.deleted[p] = true
}

// finish turns the work into the ordered list of files and the change summary.
func (g *gen) finish() (*Result, error) {
	paths := make([]string, 0, len(g.orig))
	for p := range g.orig {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		switch {
		case g.deleted[p]:
			g.res.Files = append(g.res.Files, File{Path: p, Delete: true, Old: g.orig[p], Summary: "deleted"})
		case g.orig[p] == nil:
			g.res.Files = append(g.res.Files, File{Path: p, Content: g.work[p].Data, Summary: "new: " + describe(g.work[p])})
		default:
			if string(g.orig[p]) == string(g.work[p].Data) {
				continue
			}
			g.res.Files = append(g.res.Files, File{Path: p, Content: g.work[p].Data, Old: g.orig[p], Summary: g.summary(p)})
		}
	}
	sort.Slice(g.res.Edits, func(i, j int) bool {
		a, b := g.res.Edits[i], g.res.Edits[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return g.res, nil
}

func describe(f *yamledit.File) string {
	var kinds []string
	for _, d := range f.Docs {
		root := d.Root()
		if root == nil {
			continue
		}
		kind, name := str(root, "kind"), str(root, "metadata", "name")
		if name != "" {
			kinds = append(kinds, kind+" "+name)
		} else {
			kinds = append(kinds, kind)
		}
	}
	return strings.Join(kinds, ", ")
}

func (g *gen) summary(p string) string {
	n := 0
	for _, e := range g.res.Edits {
		if e.File == p {
			n++
		}
	}
	var parts []string
	if n > 0 {
		parts = append(parts, fmt.Sprintf("cutover: %d reference(s) to %s now name %s", n, g.old, g.name))
	}
	if note, ok := g.fileNotes[p]; ok {
		parts = append(parts, note...)
	}
	if len(parts) == 0 {
		return "edited"
	}
	return strings.Join(parts, "; ")
}

// inside says whether file is in dir (a clean repository path; "." holds everything).
func inside(dir, file string) bool {
	return dir == "." || strings.HasPrefix(file, dir+"/")
}

// shared says whether the source cluster's file is a template rather than this cluster's own
// manifest: it uses Flux substitution variables, is part of a kustomize Component, or, outside
// its applier's path (a base), is deployed by more than one applier. A copy beside it would be
// a copy in everything that uses it.
func shared(r *overlays.Repo, a *overlays.Applier, file string) bool {
	if f := r.File(file); f != nil && strings.Contains(string(f.Data), "${") {
		return true
	}
	if k, _ := r.IncludedBy(file); k != nil && k.Component {
		return true
	}
	if inside(a.Path, file) {
		return false
	}
	m := r.Model()
	return m == nil || len(m.AppliersOf(file)) > 1
}
