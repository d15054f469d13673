// Package spec checks YAML documents against declared specs of their
// fields, the way the YAML pipelines are checked before they run: it walks
// the yaml.Node tree and reports every problem at once, each at its line
// and column ("pipeline.yaml:12:5: unknown field \"topik\" (did you mean
// \"topic\"?)"), instead of stopping at the first one as decoding into Go
// structs does.
//
// A spec is a tree of Fields. FromStruct derives one from a Go struct with
// yaml tags (a connector's Config), so that YAML and Go use the same names;
// a `spec:"required"` tag marks required fields. Dedup reports the keys
// a mapping repeats, which yaml.v3 keeps in the node tree, and removes
// them. Expand replaces ${NAME} in scalars with environment variables, so
// that secrets stay out of the files.
package spec

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind is the type of a field's value.
type Kind int

const (
	Any Kind = iota
	String
	Int
	Float
	Bool
	Duration // a Go duration: "500ms", "10s", "1m30s"
	Object   // a mapping with declared Fields
	List     // a sequence of Elem
	Map      // a mapping of names to Elem
)

func (k Kind) String() string {
	return [...]string{"any value", "a string", "an integer", "a number", "a boolean", "a duration", "a mapping", "a list", "a mapping"}[k]
}

// Field declares a field of a document.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	Doc      string
	Fields   []Field  // Object
	Elem     *Field   // List and Map
	Enum     []string // the values a String may take; an Int's words besides integers
	// Check validates a scalar further (an expression that must compile);
	// its error may be a *ColumnError to point inside the value.
	Check func(n *yaml.Node) error
}

// ColumnError is an error at an offset inside a scalar: a column within an
// expression.
type ColumnError struct {
	Offset int // in runes from the value's start
	Err    error
}

func (e *ColumnError) Error() string { return e.Err.Error() }

// Problem is one thing wrong in a document.
type Problem struct {
	File      string
	Line, Col int
	Msg       string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg) }

// Problems are every problem of a document, in the order of the file.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
}

// Check walks node (a document or its content) against f and returns its
// problems, sorted; nil when there is none. It does not look for
// repeated keys: Dedup the document first, which reports them and leaves
// each key once.
func Check(file string, node *yaml.Node, f Field) Problems {
	c := checker{file: file}
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			c.add(node, "the file is empty")
			return c.ps
		}
		node = node.Content[0]
	}
	c.check(node, f, "")
	c.ps.sort()
	return c.ps
}

// CheckAt is Check of a node inside a document: its messages name the
// fields from path ("inputs.views.topic").
func CheckAt(file string, node *yaml.Node, f Field, path string) Problems {
	c := checker{file: file}
	c.check(node, f, path)
	c.ps.sort()
	return c.ps
}

// Without returns the Object f without the named fields: those a YAML
// file does not set (the runtime does).
func Without(f Field, names ...string) Field {
	out := f
	out.Fields = nil
	for _, ff := range f.Fields {
		if !slices.Contains(names, ff.Name) {
			out.Fields = append(out.Fields, ff)
		}
	}
	return out
}

// Sort orders problems by line and column.
func (ps Problems) Sort() { ps.sort() }

type checker struct {
	file string
	ps   Problems
}

func (c *checker) add(n *yaml.Node, format string, args ...any) {
	c.ps = append(c.ps, Problem{c.file, n.Line, n.Column, fmt.Sprintf(format, args...)})
}

// Describe says what a node is, for messages: "a mapping", "a list",
// "null" or the quoted scalar.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return strconv.Quote(n.Value)
}

func (c *checker) check(n *yaml.Node, f Field, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	where := path
	if where != "" {
		where += ": "
	}
	switch f.Kind {
	case Any:
		return
	case Object:
		if n.Kind != yaml.MappingNode {
			c.add(n, "%sexpected %s, got %s", where, f.Kind, Describe(n))
			return
		}
		c.object(n, f, path)
		return
	case List:
		if n.Kind != yaml.SequenceNode {
			c.add(n, "%sexpected %s, got %s", where, f.Kind, Describe(n))
			return
		}
		for i, e := range n.Content {
			c.check(e, *f.Elem, fmt.Sprintf("%s[%d]", path, i))
		}
		return
	case Map:
		if n.Kind != yaml.MappingNode {
			c.add(n, "%sexpected %s, got %s", where, f.Kind, Describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.check(n.Content[i+1], *f.Elem, join(path, n.Content[i].Value))
		}
		return
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		c.add(n, "%sexpected %s, got %s", where, f.Kind, Describe(n))
		return
	}
	if err := scalar(n, f); err != nil {
		c.add(n, "%s%v", where, err)
		return
	}
	if f.Check != nil {
		if err := f.Check(n); err != nil {
			col := n.Column
			if ce, ok := err.(*ColumnError); ok {
				col += ce.Offset
				if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
					col++ // the opening quote
				}
			}
			c.ps = append(c.ps, Problem{c.file, n.Line, col, where + err.Error()})
		}
	}
}

// scalar checks a scalar's value against the field's kind and enum.
func scalar(n *yaml.Node, f Field) error {
	v := n.Value
	switch f.Kind {
	case String:
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, v) {
			msg := fmt.Sprintf("%q is not one of %s", v, strings.Join(f.Enum, ", "))
			if s := Suggest(v, f.Enum); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return fmt.Errorf("%s", msg)
		}
	case Int:
		if slices.Contains(f.Enum, v) {
			return nil
		}
		if _, err := strconv.ParseInt(v, 0, 64); err != nil {
			if len(f.Enum) > 0 {
				return fmt.Errorf("expected an integer or %s, got %q", quotedOr(f.Enum), v)
			}
			return fmt.Errorf("expected an integer, got %q", v)
		}
	case Float:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("expected a number, got %q", v)
		}
	case Bool:
		var b bool
		if err := n.Decode(&b); err != nil || n.Tag != "!!bool" {
			return fmt.Errorf("expected true or false, got %q", v)
		}
	case Duration:
		if _, err := time.ParseDuration(v); err != nil {
			return fmt.Errorf("expected a duration such as 500ms, 10s or 1m, got %q", v)
		}
	}
	return nil
}

// quotedOr lists words as `"a", "b" or "c"`.
func quotedOr(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (c *checker) object(n *yaml.Node, f Field, path string) {
	seen := map[string]bool{}
	names := make([]string, len(f.Fields))
	for i, ff := range f.Fields {
		names[i] = ff.Name
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		seen[k.Value] = true
		idx := slices.Index(names, k.Value)
		if idx < 0 {
			msg := fmt.Sprintf("unknown field %q", k.Value)
			if path != "" {
				msg = fmt.Sprintf("%s: unknown field %q", path, k.Value)
			}
			if s := Suggest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			c.add(k, "%s", msg)
			continue
		}
		c.check(v, f.Fields[idx], join(path, k.Value))
	}
	for _, ff := range f.Fields {
		if ff.Required && !seen[ff.Name] {
			msg := fmt.Sprintf("missing required field %q", ff.Name)
			if path != "" {
				msg = fmt.Sprintf("%s: missing required field %q", path, ff.Name)
			}
			c.add(n, "%s", msg)
		}
	}
}

// Suggest returns the option closest to name, if one is close enough to be
// what was meant (at most two edits, or one per four letters), else "".
func Suggest(name string, options []string) string {
	best, bestD := "", 1<<30
	for _, o := range options {
		if d := distance(strings.ToLower(name), strings.ToLower(o)); d < bestD {
			best, bestD = o, d
		}
	}
	if bestD <= max(2, len([]rune(name))/4) && bestD < len([]rune(name)) {
		return best
	}
	// Else the one option that name starts, or that starts name
	// ("elastic", "postgresql"), the shorter of the two 4 runes or more.
	prefixed := ""
	for _, o := range options {
		a, b := strings.ToLower(name), strings.ToLower(o)
		if len(a) > len(b) {
			a, b = b, a
		}
		if len([]rune(a)) >= 4 && strings.HasPrefix(b, a) {
			if prefixed != "" {
				return ""
			}
			prefixed = o
		}
	}
	return prefixed
}

// distance is the Damerau–Levenshtein distance (with adjacent swaps).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
