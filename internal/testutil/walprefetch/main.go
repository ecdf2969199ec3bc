// Command walprefetch is the restore_command the recovery tests give PostgreSQL when the
// generated recovery source asks for wal.maxParallel > 1. It does what CloudNativePG's
// `manager wal-restore` does with that setting (barman-cloud's restorer): a segment found in the
// spool directory is moved into place; otherwise the requested segment and the next
// parallel-1 segments of its timeline are fetched at once, each by its own
// barman-cloud-wal-restore, the extra ones into the spool, where the next requests find them.
// A prefetch that finds nothing marks the end of the archive, so the segments after it are
// not asked for again until that end is passed.
//
//	walprefetch -endpoint-url URL -spool DIR -parallel N DESTINATION SERVER WALNAME PATH
//
// It exits 1 when the requested segment is not in the archive (PostgreSQL then ends recovery
// or tries the next timeline, as with barman-cloud-wal-restore).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

func main() {
	endpoint := flag.String("endpoint-url", "", "S3 endpoint")
	spool := flag.String("spool", "", "spool directory for prefetched segments")
	parallel := flag.Int("parallel", 1, "segments fetched at once")
	flag.Parse()
	if flag.NArg() != 4 || *spool == "" || *parallel < 1 {
		fmt.Fprintln(os.Stderr, "usage: walprefetch -endpoint-url URL -spool DIR -parallel N DESTINATION SERVER WALNAME PATH")
		os.Exit(2)
	}
	dest, server, name, target := flag.Arg(0), flag.Arg(1), flag.Arg(2), flag.Arg(3)
	if err := os.MkdirAll(*spool, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := os.Rename(filepath.Join(*spool, name), target); err == nil {
		os.Exit(0)
	}
	endMarker := filepath.Join(*spool, "end-of-wal")
	if end, err := os.ReadFile(endMarker); err == nil && isSegment(name) && string(end[:8]) == name[:8] && string(end) <= name {
		os.Exit(1) // a prefetch already found that this timeline's WAL ends before this segment
	}
	names := []string{name}
	if isSegment(name) {
		for next := name; len(names) < *parallel; {
			next = nextSegment(next)
			names = append(names, next)
		}
	}
	ok := make([]bool, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func(i int, n string) {
			defer wg.Done()
			to := target
			if i > 0 {
				to = filepath.Join(*spool, n+".part")
			}
			args := []string{}
			if *endpoint != "" {
				args = append(args, "--endpoint-url", *endpoint)
			}
			args = append(args, dest, server, n, to)
			cmd := exec.Command("barman-cloud-wal-restore", args...)
			cmd.Stderr = os.Stderr
			ok[i] = cmd.Run() == nil
			if ok[i] && i > 0 {
				ok[i] = os.Rename(to, filepath.Join(*spool, n)) == nil
			}
		}(i, n)
	}
	wg.Wait()
	for i := 1; i < len(names); i++ {
		if !ok[i] {
			_ = os.WriteFile(endMarker, []byte(names[i]), 0o600)
			break
		}
	}
	if !ok[0] {
		os.Exit(1)
	}
}

// isSegment: a WAL segment's name (timeline, log, segment: 24 hex digits), not a history file.
func isSegment(name string) bool {
	if len(name) != 24 {
		return false
	}
	for _, c := range name {
		if !strings.ContainsRune("0123456789ABCDEF", c) {
			return false
		}
	}
	return true
}

// nextSegment is the segment after name on the same timeline, for 16 MiB segments (256 per
// log file), the size the test catalogs use.
func nextSegment(name string) string {
	tli, _ := strconv.ParseUint(name[:8], 16, 32)
	log, _ := strconv.ParseUint(name[8:16], 16, 32)
	seg, _ := strconv.ParseUint(name[16:], 16, 32)
	seg++
	if seg == 0x100 {
		log, seg = log+1, 0
	}
	return fmt.Sprintf("%08X%08X%08X", tli, log, seg)
}
