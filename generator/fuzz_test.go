package generator

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cnpg-restore-gen/cnpg-restore-gen/internal/yamledit"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/overlays"
	"github.com/cnpg-restore-gen/cnpg-restore-gen/plan"
)

// FuzzCutover: whatever the YAML, the cutover changes only the intended tokens. Renaming
// the new name back gives the original bytes exactly, and the edited file parses to the
// same tree with only those values changed.
func FuzzCutover(f *testing.F) {
	for _, s := range []string{
		"host: pg-rw\n",
		"a: \"postgres://u@pg-rw.apps.svc:5432/db\"  # c\nb: 'pg-app'\n",
		"v: |\n  host: pg-ro.apps\n  secret: pg-superuser\n",
		"env: [{name: X, value: pg-r}, {name: Y, value: \"pg-rw\\u002e\"}]\n",
		"spec:\n  cluster:\n    name: pg\n",
		"a: &x pg-rw\nb: *x\n",
		"k: >\n  pg-rw\n  folded\n",
		"k: pg-rw.other.svc\nl: pg-app.yaml\n",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/repos/*/*/*/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(bytes.ReplaceAll(b, []byte("shop-db"), []byte("pg")))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<14 || bytes.Contains(data, []byte("pg-restored")) {
			return
		}
		file, err := yamledit.ParseFile("f.yaml", data)
		if err != nil {
			return
		}
		for _, d := range file.Docs {
			var v any
			if d.Node != nil && d.Node.Decode(&v) != nil {
				return // duplicate keys and the like: not a document the tool reads
			}
		}
		repo := &overlays.Repo{Root: ".", Files: []*yamledit.File{file}}
		g := &gen{in: Input{Repo: repo, Plan: &plan.Plan{}}, src: &overlays.Source{}, ns: "apps", old: "pg", name: "pg-restored",
			work: map[string]*yamledit.File{}, orig: map[string][]byte{}, deleted: map[string]bool{}, fileNotes: map[string][]string{},
			res: &Result{}}
		if _, err := g.cutover(); err != nil {
			t.Fatal(err)
		}
		out, ok := g.work["f.yaml"]
		if !ok {
			return
		}
		if back := bytes.ReplaceAll(out.Data, []byte("pg-restored"), []byte("pg")); !bytes.Equal(back, data) {
			t.Fatalf("the cutover changed more than the name:\n%q\n%q", data, out.Data)
		}
		if len(out.Docs) != len(file.Docs) {
			t.Fatalf("%d documents became %d", len(file.Docs), len(out.Docs))
		}
		for i := range file.Docs {
			before, after := plain(t, file.Docs[i].Node), plain(t, out.Docs[i].Node)
			if !reflect.DeepEqual(renameBack(after), before) {
				t.Fatalf("document %d reads back differently:\n%#v\n%#v", i, before, after)
			}
		}
	})
}

func plain(t *testing.T, n *yaml.Node) any {
	var v any
	if n != nil {
		if err := n.Decode(&v); err != nil {
			t.Fatalf("edited document does not decode: %v", err)
		}
	}
	return v
}

func renameBack(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "pg-restored", "pg")
	case map[string]any:
		for k, e := range x {
			x[k] = renameBack(e)
		}
	case map[any]any:
		for k, e := range x {
			x[k] = renameBack(e)
		}
	case []any:
		for i, e := range x {
			x[i] = renameBack(e)
		}
	}
	return v
}
