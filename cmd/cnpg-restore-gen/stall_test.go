package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/gittest"
)

// staller accepts connections on 127.0.0.1 and never answers, until the test ends.
func staller(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

// TestAStalledServerNeverHangsTheRun: a git server and a forge that accept and never answer
// end the run with an error naming them, within --timeout; after the push, the error says
// what was pushed.
func TestAStalledServerNeverHangsTheRun(t *testing.T) {
	const token = "stall-test-token-1234"
	env := map[string]string{"GITEA_TOKEN": token}
	t.Run("git server", func(t *testing.T) {
		addr := staller(t)
		repo := fixtureRepo(t, "argocd-helm")
		gitIn(t, repo, "remote", "add", "origin", "http://"+addr+"/acme/gitops.git")
		start := time.Now()
		out, errOut, code := executeEnv(t, env, append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge", "gitea", "--timeout", "1s")...)
		if code != exitError || !strings.Contains(errOut, addr) || !strings.Contains(errOut, "did not answer within --timeout (1s)") {
			t.Errorf("exit %d after %s\n%s%s", code, time.Since(start), out, errOut)
		}
	})
	t.Run("forge after the push", func(t *testing.T) {
		addr := staller(t)
		srv := gittest.Start(t, token)
		repo := fixtureRepo(t, "argocd-helm")
		gitIn(t, repo, "remote", "add", "origin", srv.Repo(t, "homelab/gitops", repo, "main"))
		start := time.Now()
		out, errOut, code := executeEnv(t, env, append(prArgs(t, repo, "2026-11-24 17:52:45+00"), "--forge", "gitea", "--forge-url", "http://"+addr+"/", "--timeout", "1s")...)
		if code != exitError || !strings.Contains(errOut, "branch restore/auth/authentik-postgresql-20261124T175236 is pushed to") ||
			!strings.Contains(errOut, addr+" did not answer within --timeout (1s)") {
			t.Errorf("exit %d after %s\n%s%s", code, time.Since(start), out, errOut)
		}
		t.Logf("gave up after %s", time.Since(start).Round(time.Second))
	})
}
