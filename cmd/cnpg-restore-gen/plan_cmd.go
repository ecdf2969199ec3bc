package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/restore"
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
	WALParallel   int
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
	fs.IntVar(&o.WALParallel, "wal-parallel", 0, "WAL segments recovery fetches at once (wal.maxParallel, recovery only; the estimate follows it); default the source's own wal.maxParallel, else 4 for the in-tree barmanObjectStore and 1 for the barman-cloud plugin (see README); with the plugin, a number other than its ObjectStore's writes a recovery-only ObjectStore")
	fs.Uint32Var(&o.TargetTLI, "target-tli", 0, "end recovery on this timeline (targetTLI); default: the one PostgreSQL finds (latest), unless that would follow another system's history")
}

// splitCluster reads --cluster NAMESPACE/NAME, or NAME with -n NAMESPACE.
func splitCluster(cluster, namespace string) (string, string, error) {
	switch ns, name, ok := strings.Cut(cluster, "/"); {
	case ok && namespace != "" && namespace != ns:
		return "", "", usagef("--cluster %s and -n %s name different namespaces", cluster, namespace)
	case ok:
		namespace, cluster = ns, name
	case namespace == "":
		return "", "", usagef("--cluster %s has no namespace: use NAMESPACE/NAME or -n NAMESPACE", cluster)
	}
	if !dnsLabel(cluster) || !dnsLabel(namespace) {
		return "", "", usagef("--cluster %s/%s is not a valid namespace/name (lowercase letters, digits and '-')", namespace, cluster)
	}
	return namespace, cluster, nil
}

// complete resolves --cluster/-n and defaults, and validates the flags.
func (o *planOptions) complete() error {
	if o.Cluster == "" {
		return usagef("--cluster NAMESPACE/NAME is required")
	}
	var err error
	if o.Namespace, o.Cluster, err = splitCluster(o.Cluster, o.Namespace); err != nil {
		return err
	}
	if o.Strategy != plan.SideBySide && o.Strategy != plan.InPlace {
		return usagef("--strategy %q is not %s or %s", o.Strategy, plan.SideBySide, plan.InPlace)
	}
	if o.WALParallel < 0 || o.WALParallel > 64 {
		return usagef("--wal-parallel %d: give 1 to 64 WAL segments at once", o.WALParallel)
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

// restoreOptions are the options the flags give the restore library; done ends the progress
// line.
func (o *planOptions) restoreOptions(s *streams) (ro restore.Options, done func(), err error) {
	t, err := o.target()
	if err != nil {
		return restore.Options{}, nil, err
	}
	p := o.progress(s)
	return restore.Options{
		Repo: o.Repo, Namespace: o.Namespace, Name: o.Cluster,
		Catalog: o.Catalog, ServerName: o.ServerName, EndpointURL: o.S3.EndpointURL, CABundle: o.S3.CABundle,
		OpenStore: o.opener(s), Concurrency: o.MaxConcurrency, Progress: p.updater(),
		Target: t, NewName: o.NewName, NewServerName: o.NewServerName, Strategy: o.Strategy, Now: time.Now(),
		WALParallel: o.WALParallel,
	}, p.done, nil
}

func runPlan(ctx context.Context, s *streams, opts *planOptions) error {
	ro, done, err := opts.restoreOptions(s)
	if err != nil {
		return err
	}
	p, err := restore.Plan(ctx, ro)
	done()
	if err != nil {
		return err
	}
	if err := writePlan(s.Out, opts.Output, p, opts.Explain, s.width()); err != nil {
		return err
	}
	return restore.Refusal(p)
}
