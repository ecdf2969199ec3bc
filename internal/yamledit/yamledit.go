package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// File is one YAML file of the repo, kept byte for byte: edits replace byte ranges located
// through the parsed nodes and never re-encode what the user wrote.
type File struct {
	Path  string // relative to the repo root, with "/"
	Data  []byte
	Docs  []*Doc
	lines []int // byte offset of the start of each line
}

// Doc is one document of a file.
type Doc struct {
	// Start and End delimit the document in File.Data, its "---" line included.
	Start, End int
	// Node is the document node; its lines are counted from the start of the file.
	Node *yaml.Node
}

// Root is the document's top-level node (a mapping for objects), or nil for an empty one.
func (d *Doc) Root() *yaml.Node {
	if d == nil || d.Node == nil || len(d.Node.Content) == 0 {
		return nil
	}
	return d.Node.Content[0]
}

// MaxDepth is the deepest nesting of mappings and sequences a document may have.
const MaxDepth = 100

// depth is the nesting depth of a node tree, walked without recursion.
func depth(root *yaml.Node) int {
	type item struct {
		n *yaml.Node
		d int
	}
	most := 0
	stack := []item{{root, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		most = max(most, it.d)
		if most > MaxDepth {
			return most
		}
		for _, c := range it.n.Content {
			stack = append(stack, item{c, it.d + 1})
		}
	}
	return most
}

// ParseFile splits data into documents and parses each one. Splitting by hand (at "---"
// lines) gives every document its byte range, which yaml.v3's decoder does not.
func ParseFile(path string, data []byte) (*File, error) {
	f := &File{Path: path, Data: data, lines: lineStarts(data)}
	starts := []int{0}
	for i, off := range f.lines {
		if i > 0 && isDocStart(data[off:]) {
			starts = append(starts, off)
		}
	}
	if isDocStart(data) {
		starts = starts[:1]
		for _, off := range f.lines[1:] {
			if isDocStart(data[off:]) {
				starts = append(starts, off)
			}
		}
	}
	for i, start := range starts {
		end := len(data)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		var node yaml.Node
		err := yaml.Unmarshal(data[start:end], &node)
		firstLine := f.Line(start)
		if err != nil {
			return nil, fmt.Errorf("%s: document at line %d: %w", path, firstLine, shiftError(err, firstLine-1))
		}
		if depth(&node) > MaxDepth {
			// No manifest nests this deep; reading it on would cost memory out of all
			// proportion to its size (a 20 KB file nested 10,000 levels took 865 MB).
			return nil, fmt.Errorf("%s: document at line %d is nested more than %d levels deep, deeper than any manifest needs", path, firstLine, MaxDepth)
		}
		doc := &Doc{Start: start, End: end}
		if node.Kind != 0 {
			shiftLines(&node, firstLine-1, map[*yaml.Node]bool{})
			doc.Node = &node
		}
		f.Docs = append(f.Docs, doc)
	}
	return f, nil
}

// shiftError rewrites yaml's "line N" to count from the start of the file.
func shiftError(err error, by int) error {
	var te *yaml.TypeError
	if by == 0 || errors.As(err, &te) {
		return err
	}
	msg := err.Error()
	var n int
	var rest string
	if _, scanErr := fmt.Sscanf(msg, "yaml: line %d:%s", &n, &rest); scanErr == nil {
		return fmt.Errorf("yaml: line %d:%s", n+by, msg[len(fmt.Sprintf("yaml: line %d:", n)):])
	}
	return err
}

func isDocStart(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("---")) {
		return false
	}
	return len(b) == 3 || b[3] == '\n' || b[3] == '\r' || b[3] == ' ' || b[3] == '\t'
}

func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func shiftLines(n *yaml.Node, by int, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by, seen)
	}
}

// Line is the 1-based line of a byte offset.
func (f *File) Line(off int) int {
	return sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > off })
}

// lineEnd is the offset just past the end of the line holding off (after its "\n").
func (f *File) lineEnd(off int) int {
	if i := bytes.IndexByte(f.Data[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(f.Data)
}

// offset converts a node's line and (rune) column to a byte offset.
func (f *File) offset(line, column int) (int, bool) {
	if line < 1 || line > len(f.lines) {
		return 0, false
	}
	off := f.lines[line-1]
	for c := 1; c < column; c++ {
		if off >= len(f.Data) || f.Data[off] == '\n' {
			return 0, false
		}
		_, size := utf8.DecodeRune(f.Data[off:])
		off += size
	}
	return off, true
}

// indentOf is the number of leading spaces of the line holding off.
func (f *File) indentOf(off int) int {
	start := f.lines[f.Line(off)-1]
	n := 0
	for start+n < len(f.Data) && f.Data[start+n] == ' ' {
		n++
	}
	return n
}

// Span is the byte range of a scalar's text as written: quotes included, and for a block
// scalar (| or >) its content lines without the header. ok is false when the text can't be
// located exactly (a multi-line plain scalar, an anchor or tag in front of it).
func (f *File) Span(n *yaml.Node) (start, end int, ok bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, 0, false
	}
	start, ok = f.offset(n.Line, n.Column)
	if !ok {
		return 0, 0, false
	}
	d := f.Data
	// The node's position is that of its properties, when it has any: an anchor (&name) and a
	// tag (!!str), in either order, before the value on the same line.
	for start < len(d) && (d[start] == '&' || d[start] == '!') && (n.Anchor != "" || n.Tag != "") {
		for start < len(d) && d[start] != ' ' && d[start] != '\t' && d[start] != '\n' && d[start] != '\r' {
			start++
		}
		for start < len(d) && (d[start] == ' ' || d[start] == '\t') {
			start++
		}
	}
	if start >= len(d) {
		return 0, 0, false
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if d[start] != '"' {
			return 0, 0, false
		}
		for i := start + 1; i < len(d); i++ {
			switch d[i] {
			case '\\':
				i++
			case '"':
				return start, i + 1, true
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		if d[start] != '\'' {
			return 0, 0, false
		}
		for i := start + 1; i < len(d); i++ {
			if d[i] == '\'' {
				if i+1 < len(d) && d[i+1] == '\'' {
					i++
					continue
				}
				return start, i + 1, true
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		if d[start] != '|' && d[start] != '>' {
			return 0, 0, false
		}
		parent := f.indentOf(start)
		body := f.lineEnd(start)
		end, indent := body, -1
		for off := body; off < len(d); off = f.lineEnd(off) {
			line := d[off:f.lineEnd(off)]
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			in := f.indentOf(off)
			if indent < 0 {
				if in <= parent {
					break
				}
				indent = in
			}
			if in < indent {
				break
			}
			end = f.lineEnd(off)
		}
		return body, end, true
	default:
		if end := start + len(n.Value); end <= len(d) && string(d[start:end]) == n.Value && n.Value != "" {
			return start, end, true
		}
	}
	return 0, 0, false
}

// end is the offset just past the end of the line where node n ends.
func (f *File) end(n *yaml.Node) (int, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if _, e, ok := f.Span(n); ok {
			if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				return e, true
			}
			return f.lineEnd(e - 1), true
		}
		if off, ok := f.offset(n.Line, n.Column); ok && !bytes.ContainsAny([]byte(n.Value), "\n") {
			return f.lineEnd(off), true
		}
		return 0, false
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0 {
			return 0, false
		}
		return f.end(n.Content[len(n.Content)-1])
	case yaml.AliasNode:
		off, ok := f.offset(n.Line, n.Column)
		return f.lineEnd(off), ok
	}
	return 0, false
}

// Replacement replaces Data[Start:End] with New.
type Replacement struct {
	Start, End int
	New        string
}

// Apply returns data with the replacements made; they must not overlap.
func Apply(data []byte, reps []Replacement) ([]byte, error) {
	sorted := append([]Replacement(nil), reps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	var b bytes.Buffer
	last := 0
	for _, r := range sorted {
		if r.Start < last || r.End < r.Start || r.End > len(data) {
			return nil, fmt.Errorf("overlapping or out-of-range edit at byte %d", r.Start)
		}
		b.Write(data[last:r.Start])
		b.WriteString(r.New)
		last = r.End
	}
	b.Write(data[last:])
	return b.Bytes(), nil
}

// VerifyScalars re-parses edited and checks that it is the file's documents with only the
// scalars in want changed, each to its wanted value: same structure, same keys, every other
// value identical.
func (f *File) VerifyScalars(edited []byte, want map[*yaml.Node]string) error {
	g, err := ParseFile(f.Path, edited)
	if err != nil {
		return fmt.Errorf("the edited file no longer parses: %w", err)
	}
	if len(g.Docs) != len(f.Docs) {
		return fmt.Errorf("the edited file has %d documents instead of %d", len(g.Docs), len(f.Docs))
	}
	for i := range f.Docs {
		if err := sameTree(f.Docs[i].Node, g.Docs[i].Node, want); err != nil {
			return err
		}
	}
	return nil
}

func sameTree(a, b *yaml.Node, want map[*yaml.Node]string) error {
	if a == nil || b == nil {
		if a != b {
			return errors.New("a document changed from empty to non-empty")
		}
		return nil
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || len(a.Content) != len(b.Content) {
		return fmt.Errorf("line %d: the structure changed", a.Line)
	}
	if v, ok := want[a]; ok {
		if b.Value != v {
			return fmt.Errorf("line %d: value is %q, want %q", a.Line, b.Value, v)
		}
	} else if a.Value != b.Value {
		return fmt.Errorf("line %d: value %q changed to %q", a.Line, a.Value, b.Value)
	}
	if a.Kind == yaml.AliasNode {
		return nil
	}
	for i := range a.Content {
		if err := sameTree(a.Content[i], b.Content[i], want); err != nil {
			return err
		}
	}
	return nil
}

// decoded is a document as plain Go values (maps, slices, scalars), for comparisons.
func decoded(n *yaml.Node) (any, error) {
	var v any
	if n == nil {
		return nil, nil
	}
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// verifyDoc re-parses edited and checks that document i decodes to the original document
// changed by mutate, and that every other document is unchanged.
func (f *File) verifyDoc(edited []byte, i int, mutate func(any) any) error {
	g, err := ParseFile(f.Path, edited)
	if err != nil {
		return fmt.Errorf("the edited file no longer parses: %w", err)
	}
	if len(g.Docs) != len(f.Docs) {
		return fmt.Errorf("the edited file has %d documents instead of %d", len(g.Docs), len(f.Docs))
	}
	for j := range f.Docs {
		want, err := decoded(f.Docs[j].Node)
		if err != nil {
			return err
		}
		got, err := decoded(g.Docs[j].Node)
		if err != nil {
			return err
		}
		if j == i {
			want = mutate(want)
		}
		if !reflect.DeepEqual(want, got) {
			return fmt.Errorf("document %d does not read back as intended", j+1)
		}
	}
	return nil
}

// Lookup finds the key and value nodes at a key path in a mapping (nil, nil when absent).
func Lookup(n *yaml.Node, path ...string) (key, value *yaml.Node) {
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil, nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				key, next = n.Content[i], n.Content[i+1]
			}
		}
		n = next
	}
	return key, n
}

// AddListItem appends item (a scalar, or a mapping of scalars) to the sequence at path in
// document doc, keeping the sequence's style and indentation; a missing sequence is created
// at the end of its parent mapping. The result is verified by reading it back.
func (f *File) AddListItem(doc *Doc, path []string, item any) ([]byte, error) {
	lines, err := itemLines(item)
	if err != nil {
		return nil, err
	}
	_, isMapping := item.(map[string]any)
	text := flowItem(lines, isMapping)
	where := fmt.Sprintf("%s:%d", f.Path, doc.Root().Line)
	_, parent := Lookup(doc.Root(), path[:len(path)-1]...)
	if parent == nil || parent.Kind != yaml.MappingNode || parent.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("%s: no block mapping at %v to add %s to", where, path[:len(path)-1], path[len(path)-1])
	}
	_, seq := Lookup(parent, path[len(path)-1])
	var rep Replacement
	switch {
	case seq == nil:
		at, ok := f.end(parent)
		if !ok {
			return nil, fmt.Errorf("%s: can't find the end of the mapping to add %s", where, path[len(path)-1])
		}
		indent := bytes.Repeat([]byte(" "), parent.Content[0].Column-1)
		lead := ""
		if at > 0 && f.Data[at-1] != '\n' {
			lead = "\n"
		}
		rep = Replacement{at, at, fmt.Sprintf("%s%s%s:\n%s  - %s\n", lead, indent, path[len(path)-1], indent, blockItem(lines, string(indent)+"    "))}
	case seq.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("%s: %s is not a list", where, path[len(path)-1])
	case seq.Style&yaml.FlowStyle != 0:
		start, ok := f.offset(seq.Line, seq.Column)
		if !ok || f.Data[start] != '[' {
			return nil, fmt.Errorf("%s: can't locate the list %s", where, path[len(path)-1])
		}
		closing := bytes.IndexByte(f.Data[start:], ']')
		if closing < 0 || bytes.ContainsAny(f.Data[start:start+closing], "#\n") && len(seq.Content) > 0 {
			return nil, fmt.Errorf("%s: the list %s spans lines or has comments: add %s by hand", where, path[len(path)-1], text)
		}
		sep := ", "
		if len(seq.Content) == 0 {
			sep = ""
		}
		at := start + closing
		rep = Replacement{at, at, sep + text}
	default:
		if len(seq.Content) == 0 {
			return nil, fmt.Errorf("%s: the list %s is empty in block style", where, path[len(path)-1])
		}
		first, ok := f.offset(seq.Content[0].Line, seq.Content[0].Column)
		if !ok {
			return nil, fmt.Errorf("%s: can't locate the list %s", where, path[len(path)-1])
		}
		dash := bytes.LastIndexByte(f.Data[:first], '-')
		lineStart := f.lines[f.Line(first)-1]
		if dash < lineStart {
			return nil, fmt.Errorf("%s: can't locate the items of %s", where, path[len(path)-1])
		}
		at, ok := f.end(seq)
		if !ok {
			return nil, fmt.Errorf("%s: can't find the end of the list %s", where, path[len(path)-1])
		}
		lead := ""
		if at > 0 && f.Data[at-1] != '\n' {
			lead = "\n"
		}
		cont := strings.Repeat(" ", first-lineStart) // the column of the first item's text
		rep = Replacement{at, at, lead + string(f.Data[lineStart:dash]) + string(f.Data[dash:first]) + blockItem(lines, cont) + "\n"}
	}
	if bytes.Contains(f.Data, []byte("\r\n")) {
		rep.New = strings.ReplaceAll(rep.New, "\n", "\r\n") // keep the file's line endings
	}
	out, err := Apply(f.Data, []Replacement{rep})
	if err != nil {
		return nil, err
	}
	idx := f.docIndex(doc)
	err = f.verifyDoc(out, idx, func(v any) any {
		m := v
		for _, k := range path[:len(path)-1] {
			m = m.(map[string]any)[k]
		}
		mm := m.(map[string]any)
		list, _ := mm[path[len(path)-1]].([]any)
		mm[path[len(path)-1]] = append(list, item)
		return v
	})
	if err != nil {
		return nil, fmt.Errorf("%s: adding %s to %s: %w", where, text, path[len(path)-1], err)
	}
	return out, nil
}

// itemLines renders a list item: a plain scalar, or a mapping of scalars, one "key: value"
// per line ("name" first, then the keys in order).
func itemLines(item any) ([]string, error) {
	switch v := item.(type) {
	case string:
		s, err := scalarText(v)
		return []string{s}, err
	case map[string]any:
		if len(v) == 0 {
			return nil, errors.New("a list item must not be an empty mapping")
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] == "name" || keys[j] != "name" && keys[i] < keys[j] })
		var lines []string
		for _, k := range keys {
			val, ok := v[k].(string)
			if !ok {
				return nil, fmt.Errorf("list item key %s: only scalar values are supported, not %T", k, v[k])
			}
			key, err := scalarText(k)
			if err != nil {
				return nil, err
			}
			s, err := scalarText(val)
			if err != nil {
				return nil, err
			}
			lines = append(lines, key+": "+s)
		}
		return lines, nil
	}
	return nil, fmt.Errorf("unsupported list item %T", item)
}

// scalarText is a string as a YAML scalar, quoted only when it must be.
func scalarText(v string) (string, error) {
	var n yaml.Node
	n.SetString(v)
	b, err := yaml.Marshal(&n)
	return string(bytes.TrimSpace(b)), err
}

// blockItem is an item in a block sequence: the first line after "- ", the others indented to
// align with it.
func blockItem(lines []string, indent string) string {
	return strings.Join(lines, "\n"+indent)
}

// flowItem is an item in a flow sequence: a scalar, or {key: value, ...}.
func flowItem(lines []string, mapping bool) string {
	if !mapping {
		return lines[0]
	}
	return "{" + strings.Join(lines, ", ") + "}"
}

// RemoveListItem removes the scalar item from the sequence at path, deleting its whole line
// (block style) or the item and one comma (flow style); it is verified by reading it back.
func (f *File) RemoveListItem(doc *Doc, path []string, item string) ([]byte, error) {
	where := fmt.Sprintf("%s:%d", f.Path, doc.Root().Line)
	_, seq := Lookup(doc.Root(), path...)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: no list %v", where, path)
	}
	var node *yaml.Node
	for _, c := range seq.Content {
		if c.Kind == yaml.ScalarNode && c.Value == item {
			node = c
		}
	}
	if node == nil {
		return nil, fmt.Errorf("%s: %s is not in %v", where, item, path)
	}
	start, end, ok := f.Span(node)
	if !ok {
		return nil, fmt.Errorf("%s: can't locate %s in %v", where, item, path)
	}
	var rep Replacement
	if seq.Style&yaml.FlowStyle != 0 {
		// "a, b" → drop "b" and the comma before it, or "a" and the comma after it.
		i, j := start, end
		for j < len(f.Data) && (f.Data[j] == ' ' || f.Data[j] == ',') {
			j++
		}
		if j < len(f.Data) && f.Data[j] == ']' {
			j = end
			for i > 0 && (f.Data[i-1] == ' ' || f.Data[i-1] == ',') {
				i--
			}
			if f.Data[i-1] == '[' {
				i = start
			}
		}
		rep = Replacement{i, j, ""}
	} else {
		lineStart := f.lines[f.Line(start)-1]
		prefix := bytes.TrimSpace(f.Data[lineStart:start])
		rest := bytes.TrimSpace(f.Data[end:f.lineEnd(start)])
		if string(prefix) != "-" || len(rest) > 0 && rest[0] != '#' {
			return nil, fmt.Errorf("%s: %s does not stand alone on its line: remove it by hand", where, item)
		}
		rep = Replacement{lineStart, f.lineEnd(start), ""}
	}
	out, err := Apply(f.Data, []Replacement{rep})
	if err != nil {
		return nil, err
	}
	err = f.verifyDoc(out, f.docIndex(doc), func(v any) any {
		m := v
		for _, k := range path[:len(path)-1] {
			m = m.(map[string]any)[k]
		}
		mm := m.(map[string]any)
		var kept []any
		for _, x := range mm[path[len(path)-1]].([]any) {
			if x != item {
				kept = append(kept, x)
			}
		}
		if kept == nil {
			kept = []any{}
		}
		mm[path[len(path)-1]] = kept
		return v
	})
	if err != nil {
		return nil, fmt.Errorf("%s: removing %s: %w", where, item, err)
	}
	return out, nil
}

// RemoveDoc returns the file without document doc; ok is false when nothing else of
// substance (another non-empty document) would remain, i.e. the file should be deleted.
func (f *File) RemoveDoc(doc *Doc) (out []byte, remains bool) {
	for _, d := range f.Docs {
		if d != doc && d.Root() != nil {
			remains = true
		}
	}
	out = append(append([]byte(nil), f.Data[:doc.Start]...), f.Data[doc.End:]...)
	return out, remains
}

func (f *File) docIndex(doc *Doc) int {
	for i, d := range f.Docs {
		if d == doc {
			return i
		}
	}
	return -1
}

// SetScalar sets the string at a key path of document doc: an existing scalar is rewritten in
// place (quoted only when it must be); missing keys are created at the end of the deepest
// block mapping that exists, one level of two spaces each. The result is verified by reading
// it back: only that value changed.
func (f *File) SetScalar(doc *Doc, path []string, value string) ([]byte, error) {
	if len(path) == 0 {
		return nil, errors.New("SetScalar: an empty key path")
	}
	text, err := scalarText(value)
	if err != nil {
		return nil, err
	}
	where := fmt.Sprintf("%s:%d", f.Path, doc.Root().Line)
	// The deepest mapping on the path that exists.
	parent, depth := doc.Root(), 0
	for depth < len(path)-1 {
		_, next := Lookup(parent, path[depth])
		if next == nil {
			break
		}
		if next.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: %s is not a mapping: set %s by hand", where, strings.Join(path[:depth+1], "."), strings.Join(path, "."))
		}
		parent, depth = next, depth+1
	}
	var rep Replacement
	if _, v := Lookup(parent, path[depth]); v != nil && depth == len(path)-1 {
		start, end, ok := f.Span(v)
		if !ok || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return nil, fmt.Errorf("%s: can't rewrite %s where it is written: set it to %s by hand", where, strings.Join(path, "."), text)
		}
		if q := v.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle); q != 0 {
			// Quoted as the file quotes it.
			var n yaml.Node
			n.SetString(value)
			n.Style = q
			b, err := yaml.Marshal(&n)
			if err != nil {
				return nil, err
			}
			text = string(bytes.TrimSpace(b))
		}
		rep = Replacement{start, end, text}
	} else {
		if v != nil {
			return nil, fmt.Errorf("%s: %s is not a mapping: set %s by hand", where, strings.Join(path[:depth+1], "."), strings.Join(path, "."))
		}
		if parent.Kind != yaml.MappingNode || parent.Style&yaml.FlowStyle != 0 || len(parent.Content) == 0 {
			return nil, fmt.Errorf("%s: no block mapping at %s to add %s to: set it by hand", where, strings.Join(path[:depth], "."), strings.Join(path[depth:], "."))
		}
		at, ok := f.end(parent)
		if !ok {
			return nil, fmt.Errorf("%s: can't find the end of %s to add %s", where, strings.Join(path[:depth], "."), strings.Join(path[depth:], "."))
		}
		indent := strings.Repeat(" ", parent.Content[0].Column-1)
		var b strings.Builder
		if at > 0 && f.Data[at-1] != '\n' {
			b.WriteString("\n")
		}
		for i, k := range path[depth:] {
			key, err := scalarText(k)
			if err != nil {
				return nil, err
			}
			b.WriteString(indent + key + ":")
			if depth+i == len(path)-1 {
				b.WriteString(" " + text)
			}
			b.WriteString("\n")
			indent += "  "
		}
		rep = Replacement{at, at, b.String()}
	}
	if bytes.Contains(f.Data, []byte("\r\n")) {
		rep.New = strings.ReplaceAll(rep.New, "\n", "\r\n")
	}
	out, err := Apply(f.Data, []Replacement{rep})
	if err != nil {
		return nil, err
	}
	err = f.verifyDoc(out, f.docIndex(doc), func(v any) any {
		m, _ := v.(map[string]any)
		for _, k := range path[:len(path)-1] {
			next, _ := m[k].(map[string]any)
			if next == nil {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[path[len(path)-1]] = value
		return v
	})
	if err != nil {
		return nil, fmt.Errorf("%s: setting %s: %w", where, strings.Join(path, "."), err)
	}
	return out, nil
}
