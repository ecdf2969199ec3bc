package generator

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/human"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/termsafe"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/templates"
)

// PullRequestInput is what the pull request's title and body are made of.
type PullRequestInput struct {
	// Plan is the checked plan; nil for the cutover phase and cleanup, which need none.
	Plan   *plan.Plan
	Result *Result
	// Source is the source cluster as found in the repo (its database name goes into the
	// checklist).
	Source *overlays.Source
	// Restored is the restored cluster's name when there is no plan.
	Restored string
	// Spans are the catalog's timeline (catalog.Spans); nil draws no picture.
	Spans []catalog.Span
	// PartialWAL says the WAL before the candidate backups was not read (nor drawn).
	PartialWAL bool
	Phase      string
	Cleanup    bool
	Branch     string
	Base       string
	Version    string
}

// PullRequest is the rendered title and body.
type PullRequest struct {
	Title string
	Body  string
}

// bodyData is what templates/pr-*.tmpl see; Plan is the zero value when there is none.
type bodyData struct {
	PullRequestInput
	Plan                    plan.Plan
	Source, Restored        string // namespace/name
	Namespace, RestoredName string
	Database                string
	TargetYAML              string
	TimelinePath            string
	Mermaid                 string
	Warnings                []string
	LatestDescription       string
	// HasAssertions is set when the verification runs the user's own checks.
	HasAssertions bool
}

var prTemplates = template.Must(template.New("pr").Funcs(template.FuncMap{
	"cell":     mdCell,
	"bytes":    func(n any) string { return human.Bytes(toInt64(n)) },
	"duration": human.Seconds,
}).ParseFS(templates.FS, "pr-*.tmpl"))

// RenderPullRequest renders the pull request's title and body from templates/.
func RenderPullRequest(in PullRequestInput) (PullRequest, error) {
	if in.Source == nil || in.Result == nil || in.Plan == nil && in.Restored == "" {
		return PullRequest{}, fmt.Errorf("pull request: source, result and plan (or the restored name) are required")
	}
	var p plan.Plan
	if in.Plan != nil {
		p = *in.Plan
	}
	ns, restored := in.Source.Cluster.Namespace, in.Restored
	if in.Plan != nil {
		restored = p.Restored.Name
	}
	d := bodyData{
		PullRequestInput:  in,
		Plan:              p,
		Source:            ns + "/" + in.Source.Cluster.Name,
		Restored:          ns + "/" + restored,
		Namespace:         ns,
		RestoredName:      restored,
		Database:          appDatabase(in.Source),
		Warnings:          p.Warnings,
		LatestDescription: plan.RecoveryTarget{BackupID: p.Target.BackupID}.Describe(),
	}
	if v := in.Result.Verification; v != nil {
		for _, c := range v.Checks {
			d.HasAssertions = d.HasAssertions || !slices.Contains(builtinChecks, c.Name)
		}
	}
	if d.Version == "" {
		d.Version = "(development build)"
	}
	var path []string
	for _, t := range p.TimelinePath {
		path = append(path, fmt.Sprint(t))
	}
	d.TimelinePath = strings.Join(path, " → ")
	if p.Backup != nil {
		y, err := encode(mapping("recoveryTarget", recoveryTarget(p.Target))) // as the Cluster holds it
		if err != nil {
			return PullRequest{}, err
		}
		d.TargetYAML = string(y)
		if len(in.Spans) > 0 {
			d.Mermaid = catalog.Mermaid(fmt.Sprintf("%s/%s, server name %s", p.Source.Namespace, p.Source.Name, p.Source.ServerName),
				in.Spans, p.Backup.ID, targetMarks(&p))
		}
	}
	var title, body bytes.Buffer
	if err := prTemplates.ExecuteTemplate(&title, "pr-title.tmpl", d); err != nil {
		return PullRequest{}, fmt.Errorf("pull request title (templates/pr-title.tmpl): %w", err)
	}
	if err := prTemplates.ExecuteTemplate(&body, "pr-body.tmpl", d); err != nil {
		return PullRequest{}, fmt.Errorf("pull request body (templates/pr-body.tmpl): %w", err)
	}
	// Backup IDs, object keys and file names come from the bucket and the repo: a control
	// character in one must not reach a reviewer's terminal or the forge's page raw.
	return PullRequest{Title: termsafe.Escape(strings.TrimSpace(title.String())), Body: termsafe.Escape(strings.TrimSpace(body.String())) + "\n"}, nil
}

// targetMarks places the recovery's end on the picture: the target time, else the end of the
// WAL the chosen backup can replay, else the end of the backup.
func targetMarks(p *plan.Plan) []catalog.Mark {
	if p.Target.TargetTime != "" {
		if t, err := catalog.ParseTargetTime(p.Target.TargetTime); err == nil {
			return []catalog.Mark{{Label: "recovery target time", At: t}}
		}
	}
	b := p.Backup
	if b.RecoverableTo != nil && p.Target.TargetImmediate == nil {
		if t, err := time.Parse(time.RFC3339, b.RecoverableTo.Time); err == nil {
			what := "latest point"
			if p.Target.Describe() != (plan.RecoveryTarget{BackupID: p.Target.BackupID}).Describe() {
				what = p.Target.Describe() + " (at most)"
			}
			return []catalog.Mark{{Label: "recovery ends, " + what, At: t}}
		}
	}
	if t, err := time.Parse(time.RFC3339, b.EndTime); err == nil {
		return []catalog.Mark{{Label: "recovery ends with the backup", At: t}}
	}
	return nil
}

// appDatabase is the application database of the source cluster: spec.bootstrap.initdb.database,
// else CloudNativePG's default "app".
func appDatabase(src *overlays.Source) string {
	if src != nil {
		spec, _ := src.Cluster.Body["spec"].(map[string]any)
		boot, _ := spec["bootstrap"].(map[string]any)
		initdb, _ := boot["initdb"].(map[string]any)
		if db, ok := initdb["database"].(string); ok && db != "" {
			return db
		}
	}
	return "app"
}

// mdCell makes text safe in a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "`", "'")
	return strings.Join(strings.Fields(s), " ")
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	case int:
		return int64(n)
	}
	return 0
}
