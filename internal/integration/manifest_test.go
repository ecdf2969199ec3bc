package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// restoreRepo is a GitOps repository holding the cluster name as its manifest would say,
// archiving into the test catalog (s3://catalog/pg on endpoint): through the legacy in-tree
// barmanObjectStore, or with plugin through the barman-cloud plugin and an ObjectStore.
func restoreRepo(t *testing.T, endpoint, name string, plugin bool) string {
	t.Helper()
	dir := t.TempDir()
	creds := `      s3Credentials:
        accessKeyId: {name: s3, key: ACCESS_KEY_ID}
        secretAccessKey: {name: s3, key: ACCESS_SECRET_KEY}
`
	cluster := `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: ` + name + `
  namespace: auth
spec:
  instances: 1
  imageName: ghcr.io/cloudnative-pg/postgresql:15
  postgresql:
    parameters:
      track_commit_timestamp: "on"
  storage:
    size: 1Gi
`
	resources := "  - cluster.yaml\n"
	files := map[string]string{}
	if plugin {
		// No serverName: the plugin archives under the cluster's own name.
		cluster += `  plugins:
    - name: barman-cloud.cloudnative-pg.io
      isWALArchiver: true
      parameters:
        barmanObjectName: catalog
`
		files["objectstore.yaml"] = `apiVersion: barmancloud.cnpg.io/v1
kind: ObjectStore
metadata:
  name: catalog
  namespace: auth
spec:
  configuration:
    destinationPath: s3://catalog/pg
    endpointURL: ` + endpoint + `
` + strings.ReplaceAll(creds, "      ", "    ")
		resources = "  - objectstore.yaml\n" + resources
	} else {
		cluster += `  backup:
    barmanObjectStore:
      destinationPath: s3://catalog/pg
      endpointURL: ` + endpoint + `
` + creds
	}
	files["cluster.yaml"] = cluster
	files["kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: auth\nresources:\n" + resources
	for file, content := range files {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// generateRestore runs generate on repo for cluster auth/name and returns the directory it
// wrote the change to (a copy of the repository with the change applied).
func generateRestore(t *testing.T, endpoint, repo, name string, flags ...string) string {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"generate", "--repo", repo, "--cluster", "auth/" + name, "--catalog", "s3://catalog/pg",
		"--endpoint-url", endpoint, "--out", out}, flags...)
	r := runTool(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	return out
}

// manifestObject is the part of a Cluster or an ObjectStore the recovery job reads.
type manifestObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		// ObjectStore
		Configuration *barmanStore `yaml:"configuration"`
		// Cluster
		Bootstrap struct {
			Recovery *struct {
				Source         string `yaml:"source"`
				RecoveryTarget *struct {
					BackupID        string `yaml:"backupID"`
					TargetTLI       string `yaml:"targetTLI"`
					TargetXID       string `yaml:"targetXID"`
					TargetName      string `yaml:"targetName"`
					TargetLSN       string `yaml:"targetLSN"`
					TargetTime      string `yaml:"targetTime"`
					TargetImmediate *bool  `yaml:"targetImmediate"`
					Exclusive       *bool  `yaml:"exclusive"`
				} `yaml:"recoveryTarget"`
			} `yaml:"recovery"`
		} `yaml:"bootstrap"`
		ExternalClusters []struct {
			Name              string       `yaml:"name"`
			BarmanObjectStore *barmanStore `yaml:"barmanObjectStore"`
			Plugin            *struct {
				Name       string            `yaml:"name"`
				Parameters map[string]string `yaml:"parameters"`
			} `yaml:"plugin"`
		} `yaml:"externalClusters"`
	} `yaml:"spec"`
}

type barmanStore struct {
	DestinationPath string `yaml:"destinationPath"`
	EndpointURL     string `yaml:"endpointURL"`
	ServerName      string `yaml:"serverName"`
	WAL             struct {
		MaxParallel int `yaml:"maxParallel"`
	} `yaml:"wal"`
}

// cnpgJob is what CloudNativePG's recovery job runs for a Cluster with bootstrap.recovery
// (pkg/management/postgres/restore.go; the barman-cloud plugin's restore job does the same
// with its ObjectStore): barman-cloud-restore [--endpoint-url] destinationPath serverName
// backupID PGDATA, then PostgreSQL with restore_command = barman-cloud-wal-restore of the same
// store, recovery_target_action = promote and RecoveryTarget.BuildPostgresOptions().
type cnpgJob struct {
	endpointURL, destinationPath, serverName, backupID string
	maxParallel                                        int
	recoveryTarget                                     []string // BuildPostgresOptions, in its order
}

// jobFromManifests reads the restored Cluster name from the change in out (and an ObjectStore
// it names from there or from repo) and translates it the way CloudNativePG does.
func jobFromManifests(t *testing.T, repo, out, name string) cnpgJob {
	t.Helper()
	objects := map[string]manifestObject{} // kind/name; out's win over repo's
	for _, dir := range []string{repo, out} {
		err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || !strings.HasSuffix(p, ".yaml") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dec := yaml.NewDecoder(bytes.NewReader(data))
			for {
				var o manifestObject
				if err := dec.Decode(&o); errors.Is(err, io.EOF) {
					return nil
				} else if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				if o.Kind == "Cluster" || o.Kind == "ObjectStore" {
					objects[o.Kind+"/"+o.Metadata.Name] = o
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c, ok := objects["Cluster/"+name]
	if !ok || c.Spec.Bootstrap.Recovery == nil {
		t.Fatalf("the change in %s has no Cluster %s with bootstrap.recovery", out, name)
	}
	rec := c.Spec.Bootstrap.Recovery
	var job cnpgJob
	found := false
	for _, ec := range c.Spec.ExternalClusters {
		if ec.Name != rec.Source {
			continue
		}
		found = true
		switch {
		case ec.BarmanObjectStore != nil:
			s := ec.BarmanObjectStore
			job.destinationPath, job.endpointURL, job.maxParallel = s.DestinationPath, s.EndpointURL, s.WAL.MaxParallel
			job.serverName = s.ServerName
			if job.serverName == "" {
				job.serverName = ec.Name // ExternalCluster.GetServerName
			}
		case ec.Plugin != nil && ec.Plugin.Name == "barman-cloud.cloudnative-pg.io":
			store, ok := objects["ObjectStore/"+ec.Plugin.Parameters["barmanObjectName"]]
			if !ok || store.Spec.Configuration == nil {
				t.Fatalf("externalClusters %s names ObjectStore %q, which neither the repo nor the change holds", ec.Name, ec.Plugin.Parameters["barmanObjectName"])
			}
			s := store.Spec.Configuration
			job.destinationPath, job.endpointURL, job.maxParallel = s.DestinationPath, s.EndpointURL, s.WAL.MaxParallel
			job.serverName = ec.Plugin.Parameters["serverName"]
			if job.serverName == "" {
				job.serverName = name // the plugin's default: the restored cluster's own name
			}
		default:
			t.Fatalf("externalClusters %s has neither barmanObjectStore nor the barman-cloud plugin", ec.Name)
		}
	}
	if !found {
		t.Fatalf("bootstrap.recovery.source %q is not in externalClusters", rec.Source)
	}
	tg := rec.RecoveryTarget
	if tg == nil || tg.BackupID == "" {
		// Without backupID the job picks a backup itself (FindBackupInfo / LatestBackupInfo);
		// the generated manifest always pins one.
		t.Fatalf("the generated Cluster does not pin recoveryTarget.backupID: %+v", tg)
	}
	job.backupID = tg.BackupID
	add := func(format string, v any) { job.recoveryTarget = append(job.recoveryTarget, fmt.Sprintf(format, v)) }
	if tg.TargetTLI != "" {
		add("recovery_target_timeline = '%v'", tg.TargetTLI)
	}
	if tg.TargetXID != "" {
		add("recovery_target_xid = '%v'", tg.TargetXID)
	}
	if tg.TargetName != "" {
		add("recovery_target_name = '%v'", tg.TargetName)
	}
	if tg.TargetLSN != "" {
		add("recovery_target_lsn = '%v'", tg.TargetLSN)
	}
	if tg.TargetTime != "" {
		add("recovery_target_time = '%v'", postgresTime(tg.TargetTime))
	}
	if tg.TargetImmediate != nil && *tg.TargetImmediate {
		job.recoveryTarget = append(job.recoveryTarget, "recovery_target = immediate")
	}
	if tg.Exclusive != nil && *tg.Exclusive {
		job.recoveryTarget = append(job.recoveryTarget, "recovery_target_inclusive = false")
	} else {
		job.recoveryTarget = append(job.recoveryTarget, "recovery_target_inclusive = true")
	}
	return job
}

// postgresTime is CloudNativePG's ConvertToPostgresFormat: an RFC 3339 time becomes
// "2006-01-02 15:04:05.000000Z07:00"; anything else is passed on as written.
func postgresTime(s string) string {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return tm.Format("2006-01-02 15:04:05.000000Z07:00")
}

var (
	walprefetchOnce sync.Once
	walprefetchBin  string
	walprefetchErr  error
)

// walprefetch builds internal/testutil/walprefetch, the restore_command for maxParallel > 1.
func walprefetch(t *testing.T) string {
	t.Helper()
	walprefetchOnce.Do(func() {
		walprefetchBin = filepath.Join(filepath.Dir(tool), "walprefetch")
		cmd := exec.Command("go", "build", "-o", walprefetchBin, "./internal/testutil/walprefetch")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			walprefetchErr = fmt.Errorf("go build walprefetch: %w\n%s", err, out)
		}
	})
	if walprefetchErr != nil {
		t.Fatal(walprefetchErr)
	}
	return walprefetchBin
}

// restoreCommand is the job's restore_command: barman-cloud-wal-restore, or with maxParallel
// above 1 the prefetching equivalent of CloudNativePG's wal-restore.
func (j cnpgJob) restoreCommand(t *testing.T, spool string) string {
	endpoint := ""
	if j.endpointURL != "" {
		endpoint = "--endpoint-url " + j.endpointURL + " "
	}
	if j.maxParallel > 1 {
		return fmt.Sprintf("%s %s-spool %s -parallel %d %s %s %%f %%p", walprefetch(t), endpoint, spool, j.maxParallel, j.destinationPath, j.serverName)
	}
	return fmt.Sprintf("barman-cloud-wal-restore %s%s %s %%f %%p", endpoint, j.destinationPath, j.serverName)
}
