// Package doctor examines a GitOps repository's CloudNativePG clusters for the backup
// misconfigurations that lose data: each finding names the object and its file:line, says what
// failure it leads to and how to fix it. It reads the repository as the controllers deploy it
// (overlays) and does no I/O of its own.
package doctor

import (
	"cmp"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// Severities, lowest first.
const (
	Info    = "info"
	Warning = "warning"
	Error   = "error"
)

// Rank orders severities: info 0, warning 1, error 2 (-1 for anything else).
func Rank(severity string) int {
	switch severity {
	case Info:
		return 0
	case Warning:
		return 1
	case Error:
		return 2
	}
	return -1
}

// Rule is one kind of finding.
type Rule struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	// Why is the failure it leads to, in one sentence.
	Why string `json:"why"`
	Fix string `json:"fix"`
}

// Rules are every rule doctor checks, by ID.
var Rules = []Rule{
	{"archive-names-an-instance", Error, "the archive path names a pod, not the cluster",
		"the instance's name changes on failover and rebuild, so WAL and backups land under a path the next restore does not read, as in the runbook's incident",
		"never move a live cluster's archive in place: archive to a new serverName named after the cluster (the plugin's serverName parameter), take a base backup there at once (a ScheduledBackup with immediate: true), check it with cnpg-restore-gen catalog check, and keep the old path until its backups are no longer needed"},
	{"archive-unreadable", Error, "the cluster's archive configuration cannot be read",
		"a cluster without a readable archive configuration archives nowhere, and nothing can be restored",
		"point the barman-cloud plugin entry at an ObjectStore (parameters.barmanObjectName), or set spec.backup.barmanObjectStore"},
	{"no-scheduled-backup", Error, "no ScheduledBackup backs up the cluster",
		"without base backups a restore must replay every WAL segment since the first backup, and retention deletes that one",
		"add a ScheduledBackup for the cluster (method: plugin for a plugin cluster), daily or more often"},
	{"scheduled-backup-five-field-schedule", Warning, "the ScheduledBackup's schedule has five fields",
		"CloudNativePG's schedule has six fields, seconds first: a five-field cron line is read shifted by one, so \"0 2 * * *\" backs up at minute 2 of every hour instead of 02:00 daily, and Backup objects pile up",
		"put the seconds first: \"0 0 2 * * *\" is 02:00 every day (doctor --fix does)"},
	{"scheduled-backup-suspended", Warning, "the ScheduledBackup is suspended",
		"a suspended schedule takes no base backups, so the newest one ages until retention removes it",
		"remove spec.suspend, or set it to false"},
	{"scheduled-backup-other-cluster", Warning, "the ScheduledBackup names a cluster the repository does not deploy",
		"its backups fail, or back up another database than the one meant",
		"set spec.cluster.name to the cluster it is meant for"},
	{"scheduled-backup-no-object-store", Error, "the plugin ScheduledBackup has no ObjectStore to write to",
		"the plugin method needs an ObjectStore (barmanObjectName, on the backup or the cluster's plugin entry): without one every scheduled backup fails, as in the runbook's incident",
		"add pluginConfiguration.parameters.barmanObjectName naming the cluster's ObjectStore (doctor --fix does, when the namespace has one ObjectStore)"},
	{"scheduled-backup-wrong-method", Error, "the ScheduledBackup uses the in-tree method on a plugin cluster",
		"method barmanObjectStore (the default) needs spec.backup.barmanObjectStore, which a cluster archiving through the plugin lacks: every scheduled backup fails and no base backup is taken",
		"set method: plugin and pluginConfiguration.name: barman-cloud.cloudnative-pg.io (doctor --fix does, with the cluster's barmanObjectName)"},
	{"scheduled-backup-missing-object-store", Error, "the ScheduledBackup names an ObjectStore that does not exist",
		"every scheduled backup fails: the plugin cannot find where to write",
		"name an ObjectStore of the namespace in barmanObjectName"},
	{"shared-archive", Error, "two clusters archive to the same destination and server name",
		"the second writes its WAL over the first's, and a restore mixes two databases (the catalog holds two systems)",
		"give each cluster its own serverName"},
	{"skip-empty-wal-archive-check", Warning, "CloudNativePG's empty-archive check is turned off",
		"cnpg.io/skipEmptyWalArchiveCheck lets a new or rebuilt cluster archive into a path that already holds another database's WAL",
		"remove the annotation; give a rebuilt cluster a new serverName instead"},
	{"recovery-on-live-cluster", Warning, "a live cluster keeps bootstrap.recovery from its own archive",
		"if the Cluster is ever recreated, it restores from and then archives into the path it is restored from: CloudNativePG refuses a non-empty archive, or, with the check off, mixes timelines",
		"remove spec.bootstrap.recovery (and the externalClusters entry) once the restore is done, or archive to a new serverName"},
	{"no-retention-policy", Warning, "the backups have no retention policy",
		"nothing deletes old backups and WAL: the bucket grows until it is full, and then archiving fails and WAL piles up on the volume",
		"set a retentionPolicy (e.g. \"30d\") on the ObjectStore (spec.retentionPolicy) or on spec.backup"},
	{"no-archive-alert", Warning, "no alert watches WAL archiving",
		"failed archiving is silent until the WAL volume is full (246 .ready files in the runbook's incident)",
		"add a PrometheusRule on CloudNativePG's metrics (cnpg_collector_pg_wal_archive_status, cnpg_pg_stat_archiver_seconds_since_last_archival) and the WAL volume's usage (doctor --fix writes one)"},
	{"in-tree-object-store", Info, "the cluster uses the in-tree barmanObjectStore",
		"it is deprecated since CloudNativePG 1.26 and will be removed: archiving stops when it is",
		"move to the barman-cloud plugin: an ObjectStore with the same configuration, the plugin entry with barmanObjectName and the same serverName, then remove spec.backup.barmanObjectStore"},
}

// RuleByID returns the rule with that ID.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Finding is one problem, on one object.
type Finding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	// Object is "Kind namespace/name".
	Object  string `json:"object"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
	Why     string `json:"why"`
	Fix     string `json:"fix"`
	// Fixable says that Fix writes this finding's fix.
	Fixable bool `json:"fixable,omitempty"`

	obj overlays.Object // what the finding is on, for Fix
}

// Report is what doctor found.
type Report struct {
	// Clusters are the clusters examined, namespace/name.
	Clusters []string  `json:"clusters"`
	Findings []Finding `json:"findings"`
}

// Worst is the highest severity among the findings ("" when there is none).
func (r *Report) Worst() string {
	worst := ""
	for _, f := range r.Findings {
		if Rank(f.Severity) > Rank(worst) {
			worst = f.Severity
		}
	}
	return worst
}

// Options say what to examine.
type Options struct {
	// Namespace and Name limit the examination to one cluster (both empty: every cluster).
	Namespace, Name string
	// Catalog loads the catalog a cluster's manifests name; nil examines the repository only.
	Catalog func(src *overlays.Source) (*catalog.Catalog, error)
	// Now is the time ages are measured at (zero: the clock); BackupMaxAge and WALMaxAge are
	// the ages past which the newest backup and WAL are stale (zero: from the cluster's
	// ScheduledBackups for the backup, else the defaults).
	Now                     time.Time
	BackupMaxAge, WALMaxAge time.Duration
}

// Examine checks every deployed CloudNativePG cluster of the repository (or the one named).
func Examine(repo *overlays.Repo, opts Options) (*Report, error) {
	rep := &Report{Clusters: []string{}, Findings: []Finding{}}
	var clusters []overlays.Object
	for _, o := range repo.Deployed() {
		if o.Is(overlays.GroupCNPG, "Cluster") && (opts.Name == "" || o.Namespace == opts.Namespace && o.Name == opts.Name) {
			clusters = append(clusters, o)
		}
	}
	if len(clusters) == 0 {
		if opts.Name != "" {
			return nil, fmt.Errorf("no CloudNativePG Cluster %s/%s is deployed from the repository", opts.Namespace, opts.Name)
		}
		return rep, nil
	}
	e := &examiner{repo: repo, rep: rep, archives: map[string][]overlays.Object{}, schedules: map[string][]overlays.Object{}}
	for _, c := range clusters {
		rep.Clusters = append(rep.Clusters, c.Namespace+"/"+c.Name)
		e.cluster(c, opts)
	}
	e.shared()
	e.alerts(clusters, opts.Name == "")
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		a, b := rep.Findings[i], rep.Findings[j]
		if Rank(a.Severity) != Rank(b.Severity) {
			return Rank(a.Severity) > Rank(b.Severity)
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return rep, nil
}

type examiner struct {
	repo *overlays.Repo
	rep  *Report
	// archives are the clusters by destinationPath + serverName.
	archives map[string][]overlays.Object
	// schedules are each cluster's ScheduledBackups that run (not suspended), by namespace/name.
	schedules map[string][]overlays.Object
}

// at is the line of the key at path in o's document (the deepest that exists), else the
// document's first line.
func at(o overlays.Object, path ...string) int {
	if o.Doc == nil {
		return o.Line
	}
	n := o.Doc.Root()
	line := o.Line
	for i := range path {
		k, _ := yamledit.Lookup(n, path[:i+1]...)
		if k == nil {
			break
		}
		line = k.Line
	}
	return line
}

func (e *examiner) add(rule string, o overlays.Object, line int, format string, a ...any) {
	r, ok := RuleByID(rule)
	if !ok {
		panic("doctor: no rule " + rule)
	}
	if line == 0 {
		line = o.Line
	}
	e.rep.Findings = append(e.rep.Findings, Finding{Rule: r.ID, Severity: r.Severity, Object: fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name),
		File: o.File, Line: line, Message: fmt.Sprintf(format, a...), Why: r.Why, Fix: r.Fix, Fixable: fixable[r.ID], obj: o})
}

// instanceName is a CloudNativePG instance (pod) name: the cluster's name and a number.
func instanceName(cluster, name string) bool {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(cluster) + `-[0-9]+$`).MatchString(name)
}

func (e *examiner) cluster(c overlays.Object, opts Options) {
	ann, _ := overlays.ValueAt(c.Body, "metadata", "annotations").(map[string]any)
	if v, ok := ann["cnpg.io/skipEmptyWalArchiveCheck"]; ok && fmt.Sprint(v) != "disabled" {
		e.add("skip-empty-wal-archive-check", c, at(c, "metadata", "annotations", "cnpg.io/skipEmptyWalArchiveCheck"), "%s sets cnpg.io/skipEmptyWalArchiveCheck: %v", c.Name, v)
	}
	src, err := e.repo.FindSource(c.Namespace, c.Name)
	if err != nil {
		e.add("archive-unreadable", c, 0, "%v", err)
		return
	}
	if !src.Plugin {
		e.add("in-tree-object-store", c, at(c, "spec", "backup", "barmanObjectStore"), "%s archives through spec.backup.barmanObjectStore to %s", c.Name, src.Catalog)
	}
	// The archive path: destinationPath/serverName; a pod's name in either is the incident.
	last := src.Catalog[strings.LastIndex(strings.TrimSuffix(src.Catalog, "/"), "/")+1:]
	switch {
	case instanceName(c.Name, src.ServerName):
		e.add("archive-names-an-instance", c, at(c, "spec", "backup", "barmanObjectStore", "serverName"), "%s archives with serverName %s, the name of one of its pods: set it to %s", c.Name, src.ServerName, c.Name)
	case instanceName(c.Name, strings.TrimSuffix(last, "/")):
		where := c
		if src.ObjectStore != nil {
			where = *src.ObjectStore
		}
		e.add("archive-names-an-instance", where, at(where, "spec", "configuration", "destinationPath"), "destinationPath %s ends in %s, the name of one of %s's pods: end it with the cluster's name (or a path of its own), not an instance's", src.Catalog, last, c.Name)
	}
	if src.Catalog != "" && src.ServerName != "" {
		key := strings.TrimSuffix(src.Catalog, "/") + "/" + src.ServerName
		e.archives[key] = append(e.archives[key], c)
	}
	e.recovery(c, src)
	e.retention(c, src)
	e.scheduledBackups(c, src)
	e.catalogOf(c, src, opts)
}

// recovery: bootstrap.recovery whose source is the cluster's own archive.
func (e *examiner) recovery(c overlays.Object, src *overlays.Source) {
	source, _ := overlays.ValueAt(c.Body, "spec", "bootstrap", "recovery", "source").(string)
	if source == "" {
		return
	}
	exts, _ := overlays.ValueAt(c.Body, "spec", "externalClusters").([]any)
	for _, x := range exts {
		ext, _ := x.(map[string]any)
		if ext["name"] != source {
			continue
		}
		server, store, dest := "", "", ""
		if p, ok := ext["plugin"].(map[string]any); ok {
			params, _ := p["parameters"].(map[string]any)
			server, _ = params["serverName"].(string)
			store, _ = params["barmanObjectName"].(string)
		}
		if b, ok := ext["barmanObjectStore"].(map[string]any); ok {
			server, _ = b["serverName"].(string)
			dest, _ = b["destinationPath"].(string)
		}
		if server == "" {
			server = c.Name // the plugin's default is the cluster's own name
		}
		same := server == src.ServerName && (store != "" && src.ObjectStore != nil && store == src.ObjectStore.Name ||
			dest != "" && strings.TrimSuffix(dest, "/") == strings.TrimSuffix(src.Catalog, "/"))
		if same {
			e.add("recovery-on-live-cluster", c, at(c, "spec", "bootstrap", "recovery"), "%s bootstraps from %s, which reads its own archive (%s/%s)", c.Name, source, src.Catalog, server)
		}
	}
}

func (e *examiner) retention(c overlays.Object, src *overlays.Source) {
	if src.ObjectStore != nil {
		if _, ok := overlays.ValueAt(src.ObjectStore.Body, "spec", "retentionPolicy").(string); !ok {
			e.add("no-retention-policy", *src.ObjectStore, at(*src.ObjectStore, "spec"), "ObjectStore %s (used by %s) has no spec.retentionPolicy", src.ObjectStore.Name, c.Name)
		}
		return
	}
	if _, ok := overlays.ValueAt(c.Body, "spec", "backup", "retentionPolicy").(string); !ok {
		e.add("no-retention-policy", c, at(c, "spec", "backup"), "%s has no spec.backup.retentionPolicy", c.Name)
	}
}

func (e *examiner) scheduledBackups(c overlays.Object, src *overlays.Source) {
	var mine []overlays.Object
	for _, o := range e.repo.Deployed() {
		if o.Is(overlays.GroupCNPG, "ScheduledBackup") && o.Namespace == c.Namespace && overlays.StringAt(o.Body, "spec", "cluster", "name") == c.Name {
			mine = append(mine, o)
		}
	}
	if len(mine) == 0 {
		e.add("no-scheduled-backup", c, 0, "no ScheduledBackup names %s (spec.cluster.name)", c.Name)
		return
	}
	clusterStore := ""
	if src.ObjectStore != nil {
		clusterStore = src.ObjectStore.Name
	}
	for _, sb := range mine {
		if fmt.Sprint(overlays.ValueAt(sb.Body, "spec", "suspend")) != "true" {
			e.schedules[c.Namespace+"/"+c.Name] = append(e.schedules[c.Namespace+"/"+c.Name], sb)
		}
		method, _ := overlays.ValueAt(sb.Body, "spec", "method").(string)
		if method != "plugin" {
			// barmanObjectStore (the default) needs the in-tree store on the cluster.
			if (method == "" || method == "barmanObjectStore") && src.Plugin && overlays.ValueAt(c.Body, "spec", "backup", "barmanObjectStore") == nil {
				e.add("scheduled-backup-wrong-method", sb, at(sb, "spec", "method"), "ScheduledBackup %s uses the method barmanObjectStore (%s), but %s archives through the barman-cloud plugin and has no spec.backup.barmanObjectStore",
					sb.Name, cmp.Or(method, "the default"), c.Name)
			}
			continue
		}
		store, _ := overlays.ValueAt(sb.Body, "spec", "pluginConfiguration", "parameters", "barmanObjectName").(string)
		switch {
		case store == "" && clusterStore == "":
			e.add("scheduled-backup-no-object-store", sb, at(sb, "spec", "pluginConfiguration"), "ScheduledBackup %s uses the plugin method, and neither it nor %s's plugin entry names an ObjectStore (barmanObjectName)", sb.Name, c.Name)
		case store != "" && len(e.repo.Find(overlays.GroupBarmanCloud, "ObjectStore", sb.Namespace, store)) == 0:
			e.add("scheduled-backup-missing-object-store", sb, at(sb, "spec", "pluginConfiguration", "parameters", "barmanObjectName"), "ScheduledBackup %s writes to ObjectStore %s/%s, which the repository does not deploy", sb.Name, sb.Namespace, store)
		}
	}
}

// orphanBackups: ScheduledBackups suspended or naming no examined cluster.
func (e *examiner) orphanBackups(clusters map[string]bool, all bool) {
	for _, o := range e.repo.Deployed() {
		if !o.Is(overlays.GroupCNPG, "ScheduledBackup") {
			continue
		}
		name := overlays.StringAt(o.Body, "spec", "cluster", "name")
		if !all && !clusters[o.Namespace+"/"+name] {
			continue // examining one cluster: this backup is another's
		}
		if sched, _ := overlays.ValueAt(o.Body, "spec", "schedule").(string); len(strings.Fields(sched)) == 5 && !strings.HasPrefix(sched, "@") {
			f := strings.Fields(sched)
			e.add("scheduled-backup-five-field-schedule", o, at(o, "spec", "schedule"), "ScheduledBackup %s has schedule %q: CloudNativePG reads it as second %s, minute %s, hour %s, day %s, month %s; for what the crontab line means, write %q",
				o.Name, sched, f[0], f[1], f[2], f[3], f[4], "0 "+sched)
		}
		if fmt.Sprint(overlays.ValueAt(o.Body, "spec", "suspend")) == "true" {
			e.add("scheduled-backup-suspended", o, at(o, "spec", "suspend"), "ScheduledBackup %s of %s is suspended", o.Name, name)
		}
		if !clusters[o.Namespace+"/"+name] {
			e.add("scheduled-backup-other-cluster", o, at(o, "spec", "cluster", "name"), "ScheduledBackup %s names cluster %s/%s, which the repository does not deploy", o.Name, o.Namespace, name)
		}
	}
}

func (e *examiner) shared() {
	keys := make([]string, 0, len(e.archives))
	for k := range e.archives {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cs := e.archives[k]
		if len(cs) < 2 {
			continue
		}
		var names []string
		for _, c := range cs {
			names = append(names, fmt.Sprintf("%s/%s (%s:%d)", c.Namespace, c.Name, c.File, c.Line))
		}
		for _, c := range cs[1:] {
			e.add("shared-archive", c, 0, "%s archives to %s, as %s", c.Name, k, strings.Join(names, " and "))
		}
	}
}

// archiveMetrics are CloudNativePG metrics an archiving alert watches.
var archiveMetrics = []string{"cnpg_pg_stat_archiver_failed_count", "cnpg_pg_stat_archiver_seconds_since_last_archival", "cnpg_pg_stat_archiver_last_failed_time", "cnpg_collector_pg_wal_archive_status"}

// alerts: a PrometheusRule on the archiver's metrics, anywhere in the repository.
func (e *examiner) alerts(clusters []overlays.Object, all bool) {
	names := map[string]bool{}
	for _, c := range clusters {
		names[c.Namespace+"/"+c.Name] = true
	}
	e.orphanBackups(names, all)
	for _, o := range e.repo.Deployed() {
		if !o.Is("monitoring.coreos.com", "PrometheusRule") {
			continue
		}
		text := fmt.Sprint(o.Body["spec"])
		for _, m := range archiveMetrics {
			if strings.Contains(text, m) {
				return
			}
		}
	}
	for _, c := range clusters {
		e.add("no-archive-alert", c, 0, "no PrometheusRule deployed from the repository watches %s's WAL archiving (%s)", c.Name, strings.Join(archiveMetrics[:2], ", "))
	}
}
