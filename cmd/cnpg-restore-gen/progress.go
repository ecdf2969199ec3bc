package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints "listed N objects, read M files (R/s)" on one terminal line, at most 10
// times a second.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  time.Time
	shown bool
}

func (p *progress) update(listed, fetched int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(listed) / now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\r\033[Kscanning catalog: %d objects listed, %d files read (%.0f objects/s)", listed, fetched, rate)
	p.shown = true
}

// updater is the catalog.Options.Progress of p, nil for no progress.
func (p *progress) updater() func(listed, fetched int64) {
	if p == nil {
		return nil
	}
	return p.update
}

// done clears the line; a nil progress does nothing.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
