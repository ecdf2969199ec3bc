package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/termsafe"
)

func newCatalogCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Read and check a barman-cloud backup catalog",
		Long: `Read the barman-cloud catalog a CloudNativePG cluster writes (base backups, WAL archive,
timelines, system identifiers) from S3-compatible storage or a local directory.`,
	}
	cmd.AddCommand(newCatalogListCmd(s, nil), newCatalogCheckCmd(s, nil))
	asGroup(cmd)
	return cmd
}

// targetFlags are the recovery target options (DESIGN.md).
type targetFlags struct {
	BackupID        string
	TargetTime      string
	TargetLSN       string
	TargetXID       string
	TargetName      string
	TargetImmediate bool
	SystemID        string
}

func (t *targetFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&t.BackupID, "backup-id", "", "restore this backup (e.g. 20260205T020001)")
	fs.StringVar(&t.TargetTime, "target-time", "", "recover up to this time (RFC 3339, or 2026-02-05 02:00:00+00; a zone is required)")
	fs.StringVar(&t.TargetLSN, "target-lsn", "", "recover up to this LSN (e.g. 0/3000060)")
	fs.StringVar(&t.TargetXID, "target-xid", "", "recover up to this transaction ID")
	fs.StringVar(&t.TargetName, "target-name", "", "recover up to this named restore point (pg_create_restore_point)")
	fs.BoolVar(&t.TargetImmediate, "target-immediate", false, "stop as soon as the backup is consistent")
	fs.StringVar(&t.SystemID, "system-id", "", "the database system (lineage) to restore when the catalog holds several")
}

// request turns the flags into a catalog request, rejecting contradictions.
func (t *targetFlags) request() (catalog.Target, error) {
	req := catalog.Target{BackupID: t.BackupID, SystemID: t.SystemID, Immediate: t.TargetImmediate}
	var set []string
	for name, v := range map[string]bool{"--target-time": t.TargetTime != "", "--target-lsn": t.TargetLSN != "",
		"--target-xid": t.TargetXID != "", "--target-name": t.TargetName != "", "--target-immediate": t.TargetImmediate} {
		if v {
			set = append(set, name)
		}
	}
	if len(set) > 1 {
		return req, usagef("give at most one recovery target, not %s", strings.Join(set, " and "))
	}
	if t.SystemID != "" {
		if _, err := strconv.ParseUint(t.SystemID, 10, 64); err != nil {
			return req, usagef("--system-id %q is not a system identifier (a number like 7589448288821846035)", t.SystemID)
		}
	}
	if t.TargetTime != "" {
		tt, err := catalog.ParseTargetTime(t.TargetTime)
		if err != nil {
			return req, usageError{err}
		}
		req.Time = &tt
	}
	if t.TargetLSN != "" {
		l, err := catalog.ParseLSN(t.TargetLSN)
		if err != nil {
			return req, usagef("--target-lsn: %v", err)
		}
		req.LSN = &l
	}
	if t.TargetXID != "" {
		if _, err := strconv.ParseUint(t.TargetXID, 10, 64); err != nil {
			return req, usagef("--target-xid %q is not a transaction ID", t.TargetXID)
		}
		req.XID = t.TargetXID
	}
	req.Name = t.TargetName
	return req, nil
}

type catalogListOptions struct {
	catalogFlags
	Output string
}

func newCatalogListCmd(s *streams, runF func(context.Context, *catalogListOptions) error) *cobra.Command {
	opts := &catalogListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List backups, timelines, WAL and the recoverable window of each database system",
		Long: `List what the catalog holds: every base backup with its status, times, WAL and size;
each database system (lineage) and the window it can be recovered to; the timelines and
their history; the WAL archive with its gaps; and the findings of the integrity checks.

The table ends with a picture of the catalog over time: backups, WAL archived on each
timeline, and gaps. -o mermaid prints the same picture as a Mermaid chart, the one the pull
request shows (paste it into a Markdown file on GitHub or Gitea, or mermaid.live).
-o json and -o yaml print the catalog as stable data (the README's "JSON (catalog list -o
json)" lists the fields).`,
		Example: `  cnpg-restore-gen catalog list --catalog s3://backups/auth --server-name authentik-postgresql \
      --endpoint-url https://minio.example.com:9000 --ca-bundle ca.pem
  cnpg-restore-gen catalog list --catalog /mnt/nas/backups/auth --server-name authentik-postgresql -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if opts.Output != "mermaid" {
				if err := validOutput(opts.Output); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCatalogList(cmd.Context(), s, opts)
		},
	}
	opts.register(cmd.Flags())
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table, json, yaml or mermaid (the timeline picture)")
	return cmd
}

func runCatalogList(ctx context.Context, s *streams, opts *catalogListOptions) error {
	c, err := opts.load(ctx, s)
	if err != nil {
		return err
	}
	switch opts.Output {
	case "table":
		return writeCatalogTable(s.Out, c, s.width())
	case "mermaid":
		_, err := io.WriteString(termsafe.Writer(s.Out), catalog.Mermaid("backups and WAL of "+c.ServerName+" (UTC)", c.Spans(), "", nil))
		return err
	}
	return writeData(s.Out, opts.Output, c.Report())
}

type catalogCheckOptions struct {
	catalogFlags
	targetFlags
	Output string
}

// checkReport is `catalog check -o json`.
type checkReport struct {
	ServerName string               `json:"serverName"`
	Catalog    string               `json:"catalog"`
	OK         bool                 `json:"ok"`
	Request    string               `json:"request"`
	Answer     string               `json:"answer"`
	Backup     string               `json:"backup,omitempty"`
	SystemID   string               `json:"systemId,omitempty"`
	Until      *catalog.PointReport `json:"recoverableTo,omitempty"`
	Notes      []string             `json:"notes,omitempty"`
	Blocking   []catalog.Finding    `json:"blocking"`
	Findings   []catalog.Finding    `json:"findings"`
}

func newCatalogCheckCmd(s *streams, runF func(context.Context, *catalogCheckOptions) error) *cobra.Command {
	opts := &catalogCheckOptions{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that the catalog can deliver a restore (exit 3 when it cannot)",
		Long: `Check the catalog's integrity — WAL gaps, missing timeline history files, timelines no
backup reaches, several database systems under one path, WAL overwritten by another
cluster, unusable backups — and whether it can deliver the requested restore (by default
the latest point). Exits 0 when it can, 3 when it cannot, 1 on other errors.`,
		Example: `  cnpg-restore-gen catalog check --catalog s3://backups/auth --server-name pg --endpoint-url http://127.0.0.1:9000
  cnpg-restore-gen catalog check --catalog ./bucket --server-name pg --system-id 7589448288821846035 \
      --target-time "2026-02-05 08:00:00+00"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if err := validOutput(opts.Output); err != nil {
				return err
			}
			if _, err := opts.request(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCatalogCheck(cmd.Context(), s, opts)
		},
	}
	opts.catalogFlags.register(cmd.Flags())
	opts.targetFlags.register(cmd.Flags())
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

func runCatalogCheck(ctx context.Context, s *streams, opts *catalogCheckOptions) error {
	req, err := opts.request()
	if err != nil {
		return err
	}
	c, err := opts.load(ctx, s)
	if err != nil {
		return err
	}
	a := c.Evaluate(req)
	r := checkReport{ServerName: c.ServerName, Catalog: c.Location, OK: a.OK && len(a.Blocking) == 0,
		Request: req.Describe(), Notes: a.Notes, Blocking: a.Blocking, Findings: c.Findings}
	if r.Blocking == nil {
		r.Blocking = []catalog.Finding{}
	}
	if r.Findings == nil {
		r.Findings = []catalog.Finding{}
	}
	switch {
	case !a.OK:
		r.Answer = a.Reason
	case len(a.Blocking) > 0:
		r.Answer = fmt.Sprintf("backup %s could be used, but %d error(s) make the catalog unsafe for this request", a.Backup.ID, len(a.Blocking))
	default:
		r.Answer = fmt.Sprintf("restorable from backup %s", a.Backup.ID)
	}
	if a.Backup != nil {
		r.Backup, r.SystemID, r.Until = a.Backup.ID, a.Backup.SystemID(), c.ReplayEnd(a.Backup)
	}
	if opts.Output != "table" {
		err = writeData(s.Out, opts.Output, r)
	} else {
		err = writeCheckTable(s.Out, r, s.width())
	}
	if err != nil {
		return err
	}
	if !r.OK {
		return safetyError{msg: "the catalog cannot deliver " + r.Request + " (see the verdict above)"}
	}
	return nil
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q; did you mean a flag such as --catalog?", cmd.CommandPath(), args[0])
	}
	return nil
}
