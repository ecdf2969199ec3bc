package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
)

func doctorRepo(name string) string {
	return filepath.Join("..", "..", "doctor", "testdata", "repos", name)
}

func TestDoctorExitCodesAndFormats(t *testing.T) {
	out, errOut, code := execute(t, "doctor", "--repo", doctorRepo("incident"))
	if code != exitSafety || !strings.Contains(errOut, "finding(s) of severity error or worse") {
		t.Fatalf("doctor on the incident repo: exit %d, stderr %q; want 3 and the count", code, errOut)
	}
	golden.Assert(t, "cli", ".txt", []byte(out))
	if _, _, code := execute(t, "doctor", "--repo", doctorRepo("clean")); code != exitOK {
		t.Errorf("doctor on the clean repo: exit %d, want 0", code)
	}
	// Warnings alone pass by default and fail with --fail-on warning.
	args := []string{"doctor", "--repo", doctorRepo("incident"), "--cluster", "auth/authentik-postgresql"}
	out, _, code = execute(t, append(args, "-o", "json")...)
	var rep struct {
		Findings []struct{ Rule, Severity string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if len(rep.Findings) == 0 || code != exitSafety {
		t.Errorf("-o json for auth/authentik-postgresql: exit %d, %d findings", code, len(rep.Findings))
	}
	out, _, _ = execute(t, append(args, "-o", "sarif")...)
	var sarif struct{ Version string }
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || sarif.Version != "2.1.0" {
		t.Errorf("-o sarif: %v, version %q", err, sarif.Version)
	}
	for _, bad := range [][]string{
		{"doctor"},
		{"doctor", "--repo", ".", "--fail-on", "info"},
		{"doctor", "--repo", ".", "-o", "yaml"},
		{"doctor", "--repo", ".", "--cluster", "nonamespace"},
	} {
		if _, _, code := execute(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
	if _, errOut, code := execute(t, "doctor", "--repo", doctorRepo("clean"), "--cluster", "db/nope"); code != exitError || !strings.Contains(errOut, "db/nope") {
		t.Errorf("an unknown cluster: exit %d, %q", code, errOut)
	}
}

func TestDoctorFlagsBecomeOptions(t *testing.T) {
	var got *doctorOptions
	cmd := newDoctorCmd(&streams{}, func(_ context.Context, o *doctorOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--repo", "r", "--cluster", "auth/pg", "--fail-on", "warning", "-o", "sarif",
		"--catalog-checks", "--wal-max-age", "30m", "--endpoint-url", "https://minio.example:9000"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Repo != "r" || got.Cluster != "pg" || got.Namespace != "auth" || got.Output != "sarif" || got.FailOn != "warning" ||
		!got.CatalogChecks || got.WALMaxAge != 30*time.Minute || got.BackupMaxAge != 48*time.Hour || got.S3.EndpointURL != "https://minio.example:9000" {
		t.Errorf("options = %+v", *got)
	}
	// Catalog flags without --catalog-checks would be ignored: refused instead.
	if _, _, code := execute(t, "doctor", "--repo", ".", "--endpoint-url", "https://x"); code != exitUsage {
		t.Errorf("--endpoint-url without --catalog-checks: exit %d, want 2", code)
	}
}
