package restore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/sample"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/restore"
)

// A library user plans and renders the restore of auth/authentik-postgresql from the sample
// catalog (a real barman-cloud catalog holding two database systems) into a GitOps repository
// read as an fs.FS. Nothing is written: the Change holds the files and the pull request.
func Example() {
	dir, err := os.MkdirTemp("", "restore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	root, err := sample.Extract(dir)
	if err != nil {
		log.Fatal(err)
	}
	opts := restore.Options{
		Repo:      "argocd-helm",
		RepoFS:    os.DirFS("../generator/testdata/repos/argocd-helm"),
		Namespace: "auth", Name: "authentik-postgresql",
		// The repo's manifests name an S3 bucket; the sample is a directory copy of it.
		Catalog: root, ServerName: sample.ServerName,
		// The path holds two database systems: choose the original one.
		Target: catalog.Target{SystemID: "7711797346175449542"},
	}

	p, err := restore.Plan(context.Background(), opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("plan ok=%v: backup %s, %s\n", p.OK(), p.Backup.ID, p.Target.Describe())

	ch, err := restore.Render(context.Background(), opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("branch", ch.Branch)
	for _, f := range ch.Files {
		fmt.Printf("%s: %s\n", f.Path, f.Summary)
	}
	fmt.Println(ch.PullRequest.Title)
	// Output:
	// plan ok=true: backup 20261124T175252, the latest point reachable from backup 20261124T175252
	// branch restore/auth/authentik-postgresql-20261124T175252
	// k8s/infrastructure/auth/authentik-postgresql/authentik-postgresql-restored/cluster.yaml: new: Cluster authentik-postgresql-restored
	// k8s/infrastructure/auth/authentik-postgresql/authentik-postgresql-restored/kustomization.yaml: new: Kustomization
	// k8s/infrastructure/auth/authentik-postgresql/authentik-postgresql-restored/scheduledbackup.yaml: new: ScheduledBackup authentik-postgresql-restored-daily
	// k8s/infrastructure/auth/authentik-postgresql/authentik-postgresql-restored/verify.yaml: new: ConfigMap authentik-postgresql-restored-verify, Job authentik-postgresql-restored-verify
	// k8s/infrastructure/auth/authentik-postgresql/kustomization.yaml: includes the restored cluster's overlay authentik-postgresql-restored
	// k8s/infrastructure/auth/authentik.yaml: cutover: 2 reference(s) to authentik-postgresql now name authentik-postgresql-restored
	// Restore auth/authentik-postgresql as auth/authentik-postgresql-restored from backup 20261124T175252
}
