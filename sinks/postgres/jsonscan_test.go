package postgres

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var jsonSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `true`, `false`, `null`, ` {"a" : [1, {"b": null}], "c": "\u00e9\n"} `,
	`{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `-`, `1e`, `"\x"`, `"\u12"`, "\"a\tb\"", `{"a" 1}`, `{1:2}`, `[1 2]`, `tru`,
	`nul`, `"abc`, `{"a":1}}`, "\"\xff\"", "\"é\"", `{"k\"ey": "v"}`, `[[[[]]]]`, `1 2`, ``, ` `,
}

// FuzzValidJSON checks the sink's JSON validation against encoding/json
// (plus UTF-8 validity), and the fields it reports.
func FuzzValidJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := json.Valid(b) && utf8.Valid(b) && nesting(b) <= maxDepth
		// A mapping whose columns read every field of the object.
		var obj map[string]json.RawMessage
		isObj := json.Unmarshal(b, &obj) == nil && obj != nil
		m := &mapping{top: map[string][]int{}}
		for k := range obj {
			m.top[k] = []int{len(m.cols)}
			m.cols = append(m.cols, column{name: k, from: from{src: fromValue, path: []string{k}}})
		}
		p := parser{b: b, m: m, raws: make([][]byte, len(m.cols))}
		valid := p.valid()
		if valid != want {
			t.Fatalf("scanJSON(%q) = %v, encoding/json says %v", b, valid, want)
		}
		if !valid {
			return
		}
		if !isObj {
			return
		}
		for i, c := range m.cols {
			v := obj[c.name]
			if string(p.raws[i]) != string(v) || string(field(b, c.name)) != string(v) {
				t.Fatalf("%q: field %q is %q (field(): %q), want %q", b, c.name, p.raws[i], field(b, c.name), v)
			}
		}
	})
}

// nesting returns how deep arrays and objects nest in b.
func nesting(b []byte) int {
	depth, deepest, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

func TestDeepJSON(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	if validJSON([]byte(deep)) {
		t.Fatalf("nesting beyond %d accepted", maxDepth)
	}
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if !validJSON([]byte(ok)) {
		t.Fatalf("nesting of %d refused", maxDepth)
	}
}
