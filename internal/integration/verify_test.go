package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// verification is the generated verification, unpacked as the Job's pod sees it.
type verification struct {
	dir string   // the ConfigMap's files (verify.sh, checks.tsv, the SQL)
	env []string // the Job container's plain env (PGHOST, PGOPTIONS, ...)
	job cnpgJob  // the recovery of the Cluster generated with it
}

// generateVerification runs generate for lineage A and unpacks the verify.yaml it writes.
func generateVerification(t *testing.T, endpoint, systemID string, flags ...string) verification {
	t.Helper()
	repo := restoreRepo(t, endpoint, server, false)
	out := generateRestore(t, endpoint, repo, server, append([]string{"--system-id", systemID}, flags...)...)
	data, err := os.ReadFile(filepath.Join(out, server+"-restored", "verify.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v := verification{dir: t.TempDir(), job: jobFromManifests(t, repo, out, server+"-restored")}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var obj struct {
			Kind string
			Data map[string]string
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Env []struct{ Name, Value string }
						}
					}
				}
			}
		}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch obj.Kind {
		case "ConfigMap":
			for name, content := range obj.Data {
				if err := os.WriteFile(filepath.Join(v.dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		case "Job":
			for _, e := range obj.Spec.Template.Spec.Containers[0].Env {
				if e.Value != "" {
					v.env = append(v.env, e.Name+"="+e.Value)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(v.dir, "verify.sh")); err != nil {
		t.Fatalf("verify.yaml has no script: %v\n%s", err, data)
	}
	return v
}

// run runs the script as the Job does, against a recovered server: the Job's environment, with
// the host (the local socket), for the secret's user a role with no privilege but reading the
// tables (the application's owner owns them), and no password (the server trusts local
// connections).
func (v verification) run(t *testing.T, pg *recovered) (string, int) {
	t.Helper()
	user := "verifier"
	if out, err := pg.psql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'verifier') THEN CREATE ROLE verifier LOGIN; END IF; END $$; GRANT SELECT ON ALL TABLES IN SCHEMA public TO verifier"); err != nil {
		if !strings.Contains(out, "read-only") {
			t.Fatalf("creating the verifier role: %v\n%s", err, out)
		}
		user = "postgres" // a server in recovery takes no new role
	}
	cmd := exec.Command("sh", filepath.Join(v.dir, "verify.sh"))
	cmd.Env = append(os.Environ(), v.env...)
	cmd.Env = append(cmd.Env, "PGHOST="+pg.sock, "PGUSER="+user, "PGDATABASE=postgres", "VERIFY_WAIT_SECONDS=20",
		"PGSSLMODE=disable") // a Unix socket has no TLS; the Job's require is for the -rw service
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func planFor(t *testing.T, endpoint string, flags ...string) planJSON {
	t.Helper()
	args := append([]string{"plan", "--cluster", "auth/" + server, "--catalog", "s3://catalog/pg", "--endpoint-url", endpoint, "-o", "json"}, flags...)
	r := runTool(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("the script's output lacks %q:\n%s", w, out)
		}
	}
}

// TestIntegrationVerificationScript: the verification script generate writes is run with psql
// against PostgreSQL recovered from the real catalog. It passes on the planned restore and
// fails, naming the check, on a server still in recovery, on the empty rebuilt database of
// lineage B, on a restore that went past the target, and on a failing user assertion.
func TestIntegrationVerificationScript(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	ms := readMarkers(t)
	sysA := systemA(t)
	a, b := markerByLabel(t, ms, "a-after-b1").time, markerByLabel(t, ms, "a-between-b1-b2").time
	target := a.Add(b.Sub(a) / 2).Truncate(time.Microsecond).UTC().Format(time.RFC3339Nano)
	timeFlags := []string{"--system-id", sysA, "--target-time", target}

	v := generateVerification(t, endpoint, sysA, append(timeFlags[2:], "--verify-sql", "marks: SELECT count(*) >= 2 FROM marks")...)
	for _, want := range []string{"recovery-finished", "lineage", "timeline", "size", "last-commit", "marks"} {
		tsv, _ := os.ReadFile(filepath.Join(v.dir, "checks.tsv"))
		if !strings.Contains(string(tsv), want+"\t") {
			t.Fatalf("checks.tsv lacks %s:\n%s", want, tsv)
		}
	}
	pg := recoverTo(t, v.job, false)

	t.Run("the planned restore passes", func(t *testing.T) {
		out, code := v.run(t, pg)
		if code != 0 {
			t.Fatalf("exit %d, want 0:\n%s", code, out)
		}
		wantLines(t, out, "ok   recovery-finished:", "ok   lineage:", "ok   timeline:", "ok   size:", "ok   last-commit: the last transaction before the target is xid", "ok   marks:", "verification passed")
		t.Logf("\n%s", out)
	})
	t.Run("a failing assertion fails, by name", func(t *testing.T) {
		failing := generateVerification(t, endpoint, sysA, append(timeFlags[2:], "--verify-sql", "too-many-marks: SELECT count(*) > 1000 FROM marks")...)
		out, code := failing.run(t, pg)
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		wantLines(t, out, "FAIL too-many-marks: got false, expected t", "ok   size:", "verification FAILED: 1 check(s)")
	})
	t.Run("a server still in recovery fails recovery-finished", func(t *testing.T) {
		paused := recoverTo(t, v.job, true)
		out, code := v.run(t, paused)
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		wantLines(t, out, "FAIL recovery-finished: the server is still in recovery", "FAIL timeline: still in recovery")
	})
	t.Run("a restore past the target fails last-commit", func(t *testing.T) {
		latest := recoverTo(t, generateVerification(t, endpoint, sysA).job, false)
		out, code := v.run(t, latest)
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		wantLines(t, out, "FAIL last-commit:", "committed after the target are in the data", "ok   lineage:")
	})
	t.Run("the empty rebuilt database fails lineage and size", func(t *testing.T) {
		rep, _ := listJSON(t, "--catalog", localCatalog())
		sysB := rep.Backups[backupByName(t, rep, "b4-rebuilt")].SystemID
		rebuilt := recoverTo(t, generateVerification(t, endpoint, sysB).job, false)
		out, code := v.run(t, rebuilt)
		if code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, out)
		}
		wantLines(t, out, "FAIL lineage: database system "+sysB+", not "+sysA, "FAIL size:", "below")
		t.Logf("\n%s", out)
	})
}
