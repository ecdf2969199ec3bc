package generator

import (
	"cmp"
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/human"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
)

// verifyScript runs the checks; it is the same for every restore; the checks are data.
//
//go:embed verify.sh
var verifyScript string

// Assertion is a user's check of the restored data: a query whose one value, as text, must be
// Expect ("t" when empty: a boolean query). The query may use the psql variables :'backup_id',
// :'backup_end' and, for a time target, :'target_time'.
type Assertion struct {
	Name     string `json:"name"`
	Database string `json:"database,omitempty"`
	SQL      string `json:"sql"`
	Expect   string `json:"expect,omitempty"`
}

// Verify says how the restored cluster proves its data before the cutover.
type Verify struct {
	// Off writes no verification Job (--no-verify).
	Off        bool
	Assertions []Assertion
}

// Verification is what the change verifies and where to read the result.
type Verification struct {
	Job       string        `json:"job"` // namespace/name
	ConfigMap string        `json:"configMap"`
	Image     string        `json:"image"`
	Secret    string        `json:"secret"`
	Checks    []VerifyCheck `json:"checks"`
	// Logs is the command that prints the result, one line per check.
	Logs string `json:"logs"`
	// Gate says how the controller holds the cutover until the Job passed.
	Gate string `json:"gate"`
}

// VerifyCheck is one check of the verification Job: SQL returning one row (ok, detail).
type VerifyCheck struct {
	Name     string `json:"name"`
	What     string `json:"what"`
	Database string `json:"database,omitempty"`
	SQL      string `json:"sql"`
}

var assertionName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$`)

// ParseAssertion reads --verify-sql: "NAME: SQL", or SQL alone (named sql-N by the caller).
func ParseAssertion(s string, n int) (Assertion, error) {
	a := Assertion{Name: fmt.Sprintf("sql-%d", n), SQL: strings.TrimSpace(s)}
	// A first word ending in ':' is the name (SQL never starts that way).
	if name, rest, ok := strings.Cut(strings.TrimSpace(s), ":"); ok && name != "" && !strings.ContainsAny(name, " \t\n") {
		a.Name, a.SQL = name, strings.TrimSpace(rest)
	}
	return a, a.Check()
}

// Check says whether the assertion can be run.
func (a Assertion) Check() error {
	if !assertionName.MatchString(a.Name) {
		return fmt.Errorf("verification check name %q: use lowercase letters, digits and dashes", a.Name)
	}
	sql := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(a.SQL), ";"))
	if sql == "" {
		return fmt.Errorf("verification check %s has no SQL", a.Name)
	}
	if strings.Contains(sql, ";") {
		return fmt.Errorf("verification check %s: one query, no ';' inside (got %q)", a.Name, a.SQL)
	}
	if strings.ContainsAny(a.Database, "\t\n/") {
		return fmt.Errorf("verification check %s: database %q is not a database name", a.Name, a.Database)
	}
	return nil
}

// builtinChecks are the names of the checks every verification runs (last-commit only with
// commit timestamps and a time target).
var builtinChecks = []string{"recovery-finished", "lineage", "timeline", "size", "last-commit"}

// plainValue is what a catalog value must look like to enter the script.
var plainValue = regexp.MustCompile(`^[0-9A-Za-z:+.\- ]*$`)

// sqlString is a SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// verifyChecks are the checks of the restore, in the order the Job runs them.
func (g *gen) verifyChecks() ([]VerifyCheck, error) {
	p := g.in.Plan
	var out []VerifyCheck
	out = append(out, VerifyCheck{Name: "recovery-finished", What: "recovery finished and the cluster is promoted (not in recovery)",
		SQL: `SELECT NOT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery()
  THEN 'the server is still in recovery: CloudNativePG has not promoted it (kubectl cnpg status shows the recovery)'
  ELSE 'promoted: recovery finished' END`})
	if p.SystemID != "" {
		out = append(out, VerifyCheck{Name: "lineage", What: fmt.Sprintf("the database system is %s, the lineage the plan restores", p.SystemID),
			SQL: fmt.Sprintf(`SELECT system_identifier::text = %[1]s, CASE WHEN system_identifier::text = %[1]s
  THEN 'database system ' || system_identifier || ', as planned'
  ELSE 'database system ' || system_identifier || ', not %[2]s: this is another cluster''s data (a rebuilt cluster or another lineage)' END
FROM pg_control_system()`, sqlString(p.SystemID), p.SystemID)})
	}
	if tl := p.PromotedTimeline; tl > 0 {
		from := p.TimelinePath[len(p.TimelinePath)-1]
		out = append(out, VerifyCheck{Name: "timeline", What: fmt.Sprintf("promoted from timeline %d onto timeline %d (or a later one, if the source promoted again meanwhile)", from, tl),
			SQL: fmt.Sprintf(`SELECT CASE WHEN pg_is_in_recovery() THEN false ELSE tli >= %[1]d END,
  CASE WHEN pg_is_in_recovery() THEN 'still in recovery: no timeline yet'
       WHEN tli >= %[1]d THEN 'on timeline ' || tli || ', promoted from timeline %[2]d'
       ELSE 'on timeline ' || tli || ', expected %[1]d (promoted from timeline %[2]d): this cluster was not recovered from the plan''s backup' END
FROM (SELECT CASE WHEN pg_is_in_recovery() THEN 0
  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS tli) AS t`, tl, from)})
	}
	if b := p.Backup; b != nil && b.Size > 0 {
		figure, basis := b.Size, "the size of the backup's uncompressed data files in the catalog (this barman records no cluster_size)"
		if b.Compression != "" {
			basis = fmt.Sprintf("the backup's size in the catalog, %s-compressed: this barman records no cluster_size, and compressed data is smaller than the database, so it is a floor only", b.Compression)
		}
		if b.ClusterSize > 0 {
			figure, basis = b.ClusterSize, "cluster_size, the size barman measured when the backup started"
		}
		floor := figure / 2
		out = append(out, VerifyCheck{Name: "size", What: fmt.Sprintf("the databases hold at least %s: half of %s, %s. Replaying what happened after the backup can grow the data or shrink it; a wrong or empty database is far smaller",
			human.Bytes(floor), human.Bytes(figure), basis),
			SQL: fmt.Sprintf(`SELECT sum(pg_database_size(oid)) >= %[1]d,
  pg_size_pretty(sum(pg_database_size(oid))) || ' in ' || count(*) || ' databases, '
  || CASE WHEN sum(pg_database_size(oid)) >= %[1]d THEN 'at least' ELSE 'below' END
  || ' %[2]s (half of the backup''s %[3]s)'
FROM pg_database WHERE has_database_privilege(oid, 'CONNECT')`, floor, human.Bytes(floor), human.Bytes(figure))})
	}
	if c := g.lastCommitCheck(); c != nil {
		out = append(out, *c)
	}
	for _, a := range g.in.Verify.Assertions {
		if err := a.Check(); err != nil {
			return nil, err
		}
		for _, c := range out {
			if c.Name == a.Name {
				return nil, fmt.Errorf("verification check %s is named twice (the built-in checks are %s)", a.Name, strings.Join(builtinChecks, ", "))
			}
		}
		expect := a.Expect
		if expect == "" {
			expect = "t"
		}
		sql := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(a.SQL), ";"))
		// A boolean reads "true" as text; t and true are one answer, as f and false.
		accept := sqlString(expect)
		switch expect {
		case "t", "true":
			accept = "'t', 'true'"
		case "f", "false":
			accept = "'f', 'false'"
		}
		out = append(out, VerifyCheck{Name: a.Name, Database: a.Database, What: fmt.Sprintf("`%s` returns %s", sql, expect),
			SQL: fmt.Sprintf(`SELECT coalesce(got::text, 'NULL') IN (%[1]s), 'got ' || coalesce(got::text, 'NULL') || ', expected ' || %[2]s
FROM (
%[3]s
) AS q(got)`, accept, sqlString(expect), sql)})
	}
	return out, nil
}

// lastCommitCheck compares the newest replayed commits with a time target: none may have
// committed after the target and before the end of the archive (the transactions the restored
// cluster runs itself come later). It needs commit timestamps (track_commit_timestamp).
func (g *gen) lastCommitCheck() *VerifyCheck {
	p := g.in.Plan
	if p.Target.TargetTime == "" || p.Backup == nil || p.Backup.RecoverableTo == nil || p.Backup.RecoverableTo.Time == "" {
		return nil
	}
	switch strings.ToLower(overlays.StringAt(g.src.Cluster.Body, "spec", "postgresql", "parameters", "track_commit_timestamp")) {
	case "on", "true", "1", "yes":
	default:
		return nil
	}
	op := ">"
	if p.Target.Exclusive != nil && *p.Target.Exclusive {
		op = ">="
	}
	return &VerifyCheck{Name: "last-commit", What: fmt.Sprintf("no transaction committed after the target %s is in the data (up to the end of the archive, %s)", p.Target.TargetTime, p.Backup.RecoverableTo.Time),
		SQL: fmt.Sprintf(`WITH x AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax),
c AS (
  SELECT n, pg_xact_commit_timestamp((n %% 4294967296)::text::xid) AS at
  FROM x, generate_series(greatest(x.xmax - 100000, 3), x.xmax - 1) AS n
  WHERE n %% 4294967296 >= 3
),
after AS (SELECT * FROM c WHERE at %[1]s %[2]s::timestamptz AND at <= %[3]s::timestamptz),
last AS (SELECT * FROM c WHERE at IS NOT NULL AND NOT (at %[1]s %[2]s::timestamptz) ORDER BY at DESC LIMIT 1)
SELECT NOT EXISTS (SELECT 1 FROM after),
  CASE WHEN EXISTS (SELECT 1 FROM after)
    THEN (SELECT count(*) FROM after) || ' transaction(s) committed after the target are in the data, the first xid '
      || (SELECT n FROM after ORDER BY at LIMIT 1) || ' at ' || (SELECT at FROM after ORDER BY at LIMIT 1) || ': recovery went past the target'
    ELSE 'the last transaction before the target is '
      || coalesce((SELECT 'xid ' || n || ' at ' || at FROM last), 'not among the newest 100000') || '; none after it' END`,
			op, sqlString(p.Target.TargetTime), sqlString(p.Backup.RecoverableTo.Time))}
}

// sqlFile is a check's file: the psql variables user assertions may use, then the query.
func (g *gen) sqlFile(c VerifyCheck) string {
	p := g.in.Plan
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s: %s\n", c.Name, c.What)
	fmt.Fprintf(&b, "\\set backup_id %s\n", sqlString(p.Target.BackupID))
	if p.Backup != nil && p.Backup.EndTime != "" {
		fmt.Fprintf(&b, "\\set backup_end %s\n", sqlString(p.Backup.EndTime))
	}
	if p.Target.TargetTime != "" {
		fmt.Fprintf(&b, "\\set target_time %s\n", sqlString(p.Target.TargetTime))
	}
	b.WriteString(c.SQL + ";\n")
	return b.String()
}

// verifyImage is the PostgreSQL image of the restored cluster (it has psql), and why.
func (g *gen) verifyImage() (string, string) {
	spec, _ := g.src.Cluster.Body["spec"].(map[string]any)
	if img, ok := spec["imageName"].(string); ok && img != "" {
		if g.tmpl != nil {
			if v, err := g.tmpl.Substitute(img); err == nil {
				img = v
			}
		}
		return img, "the cluster's own imageName"
	}
	major := 0
	if b := g.in.Plan.Backup; b != nil && b.PostgresVersion > 0 {
		major = b.PostgresVersion / 10000
	}
	if major == 0 {
		major = 17
	}
	img := fmt.Sprintf("ghcr.io/cloudnative-pg/postgresql:%d", major)
	if _, ok := spec["imageCatalogRef"]; ok {
		return img, fmt.Sprintf("the cluster takes its image from an image catalog: the Job uses CloudNativePG's PostgreSQL %d image (the backup's major version) for psql", major)
	}
	return img, fmt.Sprintf("CloudNativePG's default image for PostgreSQL %d, the backup's major version", major)
}

// verifyCredentials are the secret and database the Job connects with: the application's
// owner, the least privilege that runs the checks (the built-in ones need no superuser).
func (g *gen) verifyCredentials() (secret, database string) {
	secret, database = g.name+"-app", "app"
	spec, _ := g.src.Cluster.Body["spec"].(map[string]any)
	boot, _ := spec["bootstrap"].(map[string]any)
	for _, method := range []string{"initdb", "recovery", "pg_basebackup"} {
		m, _ := boot[method].(map[string]any)
		if d, ok := m["database"].(string); ok && d != "" {
			database = d
		}
		if s, ok := m["secret"].(map[string]any); ok {
			if n, ok := s["name"].(string); ok && n != "" {
				secret = n
			}
		}
	}
	return secret, database
}

// verification writes the ConfigMap and the Job into the overlay's files.
func (g *gen) verification(files map[string][]byte, resources *[]string, argo bool, timeout int) error {
	if g.in.Verify.Off {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("VERIFICATION OFF (--no-verify): nothing checks the restored data before the application moves to %s; check it by hand (size, row counts, newest rows) before merging the cutover", g.name))
		return nil
	}
	// Values from the catalog go into SQL and psql's \set lines: only the characters IDs,
	// numbers and times are made of (a hostile bucket's backup.info is caught here too).
	p := g.in.Plan
	values := []string{p.Target.BackupID, p.Target.TargetTime, p.SystemID}
	if b := p.Backup; b != nil {
		values = append(values, b.EndTime)
		if b.RecoverableTo != nil {
			values = append(values, b.RecoverableTo.Time)
		}
	}
	for _, v := range values {
		if !plainValue.MatchString(v) {
			return fmt.Errorf("the plan holds %q, which the verification script will not quote: pass --no-verify, or check the catalog", v)
		}
	}
	checks, err := g.verifyChecks()
	if err != nil {
		return err
	}
	job := g.name + "-verify"
	image, why := g.verifyImage()
	secret, database := g.verifyCredentials()
	data := mapping("verify.sh", literal(verifyScript))
	// One line per check: name, database ("-": the Job's PGDATABASE), file. Every field is
	// set: the script splits on tabs, which the shell's read folds when two are adjacent.
	var tsv strings.Builder
	for i, c := range checks {
		file := fmt.Sprintf("%02d-%s.sql", i+1, c.Name)
		fmt.Fprintf(&tsv, "%s\t%s\t%s\n", c.Name, cmp.Or(c.Database, "-"), file)
		set(data, file, literal(g.sqlFile(c)))
	}
	set(data, "checks.tsv", literal(tsv.String()))
	// The script is shell: Flux's variable substitution (postBuild) must not read its ${...}.
	cm := mapping("apiVersion", "v1", "kind", "ConfigMap",
		"metadata", mapping("name", job, "labels", verifyLabels(g.name),
			"annotations", mapping("kustomize.toolkit.fluxcd.io/substitute", "disabled")),
		"data", data)
	env := sequence(
		mapping("name", "PGHOST", "value", g.name+"-rw"),
		mapping("name", "PGPORT", "value", quoted("5432")),
		mapping("name", "PGDATABASE", "value", database),
		mapping("name", "PGUSER", "valueFrom", mapping("secretKeyRef", mapping("name", secret, "key", "username"))),
		mapping("name", "PGPASSWORD", "valueFrom", mapping("secretKeyRef", mapping("name", secret, "key", "password"))),
		mapping("name", "PGSSLMODE", "value", "require"),
		mapping("name", "PGCONNECT_TIMEOUT", "value", quoted("10")),
		mapping("name", "PGOPTIONS", "value", "-c default_transaction_read_only=on -c statement_timeout=60000"),
		mapping("name", "VERIFY_WAIT_SECONDS", "value", quoted(strconv.Itoa(timeout-120))),
		mapping("name", "HOME", "value", "/tmp"),
	)
	container := mapping("name", "verify", "image", image,
		"command", sequence(scalars([]string{"/bin/sh", "/verify/verify.sh"})...),
		"env", env,
		"resources", mapping("requests", mapping("cpu", "10m", "memory", "32Mi"), "limits", mapping("cpu", "200m", "memory", "128Mi")),
		"securityContext", mapping("allowPrivilegeEscalation", false, "readOnlyRootFilesystem", true, "runAsNonRoot", true,
			"capabilities", mapping("drop", sequence(scalar("ALL")))),
		"volumeMounts", sequence(mapping("name", "checks", "mountPath", "/verify", "readOnly", true), mapping("name", "tmp", "mountPath", "/tmp")),
	)
	pod := mapping(
		"restartPolicy", "Never",
		"automountServiceAccountToken", false,
		"securityContext", mapping("runAsNonRoot", true, "runAsUser", 26, "runAsGroup", 26, "seccompProfile", mapping("type", "RuntimeDefault")),
		"containers", sequence(container),
		"volumes", sequence(
			mapping("name", "checks", "configMap", mapping("name", job)),
			mapping("name", "tmp", "emptyDir", mapping("sizeLimit", "16Mi"))),
	)
	jobMeta := mapping("name", job, "labels", verifyLabels(g.name))
	if argo {
		ann := child(jobMeta, "annotations")
		set(ann, "argocd.argoproj.io/hook", scalar("Sync"))
		set(ann, "argocd.argoproj.io/hook-delete-policy", scalar("BeforeHookCreation"))
		set(ann, "argocd.argoproj.io/sync-wave", quoted("-1"))
		set(get(cm, "metadata", "annotations"), "argocd.argoproj.io/sync-wave", quoted("-2"))
	}
	jobObj := mapping("apiVersion", "batch/v1", "kind", "Job", "metadata", jobMeta,
		"spec", mapping("backoffLimit", 3, "activeDeadlineSeconds", timeout, "ttlSecondsAfterFinished", 7*24*3600,
			"template", mapping("metadata", mapping("labels", verifyLabels(g.name)), "spec", pod)))
	jobObj.HeadComment = fmt.Sprintf("# Verifies the restored cluster %s/%s before the cutover: read-only, as the application's owner\n# (secret %s). Its log has one line per check: kubectl -n %s logs job/%s", g.ns, g.name, secret, g.ns, job)
	b, err := encode(cm, jobObj)
	if err != nil {
		return err
	}
	files["verify.yaml"] = b
	*resources = append(*resources, "verify.yaml")
	g.res.Verification = &Verification{Job: g.ns + "/" + job, ConfigMap: g.ns + "/" + job, Image: image, Secret: secret, Checks: checks,
		Logs: fmt.Sprintf("kubectl -n %s logs job/%s", g.ns, job)}
	g.res.Notes = append(g.res.Notes, fmt.Sprintf("the verification Job %s/%s runs %s (%s)", g.ns, job, image, why))
	g.res.Notes = append(g.res.Notes, g.networkPolicyNotes()...)
	return nil
}

func verifyLabels(cluster string) *yaml.Node {
	return mapping("app.kubernetes.io/name", "cnpg-restore-verify", "app.kubernetes.io/instance", cluster, "app.kubernetes.io/managed-by", "cnpg-restore-gen")
}

func verifyLabelMap(cluster string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "cnpg-restore-verify", "app.kubernetes.io/instance": cluster, "app.kubernetes.io/managed-by": "cnpg-restore-gen"}
}

// literal is a string written as a YAML literal block.
func literal(s string) *yaml.Node {
	n := scalar(s)
	n.Style = yaml.LiteralStyle
	return n
}

// gate says, once the ordering is decided, how the controller holds the cutover until the
// verification passed.
func (g *gen) gate() {
	v := g.res.Verification
	if v == nil {
		return
	}
	switch {
	case g.name == g.old:
		v.Gate = "an in-place restore keeps the name, so the applications reconnect as soon as the cluster accepts connections: the Job holds nothing back, it tells you whether the data is right; keep the applications scaled down until it passed if a wrong restore must not be written to"
	case g.res.TwoStep:
		v.Gate = "the cutover is a second change, so nothing moves before you have read the Job's result: merge the next change only once it passed"
	case g.fluxKS != "":
		v.Gate = fmt.Sprintf("Flux Kustomization %s applies it with the Cluster and waits for both (wait: true): it is Ready only once the Cluster is Ready and the Job completed, and the Kustomizations with the cutover depend on it, so a failed Job stops the cutover", g.fluxKS)
	case g.order.argo:
		v.Gate = "Argo CD runs it as a Sync hook in wave -1, after the restored Cluster (wave -2) is healthy and before the cutover (wave 0): a failed hook fails the sync operation, so wave 0 is never applied (a plain Job would leave the sync waiting instead of failing)"
	default:
		v.Gate = "nothing in this layout makes the cutover wait for it: read its result before the application moves"
	}
}

// priorVerification, for the cutover phase, finds the verification Job of the merged restore:
// the pull request says to merge only once it passed.
func (g *gen) priorVerification() {
	job := g.name + "-verify"
	if len(g.in.Repo.Find("batch", "Job", g.ns, job)) == 0 {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("the restore of %s has no verification Job in the repository (made with --no-verify, or by hand): check the restored data by hand before merging this cutover", g.name))
		return
	}
	v := &Verification{Job: g.ns + "/" + job, ConfigMap: g.ns + "/" + job, Logs: fmt.Sprintf("kubectl -n %s logs job/%s", g.ns, job),
		Gate: "this cutover is yours to hold: merge it once the Job passed"}
	for _, cm := range g.in.Repo.Find("", "ConfigMap", g.ns, job) {
		tsv := overlays.StringAt(cm.Body, "data", "checks.tsv")
		for _, line := range strings.Split(tsv, "\n") {
			if name, _, ok := strings.Cut(line, "\t"); ok && name != "" {
				v.Checks = append(v.Checks, VerifyCheck{Name: name})
			}
		}
	}
	g.res.Verification = v
}
