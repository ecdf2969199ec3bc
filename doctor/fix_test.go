package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// TestFixWritesTheMechanicalFixes: on the incident repository, --fix makes the daily
// ScheduledBackup a plugin backup into the cluster's ObjectStore, puts the crontab line's
// seconds first and writes a PrometheusRule per cluster, listed in the kustomization; the
// result builds with kustomize, and doctor on it no longer finds what was fixed, while what
// must not be changed mechanically (where the cluster archives) is left as it was.
func TestFixWritesTheMechanicalFixes(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", "incident"))); err != nil {
		t.Fatal(err)
	}
	repo, err := overlays.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Examine(repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fx, err := Fix(repo, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(fx.Left) != 0 {
		t.Errorf("fixes left undone: %v", fx.Left)
	}
	var b strings.Builder
	b.WriteString(generator.Diff(fx.Files))
	for _, s := range [][]string{fx.Fixed, fx.Notes} {
		for _, l := range s {
			b.WriteString("# " + l + "\n")
		}
	}
	golden.Assert(t, "doctor", ".diff", []byte(b.String()))
	title, body := fx.Proposal(rep)
	golden.Assert(t, "doctor", ".md", []byte("# "+title+"\n\n"+body))
	for _, f := range fx.Files {
		if err := os.WriteFile(filepath.Join(dir, f.Path), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build of the fixed repository: %v", err)
	}
	rules := 0
	for _, r := range m.Resources() {
		if r.GetKind() == "PrometheusRule" {
			rules++
			if r.GetNamespace() != "auth" {
				t.Errorf("PrometheusRule %s in namespace %q, want auth", r.GetName(), r.GetNamespace())
			}
		}
	}
	if rules != 2 {
		t.Errorf("%d PrometheusRules built, want one per cluster (2)", rules)
	}
	repo, err = overlays.ScanDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	after, err := Examine(repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, f := range after.Findings {
		left[f.Rule] = true
		if f.Fixable {
			t.Errorf("still found after --fix: %s %s (%s:%d) %s", f.Rule, f.Object, f.File, f.Line, f.Message)
		}
	}
	for _, rule := range []string{"archive-names-an-instance", "shared-archive", "recovery-on-live-cluster"} {
		if !left[rule] {
			t.Errorf("%s is gone after --fix: where a live cluster archives is never changed mechanically", rule)
		}
	}
	// A second run has nothing left to fix.
	again, err := Fix(repo, after)
	if err != nil || len(again.Files) != 0 {
		t.Errorf("second Fix = %d files, %v; want none", len(again.Files), err)
	}
}
