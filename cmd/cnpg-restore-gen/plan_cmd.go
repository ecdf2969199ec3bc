package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/human"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/termsafe"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

type planOptions struct {
	catalogFlags
	targetFlags
	Repo          string
	Cluster       string
	Namespace     string
	NewName       string
	NewServerName string
	Strategy      string
	Exclusive     bool
	TargetTLI     uint32
	Explain       bool
	Output        string
}

func newPlanCmd(s *streams, runF func(context.Context, *planOptions) error) *cobra.Command {
	opts := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Choose the backup and recovery target as CloudNativePG will, and check that the restore is safe",
		Long: `Plan a restore: the base backup, the recovery target exactly as it goes into the Cluster's
spec.bootstrap.recovery.recoveryTarget (always pinning backupID), the database system and
timeline path, the WAL to replay and an estimate of the recovery time. Every safety check is
listed with its result; the command exits 3 when one fails (the plan is printed anyway).

Without a target the plan recovers the latest point. --target-time takes RFC 3339 or
PostgreSQL's "2026-02-05 02:00:00+00"; a time without a zone is refused.`,
		Example: `  # latest point of auth/authentik-postgresql, catalog on MinIO
  cnpg-restore-gen plan --cluster auth/authentik-postgresql \
      --catalog s3://homelab-postgres-backups/auth --endpoint-url https://minio.example.com:9000

  # the state at 08:00 UTC, and why each backup was or wasn't chosen
  cnpg-restore-gen plan --cluster auth/authentik-postgresql --catalog /mnt/nas/backups/auth \
      --system-id 7589448288821846035 --target-time "2026-02-05 08:00:00+00" --explain`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPlan(cmd.Context(), s, opts)
		},
	}
	fs := cmd.Flags()
	opts.register(fs, "GitOps repository checkout: the cluster's manifests give the catalog location, endpoint and server name (flags win)")
	fs.BoolVar(&opts.Explain, "explain", false, "say why each backup was or wasn't chosen, and which one CloudNativePG alone (barman-cloud's FindBackupInfo) would pick")
	fs.StringVarP(&opts.Output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

// register adds the flags plan and generate share; repoHelp says what --repo is for.
func (o *planOptions) register(fs *pflag.FlagSet, repoHelp string) {
	o.catalogFlags.register(fs)
	o.targetFlags.register(fs)
	fs.StringVar(&o.Repo, "repo", "", repoHelp)
	fs.StringVar(&o.Cluster, "cluster", "", "the source cluster, NAMESPACE/NAME (or NAME with -n)")
	fs.StringVarP(&o.Namespace, "namespace", "n", "", "the source cluster's namespace")
	fs.StringVar(&o.NewName, "new-name", "", "name of the restored cluster (default <name>-restored, or the source's name in place)")
	fs.StringVar(&o.NewServerName, "new-server-name", "", "barman server name the restored cluster archives to (default its name)")
	fs.StringVar(&o.Strategy, "strategy", plan.SideBySide, "side-by-side (a new cluster next to the old, then the cutover) or in-place (same name, for a cluster that no longer exists)")
	fs.BoolVar(&o.Exclusive, "target-exclusive", false, "stop just before the target time, LSN or XID instead of just after it")
	fs.Uint32Var(&o.TargetTLI, "target-tli", 0, "end recovery on this timeline (targetTLI); default: the one PostgreSQL finds (latest), unless that would follow another system's history")
}

// complete resolves --cluster/-n and defaults, and validates the flags.
func (o *planOptions) complete() error {
	switch ns, name, ok := strings.Cut(o.Cluster, "/"); {
	case o.Cluster == "":
		return usagef("--cluster NAMESPACE/NAME is required")
	case ok && o.Namespace != "" && o.Namespace != ns:
		return usagef("--cluster %s and -n %s name different namespaces", o.Cluster, o.Namespace)
	case ok:
		o.Namespace, o.Cluster = ns, name
	case o.Namespace == "":
		return usagef("--cluster %s has no namespace: use NAMESPACE/NAME or -n NAMESPACE", o.Cluster)
	}
	if !dnsLabel(o.Cluster) || !dnsLabel(o.Namespace) {
		return usagef("--cluster %s/%s is not a valid namespace/name (lowercase letters, digits and '-')", o.Namespace, o.Cluster)
	}
	if o.Strategy != plan.SideBySide && o.Strategy != plan.InPlace {
		return usagef("--strategy %q is not %s or %s", o.Strategy, plan.SideBySide, plan.InPlace)
	}
	if o.Repo == "" {
		if o.ServerName == "" {
			o.ServerName = o.Cluster
		}
		if err := o.validate(); err != nil {
			return err
		}
	} else if err := o.validateValues(); err != nil {
		return err
	}
	if _, err := o.request(); err != nil {
		return err
	}
	return validOutput(o.Output)
}

func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func (o *planOptions) target() (catalog.Target, error) {
	t, err := o.request()
	t.Exclusive, t.TLI = o.Exclusive, o.TargetTLI
	return t, err
}

func runPlan(ctx context.Context, s *streams, opts *planOptions) error {
	target, err := opts.target()
	if err != nil {
		return err
	}
	var facts *repoFacts
	if opts.Repo != "" {
		repo, err := overlays.ScanDir(opts.Repo)
		if err != nil {
			return err
		}
		src, err := repo.FindSource(opts.Namespace, opts.Cluster)
		if err != nil {
			return err
		}
		if facts, err = opts.discover(repo, src); err != nil {
			return err
		}
	}
	p, _, err := checkedPlan(ctx, s, opts, target, facts)
	if err != nil {
		return err
	}
	if facts != nil {
		p.Warnings = append(p.Warnings, facts.notes...)
	}
	if !opts.Explain {
		p.Candidates, p.CloudNativePG = nil, nil
	}
	if opts.Output != "table" {
		err = writeData(s.Out, opts.Output, p)
	} else {
		err = writePlanTable(s.Out, p, s.width())
	}
	if err != nil {
		return err
	}
	return refusal(p)
}

// scanned is the catalog a plan was made from.
type scanned struct {
	*catalog.Catalog
	// Partial is set when only the WAL from the chosen backup's candidates on was read.
	Partial bool
}

// checkedPlan makes the plan. A plan needs only the WAL from its backup on: scan that first;
// when the plan fails a check, plan again on the whole catalog so that the refusal is
// explained from all of it.
func checkedPlan(ctx context.Context, s *streams, opts *planOptions, target catalog.Target, facts *repoFacts) (*plan.Plan, scanned, error) {
	walFrom := catalog.WALFrom(target)
	p, c, err := makePlan(ctx, s, opts, target, facts, walFrom)
	if err == nil && !p.OK() {
		walFrom = nil
		p, c, err = makePlan(ctx, s, opts, target, facts, nil)
	}
	return p, scanned{Catalog: c, Partial: walFrom != nil && c != nil && c.SkippedWALDirs > 0}, err
}

// refusal is the safety error of a plan that failed a check, nil for a good one.
func refusal(p *plan.Plan) error {
	if p.OK() {
		return nil
	}
	var names []string
	for _, c := range p.Failed() {
		names = append(names, c.Name)
	}
	return safetyError{msg: "the plan failed its safety checks: " + strings.Join(names, ", ")}
}

// repoFacts is what the repo says that the plan needs.
type repoFacts struct {
	taken []plan.Object // every object, for the name-collision check
	notes []string      // for the plan's warnings
	// destination is where the restored cluster will archive (the source's destinationPath);
	// serverNames are the server names live clusters of the repo archive to there.
	destination string
	serverNames []plan.TakenServerName
	// restores are the Clusters already restored from the source's archive.
	restores []string
}

// discover fills the catalog flags the user left empty from the cluster's manifests in the
// repo, and returns what the repo says that the plan needs.
func (o *planOptions) discover(repo *overlays.Repo, src *overlays.Source) (*repoFacts, error) {
	f := &repoFacts{destination: src.Catalog, taken: []plan.Object{}}
	if o.Catalog == "" {
		o.Catalog = src.Catalog
	}
	if o.S3.EndpointURL == "" {
		o.S3.EndpointURL = src.EndpointURL
	}
	if o.ServerName == "" {
		o.ServerName = src.ServerName
	}
	if src.EndpointCASecret != "" && o.S3.CABundle == "" {
		f.notes = append(f.notes, fmt.Sprintf("%s trusts the CA in secret %s: if the endpoint's certificate is private, pass that CA with --ca-bundle", src.Cluster.Name, src.EndpointCASecret))
	}
	if w := generator.SkipEmptyWALArchiveCheckWarning(src); w != "" {
		f.notes = append(f.notes, w)
	}
	for _, sk := range repo.Skipped {
		f.notes = append(f.notes, fmt.Sprintf("%s was not read (%s)", sk.File, sk.Reason))
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	for _, obj := range repo.Objects {
		f.taken = append(f.taken, plan.Object{Kind: obj.Kind, Namespace: obj.Namespace, Name: obj.Name})
	}
	// The source archives to its manifests' server name, whatever --server-name read.
	f.serverNames = append(f.serverNames, plan.TakenServerName{ServerName: src.ServerName,
		By: fmt.Sprintf("the source cluster %s/%s (%s:%d)", src.Cluster.Namespace, src.Cluster.Name, src.Cluster.File, src.Cluster.Line)})
	for _, o := range repo.RestoresOf(src, o.ServerName) {
		f.restores = append(f.restores, fmt.Sprintf("%s/%s (%s:%d)", o.Namespace, o.Name, o.File, o.Line))
	}
	for _, u := range repo.ArchiveUsers(src.Catalog) {
		f.serverNames = append(f.serverNames, plan.TakenServerName{ServerName: u.ServerName,
			By: fmt.Sprintf("Cluster %s/%s (%s:%d)", u.Cluster.Namespace, u.Cluster.Name, u.Cluster.File, u.Cluster.Line)})
	}
	return f, nil
}

func makePlan(ctx context.Context, s *streams, opts *planOptions, target catalog.Target, facts *repoFacts, walFrom func([]*catalog.Backup) string) (*plan.Plan, *catalog.Catalog, error) {
	s.Secrets.AddURLs(opts.S3.EndpointURL + " " + opts.Catalog) // discovered from the repo, perhaps
	c, store, err := opts.openFrom(ctx, s, walFrom)
	if err != nil {
		return nil, nil, err
	}
	servers, err := catalog.ServerNames(ctx, store)
	if err != nil {
		return nil, nil, fmt.Errorf("while listing the server names under %s: %w", c.Location, err)
	}
	in := plan.Input{
		Catalog:          c,
		Source:           plan.Source{Namespace: opts.Namespace, Name: opts.Cluster, ServerName: opts.ServerName, Catalog: strings.TrimSuffix(c.Location, "/"+c.ServerName)},
		Target:           target,
		NewName:          opts.NewName,
		NewServerName:    opts.NewServerName,
		Strategy:         opts.Strategy,
		ServersInCatalog: servers,
		Now:              time.Now(),
	}
	if facts != nil {
		in.Taken, in.ArchiveDestination, in.TakenServerNames, in.ExistingRestores = facts.taken, facts.destination, facts.serverNames, facts.restores
	}
	p, err := plan.Make(in)
	return p, c, err
}

func writePlanTable(w io.Writer, p *plan.Plan, width int) error {
	w = termsafe.Writer(w) // names from the bucket and the repo never drive the terminal
	var b strings.Builder
	src := p.Source
	verdict := "OK"
	if !p.OK() {
		verdict = "REFUSED"
	}
	hang(&b, width, "Plan      ", fmt.Sprintf("%s: restore %s/%s from %s/%s", verdict, src.Namespace, src.Name, src.Catalog, src.ServerName))
	if p.Backup == nil && p.Requested != "" {
		hang(&b, width, "Asked     ", p.Requested)
	}
	if p.Backup != nil {
		br := p.Backup
		hang(&b, width, "Backup    ", fmt.Sprintf("%s (%s) %s, %s to %s, timeline %d, %s, system %s", br.ID, orDash(br.Name), br.Status,
			shortTime(br.BeginTime), shortTime(br.EndTime), br.Timeline, human.Bytes(br.Size), br.SystemID))
		rt, err := yaml.Marshal(map[string]any{"recoveryTarget": p.Target})
		if err != nil {
			return err
		}
		hang(&b, width, "Target    ", p.Target.Describe())
		for _, line := range strings.Split(strings.TrimSpace(string(rt)), "\n") {
			fmt.Fprintf(&b, "          %s\n", line)
		}
	}
	hang(&b, width, "Restored  ", fmt.Sprintf("%s/%s archiving to server name %s (%s)", p.Restored.Namespace, p.Restored.Name, p.Restored.ServerName, p.Strategy))
	if p.WAL != nil {
		bound := ""
		if p.WAL.UpperBound {
			bound = "at most "
		}
		hang(&b, width, "WAL       ", fmt.Sprintf("%s%d segments, %s to %s on timeline(s) %s (%s to replay, %s to download)", bound, p.WAL.Segments, p.WAL.From, p.WAL.To,
			joinU32Arrow(p.TimelinePath), human.Bytes(int64(p.WAL.Bytes)), human.Bytes(p.WAL.StoredBytes)))
	}
	if p.Estimate != nil {
		hang(&b, width, "Estimate  ", fmt.Sprintf("about %s (%s)", human.Seconds(p.Estimate.Seconds), p.Estimate.Model))
	}
	fmt.Fprintf(&b, "\nChecks\n")
	for _, c := range p.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		hang(&b, width, fmt.Sprintf("  %s  %-16s  ", mark, c.Name), c.Detail)
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintf(&b, "\nWarnings\n")
		for _, wn := range p.Warnings {
			hang(&b, width, "  - ", wn)
		}
	}
	if len(p.Candidates) > 0 {
		fmt.Fprintf(&b, "\nCandidates, newest first\n")
		idWidth := 0
		for _, c := range p.Candidates {
			idWidth = max(idWidth, len(c.ID))
		}
		for _, c := range p.Candidates {
			mark := " "
			if c.Chosen {
				mark = "*"
			}
			hang(&b, width, fmt.Sprintf("  %s %-*s  ", mark, idWidth, c.ID), c.Reason)
		}
	}
	if p.CloudNativePG != nil {
		b.WriteString("\nCloudNativePG\n")
		hang(&b, width, "  ", p.CloudNativePG.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinU32Arrow(v []uint32) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprint(x))
	}
	return orDash(strings.Join(s, " → "))
}
