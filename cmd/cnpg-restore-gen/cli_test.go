package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/sample"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
)

// execute runs the CLI in-process with captured streams.
func execute(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	// Wide enough that no line wraps: tests look for whole sentences; TestPlanTableWidths
	// checks the wrapping at 80 and 120 columns.
	code = run(context.Background(), args, &streams{Out: &out, ErrOut: &errb, Getenv: func(k string) string { return map[string]string{"COLUMNS": "1000"}[k] }})
	return out.String(), errb.String(), code
}

// sampleCatalog unpacks the sample catalog and returns its location and a function that
// replaces that location with a stable one in output.
func sampleCatalog(t *testing.T) (string, func(string) string) {
	t.Helper()
	return sampleCatalogIn(t, t.TempDir())
}

// sampleCatalogWrapped is sampleCatalog at a path of a fixed length, for output wrapped at a
// width: where lines break then does not depend on the temporary directory's name.
func sampleCatalogWrapped(t *testing.T) (string, func(string) string) {
	t.Helper()
	base := t.TempDir()
	const length = 100
	if len(base) >= length-2 {
		t.Fatalf("temporary directory %s is longer than %d", base, length)
	}
	dir := filepath.Join(base, strings.Repeat("p", length-len(base)-1))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return sampleCatalogIn(t, dir)
}

func sampleCatalogIn(t *testing.T, dir string) (string, func(string) string) {
	t.Helper()
	root, err := sample.Extract(dir)
	if err != nil {
		t.Fatal(err)
	}
	return root, func(s string) string { return strings.ReplaceAll(s, dir, "/tmp/sample") }
}

func TestCatalogListGolden(t *testing.T) {
	root, clean := sampleCatalog(t)
	for _, format := range []string{"table", "json", "yaml", "mermaid"} {
		t.Run(format, func(t *testing.T) {
			out, errOut, code := execute(t, "catalog", "list", "--catalog", root, "--server-name", sample.ServerName, "-o", format)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Assert(t, "cli", "."+format, []byte(clean(out)))
		})
	}
}

func TestCatalogCheckGoldenAndExitCodes(t *testing.T) {
	root, clean := sampleCatalog(t)
	out, errOut, code := execute(t, "catalog", "check", "--catalog", root, "--server-name", sample.ServerName)
	if code != exitSafety {
		t.Errorf("check on two systems: exit %d, want %d", code, exitSafety)
	}
	if n := strings.Count(errOut, "\n"); n != 1 || !strings.HasPrefix(errOut, "error: ") {
		t.Errorf("stderr should be one error line, got %q", errOut)
	}
	golden.Assert(t, "cli", ".txt", []byte(clean(out)))
}

func TestUsageErrorsExitTwo(t *testing.T) {
	root, _ := sampleCatalog(t)
	base := []string{"catalog", "check", "--catalog", root, "--server-name", sample.ServerName}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", append(base, "--bogus"), "unknown flag: --bogus"},
		{"two targets", append(base, "--target-lsn", "0/1", "--target-xid", "5"), "at most one recovery target"},
		{"time without zone", append(base, "--target-time", "2026-02-05 02:00:00"), "no time zone"},
		{"bad lsn", append(base, "--target-lsn", "12"), "not of the form X/Y"},
		{"bad system id", append(base, "--system-id", "abc"), "not a system identifier"},
		{"no catalog", []string{"catalog", "list", "--server-name", "x"}, "--catalog is required"},
		{"no server", []string{"catalog", "list", "--catalog", root}, "--server-name is required"},
		{"bad output", []string{"catalog", "list", "--catalog", root, "--server-name", "x", "-o", "xml"}, `-o "xml"`},
		{"stray argument", []string{"catalog", "list", "s3://bucket"}, "takes no arguments"},
		{"concurrency", []string{"catalog", "list", "--catalog", root, "--server-name", "x", "--max-concurrency", "0"}, "--max-concurrency 0"},
		{"server name climbs out", []string{"catalog", "list", "--catalog", root, "--server-name", ".."}, `--server-name ".." must be one directory name`},
		{"server name with a slash", []string{"catalog", "list", "--catalog", root, "--server-name", "a/b"}, `--server-name "a/b" must be one directory name`},
		{"timeout", []string{"catalog", "list", "--catalog", root, "--server-name", "x", "--timeout", "0s"}, "--timeout 0s must be positive"},
		{"page size", []string{"catalog", "list", "--catalog", root, "--server-name", "x", "--s3-page-size", "5000"}, "--s3-page-size 5000"},
		{"addressing, local catalog", []string{"catalog", "list", "--catalog", root, "--server-name", "x", "--s3-addressing", "foo"}, `--s3-addressing "foo" is not auto, path or virtual`},
		{"addressing, S3 catalog", []string{"catalog", "list", "--catalog", "s3://b/p", "--server-name", "x", "--s3-addressing", "foo"}, `--s3-addressing "foo" is not auto, path or virtual`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := execute(t, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d stderr %q; want %d and %q", code, errOut, exitUsage, tc.want)
			}
		})
	}
}

func TestFlagsBecomeOptions(t *testing.T) {
	var got *catalogCheckOptions
	s := &streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	cmd := newCatalogCheckCmd(s, func(_ context.Context, o *catalogCheckOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--catalog", "s3://b/p", "--server-name", "pg", "--endpoint-url", "https://minio:9000",
		"--ca-bundle", "ca.pem", "--region", "eu-west-1", "--s3-addressing", "path", "--max-concurrency", "32",
		"--system-id", "7589448288821846035", "--target-time", "2026-02-05T02:00:00Z", "-o", "json", "-q"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	switch {
	case got == nil:
		t.Fatal("run function not called")
	case got.Catalog != "s3://b/p" || got.ServerName != "pg" || got.Output != "json" || !got.Quiet:
		t.Errorf("options = %+v", got)
	case got.S3.EndpointURL != "https://minio:9000" || got.S3.CABundle != "ca.pem" || got.S3.Region != "eu-west-1" || got.S3.Addressing != "path":
		t.Errorf("S3 options = %+v", got.S3)
	case got.MaxConcurrency != 32 || got.SystemID != "7589448288821846035" || got.TargetTime != "2026-02-05T02:00:00Z":
		t.Errorf("options = %+v", got)
	}
}

func TestErrorsExitOneAndPrintOnce(t *testing.T) {
	_, errOut, code := execute(t, "catalog", "list", "--catalog", t.TempDir(), "--server-name", "pg")
	if code != exitError || strings.Count(errOut, "error:") != 1 || !strings.Contains(errOut, "the location is empty") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}

// sampleSystemA is the system identifier of the sample's first lineage (the cluster that holds
// the data; the second is the rebuilt one).
func sampleSystemA(t *testing.T, root string) string {
	t.Helper()
	out, errOut, code := execute(t, "catalog", "list", "--catalog", root, "--server-name", sample.ServerName, "-o", "json")
	if code != 0 {
		t.Fatal(errOut)
	}
	var r struct {
		Lineages []struct {
			SystemID string `json:"systemId"`
		} `json:"lineages"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Lineages) != 2 {
		t.Fatalf("sample lineages: %v %s", err, out)
	}
	return r.Lineages[0].SystemID
}

func TestPlanGolden(t *testing.T) {
	root, clean := sampleCatalog(t)
	sys := sampleSystemA(t, root)
	base := []string{"plan", "--cluster", "auth/" + sample.ServerName, "--catalog", root}
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"refused_two_systems", nil, exitSafety},
		{"latest", []string{"--system-id", sys}, exitOK},
		{"time_explain", []string{"--system-id", sys, "--target-time", "2026-11-24 17:52:45+00", "--explain"}, exitOK},
		{"json", []string{"--system-id", sys, "--target-lsn", "0/C000000", "-o", "json"}, exitOK},
		{"in_place", []string{"--system-id", sys, "--strategy", "in-place", "-n", "auth", "--cluster", sample.ServerName}, exitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := execute(t, append(append([]string{}, base...), tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			ext := ".txt"
			if strings.Contains(tc.name, "json") {
				ext = ".json"
			}
			golden.Assert(t, "cli", ext, []byte(clean(out)))
		})
	}
}

func TestPlanUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--catalog", "/x"}, "--cluster NAMESPACE/NAME is required"},
		{[]string{"plan", "--catalog", "/x", "--cluster", "pg"}, "has no namespace"},
		{[]string{"plan", "--catalog", "/x", "--cluster", "auth/pg", "-n", "other"}, "different namespaces"},
		{[]string{"plan", "--catalog", "/x", "--cluster", "auth/PG"}, "not a valid namespace/name"},
		{[]string{"plan", "--catalog", "/x", "--cluster", "auth/pg", "--strategy", "blue-green"}, `--strategy "blue-green"`},
		{[]string{"plan", "--cluster", "auth/pg"}, "--catalog is required"},
	}
	for _, tc := range cases {
		_, errOut, code := execute(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d stderr %q; want %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
}

func TestPlanFromRepo(t *testing.T) {
	root, clean := sampleCatalog(t)
	sys := sampleSystemA(t, root)
	repo := t.TempDir()
	files := map[string]string{
		"apps/auth/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: auth\nresources: [cluster.yaml, service.yaml]\n",
		"apps/auth/cluster.yaml": "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: pg-main\nspec:\n  instances: 1\n  backup:\n    barmanObjectStore:\n" +
			"      destinationPath: file://" + root + "\n      endpointCA: {name: minio-ca, key: ca.crt}\n",
		// Something in the repo already takes the default name's service.
		"apps/auth/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: pg-main-restored-rw\n",
	}
	writeFiles(t, repo, files)
	out, errOut, code := execute(t, "plan", "--repo", repo, "--cluster", "auth/pg-main", "--system-id", sys)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	out = strings.ReplaceAll(clean(out), repo, "/tmp/repo")
	golden.Assert(t, "cli", ".txt", []byte(out))
	for _, want := range []string{"auth/pg-main-restored-2", "no Cluster, Service (-rw, -ro, -r) or Secret", "secret minio-ca"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q", want)
		}
	}
	_, errOut, code = execute(t, "plan", "--repo", repo, "--cluster", "auth/other")
	if code != exitError || !strings.Contains(errOut, "clusters there: auth/pg-main") {
		t.Errorf("unknown cluster: exit %d %s", code, errOut)
	}
}

// TestPlanRefusesAServerNameALiveClusterArchivesTo: the repo's clusters archiving to the same
// destination take their server names, whatever --server-name read: the source's own (from its
// manifest) and another cluster's. The source's skipEmptyWalArchiveCheck is not carried over.
func TestPlanRefusesAServerNameALiveClusterArchivesTo(t *testing.T) {
	root, _ := sampleCatalog(t)
	sys := sampleSystemA(t, root)
	repo := t.TempDir()
	dest := "      destinationPath: file://" + root + "\n"
	files := map[string]string{
		"db/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: auth\nresources: [cluster.yaml, other.yaml]\n",
		// The manifest archives to pg-live; the catalog read (--server-name) is pg-main.
		"db/cluster.yaml": "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: pg-main\n  annotations: {cnpg.io/skipEmptyWalArchiveCheck: enabled}\nspec:\n  instances: 1\n  backup:\n    barmanObjectStore:\n" + dest + "      serverName: pg-live\n",
		"db/other.yaml":   "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: reports\nspec:\n  instances: 1\n  backup:\n    barmanObjectStore:\n" + dest + "      serverName: pg-main-restored\n",
	}
	writeFiles(t, repo, files)
	base := []string{"plan", "--repo", repo, "--cluster", "auth/pg-main", "--server-name", sample.ServerName, "--system-id", sys}
	out, errOut, code := execute(t, append(base, "--new-server-name", "pg-live")...)
	if code != exitSafety || !strings.Contains(out, `FAIL  new-archive       server name "pg-live" under file://`+root+` is where the source cluster auth/pg-main (db/cluster.yaml:1) archives`) {
		t.Errorf("--new-server-name of the source's manifest: exit %d\n%s%s", code, out, errOut)
	}
	// The default name, pg-main-restored, is another cluster's archive: the next one is used.
	out, errOut, code = execute(t, base...)
	if code != exitOK || !strings.Contains(out, "archiving to server name pg-main-restored-2 ") {
		t.Errorf("default server name: exit %d\n%s%s", code, out, errOut)
	}
	// The source's opt-out of the empty-archive check is not carried over, and the plan says so.
	if !strings.Contains(out, "pg-main sets cnpg.io/skipEmptyWalArchiveCheck; the restored cluster is generated without it") {
		t.Errorf("plan does not warn about skipEmptyWalArchiveCheck:\n%s", out)
	}
}

// TestPlanTableWidths: the plan's table fits 80 columns (the default off a terminal) and 120
// ($COLUMNS), details wrapped under themselves; a word longer than the room (a path) is kept
// whole; -o json is the same at any width.
func TestPlanTableWidths(t *testing.T) {
	root, clean := sampleCatalogWrapped(t)
	sys := sampleSystemA(t, root)
	args := []string{"plan", "--cluster", "auth/" + sample.ServerName, "--catalog", root, "--system-id", sys, "--target-time", "2026-11-24 17:52:45+00", "--explain"}
	var jsons []string
	for _, width := range []string{"80", "120"} {
		t.Run(width, func(t *testing.T) {
			env := map[string]string{"COLUMNS": width}
			out, errOut, code := executeEnv(t, env, args...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			out = clean(out)
			golden.Assert(t, "cli", ".txt", []byte(out))
			w, _ := strconv.Atoi(width)
			for i, line := range strings.Split(out, "\n") {
				if n := len([]rune(line)); n > w && strings.Count(strings.TrimSpace(line), " ") > 0 && !strings.Contains(line, "/tmp/sample") {
					t.Errorf("line %d is %d columns wide, more than %d: %q", i+1, n, w, line)
				}
			}
			j, _, _ := executeEnv(t, env, append(args, "-o", "json")...)
			jsons = append(jsons, j)
		})
	}
	if len(jsons) == 2 && jsons[0] != jsons[1] {
		t.Errorf("-o json differs with the width")
	}
}

// TestCatalogTablesFitTheWidth: catalog list and check fit 80 and 120 columns, the picture
// sized to what is left beside its labels (a word longer than the room is kept whole).
func TestCatalogTablesFitTheWidth(t *testing.T) {
	root, clean := sampleCatalogWrapped(t)
	for _, width := range []string{"80", "120"} {
		t.Run(width, func(t *testing.T) {
			w, _ := strconv.Atoi(width)
			out, _, _ := executeEnv(t, map[string]string{"COLUMNS": width}, "catalog", "list", "--catalog", root, "--server-name", sample.ServerName)
			check, _, _ := executeEnv(t, map[string]string{"COLUMNS": width}, "catalog", "check", "--catalog", root, "--server-name", sample.ServerName)
			out = clean(out + "\n" + check)
			golden.Assert(t, "cli", ".txt", []byte(out))
			for i, line := range strings.Split(out, "\n") {
				if n := len([]rune(line)); n > w && strings.Count(strings.TrimSpace(line), " ") > 0 && !strings.Contains(line, "/tmp/sample") {
					t.Errorf("line %d is %d columns wide, more than %d: %q", i+1, n, w, line)
				}
			}
		})
	}
}

// writeFiles writes each file (path relative to dir → content), making its directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
