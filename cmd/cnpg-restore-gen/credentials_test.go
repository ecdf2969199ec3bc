package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/sample"
)

// TestTokenGoesOnlyWhereTheUserSendsIt attacks the token's destination: a repository that
// names its own forge host, and plain http across a network. Each run is refused before the
// token is read or anything is sent (the hosts do not exist: a request would fail differently).
func TestTokenGoesOnlyWhereTheUserSendsIt(t *testing.T) {
	const canary = "CANARY-forge-token-8c1e"
	env := map[string]string{"GITEA_TOKEN": canary}
	t.Run("forgeURL from the repository", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		gitIn(t, repo, "remote", "add", "origin", "https://git.example.com/acme/gitops.git")
		if err := os.WriteFile(filepath.Join(repo, ".cnpg-restore-gen.yaml"), []byte("forge: gitea\nforgeURL: https://collector.example.net/\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		gitIn(t, repo, "add", ".")
		gitIn(t, repo, "commit", "-qm", "a forge URL chosen by whoever can commit")
		out, errOut, code := executeEnv(t, env, prArgs(t, repo, "2026-11-24 17:52:45+00")...)
		if code != exitError || !strings.Contains(errOut, "sets forgeURL https://collector.example.net/, whose host collector.example.net is not the remote's (git.example.com)") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
		// The user's own --forge-url is trusted.
		_, errOut, _ = executeEnv(t, env, append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge-url", "https://collector.example.net/")...)
		if strings.Contains(errOut, "sets forgeURL") {
			t.Errorf("--forge-url from the command line was refused: %s", errOut)
		}
		if strings.Contains(out+errOut, canary) {
			t.Errorf("the token is in the output")
		}
	})
	t.Run("plain http to a network host", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		gitIn(t, repo, "remote", "add", "origin", "http://git.example.com/acme/gitops.git")
		out, errOut, code := executeEnv(t, env, append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge", "gitea")...)
		if code != exitError || !strings.Contains(errOut, "plain http:// on git.example.com, not loopback") || !strings.Contains(errOut, "--allow-plain-http") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})
}

// TestCredentialsInURLsAreNeverPrinted: a token given as a URL's user alone (which Go's
// url.Redacted lets through), a remote carrying one, and an S3 endpoint with user:password
// appear in no message.
func TestCredentialsInURLsAreNeverPrinted(t *testing.T) {
	const userOnly, remoteTok, s3pass = "ghp_CANARYuserOnly41", "CANARYremoteTok77", "CANARYs3pass0912"
	t.Run("--repo URL", func(t *testing.T) {
		root, _ := sampleCatalog(t)
		out, errOut, code := execute(t, "pr", "--repo", "https://"+userOnly+"@127.0.0.1:1/acme/gitops.git", "--cluster", "auth/authentik-postgresql",
			"--catalog", root, "--forge", "gitea", "--quiet")
		t.Log(errOut)
		if code == exitOK || strings.Contains(out+errOut, userOnly) {
			t.Errorf("exit %d; the token must not be printed:\n%s%s", code, out, errOut)
		}
	})
	t.Run("the checkout's remote", func(t *testing.T) {
		repo := fixtureRepo(t, "argocd-helm")
		gitIn(t, repo, "remote", "add", "origin", "https://"+remoteTok+"@127.0.0.1:1/acme/gitops.git")
		out, errOut, code := execute(t, append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge", "gitea")...)
		t.Log(errOut)
		if code == exitOK || strings.Contains(out+errOut, remoteTok) {
			t.Errorf("exit %d; the remote's token must not be printed:\n%s%s", code, out, errOut)
		}
	})
	t.Run("an S3 endpoint with user:password", func(t *testing.T) {
		out, errOut, code := execute(t, "plan", "--cluster", "auth/pg", "--catalog", "s3://bucket/prefix", "--endpoint-url", "https://minio:"+s3pass+"@127.0.0.1:1", "--timeout", "2s")
		t.Log(errOut)
		if code == exitOK || strings.Contains(out+errOut, s3pass) {
			t.Errorf("exit %d; the password must not be printed:\n%s%s", code, out, errOut)
		}
	})
}

// TestNamesFromTheBucketCannotDriveTheTerminal: an object key holding an escape sequence is
// printed escaped in tables, warnings and the Mermaid chart; JSON keeps it exactly.
func TestNamesFromTheBucketCannotDriveTheTerminal(t *testing.T) {
	root, _ := sampleCatalog(t)
	evil := "20261124T999999\x1b[2J\x1b[31mALL OK"
	dir := filepath.Join(root, sample.ServerName, "base", evil)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.tar"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"table", "mermaid"} {
		out, errOut, _ := execute(t, "catalog", "list", "--catalog", root, "--server-name", sample.ServerName, "-o", format)
		if strings.ContainsRune(out+errOut, 0x1b) {
			t.Errorf("-o %s: a raw escape character reached the terminal:\n%q", format, out+errOut)
		}
		if format == "table" && !strings.Contains(out+errOut, `\x1B[2J`) {
			t.Errorf("-o table: the odd name is not shown escaped:\n%s", out)
		}
	}
	out, _, _ := execute(t, "catalog", "list", "--catalog", root, "--server-name", sample.ServerName, "-o", "json")
	if !strings.Contains(out, `20261124T999999\u001b[2J\u001b[31mALL OK`) {
		t.Errorf("-o json does not keep the key exactly")
	}
}
