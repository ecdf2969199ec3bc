package generator

import (
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// TestArgoCDAcrossApplicationsIsTwoSteps: the cluster is in the infra-database application an
// ApplicationSet's list generator makes, the apps in those its git-directory generator makes;
// sync waves don't order across applications, so the first change restores only, and the
// second (--phase cutover) moves exactly the deployed references — not the excluded
// apps/legacy directory.
func TestArgoCDAcrossApplicationsIsTwoSteps(t *testing.T) {
	f := fixture{repo: "argocd-appset", ns: "database", name: "pg-main"}
	repo, res := render(t, f, PhaseAll)
	if !res.TwoStep || len(res.Edits) != 0 {
		t.Fatalf("two steps %v, %d edits: want the restore alone", res.TwoStep, len(res.Edits))
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "Argo CD application infra-database and the cutover by grafana, wiki") || strings.Contains(notes, "wave 0") {
		t.Errorf("the notes must name the applications and claim no wave ordering:\n%s", notes)
	}
	changed, err := overlays.ScanDir(applyTo(t, repo, res))
	if err != nil {
		t.Fatal(err)
	}
	src, err := changed.FindSource(f.ns, f.name)
	if err != nil {
		t.Fatal(err)
	}
	cut, err := Render(Input{Repo: changed, Source: src, Restored: "pg-main-restored", Phase: PhaseCutover})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, e := range cut.Edits {
		files[e.File] = true
	}
	for _, want := range []string{"apps/wiki/deployment.yaml", "apps/grafana/kustomization.yaml", "apps/grafana/datasource.yaml"} {
		if !files[want] {
			t.Errorf("the cutover does not edit %s: %+v", want, cut.Edits)
		}
	}
	if files["apps/legacy/deployment.yaml"] {
		t.Error("the cutover edits apps/legacy, which the ApplicationSet excludes")
	}
	// The first step ended with the verification Job: the second says to merge once it passed.
	if res.Verification == nil || !strings.Contains(res.Verification.Gate, "second change") {
		t.Errorf("the restore's verification %+v: want a Job whose gate is the second change", res.Verification)
	}
	v := cut.Verification
	if v == nil || v.Job != "database/pg-main-restored-verify" || len(v.Checks) != len(res.Verification.Checks) {
		t.Fatalf("the cutover's verification = %+v, want the restore's Job and its %d checks", v, len(res.Verification.Checks))
	}
	pr, err := RenderPullRequest(PullRequestInput{Result: cut, Source: src, Restored: "pg-main-restored", Phase: PhaseCutover, Branch: "b", Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### Before you merge: the verification of the restore", "`kubectl -n database logs job/pg-main-restored-verify` ends with `verification passed`", "`recovery-finished`"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("the cutover's pull request lacks %q:\n%s", want, pr.Body)
		}
	}
	if d := changed.Model().Find(overlays.GroupCNPG, "Cluster", "database", "pg-main-restored"); len(d) != 1 || d[0].By.Name != "infra-database" {
		t.Errorf("the restored Cluster is deployed by %v, want infra-database", d)
	}
}
