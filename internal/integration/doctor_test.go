package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationDoctorReadsTheRealCatalog: doctor --catalog-checks reads the catalog the
// cluster's manifest names, on the S3 server: pg-main holds two database systems (the rebuilt
// lineage B) so its latest point is not restorable without --system-id, and its WAL and newest
// backup are stale by one-second limits; with a week's limits they are not, and by the
// ScheduledBackup's schedule (daily) the backup made minutes ago is not either.
func TestIntegrationDoctorReadsTheRealCatalog(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	repo := restoreRepo(t, endpoint, server, false)
	sb := "apiVersion: postgresql.cnpg.io/v1\nkind: ScheduledBackup\nmetadata:\n  name: daily\nspec:\n  schedule: \"0 0 2 * * *\"\n  cluster:\n    name: " + server + "\n"
	if err := os.WriteFile(filepath.Join(repo, "scheduledbackup.yaml"), []byte(sb), 0o644); err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: auth\nresources:\n  - cluster.yaml\n  - scheduledbackup.yaml\n"
	if err := os.WriteFile(filepath.Join(repo, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	rules := func(extra ...string) (map[string]string, int) {
		t.Helper()
		r := runTool(t, nil, append([]string{"doctor", "--repo", repo, "--catalog-checks", "-o", "json"}, extra...)...)
		var rep struct {
			Findings []struct{ Rule, Message string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("doctor -o json: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
		}
		out := map[string]string{}
		for _, f := range rep.Findings {
			out[f.Rule] = f.Message
		}
		return out, r.code
	}
	got, code := rules("--wal-max-age", "1s", "--backup-max-age", "1s")
	if code != 3 || !strings.Contains(got["catalog-two-systems"], "catalog/pg/"+server) || got["stale-wal"] == "" || got["stale-backup"] == "" {
		t.Errorf("exit %d, findings %v: want 3, catalog-two-systems on %s, stale-wal and stale-backup", code, got, server)
	}
	// The latest point is planned as plan plans it: two systems and no --system-id is refused.
	if !strings.Contains(got["not-restorable"], "single-lineage") {
		t.Errorf("not-restorable = %q, want the single-lineage check named", got["not-restorable"])
	}
	if _, ok := got["catalog-unreadable"]; ok {
		t.Errorf("the catalog was not read: %s", got["catalog-unreadable"])
	}
	got, _ = rules("--wal-max-age", "168h")
	if _, stale := got["stale-wal"]; stale {
		t.Errorf("with a week's limit the catalog made minutes ago is stale: %v", got)
	}
	if _, stale := got["stale-backup"]; stale {
		t.Errorf("with a week's limit the newest backup is stale: %v", got)
	}
	// A bucket the credentials cannot read is a finding, not a crash.
	r := runTool(t, []string{"AWS_SECRET_ACCESS_KEY=not-the-key-4f2a"}, "doctor", "--repo", repo, "--catalog-checks", "-o", "json")
	if !strings.Contains(r.stdout, "catalog-unreadable") || strings.Contains(r.stdout+r.stderr, "not-the-key-4f2a") {
		t.Errorf("wrong credentials: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
