package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/doctor"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/gitops"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/termsafe"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/restore"
)

type doctorOptions struct {
	catalogFlags
	// CatalogChecks reads each cluster's catalog, where its manifests say (the catalog flags
	// override); BackupMaxAge and WALMaxAge are when the newest backup and WAL are stale.
	CatalogChecks           bool
	BackupMaxAge, WALMaxAge time.Duration
	Repo                    string
	Cluster                 string
	Namespace               string
	Output                  string
	FailOn                  string
	// Fix writes the mechanical fixes into Repo (DryRun: prints them as a diff); AllowDirty
	// lets it write into a checkout with uncommitted changes.
	Fix, DryRun, AllowDirty bool
	// PR proposes the fixes as a pull request instead, with pr's forge flags in pr.
	PR bool
	pr prOptions
}

func newDoctorCmd(s *streams, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	opts := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Find the backup misconfigurations that lose data, before the incident",
		Long: `Examine every CloudNativePG cluster the repository deploys (or the one --cluster names)
for what makes a restore impossible or wrong: an archive path naming a pod instead of the
cluster, ScheduledBackups missing, suspended, pointing at another cluster, using the in-tree
method on a plugin cluster or naming no ObjectStore, two clusters archiving to one path,
cnpg.io/skipEmptyWalArchiveCheck, bootstrap.recovery from a live cluster's own archive, no
retention policy, no alert on WAL archiving, and the deprecated in-tree barmanObjectStore.

Each finding has a rule ID, a severity, the object and its file:line, the failure it leads to
and the fix. -o sarif writes SARIF 2.1.0 for GitHub code scanning. Exit 0 when no finding
reaches --fail-on (error by default), 3 when one does, 1 on other errors.

--fix writes the fixes that are mechanical and safe into the checkout (--dry-run prints them as
a diff): a ScheduledBackup's plugin method, plugin name and barmanObjectName, a five-field
schedule's seconds, and a PrometheusRule per cluster on WAL archiving and the WAL volume,
listed where the cluster is. It never changes where a live cluster archives: moving an archive
needs a new base backup first, and the finding's fix says how. With --pr the fixes are proposed
as a pull request, as pr proposes a restore (a private clone, the same forge flags and tokens).
The exit code then counts what --fix left.`,
		Example: `  # every cluster of the checkout
  cnpg-restore-gen doctor --repo ~/src/homelab

  # one cluster, failing on warnings too, for CI annotations
  cnpg-restore-gen doctor --repo . --cluster auth/authentik-postgresql --fail-on warning -o sarif > doctor.sarif

  # see the mechanical fixes, then write them
  cnpg-restore-gen doctor --repo ~/src/homelab --fix --dry-run
  cnpg-restore-gen doctor --repo ~/src/homelab --fix

  # propose them as a pull request (branch doctor/fix) instead
  cnpg-restore-gen doctor --repo ~/src/homelab --fix --pr --label backups`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDoctor(cmd.Context(), s, opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Repo, "repo", "", "GitOps repository checkout to examine (required)")
	fs.StringVar(&opts.Cluster, "cluster", "", "examine only this cluster, NAMESPACE/NAME (or NAME with -n)")
	fs.StringVarP(&opts.Namespace, "namespace", "n", "", "the cluster's namespace")
	fs.StringVarP(&opts.Output, "output", "o", "table", "output format: table, json or sarif")
	fs.StringVar(&opts.FailOn, "fail-on", doctor.Error, "exit 3 when a finding of this severity or worse exists: warning or error")
	fs.BoolVar(&opts.CatalogChecks, "catalog-checks", false, "also read each cluster's backup catalog where its manifests say (S3 credentials from the AWS chain; --catalog, --server-name, --endpoint-url override)")
	fs.DurationVar(&opts.BackupMaxAge, "backup-max-age", 0, "with --catalog-checks: the newest usable base backup is stale past this age (default: once the ScheduledBackup's next run after it, plus an hour, has passed; 48h without a schedule)")
	fs.DurationVar(&opts.WALMaxAge, "wal-max-age", doctor.DefaultWALMaxAge, "with --catalog-checks: the newest archived WAL is stale past this age")
	fs.BoolVar(&opts.Fix, "fix", false, "write the mechanical, safe fixes into --repo (never where a live cluster archives)")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "with --fix: print the fixes as a diff and write nothing")
	fs.BoolVar(&opts.AllowDirty, "allow-dirty", false, "with --fix: write into a checkout that has uncommitted changes")
	fs.BoolVar(&opts.PR, "pr", false, "with --fix: propose the fixes as a pull request from a private clone of the base branch (pr's forge flags; the checkout is not touched)")
	opts.pr.registerForge(fs, "with --pr: the branch (default doctor/fix)")
	opts.pr.flags = fs
	opts.register(fs)
	return cmd
}

func (o *doctorOptions) complete() error {
	if o.Repo == "" {
		return usagef("--repo is required: doctor reads the clusters' manifests from the GitOps repository")
	}
	switch o.Output {
	case "table", "json", "sarif":
	default:
		return usagef("-o %q: the output format is table, json or sarif", o.Output)
	}
	switch o.FailOn {
	case doctor.Warning, doctor.Error:
	default:
		return usagef("--fail-on %q is not warning or error", o.FailOn)
	}
	if (o.DryRun || o.AllowDirty) && !o.Fix {
		return usagef("--dry-run and --allow-dirty are for --fix: add it, or drop them")
	}
	if o.Fix && o.Output == "sarif" {
		return usagef("--fix writes files; -o sarif is for code scanning: run them apart")
	}
	if !o.PR {
		for _, name := range []string{"forge", "forge-url", "base", "branch", "remote", "draft", "label", "reviewer", "no-push", "token-file",
			"github-app-id", "github-app-key-file", "github-app-installation-id", "allow-plain-http", "author"} {
			if o.pr.flags != nil && o.pr.flags.Changed(name) {
				return usagef("--%s is for --fix --pr: add them, or drop it", name)
			}
		}
	}
	if o.PR {
		if !o.Fix {
			return usagef("--pr proposes what --fix writes: add --fix")
		}
		if o.Output != "table" || o.AllowDirty {
			return usagef("--pr prints the findings and the pull request as text, and never writes into the checkout: drop -o and --allow-dirty")
		}
		o.pr.Repo, o.pr.DryRun, o.pr.Output, o.pr.S3.Timeout = o.Repo, o.DryRun, "table", o.S3.Timeout
		if o.pr.NoPush && o.DryRun {
			return usagef("--dry-run already pushes nothing: drop --no-push")
		}
		if err := o.pr.completeForge(); err != nil {
			return err
		}
	}
	if o.BackupMaxAge < 0 || o.WALMaxAge <= 0 {
		return usagef("--backup-max-age and --wal-max-age must be positive")
	}
	if !o.CatalogChecks && (o.Catalog != "" || o.ServerName != "" || o.S3.EndpointURL != "") {
		return usagef("--catalog, --server-name and --endpoint-url are for --catalog-checks: add it, or drop them")
	}
	if err := o.validateValues(); err != nil {
		return err
	}
	if o.Cluster == "" {
		if o.Namespace != "" {
			return usagef("-n %s needs --cluster NAME", o.Namespace)
		}
		return nil
	}
	var err error
	o.Namespace, o.Cluster, err = splitCluster(o.Cluster, o.Namespace)
	return err
}

func runDoctor(ctx context.Context, s *streams, o *doctorOptions) error {
	repo, err := overlays.ScanDir(o.Repo)
	if err != nil {
		return err
	}
	opts := doctor.Options{Namespace: o.Namespace, Name: o.Cluster, BackupMaxAge: o.BackupMaxAge, WALMaxAge: o.WALMaxAge}
	if o.CatalogChecks {
		opts.Catalog = func(src *overlays.Source) (*catalog.Catalog, error) {
			f := o.catalogFlags
			f.Catalog = cmp.Or(f.Catalog, src.Catalog)
			f.ServerName = cmp.Or(f.ServerName, src.ServerName)
			f.S3.EndpointURL = cmp.Or(f.S3.EndpointURL, src.EndpointURL)
			if err := f.validate(); err != nil {
				return nil, err
			}
			return f.load(ctx, s)
		}
	}
	rep, err := doctor.Examine(repo, opts)
	if err != nil {
		return err
	}
	findings := rep.Findings
	if o.Fix && !o.PR {
		if findings, err = fixRepo(s, o, repo, rep); err != nil {
			return err
		}
	}
	switch o.Output {
	case "json":
		err = writeData(s.Out, "json", rep)
	case "sarif":
		var b []byte
		if b, err = rep.SARIF(version()); err == nil {
			_, err = s.Out.Write(b)
		}
	default:
		err = writeDoctorTable(s.Out, rep, s.width())
	}
	if err != nil {
		return err
	}
	if o.PR {
		if findings, err = proposeFixes(ctx, s, o); err != nil {
			return err
		}
	}
	n := 0
	for _, f := range findings {
		if doctor.Rank(f.Severity) >= doctor.Rank(o.FailOn) {
			n++
		}
	}
	if n > 0 {
		return safetyError{fmt.Sprintf("%d finding(s) of severity %s or worse", n, o.FailOn)}
	}
	return nil
}

func writeDoctorTable(w io.Writer, rep *doctor.Report, width int) error {
	w = termsafe.Writer(w) // names from the repo never drive the terminal
	var b strings.Builder
	fmt.Fprintf(&b, "Examined %d cluster(s): %s\n", len(rep.Clusters), strings.Join(rep.Clusters, ", "))
	if len(rep.Findings) == 0 {
		b.WriteString("No finding.\n")
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "\n%s %s  %s:%d  %s\n", strings.ToUpper(f.Severity), f.Rule, f.File, f.Line, f.Object)
		hang(&b, width, "  ", f.Message)
		hang(&b, width, "  why: ", f.Why)
		hang(&b, width, "  fix: ", f.Fix)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fixRepo writes (or, with --dry-run, prints) the fixes and returns the findings left.
func fixRepo(s *streams, o *doctorOptions, repo *overlays.Repo, rep *doctor.Report) ([]doctor.Finding, error) {
	fx, err := doctor.Fix(repo, rep)
	if err != nil {
		return nil, err
	}
	out := s.ErrOut // the report goes to stdout; what --fix did, to stderr
	if o.DryRun {
		if _, err := io.WriteString(s.Out, generator.Diff(fx.Files)); err != nil {
			return nil, err
		}
	} else if len(fx.Files) > 0 {
		state, unlock, err := lockCheckout(s, o.Repo)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if err := checkClean(o.Repo, o.AllowDirty); err != nil {
			return nil, err
		}
		if err := (fileset.Writer{Root: o.Repo, State: state}).Write(fx.Files); err != nil {
			return nil, fmt.Errorf("nothing written to %s: %w", o.Repo, err)
		}
	}
	var b strings.Builder
	w := termsafe.Writer(out)
	verb := "Fixed"
	if o.DryRun {
		verb = "Would fix"
	}
	if len(fx.Fixed) == 0 {
		b.WriteString("--fix: nothing to fix mechanically.\n")
	} else {
		fmt.Fprintf(&b, "%s %d finding(s), in %d file(s):\n", verb, len(fx.Fixed), len(fx.Files))
		for _, l := range fx.Fixed {
			hang(&b, s.width(), "  ", l)
		}
		for _, f := range fx.Files {
			hang(&b, s.width(), "    ", f.Path+": "+f.Summary)
		}
	}
	for _, l := range fx.Left {
		hang(&b, s.width(), "not fixed: ", l)
	}
	for _, l := range fx.Notes {
		hang(&b, s.width(), "note: ", l)
	}
	if !o.DryRun && len(fx.Files) > 0 {
		fmt.Fprintf(&b, "Written to %s: review it (git diff) and commit.\n", o.Repo)
	}
	_, err = io.WriteString(w, b.String())
	return fx.Remaining, err
}

// proposeFixes opens (or updates) the pull request of the fixes, made on a private clone of
// the base branch as pr makes a restore's, and returns the findings the fixes leave.
func proposeFixes(ctx context.Context, s *streams, o *doctorOptions) ([]doctor.Finding, error) {
	var left []doctor.Finding
	fmt.Fprintln(s.Out)
	err := publish(ctx, s, &o.pr, func(ws *gitops.Workspace, _ *repoConfig) (*restore.Change, error) {
		repo, err := overlays.ScanDir(ws.Dir)
		if err != nil {
			return nil, err
		}
		rep, err := doctor.Examine(repo, doctor.Options{Namespace: o.Namespace, Name: o.Cluster})
		if err != nil {
			return nil, err
		}
		fx, err := doctor.Fix(repo, rep)
		if err != nil {
			return nil, err
		}
		left = fx.Remaining
		title, body := fx.Proposal(rep)
		msg := title + "\n\n"
		for _, l := range fx.Fixed {
			msg += "- " + l + "\n"
		}
		return &restore.Change{Phase: "doctor --fix", Result: generator.Result{Files: fx.Files, Notes: fx.Notes},
			PullRequest: generator.PullRequest{Title: title, Body: body}, Branch: cmp.Or(o.pr.Branch, "doctor/fix"),
			CommitMessage: msg, ControllerBranches: repo.ControllerBranches()}, nil
	})
	return left, err
}
