//go:build unix

package fileset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Lock takes the checkout's lock in state for one run, so that two runs never write one tree
// at once; a second run is refused, naming the first. The lock is the kernel's (flock): a run
// killed with -9 releases it. unlock releases it.
func Lock(state string) (unlock func(), err error) {
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(state, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(p)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another cnpg-restore-gen run (%s) is using this checkout: wait for it to finish, then run again", strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("while locking %s: %w", p, err)
	}
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "pid %d, started %s", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
