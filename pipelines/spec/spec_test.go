package spec_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/runnel-io/runnel/pipelines/spec"
)

type topicConfig struct {
	Brokers  []string          `yaml:"brokers"`
	Topic    string            `yaml:"topic" spec:"required"`
	Timeout  time.Duration     `yaml:"timeout"`
	Parts    int               `yaml:"partitions"`
	Exactly  bool              `yaml:"exactly_once"`
	Headers  map[string]string `yaml:"headers"`
	Internal func()            `yaml:"-"`
}

// root is a small pipeline-like spec: a list of outputs, each a topic
// config with a format and an expression.
func root() spec.Field {
	topic := spec.FromStruct(topicConfig{})
	topic.Fields = append(topic.Fields,
		spec.Field{Name: "format", Kind: spec.String, Enum: []string{"json", "csv", "lines"}},
		spec.Field{Name: "where", Kind: spec.String, Check: func(n *yaml.Node) error {
			if i := strings.Index(n.Value, "=="); i < 0 {
				return nil
			} else {
				return &spec.ColumnError{Offset: i, Err: errors.New(`use "=" to compare, not "=="`)}
			}
		}},
	)
	return spec.Field{Kind: spec.Object, Fields: []spec.Field{
		{Name: "name", Kind: spec.String, Required: true},
		{Name: "outputs", Kind: spec.List, Elem: &topic},
		{Name: "limit", Kind: spec.Int, Enum: []string{"unlimited"}},
	}}
}

func check(t *testing.T, doc string) []string {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	// As the pipelines do: the repeated keys first, then the rest.
	var ps spec.Problems
	for _, d := range spec.Dedup(&n) {
		ps = append(ps, d.Problem("p.yaml"))
	}
	ps = append(ps, spec.Check("p.yaml", &n, root())...)
	ps.Sort()
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	return got
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []string
	}{
		{"valid", "name: x\noutputs:\n  - topic: a\n    timeout: 10s\n    partitions: 3\n    exactly_once: true\n    headers: {a: b}\n", nil},
		{"every problem at once", `
name: x
outputs:
  - topik: a
    timeout: ten
    partitions: 3.5
    exactly_once: yes please
    format: jsn
  - topic: [a]
    brokers: localhost
`, []string{
			`p.yaml:3:5: outputs[0]: unknown field "topik" (did you mean "topic"?)`,
			`p.yaml:3:5: outputs[0]: missing required field "topic"`,
			`p.yaml:4:14: outputs[0].timeout: expected a duration such as 500ms, 10s or 1m, got "ten"`,
			`p.yaml:5:17: outputs[0].partitions: expected an integer, got "3.5"`,
			`p.yaml:6:19: outputs[0].exactly_once: expected true or false, got "yes please"`,
			`p.yaml:7:13: outputs[0].format: "jsn" is not one of json, csv, lines (did you mean "json"?)`,
			`p.yaml:8:12: outputs[1].topic: expected a string, got a list`,
			`p.yaml:9:14: outputs[1].brokers: expected a list, got "localhost"`,
		}},
		{"missing at the top", "outputs: []\n", []string{`p.yaml:1:1: missing required field "name"`}},
		{"set twice", "name: a\nname: b\n", []string{`p.yaml:2:1: duplicate key "name" (first at line 1)`}},
		{"a repeat is not checked", "name: a\nname: [b]\noutputs:\n  - {topic: a, timeout: 1s, timeout: soon}\n", []string{
			`p.yaml:2:1: duplicate key "name" (first at line 1)`,
			`p.yaml:4:29: duplicate key "timeout" (first at line 4)`,
		}},
		{"column inside an expression", "name: a\noutputs:\n  - topic: t\n    where: 'a == 1'\n", []string{
			`p.yaml:4:15: outputs[0].where: use "=" to compare, not "=="`,
		}},
		{"not a mapping", "- a\n", []string{`p.yaml:1:1: expected a mapping, got a list`}},
		{"an integer or a word", "name: a\nlimit: unlimited\n", nil},
		{"neither an integer nor a word", "name: a\nlimit: lots\n", []string{`p.yaml:2:8: limit: expected an integer or "unlimited", got "lots"`}},
		{"far from anything", "name: a\nzzzzzzzz: 1\n", []string{`p.yaml:2:1: unknown field "zzzzzzzz"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, strings.TrimPrefix(tc.doc, "\n"))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestFromStruct(t *testing.T) {
	f := spec.FromStruct(&topicConfig{})
	var names []string
	for _, ff := range f.Fields {
		names = append(names, ff.Name)
	}
	if got := strings.Join(names, ","); got != "brokers,topic,timeout,partitions,exactly_once,headers" {
		t.Fatalf("fields %s", got)
	}
	if !f.Fields[1].Required || f.Fields[0].Required {
		t.Error("only topic is required")
	}
	if f.Fields[2].Kind != spec.Duration || f.Fields[0].Kind != spec.List || f.Fields[5].Kind != spec.Map {
		t.Errorf("kinds: %+v", f.Fields)
	}
}

func TestSuggest(t *testing.T) {
	opts := []string{"topic", "brokers", "group", "start_at"}
	for in, want := range map[string]string{"topik": "topic", "broker": "brokers", "groop": "group", "startat": "start_at", "xyz": "", "t": ""} {
		if got := spec.Suggest(in, opts); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
	// A prefix either way, when one option only has it.
	conns := []string{"datagen", "elasticsearch", "file", "postgres", "topic"}
	for in, want := range map[string]string{"elastic": "elasticsearch", "postgresql": "postgres", "ela": "", "kafka": ""} {
		if got := spec.Suggest(in, conns); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := spec.Suggest("index_expr", []string{"index", "index_expression"}); got != "" {
		t.Errorf("Suggest(index_expr) = %q, want none: two options share the prefix", got)
	}
}

func TestExpand(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("password: ${PG_PASSWORD}\nport: ${PORT}\ncost: $$5\nmissing: ${NOPE}\n"), &n); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PG_PASSWORD": "s3cret", "PORT": "5432"}
	ps := spec.Expand("p.yaml", &n, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if len(ps) != 1 || ps[0].String() != "p.yaml:4:10: the environment variable NOPE is not set" {
		t.Fatalf("problems: %v", ps)
	}
	var got struct {
		Password string `yaml:"password"`
		Port     int    `yaml:"port"`
		Cost     string `yaml:"cost"`
	}
	if err := n.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Password != "s3cret" || got.Port != 5432 || got.Cost != "$5" {
		t.Fatalf("expanded to %+v", got)
	}
	// A default stands in for a variable that is unset or empty.
	var d yaml.Node
	if err := yaml.Unmarshal([]byte("a: ${UNSET:-localhost:9092}\nb: ${EMPTY:-x}\nc: ${SET:-x}\n"), &d); err != nil {
		t.Fatal(err)
	}
	env["EMPTY"], env["SET"] = "", "y"
	if ps := spec.Expand("p.yaml", &d, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	var dv map[string]string
	if err := d.Decode(&dv); err != nil {
		t.Fatal(err)
	}
	if dv["a"] != "localhost:9092" || dv["b"] != "x" || dv["c"] != "y" {
		t.Fatalf("defaults expanded to %v", dv)
	}
	// The type of an expanded value is checked like any other.
	if ps := spec.Check("p.yaml", &n, spec.Field{Kind: spec.Object, Fields: []spec.Field{
		{Name: "password", Kind: spec.String}, {Name: "port", Kind: spec.Int}, {Name: "cost", Kind: spec.String}, {Name: "missing", Kind: spec.String},
	}}); len(ps) != 0 {
		t.Fatalf("problems after expansion: %v", ps)
	}
}

func TestDedup(t *testing.T) {
	const doc = `a: 1
b:
  - {x: 1, y: 2, x: 3}
  - headers: {k: v, k: w, "${K}": u, '${K}': t}
a: 2
base: &base {topic: t, timeout: 1s}
merged:
  <<: *base
  topic: u
twice:
  <<: *base
  <<: {partitions: 3}
1: one
"1": uno
&k key: one
*k : two
? [c]
: list key
? [c]
: list key again
`
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range spec.Dedup(&n) {
		got = append(got, d.Problem("p.yaml").String())
	}
	want := []string{
		`p.yaml:3:18: duplicate key "x" (first at line 3)`,
		`p.yaml:4:21: duplicate key "k" (first at line 4)`,
		`p.yaml:4:38: duplicate key "${K}" (first at line 4)`,
		`p.yaml:5:1: duplicate key "a" (first at line 1)`,
		`p.yaml:12:3: duplicate key "<<" (first at line 11)`,
		`p.yaml:14:1: duplicate key "1" (first at line 13)`,
		`p.yaml:16:1: duplicate key "key" (first at line 15)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The repeats are gone: each mapping has its first keys, which
	// yaml.v3, refusing repeated keys, decodes (without the list keys,
	// which it takes for two of one name).
	root := n.Content[0]
	root.Content = root.Content[:len(root.Content)-4]
	var v struct {
		A int `yaml:"a"`
		B []struct {
			X       int               `yaml:"x"`
			Headers map[string]string `yaml:"headers"`
		} `yaml:"b"`
		Merged map[string]string `yaml:"merged"`
		Twice  map[string]string `yaml:"twice"`
	}
	if err := n.Decode(&v); err != nil {
		t.Fatalf("decode after Dedup: %v", err)
	}
	if v.A != 1 || v.B[0].X != 1 || v.B[1].Headers["k"] != "v" || v.B[1].Headers["${K}"] != "u" || len(v.B[1].Headers) != 2 {
		t.Errorf("not the first values: %+v", v)
	}
	// A key written beside a merge overrides the merged one, as in YAML.
	if v.Merged["topic"] != "u" || v.Merged["timeout"] != "1s" {
		t.Errorf("merged: %v", v.Merged)
	}
	if v.Twice["topic"] != "t" || v.Twice["partitions"] != "" {
		t.Errorf("the first merge only: %v", v.Twice)
	}
}
