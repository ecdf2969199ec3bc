// Package restore is cnpg-restore-gen's pipeline as a library: it reads a CloudNativePG
// cluster's manifests from a GitOps repository and its barman-cloud catalog, plans the restore
// as CloudNativePG will run it, and renders the change — the restored Cluster's overlay, the
// cutover, the pull request text — without writing anything.
//
// Options go in; Plan returns the checked plan, Render the whole change. The repository is a
// directory or any fs.FS, and the catalog is read through a catalog.Store the caller may
// supply (OpenStore): nothing here prints, prompts or pushes.
package restore

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/objstore"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// Options are what a restore is made from. Namespace and Name are required; so is Repo (or
// RepoFS) for Render, while Plan can work from Catalog and ServerName alone.
type Options struct {
	// Repo is the GitOps repository checkout's directory. RepoFS, when set, is read instead
	// (an in-memory tree, an archive) and Repo only names it in messages.
	Repo   string
	RepoFS fs.FS
	// Namespace and Name are the source cluster.
	Namespace, Name string

	// Catalog is barman's destinationPath (s3://bucket/prefix or a directory), ServerName the
	// server name under it and EndpointURL the S3 endpoint; with a repository, each one left
	// empty comes from the source cluster's manifests.
	Catalog, ServerName, EndpointURL string
	// CABundle is the CA the store trusts for the endpoint, if any: without one, a cluster
	// that trusts a private CA gets a note saying so.
	CABundle string
	// OpenStore opens the catalog and says how messages name its root (s3://bucket/prefix,
	// file:///path); nil opens it with the defaults (the AWS credential chain, the endpoint).
	OpenStore func(ctx context.Context, loc Location) (store catalog.Store, name string, err error)
	// Concurrency bounds the catalog's listings and reads in flight; 0 means 32.
	Concurrency int
	// Progress, when set, hears how each catalog scan advances (from several goroutines).
	Progress func(listed, fetched int64)

	// Target is what to recover; the zero value is the latest recoverable point.
	Target catalog.Target
	// NewName and NewServerName name the restored cluster and its archive; empty means the
	// plan's defaults (<name>-restored, archiving to its name).
	NewName, NewServerName string
	// Strategy is plan.SideBySide (default) or plan.InPlace.
	Strategy string

	// Phase is generator.PhaseAll (default), PhaseRestore or PhaseCutover; Cleanup is the
	// follow-up that removes the old cluster. OverlayDir overrides where the restored cluster
	// goes (repo-relative).
	Phase      string
	Cleanup    bool
	OverlayDir string
	// Verify configures the Job that checks the restored data before the cutover: the
	// built-in checks plus Verify.Assertions; Verify.Off writes none.
	Verify generator.Verify
	// WALParallel is how many WAL segments recovery fetches at once; 0 means the default
	// (generator.RecoveryParallel). The estimate follows it.
	WALParallel int

	// Branch is the pull request's branch; empty means BranchTemplate expanded ({namespace},
	// {cluster}, {backup}), or restore/<namespace>/<name>-<backup ID>.
	Branch, BranchTemplate string
	// Base is the branch the pull request merges into; Version the tool's, for the body.
	Base, Version string

	// Now is the current time; zero means time.Now().
	Now time.Time
}

// Location is where a catalog lives, as OpenStore receives it.
type Location struct {
	// Catalog is barman's destinationPath; EndpointURL the S3 endpoint, empty for AWS.
	Catalog, EndpointURL string
}

// Change is a rendered restore: the plan, the files, and the text that proposes them.
type Change struct {
	// Plan is the checked plan; nil for the cutover phase and cleanup, which need none.
	Plan *plan.Plan
	// Phase is all, restore, cutover or cleanup.
	Phase string
	// Source is the source cluster as the repository declares it.
	Source *overlays.Source
	// Restored is the restored cluster's name.
	Restored string
	// Result is the files, edits, follow-ups and notes of the change (empty when refused).
	generator.Result
	// Deleted are the paths the change deletes.
	Deleted []string
	// PullRequest is the title and body; Branch the branch it is proposed on; CommitMessage
	// the commit's message.
	PullRequest   generator.PullRequest
	Branch        string
	CommitMessage string
	// ControllerBranches are the branches the repository's GitOps controllers deploy from,
	// each with where that is said: the change is never pushed to one of them.
	ControllerBranches map[string]string
}

// PhaseCleanup is the Phase of a Change made with Options.Cleanup.
const PhaseCleanup = "cleanup"

// RefusedError is returned when the plan fails a safety check; the plan says why.
type RefusedError struct {
	Plan *plan.Plan
}

func (e *RefusedError) Error() string {
	var names []string
	for _, c := range e.Plan.Failed() {
		names = append(names, c.Name)
	}
	return "the plan failed its safety checks: " + strings.Join(names, ", ")
}

// Refusal is a *RefusedError for a plan that failed a check, nil for a good one.
func Refusal(p *plan.Plan) error {
	if p.OK() {
		return nil
	}
	return &RefusedError{Plan: p}
}

// InputError is returned when the options are incomplete or contradictory, before anything
// is read from the catalog.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, a ...any) error { return &InputError{fmt.Errorf(format, a...)} }

// Plan makes the restore plan. A plan that fails a check is returned with a nil error (see
// Refusal); an error means no plan could be made.
func Plan(ctx context.Context, opts Options) (*plan.Plan, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	var facts *repoFacts
	if opts.hasRepo() {
		repo, src, err := opts.scan()
		if err != nil {
			return nil, err
		}
		if err := opts.unresolved(src); err != nil {
			return nil, err
		}
		facts = discover(&opts, repo, src)
	}
	p, _, err := makePlan(ctx, opts, facts)
	return p, err
}

// Render plans (unless the change needs no plan: the cutover phase and cleanup) and renders
// the change. A plan that fails its checks is returned as a *RefusedError.
func Render(ctx context.Context, opts Options) (*Change, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if !opts.hasRepo() {
		return nil, inputErrorf("a repository is required: the change is made to its manifests")
	}
	if opts.Phase == "" {
		opts.Phase = generator.PhaseAll
	}
	switch opts.Phase {
	case generator.PhaseAll, generator.PhaseRestore, generator.PhaseCutover:
	default:
		return nil, inputErrorf("phase %q is not all, restore or cutover", opts.Phase)
	}
	if opts.Cleanup && opts.Phase != generator.PhaseAll {
		return nil, inputErrorf("cleanup and a phase are separate changes: use one")
	}
	repo, src, err := opts.scan()
	if err != nil {
		return nil, err
	}
	ch := &Change{Phase: opts.Phase, Source: src, ControllerBranches: repo.ControllerBranches()}
	var res *generator.Result
	var cat scanned
	switch {
	case opts.Cleanup:
		ch.Phase, ch.Restored = PhaseCleanup, opts.restoredName()
		res, err = generator.Cleanup(generator.CleanupInput{Repo: repo, Source: src, Restored: ch.Restored})
	case opts.Phase == generator.PhaseCutover:
		ch.Restored = opts.restoredName()
		res, err = generator.Render(generator.Input{Repo: repo, Source: src, Phase: opts.Phase, OverlayDir: opts.OverlayDir, Restored: ch.Restored})
	default:
		if err := opts.unresolved(src); err != nil {
			return nil, err
		}
		p, c, perr := makePlan(ctx, opts, discover(&opts, repo, src))
		if perr != nil {
			return nil, perr
		}
		ch.Plan, ch.Restored, cat = p, p.Restored.Name, c
		if !p.OK() {
			return ch, &RefusedError{Plan: p}
		}
		res, err = generator.Render(generator.Input{Repo: repo, Source: src, Plan: p, Phase: opts.Phase, OverlayDir: opts.OverlayDir, Verify: opts.Verify, WALParallel: opts.WALParallel})
	}
	if err != nil {
		return nil, err
	}
	ch.Result = *res
	ch.Deleted = []string{}
	for _, f := range res.Files {
		if f.Delete {
			ch.Deleted = append(ch.Deleted, f.Path)
		}
	}
	ch.Branch = opts.branch(ch)
	var spans []catalog.Span
	if cat.Catalog != nil {
		spans = cat.Spans()
	}
	ch.PullRequest, err = generator.RenderPullRequest(generator.PullRequestInput{
		Plan: ch.Plan, Result: res, Source: src, Restored: ch.Restored, Spans: spans, PartialWAL: cat.Partial,
		Phase: opts.Phase, Cleanup: opts.Cleanup, Branch: ch.Branch, Base: opts.Base, Version: opts.Version,
	})
	if err != nil {
		return nil, err
	}
	ch.CommitMessage = commitMessage(ch)
	return ch, nil
}

func (o *Options) check() error {
	if o.Namespace == "" || o.Name == "" {
		return inputErrorf("the source cluster's namespace and name are required")
	}
	return nil
}

func (o *Options) hasRepo() bool { return o.Repo != "" || o.RepoFS != nil }

// scan reads the repository and finds the source cluster in it.
func (o *Options) scan() (*overlays.Repo, *overlays.Source, error) {
	var repo *overlays.Repo
	var err error
	if o.RepoFS != nil {
		repo, err = overlays.Scan(o.RepoFS, o.Repo)
	} else {
		repo, err = overlays.ScanDir(o.Repo)
	}
	if err != nil {
		return nil, nil, err
	}
	src, err := repo.FindSource(o.Namespace, o.Name)
	if err != nil {
		return nil, nil, err
	}
	return repo, src, nil
}

// restoredName is the restored cluster's name when no plan chooses it.
func (o *Options) restoredName() string {
	if o.NewName != "" {
		return o.NewName
	}
	return o.Name + "-restored"
}

// scanned is the catalog a plan was made from.
type scanned struct {
	*catalog.Catalog
	// Partial is set when only the WAL from the chosen backup's candidates on was read.
	Partial bool
}

// makePlan makes the plan. A plan needs only the WAL from its backup on: scan that first; when
// the plan fails a check, plan again on the whole catalog so that the refusal is explained
// from all of it.
func makePlan(ctx context.Context, opts Options, facts *repoFacts) (*plan.Plan, scanned, error) {
	if err := opts.checkCatalog(); err != nil {
		return nil, scanned{}, err
	}
	walFrom := catalog.WALFrom(opts.Target)
	p, c, err := planOnce(ctx, opts, facts, walFrom)
	if err == nil && !p.OK() {
		walFrom = nil
		p, c, err = planOnce(ctx, opts, facts, nil)
	}
	return p, scanned{Catalog: c, Partial: walFrom != nil && c != nil && c.SkippedWALDirs > 0}, err
}

func (o *Options) checkCatalog() error {
	switch {
	case o.Catalog == "":
		return inputErrorf("no catalog location: pass --catalog (barman's destinationPath: s3://bucket/prefix or a directory)")
	case o.ServerName == "":
		return inputErrorf("no server name: pass --server-name (the directory under --catalog, usually the cluster name)")
	case strings.ContainsAny(o.ServerName, "/\\\x00") || o.ServerName == "." || o.ServerName == "..":
		return inputErrorf("server name %q must be one directory name under the catalog (no '/', not '.' or '..')", o.ServerName)
	}
	return nil
}

func planOnce(ctx context.Context, opts Options, facts *repoFacts, walFrom func([]*catalog.Backup) string) (*plan.Plan, *catalog.Catalog, error) {
	store, location, err := opts.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := catalog.Load(ctx, store, catalog.Options{ServerName: opts.ServerName, Location: location,
		Concurrency: opts.Concurrency, Progress: opts.Progress, WALFrom: walFrom, Locate: opts.Target})
	if err != nil {
		return nil, nil, err
	}
	servers, err := catalog.ServerNames(ctx, store)
	if err != nil {
		return nil, nil, fmt.Errorf("while listing the server names under %s: %w", c.Location, err)
	}
	in := plan.Input{
		Catalog:          c,
		Source:           plan.Source{Namespace: opts.Namespace, Name: opts.Name, ServerName: opts.ServerName, Catalog: strings.TrimSuffix(c.Location, "/"+c.ServerName)},
		Target:           opts.Target,
		NewName:          opts.NewName,
		NewServerName:    opts.NewServerName,
		Strategy:         opts.Strategy,
		ServersInCatalog: servers,
		Now:              opts.Now,
		WALParallel:      max(opts.WALParallel, 1), // no repo: what --wal-parallel says, else one at a time
	}
	if facts != nil {
		in.WALParallel = facts.walParallel
		in.Taken, in.ArchiveDestination, in.TakenServerNames, in.ExistingRestores, in.Notes = facts.taken, facts.destination, facts.serverNames, facts.restores, facts.notes
	}
	p, err := plan.Make(in)
	return p, c, err
}

// open opens the catalog's store and says how to name its root in messages.
func (o *Options) open(ctx context.Context) (catalog.Store, string, error) {
	loc := Location{Catalog: o.Catalog, EndpointURL: o.EndpointURL}
	if o.OpenStore != nil {
		return o.OpenStore(ctx, loc)
	}
	st, err := objstore.Open(ctx, loc.Catalog, objstore.S3Options{EndpointURL: loc.EndpointURL})
	if err != nil {
		return nil, "", err
	}
	return st.Store, st.Location, nil
}
