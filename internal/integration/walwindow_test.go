package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// walEndJSON is what plan -o json says about the end of the WAL.
type walEndJSON struct {
	WALEnd *struct {
		Segment         string `json:"segment"`
		LastTransaction *struct {
			XID  uint32    `json:"xid"`
			Time time.Time `json:"time"`
			LSN  string    `json:"lsn"`
		} `json:"lastTransaction"`
		SegmentsRead int `json:"segmentsRead"`
	} `json:"walEnd"`
	Backup struct {
		ID string `json:"id"`
	} `json:"backup"`
	WAL struct {
		Segments int `json:"segments"`
	} `json:"wal"`
	Checks []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
	Warnings []string `json:"warnings"`
}

func planLocal(t *testing.T, catalogURL string, flags ...string) (walEndJSON, int) {
	t.Helper()
	args := append([]string{"plan", "--cluster", "auth/" + server, "--catalog", catalogURL, "-o", "json"}, flags...)
	r := runTool(t, nil, args...)
	var p walEndJSON
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan %v: exit %d, %v\n%s", flags, r.code, err, r.stderr)
	}
	return p, r.code
}

// TestIntegrationWindowEndsAtTheLastCommit: on the real catalog, plan reads the last
// transaction from the WAL — the a-last marker's transaction, by its xid — and refuses a
// target time just after it, which archive times would have accepted (the segment was uploaded
// later); a copy of the catalog whose files all carry the copy's time (two days on) plans the
// same, says the archive times are off, and still refuses the target.
func TestIntegrationWindowEndsAtTheLastCommit(t *testing.T) {
	skipShort(t)
	ms := readMarkers(t)
	sysA := systemA(t)
	last := markerByLabel(t, ms, "a-last")

	p, code := planLocal(t, localCatalog(), "--system-id", sysA)
	if code != 0 || p.WALEnd == nil || p.WALEnd.LastTransaction == nil {
		t.Fatalf("latest: exit %d, walEnd %+v", code, p.WALEnd)
	}
	lt := p.WALEnd.LastTransaction
	if got := lt.XID; last.xid != "" && strings.TrimSpace(last.xid) != itoa(int(got)) {
		t.Errorf("last transaction xid %d, want a-last's %s", got, last.xid)
	}
	if lt.Time.Before(last.time) || lt.Time.Sub(last.time) > time.Second {
		t.Errorf("last transaction at %s, a-last inserted at %s", lt.Time, last.time)
	}
	// The last segment's upload time (the file's modification time on the S3 server's disk).
	name := p.WALEnd.Segment
	fi, err := os.Stat(filepath.Join(s3Dir(), "catalog", "pg", server, "wals", name[:16], name))
	if err != nil {
		matches, _ := filepath.Glob(filepath.Join(s3Dir(), "catalog", "pg", server, "wals", name[:16], name+".*"))
		if len(matches) == 0 {
			t.Fatal(err)
		}
		fi, _ = os.Stat(matches[0])
	}
	after := lt.Time.Add(time.Microsecond)
	if !after.Before(fi.ModTime()) {
		t.Fatalf("the last segment was uploaded at %s, not after its last transaction %s: no stretch to test", fi.ModTime(), lt.Time)
	}
	p, code = planLocal(t, localCatalog(), "--system-id", sysA, "--target-time", after.UTC().Format(time.RFC3339Nano))
	if code == 0 || !strings.Contains(detail(p, "target-in-window"), "not before the last transaction") {
		t.Errorf("a target %s after the last transaction (uploaded %s): exit %d, %s", after, fi.ModTime(), code, detail(p, "target-in-window"))
	}
	before := lt.Time.Add(-time.Millisecond)
	if p, code := planLocal(t, localCatalog(), "--system-id", sysA, "--target-time", before.UTC().Format(time.RFC3339Nano)); code != 0 {
		t.Errorf("a target just before the last transaction: exit %d, %s", code, detail(p, "target-in-window"))
	}

	// A copy without the times, as a bucket migration two days later makes it: every file
	// carries the copy's time.
	copyDir := filepath.Join(t.TempDir(), "pg")
	if err := os.CopyFS(copyDir, os.DirFS(filepath.Join(s3Dir(), "catalog", "pg"))); err != nil {
		t.Fatal(err)
	}
	copied := time.Now().Add(48 * time.Hour)
	if err := filepath.Walk(copyDir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, copied, copied)
	}); err != nil {
		t.Fatal(err)
	}
	orig, _ := planLocal(t, localCatalog(), "--system-id", sysA)
	cp, code := planLocal(t, "file://"+copyDir, "--system-id", sysA)
	if code != 0 || cp.Backup.ID != orig.Backup.ID || cp.WAL.Segments != orig.WAL.Segments || cp.WALEnd == nil || cp.WALEnd.LastTransaction == nil ||
		*cp.WALEnd.LastTransaction != *orig.WALEnd.LastTransaction {
		t.Errorf("the copy plans differently: exit %d, backup %s/%s, segments %d/%d, walEnd %+v", code, cp.Backup.ID, orig.Backup.ID, cp.WAL.Segments, orig.WAL.Segments, cp.WALEnd)
	}
	if !strings.Contains(strings.Join(cp.Warnings, "\n"), "the catalog was copied or its times were reset") {
		t.Errorf("the copy's plan does not say its archive times are off: %v", cp.Warnings)
	}
	if p, code := planLocal(t, "file://"+copyDir, "--system-id", sysA, "--target-time", after.UTC().Format(time.RFC3339Nano)); code == 0 {
		t.Errorf("the copy accepts a target after the last transaction: %s", detail(p, "target-in-window"))
	}
}

func detail(p walEndJSON, check string) string {
	for _, c := range p.Checks {
		if c.Name == check {
			return c.Detail
		}
	}
	return ""
}
