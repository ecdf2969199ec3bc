package generator

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// The sections issue 5 asks of the body, in order.
var bodySections = []string{
	"## Restore ",
	"### What is restored, from where",
	"| Catalog |", "| Backup |", "| Recovery target |", "| Database system (lineage) |", "| Timeline path |",
	"### Estimated recovery time",
	"### Timeline of the catalog", "```mermaid\ngantt\n",
	"### Safety checks",
	"### Verification before the cutover", "| `recovery-finished` |", "| `lineage` |", "| `timeline` |", "| `size` |", "| `last-commit` |", "logs job/",
	"### Changes in this pull request",
	"### Cutover edits",
	"### What the reviewer must check",
	"### After the merge: post-restore checklist",
	"verification Job passed", "Row counts", "log in", "new backup",
	"### Roll back and clean up", "revert this pull request", "--cleanup",
}

func TestPullRequestBody(t *testing.T) {
	f := catalogtest.Healthy(t)
	cat := f.Load()
	repo, err := overlays.ScanDir(filepath.Join("testdata", "repos", "argocd-helm"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.FindSource("auth", "authentik-postgresql")
	if err != nil {
		t.Fatal(err)
	}
	var taken []plan.Object
	for _, o := range repo.Objects {
		taken = append(taken, plan.Object{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name})
	}
	at := time.Date(2026, 2, 5, 2, 21, 0, 0, time.UTC)
	p, err := plan.Make(plan.Input{Catalog: cat, Source: plan.Source{Namespace: "auth", Name: "authentik-postgresql", ServerName: cat.ServerName, Catalog: "s3://homelab-postgres-backups/auth"},
		Target: catalog.Target{Time: &at}, Taken: taken, Now: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !p.OK() {
		t.Fatalf("plan refused: %+v", p.Failed())
	}
	res, err := Render(Input{Repo: repo, Source: src, Plan: p})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := RenderPullRequest(PullRequestInput{Plan: p, Result: res, Source: src, Spans: cat.Spans(), Phase: PhaseAll,
		Branch: "restore/auth/authentik-postgresql-" + p.Backup.ID, Base: "main", Version: "v0.0.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "generator", ".md", []byte("# "+pr.Title+"\n\n"+pr.Body))
	rest := pr.Body
	for _, s := range bodySections {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Errorf("body lacks %q (or has it out of order)", s)
			continue
		}
		rest = rest[i:]
	}
	if strings.Contains(pr.Body, canary) {
		t.Errorf("the body carries secret data")
	}
	if !strings.Contains(pr.Title, p.Backup.ID) || !strings.Contains(pr.Title, "auth/authentik-postgresql-restored") {
		t.Errorf("title %q names neither the backup nor the restored cluster", pr.Title)
	}
}

func TestPullRequestBodyForCleanupAndCutover(t *testing.T) {
	for _, tc := range []struct {
		name    string
		phase   string
		cleanup bool
		want    []string
	}{
		{"cleanup", PhaseAll, true, []string{"## Clean up after the restore of `auth/authentik-postgresql`", "A backup of `auth/authentik-postgresql-restored` has completed"}},
		{"cutover", PhaseCutover, false, []string{"## Cut over from `auth/authentik-postgresql` to `auth/authentik-postgresql-restored`", "### After the merge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &overlays.Source{Cluster: overlays.Object{Namespace: "auth", Name: "authentik-postgresql"}}
			pr, err := RenderPullRequest(PullRequestInput{Source: src, Restored: "authentik-postgresql-restored", Result: &Result{Files: []File{{Path: "a.yaml", Summary: "x | y"}}}, Phase: tc.phase, Cleanup: tc.cleanup, Branch: "b", Base: "main"})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(pr.Body, w) {
					t.Errorf("body lacks %q:\n%s", w, pr.Body)
				}
			}
			if strings.Contains(pr.Body, "### What is restored") || strings.Contains(pr.Body, "mermaid") {
				t.Errorf("a change without a plan describes a backup:\n%s", pr.Body)
			}
			if !strings.Contains(pr.Body, `x \| y`) {
				t.Errorf("a '|' in a summary is not escaped in its table cell")
			}
		})
	}
}

func TestAppDatabase(t *testing.T) {
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{nil, "app"},
		{map[string]any{"spec": "not a map"}, "app"},
		{map[string]any{"spec": map[string]any{"bootstrap": map[string]any{"initdb": map[string]any{"database": "authentik"}}}}, "authentik"},
	} {
		if got := appDatabase(&overlays.Source{Cluster: overlays.Object{Body: tc.body}}); got != tc.want {
			t.Errorf("appDatabase(%v) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

// TestPullRequestBodyPerShape: the pull request of each GitOps layout, golden — what it
// orders and how (one Application's waves, a Flux Kustomization of its own, two steps), the
// variable cut over once, the concrete copy of a templated cluster.
func TestPullRequestBodyPerShape(t *testing.T) {
	for _, f := range []fixture{
		{repo: "flux-home", ns: "database", name: "postgres"},
		{repo: "flux-component", ns: "database", name: "pg16"},
		{repo: "argocd-appset", ns: "database", name: "pg-main"},
		{repo: "argocd-app-of-apps", ns: "shop", name: "shop-db"},
	} {
		t.Run(f.repo, func(t *testing.T) {
			cat := catalogtest.Healthy(t).Load()
			repo, src := load(t, f)
			at := time.Date(2026, 2, 5, 2, 21, 0, 0, time.UTC)
			p, err := plan.Make(plan.Input{Catalog: cat, Source: plan.Source{Namespace: f.ns, Name: f.name, ServerName: cat.ServerName, Catalog: src.Catalog},
				Target: catalog.Target{Time: &at}, Now: at.Add(time.Hour)})
			if err != nil || !p.OK() {
				t.Fatalf("plan: %v %+v", err, p)
			}
			res, err := Render(Input{Repo: repo, Source: src, Plan: p})
			if err != nil {
				t.Fatal(err)
			}
			pr, err := RenderPullRequest(PullRequestInput{Plan: p, Result: res, Source: src, Spans: cat.Spans(), Phase: PhaseAll,
				Branch: "restore/" + f.ns + "/" + f.name + "-" + p.Backup.ID, Base: "main", Version: "v0.0.0-test"})
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, "generator", ".md", []byte("# "+pr.Title+"\n\n"+pr.Body))
			if res.TwoStep != strings.Contains(pr.Body, "TWO STEPS") {
				t.Errorf("two steps %v, but the body says otherwise", res.TwoStep)
			}
		})
	}
}
