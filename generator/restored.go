package generator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// SkipEmptyWALArchiveCheck is the annotation that turns off CloudNativePG's refusal to archive
// into a non-empty WAL archive.
const SkipEmptyWALArchiveCheck = "cnpg.io/skipEmptyWalArchiveCheck"

// SkipEmptyWALArchiveCheckWarning is the plan's warning when the source sets the annotation.
func SkipEmptyWALArchiveCheckWarning(src *overlays.Source) string {
	ann, _ := nestedMap(src.Cluster.Body, "metadata", "annotations")
	if _, ok := ann[SkipEmptyWALArchiveCheck]; !ok {
		return ""
	}
	return fmt.Sprintf("%s sets %s; the restored cluster is generated without it: CloudNativePG's check that a new cluster's archive is empty stays on, so the restore cannot write into a live archive", src.Cluster.Name, SkipEmptyWALArchiveCheck)
}

func nestedMap(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// Fields the API server sets; a copy of a manifest exported from a cluster may carry them.
var serverFields = []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "ownerReferences", "deletionTimestamp"}

// restoredCluster copies the source Cluster (everything the user tuned, in their field
// order) and makes it a restore: new name, bootstrap.recovery from the plan, an
// externalClusters entry for the source catalog, and archiving to a new server name.
func (g *gen) restoredCluster(argo bool) (*yaml.Node, error) {
	p := g.in.Plan
	src := g.src.Cluster.Doc.Root()
	if src == nil || src.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s is not a mapping", g.src.Cluster)
	}
	c := g.concrete(deepCopy(src))
	meta := child(c, "metadata")
	set(meta, "name", scalar(g.name))
	del(meta, serverFields...)
	if ann := get(meta, "annotations"); ann != nil {
		del(ann, "kubectl.kubernetes.io/last-applied-configuration")
		// CloudNativePG's check that a new cluster's archive is empty is what stops it from
		// writing into another cluster's backups: never carry the opt-out onto a restore (the
		// plan warns, see SkipEmptyWALArchiveCheckWarning).
		del(ann, SkipEmptyWALArchiveCheck)
		if opts := str(ann, "argocd.argoproj.io/sync-options"); strings.Contains(opts, "Replace=true") || strings.Contains(opts, "Force=true") {
			g.res.Notes = append(g.res.Notes, fmt.Sprintf("the source cluster's sync-options %q were not copied: Replace or Force would delete and recreate the Cluster, volumes included", opts))
		}
		if len(ann.Content) == 0 {
			del(meta, "annotations")
		}
	}
	if argo {
		ann := child(meta, "annotations")
		wave := "-2" // before the verification Job (-1) and the cutover (0)
		if g.in.Verify.Off {
			wave = "-1"
		}
		set(ann, "argocd.argoproj.io/sync-wave", quoted(wave))
		set(ann, "argocd.argoproj.io/sync-options", scalar("Prune=false,Delete=false"))
	}
	del(c, "status")
	spec := get(c, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s has no spec", g.src.Cluster)
	}
	if get(spec, "replica") != nil {
		del(spec, "replica")
		g.res.Notes = append(g.res.Notes, "the source cluster is a replica cluster: spec.replica was not copied, the restored cluster is a primary")
	}

	g.ownServices(spec)

	if strings.TrimSuffix(p.Source.Catalog, "/") != strings.TrimSuffix(g.src.Catalog, "/") {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("the plan read the catalog at %s, but CloudNativePG will recover from %s (the cluster's own backup configuration): make sure both hold the same backups", p.Source.Catalog, g.src.Catalog))
	}
	// The source catalog, as an external cluster.
	source := g.old
	ext := get(spec, "externalClusters")
	for ext != nil && hasEntry(ext, source) {
		source += "-backup"
	}
	entry := mapping("name", source)
	parallel, own := RecoveryParallel(g.src, g.in.WALParallel)
	if g.src.Plugin {
		store := g.src.ObjectStore.Name
		if parallel != max(own, 1) {
			store = g.recoveryObjectStore(parallel, argo)
		} else if own > 1 {
			g.res.Notes = append(g.res.Notes, fmt.Sprintf("recovery fetches WAL through %s with its own wal.maxParallel (%d); --wal-parallel sets another number for recovery only", store, own))
		}
		set(entry, "plugin", mapping(
			"name", overlays.BarmanCloudPlugin,
			"parameters", mapping("barmanObjectName", store, "serverName", p.Source.ServerName)))
	} else {
		g.res.Notes = append(g.res.Notes, "the source cluster uses the in-tree barmanObjectStore, deprecated since CloudNativePG 1.26 in favour of the barman-cloud plugin: the restored cluster keeps that form (recovery and archiving); move to the plugin in a separate change")
		bos := deepCopy(get(src, "spec", "backup", "barmanObjectStore"))
		set(bos, "serverName", scalar(p.Source.ServerName))
		switch {
		case parallel == own:
			g.res.Notes = append(g.res.Notes, fmt.Sprintf("recovery fetches WAL with the source's own wal.maxParallel (%d); --wal-parallel overrides it for recovery only. CloudNativePG honours it during bootstrap from 1.30.1 (cloudnative-pg#11105)", own))
		case parallel != max(own, 1):
			set(child(bos, "wal"), "maxParallel", integer(parallel))
			g.res.Notes = append(g.res.Notes, fmt.Sprintf("recovery fetches %d WAL segments at once (externalClusters[].barmanObjectStore.wal.maxParallel, recovery only: the restored cluster's own archiving is not changed). CloudNativePG honours it during bootstrap from 1.30.1 (cloudnative-pg#11105); older versions fetch one segment at a time. --wal-parallel sets it", parallel))
		}
		set(entry, "barmanObjectStore", bos)
	}
	if ext == nil || ext.Kind != yaml.SequenceNode {
		ext = sequence()
	}
	ext.Content = append(ext.Content, entry)

	// bootstrap.recovery, keeping the application database, owner and secret.
	recovery := mapping("source", source)
	boot := get(spec, "bootstrap")
	for _, method := range []string{"initdb", "recovery", "pg_basebackup"} {
		m := get(boot, method)
		if m == nil {
			continue
		}
		for _, k := range []string{"database", "owner"} {
			if v := str(m, k); v != "" {
				set(recovery, k, scalar(v))
			}
		}
		if s := get(m, "secret"); s != nil {
			set(recovery, "secret", deepCopy(s))
		}
	}
	set(recovery, "recoveryTarget", recoveryTarget(p.Target))
	setAfter(spec, "bootstrap", mapping("recovery", recovery), "storage")
	setAfter(spec, "externalClusters", ext, "bootstrap")

	// Archive somewhere new: barman-cloud refuses a non-empty archive.
	if g.src.Plugin {
		for _, pl := range get(spec, "plugins").Content {
			if str(pl, "name") == overlays.BarmanCloudPlugin {
				setAfter(child(pl, "parameters"), "serverName", scalar(p.Restored.ServerName), "barmanObjectName")
			}
		}
	} else {
		setAfter(get(spec, "backup", "barmanObjectStore"), "serverName", scalar(p.Restored.ServerName), "destinationPath")
	}

	what := p.Target.Describe()
	if !strings.Contains(what, p.Target.BackupID) {
		what += " from backup " + p.Target.BackupID
	}
	c.HeadComment = strings.TrimSpace(fmt.Sprintf(
		"# Restored by cnpg-restore-gen from %s/%s (%s/%s): recovering to %s.\n"+
			"# bootstrap.recovery runs once, when the cluster is created; editing it later does nothing.\n%s",
		g.ns, g.old, p.Source.Catalog, p.Source.ServerName, what, src.HeadComment))
	return c, nil
}

// fixedAddress are the Service annotations that pin a load balancer's address or DNS name:
// two Services claiming one would fight over it, and the source's is live.
var fixedAddress = []string{
	"lbipam.cilium.io/ips", "io.cilium/lb-ipam-ips", "metallb.universe.tf/loadBalancerIPs", "metallb.io/loadBalancerIPs",
	"metallb.universe.tf/allow-shared-ip", "metallb.io/allow-shared-ip", "kube-vip.io/loadbalancerIPs",
	"external-dns.alpha.kubernetes.io/hostname", "external-dns.alpha.kubernetes.io/target",
}

// ownServices makes the Services that CloudNativePG creates from
// managed.services.additional the restored cluster's own: each renamed, without the fixed
// address, DNS name and node ports of the source's (which stays live until the cleanup).
func (g *gen) ownServices(spec *yaml.Node) {
	add := get(spec, "managed", "services", "additional")
	if add == nil || add.Kind != yaml.SequenceNode {
		return
	}
	for _, item := range add.Content {
		meta := get(item, "serviceTemplate", "metadata")
		name := str(meta, "name")
		if name == "" {
			continue
		}
		renamed := g.rename(name)
		set(meta, "name", scalar(renamed))
		var dropped []string
		if ann := get(meta, "annotations"); ann != nil {
			for _, k := range fixedAddress {
				if get(ann, k) != nil {
					del(ann, k)
					dropped = append(dropped, k)
				}
			}
			if len(ann.Content) == 0 {
				del(meta, "annotations")
			}
		}
		svc := get(item, "serviceTemplate", "spec")
		for _, k := range []string{"loadBalancerIP", "externalIPs", "clusterIP", "clusterIPs"} {
			if get(svc, k) != nil {
				del(svc, k)
				dropped = append(dropped, "spec."+k)
			}
		}
		if ports := get(svc, "ports"); ports != nil {
			for _, pt := range ports.Content {
				if get(pt, "nodePort") != nil {
					del(pt, "nodePort")
					if !slices.Contains(dropped, "spec.ports[].nodePort") {
						dropped = append(dropped, "spec.ports[].nodePort")
					}
				}
			}
		}
		note := fmt.Sprintf("the additional Service %s (managed.services.additional) is %s for the restored cluster, so the two clusters never claim one Service", name, renamed)
		if len(dropped) > 0 {
			note += fmt.Sprintf("; without the source's fixed address (%s), which stays with the live source: move it over once the cleanup removes the source", strings.Join(dropped, ", "))
		}
		g.res.Notes = append(g.res.Notes, note)
	}
}

// concrete substitutes, in a copy of a templated source's document, every variable as its
// Flux Kustomization renders it: the restore names no variable of the shared template.
func (g *gen) concrete(n *yaml.Node) *yaml.Node {
	if g.tmpl == nil {
		return n
	}
	walk(n, nil, func(s *yaml.Node, _ []string) {
		if strings.Contains(s.Value, "${") {
			if v, err := g.tmpl.Substitute(s.Value); err == nil {
				s.Value = v
			}
		}
	})
	return n
}

func hasEntry(seq *yaml.Node, name string) bool {
	for _, e := range seq.Content {
		if str(e, "name") == name {
			return true
		}
	}
	return false
}

// recoveryTarget is the plan's target as it goes into the Cluster, fields in CNPG's order.
func recoveryTarget(t plan.RecoveryTarget) *yaml.Node {
	m := mapping("backupID", t.BackupID)
	for _, kv := range [][2]string{{"targetTLI", t.TargetTLI}, {"targetTime", t.TargetTime}, {"targetLSN", t.TargetLSN}, {"targetXID", t.TargetXID}, {"targetName", t.TargetName}} {
		if kv[1] != "" {
			set(m, kv[0], quoted(kv[1]))
		}
	}
	if t.TargetImmediate != nil {
		set(m, "targetImmediate", boolean(*t.TargetImmediate))
	}
	if t.Exclusive != nil {
		set(m, "exclusive", boolean(*t.Exclusive))
	}
	return m
}

// scheduledBackups copies the source's ScheduledBackups for the restored cluster, or makes a
// daily one; the first takes a backup at once, so the new archive has a base backup early.
func (g *gen) scheduledBackups() []*yaml.Node {
	var out []*yaml.Node
	for _, o := range g.sourceScheduledBackups() {
		sb := g.concrete(deepCopy(o.Doc.Root()))
		meta := child(sb, "metadata")
		set(meta, "name", scalar(g.rename(o.Name)))
		del(meta, serverFields...)
		del(sb, "status")
		set(child(child(sb, "spec"), "cluster"), "name", scalar(g.name))
		out = append(out, sb)
	}
	if len(out) == 0 {
		spec := mapping("schedule", quoted("0 0 2 * * *"), "backupOwnerReference", "self", "cluster", mapping("name", g.name))
		if g.src.Plugin {
			set(spec, "method", scalar("plugin"))
			set(spec, "pluginConfiguration", mapping("name", overlays.BarmanCloudPlugin))
		} else {
			set(spec, "method", scalar("barmanObjectStore"))
		}
		out = append(out, mapping("apiVersion", cnpgAPI, "kind", "ScheduledBackup",
			"metadata", mapping("name", g.name+"-daily"), "spec", spec))
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("the source cluster has no ScheduledBackup in the repo: %s-daily backs up the restored cluster at 02:00 every day", g.name))
	}
	spec := get(out[0], "spec")
	if get(spec, "immediate") == nil {
		setAfter(spec, "immediate", boolean(true), "schedule")
	}
	return out
}

// sourceScheduledBackups are the ScheduledBackups of the source cluster, as deployed: in the
// namespace its applier gives it, naming the cluster in any YAML form (an alias included).
func (g *gen) sourceScheduledBackups() []overlays.Object {
	var out []overlays.Object
	for _, o := range g.in.Repo.Deployed() {
		if o.Doc != nil && o.Is(overlays.GroupCNPG, "ScheduledBackup") && o.Namespace == g.ns && overlays.StringAt(o.Body, "spec", "cluster", "name") == g.old {
			out = append(out, o)
		}
	}
	return out
}

// rename gives an object of the source cluster its restored name: authentik-postgresql-daily
// becomes authentik-postgresql-restored-daily.
func (g *gen) rename(name string) string {
	if strings.HasPrefix(name, g.old) {
		return g.name + strings.TrimPrefix(name, g.old)
	}
	return g.name + "-" + name
}

// removeSourceCluster deletes the source Cluster's document (in place: the overlay replaces
// it), and its file when nothing else is in it.
func (g *gen) removeSourceCluster() error {
	return g.removeDoc(g.src.Cluster)
}

func (g *gen) removeDoc(o overlays.Object) error {
	f := g.current(o.File)
	var doc *yamledit.Doc
	for _, d := range f.Docs {
		if r := d.Root(); r != nil && str(r, "kind") == o.Kind && str(r, "metadata", "name") == o.Name {
			doc = d
		}
	}
	if doc == nil {
		return fmt.Errorf("%s: the document is gone", o)
	}
	out, remains := f.RemoveDoc(doc)
	if remains {
		g.put(o.File, out)
		g.note(o.File, fmt.Sprintf("%s %s removed", o.Kind, o.Name))
		return nil
	}
	g.remove(o.File)
	k, entry := g.in.Repo.IncludedBy(o.File)
	if k == nil {
		return nil
	}
	kf := g.current(k.File.Path)
	out, err := kf.RemoveListItem(kf.Docs[0], []string{"resources"}, entry)
	if err != nil {
		return fmt.Errorf("while removing %s from %s: %w", entry, k.File.Path, err)
	}
	g.put(k.File.Path, out)
	g.note(k.File.Path, "no longer lists "+entry)
	return nil
}

// DefaultWALParallel is how many WAL segments recovery fetches at once unless --wal-parallel
// says otherwise, for the in-tree barmanObjectStore: CloudNativePG honours wal.maxParallel in
// bootstrap from 1.30.1, after the spool race of parallel restore was fixed (barman-cloud
// v0.5.0, cloudnative-pg#10092). The plugin's default is 1 (DefaultPluginWALParallel).
const DefaultWALParallel = 4

// DefaultPluginWALParallel is the barman-cloud plugin's default: parallel restore needs the
// sidecar's spool directory, which the plugin's native sidecar cannot create on a read-only
// root file system (plugin-barman-cloud#1113, open); opt in with --wal-parallel.
const DefaultPluginWALParallel = 1

// RecoveryParallel is how many WAL segments the recovery of src fetches at once with
// --wal-parallel flag (0: not given), and the source's own wal.maxParallel (0: not set; the
// plugin's ObjectStore's or the in-tree barmanObjectStore's). The flag wins; else the source's
// own setting stands; else DefaultWALParallel, or DefaultPluginWALParallel for the plugin.
func RecoveryParallel(src *overlays.Source, flag int) (parallel, own int) {
	var raw string
	if src.Plugin {
		if src.ObjectStore != nil {
			raw = str(src.ObjectStore.Doc.Root(), "spec", "configuration", "wal", "maxParallel")
		}
	} else {
		raw = str(src.Cluster.Doc.Root(), "spec", "backup", "barmanObjectStore", "wal", "maxParallel")
	}
	if n, err := strconv.Atoi(raw); err == nil && n > 0 {
		own = n
	}
	switch {
	case flag > 0:
		return flag, own
	case own > 0:
		return own, own
	case src.Plugin:
		return DefaultPluginWALParallel, own
	}
	return DefaultWALParallel, own
}

// recoveryObjectStore writes an ObjectStore for recovery only — the source's destination,
// credentials and sidecar settings, its own wal.maxParallel, no retention policy (so that it
// never deletes a backup) — and returns its name: the source's ObjectStore, which its live
// cluster archives through, is not touched.
func (g *gen) recoveryObjectStore(parallel int, argo bool) string {
	name := g.name + "-recovery"
	src := g.src.ObjectStore.Doc.Root()
	store := mapping("apiVersion", str(src, "apiVersion"), "kind", "ObjectStore")
	meta := mapping("name", name)
	if ns := str(src, "metadata", "namespace"); ns != "" {
		set(meta, "namespace", scalar(ns))
	}
	if argo {
		set(child(meta, "annotations"), "argocd.argoproj.io/sync-wave", quoted("-3")) // before the Cluster
	}
	set(store, "metadata", meta)
	spec := mapping()
	if conf := get(src, "spec", "configuration"); conf != nil {
		c := deepCopy(conf)
		set(child(c, "wal"), "maxParallel", integer(parallel))
		set(spec, "configuration", c)
	}
	if side := get(src, "spec", "instanceSidecarConfiguration"); side != nil {
		set(spec, "instanceSidecarConfiguration", deepCopy(side))
	}
	set(store, "spec", spec)
	g.recoveryStore = store
	g.res.Notes = append(g.res.Notes, fmt.Sprintf("recovery reads the source's archive through ObjectStore %s, a copy of %s with wal.maxParallel %d and no retention policy: %s itself, which the live cluster archives through, is not changed. Keep %s as long as %s names it in externalClusters: the barman-cloud plugin stops reconciling a cluster whose ObjectStore is missing (plugin-barman-cloud#504)",
		name, g.src.ObjectStore.Name, parallel, g.src.ObjectStore.Name, name, g.name))
	return name
}
