package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// HistoryEntry is one line of a timeline history file: the timeline Parent ended at Switch,
// where its child began.
type HistoryEntry struct {
	Parent uint32
	Switch LSN
	Reason string
}

// ParseHistory decodes the content of TTTTTTTT.history for timeline tli, as PostgreSQL's
// readTimeLineHistory does: "parentTLI<TAB>X/Y<TAB>reason" lines, blank lines and # comments
// skipped. Parents must be increasing and older than tli.
func ParseHistory(tli uint32, data []byte, source string) ([]HistoryEntry, error) {
	var out []HistoryEntry
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, "\t", 3)
		if len(fields) < 2 {
			fields = strings.Fields(line)
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: %q is not \"<timeline> <TAB> <switch LSN>\"", source, n+1, clip(line))
		}
		parent, err := strconv.ParseUint(strings.TrimSpace(fields[0]), 10, 32)
		if err != nil || parent == 0 {
			return nil, fmt.Errorf("%s:%d: %q is not a timeline ID", source, n+1, clip(fields[0]))
		}
		lsn, err := ParseLSN(strings.TrimSpace(fields[1]))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", source, n+1, err)
		}
		e := HistoryEntry{Parent: uint32(parent), Switch: lsn}
		if len(fields) == 3 {
			e.Reason = strings.TrimSpace(fields[2])
		}
		if len(out) > 0 {
			prev := out[len(out)-1]
			if e.Parent <= prev.Parent {
				return nil, fmt.Errorf("%s:%d: timeline IDs must increase (%d after %d)", source, n+1, e.Parent, prev.Parent)
			}
			if e.Switch < prev.Switch {
				return nil, fmt.Errorf("%s:%d: switch point %s is before the previous one %s", source, n+1, e.Switch, prev.Switch)
			}
		}
		if e.Parent >= tli {
			return nil, fmt.Errorf("%s:%d: parent timeline %d is not older than timeline %d", source, n+1, e.Parent, tli)
		}
		out = append(out, e)
	}
	if len(out) == 0 && tli > 1 {
		return nil, fmt.Errorf("%s: history of timeline %d names no parent timeline", source, tli)
	}
	return out, nil
}

// TimelineSpan is one step of a timeline path: WAL on TLI from Begin (inclusive) to End
// (exclusive); End is 0 for the last, open-ended step.
type TimelineSpan struct {
	TLI        uint32
	Begin, End LSN
}

// Contains reports whether lsn falls in the span.
func (s TimelineSpan) Contains(lsn LSN) bool {
	return lsn >= s.Begin && (s.End == 0 || lsn < s.End)
}

// Path returns the ancestry of timeline tli as spans, oldest first, given its history entries.
func Path(tli uint32, history []HistoryEntry) []TimelineSpan {
	out := make([]TimelineSpan, 0, len(history)+1)
	var begin LSN
	for _, e := range history {
		out = append(out, TimelineSpan{TLI: e.Parent, Begin: begin, End: e.Switch})
		begin = e.Switch
	}
	return append(out, TimelineSpan{TLI: tli, Begin: begin})
}
