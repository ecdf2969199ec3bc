package restore

import (
	"fmt"
	"strings"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/generator"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// repoFacts is what the repository says that the plan needs.
type repoFacts struct {
	taken []plan.Object // every object, for the name-collision check
	notes []string      // for the plan's warnings
	// destination is where the restored cluster will archive (the source's destinationPath);
	// serverNames are the server names live clusters of the repo archive to there.
	destination string
	serverNames []plan.TakenServerName
	// restores are the Clusters already restored from the source's archive.
	restores []string
	// walParallel is how many WAL segments the recovery the change writes fetches at once.
	walParallel int
}

// discover fills the catalog options left empty from the source cluster's manifests, and
// returns what the repository says that the plan needs.
func discover(o *Options, repo *overlays.Repo, src *overlays.Source) *repoFacts {
	f := &repoFacts{destination: src.Catalog, taken: []plan.Object{}}
	f.walParallel, _ = generator.RecoveryParallel(src, o.WALParallel)
	if o.Catalog == "" {
		o.Catalog = src.Catalog
	}
	if o.EndpointURL == "" {
		o.EndpointURL = src.EndpointURL
	}
	if o.ServerName == "" {
		o.ServerName = src.ServerName
	}
	if src.EndpointCASecret != "" && o.CABundle == "" {
		f.notes = append(f.notes, fmt.Sprintf("%s trusts the CA in secret %s: if the endpoint's certificate is private, pass that CA with --ca-bundle", src.Cluster.Name, src.EndpointCASecret))
	}
	if w := generator.SkipEmptyWALArchiveCheckWarning(src); w != "" {
		f.notes = append(f.notes, w)
	}
	if m := repo.Model(); m != nil {
		f.notes = append(f.notes, m.Problems...)
	}
	// Only what the controller applies: CI workflows, task files and archives are not the
	// restore's business. SOPS-encrypted files are the cutover's (one note there): the plan
	// reads the catalog, not secrets.
	for _, sk := range repo.Skipped {
		if repo.Deploys(sk.File) && !strings.HasPrefix(sk.Reason, "SOPS") {
			f.notes = append(f.notes, fmt.Sprintf("%s was not read (%s)", sk.File, sk.Reason))
		}
	}
	for _, obj := range repo.Objects {
		f.taken = append(f.taken, plan.Object{Kind: obj.Kind, Namespace: obj.Namespace, Name: obj.Name})
	}
	// The source archives to its manifests' server name, whatever the catalog read is called.
	f.serverNames = append(f.serverNames, plan.TakenServerName{ServerName: src.ServerName, By: "the source cluster " + at(src.Cluster)})
	for _, r := range repo.RestoresOf(src, o.ServerName) {
		f.restores = append(f.restores, at(r))
	}
	for _, u := range repo.ArchiveUsers(src.Catalog) {
		f.serverNames = append(f.serverNames, plan.TakenServerName{ServerName: u.ServerName, By: "Cluster " + at(u.Cluster)})
	}
	return f
}

// unresolved refuses a source whose catalog location comes from a substitution variable the
// repository does not define, unless the option gives the value.
func (o *Options) unresolved(src *overlays.Source) error {
	for _, f := range []struct{ field, given, flag string }{
		{"destinationPath", o.Catalog, "--catalog"}, {"endpointURL", o.EndpointURL, "--endpoint-url"}, {"serverName", o.ServerName, "--server-name"},
	} {
		if why, ok := src.Unresolved[f.field]; ok && f.given == "" {
			return inputErrorf("%s; pass the value with %s", why, f.flag)
		}
	}
	return nil
}

// at names an object with where it is declared: "auth/pg (apps/auth/pg.yaml:3)".
func at(o overlays.Object) string {
	return fmt.Sprintf("%s/%s (%s:%d)", o.Namespace, o.Name, o.File, o.Line)
}

// branch is the pull request's branch: Options.Branch, the template, or
// restore/<namespace>/<name>-<backup ID | cutover | cleanup>.
func (o *Options) branch(ch *Change) string {
	switch {
	case o.Branch != "":
		return o.Branch
	case o.BranchTemplate != "" && ch.Plan != nil:
		return strings.NewReplacer("{namespace}", o.Namespace, "{cluster}", o.Name, "{backup}", ch.Plan.Target.BackupID).Replace(o.BranchTemplate)
	}
	prefix := "restore/" + o.Namespace + "/" + o.Name + "-"
	switch {
	case o.Cleanup:
		return prefix + "cleanup"
	case o.Phase == generator.PhaseCutover:
		return prefix + "cutover"
	case ch.Plan != nil && ch.Plan.Target.BackupID != "":
		return prefix + ch.Plan.Target.BackupID
	}
	return prefix + ch.Restored
}

// commitMessage is the pull request's title, one line per changed file, and where the plan is.
func commitMessage(ch *Change) string {
	var b strings.Builder
	b.WriteString(ch.PullRequest.Title)
	b.WriteString("\n\n")
	for _, f := range ch.Files {
		fmt.Fprintf(&b, "- %s: %s\n", f.Path, f.Summary)
	}
	b.WriteString("\nMade by cnpg-restore-gen; the pull request's description is the restore plan.\n")
	return b.String()
}
