package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The real catalog holds, for pg-main: lineage A with b1-tl1 and b2-tl1 on timeline 1 and
// b3-tl2 on timeline 2 after a promotion; lineage B (a cluster rebuilt with initdb into the same
// path) with b4-rebuilt on timeline 1, whose WAL overwrote A's first segments and whose
// recovery runs into A's segment 4 (another system: PostgreSQL stops there).

func TestIntegrationS3AndLocalDirectoryAgree(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	viaS3, rawS3 := listJSON(t, "--catalog", "s3://catalog/pg", "--endpoint-url", endpoint)
	_, rawDir := listJSON(t, "--catalog", localCatalog())
	if viaS3.Catalog != "s3://catalog/pg/pg-main" {
		t.Errorf("catalog = %q", viaS3.Catalog)
	}
	strip := func(s string) string {
		lines := strings.Split(s, "\n")
		return strings.Join(lines[3:], "\n") // after serverName and catalog
	}
	if strip(rawS3) != strip(rawDir) {
		t.Errorf("S3 and local directory listings differ:\nS3:\n%s\ndir:\n%s", rawS3, rawDir)
	}
	if len(viaS3.Backups) != 4 || len(viaS3.Lineages) != 2 {
		t.Fatalf("backups %d lineages %d, want 4 and 2", len(viaS3.Backups), len(viaS3.Lineages))
	}
}

// barmanBackup is what barman-cloud-backup-list/show print per backup.
type barmanBackup struct {
	BackupID   string `json:"backup_id"`
	BackupName string `json:"backup_name"`
	Status     string `json:"status"`
	BeginTime  string `json:"begin_time"`
	EndTime    string `json:"end_time"`
	BeginWal   string `json:"begin_wal"`
	EndWal     string `json:"end_wal"`
	BeginXlog  string `json:"begin_xlog"`
	EndXlog    string `json:"end_xlog"`
	Timeline   int    `json:"timeline"`
	SystemID   string `json:"systemid"`
}

func barman(t *testing.T, endpoint string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(args[0], append([]string{"--format", "json", "--endpoint-url", endpoint}, args[1:]...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_DEFAULT_REGION=us-east-1", "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%v: %v\n%s", args, err, stderr)
	}
	return out
}

// barman prints times with ctime() in the process's zone (UTC here).
func ctimeToRFC3339(t *testing.T, s string) string {
	t.Helper()
	tm, err := time.Parse("Mon Jan _2 15:04:05 2006", s)
	if err != nil {
		t.Fatalf("barman time %q: %v", s, err)
	}
	return tm.UTC().Format(time.RFC3339)
}

func TestIntegrationMatchesBarmanCloudBackupListAndShow(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	ours, _ := listJSON(t, "--catalog", "s3://catalog/pg", "--endpoint-url", endpoint)

	var list struct {
		Backups []barmanBackup `json:"backups_list"`
	}
	if err := json.Unmarshal(barman(t, endpoint, "barman-cloud-backup-list", "s3://catalog/pg", server), &list); err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Backups, func(i, j int) bool { return list.Backups[i].BackupID < list.Backups[j].BackupID })
	if len(list.Backups) != len(ours.Backups) {
		t.Fatalf("barman lists %d backups, we list %d", len(list.Backups), len(ours.Backups))
	}
	for i, b := range list.Backups {
		var show map[string]barmanBackup
		if err := json.Unmarshal(barman(t, endpoint, "barman-cloud-backup-show", "s3://catalog/pg", server, b.BackupID), &show); err != nil {
			t.Fatal(err)
		}
		for _, theirs := range []barmanBackup{b, show["cloud"]} {
			o := ours.Backups[i]
			pairs := [][3]string{
				{"id", o.ID, b.BackupID},
				{"name", o.Name, theirs.BackupName},
				{"status", o.Status, theirs.Status},
				{"beginTime", o.BeginTime, ctimeToRFC3339(t, theirs.BeginTime)},
				{"endTime", o.EndTime, ctimeToRFC3339(t, theirs.EndTime)},
				{"beginWal", o.BeginWal, theirs.BeginWal},
				{"endWal", o.EndWal, theirs.EndWal},
				{"beginLsn", o.BeginLsn, theirs.BeginXlog},
				{"endLsn", o.EndLsn, theirs.EndXlog},
				{"systemId", o.SystemID, theirs.SystemID},
			}
			for _, p := range pairs {
				if p[1] != p[2] {
					t.Errorf("backup %s %s: ours %q, barman %q", b.BackupID, p[0], p[1], p[2])
				}
			}
			if o.Timeline != theirs.Timeline {
				t.Errorf("backup %s timeline: ours %d, barman %d", b.BackupID, o.Timeline, theirs.Timeline)
			}
		}
	}
}

// backupByName finds a backup in a report by its barman name (IDs are timestamps of the run).
func backupByName(t *testing.T, rep report, name string) int {
	t.Helper()
	for i, b := range rep.Backups {
		if b.Name == name {
			return i
		}
	}
	t.Fatalf("no backup named %s", name)
	return -1
}

func TestIntegrationRealCatalogFindings(t *testing.T) {
	skipShort(t)
	rep, _ := listJSON(t, "--catalog", localCatalog())
	if !hasFinding(rep, "error", "mixed-system-ids") {
		t.Errorf("second systemid under the same path not reported: %+v", rep.Findings)
	}
	if !hasFinding(rep, "warning", "foreign-wal") {
		t.Errorf("the rebuilt cluster's recovery running into lineage A's WAL is not reported: %+v", rep.Findings)
	}
	// Lineage A's archive command changed compression twice (gzip, bzip2, none): one run.
	for _, f := range rep.Findings {
		if f.Check == "wal-gap" {
			t.Errorf("a gap in a catalog that has none: %+v", f)
		}
	}
	tl1, _ := filepath.Glob(filepath.Join(s3Dir(), "catalog", "pg", server, "wals", "0000000100000000", "*"))
	suffixes := map[string]bool{}
	for _, p := range tl1 {
		suffixes[filepath.Ext(p)] = true
	}
	if !suffixes[".gz"] || !suffixes[".bz2"] || !suffixes[""] {
		t.Errorf("timeline 1's WAL has suffixes %v, want .gz, .bz2 and none (hack/make-catalog.sh changes the compression)", suffixes)
	}
	b3 := rep.Backups[backupByName(t, rep, "b3-tl2")]
	if !b3.Usable || b3.Timeline != 2 || b3.RecoverableTo == nil || b3.RecoverableTo.Timeline != 2 {
		t.Errorf("b3-tl2 (a backup on the newer timeline) = %+v", b3)
	}
	b4 := rep.Backups[backupByName(t, rep, "b4-rebuilt")]
	if !b4.Usable || b4.RecoverableTo == nil || b4.RecoverableTo.Timeline != 1 {
		t.Errorf("b4-rebuilt must recover on its own timeline 1 only, not into A's timeline 2: %+v", b4)
	}

	// check refuses to guess between the two systems (exit 3) and accepts an explicit choice.
	r := runTool(t, nil, "catalog", "check", "--catalog", localCatalog(), "--server-name", server)
	if r.code != 3 {
		t.Errorf("check without --system-id: exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "check output", r.stdout, "CANNOT RESTORE", "--system-id")
	r = runTool(t, nil, "catalog", "check", "--catalog", localCatalog(), "--server-name", server, "--system-id", b3.SystemID)
	if r.code != 0 {
		t.Errorf("check --system-id A: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "check output", r.stdout, "OK: restorable from backup "+b3.ID)
}

// mutated copies the real catalog, applies change to the server directory, and lists it.
func mutated(t *testing.T, change func(dir string)) (report, string) {
	t.Helper()
	dst := t.TempDir()
	copyTree(t, filepath.Join(s3Dir(), "catalog", "pg"), dst)
	change(filepath.Join(dst, server))
	rep, _ := listJSON(t, "--catalog", dst)
	return rep, dst
}

func checkA(t *testing.T, catalog, systemID string, extra ...string) result {
	t.Helper()
	return runTool(t, nil, append([]string{"catalog", "check", "--catalog", catalog, "--server-name", server, "--system-id", systemID}, extra...)...)
}

func systemA(t *testing.T) string {
	t.Helper()
	rep, _ := listJSON(t, "--catalog", localCatalog())
	return rep.Backups[backupByName(t, rep, "b3-tl2")].SystemID
}

func TestIntegrationCheckDeletedWALSegment(t *testing.T) {
	skipShort(t)
	sys := systemA(t)
	rep, dir := mutated(t, func(d string) {
		tl2 := filepath.Join(d, "wals", "0000000200000000")
		// Any suffix: lineage A archives timeline 2 uncompressed (hack/make-catalog.sh).
		names, _ := filepath.Glob(filepath.Join(tl2, "0000000200000000000000??*"))
		sort.Strings(names)
		if len(names) < 3 {
			t.Fatalf("timeline 2 has %d segments", len(names))
		}
		if err := os.Remove(names[len(names)-2]); err != nil {
			t.Fatal(err)
		}
	})
	if !hasFinding(rep, "error", "wal-gap") {
		t.Errorf("deleted segment not reported as a wal-gap error: %+v", rep.Findings)
	}
	r := checkA(t, dir, sys)
	if r.code != 3 {
		t.Errorf("check: exit %d, want 3\n%s", r.code, r.stdout)
	}
	mustContain(t, "check output", r.stdout, "wal-gap", "cannot be replayed")
}

func TestIntegrationCheckMissingHistory(t *testing.T) {
	skipShort(t)
	sys := systemA(t)
	rep, dir := mutated(t, func(d string) {
		hist, _ := filepath.Glob(filepath.Join(d, "wals", "00000002.history*"))
		if len(hist) != 1 {
			t.Fatalf("history files of timeline 2: %v", hist)
		}
		if err := os.Remove(hist[0]); err != nil {
			t.Fatal(err)
		}
	})
	if !hasFinding(rep, "error", "missing-history") {
		t.Errorf("missing 00000002.history not reported: %+v", rep.Findings)
	}
	if r := checkA(t, dir, sys); r.code != 3 || !strings.Contains(r.stdout, "missing-history") {
		t.Errorf("check: exit %d, want 3 with missing-history\n%s", r.code, r.stdout)
	}
}

func rewriteInfo(t *testing.T, dir, name string, edit func(string) string) {
	t.Helper()
	infos, _ := filepath.Glob(filepath.Join(dir, "base", "*", "backup.info"))
	for _, p := range infos {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "backup_name="+name+"\n") {
			if err := os.WriteFile(p, []byte(edit(string(data))), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no backup.info with backup_name=%s", name)
}

func TestIntegrationCheckFailedBackup(t *testing.T) {
	skipShort(t)
	sys := systemA(t)
	rep, dir := mutated(t, func(d string) {
		rewriteInfo(t, d, "b3-tl2", func(s string) string {
			s = strings.Replace(s, "status=DONE", "status=FAILED", 1)
			return strings.Replace(s, "error=None", "error=failure uploading data (connection reset)", 1)
		})
	})
	b3 := rep.Backups[backupByName(t, rep, "b3-tl2")]
	if b3.Usable || b3.Status != "FAILED" || !strings.Contains(strings.Join(b3.Problems, ""), "connection reset") {
		t.Errorf("FAILED backup = %+v", b3)
	}
	// b2-tl1 still reaches the end of timeline 2.
	r := checkA(t, dir, sys)
	b2 := rep.Backups[backupByName(t, rep, "b2-tl1")]
	if r.code != 0 || !strings.Contains(r.stdout, "restorable from backup "+b2.ID) {
		t.Errorf("check: exit %d, want 0 from b2-tl1\n%s", r.code, r.stdout)
	}
}

func TestIntegrationCheckTruncatedBackupInfo(t *testing.T) {
	skipShort(t)
	rep, _ := mutated(t, func(d string) {
		rewriteInfo(t, d, "b2-tl1", func(s string) string { return s[:len(s)/2] })
	})
	b2 := rep.Backups[backupByName(t, rep, "b1-tl1")+1]
	if b2.Usable || b2.Status != "INVALID" {
		t.Errorf("truncated backup.info: %+v", b2)
	}
	mustContain(t, "problem", strings.Join(b2.Problems, ""), "/backup.info:", "truncated")
}

func TestIntegrationTargetOutsideTheWindowIsRefused(t *testing.T) {
	skipShort(t)
	sys := systemA(t)
	r := checkA(t, localCatalog(), sys, "--target-time", "2020-01-01 00:00:00+00")
	if r.code != 3 {
		t.Errorf("target before every backup: exit %d, want 3\n%s", r.code, r.stdout)
	}
	mustContain(t, "check output", r.stdout, "is recoverable from")
	r = checkA(t, localCatalog(), sys, "--target-time", "2020-01-01 00:00:00")
	if r.code != 2 || !strings.Contains(r.stderr, "no time zone") {
		t.Errorf("target without a zone: exit %d, want 2 with 'no time zone'\n%s", r.code, r.stderr)
	}
}

func TestIntegrationBadInputErrors(t *testing.T) {
	skipShort(t)
	endpoint := startS3(t, s3Dir(), "", "")
	closed := "http://127.0.0.1:" + itoa(freePort(t))
	cases := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"unreachable endpoint", nil, []string{"--catalog", "s3://catalog/pg", "--endpoint-url", closed}, []string{"cannot reach " + closed, "--endpoint-url"}},
		{"wrong credentials", []string{"AWS_SECRET_ACCESS_KEY=wrong"}, []string{"--catalog", "s3://catalog/pg", "--endpoint-url", endpoint}, []string{"refused the credentials", "AWS_SECRET_ACCESS_KEY"}},
		{"missing bucket", nil, []string{"--catalog", "s3://no-such-bucket/pg", "--endpoint-url", endpoint}, []string{`bucket "no-such-bucket" does not exist`}},
		{"wrong server name", nil, []string{"--catalog", "s3://catalog/pg", "--endpoint-url", endpoint, "--server-name", "authentik"}, []string{`no barman catalog for server "authentik" at s3://catalog/pg/authentik/`, "server names found there: pg-main"}},
		{"missing directory", nil, []string{"--catalog", "/nonexistent/backups"}, []string{"/nonexistent/backups", "no such file"}},
		{"unsupported scheme", nil, []string{"--catalog", "gs://bucket/x"}, []string{"gs:// is not supported"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"catalog", "list", "--server-name", server}, tc.args...)
			r := runTool(t, tc.env, args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
				t.Errorf("want one error line, got:\n%s", r.stderr)
			}
			mustContain(t, "stderr", r.stderr, tc.want...)
			if strings.Contains(r.stderr, secretKey) || strings.Contains(r.stderr, "=wrong") {
				t.Errorf("stderr leaks a secret:\n%s", r.stderr)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// writeCA makes a CA and a server certificate for 127.0.0.1, returning the file paths.
func writeCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cnpg-restore-gen test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", der), write("server.key", "EC PRIVATE KEY", keyDER)
}

func TestIntegrationTLSWithCABundle(t *testing.T) {
	skipShort(t)
	caFile, cert, key := writeCA(t, t.TempDir())
	endpoint := startS3(t, s3Dir(), cert, key)
	args := []string{"catalog", "list", "--server-name", server, "--catalog", "s3://catalog/pg", "--endpoint-url", endpoint}

	r := runTool(t, nil, args...)
	if r.code != 1 {
		t.Errorf("without --ca-bundle: exit %d, want 1", r.code)
	}
	mustContain(t, "stderr", r.stderr, "not trusted", "--ca-bundle")

	r = runTool(t, nil, append(args, "--ca-bundle", caFile)...)
	if r.code != 0 {
		t.Fatalf("with --ca-bundle: exit %d\n%s", r.code, r.stderr)
	}
	mustContain(t, "table", r.stdout, "Catalog   s3://catalog/pg/pg-main", "b3-tl2")

	r = runTool(t, nil, append(args, "--insecure-skip-tls-verify")...)
	if r.code != 0 {
		t.Fatalf("with --insecure-skip-tls-verify: exit %d\n%s", r.code, r.stderr)
	}
	mustContain(t, "stderr", r.stderr, "WARNING: --insecure-skip-tls-verify")
}
