package fileset

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The child side of TestKill9LeavesTheTreeUntouchedOrComplete: the test binary, run with
// OVERLAYS_KILL_ROOT set, writes killChanges into that root and exits.
func TestMain(m *testing.M) {
	if root := os.Getenv("OVERLAYS_KILL_ROOT"); root != "" {
		if err := (Writer{Root: root, State: os.Getenv("OVERLAYS_KILL_STATE")}).Write(killChanges()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// killSeed is the tree before: 20 manifests in 4 directories.
func killSeed(t *testing.T, root string) {
	t.Helper()
	for i := range 20 {
		p := filepath.Join(root, fmt.Sprintf("apps/d%d/m%02d.yaml", i%4, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("kind: X\nname: m%02d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// killChanges edits 10 files, deletes 3 and adds 30 under new directories: a wide window.
func killChanges() []File {
	var out []File
	for i := range 10 {
		out = append(out, File{Path: fmt.Sprintf("apps/d%d/m%02d.yaml", i%4, i), Content: []byte(fmt.Sprintf("kind: X\nname: m%02d-restored\n", i))})
	}
	for i := 10; i < 13; i++ {
		out = append(out, File{Path: fmt.Sprintf("apps/d%d/m%02d.yaml", i%4, i), Delete: true})
	}
	for i := range 30 {
		out = append(out, File{Path: fmt.Sprintf("apps/restored/r%d/o%02d.yaml", i%5, i), Content: []byte(fmt.Sprintf("kind: Cluster\nname: o%02d\n", i))})
	}
	return out
}

func same(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestKill9LeavesTheTreeUntouchedOrComplete kills a real process writing a change at random
// moments, hundreds of times. Each time, the tree is as before or holds the whole change, or
// the journal says the change was committed; after the next run's Recover it is as before or
// complete, and no temporary file is left anywhere, in the tree or in the state directory.
func TestKill9LeavesTheTreeUntouchedOrComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a real process hundreds of times (run without -short)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() (root, state string) {
		dir := t.TempDir()
		root, state = filepath.Join(dir, "tree"), filepath.Join(dir, "state")
		killSeed(t, root)
		return root, state
	}
	child := func(root, state string) *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "OVERLAYS_KILL_ROOT="+root, "OVERLAYS_KILL_STATE="+state)
		return cmd
	}
	root, state := fresh()
	before := snapshot(t, root)
	start := time.Now()
	if out, err := child(root, state).CombinedOutput(); err != nil {
		t.Fatalf("a run to the end: %v\n%s", err, out)
	}
	full := time.Since(start)
	after := snapshot(t, root)
	counts := map[string]int{}
	const runs = 300
	for i := range runs {
		root, state := fresh()
		cmd := child(root, state)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(full) * 12 / 10)))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		now := snapshot(t, root)
		_, jerr := os.Stat(filepath.Join(state, journalFile))
		switch {
		case same(now, before):
			counts["untouched"]++
		case same(now, after):
			counts["complete"]++
		case jerr == nil:
			counts["committed, completed by the next run"]++
		default:
			t.Fatalf("run %d: killed, the tree is neither as before nor complete, and no journal says what to finish", i)
		}
		if _, err := Recover(state); err != nil {
			t.Fatalf("run %d: Recover: %v", i, err)
		}
		if now := snapshot(t, root); !same(now, before) && !same(now, after) {
			t.Fatalf("run %d: after Recover the tree is neither as before nor complete", i)
		}
		for p := range snapshot(t, root) {
			if strings.Contains(p, ".cnpg-restore-gen-") {
				t.Fatalf("run %d: a temporary file in the tree: %s", i, p)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(state, stagingDir, "*")); len(left) > 0 {
			t.Fatalf("run %d: %d temporary files left in the state directory after Recover", i, len(left))
		}
	}
	t.Logf("%d kills within %s (one run to the end): %v", runs, full.Round(time.Millisecond), counts)
}

// TestASecondRunOnTheCheckoutIsRefused: the lock names the run holding it, and is free again
// once released.
func TestASecondRunOnTheCheckoutIsRefused(t *testing.T) {
	state := t.TempDir()
	unlock, err := Lock(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(state); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("another cnpg-restore-gen run (pid %d, started", os.Getpid())) {
		t.Errorf("second Lock = %v, want a refusal naming the first run", err)
	}
	unlock()
	again, err := Lock(state)
	if err != nil {
		t.Errorf("Lock after unlock: %v", err)
	} else {
		again()
	}
}
