//go:build !unix

package fileset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Lock takes the checkout's lock in state for one run. Without flock, the lock is a file
// created exclusively; one left by a killed run must be removed by hand (the message says so).
func Lock(state string) (unlock func(), err error) {
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(state, "lock.pid")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		holder, _ := os.ReadFile(p)
		return nil, fmt.Errorf("another cnpg-restore-gen run (%s) is using this checkout: wait for it to finish; if none is running, delete %s", holder, p)
	}
	if err != nil {
		return nil, err
	}
	_, _ = fmt.Fprintf(f, "pid %d, started %s", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	_ = f.Close()
	return func() { _ = os.Remove(p) }, nil
}
