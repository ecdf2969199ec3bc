package doctor

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/fileset"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// fixable are the rules whose fix is mechanical and safe: it changes what a backup does, never
// where a live cluster archives (that needs a new base backup first: the rule's Fix says how).
var fixable = map[string]bool{
	"scheduled-backup-wrong-method":        true,
	"scheduled-backup-no-object-store":     true,
	"scheduled-backup-five-field-schedule": true,
	"no-archive-alert":                     true,
}

// pluginName is the barman-cloud plugin's name in a ScheduledBackup's pluginConfiguration.
const pluginName = "barman-cloud.cloudnative-pg.io"

// Fixes are the files Fix writes, and what it could not do.
type Fixes struct {
	// Files are the changed and new files, in path order.
	Files []fileset.File
	// Fixed are the findings fixed, "rule object (file:line): what was done".
	Fixed []string
	// Left are the fixable findings Fix could not write, each with why.
	Left []string
	// Notes are what the reviewer should know about the fixes.
	Notes []string
	// Remaining are the report's findings the fixes do not resolve.
	Remaining []Finding
}

// Fix writes the safe, mechanical fixes of the report's findings on the repository: a plugin
// ScheduledBackup's method, plugin name and barmanObjectName, a crontab schedule read seconds
// first, and a PrometheusRule watching WAL archiving and the WAL volume of every cluster that
// has none. It reads the repository and returns the files; it writes nothing.
func Fix(repo *overlays.Repo, rep *Report) (*Fixes, error) {
	fx := &fixer{repo: repo, out: &Fixes{}, work: map[string]*yamledit.File{}, orig: map[string][]byte{}, summary: map[string][]string{}}
	var alerts []Finding
	for _, f := range rep.Findings {
		if !f.Fixable {
			fx.out.Remaining = append(fx.out.Remaining, f)
			continue
		}
		var err error
		switch f.Rule {
		case "scheduled-backup-wrong-method", "scheduled-backup-no-object-store":
			err = fx.pluginMethod(f.obj)
		case "scheduled-backup-five-field-schedule":
			err = fx.schedule(f.obj)
		case "no-archive-alert":
			alerts = append(alerts, f) // after the edits, so that new files come last
			continue
		}
		fx.done(f, err)
	}
	for _, f := range alerts {
		fx.done(f, fx.alert(f.obj))
	}
	paths := make([]string, 0, len(fx.work))
	for p := range fx.work {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fx.out.Files = append(fx.out.Files, fileset.File{Path: p, Content: fx.work[p].Data, Old: fx.orig[p], Summary: strings.Join(fx.summary[p], "; ")})
	}
	return fx.out, nil
}

type fixer struct {
	repo    *overlays.Repo
	out     *Fixes
	work    map[string]*yamledit.File // files as changed so far
	orig    map[string][]byte         // their content before (nil: new)
	summary map[string][]string
	// labels are what new PrometheusRules are labelled with (ruleLabels).
	labels     map[string]string
	labelsDone bool
}

func (x *fixer) done(f Finding, err error) {
	what := fmt.Sprintf("%s %s (%s:%d)", f.Rule, f.Object, f.File, f.Line)
	if err != nil {
		x.out.Left = append(x.out.Left, what+": "+err.Error())
		x.out.Remaining = append(x.out.Remaining, f)
		return
	}
	x.out.Fixed = append(x.out.Fixed, what)
}

func (x *fixer) current(p string) *yamledit.File {
	if f, ok := x.work[p]; ok {
		return f
	}
	return x.repo.File(p)
}

func (x *fixer) put(p string, data []byte, summary string) error {
	f, err := yamledit.ParseFile(p, data)
	if err != nil {
		return fmt.Errorf("%s does not parse after the fix: %w", p, err)
	}
	if _, ok := x.orig[p]; !ok {
		if old := x.repo.File(p); old != nil {
			x.orig[p] = old.Data
		} else {
			x.orig[p] = nil
		}
	}
	x.work[p] = f
	if summary != "" {
		x.summary[p] = append(x.summary[p], summary)
	}
	return nil
}

// doc is o's document in the file as changed so far (edits keep the documents in order).
func (x *fixer) doc(o overlays.Object) (*yamledit.File, *yamledit.Doc, error) {
	orig := x.repo.File(o.File)
	if orig == nil || o.Doc == nil {
		return nil, nil, fmt.Errorf("%s is not a file the repository scan can edit", o.File)
	}
	for i, d := range orig.Docs {
		if d == o.Doc {
			f := x.current(o.File)
			return f, f.Docs[i], nil
		}
	}
	return nil, nil, fmt.Errorf("%s:%d: the document is not in the file", o.File, o.Line)
}

// set sets the string values at the key paths of o's document, one edit each, in order.
func (x *fixer) set(o overlays.Object, summary string, kv ...[]string) error {
	for _, p := range kv {
		f, d, err := x.doc(o)
		if err != nil {
			return err
		}
		keys, value := p[:len(p)-1], p[len(p)-1]
		if _, v := yamledit.Lookup(d.Root(), keys...); v != nil && v.Kind == yaml3.ScalarNode && v.Value == value {
			continue
		}
		out, err := f.SetScalar(d, keys, value)
		if err != nil {
			return err
		}
		if err := x.put(o.File, out, summary); err != nil {
			return err
		}
		summary = "" // one summary per fix
	}
	return nil
}

// pluginMethod makes a ScheduledBackup back up through the barman-cloud plugin, into the
// cluster's ObjectStore.
func (x *fixer) pluginMethod(sb overlays.Object) error {
	cluster := overlays.StringAt(sb.Body, "spec", "cluster", "name")
	store := ""
	if src, err := x.repo.FindSource(sb.Namespace, cluster); err == nil && src.ObjectStore != nil {
		store = src.ObjectStore.Name
	}
	if store == "" {
		// The cluster names none: the one ObjectStore of the namespace, if there is only one.
		var names []string
		for _, o := range x.repo.Deployed() {
			if o.Is(overlays.GroupBarmanCloud, "ObjectStore") && o.Namespace == sb.Namespace {
				names = append(names, o.Name)
			}
		}
		if len(names) != 1 {
			return fmt.Errorf("cluster %s names no ObjectStore and namespace %s deploys %d: name the one it archives to in barmanObjectName by hand", cluster, sb.Namespace, len(names))
		}
		store = names[0]
	}
	return x.set(sb, fmt.Sprintf("ScheduledBackup %s backs up through the barman-cloud plugin into ObjectStore %s", sb.Name, store),
		[]string{"spec", "method", "plugin"},
		[]string{"spec", "pluginConfiguration", "name", pluginName},
		[]string{"spec", "pluginConfiguration", "parameters", "barmanObjectName", store})
}

// schedule puts the seconds first in a crontab line.
func (x *fixer) schedule(sb overlays.Object) error {
	sched := overlays.StringAt(sb.Body, "spec", "schedule")
	fixed := "0 " + strings.Join(strings.Fields(sched), " ")
	return x.set(sb, fmt.Sprintf("ScheduledBackup %s runs at %q, seconds first", sb.Name, fixed), []string{"spec", "schedule", fixed})
}

// alert writes a PrometheusRule for the cluster beside its manifest and lists it where the
// manifest is listed.
func (x *fixer) alert(c overlays.Object) error {
	dir := path.Dir(c.File)
	file := path.Join(dir, c.Name+"-backup-alerts.yaml")
	if x.repo.File(file) != nil || x.work[file] != nil {
		return fmt.Errorf("%s already exists: add the rules by hand", file)
	}
	body, err := alertRule(c.Namespace, c.Name, x.ruleLabels())
	if err != nil {
		return err
	}
	if err := x.put(file, body, fmt.Sprintf("new: PrometheusRule %s-backup-alerts", c.Name)); err != nil {
		return err
	}
	k, _ := x.repo.IncludedBy(c.File)
	if k == nil {
		x.out.Notes = append(x.out.Notes, fmt.Sprintf("no kustomization.yaml lists %s: %s is applied only if its directory is applied whole (a Flux Kustomization or Argo CD directory app without a kustomization.yaml); otherwise list it where %s is", c.File, file, c.File))
		return nil
	}
	entry := overlays.Relative(k.Dir, file)
	f := x.current(k.File.Path)
	if _, list := yamledit.Lookup(f.Docs[0].Root(), "resources"); list != nil {
		for _, it := range list.Content {
			if strings.HasPrefix(it.Value, "./") {
				entry = "./" + entry
				break
			}
		}
	}
	out, err := f.AddListItem(f.Docs[0], []string{"resources"}, entry)
	if err != nil {
		return fmt.Errorf("while listing %s in %s: %w", entry, k.File.Path, err)
	}
	return x.put(k.File.Path, out, "lists "+entry)
}

// ruleLabels are the labels of a PrometheusRule the repository already deploys, so that a
// Prometheus selecting rules by label (kube-prometheus-stack's release label) loads the new
// ones too. Decided once, with a note saying which.
func (x *fixer) ruleLabels() map[string]string {
	if x.labelsDone {
		return x.labels
	}
	x.labelsDone = true
	for _, o := range x.repo.Deployed() {
		if !o.Is("monitoring.coreos.com", "PrometheusRule") {
			continue
		}
		labels, _ := overlays.ValueAt(o.Body, "metadata", "labels").(map[string]any)
		out := map[string]string{}
		for k, v := range labels {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		if len(out) > 0 {
			x.labels = out
			x.out.Notes = append(x.out.Notes, fmt.Sprintf("the new PrometheusRules carry the labels of %s, so the Prometheus that loads that one loads them", o))
			return out
		}
	}
	x.out.Notes = append(x.out.Notes, "if your Prometheus selects PrometheusRules by label (kube-prometheus-stack selects release: <its release name> by default), add that label to the new rules")
	return nil
}

// alertRule is the PrometheusRule for one cluster: WAL waiting to be archived (the runbook's
// 246 .ready files), archiving stalled while WAL waits, and the volume holding WAL filling up.
// The series are CloudNativePG's own metrics (its PodMonitor or ServiceMonitor) and the
// kubelet's volume statistics, matched on the cluster's pods and PVCs.
func alertRule(namespace, cluster string, labels map[string]string) ([]byte, error) {
	pods := fmt.Sprintf(`namespace=%q, pod=~%q`, namespace, cluster+"-[0-9]+")
	pvcs := fmt.Sprintf(`namespace=%q, persistentvolumeclaim=~%q`, namespace, cluster+"-[0-9]+(-wal)?")
	rule := func(name, expr, dur, severity, summary, description string) map[string]any {
		return map[string]any{"alert": name, "expr": expr, "for": dur,
			"labels":      map[string]any{"severity": severity, "cnpg_cluster": cluster},
			"annotations": map[string]any{"summary": summary, "description": description}}
	}
	meta := map[string]any{"name": cluster + "-backup-alerts", "namespace": namespace}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	obj := map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata":   meta,
		"spec": map[string]any{"groups": []any{map[string]any{
			"name": cluster + "-backups",
			"rules": []any{
				rule("CNPGWALNotArchived", fmt.Sprintf(`max by (pod) (cnpg_collector_pg_wal_archive_status{%s, value="ready"}) > 10`, pods), "15m", "critical",
					fmt.Sprintf("%s/%s: WAL is waiting to be archived", namespace, cluster),
					"{{ $value }} WAL segments of {{ $labels.pod }} wait for archive_command (.ready files): archiving fails or lags, the recoverable window stops growing, and the WAL volume fills until PostgreSQL stops."),
				rule("CNPGArchivingStalled", fmt.Sprintf(`max by (pod) (cnpg_pg_stat_archiver_seconds_since_last_archival{%s}) > 3600 and on (pod) max by (pod) (cnpg_collector_pg_wal_archive_status{%s, value="ready"}) > 0`, pods, pods), "10m", "critical",
					fmt.Sprintf("%s/%s: nothing archived for an hour while WAL waits", namespace, cluster),
					"{{ $labels.pod }} has archived no WAL for over an hour although segments are ready: check cnpg_pg_stat_archiver_failed_count, the object store's credentials and the instance logs."),
				rule("CNPGWALVolumeFilling", fmt.Sprintf(`max by (persistentvolumeclaim) (kubelet_volume_stats_used_bytes{%s} / kubelet_volume_stats_capacity_bytes{%s}) > 0.8`, pvcs, pvcs), "10m", "warning",
					fmt.Sprintf("%s/%s: a volume holding WAL is over 80%% full", namespace, cluster),
					"{{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full: when it fills, PostgreSQL stops; unarchived WAL is the usual cause."),
			},
		}}},
	}
	// Expressions and descriptions as literal blocks: PromQL and templates unquoted, unfolded.
	var n yaml3.Node
	if err := n.Encode(obj); err != nil {
		return nil, err
	}
	literal(&n, "expr", "description")
	var buf bytes.Buffer
	enc := yaml3.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	head := fmt.Sprintf("# Written by cnpg-restore-gen doctor --fix: alerts on %s/%s's WAL archiving and WAL volume.\n", namespace, cluster)
	return append([]byte(head), bytes.TrimLeft(b, "\n")...), nil
}

// literal writes the string values of the keys as literal block scalars, everywhere under n.
func literal(n *yaml3.Node, keys ...string) {
	if n.Kind == yaml3.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			for _, k := range keys {
				if v := n.Content[i+1]; n.Content[i].Value == k && v.Kind == yaml3.ScalarNode {
					v.Style = yaml3.LiteralStyle
				}
			}
		}
	}
	for _, c := range n.Content {
		literal(c, keys...)
	}
}

// Proposal is the pull request that proposes the fixes: its title, and a body that says what
// each fix does and why, what could not be fixed mechanically, and what doctor still finds.
func (x *Fixes) Proposal(rep *Report) (title, body string) {
	title = fmt.Sprintf("doctor: %d backup configuration fix(es)", len(x.Fixed))
	var b strings.Builder
	b.WriteString("`cnpg-restore-gen doctor --fix` found backup misconfigurations that a restore would meet, and fixes the ones that are mechanical and safe. Nothing here changes where a live cluster archives.\n\n")
	b.WriteString("### Fixed\n\n")
	why := map[string]string{}
	for _, f := range rep.Findings {
		why[fmt.Sprintf("%s %s (%s:%d)", f.Rule, f.Object, f.File, f.Line)] = f.Message + ". " + capitalize(f.Why) + "."
	}
	for _, l := range x.Fixed {
		fmt.Fprintf(&b, "- **%s** — %s\n", mdEscape(l), mdEscape(why[l]))
	}
	b.WriteString("\n| File | Change |\n|---|---|\n")
	for _, f := range x.Files {
		fmt.Fprintf(&b, "| `%s` | %s |\n", f.Path, mdEscape(f.Summary))
	}
	if len(x.Notes) > 0 {
		b.WriteString("\n### Before you merge\n\n")
		for _, n := range x.Notes {
			fmt.Fprintf(&b, "- %s\n", mdEscape(n))
		}
	}
	if len(x.Left) > 0 {
		b.WriteString("\n### Not fixed (by hand)\n\n")
		for _, l := range x.Left {
			fmt.Fprintf(&b, "- %s\n", mdEscape(l))
		}
	}
	var rest []Finding
	for _, f := range x.Remaining {
		if !f.Fixable {
			rest = append(rest, f)
		}
	}
	if len(rest) > 0 {
		b.WriteString("\n### Still found (not mechanical)\n\n")
		for _, f := range rest {
			fmt.Fprintf(&b, "- %s `%s` %s (`%s:%d`): %s. Fix: %s.\n", f.Severity, f.Rule, mdEscape(f.Object), f.File, f.Line, mdEscape(f.Message), mdEscape(f.Fix))
		}
	}
	return title, b.String()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// mdEscape keeps text from the repository from becoming Markdown structure (a table cell's
// pipe, an HTML tag, a mention).
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "@", "@\u200b", "\n", " ")
	return r.Replace(s)
}
