// Package waldump runs PostgreSQL's pg_waldump on WAL segments and reads what it prints about
// the records recovery targets are about, for differential tests of the tool's own WAL reader.
package waldump

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// Event is one record as pg_waldump describes it.
type Event struct {
	Kind string // commit, abort, restore-point
	LSN  string // X/Y as pg_waldump prints it, leading zeros dropped
	XID  uint32
	Time time.Time // commits and aborts, to the microsecond
	Name string    // restore points
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s xid %d %s %q", e.Kind, e.LSN, e.XID, e.Time.Format("2006-01-02T15:04:05.000000Z"), e.Name)
}

var (
	line = regexp.MustCompile(`^rmgr: (\S+)\s+len \(rec/tot\):\s*\d+/\s*\d+, tx:\s*(\d+), lsn: ([0-9A-F]+)/([0-9A-F]+), prev [0-9A-F]+/[0-9A-F]+, desc: (\S+) ?(.*)$`)
	when = regexp.MustCompile(`^(?:(\d+): )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) UTC`)
)

// Run runs pg_waldump (bin) from the start of the segment file first to the end of last, in
// UTC, and returns its commits, aborts (prepared ones with the prepared transaction's xid) and
// restore points, and its stderr (where it says why it stopped).
func Run(bin, dir, first, last string) ([]Event, string, error) {
	cmd := exec.Command(bin, "--path", dir, first, last)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, stderr.String(), err
	}
	// pg_waldump exits 1 at the end of valid WAL ("invalid record length"): that is the end,
	// not a failure; a run that printed nothing and failed is one.
	if err != nil && len(out) == 0 {
		return nil, stderr.String(), fmt.Errorf("pg_waldump %s %s: %w: %s", first, last, err, stderr.String())
	}
	var events []Event
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		hi, _ := strconv.ParseUint(m[3], 16, 32)
		lo, _ := strconv.ParseUint(m[4], 16, 32)
		ev := Event{LSN: fmt.Sprintf("%X/%X", hi, lo)}
		xid, _ := strconv.ParseUint(m[2], 10, 32)
		ev.XID = uint32(xid)
		switch {
		case m[1] == "XLOG" && m[5] == "RESTORE_POINT":
			ev.Kind, ev.Name = "restore-point", m[6]
			events = append(events, ev)
			continue
		case m[1] != "Transaction":
			continue
		case m[5] == "COMMIT" || m[5] == "COMMIT_PREPARED":
			ev.Kind = "commit"
		case m[5] == "ABORT" || m[5] == "ABORT_PREPARED":
			ev.Kind = "abort"
		default:
			continue
		}
		w := when.FindStringSubmatch(m[6])
		if w == nil {
			return nil, "", fmt.Errorf("pg_waldump: no time in %q", sc.Text())
		}
		if w[1] != "" {
			x, _ := strconv.ParseUint(w[1], 10, 32)
			ev.XID = uint32(x)
		}
		t, err := time.Parse("2006-01-02 15:04:05.000000", w[2])
		if err != nil {
			return nil, "", err
		}
		ev.Time = t.UTC()
		events = append(events, ev)
	}
	return events, stderr.String(), sc.Err()
}
