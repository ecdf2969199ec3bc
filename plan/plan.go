// Package plan decides what a restore will do: which backup, which recovery target exactly as
// it goes into the Cluster's recoveryTarget, which WAL must be replayed, and whether it is safe.
// It chooses as CloudNativePG and PostgreSQL will, and it never does I/O: it reasons over a
// loaded catalog and the names already taken in the GitOps repo.
package plan

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
)

// Strategies.
const (
	SideBySide = "side-by-side"
	InPlace    = "in-place"
)

// Source is the cluster being restored.
type Source struct {
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	ServerName string `json:"serverName"`
	Catalog    string `json:"catalog"`
}

// Restored is the cluster the restore creates.
type Restored struct {
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	ServerName string `json:"serverName"`
}

// Object is a Kubernetes object already in the repo, for collision checks.
type Object struct {
	Kind, Namespace, Name string
}

// Input is everything Make needs.
type Input struct {
	Catalog *catalog.Catalog
	Source  Source
	Target  catalog.Target
	// NewName is the restored cluster's name; empty means <name>-restored (-2, -3… when taken).
	NewName string
	// NewServerName is where the restored cluster archives; empty means its name.
	NewServerName string
	// Strategy is side-by-side (default) or in-place.
	Strategy string
	// Taken lists the objects already in the repo; nil when no repo was read.
	Taken []Object
	// ServersInCatalog are the server names already present under the catalog root that was
	// read (Source.Catalog).
	ServersInCatalog []string
	// ArchiveDestination is where the restored cluster will archive, as the source's manifests
	// say (the ObjectStore's or barmanObjectStore's destinationPath); empty when no repo was
	// read. When it differs from Source.Catalog, the catalog read was a copy and
	// ServersInCatalog says nothing about the real destination.
	ArchiveDestination string
	// TakenServerNames are the server names live clusters archive to under the destination
	// (the source's own, every other Cluster of the repo writing there), each with who takes
	// it.
	TakenServerNames []TakenServerName
	// ExistingRestores are Clusters of the repo already restored from the source's archive
	// ("auth/pg-restored (apps/auth/pg-restored/cluster.yaml:3)"): without an explicit NewName
	// the plan refuses to make another.
	ExistingRestores []string
	// Notes are what the repo says that the reviewer should know (a private CA, a manifest
	// that was not read): they end the plan's warnings.
	Notes []string
	// Now is the current time (targets in the future are refused).
	Now time.Time
	// WALParallel is how many WAL segments the recovery fetches at once (wal.maxParallel of
	// its source), for the estimate; 0 means one.
	WALParallel int
}

// TakenServerName is a server name in use under the archive destination, and by whom.
type TakenServerName struct {
	ServerName string
	By         string
}

// RecoveryTarget is spec.bootstrap.recovery.recoveryTarget exactly as it goes into the Cluster.
type RecoveryTarget struct {
	BackupID        string `json:"backupID"`
	TargetTLI       string `json:"targetTLI,omitempty"`
	TargetTime      string `json:"targetTime,omitempty"`
	TargetLSN       string `json:"targetLSN,omitempty"`
	TargetXID       string `json:"targetXID,omitempty"`
	TargetName      string `json:"targetName,omitempty"`
	TargetImmediate *bool  `json:"targetImmediate,omitempty"`
	Exclusive       *bool  `json:"exclusive,omitempty"`
}

// Describe says in words where the recovery stops.
func (t RecoveryTarget) Describe() string {
	switch {
	case t.TargetTime != "":
		return "time " + t.TargetTime
	case t.TargetLSN != "":
		return "LSN " + t.TargetLSN
	case t.TargetXID != "":
		return "transaction " + t.TargetXID
	case t.TargetName != "":
		return "restore point " + t.TargetName
	case t.TargetImmediate != nil:
		return "the end of backup " + t.BackupID
	}
	return "the latest point reachable from backup " + t.BackupID
}

// Check is one named safety check.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Change is one file the restore writes or edits (filled by the generator).

// WALRange is the WAL recovery must replay.
type WALRange struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Segments uint64 `json:"segments"`
	// Bytes is what replay reads (segments × segment size); StoredBytes what is downloaded.
	Bytes       uint64 `json:"bytes"`
	StoredBytes int64  `json:"storedBytes"`
	// UpperBound is set when the end is not known from the catalog (XID and named targets):
	// the range then runs to the end of the archive.
	UpperBound bool `json:"upperBound,omitempty"`
}

// Estimate is the expected recovery time, with the model that produced it and its basis.
type Estimate struct {
	Seconds int `json:"seconds"`
	// RestoreSeconds is the base backup's share, ReplaySeconds the WAL's (PostgreSQL's start
	// and promotion included).
	RestoreSeconds float64 `json:"restoreSeconds"`
	ReplaySeconds  float64 `json:"replaySeconds"`
	// Parallel is how many WAL segments the recovery fetches at once.
	Parallel int    `json:"parallel"`
	Model    string `json:"model"`
	// Basis says what the model's constants were measured on.
	Basis string `json:"basis"`
}

// Plan is the restore plan; its JSON form is stable (DESIGN.md, README).
type Plan struct {
	Source Source `json:"source"`
	// Requested is the target as the plan read it, in UTC ("time 2026-11-24T16:52:45Z"):
	// shown also when the plan is refused before it chose a backup.
	Requested    string                `json:"requested"`
	Backup       *catalog.BackupReport `json:"backup"`
	Target       RecoveryTarget        `json:"target"`
	Restored     Restored              `json:"restored"`
	Strategy     string                `json:"strategy"`
	SystemID     string                `json:"systemId,omitempty"`
	TimelinePath []uint32              `json:"timelinePath"`
	// PromotedTimeline is the timeline the restored cluster is on once it promotes: PostgreSQL
	// takes the one after the newest timeline whose history file the archive holds, counting
	// up from the timeline recovery ends on.
	PromotedTimeline uint32    `json:"promotedTimeline,omitempty"`
	WAL              *WALRange `json:"wal,omitempty"`
	// WALEnd is the end of the chosen backup's WAL as its records say: the last transaction,
	// the last valid record, and what reading them took.
	WALEnd *catalog.WALTail `json:"walEnd,omitempty"`
	// Located is where the WAL holds an XID or restore-point target (what was searched when
	// it was not found).
	Located *catalog.Located `json:"located,omitempty"`
	// Stop is where recovery to a time stops, as the WAL's records say: the first transaction
	// not applied and the last one applied.
	Stop *catalog.TimeStop `json:"stop,omitempty"`
	// ReadAhead is how far past where replay stops PostgreSQL's prefetcher reads, from the
	// records (segments fetched for nothing, in the estimate).
	ReadAhead  *catalog.ReadAhead  `json:"readAhead,omitempty"`
	Estimate   *Estimate           `json:"estimate,omitempty"`
	Checks     []Check             `json:"checks"`
	Warnings   []string            `json:"warnings"`
	Candidates []catalog.Candidate `json:"candidates,omitempty"`
	// CloudNativePG is the backup CloudNativePG alone would pick for the same target, and why
	// this plan's differs when it does (--explain).
	CloudNativePG *Parity `json:"cloudNativePG,omitempty"`
}

// Parity compares the plan's backup with CloudNativePG's own selection (barman-cloud's
// FindBackupInfo and LatestBackupInfo), which the generated Cluster overrides by pinning
// backupID.
type Parity struct {
	Backup string `json:"backup"` // empty when CloudNativePG would find none
	Agrees bool   `json:"agrees"`
	Reason string `json:"reason"`
}

// OK reports whether every check passed.
func (p *Plan) OK() bool {
	for _, c := range p.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Failed returns the failed checks.
func (p *Plan) Failed() []Check {
	var out []Check
	for _, c := range p.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Validate checks the plan's own consistency: a plan that passed its checks names a backup and
// pins it in the recovery target, and restores into a new archive location.
func (p *Plan) Validate() error {
	if !p.OK() {
		return nil
	}
	switch {
	case p.Backup == nil:
		return fmt.Errorf("plan passed its checks without a backup")
	case p.Target.BackupID != p.Backup.ID:
		return fmt.Errorf("recovery target pins backup %q, the plan chose %q", p.Target.BackupID, p.Backup.ID)
	case p.Restored.ServerName == p.Source.ServerName:
		return fmt.Errorf("restored cluster would archive into the source's server name %q", p.Source.ServerName)
	}
	return nil
}

func (p *Plan) check(name string, ok bool, format string, a ...any) {
	p.Checks = append(p.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, a...)})
}

// Check names, in the order they appear.
const (
	CheckLineage    = "single-lineage"
	CheckBackup     = "backup-done"
	CheckTarget     = "target-in-window"
	CheckWAL        = "wal-continuity"
	CheckWALSystem  = "wal-same-system"
	CheckTimelines  = "timeline-history"
	CheckNewArchive = "new-archive"
	CheckName       = "new-name"
	CheckCollisions = "no-collision"
)

// Make builds the plan. It returns an error only for inputs that are not a question at all
// (no catalog, an unknown strategy); an unsafe restore is a plan with failed checks.
func Make(in Input) (*Plan, error) {
	if in.Catalog == nil {
		return nil, fmt.Errorf("no catalog")
	}
	if in.Strategy == "" {
		in.Strategy = SideBySide
	}
	if in.Strategy != SideBySide && in.Strategy != InPlace {
		return nil, fmt.Errorf("strategy %q is not %s or %s", in.Strategy, SideBySide, InPlace)
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	p := &Plan{Source: in.Source, Strategy: in.Strategy, Checks: []Check{}, Warnings: []string{}, TimelinePath: []uint32{},
		Requested: in.Target.Describe()}
	p.Restored = restoredNames(in)
	s := &selector{in: in, p: p, c: in.Catalog}
	s.run()
	s.checkNames()
	p.Warnings = append(p.Warnings, in.Notes...)
	return p, p.Validate()
}

var dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// maxClusterName keeps "<name>-rw" within the 63 characters of a Service name.
const maxClusterName = 60

func restoredNames(in Input) Restored {
	r := Restored{Namespace: in.Source.Namespace, Name: in.NewName, ServerName: in.NewServerName}
	if r.Name == "" {
		if in.Strategy == InPlace {
			r.Name = in.Source.Name
		} else {
			r.Name = in.Source.Name + "-restored"
			for i := 2; taken(in, r.Namespace, r.Name); i++ {
				r.Name = fmt.Sprintf("%s-restored-%d", in.Source.Name, i)
			}
		}
	}
	if r.ServerName == "" {
		r.ServerName = r.Name
		if r.ServerName == in.Source.ServerName {
			// In place: same cluster name, but the archive must be new.
			r.ServerName = r.Name + "-restored"
		}
		base := r.ServerName
		for i := 2; slices.Contains(in.ServersInCatalog, r.ServerName) || takenBy(in, r.ServerName) != ""; i++ {
			r.ServerName = fmt.Sprintf("%s-%d", base, i)
		}
	}
	return r
}

// derivedNames are the objects CloudNativePG creates for a cluster.
func derivedNames(name string) []Object {
	return []Object{
		{"Cluster", "", name},
		{"Service", "", name + "-rw"}, {"Service", "", name + "-ro"}, {"Service", "", name + "-r"},
		{"Secret", "", name + "-app"}, {"Secret", "", name + "-superuser"},
	}
}

func taken(in Input, ns, name string) bool {
	for _, d := range derivedNames(name) {
		for _, o := range in.Taken {
			if o.Kind == d.Kind && o.Name == d.Name && (o.Namespace == ns || o.Namespace == "") {
				return true
			}
		}
	}
	return false
}

// takenBy says who archives to server name under the destination, or "".
func takenBy(in Input, serverName string) string {
	for _, t := range in.TakenServerNames {
		if t.ServerName == serverName {
			return t.By
		}
	}
	return ""
}

func (s *selector) checkNames() {
	p, in := s.p, s.in
	r := p.Restored
	read := strings.TrimSuffix(in.Source.Catalog, "/")
	dest := strings.TrimSuffix(in.ArchiveDestination, "/")
	switch by := takenBy(in, r.ServerName); {
	case r.ServerName == in.Source.ServerName:
		p.check(CheckNewArchive, false, "the restored cluster would archive WAL into the source's server name %q; barman-cloud refuses a non-empty archive and the source's backups would be mixed with the new ones: pass --new-server-name", r.ServerName)
	case by != "":
		p.check(CheckNewArchive, false, "server name %q under %s is where %s archives: the restored cluster would write into a live archive; pass another --new-server-name", r.ServerName, dest, by)
	case slices.Contains(in.ServersInCatalog, r.ServerName):
		p.check(CheckNewArchive, false, "server name %q already exists under %s: barman-cloud refuses a non-empty archive (\"Expected empty archive\"); pass --new-server-name", r.ServerName, read)
	case dest != "" && dest != read:
		p.check(CheckNewArchive, true, "server name %q is used by no cluster in the repo and absent from the catalog read, %s; that is a copy, not the destination the restored cluster archives to: make sure %s/%s does not exist", r.ServerName, read, dest, r.ServerName)
	default:
		p.check(CheckNewArchive, true, "the restored cluster archives to the new, empty server name %q", r.ServerName)
	}
	switch {
	case len(in.ExistingRestores) > 0 && in.NewName == "" && in.Strategy == SideBySide:
		p.check(CheckName, false, "the repo already holds a restore of %s/%s: %s; if it is merged and waits for its cutover, run generate --phase cutover --new-name with its name; to make another restore on purpose, pass --new-name",
			in.Source.Namespace, in.Source.Name, strings.Join(in.ExistingRestores, ", "))
	case !dns1035.MatchString(r.Name):
		p.check(CheckName, false, "%q is not a valid cluster name: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit", r.Name)
	case len(r.Name) > maxClusterName:
		p.check(CheckName, false, "%q is %d characters; the service %s-rw must fit in 63, so at most %d", r.Name, len(r.Name), r.Name, maxClusterName)
	case !dns1035.MatchString(r.ServerName) && !validServerName(r.ServerName):
		p.check(CheckName, false, "server name %q is not a single path component of letters, digits, '-', '_' or '.'", r.ServerName)
	case p.Strategy == SideBySide && r.Name == in.Source.Name:
		p.check(CheckName, false, "side-by-side needs a name other than the source's %q (or use --strategy in-place)", r.Name)
	case p.Strategy == InPlace && r.Name != in.Source.Name:
		p.check(CheckName, false, "in-place keeps the source's name %q, not %q", in.Source.Name, r.Name)
	default:
		p.check(CheckName, true, "%s/%s is a valid cluster name", r.Namespace, r.Name)
	}
	if len(in.ExistingRestores) > 0 && (in.NewName != "" || in.Strategy != SideBySide) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the repo already holds a restore of %s/%s: %s; this makes another one", in.Source.Namespace, in.Source.Name, strings.Join(in.ExistingRestores, ", ")))
	}
	if in.Taken == nil {
		p.check(CheckCollisions, true, "no repository was read: names of existing objects were not checked")
		return
	}
	var clash []string
	for _, d := range derivedNames(r.Name) {
		for _, o := range in.Taken {
			if o.Kind == d.Kind && o.Name == d.Name && (o.Namespace == r.Namespace || o.Namespace == "") {
				if p.Strategy == InPlace && o.Name == in.Source.Name+strings.TrimPrefix(d.Name, r.Name) {
					continue // in place replaces the source's own objects
				}
				clash = append(clash, o.Kind+" "+o.Name)
			}
		}
	}
	if len(clash) > 0 {
		p.check(CheckCollisions, false, "already in the repo in namespace %s: %s; pass another --new-name", r.Namespace, strings.Join(clash, ", "))
		return
	}
	p.check(CheckCollisions, true, "no Cluster, Service (-rw, -ro, -r) or Secret (-app, -superuser) named after %s exists in namespace %s", r.Name, r.Namespace)
}

var serverNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func validServerName(s string) bool { return serverNameRE.MatchString(s) && s != "." && s != ".." }
