package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/forge"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/gitops"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/restore"
)

type prOptions struct {
	generateOptions
	Forge     string
	ForgeURL  string
	Base      string
	Branch    string
	Remote    string
	Draft     bool
	Labels    []string
	Reviewers []string
	NoPush    bool
	TokenFile string
	Author    string
	// A GitHub App instead of a token.
	AppID             int64
	AppKeyFile        string
	AppInstallationID int64
	// AllowPlainHTTP lets the token travel over http:// to a host that is not loopback.
	AllowPlainHTTP bool
	// branchTemplate is .cnpg-restore-gen.yaml's branch, expanded once the backup is known.
	branchTemplate string
	// forgeURLFromRepo is set when ForgeURL comes from the repository's configuration file.
	forgeURLFromRepo bool
}

func newPRCmd(s *streams, runF func(context.Context, *prOptions) error) *cobra.Command {
	opts := &prOptions{}
	cmd := &cobra.Command{
		Use:   "pr",
		Short: "Commit the restore on a branch, push it and open (or update) the pull request",
		Long: `Do everything 'generate' does, on a branch of its own, and open the pull request whose
description is the restore plan: merging it is the restore.

The branch, restore/<namespace>/<cluster>-<backup ID> (or --branch), starts at the tip of the
base branch (--base, default the remote's default branch) and holds one commit. The work happens
in a private clone: your checkout's work tree, index and HEAD are not touched.

Running again with the same inputs changes nothing (no commit, no push, the pull request is
left as it is). With new inputs — another target time, a fixed manifest, a moved base — the
branch is rebuilt from the base tip and force-pushed with a lease (a push someone else made
meanwhile is never overwritten) and the pull request's title and description are updated.

--repo is a checkout (the branch is pushed to its remote, --remote origin) or a URL. Tokens
come from the environment or a file, never from a flag: GITHUB_TOKEN for GitHub, GITEA_TOKEN
for Gitea and Forgejo, or --token-file. SSH remotes use your ssh-agent. The forge is inferred
from the remote's host (github.com; hosts named gitea, forgejo or codeberg); otherwise pass
--forge, and --forge-url for GitHub Enterprise (https://HOST/api/v3/) or a Gitea under a path.

--forge none pushes the branch and opens no pull request; --no-push commits the branch in the
checkout and stops; --dry-run prints the branch, the diff and the pull request and touches no
remote and no file.`,
		Example: `  # see what would be proposed
  cnpg-restore-gen pr --repo ~/src/homelab --cluster auth/authentik-postgresql --dry-run

  # open the pull request on Gitea (token from the environment)
  GITEA_TOKEN=$(cat ~/.config/gitea-token) cnpg-restore-gen pr --repo ~/src/homelab \
      --cluster auth/authentik-postgresql --target-time "2026-02-05 08:05:00+00" --label restore

  # GitHub, straight from the URL, as a draft
  GITHUB_TOKEN=... cnpg-restore-gen pr --repo https://github.com/acme/gitops.git \
      --cluster auth/authentik-postgresql --draft`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPR(cmd.Context(), s, opts)
		},
	}
	fs := cmd.Flags()
	opts.registerChange(fs, "GitOps repository: a checkout directory or a clone URL (required)", "print the branch, the diff and the pull request; touch nothing")
	fs.StringVarP(&opts.Output, "output", "o", "table", "summary format: table, json or yaml")
	opts.registerForge(fs, "branch name (default restore/<namespace>/<cluster>-<backup ID>)")
	return cmd
}

// registerForge adds the flags of the branch, the push and the pull request (pr, doctor --pr).
func (o *prOptions) registerForge(fs *pflag.FlagSet, branchHelp string) {
	fs.StringVar(&o.Forge, "forge", "", "github, gitea (also Forgejo) or none (push the branch, open no pull request); default: from the remote's host")
	fs.StringVar(&o.ForgeURL, "forge-url", "", "API root for GitHub Enterprise (https://HOST/api/v3/), or Gitea's web root when it is not the remote's")
	fs.StringVar(&o.Base, "base", "", "branch the pull request merges into (default: the remote's default branch)")
	fs.StringVar(&o.Branch, "branch", "", branchHelp)
	fs.StringVar(&o.Remote, "remote", "origin", "the checkout's remote to push to")
	fs.BoolVar(&o.Draft, "draft", false, "open the pull request as a draft (Gitea and Forgejo: a \"WIP:\" title)")
	fs.StringSliceVar(&o.Labels, "label", nil, "label for the pull request (repeatable; created when missing)")
	fs.StringSliceVar(&o.Reviewers, "reviewer", nil, "user asked to review the new pull request (repeatable)")
	fs.BoolVar(&o.NoPush, "no-push", false, "commit the branch in the checkout and stop: no push, no pull request")
	fs.StringVar(&o.TokenFile, "token-file", "", "file holding the forge token (default: $GITHUB_TOKEN or $GITEA_TOKEN)")
	fs.Int64Var(&o.AppID, "github-app-id", 0, "act as this GitHub App instead of a token (default $GITHUB_APP_ID)")
	fs.StringVar(&o.AppKeyFile, "github-app-key-file", "", "the GitHub App's private key, PEM (default $GITHUB_APP_PRIVATE_KEY_FILE)")
	fs.Int64Var(&o.AppInstallationID, "github-app-installation-id", 0, "the App's installation (default $GITHUB_APP_INSTALLATION_ID, else found from the repository)")
	fs.BoolVar(&o.AllowPlainHTTP, "allow-plain-http", false, "let the forge token travel over plain http:// to a host that is not loopback (a private network)")
	fs.StringVar(&o.Author, "author", "", `commit author "Name <email>" (default: your git config, else cnpg-restore-gen)`)
}

func (o *prOptions) complete() error {
	if o.Repo == "" {
		return usagef("--repo is required: a checkout of the GitOps repository or its URL")
	}
	if err := o.completeForge(); err != nil {
		return err
	}
	// generate's checks, without the ones about writing into --repo.
	repo := o.Repo
	g := o.generateOptions
	g.Repo = "."
	if err := g.complete(); err != nil {
		return err
	}
	o.planOptions = g.planOptions
	o.Repo = repo
	return nil
}

// completeForge checks the flags registerForge adds.
func (o *prOptions) completeForge() error {
	switch o.Forge {
	case "", forge.GitHub, forge.Gitea, forge.None:
	default:
		return usagef("--forge %q is not github, gitea or none", o.Forge)
	}
	if o.NoPush && o.DryRun {
		return usagef("--dry-run already pushes nothing: drop --no-push")
	}
	if o.NoPush && gitops.IsURL(o.Repo) {
		return usagef("--no-push leaves the branch in a checkout: pass a directory, not a URL")
	}
	if o.Author != "" {
		if _, err := parseAuthor(o.Author); err != nil {
			return usagef("--author: %v", err)
		}
	}
	return nil
}

func runPR(ctx context.Context, s *streams, opts *prOptions) error {
	return publish(ctx, s, opts, func(ws *gitops.Workspace, cfg *repoConfig) (*restore.Change, error) {
		if err := cfg.applyGenerate(&opts.generateOptions, opts.flags); err != nil {
			return nil, err
		}
		ro, done, err := opts.restoreOptions(s, ws.Dir)
		if err != nil {
			return nil, err
		}
		ro.Branch, ro.BranchTemplate, ro.Base, ro.Version = opts.Branch, opts.branchTemplate, ws.Base, version()
		return render(ctx, s, ro, done)
	})
}

// publish opens a private clone of the repository's base branch, has produce make the change
// in it (the files, the pull request's text, the branch), commits it on its branch, pushes it
// with a lease and opens or updates the pull request: the pr command's whole life, for the
// restore and for doctor --fix alike.
func publish(ctx context.Context, s *streams, opts *prOptions, produce func(ws *gitops.Workspace, cfg *repoConfig) (*restore.Change, error)) error {
	if opts.ForgeURL == "" {
		opts.ForgeURL = s.Getenv("CNPG_RESTORE_GEN_FORGE_URL") // the user's own environment
	}
	var cfg *repoConfig
	if !gitops.IsURL(opts.Repo) {
		// A checkout: its configuration can also say which base and forge to use.
		c, err := loadConfig(opts.Repo)
		if err != nil {
			return err
		}
		cfg = c
		cfg.applyPR(opts, opts.flags, false)
	}
	origin, err := gitops.OpenOrigin(opts.Repo, opts.Remote)
	if err != nil {
		return err
	}
	if origin.Remote == "" && !opts.NoPush && !opts.DryRun {
		return fmt.Errorf("%s has no remote %q to push to: add it, pass --remote, or use --no-push", opts.Repo, opts.Remote)
	}
	s.Secrets.AddURLs(origin.Remote)
	forgeName, repoRef, err := forge.Choose(origin.Remote, opts.Forge, opts.NoPush || opts.DryRun)
	if err != nil {
		return err
	}
	// The token (or a GitHub App's key) goes to the remote's host, or to a forge URL the user
	// gave; never to one the repository chose, nor in the clear across a network.
	dest := forge.Destination{Remote: repoRef, APIRoot: opts.ForgeURL, APIRootFromRepo: opts.forgeURLFromRepo, AllowPlainHTTP: true}
	if err := dest.Check(); err != nil {
		return err
	}
	token, err := forge.Token(ctx, opts.httpClient(s), forgeName, repoRef, opts.ForgeURL, forge.Credentials{TokenFile: opts.TokenFile, Getenv: s.Getenv,
		AppID: opts.AppID, AppKeyFile: opts.AppKeyFile, AppInstallationID: opts.AppInstallationID})
	if errors.Is(err, forge.ErrCredentials) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	s.Secrets.Add(token)
	if dest.AllowPlainHTTP = opts.AllowPlainHTTP; token != "" && !opts.NoPush && !opts.DryRun {
		if err := dest.Check(); err != nil {
			return err
		}
	}
	local := opts.NoPush || (opts.DryRun && !gitops.IsURL(opts.Repo))
	ws, err := gitops.Open(ctx, gitops.OpenOptions{Origin: origin, Base: opts.Base, Local: local, Auth: gitops.TokenAuth(token), Timeout: opts.S3.Timeout})
	if err != nil {
		return redactErr(err, token)
	}
	defer func() { _ = ws.Close() }()

	if cfg == nil {
		// A URL: the configuration on the base branch, for what is still to decide.
		if cfg, err = loadConfig(ws.Dir); err != nil {
			return err
		}
		cfg.applyPR(opts, opts.flags, true)
	}
	ch, err := produce(ws, cfg)
	if err != nil {
		return err
	}
	pr, branch := ch.PullRequest, ch.Branch
	// What goes to the forge and into git is scrubbed like what goes to the terminal.
	pr.Title, pr.Body = s.Secrets.String(pr.Title), s.Secrets.String(pr.Body)
	report := prReport{generateReport: newGenerateReport(ch), Forge: forgeName, Title: pr.Title, Body: pr.Body, Branch: branch}
	if len(ch.Files) == 0 {
		return fmt.Errorf("nothing to propose: %s on %s already has everything this change would make (phase %s)", opts.Repo, ws.Base, report.Phase)
	}
	if opts.DryRun {
		return writePRDryRun(s, opts, report, ws.Base, generator.Diff(ch.Files))
	}
	author, err := opts.author(origin)
	if err != nil {
		return err
	}
	commit, err := ws.Publish(ctx, gitops.PublishOptions{Branch: branch, Changes: ch.Files, Message: s.Secrets.String(ch.CommitMessage), Author: author, Push: true,
		Protected: ch.ControllerBranches})
	if err != nil {
		return redactErr(err, token)
	}
	report.Commit = commit
	report.Written = "branch " + branch
	if !local && forgeName != forge.None {
		// From here on the branch is on the remote: every error says so.
		pushed := fmt.Sprintf("branch %s is pushed to %s (commit %.12s)", branch, commit.Remote, commit.Hash)
		f, err := forge.New(ctx, opts.httpClient(s), forgeName, repoRef, opts.ForgeURL, token)
		if err != nil {
			return afterWrite{done: pushed, err: redactErr(err, token)}
		}
		if commit.Raced {
			if err := forge.AwaitOpen(ctx, f, branch, ws.Base, 20*time.Second); err != nil {
				return afterWrite{done: pushed, err: redactErr(err, token)}
			}
		}
		got, outcome, err := forge.Ensure(ctx, f, forge.PullRequest{Head: branch, Base: ws.Base, Title: pr.Title, Body: pr.Body, Draft: opts.Draft, Labels: opts.Labels, Reviewers: opts.Reviewers})
		if err != nil {
			return afterWrite{done: pushed, err: redactErr(fmt.Errorf("the pull request is not open: %w", err), token)}
		}
		report.PullRequest, report.Outcome = got, outcome
	}
	if opts.Output != "table" {
		report.Body = ""
		return writeData(s.Out, opts.Output, report)
	}
	return writePRSummary(s.Out, report, local, s.width())
}

// httpClient is the forges' client: retries with backoff, logged on stderr unless --quiet.
func (o *prOptions) httpClient(s *streams) *http.Client {
	var log io.Writer
	if !o.Quiet {
		log = s.ErrOut
	}
	return &http.Client{Transport: &forge.Retry{Log: log, Timeout: o.S3.Timeout}}
}

func (o *prOptions) author(origin *gitops.Origin) (object.Signature, error) {
	if o.Author != "" {
		return parseAuthor(o.Author)
	}
	name, email := origin.Author()
	if name == "" || email == "" {
		name, email = "cnpg-restore-gen", "cnpg-restore-gen@localhost"
	}
	return object.Signature{Name: name, Email: email}, nil
}

func parseAuthor(s string) (object.Signature, error) {
	name, rest, ok := strings.Cut(s, "<")
	email, _, ok2 := strings.Cut(rest, ">")
	name, email = strings.TrimSpace(name), strings.TrimSpace(email)
	if !ok || !ok2 || name == "" || !strings.Contains(email, "@") {
		return object.Signature{}, fmt.Errorf("%q is not \"Name <email>\"", s)
	}
	return object.Signature{Name: name, Email: email}, nil
}
