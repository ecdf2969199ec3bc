package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/gitops"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/restore"
)

type generateOptions struct {
	planOptions
	OverlayDir string
	Phase      string
	Cleanup    bool
	DryRun     bool
	Out        string
	AllowDirty bool
	// VerifySQL are --verify-sql assertions; NoVerify turns the verification Job off.
	VerifySQL []string
	NoVerify  bool
	// assertions are the parsed --verify-sql, or the config file's verify: (complete, config).
	assertions []generator.Assertion
	// flags tells which flags were given (they win over .cnpg-restore-gen.yaml).
	flags *pflag.FlagSet
}

func newGenerateCmd(s *streams, runF func(context.Context, *generateOptions) error) *cobra.Command {
	opts := &generateOptions{}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write the restore into the GitOps repo: the restored Cluster's overlay and the cutover",
		Long: `Generate the restore as changes to the GitOps repository in --repo:

  - an overlay directory (<cluster dir>/<new name>/, or --overlay-dir) with the restored Cluster,
    a copy of the source's spec with bootstrap.recovery pinned to the plan's backup and target,
    an externalClusters entry for the source catalog and archiving to a new server name, plus
    its ScheduledBackup, wired into the kustomization that included the source cluster;
  - the cutover: every reference the application makes to the old cluster (services -rw/-ro/-r
    in any form, the -app/-superuser/-ca secrets, Pooler and Database cluster names) rewritten
    in place, byte for byte except the name; what can't be rewritten safely is listed;
  - the ordering: Argo CD sync waves, or a Flux Kustomization of its own with a health check
    that the application's Kustomization depends on.

It plans first (the same checks as 'plan') and writes nothing when a check fails (exit 3) or
any step fails. It refuses a repo with uncommitted changes unless --allow-dirty. Secret
values are never read or written.

--phase restore and --phase cutover split the change in two; --cleanup is the follow-up that
removes the old cluster once the restored one is verified.`,
		Example: `  # see the change without touching anything
  cnpg-restore-gen generate --repo ~/src/homelab --cluster auth/authentik-postgresql --dry-run

  # point-in-time restore, written into the checkout
  cnpg-restore-gen generate --repo ~/src/homelab --cluster auth/authentik-postgresql \
      --target-time "2026-02-05 08:05:00+00" --ca-bundle truenas-ca.pem

  # after the restore is verified: remove the old cluster and its scheduled backups
  cnpg-restore-gen generate --repo ~/src/homelab --cluster auth/authentik-postgresql --cleanup`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runGenerate(cmd.Context(), s, opts)
		},
	}
	fs := cmd.Flags()
	opts.registerChange(fs, "GitOps repository checkout to read and change (required)", "print the change as a unified diff and write nothing")
	fs.StringVar(&opts.Out, "out", "", "write the changed and new files under this directory instead of the repo")
	fs.BoolVar(&opts.AllowDirty, "allow-dirty", false, "write into a checkout that has uncommitted changes")
	fs.StringVarP(&opts.Output, "output", "o", "table", "summary format: table, json or yaml")
	return cmd
}

// registerChange adds the flags generate and pr share.
func (o *generateOptions) registerChange(fs *pflag.FlagSet, repoHelp, dryRunHelp string) {
	o.flags = fs
	o.register(fs, repoHelp)
	fs.StringVar(&o.OverlayDir, "overlay-dir", "", "repo-relative directory for the restored cluster (default <cluster dir>/<new name>)")
	fs.StringVar(&o.Phase, "phase", generator.PhaseAll, "all, restore (the restored cluster only) or cutover (the edits only, once the restored cluster is merged)")
	fs.BoolVar(&o.Cleanup, "cleanup", false, "the follow-up change: remove the old cluster and its ScheduledBackups (needs the restored cluster and the cutover merged)")
	fs.BoolVar(&o.DryRun, "dry-run", false, dryRunHelp)
	fs.StringArrayVar(&o.VerifySQL, "verify-sql", nil, "a check of the restored data for the verification Job, \"NAME: QUERY\" whose one value must be true (repeatable; psql variables :'target_time', :'backup_end', :'backup_id')")
	fs.BoolVar(&o.NoVerify, "no-verify", false, "write no verification Job: nothing checks the restored data before the cutover (the PR says so)")
}

func (o *generateOptions) complete() error {
	if o.Repo == "" {
		return usagef("--repo is required: generate reads the cluster's manifests from the GitOps repository and changes them")
	}
	switch o.Phase {
	case generator.PhaseAll, generator.PhaseRestore, generator.PhaseCutover:
	default:
		return usagef("--phase %q is not all, restore or cutover", o.Phase)
	}
	if o.Cleanup && o.Phase != generator.PhaseAll {
		return usagef("--cleanup and --phase are separate changes: use one")
	}
	if o.DryRun && o.Out != "" {
		return usagef("--dry-run writes nothing: drop --out")
	}
	if o.NewName != "" && !dnsLabel(o.NewName) {
		return usagef("--new-name %q is not a valid cluster name (lowercase letters, digits and '-')", o.NewName)
	}
	if o.OverlayDir != "" {
		if _, err := fileset.RelPath(filepath.ToSlash(o.OverlayDir)); err != nil {
			return usagef("--overlay-dir: %v", err)
		}
	}
	if o.NoVerify && len(o.VerifySQL) > 0 {
		return usagef("--no-verify writes no verification Job: drop --verify-sql")
	}
	o.assertions = nil
	for i, q := range o.VerifySQL {
		a, err := generator.ParseAssertion(q, i+1)
		if err != nil {
			return usagef("--verify-sql: %v", err)
		}
		o.assertions = append(o.assertions, a)
	}
	return o.planOptions.complete()
}

// restoreOptions adds the change's flags to the plan's.
func (o *generateOptions) restoreOptions(s *streams, repo string) (restore.Options, func(), error) {
	ro, done, err := o.planOptions.restoreOptions(s)
	ro.Repo, ro.Phase, ro.Cleanup, ro.OverlayDir = repo, o.Phase, o.Cleanup, o.OverlayDir
	ro.Verify = generator.Verify{Off: o.NoVerify, Assertions: o.assertions}
	return ro, done, err
}

// render makes the change; a plan that fails its checks is printed on s.Out.
func render(ctx context.Context, s *streams, ro restore.Options, done func()) (*restore.Change, error) {
	ch, err := restore.Render(ctx, ro)
	done()
	var refused *restore.RefusedError
	if errors.As(err, &refused) {
		fmt.Fprintln(s.ErrOut, "nothing written: the plan failed its safety checks")
		if werr := writePlan(s.Out, "table", refused.Plan, false, s.width()); werr != nil {
			return nil, werr
		}
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("nothing written: %w", err)
	}
	return ch, nil
}

func runGenerate(ctx context.Context, s *streams, opts *generateOptions) error {
	state := ""
	if !opts.DryRun && opts.Out == "" {
		dir, unlock, err := lockCheckout(s, opts.Repo)
		if err != nil {
			return err
		}
		defer unlock()
		state = dir
	}
	cfg, err := loadConfig(opts.Repo)
	if err != nil {
		return err
	}
	if err := cfg.applyGenerate(opts, opts.flags); err != nil {
		return err
	}
	ro, done, err := opts.restoreOptions(s, opts.Repo)
	if err != nil {
		return err
	}
	ch, err := render(ctx, s, ro, done)
	if err != nil {
		return err
	}
	report, res := newGenerateReport(ch), &ch.Result
	switch {
	case opts.DryRun:
		if _, err := io.WriteString(s.Out, generator.Diff(res.Files)); err != nil {
			return err
		}
		if opts.Output == "table" {
			return writeGenerateSummary(s.ErrOut, report, s.width())
		}
		return writeData(s.ErrOut, opts.Output, report)
	case opts.Out != "":
		report.Written = opts.Out
		var changes []fileset.File
		for _, f := range res.Files {
			if !f.Delete {
				changes = append(changes, f)
			}
		}
		if err := (fileset.Writer{Root: opts.Out}).Write(changes); err != nil {
			return fmt.Errorf("nothing written to %s: %w", opts.Out, err)
		}
	default:
		report.Written = opts.Repo
		if len(res.Files) > 0 {
			if err := checkClean(opts.Repo, opts.AllowDirty); err != nil {
				return err
			}
			if err := (fileset.Writer{Root: opts.Repo, State: state}).Write(res.Files); err != nil {
				return fmt.Errorf("nothing written to %s: %w", opts.Repo, err)
			}
		}
	}
	if opts.Output != "table" {
		return writeData(s.Out, opts.Output, report)
	}
	return writeGenerateSummary(s.Out, report, s.width())
}

// lockCheckout makes this run the only one writing into the checkout, and finishes first what
// a killed run left: it returns the state directory for fileset.Writer ("" when repo is not a
// git checkout) and the unlock.
func lockCheckout(s *streams, repo string) (string, func(), error) {
	dir, err := gitops.StateDir(repo)
	if err != nil {
		return "", func() {}, nil
	}
	unlock, err := fileset.Lock(dir)
	if err != nil {
		return "", nil, err
	}
	did, err := fileset.Recover(dir)
	if err != nil {
		unlock()
		return "", nil, err
	}
	if did != "" {
		fmt.Fprintf(s.ErrOut, "note: %s\n", did)
	}
	return dir, unlock, nil
}

// checkClean refuses to write into a checkout with uncommitted changes: the change must be
// reviewable on its own.
func checkClean(repo string, allowDirty bool) error {
	if allowDirty {
		return nil
	}
	dirty, err := gitops.Dirty(repo)
	if errors.Is(err, gitops.ErrNotARepository) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(dirty) > 0 {
		more := ""
		if len(dirty) > 3 {
			more = fmt.Sprintf(" and %d more", len(dirty)-3)
			dirty = dirty[:3]
		}
		return fmt.Errorf("nothing written: %s has uncommitted changes (%s%s): commit or stash them, or pass --allow-dirty", repo, strings.Join(dirty, ", "), more)
	}
	return nil
}
