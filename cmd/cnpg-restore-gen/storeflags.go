package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/objstore"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/restore"
)

// catalogFlags locate and open a catalog; shared by every command that reads one.
type catalogFlags struct {
	Catalog        string
	ServerName     string
	S3             objstore.S3Options
	MaxConcurrency int
	Quiet          bool
}

func (f *catalogFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Catalog, "catalog", "", "barman destinationPath: s3://bucket/prefix, file:///path or a directory")
	fs.StringVar(&f.ServerName, "server-name", "", "barman server name (the directory under the catalog; usually the cluster name)")
	fs.StringVar(&f.S3.EndpointURL, "endpoint-url", "", "S3 endpoint for MinIO, Ceph, Backblaze B2, R2… (default: AWS)")
	fs.StringVar(&f.S3.Region, "region", "", "S3 region (default: from the AWS configuration, else us-east-1)")
	fs.StringVar(&f.S3.Addressing, "s3-addressing", "auto", "S3 bucket addressing: auto (path-style with --endpoint-url), path or virtual")
	fs.StringVar(&f.S3.CABundle, "ca-bundle", "", "PEM file with the CA that signed the S3 endpoint's certificate")
	fs.BoolVar(&f.S3.InsecureSkipTLSVerify, "insecure-skip-tls-verify", false, "do not verify the S3 endpoint's TLS certificate (unsafe)")
	fs.IntVar(&f.MaxConcurrency, "max-concurrency", 32, "listings and reads in flight at once")
	fs.DurationVar(&f.S3.Timeout, "timeout", objstore.DefaultTimeout, "longest one network request may take: an S3 request is retried (up to 6 tries in all) when it does not finish; a git operation or forge request that does not is an error naming the server")
	fs.IntVar(&f.S3.PageSize, "s3-page-size", 0, "keys per S3 listing page (default: the server's, usually 1000)")
	fs.BoolVarP(&f.Quiet, "quiet", "q", false, "no progress on stderr")
}

func (f *catalogFlags) validate() error {
	switch {
	case f.Catalog == "":
		return usagef("--catalog is required (barman's destinationPath: s3://bucket/prefix or a directory)")
	case f.ServerName == "":
		return usagef("--server-name is required (the directory under --catalog, usually the cluster name)")
	case strings.ContainsAny(f.ServerName, "/\\\x00") || f.ServerName == "." || f.ServerName == "..":
		return usagef("--server-name %q must be one directory name under --catalog (no '/', not '.' or '..')", f.ServerName)
	}
	return f.validateValues()
}

// validateValues checks the flags whose values stand on their own, before anything is read
// (with --repo, the location and server name may still come from the manifests).
func (f *catalogFlags) validateValues() error {
	switch {
	case f.MaxConcurrency < 1 || f.MaxConcurrency > 256:
		return usagef("--max-concurrency %d is not between 1 and 256", f.MaxConcurrency)
	case f.S3.Timeout <= 0:
		return usagef("--timeout %s must be positive", f.S3.Timeout)
	case f.S3.PageSize < 0 || f.S3.PageSize > 1000:
		return usagef("--s3-page-size %d is not between 1 and 1000", f.S3.PageSize)
	case f.S3.Addressing != "auto" && f.S3.Addressing != "path" && f.S3.Addressing != "virtual":
		return usagef("--s3-addressing %q is not auto, path or virtual", f.S3.Addressing)
	}
	return nil
}

// load opens the store and reads the catalog, with progress on a terminal.
func (f *catalogFlags) load(ctx context.Context, s *streams) (*catalog.Catalog, error) {
	loc := restore.Location{Catalog: f.Catalog, EndpointURL: f.S3.EndpointURL}
	st, name, err := f.opener(s)(ctx, loc)
	if err != nil {
		return nil, err
	}
	p := f.progress(s)
	defer p.done()
	return catalog.Load(ctx, st, catalog.Options{ServerName: f.ServerName, Location: name, Concurrency: f.MaxConcurrency, Progress: p.updater()})
}

// opener opens a catalog location with the S3 flags (the endpoint may come from the repo's
// manifests), adding what it names to the secrets every output is scrubbed of.
func (f *catalogFlags) opener(s *streams) func(context.Context, restore.Location) (catalog.Store, string, error) {
	return func(ctx context.Context, loc restore.Location) (catalog.Store, string, error) {
		s.Secrets.AddURLs(loc.EndpointURL + " " + loc.Catalog) // discovered from the repo, perhaps
		if f.S3.InsecureSkipTLSVerify {
			fmt.Fprintln(s.ErrOut, "WARNING: --insecure-skip-tls-verify: the S3 endpoint's identity is NOT verified; anyone on the path can feed this tool a false catalog")
		}
		o := f.S3
		o.EndpointURL, o.MaxConns = loc.EndpointURL, f.MaxConcurrency
		st, err := objstore.Open(ctx, loc.Catalog, o)
		return st.Store, st.Location, err
	}
}

// progress is the scan's progress line on a terminal, nil elsewhere or with --quiet.
func (f *catalogFlags) progress(s *streams) *progress {
	if !s.ErrTTY || f.Quiet {
		return nil
	}
	return &progress{w: s.Progress, start: time.Now()}
}
