package generator

import (
	"bytes"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// The restored objects are built as yaml.v3 node trees: a copy of the user's object keeps its
// field order, quoting and comments, which sigs.k8s.io/yaml (through JSON) would sort away.

// deepCopy copies a node tree for a new object, resolved: aliases are replaced by a copy of what
// they name, anchors are dropped, and merge keys (<<) are expanded into the keys they bring
// (the mapping's own keys win, then earlier merges over later ones). The new object then reads
// the same to every YAML reader, kustomize's included, and needs nothing outside itself.
func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return deepCopy(n.Alias)
	}
	c := *n
	c.Anchor, c.Alias, c.Content = "", nil, nil
	if n.Kind != yaml.MappingNode {
		for _, x := range n.Content {
			c.Content = append(c.Content, deepCopy(x))
		}
		return &c
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, mergeSources(v)...)
			continue
		}
		c.Content = append(c.Content, deepCopy(k), deepCopy(v))
	}
	for _, m := range merges {
		mm := deepCopy(m)
		for j := 0; j+1 < len(mm.Content); j += 2 {
			if get(&c, mm.Content[j].Value) == nil {
				c.Content = append(c.Content, mm.Content[j], mm.Content[j+1])
			}
		}
	}
	return &c
}

// mergeSources are the mappings a merge key's value brings: a mapping, an alias of one, or a
// sequence of those.
func mergeSources(v *yaml.Node) []*yaml.Node {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, x := range v.Content {
			out = append(out, mergeSources(x)...)
		}
		return out
	}
	return nil
}

// get returns the value at a key path of mappings, or nil.
func get(n *yaml.Node, path ...string) *yaml.Node {
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func str(n *yaml.Node, path ...string) string {
	if v := get(n, path...); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// set puts value at key in mapping m: in place when the key exists, else at the end.
func set(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, scalar(key), value)
}

// setAfter puts value at key: in place when the key exists, else right after key after.
func setAfter(m *yaml.Node, key string, value *yaml.Node, after string) {
	if get(m, key) != nil {
		set(m, key, value)
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == after {
			rest := append([]*yaml.Node{scalar(key), value}, m.Content[i+2:]...)
			m.Content = append(m.Content[:i+2], rest...)
			return
		}
	}
	set(m, key, value)
}

func del(m *yaml.Node, keys ...string) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for _, key := range keys {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				m.Content = append(m.Content[:i], m.Content[i+2:]...)
				break
			}
		}
	}
}

// child returns the mapping at key in m, creating it (at the end) when absent.
func child(m *yaml.Node, key string) *yaml.Node {
	if c := get(m, key); c != nil && c.Kind == yaml.MappingNode {
		return c
	}
	c := mapping()
	set(m, key, c)
	return c
}

func scalar(v string) *yaml.Node {
	n := &yaml.Node{}
	n.SetString(v)
	return n
}

// quoted is a double-quoted string (annotation values that look like numbers, cron lines).
func quoted(v string) *yaml.Node {
	n := scalar(v)
	n.Style = yaml.DoubleQuotedStyle
	return n
}

func boolean(v bool) *yaml.Node {
	s := "false"
	if v {
		s = "true"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: s}
}

func integer(v int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
}

// mapping builds a block mapping from key, value pairs.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		var v *yaml.Node
		switch x := kv[i+1].(type) {
		case *yaml.Node:
			v = x
		case string:
			v = scalar(x)
		case bool:
			v = boolean(x)
		case int:
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
		}
		if v != nil {
			m.Content = append(m.Content, scalar(kv[i].(string)), v)
		}
	}
	return m
}

func sequence(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

// encode serializes documents with two-space indentation.
func encode(docs ...*yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
