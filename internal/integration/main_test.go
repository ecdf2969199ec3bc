// Package integration runs the CLI against real components: catalogs made by PostgreSQL and
// barman-cloud (hack/make-catalog.sh), served by the Versity S3 gateway on 127.0.0.1, and
// compared with barman-cloud's own tools. `go test -short` skips it.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden" // defines -update for go test ./... -update
)

const (
	accessKey = "catalogadmin"
	secretKey = "catalogsecret"
	server    = "pg-main"
)

var (
	root    string // repository root
	tool    string // the built CLI
	catWork string // hack/make-catalog.sh's work directory
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	tmp, err := setup()
	if err != nil {
		_ = os.RemoveAll(tmp)
		fmt.Fprintln(os.Stderr, "integration setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(tmp) // os.Exit skips deferred calls
	os.Exit(code)
}

// setup builds the CLI and makes one real catalog; it returns the temporary directory.
func setup() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root = filepath.Join(filepath.Dir(file), "..", "..")
	tmp, err := os.MkdirTemp("", "cnpg-restore-gen-it-")
	if err != nil {
		return "", err
	}
	// PostgreSQL runs as the postgres user when the tests run as root: it must reach the tree.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return tmp, err
	}
	tool = filepath.Join(tmp, "cnpg-restore-gen")
	build := exec.Command("go", "build", "-o", tool, "./cmd/cnpg-restore-gen")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return tmp, fmt.Errorf("go build: %w\n%s", err, out)
	}
	if _, err := os.Stat(versitygw()); err != nil {
		return tmp, fmt.Errorf("%s is missing: run `make tools` (or `make test`)", versitygw())
	}
	catWork = filepath.Join(tmp, "catalog")
	mk := exec.Command(filepath.Join(root, "hack", "make-catalog.sh"), catWork)
	mk.Env = append(os.Environ(), "VERSITYGW="+versitygw())
	if out, err := mk.CombinedOutput(); err != nil {
		return tmp, fmt.Errorf("hack/make-catalog.sh: %w\n%s", err, out)
	}
	return tmp, nil
}

func versitygw() string {
	if v := os.Getenv("VERSITYGW"); v != "" {
		return v
	}
	return filepath.Join(root, "bin", "versitygw")
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the S3 server, PostgreSQL and barman-cloud (run without -short)")
	}
}

// s3Dir is the directory the S3 server serves (buckets are its subdirectories).
func s3Dir() string { return filepath.Join(catWork, "s3") }

// localCatalog is the catalog read straight from disk.
func localCatalog() string { return "file://" + filepath.Join(s3Dir(), "catalog", "pg") }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startS3 runs versitygw over dir on a free loopback port until the test ends; with cert and
// key it serves TLS. It returns the endpoint URL.
func startS3(t *testing.T, dir, cert, key string) string {
	t.Helper()
	port := freePort(t)
	args := []string{"--port", fmt.Sprintf("127.0.0.1:%d", port)}
	scheme := "http"
	if cert != "" {
		args = append(args, "--cert", cert, "--key", key)
		scheme = "https"
	}
	args = append(args, "posix", dir)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, versitygw(), args...)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+accessKey, "ROOT_SECRET_KEY="+secretKey)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %d: %v\n%s", port, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
}

type result struct {
	stdout, stderr string
	code           int
}

// runTool runs the CLI with S3 credentials in the environment, as a user would.
func runTool(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"COLUMNS=1000") // no wrapping: the tests look for whole sentences
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// report is the part of `catalog list -o json` the tests read.
type report struct {
	Catalog string `json:"catalog"`
	Backups []struct {
		ID, Name, Status, BeginTime, EndTime, BeginWal, EndWal, BeginLsn, EndLsn, SystemID string
		Timeline                                                                           int
		Usable                                                                             bool
		Problems                                                                           []string
		RecoverableTo                                                                      *struct {
			LSN, WAL string
			Timeline int
		}
	} `json:"backups"`
	Lineages []struct {
		SystemID string `json:"systemId"`
	} `json:"lineages"`
	Findings []struct{ Severity, Check, Message string } `json:"findings"`
}

func listJSON(t *testing.T, args ...string) (report, string) {
	t.Helper()
	r := runTool(t, nil, append([]string{"catalog", "list", "--server-name", server, "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("catalog list %v: exit %d\n%s", args, r.code, r.stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("catalog list -o json: %v\n%s", err, r.stdout)
	}
	return rep, r.stdout
}

// copyTree copies a directory keeping modification times (they are the archive times).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		return os.Chtimes(target, info.ModTime(), info.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func hasFinding(rep report, severity, check string) bool {
	for _, f := range rep.Findings {
		if f.Severity == severity && f.Check == check {
			return true
		}
	}
	return false
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}
