package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/forge"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/gitops"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/human"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/termsafe"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/restore"
)

// The reports plan, generate and pr print: tables for people, -o json|yaml for scripts.

// planReport is the plan as -o json|yaml prints it: changes lists the files generate writes
// (none for plan).
type planReport struct {
	*plan.Plan
	Changes []fileset.File `json:"changes"`
}

func newPlanReport(p *plan.Plan, explain bool, files []fileset.File) planReport {
	if !explain {
		q := *p
		q.Candidates, q.CloudNativePG = nil, nil
		p = &q
	}
	if files == nil {
		files = []fileset.File{}
	}
	return planReport{Plan: p, Changes: files}
}

// writePlan prints the plan in the format asked for; explain adds the candidates and
// CloudNativePG's own choice.
func writePlan(w io.Writer, format string, p *plan.Plan, explain bool, width int) error {
	r := newPlanReport(p, explain, nil)
	if format != "table" {
		return writeData(w, format, r)
	}
	return writePlanTable(w, r.Plan, explain, width)
}

func writePlanTable(w io.Writer, p *plan.Plan, explain bool, width int) error {
	w = termsafe.Writer(w) // names from the bucket and the repo never drive the terminal
	var b strings.Builder
	src := p.Source
	verdict := "OK"
	if !p.OK() {
		verdict = "REFUSED"
	}
	hang(&b, width, "Plan      ", fmt.Sprintf("%s: restore %s/%s from %s/%s", verdict, src.Namespace, src.Name, src.Catalog, src.ServerName))
	if p.Backup == nil && p.Requested != "" {
		hang(&b, width, "Asked     ", p.Requested)
	}
	if p.Backup != nil {
		br := p.Backup
		hang(&b, width, "Backup    ", fmt.Sprintf("%s (%s) %s, %s to %s, timeline %d, %s, system %s", br.ID, orDash(br.Name), br.Status,
			shortTime(br.BeginTime), shortTime(br.EndTime), br.Timeline, human.Bytes(br.Size), br.SystemID))
		rt, err := yaml.Marshal(map[string]any{"recoveryTarget": p.Target})
		if err != nil {
			return err
		}
		hang(&b, width, "Target    ", p.Target.Describe())
		for _, line := range strings.Split(strings.TrimSpace(string(rt)), "\n") {
			fmt.Fprintf(&b, "          %s\n", line)
		}
	}
	hang(&b, width, "Restored  ", fmt.Sprintf("%s/%s archiving to server name %s (%s)", p.Restored.Namespace, p.Restored.Name, p.Restored.ServerName, p.Strategy))
	if p.WAL != nil {
		bound := ""
		if p.WAL.UpperBound {
			bound = "at most "
		}
		hang(&b, width, "WAL       ", fmt.Sprintf("%s%d segments, %s to %s on timeline(s) %s (%s to replay, %s to download)", bound, p.WAL.Segments, p.WAL.From, p.WAL.To,
			orDash(human.Timelines(p.TimelinePath, " → ")), human.Bytes(int64(p.WAL.Bytes)), human.Bytes(p.WAL.StoredBytes)))
	}
	if e := p.WALEnd; e != nil && e.LastXact != nil {
		hang(&b, width, "WAL end   ", fmt.Sprintf("%s; valid WAL to %s", e.TailText(), e.End))
	}
	if p.Estimate != nil {
		hang(&b, width, "Estimate  ", fmt.Sprintf("about %s (%s)", human.Seconds(p.Estimate.Seconds), p.Estimate.Model))
		if explain {
			hang(&b, width, "Basis     ", p.Estimate.Basis)
		}
	}
	if e := p.WALEnd; explain && e != nil {
		hang(&b, width, "Read      ", fmt.Sprintf("%d segment(s) at the end of the WAL (%s downloaded), to find its last transaction and record", e.SegmentsRead, human.Bytes(e.BytesRead)))
	}
	if ra := p.ReadAhead; explain && ra != nil {
		hang(&b, width, "Read      ", fmt.Sprintf("%d segment(s) from where replay stops (%s downloaded), to see how far PostgreSQL reads ahead of it: %d segment(s), up to %s", ra.SegmentsRead, human.Bytes(ra.BytesRead), ra.Segments, ra.Why))
	}
	fmt.Fprintf(&b, "\nChecks\n")
	for _, c := range p.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		hang(&b, width, fmt.Sprintf("  %s  %-16s  ", mark, c.Name), c.Detail)
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintf(&b, "\nWarnings\n")
		for _, wn := range p.Warnings {
			hang(&b, width, "  - ", wn)
		}
	}
	if len(p.Candidates) > 0 {
		fmt.Fprintf(&b, "\nCandidates, newest first\n")
		idWidth := 0
		for _, c := range p.Candidates {
			idWidth = max(idWidth, len(c.ID))
		}
		for _, c := range p.Candidates {
			mark := " "
			if c.Chosen {
				mark = "*"
			}
			hang(&b, width, fmt.Sprintf("  %s %-*s  ", mark, idWidth, c.ID), c.Reason)
		}
	}
	if p.CloudNativePG != nil {
		b.WriteString("\nCloudNativePG\n")
		hang(&b, width, "  ", p.CloudNativePG.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// generateReport is what -o json|yaml prints.
type generateReport struct {
	Plan     *planReport       `json:"plan,omitempty"`
	Phase    string            `json:"phase"`
	Written  string            `json:"written"` // the repo, the --out directory, or "" for --dry-run
	Result   *generator.Result `json:"result"`
	Deleted  []string          `json:"deleted"`
	Restored string            `json:"restored"`
}

func newGenerateReport(ch *restore.Change) generateReport {
	r := generateReport{Phase: ch.Phase, Result: &ch.Result, Deleted: ch.Deleted, Restored: ch.Restored}
	if ch.Plan != nil {
		pr := newPlanReport(ch.Plan, false, ch.Files)
		r.Plan = &pr
	}
	return r
}

func writeGenerateSummary(w io.Writer, r generateReport, width int) error {
	w = termsafe.Writer(w) // names from the bucket and the repo never drive the terminal
	var b strings.Builder
	res := r.Result
	if p := r.Plan; p != nil {
		hang(&b, width, "Restore   ", fmt.Sprintf("%s/%s → %s/%s (%s), backup %s, %s", p.Source.Namespace, p.Source.Name, p.Restored.Namespace, p.Restored.Name,
			p.Strategy, p.Target.BackupID, p.Target.Describe()))
	}
	verb := "Changed"
	switch {
	case r.Written == "":
		verb = "Would change"
	case len(res.Files) == 0:
		verb = "Nothing to change"
	}
	where := ""
	if r.Written != "" {
		where = " in " + r.Written
	}
	fmt.Fprintf(&b, "%s%s (%s)\n", verb, where, r.Phase)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range res.Files {
		fmt.Fprintf(tw, "  %s\t%s\n", c.Path, c.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Edits) > 0 {
		fmt.Fprintf(&b, "\nCutover\n")
		for _, e := range res.Edits {
			fmt.Fprintf(&b, "  %s:%d  %s → %s\n", e.File, e.Line, e.Old, e.New)
		}
	}
	if len(res.FollowUps) > 0 {
		fmt.Fprintf(&b, "\nFollow-ups (by hand)\n")
		for _, f := range res.FollowUps {
			at := f.File
			if f.Line > 0 {
				at = fmt.Sprintf("%s:%d", f.File, f.Line)
			}
			hang(&b, width, "  "+at+"  ", f.Detail)
		}
	}
	if v := res.Verification; v != nil {
		var names []string
		for _, c := range v.Checks {
			names = append(names, c.Name)
		}
		fmt.Fprintf(&b, "\nVerification\n")
		hang(&b, width, "  job     ", v.Job)
		if len(names) > 0 {
			hang(&b, width, "  checks  ", strings.Join(names, ", "))
		}
		hang(&b, width, "  result  ", v.Logs)
		if v.Gate != "" {
			hang(&b, width, "  gate    ", v.Gate)
		}
	}
	var notes []string
	if r.Plan != nil {
		notes = append(notes, r.Plan.Warnings...)
	}
	notes = append(notes, res.Notes...)
	if len(notes) > 0 {
		fmt.Fprintf(&b, "\nNotes\n")
		for _, n := range notes {
			hang(&b, width, "  - ", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// prReport is what -o json|yaml prints.
type prReport struct {
	generateReport
	Commit      *gitops.Commit     `json:"commit,omitempty"`
	Forge       string             `json:"forge"`
	PullRequest *forge.PullRequest `json:"pullRequest,omitempty"`
	Outcome     string             `json:"outcome,omitempty"` // created, updated, unchanged
	Title       string             `json:"title"`
	Body        string             `json:"body,omitempty"`
	Branch      string             `json:"branch"`
}

func writePRDryRun(s *streams, o *prOptions, r prReport, base, diff string) error {
	if o.Output != "table" {
		return writeData(s.Out, o.Output, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Branch   %s (from %s)\n", r.Branch, base)
	fmt.Fprintf(&b, "Title    %s\n\n", r.Title)
	b.WriteString(diff)
	fmt.Fprintf(&b, "\n──── pull request description ────\n\n%s", r.Body)
	_, err := io.WriteString(s.Out, b.String())
	if err != nil {
		return err
	}
	fmt.Fprintln(s.ErrOut, "dry run: no commit, no push, no pull request")
	return nil
}

func writePRSummary(w io.Writer, r prReport, local bool, width int) error {
	w = termsafe.Writer(w) // names from the bucket and the repo never drive the terminal
	if err := writeGenerateSummary(w, r.generateReport, width); err != nil {
		return err
	}
	var b strings.Builder
	c := r.Commit
	switch {
	case c.Unchanged:
		fmt.Fprintf(&b, "\nBranch    %s is up to date on %s (commit %.12s): nothing pushed\n", c.Branch, c.Remote, c.Hash)
	case local:
		fmt.Fprintf(&b, "\nBranch    %s committed in %s (commit %.12s, from %s); not pushed\n", c.Branch, c.Remote, c.Hash, c.Base)
	case c.Replaced != "":
		moved := ""
		if c.BaseMoved {
			moved = fmt.Sprintf("; %s moved since it was made", c.Base)
		}
		fmt.Fprintf(&b, "\nBranch    %s rebuilt from %s and pushed to %s (commit %.12s, replaces %.12s%s)\n", c.Branch, c.Base, c.Remote, c.Hash, c.Replaced, moved)
	default:
		fmt.Fprintf(&b, "\nBranch    %s pushed to %s (commit %.12s, from %s)\n", c.Branch, c.Remote, c.Hash, c.Base)
	}
	if pr := r.PullRequest; pr != nil {
		fmt.Fprintf(&b, "Pull request #%d %s: %s\n", pr.Number, r.Outcome, pr.URL)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
