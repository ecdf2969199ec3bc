package catalog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog/catalogtest"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/golden"
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
