// Package catalog reads a barman-cloud backup catalog: the base backups and WAL archive that a
// CloudNativePG cluster writes under destinationPath/serverName/, and decides what it can
// recover. It knows nothing of S3 or disks: it reads through a Store.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Catalog is everything found under destinationPath/serverName/.
type Catalog struct {
	// ServerName is barman's server name, the directory under destinationPath.
	ServerName string
	// Location is where the catalog lives, for people (s3://bucket/prefix/serverName).
	Location string
	// Backups are sorted by ID, oldest first.
	Backups []*Backup
	// History holds the parsed .history file of each timeline that has one.
	History map[uint32][]HistoryEntry
	// WAL indexes the archived segments.
	WAL *WALIndex
	// Partials are .partial segments (the end of an abandoned timeline).
	Partials []WALName
	// Stray are objects under wals/ or base/ that are not part of the barman layout: the first
	// MaxStrayKept of them; StrayCount counts them all (a bucket can hold millions).
	Stray      []string
	StrayCount int
	// BadHistory are history files that exist but could not be read, by timeline.
	BadHistory map[uint32]string
	// WALFrom is the first segment the scan listed WAL from ("" when it listed all of it);
	// SkippedWALDirs counts the WAL directories it did not list because of it (whole
	// directories only: WAL before WALFrom in a listed directory is read all the same).
	WALFrom        string
	SkippedWALDirs int

	analysis
	// tails are what the end of each usable replay holds, by its last segment (readTails).
	tails map[segmentRef]*WALTail
	// located is where the WAL holds Options.Locate's transaction or restore point; timeStop
	// where recovery to its time stops.
	located  *Located
	timeStop *TimeStop
	// readAhead is how far PostgreSQL reads past the target's stop (findReadAhead).
	readAhead *ReadAhead
}

// Backup is one directory under base/.
type Backup struct {
	ID string
	// Key is the key of its backup.info relative to the catalog root.
	Key string
	// Info is the parsed backup.info; nil when it is missing or invalid (see Problems).
	Info *BackupInfo
	// Files are the other objects in the backup's directory (data.tar, tablespaces).
	Files []Object
	// Problems say why the backup cannot be restored; none means it can.
	Problems []string
	// loadProblems are the problems found while loading, kept across analyses.
	loadProblems []string

	// TargetTLI is the timeline the recovery planned from this backup ends on: the one
	// recovery_target_timeline = latest finds (LatestTLI), unless PinTLI.
	TargetTLI uint32
	// Path is the timeline path from the backup to TargetTLI.
	Path []TimelineSpan
	// Replay is how far the archived WAL reaches from this backup along Path.
	Replay Replay
	// LatestTLI and Latest are what recovery_target_timeline = latest does: PostgreSQL follows
	// the newest timeline whose history file it finds, whoever wrote it.
	LatestTLI        uint32
	Latest           Replay
	LatestForeignWAL string
	// PinTLI is set when "latest" would lead recovery into another database system's WAL (a
	// cluster rebuilt into the path of one that had been promoted) while this system's own WAL
	// goes on along an older timeline: the restore must set targetTLI to TargetTLI. PinReason
	// says why, in a sentence.
	PinTLI    bool
	PinReason string
	// Alternatives are the replays to each older timeline of the latest path, by timeline
	// (what an explicit targetTLI gives).
	Alternatives map[uint32]TimelineReplay
	// Abandoned counts the segments of timeline AbandonedTLI that the planned recovery does
	// not replay although they follow on from it: a newer timeline's history switches away
	// from them (a history file whose timeline has no WAL, say).
	Abandoned    uint64
	AbandonedTLI uint32
	// NotExamined is set when the scan skipped the WAL this backup needs (Options.WALFrom).
	NotExamined bool
	// Overwritten is set when WAL the backup needs was written by another database system.
	Overwritten bool
	// ForeignWAL is the first segment on the replay path written by another database system.
	ForeignWAL string
	// Warnings are doubts that do not stop a restore.
	Warnings []string
}

// reset forgets what an analysis derived.
func (b *Backup) reset() {
	b.Problems = append([]string(nil), b.loadProblems...)
	b.TargetTLI, b.Path, b.Replay, b.Overwritten, b.ForeignWAL, b.Warnings, b.NotExamined = 0, nil, Replay{}, false, "", nil, false
	b.LatestForeignWAL, b.LatestTLI, b.Latest, b.PinTLI, b.PinReason, b.Alternatives, b.Abandoned, b.AbandonedTLI = "", 0, Replay{}, false, "", nil, 0, 0
	if b.Info != nil {
		b.Warnings = append(b.Warnings, b.Info.Warnings...)
	}
}

// Usable reports whether the backup can be restored.
func (b *Backup) Usable() bool { return len(b.Problems) == 0 }

// Status is the backup's status, or MISSING/INVALID when backup.info is absent or unreadable.
func (b *Backup) Status() string {
	if b.Info == nil {
		if b.Key == "" {
			return "MISSING"
		}
		return "INVALID"
	}
	if b.Info.Status == "" {
		return "UNKNOWN"
	}
	return b.Info.Status
}

// SystemID is the backup's system identifier, "" when unknown.
func (b *Backup) SystemID() string {
	if b.Info == nil {
		return ""
	}
	return b.Info.SystemID
}

// Options tune Load.
type Options struct {
	// ServerName is the directory under the catalog root; required.
	ServerName string
	// Location describes the catalog root in messages, e.g. s3://bucket/prefix.
	Location string
	// Concurrency bounds the listings and reads in flight; 0 means 32.
	Concurrency int
	// Progress, when set, is called as objects are listed and fetched (from several goroutines).
	Progress func(listed, fetched int64)
	// WALFrom, when set, is called once every backup.info has been read and returns the first
	// WAL segment the caller needs (a 24-hex-digit name; "" for all). WAL directories wholly
	// before it are not listed, and backups that begin before it are marked NotExamined: a plan
	// needs only the WAL from its backup on, and listing the rest of a year of WAL is downtime.
	WALFrom func(backups []*Backup) string
	// Locate, when it names a transaction (XID) or a restore point (Name), has Load search the
	// WAL for its record (Catalog.Located), so that the backup is chosen before it; for a time
	// it bisects the WAL for where recovery stops (Catalog.TimeStop).
	Locate Target
}

var backupIDRE = regexp.MustCompile(`^\d{8}T\d{6}$`)

// Load reads the catalog of one server. A listing or read that fails makes Load fail: a catalog
// that silently misses a page of WAL would produce a wrong restore.
func Load(ctx context.Context, store Store, opts Options) (*Catalog, error) {
	if opts.ServerName == "" {
		return nil, errors.New("a server name is required (barman's serverName, usually the cluster name)")
	}
	if strings.ContainsAny(opts.ServerName, "/\\") || opts.ServerName == "." || opts.ServerName == ".." {
		return nil, fmt.Errorf("server name %q must be a single path component", opts.ServerName)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 32
	}
	l := &loader{store: store, opts: opts, root: opts.ServerName + "/", baseDone: make(chan struct{})}
	c := &Catalog{
		ServerName: opts.ServerName,
		Location:   strings.TrimSuffix(opts.Location, "/") + "/" + opts.ServerName,
		History:    map[uint32][]HistoryEntry{},
		BadHistory: map[uint32]string{},
		WAL:        NewWALIndex(),
	}
	l.cat = c

	// base/ and wals/ are listed straight away, in parallel: a listing of the server directory
	// first would cost a round trip. An empty result means a wrong server name or location.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	// Submitting from inside the group would deadlock at the limit, so the two trees are walked
	// by their own goroutines and only the leaf work goes through g.
	var walks errgroup.Group
	walks.Go(func() error { return l.loadBase(gctx, g) })
	walks.Go(func() error { return l.loadWALs(gctx, g) })
	werr := walks.Wait()
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(c.Backups) == 0 && len(l.walIdx) == 0 && len(c.History) == 0 && len(c.BadHistory) == 0 && c.StrayCount == 0 {
		return nil, l.noSuchServer(ctx)
	}

	for _, w := range l.walIdx {
		c.WAL.Merge(w)
	}
	sort.Slice(c.Backups, func(i, j int) bool { return c.Backups[i].ID < c.Backups[j].ID })
	sort.Strings(c.Stray)
	sort.Slice(c.Partials, func(i, j int) bool { return c.Partials[i].Segment() < c.Partials[j].Segment() })
	size := c.segmentSize()
	if err := c.WAL.Build(size); err != nil {
		return nil, fmt.Errorf("while indexing the WAL under %s/wals: %w", c.Location, err)
	}
	if err := c.verifySystems(ctx, store, l.root, opts.Concurrency); err != nil {
		return nil, err
	}
	c.analyze()
	// Each analysis may choose replays (a timeline pinned, a replay cut short) whose headers
	// were not read yet: read them and analyze again, until nothing new is learned.
	for range 4 {
		changed, err := c.verifyReplays(ctx, store, l.root, opts.Concurrency)
		if err != nil {
			return nil, err
		}
		if !changed {
			break
		}
		c.analyze()
	}
	if err := c.readTails(ctx, store, l.root, opts.Concurrency); err != nil {
		return nil, err
	}
	if err := c.locate(ctx, store, l.root, opts.Locate); err != nil {
		return nil, err
	}
	if err := c.locateTime(ctx, store, l.root, opts.Locate); err != nil {
		return nil, err
	}
	if err := c.findReadAhead(ctx, store, l.root, opts.Locate); err != nil {
		return nil, err
	}
	return c, nil
}

type loader struct {
	store Store
	opts  Options
	root  string
	cat   *Catalog

	mu     sync.Mutex
	walIdx []*WALIndex

	// infos counts the backup.info reads in flight; baseDone closes when base/ is fully read.
	infos    sync.WaitGroup
	baseDone chan struct{}

	listed, fetched atomic.Int64
}

func (l *loader) progress(listed, fetched int) {
	a := l.listed.Add(int64(listed))
	b := l.fetched.Add(int64(fetched))
	if l.opts.Progress != nil {
		l.opts.Progress(a, b)
	}
}

func (l *loader) where(key string) string {
	return strings.TrimSuffix(l.opts.Location, "/") + "/" + key
}

// listAll gathers a whole listing.
func (l *loader) listAll(ctx context.Context, prefix string, delimited bool) (Page, error) {
	var all Page
	err := l.store.List(ctx, prefix, delimited, func(p Page) error {
		all.Objects = append(all.Objects, p.Objects...)
		all.Prefixes = append(all.Prefixes, p.Prefixes...)
		l.progress(len(p.Objects)+len(p.Prefixes), 0)
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("while listing %s: %w", l.where(prefix), err)
	}
	return all, nil
}

// noSuchServer builds the error for a server name with nothing under it. It looks around the
// catalog root for where the catalog really is, and says which --catalog and --server-name to
// pass: the server names under the root; one level deeper when the server's directory holds
// another of the same name (a destinationPath that already ended in the server name, as in the
// runbook's s3://bucket/auth/authentik-postgresql/authentik-postgresql/); the parent when
// --catalog is a server's own directory; a prefix below the root that holds the server.
func (l *loader) noSuchServer(ctx context.Context) error {
	name, loc := l.opts.ServerName, strings.TrimSuffix(l.opts.Location, "/")
	dirs := func(prefix string) ([]string, error) {
		p, err := l.listAll(ctx, prefix, true)
		var out []string
		for _, d := range p.Prefixes {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(d, prefix), "/"))
		}
		return out, err
	}
	isServer := func(ds []string) bool { return slices.Contains(ds, "base") || slices.Contains(ds, "wals") }
	top, err := l.listAll(ctx, "", true)
	if err != nil {
		return fmt.Errorf("no barman catalog for server %q at %s, and the root could not be listed: %w", name, l.where(l.root), err)
	}
	var names []string
	for _, p := range top.Prefixes {
		names = append(names, strings.TrimSuffix(p, "/"))
	}
	switch {
	case len(names) == 0 && len(top.Objects) == 0:
		return fmt.Errorf("no barman catalog for server %q at %s: the location is empty; check --catalog (barman's destinationPath)", name, l.where(l.root))
	case len(names) == 0:
		return fmt.Errorf("no barman catalog for server %q at %s: check --catalog (barman's destinationPath)", name, l.where(l.root))
	case isServer(names):
		parent, last := loc, ""
		if i := strings.LastIndex(loc, "/"); i > 0 && !strings.HasSuffix(loc[:i], ":/") {
			parent, last = loc[:i], loc[i+1:]
		}
		return fmt.Errorf("no barman catalog for server %q at %s: --catalog %s is itself a server's directory (it holds base/ or wals/); pass its parent: --catalog %s --server-name %s", name, l.where(l.root), loc, parent, last)
	case slices.Contains(names, name):
		if sub, err := dirs(name + "/"); err == nil {
			if deeper, err := dirs(name + "/" + name + "/"); err == nil && slices.Contains(sub, name) && isServer(deeper) {
				return fmt.Errorf("no barman catalog for server %q at %s, but there is one a level deeper, at %s/%s/%s: the destinationPath already ends in the server name; pass --catalog %s/%s --server-name %s", name, l.where(l.root), loc, name, name, loc, name, name)
			}
		}
		return fmt.Errorf("no barman catalog for server %q at %s: the directory exists but holds no base/ or wals/; check --catalog (barman's destinationPath)", name, l.where(l.root))
	}
	var servers, holders []string
	for i, n := range names {
		if i >= 20 {
			break // enough looking around
		}
		sub, err := dirs(n + "/")
		if err != nil {
			continue
		}
		if isServer(sub) {
			servers = append(servers, n)
		} else if slices.Contains(sub, name) {
			if deeper, err := dirs(n + "/" + name + "/"); err == nil && isServer(deeper) {
				holders = append(holders, n)
			}
		}
	}
	switch {
	case len(holders) > 0:
		return fmt.Errorf("no barman catalog for server %q at %s, but %s/%s/%s is one: pass --catalog %s/%s", name, l.where(l.root), loc, holders[0], name, loc, holders[0])
	case len(servers) > 0:
		return fmt.Errorf("no barman catalog for server %q at %s; server names found there: %s (pass one with --server-name)", name, l.where(l.root), strings.Join(servers, ", "))
	}
	return fmt.Errorf("no barman catalog for server %q at %s; %s holds %s, none of them a server's directory: pass the one that is barman's destinationPath as --catalog", name, l.where(l.root), loc, strings.Join(names, ", "))
}

// MaxStrayKept bounds the stray keys a catalog keeps by name; the rest are only counted.
const MaxStrayKept = 100

func (l *loader) addStray(key string) {
	l.mu.Lock()
	l.cat.StrayCount++
	// Keep the first MaxStrayKept in key order, so that which are named does not depend on the
	// order the listing goroutines ran in.
	st := l.cat.Stray
	if i, found := slices.BinarySearch(st, key); !found && (len(st) < MaxStrayKept || i < len(st)) {
		st = slices.Insert(st, i, key)
		if len(st) > MaxStrayKept {
			st = st[:MaxStrayKept]
		}
		l.cat.Stray = st
	}
	l.mu.Unlock()
}

// loadBase lists base/ and reads every backup.info.
func (l *loader) loadBase(ctx context.Context, g *errgroup.Group) error {
	defer func() {
		go func() {
			l.infos.Wait()
			close(l.baseDone)
		}()
	}()
	prefix := l.root + "base/"
	page, err := l.listAll(ctx, prefix, false)
	if err != nil {
		return err
	}
	byID := map[string]*Backup{}
	for _, o := range page.Objects {
		rel := strings.TrimPrefix(o.Key, prefix)
		id, file, ok := strings.Cut(rel, "/")
		if !ok || id == "" || file == "" {
			l.addStray(o.Key)
			continue
		}
		b := byID[id]
		if b == nil {
			b = &Backup{ID: id}
			byID[id] = b
		}
		if file == "backup.info" {
			b.Key = o.Key
		} else {
			b.Files = append(b.Files, o)
		}
	}
	l.mu.Lock()
	for _, b := range byID {
		l.cat.Backups = append(l.cat.Backups, b)
	}
	l.mu.Unlock()
	for _, b := range byID {
		if b.Key == "" {
			continue
		}
		l.infos.Add(1)
		g.Go(func() error {
			defer l.infos.Done()
			data, err := l.store.Get(ctx, b.Key, MaxBackupInfoSize+1)
			l.progress(0, 1)
			if err != nil {
				return fmt.Errorf("while reading %s: %w", l.where(b.Key), err)
			}
			info, err := ParseBackupInfo(data, l.where(b.Key))
			if err != nil {
				b.loadProblems = append(b.loadProblems, err.Error())
				return nil
			}
			b.Info = info
			return nil
		})
	}
	return nil
}

// loadWALs lists wals/ one hash directory at a time, concurrently, and reads history files.
func (l *loader) loadWALs(ctx context.Context, g *errgroup.Group) error {
	prefix := l.root + "wals/"
	top, err := l.listAll(ctx, prefix, true)
	if err != nil {
		return err
	}
	for _, o := range top.Objects {
		name := strings.TrimPrefix(o.Key, prefix)
		w, err := ParseWALName(name)
		if err != nil || w.Kind != WALHistory {
			l.addStray(o.Key)
			continue
		}
		g.Go(func() error { return l.loadHistory(ctx, o.Key, w) })
	}
	fromLog := ""
	if l.opts.WALFrom != nil {
		select {
		case <-l.baseDone:
		case <-ctx.Done():
			return ctx.Err()
		}
		l.mu.Lock()
		backups := slices.Clone(l.cat.Backups)
		l.mu.Unlock()
		sort.Slice(backups, func(i, j int) bool { return backups[i].ID < backups[j].ID })
		if from := l.opts.WALFrom(backups); from != "" {
			if w, err := ParseWALName(from); err == nil && w.Kind == WALSegment {
				l.cat.WALFrom = from
				fromLog = from[8:16]
			}
		}
	}
	for _, dir := range top.Prefixes {
		hash := strings.TrimSuffix(strings.TrimPrefix(dir, prefix), "/")
		if len(hash) != 16 || !isUpperHex(hash) {
			l.addStray(dir)
			continue
		}
		if hash[8:] < fromLog {
			l.cat.SkippedWALDirs++ // wholly before the first segment needed
			continue
		}
		g.Go(func() error { return l.loadWALDir(ctx, dir, hash) })
	}
	return nil
}

func (l *loader) loadHistory(ctx context.Context, key string, w WALName) error {
	data, err := l.store.Get(ctx, key, MaxBackupInfoSize+1)
	l.progress(0, 1)
	if err != nil {
		return fmt.Errorf("while reading %s: %w", l.where(key), err)
	}
	var entries []HistoryEntry
	if len(data) > MaxBackupInfoSize {
		err = fmt.Errorf("%s: larger than %d bytes, not a history file", l.where(key), MaxBackupInfoSize)
	} else {
		data, err = decompress(data, w.Compression)
	}
	if err == nil {
		entries, err = ParseHistory(w.TLI, data, l.where(key))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.cat.BadHistory[w.TLI] = err.Error()
		return nil
	}
	l.cat.History[w.TLI] = entries
	return nil
}

func (l *loader) loadWALDir(ctx context.Context, dir, hash string) error {
	idx := NewWALIndex()
	var partials []WALName
	var stray []string
	tli, _ := strconv.ParseUint(hash[:8], 16, 32)
	log, _ := strconv.ParseUint(hash[8:], 16, 32)
	err := l.store.List(ctx, dir, false, func(p Page) error {
		idx.Grow(uint32(tli), uint32(log), len(p.Objects))
		for _, o := range p.Objects {
			name := strings.TrimPrefix(o.Key, dir)
			w, err := ParseWALName(name)
			switch {
			case err != nil || strings.Contains(name, "/") || w.HashDir() != hash:
				stray = append(stray, o.Key)
			case w.Kind == WALSegment:
				idx.Add(w, o.Size, o.LastModified)
			case w.Kind == WALPartial:
				partials = append(partials, w)
			case w.Kind == WALBackupLabel:
				// barman's .backup label files carry nothing that backup.info lacks.
			default:
				stray = append(stray, o.Key)
			}
		}
		l.progress(len(p.Objects), 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("while listing %s: %w", l.where(dir), err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.walIdx = append(l.walIdx, idx)
	l.cat.Partials = append(l.cat.Partials, partials...)
	l.cat.Stray = append(l.cat.Stray, stray...)
	return nil
}

// segmentSize is the WAL segment size the catalog's backups report (16 MiB when none does).
func (c *Catalog) segmentSize() SegmentSize {
	counts := map[SegmentSize]int{}
	for _, b := range c.Backups {
		if b.Info != nil && b.Info.Present["xlog_segment_size"] {
			counts[b.Info.SegmentSize]++
		}
	}
	best, n := SegmentSize(DefaultSegmentSize), 0
	for s, k := range counts {
		if k > n || k == n && s < best {
			best, n = s, k
		}
	}
	return best
}
