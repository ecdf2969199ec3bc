package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestIntegrationDoctorReadsTheRealCatalog: doctor --catalog-checks reads the catalog the
// cluster's manifest names, on the S3 server: pg-main holds two database systems (the rebuilt
// lineage B), and its WAL is stale by a one-second limit; with a week's limits it is not.
func TestIntegrationDoctorReadsTheRealCatalog(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	repo := verifyRepo(t, endpoint)
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
	got, code := rules("--wal-max-age", "1s")
	if code != 3 || !strings.Contains(got["catalog-two-systems"], "catalog/pg/"+server) || got["stale-wal"] == "" {
		t.Errorf("exit %d, findings %v: want 3, catalog-two-systems on %s and stale-wal", code, got, server)
	}
	if _, ok := got["catalog-unreadable"]; ok {
		t.Errorf("the catalog was not read: %s", got["catalog-unreadable"])
	}
	got, _ = rules("--wal-max-age", "168h", "--backup-max-age", "168h")
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
