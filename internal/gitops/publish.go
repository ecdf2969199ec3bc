package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/redact"
)

// TokenAuth is HTTPS authentication with a forge token: GitHub (personal and App installation
// tokens), Gitea and Forgejo take it as the password, and x-access-token is the user name
// GitHub documents for installation tokens.
func TokenAuth(token string) transport.AuthMethod {
	if token == "" {
		return nil
	}
	return &githttp.BasicAuth{Username: "x-access-token", Password: token}
}

// IsURL tells a remote URL (https://, ssh://, git@host:path, file://) from a directory.
func IsURL(s string) bool {
	if strings.Contains(s, "://") {
		return true
	}
	// scp-like: user@host:path, but not a Windows drive or a relative path with a colon.
	return scpLike.MatchString(s)
}

var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:`)

// OpenOptions says where the restore branch is built.
type OpenOptions struct {
	// Origin is the repository, already opened; when nil, Repo (a checkout directory or a
	// remote URL) and RemoteName (the checkout's remote the branch is pushed to, default
	// origin) are opened.
	Origin     *Origin
	Repo       string
	RemoteName string
	// Base is the branch the restore branch starts from; empty means the remote's default
	// branch (its HEAD).
	Base string
	// Local works from the checkout's own base branch and leaves the branch in the checkout,
	// without reading or writing any remote (--no-push, --dry-run).
	Local bool
	Auth  transport.AuthMethod
	// Progress receives the remote's progress messages; nil discards them.
	Progress io.Writer
	// Timeout bounds each network operation (listing, clone, fetch, push); 0 means none.
	Timeout time.Duration
}

// Workspace is a private clone of the base branch's tip, in a temporary directory: the user's
// own checkout (its work tree, index and HEAD) is never touched.
type Workspace struct {
	// Dir is the clone's work tree, at the base tip.
	Dir string
	// Base is the base branch; BaseHash its tip.
	Base     string
	BaseHash plumbing.Hash
	// Remote is where the branch goes: the remote's URL, or the checkout itself when Local.
	Remote string
	repo   *git.Repository
	auth   transport.AuthMethod
	tmp    string
	prog   io.Writer
	// timeout bounds each network operation.
	timeout time.Duration
	// beforePush runs between reading the remote branch and pushing (tests race it).
	beforePush func()
}

// Open clones the base branch into a temporary directory. Close removes it.
func Open(ctx context.Context, o OpenOptions) (*Workspace, error) {
	origin := o.Origin
	if origin == nil {
		var err error
		if origin, err = OpenOrigin(o.Repo, o.RemoteName); err != nil {
			return nil, err
		}
	}
	w := &Workspace{auth: o.Auth, prog: o.Progress, timeout: o.Timeout}
	var source string
	switch {
	case origin.repo == nil:
		if o.Local {
			return nil, fmt.Errorf("%s is a URL: --no-push and --dry-run work on a checkout, and leave the branch there: clone it and pass its directory", redact.URL(origin.Repo))
		}
		w.Remote, source = origin.Remote, origin.Remote
	case o.Local:
		w.Remote, source = origin.Top, origin.Top
		if o.Base == "" {
			head, err := origin.repo.Head()
			if err != nil {
				return nil, fmt.Errorf("%s has no commit on HEAD: commit the GitOps repository first, or pass --base: %w", origin.Top, err)
			}
			if !head.Name().IsBranch() {
				return nil, fmt.Errorf("%s has a detached HEAD: pass --base BRANCH", origin.Top)
			}
			o.Base = head.Name().Short()
		}
	case origin.Remote == "":
		return nil, fmt.Errorf("%s has no remote %q to push the branch to: add it, pass --remote, or use --no-push to commit locally", origin.Top, origin.RemoteName)
	default:
		w.Remote, source = origin.Remote, origin.Remote
	}
	if o.Base == "" {
		base, err := defaultBranch(ctx, o.Timeout, source, o.Auth)
		if err != nil {
			return nil, err
		}
		o.Base = base
	}
	w.Base = o.Base
	tmp, err := os.MkdirTemp("", "cnpg-restore-gen-git-")
	if err != nil {
		return nil, err
	}
	w.tmp, w.Dir = tmp, filepath.Join(tmp, "repo")
	co := &git.CloneOptions{URL: source, Auth: o.Auth, ReferenceName: plumbing.NewBranchReferenceName(o.Base), SingleBranch: true, Tags: git.NoTags, Progress: o.Progress}
	if !o.Local {
		co.Depth = 1 // only the tip is needed: the commit goes on top of it
	}
	var repo *git.Repository
	err = netOp(ctx, o.Timeout, redact.URL(source), func(ctx context.Context) (err error) {
		repo, err = git.PlainCloneContext(ctx, w.Dir, false, co)
		return err
	})
	if err != nil {
		_ = os.RemoveAll(tmp)
		if errors.Is(err, git.NoMatchingRefSpecError{}) {
			return nil, fmt.Errorf("%s has no branch %s: pass --base with the branch the GitOps controller follows: %w", redact.URL(source), o.Base, err)
		}
		return nil, fmt.Errorf("while cloning branch %s of %s: %w", o.Base, redact.URL(source), explain(err, w.auth))
	}
	head, err := repo.Head()
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	w.repo, w.BaseHash = repo, head.Hash()
	return w, nil
}

// Close removes the temporary clone.
func (w *Workspace) Close() error {
	if w == nil || w.tmp == "" {
		return nil
	}
	return os.RemoveAll(w.tmp)
}

func workTree(r *git.Repository, dir string) (string, error) {
	wt, err := r.Worktree()
	if err != nil {
		return "", fmt.Errorf("%s is a bare repository: pass a checkout or a URL: %w", dir, err)
	}
	return wt.Filesystem.Root(), nil
}

// Origin is where a change starts: a remote URL, or a local checkout — opened once — and the
// URL of its remote.
type Origin struct {
	// Repo is the URL or directory as given; Top the checkout's work tree ("" for a URL).
	Repo, Top  string
	RemoteName string
	// Remote is the remote's URL, or its path on this machine made absolute against Top; ""
	// when the checkout has no such remote.
	Remote string
	repo   *git.Repository
}

// OpenOrigin opens repo (a URL or a directory inside a checkout) and reads its remote.
func OpenOrigin(repo, remoteName string) (*Origin, error) {
	if remoteName == "" {
		remoteName = "origin"
	}
	o := &Origin{Repo: repo, RemoteName: remoteName}
	if IsURL(repo) {
		o.Remote = repo
		return o, nil
	}
	local, err := git.PlainOpenWithOptions(repo, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("%s is not in a git repository: clone the GitOps repository and pass its directory, or pass its URL", repo)
	}
	if err != nil {
		return nil, fmt.Errorf("while opening the git repository at %s: %w", repo, err)
	}
	if o.Top, err = workTree(local, repo); err != nil {
		return nil, err
	}
	o.repo = local
	if rem, err := local.Remote(remoteName); err == nil && len(rem.Config().URLs) > 0 {
		u := rem.Config().URLs[0]
		if !IsURL(u) && !filepath.IsAbs(u) {
			u = filepath.Join(o.Top, u) // a path on this machine, relative to the checkout
		}
		o.Remote = u
	}
	return o, nil
}

// Author is the user's name and email from git's global configuration; "" when unset.
func (o *Origin) Author() (name, email string) {
	if o.repo != nil {
		if c, err := o.repo.ConfigScoped(config.GlobalScope); err == nil {
			return c.User.Name, c.User.Email
		}
		return "", ""
	}
	if c, err := config.LoadConfig(config.GlobalScope); err == nil {
		return c.User.Name, c.User.Email
	}
	return "", ""
}

// defaultBranch asks the remote which branch its HEAD points at.
func defaultBranch(ctx context.Context, timeout time.Duration, source string, auth transport.AuthMethod) (string, error) {
	refs, err := listRemote(ctx, timeout, source, auth)
	if err != nil {
		return "", err
	}
	have := map[plumbing.ReferenceName]bool{}
	for _, r := range refs {
		if r.Name() == plumbing.HEAD && r.Type() == plumbing.SymbolicReference && r.Target().IsBranch() {
			return r.Target().Short(), nil
		}
		have[r.Name()] = true
	}
	for _, b := range []string{"main", "master"} {
		if have[plumbing.NewBranchReferenceName(b)] {
			return b, nil
		}
	}
	return "", fmt.Errorf("%s does not say its default branch and has neither main nor master: pass --base", redact.URL(source))
}

func listRemote(ctx context.Context, timeout time.Duration, source string, auth transport.AuthMethod) ([]*plumbing.Reference, error) {
	rem := git.NewRemote(nil, &config.RemoteConfig{Name: "origin", URLs: []string{source}})
	var refs []*plumbing.Reference
	err := netOp(ctx, timeout, redact.URL(source), func(ctx context.Context) (err error) {
		refs, err = rem.ListContext(ctx, &git.ListOptions{Auth: auth})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("while listing the branches of %s: %w", redact.URL(source), explain(err, auth))
	}
	return refs, nil
}

// Commit is what Publish did.
type Commit struct {
	Branch string `json:"branch"`
	Base   string `json:"base"`
	// Hash is the branch's commit: the new one, or the existing one when Unchanged.
	Hash string `json:"commit"`
	// Unchanged is set when the branch already held exactly this tree: nothing was committed
	// or pushed.
	Unchanged bool `json:"unchanged"`
	// Replaced is the branch's previous commit when it was rebuilt (force-pushed with lease).
	Replaced string `json:"replaced,omitempty"`
	// Raced is set when another run pushed the same change while this one worked: its commit
	// is kept (Unchanged), and that run opens the pull request.
	Raced bool `json:"raced,omitempty"`
	// BaseMoved is set when the replaced commit was made on an older tip of the base.
	BaseMoved bool   `json:"baseMoved,omitempty"`
	Pushed    bool   `json:"pushed"`
	Remote    string `json:"remote"`
}

// PublishOptions is the commit to make.
type PublishOptions struct {
	Branch  string
	Changes []fileset.File
	Message string
	Author  object.Signature
	// Push sends the branch to the remote; without it the commit stays in the workspace
	// (--dry-run reads the result and pushes nothing).
	Push bool
	// Protected are branches never written whatever they hold, each with why: the branch the
	// GitOps controller follows, say. The base branch always is.
	Protected map[string]string
}

// Trailer marks every commit Publish makes; an existing branch is replaced only when its tip
// carries it (or the line older versions wrote), so a branch a person made is never rewritten.
const Trailer = "Generated-By: cnpg-restore-gen"

const legacyMark = "\nMade by cnpg-restore-gen;"

// madeByTool says whether a commit is one Publish made: a single commit on top of its base,
// with the trailer.
func madeByTool(c *object.Commit) bool {
	msg := "\n" + c.Message
	return len(c.ParentHashes) == 1 && (strings.Contains(msg, "\n"+Trailer+"\n") || strings.HasSuffix(msg, "\n"+Trailer) || strings.Contains(msg, legacyMark))
}

// Publish makes the branch from the base tip with one commit holding the changes, and
// pushes it. When the remote branch already has the same tree it does nothing; when it has
// another, the branch is rebuilt from the base tip and force-pushed with a lease on the commit
// it had, so a concurrent push is never overwritten.
func (w *Workspace) Publish(ctx context.Context, o PublishOptions) (*Commit, error) {
	if err := validBranch(o.Branch); err != nil {
		return nil, err
	}
	ref := plumbing.NewBranchReferenceName(o.Branch)
	res := &Commit{Branch: o.Branch, Base: w.Base, Remote: redact.URL(w.Remote)}
	if o.Branch == w.Base {
		return nil, fmt.Errorf("branch %s is the base branch: the restore goes on a branch of its own, never onto the one it merges into; pass another --branch", o.Branch)
	}
	if why, ok := o.Protected[o.Branch]; ok {
		return nil, fmt.Errorf("branch %s is %s: the tool writes only to branches it made; pass another --branch", o.Branch, why)
	}
	if !strings.Contains(o.Message, Trailer) {
		o.Message = strings.TrimRight(o.Message, "\n") + "\n\n" + Trailer + "\n"
	}
	wt, err := w.repo.Worktree()
	if err != nil {
		return nil, err
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: w.BaseHash, Branch: ref, Create: true, Force: true}); err != nil {
		return nil, fmt.Errorf("while creating branch %s from %s: %w", o.Branch, w.Base, err)
	}
	if err := (fileset.Writer{Root: w.Dir}).Write(o.Changes); err != nil {
		return nil, err
	}
	for _, c := range o.Changes {
		if c.Delete {
			_, err = wt.Remove(c.Path)
		} else {
			_, err = wt.Add(c.Path)
		}
		if err != nil {
			return nil, fmt.Errorf("while staging %s: %w", c.Path, err)
		}
	}
	author := o.Author
	if author.When.IsZero() {
		author.When = time.Now()
	}
	hash, err := wt.Commit(o.Message, &git.CommitOptions{Author: &author, Committer: &author})
	if err != nil {
		return nil, fmt.Errorf("while committing on %s: %w", o.Branch, err)
	}
	res.Hash = hash.String()
	commit, err := w.repo.CommitObject(hash)
	if err != nil {
		return nil, err
	}
	if !o.Push {
		return res, nil
	}
	existing, err := w.remoteBranch(ctx, ref)
	if err != nil {
		return nil, err
	}
	var lease *git.ForceWithLease
	if !existing.IsZero() {
		old, err := w.fetch(ctx, ref, existing)
		if err != nil {
			return nil, err
		}
		if !madeByTool(old) {
			return nil, fmt.Errorf("branch %s already exists on %s and was not made by cnpg-restore-gen (its tip %.12s is not one commit carrying %q): it is never rewritten; pass another --branch, or delete that branch if it is yours to lose", o.Branch, res.Remote, existing, Trailer)
		}
		if old.TreeHash == commit.TreeHash {
			// The same tree (even on an older base tip): nothing a reviewer would see changes.
			res.Hash, res.Unchanged = existing.String(), true
			return res, nil
		}
		res.Replaced = existing.String()
		res.BaseMoved = len(old.ParentHashes) == 1 && old.ParentHashes[0] != w.BaseHash
		lease = &git.ForceWithLease{RefName: ref, Hash: existing}
	}
	if w.beforePush != nil {
		w.beforePush()
	}
	err = netOp(ctx, w.timeout, res.Remote, func(ctx context.Context) error {
		return w.repo.PushContext(ctx, &git.PushOptions{
			RemoteName:     "origin",
			RefSpecs:       []config.RefSpec{config.RefSpec(ref + ":" + ref)},
			Auth:           w.auth,
			ForceWithLease: lease,
			Progress:       w.prog,
		})
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return w.pushFailed(ctx, res, ref, existing, commit, err)
	}
	res.Pushed = true
	return res, nil
}

// pushFailed explains a refused push. When the branch moved on the remote during this run
// (another run for the same restore, or a person), the lease or the server refused it: if the
// other push holds the same tree the outcome is the same and nothing more is needed; else the
// user runs again. Otherwise the remote refused the branch itself (protection, permissions).
func (w *Workspace) pushFailed(ctx context.Context, res *Commit, ref plumbing.ReferenceName, existing plumbing.Hash, commit *object.Commit, pushErr error) (*Commit, error) {
	now, err := w.remoteBranch(ctx, ref)
	if err == nil && now != existing && !now.IsZero() {
		if other, ferr := w.fetch(ctx, ref, now); ferr == nil && other.TreeHash == commit.TreeHash {
			res.Hash, res.Unchanged, res.Replaced, res.Raced = now.String(), true, "", true
			return res, nil
		}
		return nil, fmt.Errorf("branch %s changed on %s while this run worked on it (another run or a person pushed to it): run again to rebuild it from %s: %w", ref.Short(), res.Remote, w.Base, pushErr)
	}
	return nil, fmt.Errorf("%s refused branch %s: %w; check that the token may push, and that restore/ branches are not protected", res.Remote, ref.Short(), explain(pushErr, w.auth))
}

// remoteBranch is the remote's commit for ref, zero when it has none.
func (w *Workspace) remoteBranch(ctx context.Context, ref plumbing.ReferenceName) (plumbing.Hash, error) {
	refs, err := listRemote(ctx, w.timeout, w.Remote, w.auth)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, r := range refs {
		if r.Name() == ref && r.Type() == plumbing.HashReference {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// fetch brings the remote's commit of ref into the workspace, as refs/remotes/origin/<branch>
// (where the lease looks for it).
func (w *Workspace) fetch(ctx context.Context, ref plumbing.ReferenceName, want plumbing.Hash) (*object.Commit, error) {
	tracking := plumbing.NewRemoteReferenceName("origin", ref.Short())
	err := netOp(ctx, w.timeout, redact.URL(w.Remote), func(ctx context.Context) error {
		return w.repo.FetchContext(ctx, &git.FetchOptions{
			RemoteName: "origin",
			RefSpecs:   []config.RefSpec{config.RefSpec("+" + ref + ":" + tracking)},
			Auth:       w.auth,
			Tags:       git.NoTags,
			Progress:   w.prog,
		})
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("while fetching branch %s from %s: %w", ref.Short(), redact.URL(w.Remote), explain(err, w.auth))
	}
	got, err := w.repo.Reference(tracking, true)
	if err != nil {
		return nil, err
	}
	if got.Hash() != want {
		return nil, fmt.Errorf("branch %s changed on %s while this run read it: run again", ref.Short(), redact.URL(w.Remote))
	}
	return w.repo.CommitObject(want)
}

var branchRE = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

func validBranch(b string) error {
	if !branchRE.MatchString(b) || strings.Contains(b, "..") || strings.Contains(b, "//") ||
		strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".lock") || strings.HasPrefix(b, "-") {
		return fmt.Errorf("%q is not a valid branch name", b)
	}
	return nil
}

// explain adds what to do to go-git's terse transport errors.
func explain(err error, auth transport.AuthMethod) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired) && auth != nil:
		return fmt.Errorf("%w: the server refused the token: check GITHUB_TOKEN, GITEA_TOKEN or --token-file", err)
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return fmt.Errorf("%w: set GITHUB_TOKEN or GITEA_TOKEN (or --token-file) for HTTPS, or use an SSH URL with a key in ssh-agent", err)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%w: the token was refused or may not push to this repository", err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%w: check the URL, and that the token can see the repository", err)
	}
	return err
}

// netOp runs one network operation under timeout, so that a stalled git server ends the run
// with an error naming it instead of hanging it.
func netOp(ctx context.Context, timeout time.Duration, server string, fn func(context.Context) error) error {
	if timeout <= 0 {
		return fn(ctx)
	}
	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := fn(octx)
	if err != nil && ctx.Err() == nil && errors.Is(octx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s did not answer within --timeout (%s); check the git server, or raise --timeout: %w", server, timeout, context.DeadlineExceeded)
	}
	return err
}
