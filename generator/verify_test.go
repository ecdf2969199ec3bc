package generator

import (
	"strings"
	"testing"
	"testing/fstest"

	"mvdan.cc/sh/v3/syntax"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// The script is POSIX shell: it parses as such (the Job runs it with /bin/sh).
func TestVerifyScriptIsPOSIXShell(t *testing.T) {
	p := syntax.NewParser(syntax.Variant(syntax.LangPOSIX))
	if _, err := p.Parse(strings.NewReader(verifyScript), "verify.sh"); err != nil {
		t.Fatalf("verify.sh is not POSIX shell: %v", err)
	}
}

const netpolCluster = `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: pg
  namespace: apps
spec:
  instances: 1
  storage: {size: 1Gi}
  backup:
    barmanObjectStore:
      destinationPath: s3://b/p
`

func renderWith(t *testing.T, files map[string]string, v Verify) *Result {
	t.Helper()
	res, err := renderPlan(t, files, v, func(*plan.Plan) {})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func renderPlan(t *testing.T, files map[string]string, v Verify, change func(*plan.Plan)) (*Result, error) {
	t.Helper()
	fsys := fstest.MapFS{"kustomization.yaml": {Data: []byte("resources:\n  - cluster.yaml\n  - policy.yaml\n")}, "cluster.yaml": {Data: []byte(netpolCluster)}}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content)}
	}
	if _, ok := files["policy.yaml"]; !ok {
		fsys["kustomization.yaml"] = &fstest.MapFile{Data: []byte("resources:\n  - cluster.yaml\n")}
	}
	repo, err := overlays.Scan(fsys, "repo")
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.FindSource("apps", "pg")
	if err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Source: plan.Source{Namespace: "apps", Name: "pg", ServerName: "pg", Catalog: "s3://b/p"},
		Target: plan.RecoveryTarget{BackupID: "20261123T020000"}, Restored: plan.Restored{Namespace: "apps", Name: "pg-restored", ServerName: "pg-restored"},
		Strategy: plan.SideBySide, SystemID: "7711797346175449542", TimelinePath: []uint32{1}, PromotedTimeline: 2}
	change(p)
	return Render(Input{Repo: repo, Source: src, Plan: p, Verify: v})
}

// A value from a hostile catalog never reaches the script's SQL or psql's \set lines.
func TestHostileCatalogValuesStayOutOfTheScript(t *testing.T) {
	_, err := renderPlan(t, nil, Verify{}, func(p *plan.Plan) { p.Target.TargetTime = "2026-01-01 00:00:00+00'\n\\! id" })
	if err == nil || !strings.Contains(err.Error(), "will not quote") {
		t.Errorf("Render with a hostile target time: %v, want a refusal", err)
	}
}

func TestNetworkPoliciesThatBlockTheVerificationAreNamed(t *testing.T) {
	cases := []struct {
		name, policy string
		want         string // "" when no note
	}{
		{"default deny ingress", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: apps}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`, "NetworkPolicy deny-all (policy.yaml:1) selects the restored cluster's pods and no ingress rule admits the verification Job's pod"},
		{"ingress only from the app", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-app, namespace: apps}
spec:
  podSelector: {matchExpressions: [{key: cnpg.io/cluster, operator: Exists}]}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 5432}]
`, "NetworkPolicy db-from-app"},
		{"ingress from the job's label", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-verify, namespace: apps}
spec:
  podSelector: {}
  ingress:
    - from: [{podSelector: {matchLabels: {app.kubernetes.io/name: cnpg-restore-verify}}}]
      ports: [{port: 5000, endPort: 6000}]
`, ""},
		{"a policy for another cluster", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: other, namespace: apps}
spec:
  podSelector: {matchLabels: {cnpg.io/cluster: other}}
  policyTypes: [Ingress]
`, ""},
		{"egress without DNS", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-db, namespace: apps}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {cnpg.io/cluster: pg-restored}}}]
`, "allows no DNS (port 53)"},
		{"egress elsewhere only", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-web, namespace: apps}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: web}}}]
`, "no rule lets it reach the restored cluster's pods (cnpg.io/cluster: pg-restored) on port 5432"},
		{"cilium", `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cnp, namespace: apps}
spec:
  endpointSelector: {}
`, "which the tool does not evaluate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := renderWith(t, map[string]string{"policy.yaml": tc.policy}, Verify{})
			notes := strings.Join(res.Notes, "\n")
			mentions := strings.Contains(notes, "verification Job's pod") || strings.Contains(notes, "allows no DNS")
			switch {
			case tc.want == "" && mentions:
				t.Errorf("notes name a policy that does not block the Job:\n%s", notes)
			case tc.want != "" && !strings.Contains(notes, tc.want):
				t.Errorf("notes = %s\nwant one containing %q", notes, tc.want)
			}
		})
	}
}

func TestNoVerifyWritesNoJobAndSaysSo(t *testing.T) {
	res := renderWith(t, nil, Verify{Off: true})
	for _, f := range res.Files {
		if strings.HasSuffix(f.Path, "/verify.yaml") {
			t.Errorf("--no-verify wrote %s", f.Path)
		}
	}
	if res.Verification != nil || !strings.Contains(strings.Join(res.Notes, "\n"), "VERIFICATION OFF") {
		t.Errorf("verification %+v, notes %q: want none, and the notes saying so", res.Verification, res.Notes)
	}
}

func TestUserAssertionsBecomeChecks(t *testing.T) {
	a, err := ParseAssertion("users: SELECT count(*) >= 5 FROM authentik_core_user;", 1)
	if err != nil {
		t.Fatal(err)
	}
	res := renderWith(t, nil, Verify{Assertions: []Assertion{a, {Name: "sql-2", SQL: "SELECT max(id) FROM t", Expect: "42", Database: "shop"}}})
	var verify string
	for _, f := range res.Files {
		if strings.HasSuffix(f.Path, "/verify.yaml") {
			verify = string(f.Content)
		}
	}
	for _, want := range []string{
		"users\t-\t04-users.sql", "sql-2\tshop\t05-sql-2.sql",
		"SELECT coalesce(got::text, 'NULL') IN ('t', 'true')", "SELECT count(*) >= 5 FROM authentik_core_user\n    ) AS q(got);",
		"IN ('42')", `\set backup_id '20261123T020000'`,
	} {
		if !strings.Contains(verify, want) {
			t.Errorf("verify.yaml lacks %q:\n%s", want, verify)
		}
	}
	for _, bad := range []string{"x: SELECT 1; DROP TABLE t", "Bad_Name: SELECT 1", "   "} {
		a, err := ParseAssertion(bad, 1)
		if err == nil {
			t.Errorf("ParseAssertion(%q) = %+v, want an error", bad, a)
		}
	}
}
