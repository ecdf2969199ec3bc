package yamledit

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func parse(t *testing.T, src string) *File {
	t.Helper()
	f, err := ParseFile("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSpanLocatesEachScalarStyle(t *testing.T) {
	src := "# c\n---\na: plain-value  # comment\nb: \"double \\\" quoted\"\nc: 'single ''quoted'''\nd: |\n  line one\n  line two\ne: [x, \"y\"]\nf: é-ünïcode\ng: pre-\u00e9 tail\n"
	f := parse(t, src)
	if len(f.Docs) != 2 || f.Docs[0].Root() != nil {
		t.Fatalf("want a comment-only document and the mapping, got %d documents", len(f.Docs))
	}
	root := f.Docs[1].Root()
	want := map[string]string{
		"a": "plain-value",
		"b": `"double \" quoted"`,
		"c": `'single ''quoted'''`,
		"d": "  line one\n  line two\n",
		"f": "é-ünïcode",
		"g": "pre-é tail",
	}
	for k, w := range want {
		_, n := Lookup(root, k)
		s, e, ok := f.Span(n)
		if !ok || src[s:e] != w {
			t.Errorf("Span(%s) = %q, %v; want %q", k, src[s:e], ok, w)
		}
	}
	_, seq := Lookup(root, "e")
	if s, e, ok := f.Span(seq.Content[1]); !ok || src[s:e] != `"y"` {
		t.Errorf("Span(e[1]) = %q %v", src[s:e], ok)
	}
	if root.Line != 3 {
		t.Errorf("line numbers are not counted from the start of the file")
	}
}

func TestDocumentsHaveByteRanges(t *testing.T) {
	src := "a: 1\n---\nb: 2\n--- # x\nc: 3\n"
	f := parse(t, src)
	if len(f.Docs) != 3 {
		t.Fatalf("%d documents", len(f.Docs))
	}
	var got []string
	for _, d := range f.Docs {
		got = append(got, src[d.Start:d.End])
	}
	if strings.Join(got, "|") != "a: 1\n|---\nb: 2\n|--- # x\nc: 3\n" {
		t.Errorf("documents = %q", got)
	}
	out, remains := f.RemoveDoc(f.Docs[1])
	if string(out) != "a: 1\n--- # x\nc: 3\n" || !remains {
		t.Errorf("RemoveDoc = %q %v", out, remains)
	}
}

func TestAddListItemKeepsStyle(t *testing.T) {
	cases := []struct{ src, want string }{
		{"resources:\n  - a.yaml\n  - b.yaml  # note\nnamespace: x\n", "resources:\n  - a.yaml\n  - b.yaml  # note\n  - new\nnamespace: x\n"},
		{"resources:\n- a.yaml\n", "resources:\n- a.yaml\n- new\n"},
		{"resources: [a.yaml, b.yaml]\n", "resources: [a.yaml, b.yaml, new]\n"},
		{"resources: []\n", "resources: [new]\n"},
		{"kind: Kustomization\n", "kind: Kustomization\nresources:\n  - new\n"},
		{"kind: Kustomization", "kind: Kustomization\nresources:\n  - new\n"},
		{"resources:\r\n  - a.yaml\r\n", "resources:\r\n  - a.yaml\r\n  - new\r\n"},
	}
	for _, tc := range cases {
		f := parse(t, tc.src)
		got, err := f.AddListItem(f.Docs[0], []string{"resources"}, "new")
		if err != nil || string(got) != tc.want {
			t.Errorf("AddListItem(%q) = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
	f := parse(t, "spec:\n  path: ./apps\n  dependsOn:\n    - name: db\n")
	got, err := f.AddListItem(f.Docs[0], []string{"spec", "dependsOn"}, map[string]any{"name": "pg-restored"})
	if err != nil || string(got) != "spec:\n  path: ./apps\n  dependsOn:\n    - name: db\n    - name: pg-restored\n" {
		t.Errorf("AddListItem(mapping) = %q, %v", got, err)
	}
	f = parse(t, "spec:\n  path: ./apps\n  prune: true\n")
	got, err = f.AddListItem(f.Docs[0], []string{"spec", "dependsOn"}, map[string]any{"name": "pg-restored"})
	if err != nil || string(got) != "spec:\n  path: ./apps\n  prune: true\n  dependsOn:\n    - name: pg-restored\n" {
		t.Errorf("AddListItem(new key) = %q, %v", got, err)
	}
}

// TestAddListItemWithSeveralKeys: a Flux dependsOn item across namespaces is {name, namespace};
// it is written as the list writes its items (block lines aligned under the first key, or one
// flow mapping), name first.
func TestAddListItemWithSeveralKeys(t *testing.T) {
	item := map[string]any{"namespace": "database", "name": "pg-restored"}
	for _, tc := range []struct{ src, want string }{
		{"spec:\n  dependsOn:\n    - name: db\n      namespace: storage\n", "spec:\n  dependsOn:\n    - name: db\n      namespace: storage\n    - name: pg-restored\n      namespace: database\n"},
		{"spec:\n  dependsOn:\n  - name: db\n", "spec:\n  dependsOn:\n  - name: db\n  - name: pg-restored\n    namespace: database\n"},
		{"spec:\n  dependsOn: [{name: db}]\n", "spec:\n  dependsOn: [{name: db}, {name: pg-restored, namespace: database}]\n"},
		{"spec:\n  path: ./apps\n", "spec:\n  path: ./apps\n  dependsOn:\n    - name: pg-restored\n      namespace: database\n"},
	} {
		f := parse(t, tc.src)
		got, err := f.AddListItem(f.Docs[0], []string{"spec", "dependsOn"}, item)
		if err != nil || string(got) != tc.want {
			t.Errorf("AddListItem(%q) = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

func TestRemoveListItem(t *testing.T) {
	cases := []struct{ src, want string }{
		{"resources:\n  - a.yaml\n  - b.yaml # c\n  - c.yaml\n", "resources:\n  - a.yaml\n  - c.yaml\n"},
		{"resources: [a.yaml, b.yaml, c.yaml]\n", "resources: [a.yaml, c.yaml]\n"},
		{"resources: [a.yaml, b.yaml]\n", "resources: [a.yaml]\n"},
		{"resources: [b.yaml, a.yaml]\n", "resources: [a.yaml]\n"},
		{"resources: [b.yaml]\n", "resources: []\n"},
	}
	for _, tc := range cases {
		f := parse(t, tc.src)
		got, err := f.RemoveListItem(f.Docs[0], []string{"resources"}, "b.yaml")
		if err != nil || string(got) != tc.want {
			t.Errorf("RemoveListItem(%q) = %q, %v; want %q", tc.src, got, err, tc.want)
		}
	}
}

// VerifyScalars catches an edit that changes more than the values it was asked to.
func TestVerifyScalarsRefusesCollateralChanges(t *testing.T) {
	f := parse(t, "a: pg-rw\nb: x\n")
	_, a := Lookup(f.Docs[0].Root(), "a")
	if err := f.VerifyScalars([]byte("a: pg2-rw\nb: x\n"), map[*yaml.Node]string{a: "pg2-rw"}); err != nil {
		t.Errorf("intended edit refused: %v", err)
	}
	for _, bad := range []string{"a: pg2-rw\nb: y\n", "a: pg2-rw\n", "a: [pg2-rw]\nb: x\n", "a: pg2-rw\nb: x\n---\nc: 1\n", "a: pg3-rw\nb: x\n"} {
		if err := f.VerifyScalars([]byte(bad), map[*yaml.Node]string{a: "pg2-rw"}); err == nil {
			t.Errorf("VerifyScalars(%q) = nil", bad)
		}
	}
}

// TestDeepNestingMakesTheFileUnreadable: a document nested deeper than MaxDepth is refused
// with a note (10,000 levels cost 865 MB of memory before); a normal manifest is far below.
func TestDeepNestingMakesTheFileUnreadable(t *testing.T) {
	deep := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  v: " + strings.Repeat("[", 9990) + "pg-rw" + strings.Repeat("]", 9990) + "\n"
	if _, err := ParseFile("deep.yaml", []byte(deep)); err == nil || !strings.Contains(err.Error(), "nested more than 100 levels deep") {
		t.Errorf("ParseFile(9,990 levels) = %v, want the depth refused", err)
	}
	ok := "a:\n" + strings.Repeat("  ", 1) + "b: [[[x]]]\n"
	if _, err := ParseFile("ok.yaml", []byte(ok)); err != nil {
		t.Errorf("ParseFile(a shallow file) = %v", err)
	}
}

func BenchmarkScanDeeplyNestedFile(b *testing.B) {
	deep := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  v: " + strings.Repeat("[", 9990) + "pg-rw" + strings.Repeat("]", 9990) + "\n")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseFile("deep.yaml", deep)
	}
}

// TestSetScalarRewritesOrCreates: an existing value is rewritten where it is written; missing
// keys are created under the deepest mapping that exists; what can't be edited exactly is
// refused, not approximated.
func TestSetScalarRewritesOrCreates(t *testing.T) {
	cases := []struct {
		src   string
		path  []string
		value string
		want  string
	}{
		{"spec:\n  schedule: \"0 3 * * *\" # crontab\n  cluster: {name: pg}\n", []string{"spec", "schedule"}, "0 0 3 * * *",
			"spec:\n  schedule: \"0 0 3 * * *\" # crontab\n  cluster: {name: pg}\n"},
		{"a: 'x'\n", []string{"a"}, "it's", "a: 'it''s'\n"},
		{"spec:\n  method: barmanObjectStore\n", []string{"spec", "method"}, "plugin", "spec:\n  method: plugin\n"},
		{"spec:\n  cluster:\n    name: pg\n", []string{"spec", "pluginConfiguration", "name"}, "barman-cloud.cloudnative-pg.io",
			"spec:\n  cluster:\n    name: pg\n  pluginConfiguration:\n    name: barman-cloud.cloudnative-pg.io\n"},
		{"spec:\n  pluginConfiguration:\n    name: x\n---\nb: 1\n", []string{"spec", "pluginConfiguration", "parameters", "barmanObjectName"}, "store",
			"spec:\n  pluginConfiguration:\n    name: x\n    parameters:\n      barmanObjectName: store\n---\nb: 1\n"},
		{"spec:\r\n  a: b\r\n", []string{"spec", "c"}, "true", "spec:\r\n  a: b\r\n  c: \"true\"\r\n"},
	}
	for _, tc := range cases {
		f := parse(t, tc.src)
		got, err := f.SetScalar(f.Docs[0], tc.path, tc.value)
		if err != nil || string(got) != tc.want {
			t.Errorf("SetScalar(%q, %v) = %q, %v; want %q", tc.src, tc.path, got, err, tc.want)
		}
	}
	for _, src := range []string{
		"spec: {cluster: {name: pg}}\n", // flow style: no block to add a line to
		"spec:\n  method: [a]\n",        // a list, not a scalar
		"spec:\n  method: |\n    x\n",   // a block scalar
	} {
		f := parse(t, src)
		if got, err := f.SetScalar(f.Docs[0], []string{"spec", "method"}, "plugin"); err == nil {
			t.Errorf("SetScalar(%q) = %q, want a refusal", src, got)
		}
	}
}
