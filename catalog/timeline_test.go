package catalog_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/golden"
)

func TestTimelinePictureShowsBackupsWALRunsAndGaps(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.DeleteWAL(1, 5)
	f.DeleteWAL(1, 6)
	c := f.Load()
	spans := c.Spans()
	var gaps []catalog.Span
	for _, s := range spans {
		if s.Kind == catalog.SpanGap {
			gaps = append(gaps, s)
		}
	}
	if len(gaps) != 1 || !strings.Contains(gaps[0].Label, "gap, 2 segments missing from 000000010000000000000005") {
		t.Fatalf("gaps = %+v, want one of segments 5 and 6", gaps)
	}
	if !gaps[0].To.After(gaps[0].From) {
		t.Errorf("gap runs from %s to %s: it should span the time between the runs", gaps[0].From, gaps[0].To)
	}
	at := gaps[0].To.Add(time.Minute)
	got := catalog.Mermaid("pg-main: what can be restored", spans, "20260205T040001", []catalog.Mark{{Label: "target: time", At: at}})
	golden.Assert(t, "catalog", ".mmd", []byte(got))
}

func TestTimelinePictureKeepsTheNewestBarsAndTheChosenBackup(t *testing.T) {
	base := time.Date(2026, 2, 5, 0, 0, 0, 0, time.UTC)
	var spans []catalog.Span
	for i := range 40 {
		at := base.Add(time.Duration(i) * time.Hour)
		spans = append(spans, catalog.Span{Kind: catalog.SpanBackup, ID: at.Format("20060102T150405"), Label: at.Format("20060102T150405"), From: at, To: at.Add(time.Minute), Usable: true})
	}
	got := catalog.Mermaid("t", spans, "20260205T000000", nil)
	if !strings.Contains(got, "9 older not shown") {
		t.Errorf("no count of the bars left out:\n%s", got)
	}
	if !strings.Contains(got, "20260205T000000 :active") {
		t.Errorf("the chosen (oldest) backup was dropped:\n%s", got)
	}
	if strings.Contains(got, "20260205T010000 ") {
		t.Errorf("an old backup was kept over the newest:\n%s", got)
	}
}

func TestMermaidLabelsCannotBreakTheChart(t *testing.T) {
	got := catalog.Mermaid("a: b", []catalog.Span{{Kind: catalog.SpanBackup, ID: "x", Label: "x: y#z;\nsection evil", From: time.Unix(0, 0), To: time.Unix(60, 0)}}, "", nil)
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "section evil") {
			t.Fatalf("a label started a section:\n%s", got)
		}
	}
}

func TestTextTimeline(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.DeleteWAL(1, 5)
	got := catalog.Text(f.Load().Spans(), 60)
	golden.Assert(t, "catalog", ".txt", []byte(got))
	for _, want := range []string{"backups", "WAL timeline 1", "WAL timeline 2", "!", "B"} {
		if !strings.Contains(got, want) {
			t.Errorf("picture lacks %q:\n%s", want, got)
		}
	}
}

// TestPictureDrawsEachSystemsWALApart: a rebuilt cluster that overwrote timeline 1's first
// segments gets its own WAL bar, beside the old system's, in both renderers: one shared
// "timeline 1" bar would hide the very overwrite the picture is for.
func TestPictureDrawsEachSystemsWALApart(t *testing.T) {
	f := catalogtest.Healthy(t)
	f.WAL(catalogtest.SysB, 1, 1, 3)
	f.Backup("20260210T090949", catalogtest.SysB, 1, 2, 2)
	c := f.Load()
	var bars []string
	for _, s := range c.Spans() {
		if s.Kind == catalog.SpanWAL {
			bars = append(bars, fmt.Sprintf("tl%d %s %s", s.Timeline, s.SystemID, s.Label))
		}
	}
	want := []string{
		"tl1 " + catalogtest.SysB + " 3 segments 000000010000000000000001 to 000000010000000000000003",
		"tl1 " + catalogtest.SysA + " 4 segments 000000010000000000000004 to 000000010000000000000007",
		"tl2 " + catalogtest.SysA + " 5 segments 000000020000000000000008 to 00000002000000000000000C",
	}
	if strings.Join(bars, "\n") != strings.Join(want, "\n") {
		t.Errorf("WAL bars:\n%s\nwant:\n%s", strings.Join(bars, "\n"), strings.Join(want, "\n"))
	}
	mmd := catalog.Mermaid("pg", c.Spans(), "", nil)
	text := catalog.Text(c.Spans(), 60)
	for _, want := range []string{"WAL timeline 1, system " + catalogtest.SysA, "WAL timeline 1, system " + catalogtest.SysB, "WAL timeline 2, system " + catalogtest.SysA} {
		if !strings.Contains(text, want+" ") {
			t.Errorf("text picture lacks row %q:\n%s", want, text)
		}
	}
	// Mermaid: a short section per timeline and system (long titles overlap the bars), the
	// system named in each bar.
	if strings.Count(mmd, "section WAL TL 1\n") != 2 || strings.Count(mmd, "section WAL TL 2\n") != 1 {
		t.Errorf("Mermaid sections:\n%s", mmd)
	}
	for _, want := range []string{"3 segments 000000010000000000000001 to 000000010000000000000003, system " + catalogtest.SysB, "4 segments 000000010000000000000004 to 000000010000000000000007, system " + catalogtest.SysA} {
		if !strings.Contains(mmd, want+" :") {
			t.Errorf("Mermaid lacks bar %q:\n%s", want, mmd)
		}
	}
	// One system: the rows keep their short names.
	if one := catalog.Text(catalogtest.Healthy(t).Load().Spans(), 60); strings.Contains(one, "system") {
		t.Errorf("a single system's picture names systems:\n%s", one)
	}
}
