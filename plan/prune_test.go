package plan

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/catalog"
	ct "github.com/cnpg-restore-gen/cnpg-restore-gen/internal/testutil/catalogtest"
)

// listCounter records which prefixes are listed.
type listCounter struct {
	*ct.MemStore
	mu     sync.Mutex
	listed []string
}

func (l *listCounter) List(ctx context.Context, prefix string, delimited bool, fn func(catalog.Page) error) error {
	l.mu.Lock()
	l.listed = append(l.listed, prefix)
	l.mu.Unlock()
	return l.MemStore.List(ctx, prefix, delimited, fn)
}

// longScenario spans four WAL directories (256 segments each): backups begin at 10, 300, 600.
func longScenario(t *testing.T) *ct.Fixture {
	f := ct.NewFixture(t)
	f.WAL(ct.SysA, 1, 1, 9)
	f.Backup("20260205T000010", ct.SysA, 1, 10, 10)
	f.WAL(ct.SysA, 1, 10, 299)
	f.Backup("20260205T000300", ct.SysA, 1, 300, 300)
	f.WAL(ct.SysA, 1, 300, 599)
	f.Backup("20260205T000600", ct.SysA, 1, 600, 600)
	f.WAL(ct.SysA, 1, 600, 900)
	return f
}

func load(t *testing.T, f *ct.Fixture, walFrom func([]*catalog.Backup) string) (*catalog.Catalog, []string) {
	t.Helper()
	lc := &listCounter{MemStore: f.Store}
	c, err := catalog.Load(context.Background(), lc, catalog.Options{ServerName: "pg", Location: "s3://bucket/prefix", WALFrom: walFrom})
	if err != nil {
		t.Fatal(err)
	}
	return c, lc.listed
}

func walDirs(listed []string) string {
	var dirs []string
	for _, p := range listed {
		if strings.HasPrefix(p, "pg/wals/") && len(p) > len("pg/wals/") {
			dirs = append(dirs, strings.TrimSuffix(strings.TrimPrefix(p, "pg/wals/"), "/"))
		}
	}
	return strings.Join(sortStrings(dirs), ",")
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestPrunedPlanEqualsTheFullPlan(t *testing.T) {
	cases := []struct {
		name   string
		target catalog.Target
		dirs   string
	}{
		{"latest", catalog.Target{}, "0000000100000002,0000000100000003"},
		{"time between the second and third backups", catalog.Target{Time: at("10:00:00")}, "0000000100000001,0000000100000002,0000000100000003"},
		{"backup id", catalog.Target{BackupID: "20260205T000010"}, "0000000100000000,0000000100000001,0000000100000002,0000000100000003"},
	}
	f := longScenario(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			full, _ := load(t, f, nil)
			pruned, listed := load(t, f, catalog.WALFrom(tc.target))
			if got := walDirs(listed); got != tc.dirs {
				t.Errorf("WAL directories listed = %s, want %s", got, tc.dirs)
			}
			in := input(full)
			in.Now = *at("23:00:00")
			in.Target = tc.target
			want, err := Make(in)
			if err != nil || !want.OK() {
				t.Fatalf("full plan: %v %s", err, failed(want))
			}
			in.Catalog = pruned
			got, err := Make(in)
			if err != nil || !got.OK() {
				t.Fatalf("pruned plan: %v %s", err, failed(got))
			}
			if d := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Candidates" }, cmp.Ignore())); d != "" {
				t.Errorf("pruned plan differs (-full +pruned):\n%s", d)
			}
			for _, c := range got.Candidates {
				if c.Chosen || tc.target.BackupID != "" && c.ID > tc.target.BackupID || c.ID > got.Backup.ID {
					continue
				}
				if !strings.Contains(c.Reason, "older than the chosen backup") {
					t.Errorf("candidate %s: %q", c.ID, c.Reason)
				}
			}
		})
	}
}

func TestPrunedPlanFailsWhenItsBackupCannotBeRestored(t *testing.T) {
	f := longScenario(t)
	f.WAL(ct.SysB, 1, 600, 600) // another system overwrote the newest backup's first segment
	pruned, _ := load(t, f, catalog.WALFrom(catalog.Target{}))
	p, err := Make(input(pruned))
	if err != nil || p.OK() {
		t.Fatalf("pruned plan = %v ok=%v, want failed checks (the CLI then plans on a full scan)", err, p.OK())
	}
	full, _ := load(t, f, nil)
	p, err = Make(input(full))
	if err != nil || !p.OK() || p.Backup.ID != "20260205T000300" {
		t.Fatalf("full plan = %v %s backup %v, want the previous backup", err, failed(p), p.Backup)
	}
}
