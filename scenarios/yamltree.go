package scenarios

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// A tree is a YAML document resolved into what JSON can hold (mappings with
// string keys, sequences, strings, booleans, numbers, null), with the line
// of every node kept. Aliases and merge keys are expanded here, once, so the
// field walk and the typed decode see the same data.
type tree struct {
	kind treeKind
	line int

	// mapping
	keys     []string
	keyLines []int
	values   []*tree

	// sequence
	items []*tree

	// scalar: string, bool, json.Number or nil
	scalar any
}

type treeKind int

const (
	treeNull treeKind = iota
	treeMapping
	treeSequence
	treeScalar
)

func (k treeKind) String() string {
	switch k {
	case treeMapping:
		return "a mapping"
	case treeSequence:
		return "a list"
	case treeScalar:
		return "a value"
	}
	return "null"
}

// get returns the value of key in a mapping, or nil.
func (t *tree) get(key string) (*tree, int) {
	for i, k := range t.keys {
		if k == key {
			return t.values[i], t.keyLines[i]
		}
	}
	return nil, 0
}

// describe names the type of a node for error messages: "a mapping", "the
// number 5", "the string \"x\"".
func (t *tree) describe() string {
	if t.kind != treeScalar {
		return t.kind.String()
	}
	switch v := t.scalar.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case bool:
		return fmt.Sprintf("the boolean %t", v)
	case json.Number:
		return "the number " + v.String()
	}
	return "null"
}

// toJSON returns t as a value encoding/json marshals to the same document.
func (t *tree) toJSON() any {
	switch t.kind {
	case treeMapping:
		m := make(map[string]any, len(t.keys))
		for i, k := range t.keys {
			// A null field is an unset one. Passing it on would hand
			// null to types like metav1.Duration, which refuse it.
			if t.values[i].kind == treeNull {
				continue
			}
			m[k] = t.values[i].toJSON()
		}
		return m
	case treeSequence:
		s := make([]any, len(t.items))
		for i, it := range t.items {
			s[i] = it.toJSON()
		}
		return s
	case treeScalar:
		return t.scalar
	}
	return nil
}

// maxTreeNodes bounds the nodes of one document after alias expansion. The
// largest real scenario has a few hundred; the bound only stops "billion
// laughs" documents that would otherwise expand without end.
const maxTreeNodes = 100_000

type treeBuilder struct {
	nodes    int
	active   map[*yaml.Node]bool // alias targets being expanded, to catch cycles
	problems []Problem
	file     string
}

func (b *treeBuilder) problem(line int, path, format string, args ...any) {
	b.problems = append(b.problems, Problem{File: b.file, Line: line, Field: path, Message: fmt.Sprintf(format, args...)})
}

// build converts n. On a problem it records it and returns nil; the caller
// then stops with the problems recorded.
func (b *treeBuilder) build(n *yaml.Node, path string) *tree {
	b.nodes++
	if b.nodes > maxTreeNodes {
		if b.nodes == maxTreeNodes+1 {
			b.problem(n.Line, path, "the document has more than %d nodes once its aliases are expanded", maxTreeNodes)
		}
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &tree{kind: treeNull, line: n.Line}
		}
		return b.build(n.Content[0], path)
	case yaml.AliasNode:
		if n.Alias == nil {
			b.problem(n.Line, path, "unknown anchor %q", n.Value)
			return nil
		}
		if b.active[n.Alias] {
			b.problem(n.Line, path, "alias *%s refers to a node that contains it", n.Value)
			return nil
		}
		b.active[n.Alias] = true
		defer delete(b.active, n.Alias)
		t := b.build(n.Alias, path)
		if t != nil {
			// Errors in an alias point at its use, where the reader is.
			t = t.relocated(n.Line)
		}
		return t
	case yaml.MappingNode:
		return b.mapping(n, path)
	case yaml.SequenceNode:
		t := &tree{kind: treeSequence, line: n.Line}
		for i, c := range n.Content {
			it := b.build(c, fmt.Sprintf("%s[%d]", path, i))
			if it == nil {
				return nil
			}
			t.items = append(t.items, it)
		}
		return t
	case yaml.ScalarNode:
		return b.scalar(n, path)
	}
	b.problem(n.Line, path, "unexpected YAML node")
	return nil
}

// relocated returns a copy of t whose own line is line; its children keep
// theirs.
func (t *tree) relocated(line int) *tree {
	c := *t
	c.line = line
	return &c
}

func (b *treeBuilder) mapping(n *yaml.Node, path string) *tree {
	t := &tree{kind: treeMapping, line: n.Line}
	seen := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			b.problem(k.Line, path, "a key must be a plain value, not %s", map[yaml.Kind]string{
				yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.AliasNode: "an alias"}[k.Kind])
			return nil
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			b.problem(k.Line, joinPath(path, key), "duplicate key; it is first set at line %d", first)
			return nil
		}
		seen[key] = k.Line
		val := b.build(v, joinPath(path, key))
		if val == nil {
			return nil
		}
		t.keys = append(t.keys, key)
		t.keyLines = append(t.keyLines, k.Line)
		t.values = append(t.values, val)
	}
	// Merged keys never override the mapping's own, and an earlier merge
	// wins over a later one, as YAML's merge key specifies.
	for _, m := range merges {
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			mt := b.build(src, path)
			if mt == nil {
				return nil
			}
			if mt.kind != treeMapping {
				b.problem(src.Line, path, "the merge key << takes a mapping or a list of mappings")
				return nil
			}
			for i, key := range mt.keys {
				if _, dup := seen[key]; dup {
					continue
				}
				seen[key] = mt.keyLines[i]
				t.keys = append(t.keys, key)
				t.keyLines = append(t.keyLines, mt.keyLines[i])
				t.values = append(t.values, mt.values[i])
			}
		}
	}
	return t
}

func (b *treeBuilder) scalar(n *yaml.Node, path string) *tree {
	t := &tree{kind: treeScalar, line: n.Line}
	switch tag := n.ShortTag(); tag {
	case "!!null":
		t.kind = treeNull
	case "!!str", "!!timestamp", "!!binary":
		// JSON has no timestamps or bytes; the typed decode parses the
		// text, as it would from JSON.
		t.scalar = n.Value
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			b.problem(n.Line, path, "%q is not a boolean", n.Value)
			return nil
		}
		t.scalar = v
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			t.scalar = json.Number(strconv.FormatInt(i, 10))
			break
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			t.scalar = json.Number(strconv.FormatUint(u, 10))
			break
		}
		if f := 0.0; n.Decode(&f) == nil {
			b.problem(n.Line, path, "the integer %s is out of range", n.Value)
		} else {
			b.problem(n.Line, path, "%q is not an integer", n.Value)
		}
		return nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			b.problem(n.Line, path, "%q is not a finite number", n.Value)
			return nil
		}
		t.scalar = json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	default:
		b.problem(n.Line, path, "the YAML tag %s is not supported", n.Tag)
		return nil
	}
	return t
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
