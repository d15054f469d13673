package pipelines

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/runnel-io/runnel/pipelines/exprs"
	"github.com/runnel-io/runnel/pipelines/spec"
)

// LoadOptions configure how a pipeline file is read.
type LoadOptions struct {
	// Once makes every pipeline of the file a batch job (Options.Once).
	Once bool
	// CloseWindows closes every window at the end of the input
	// (Options.CloseWindows); it needs Once.
	CloseWindows bool
	// LookupEnv resolves ${NAME} in the file (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	Logger    *slog.Logger
}

// File is a checked pipeline file, compiled to pipelines and ready to run.
type File struct {
	Path string
	// Pipelines in the order of the file.
	Pipelines []*Pipeline
	// Bootstrap of the Kafka cluster; empty for the embedded broker.
	Bootstrap []string
	// DataDir holds the embedded broker's data and the local positions
	// of file and datagen inputs.
	DataDir string
	once    bool
	outputs []OutputInfo
	// after[i] are the pipelines that write a topic pipeline i reads: with
	// Once, i starts when they are done.
	after  [][]int
	logger *slog.Logger
}

// LoadFile reads, checks and compiles a pipeline file. When the file has
// problems, the error is spec.Problems: every one of them, each at its
// line and column.
func LoadFile(path string, o LoadOptions) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, o)
}

// Parse is LoadFile of a file's content; path names it in messages.
func Parse(path string, data []byte, o LoadOptions) (*File, error) {
	if o.CloseWindows && !o.Once {
		return nil, ErrCloseWindowsNeedsOnce
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, spec.Problems{yamlProblem(path, err)}
	}
	l := &loader{file: path, opts: o, inputs: map[string]*inputDecl{}, outputs: map[string]*outputDecl{}, declared: map[string]bool{}, dupMsg: map[*yaml.Node]string{}}
	// A key repeated in a mapping, anywhere, is a problem; the repeat is
	// removed, so that the loader sees each key once.
	l.dups = spec.Dedup(&doc)
	l.ps = append(l.ps, spec.Expand(path, &doc, o.LookupEnv)...)
	f := l.load(&doc)
	for _, d := range l.dups {
		p := d.Problem(path)
		if msg, ok := l.dupMsg[d.Key]; ok {
			p.Msg = msg
		}
		l.ps = append(l.ps, p)
	}
	l.ps.Sort()
	if len(l.ps) > 0 {
		return nil, l.ps
	}
	return f, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlProblem turns a YAML syntax error into a Problem.
func yamlProblem(path string, err error) spec.Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return spec.Problem{File: path, Line: line, Col: 1, Msg: "YAML: " + m[2]}
	}
	if errors.Is(err, io.EOF) {
		return spec.Problem{File: path, Line: 1, Col: 1, Msg: "the file is empty"}
	}
	return spec.Problem{File: path, Line: 1, Col: 1, Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// The spec of a file's top level; inputs, outputs and steps are checked
// by the loader, which knows the connectors and the steps.
var fileSpec = spec.Field{Kind: spec.Object, Fields: []spec.Field{
	{Name: "broker", Kind: spec.Object, Fields: []spec.Field{
		{Name: "data_dir", Kind: spec.String},
		{Name: "bootstrap", Kind: spec.List, Elem: &spec.Field{Kind: spec.String}},
	}},
	{Name: "checkpoint_interval", Kind: spec.Duration},
	{Name: "stop_timeout", Kind: spec.Duration},
	{Name: "session_timeout", Kind: spec.Duration},
	{Name: "instance_id", Kind: spec.String},
	restartSpec,
	{Name: "inputs", Kind: spec.Map, Elem: &spec.Field{Kind: spec.Any}},
	{Name: "outputs", Kind: spec.Map, Elem: &spec.Field{Kind: spec.Any}},
	{Name: "pipelines", Kind: spec.Map, Required: true, Elem: &spec.Field{Kind: spec.Object, Fields: []spec.Field{
		{Name: "description", Kind: spec.String},
		{Name: "from", Kind: spec.Any, Required: true},
		{Name: "steps", Kind: spec.List, Required: true, Elem: &spec.Field{Kind: spec.Any}},
		{Name: "on_error", Kind: spec.String, Enum: []string{"fail", "skip", "dead_letter"}},
		{Name: "dead_letter", Kind: spec.String},
		restartSpec,
	}}},
}}

// restartSpec is the spec of restart, at the top level of a file and in
// a pipeline (RestartStrategy).
var restartSpec = spec.Field{Name: "restart", Kind: spec.Object, Fields: []spec.Field{
	{Name: "max_attempts", Kind: spec.Int, Enum: []string{"unlimited"}, Check: func(n *yaml.Node) error {
		if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil && v < 0 {
			return fmt.Errorf("expected 0 (never restart) or more, or \"unlimited\", got %d", v)
		}
		return nil
	}},
	{Name: "backoff", Kind: spec.Duration, Check: positiveDuration},
	{Name: "max_backoff", Kind: spec.Duration, Check: positiveDuration},
	{Name: "reset_after", Kind: spec.Duration, Check: positiveDuration},
}}

// positiveDuration checks that a duration is more than 0.
func positiveDuration(n *yaml.Node) error {
	if d, err := time.ParseDuration(n.Value); err == nil && d <= 0 {
		return fmt.Errorf("expected a positive duration, got %q", n.Value)
	}
	return nil
}

// restartDecl is a restart strategy of the file, with the nodes of its
// backoff and max_backoff (nil: not set), for messages.
type restartDecl struct {
	s                     RestartStrategy
	backoffN, maxBackoffN *yaml.Node
}

// restart reads the restart mapping n (nil: none) over base: the fields n
// sets override base's. It reports a max_backoff less than the backoff,
// at the one of the two that n sets (max_backoff when n sets both);
// other problems are the spec's.
func (l *loader) restart(n *yaml.Node, base restartDecl, path string) restartDecl {
	if n == nil || n.Kind != yaml.MappingNode {
		return base
	}
	out := base
	dur := func(name string) (time.Duration, *yaml.Node) {
		v := field(n, name)
		if v == nil || v.Kind != yaml.ScalarNode {
			return 0, nil
		}
		d, err := time.ParseDuration(v.Value)
		if err != nil || d <= 0 {
			return 0, nil // reported by the spec
		}
		return d, v
	}
	if v := field(n, "max_attempts"); v != nil && v.Kind == yaml.ScalarNode {
		if v.Value == "unlimited" {
			out.s.MaxAttempts = 0
		} else if m, err := strconv.ParseInt(v.Value, 0, 64); err == nil && m >= 0 {
			out.s.MaxAttempts = int(min(m, math.MaxInt32))
			if m == 0 {
				out.s.MaxAttempts = -1
			}
		}
	}
	if d, v := dur("backoff"); v != nil {
		out.s.Backoff, out.backoffN = d, v
	}
	if d, v := dur("max_backoff"); v != nil {
		out.s.MaxBackoff, out.maxBackoffN = d, v
	}
	if d, v := dur("reset_after"); v != nil {
		out.s.ResetAfter = d
	}
	if out.backoffN == nil || out.maxBackoffN == nil || out.s.MaxBackoff >= out.s.Backoff {
		return out
	}
	switch {
	case out.maxBackoffN != base.maxBackoffN:
		l.add(out.maxBackoffN, "%s.max_backoff: %s is less than the backoff (%s, line %d)", path, out.maxBackoffN.Value, out.backoffN.Value, out.backoffN.Line)
	case out.backoffN != base.backoffN:
		l.add(out.backoffN, "%s.backoff: %s is more than the max_backoff (%s, line %d)", path, out.backoffN.Value, out.maxBackoffN.Value, out.maxBackoffN.Line)
	}
	return out
}

// inputDecl is an input of the file.
type inputDecl struct {
	name        string
	node        *yaml.Node // its name, for messages
	conn        string
	cfg         any
	keyFormat   string
	valueFormat string
}

// outputDecl is an output of the file.
type outputDecl struct {
	name        string
	node        *yaml.Node
	conn        string
	cfg         any
	keyFormat   string
	valueFormat string
	writers     []string // the pipelines writing it
}

type loader struct {
	file    string
	opts    LoadOptions
	ps      spec.Problems
	inputs  map[string]*inputDecl
	outputs map[string]*outputDecl
	// declared are the names of every input and output of the file, the
	// broken ones too: a reference to a broken one is not reported again.
	declared map[string]bool
	// dups are the keys the file repeats, removed from the tree by
	// spec.Dedup; dupMsg has the messages that say more than "duplicate
	// key" about some of them.
	dups   []spec.Duplicate
	dupMsg map[*yaml.Node]string
}

func (l *loader) add(n *yaml.Node, format string, args ...any) {
	l.ps = append(l.ps, spec.Problem{File: l.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// field returns the value of a mapping's key, or nil.
func field(m *yaml.Node, name string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i+1]
		}
	}
	return nil
}

// keyNode returns the key node of a mapping's field, or the mapping.
func keyNode(m *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i]
		}
	}
	return m
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (l *loader) load(doc *yaml.Node) *File {
	ps := spec.Check(l.file, doc, fileSpec)
	l.ps = append(l.ps, ps...)
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	root := doc.Content[0]
	f := &File{Path: l.file, DataDir: "data", once: l.opts.Once, logger: l.opts.Logger}
	if b := field(root, "broker"); b != nil {
		if d := field(b, "data_dir"); d != nil && d.Kind == yaml.ScalarNode {
			f.DataDir = d.Value
		}
		if bs := field(b, "bootstrap"); bs != nil && bs.Kind == yaml.SequenceNode {
			for _, e := range bs.Content {
				f.Bootstrap = append(f.Bootstrap, e.Value)
			}
			if len(f.Bootstrap) == 0 {
				l.add(bs, "broker.bootstrap: give at least one host:port, or leave bootstrap out for the embedded broker")
			}
		}
	}
	opts := Options{DataDir: f.DataDir, Brokers: f.Bootstrap, Once: l.opts.Once, CloseWindows: l.opts.CloseWindows, Logger: l.opts.Logger}
	var dur = func(name string) time.Duration {
		if n := field(root, name); n != nil {
			d, _ := time.ParseDuration(n.Value)
			return d
		}
		return 0
	}
	opts.CheckpointInterval, opts.SessionTimeout = dur("checkpoint_interval"), dur("session_timeout")
	opts.StopTimeout = dur("stop_timeout")
	if n := field(root, "instance_id"); n != nil {
		opts.InstanceID = n.Value
	}
	restart := l.restart(field(root, "restart"), restartDecl{}, "restart")
	if n := field(root, "inputs"); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.declared["input "+n.Content[i].Value] = true
			l.input(n.Content[i], n.Content[i+1])
		}
	}
	if n := field(root, "outputs"); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.declared["output "+n.Content[i].Value] = true
			l.output(n.Content[i], n.Content[i+1])
		}
	}
	pn := field(root, "pipelines")
	if pn == nil || pn.Kind != yaml.MappingNode {
		return f
	}
	if len(pn.Content) == 0 {
		l.add(pn, "pipelines: declare at least one pipeline")
	}
	reads := map[int][]string{}
	writes := map[int][]string{}
	for i := 0; i+1 < len(pn.Content); i += 2 {
		k, v := pn.Content[i], pn.Content[i+1]
		if !nameRE.MatchString(k.Value) {
			l.add(k, "pipeline name %q: use letters, digits, '.', '_' and '-' (it names consumer groups and topics)", k.Value)
			continue
		}
		if v.Kind != yaml.MappingNode {
			continue // reported by the spec
		}
		c := &compiler{l: l, name: k.Value, node: v, keyN: k}
		po := opts
		po.Restart = l.restart(field(v, "restart"), restart, "pipelines."+k.Value+".restart").s
		p := c.compile(po)
		if p == nil {
			continue
		}
		idx := len(f.Pipelines)
		f.Pipelines = append(f.Pipelines, p)
		for _, in := range c.usedInputs {
			if in.conn == "topic" {
				reads[idx] = append(reads[idx], sourceConns["topic"].topics(in.cfg)...)
			}
		}
		if c.deadTopic != "" {
			writes[idx] = append(writes[idx], c.deadTopic)
		}
		for name := range c.outs {
			out := l.outputs[name]
			if t := sinkConns[out.conn].topic(out.cfg); t != "" {
				writes[idx] = append(writes[idx], t)
			}
		}
	}
	for _, out := range l.outputs {
		if sinkConns[out.conn].single && len(out.writers) > 1 {
			l.add(out.node, "the %s output %q is written by the pipelines %s; it takes one writer (give each its own)", out.conn, out.name, strings.Join(out.writers, " and "))
		}
	}
	for _, name := range names(l.outputs) {
		if out := l.outputs[name]; len(out.writers) > 0 {
			f.outputs = append(f.outputs, OutputInfo{Name: name, Connector: out.conn, Where: sinkConns[out.conn].where(out.cfg)})
		}
	}
	f.after = make([][]int, len(f.Pipelines))
	for i := range f.Pipelines {
		for j := range f.Pipelines {
			if i != j && overlaps(reads[i], writes[j]) {
				f.after[i] = append(f.after[i], j)
			}
		}
	}
	return f
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// formatsOf reads the key_format and value_format fields of an input or
// output, and returns the connector's node: the one other field.
func (l *loader) connectorOf(kind string, name, n *yaml.Node, known []string) (conn string, cfg *yaml.Node, keyFormat, valueFormat string) {
	if n.Kind != yaml.MappingNode {
		l.add(n, "%s %q: expected a mapping with a connector (%s), got %s", kind, name.Value, joinQuoted(known), spec.Describe(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "key_format", "value_format":
			if v.Kind != yaml.ScalarNode || !slices.Contains(formats, v.Value) {
				l.add(v, "%s: %s is not one of %s", k.Value, spec.Describe(v), strings.Join(formats, ", "))
				continue
			}
			if k.Value == "key_format" {
				keyFormat = v.Value
			} else {
				valueFormat = v.Value
			}
		default:
			if !slices.Contains(known, k.Value) {
				if s := spec.Suggest(k.Value, []string{"key_format", "value_format"}); s != "" {
					l.add(k, "%s %q: unknown field %q (did you mean %q?)", kind, name.Value, k.Value, s)
					continue
				}
				l.add(k, "%s %q: %s", kind, name.Value, unknownConnector(k.Value, known))
				continue
			}
			if conn != "" {
				l.add(k, "%s %q has two connectors, %q and %q: give it one", kind, name.Value, conn, k.Value)
				continue
			}
			conn, cfg = k.Value, v
		}
	}
	if conn == "" && !l.problemInside(n) {
		l.add(n, "%s %q: missing its connector (%s)", kind, name.Value, joinQuoted(known))
	}
	if keyFormat == "" {
		keyFormat = formatString
	}
	return
}

// problemInside reports whether a problem was already reported inside
// n (an unknown connector), so as not to add "missing" on top of it.
func (l *loader) problemInside(n *yaml.Node) bool {
	for _, p := range l.ps {
		if p.Line >= n.Line && p.Line <= lastLine(n) && p.File == l.file {
			return true
		}
	}
	return false
}

func lastLine(n *yaml.Node) int {
	line := n.Line
	for _, c := range n.Content {
		line = max(line, lastLine(c))
	}
	return line
}

func (l *loader) input(k, v *yaml.Node) {
	conn, cn, kf, vf := l.connectorOf("input", k, v, names(sourceConns))
	if conn == "" {
		return
	}
	c := sourceConns[conn]
	cfg, ok := l.connectorConfig(cn, c.spec, c.config, "inputs."+k.Value+"."+conn)
	if !ok {
		return
	}
	if vf == "" {
		vf = c.valueFormat(cfg)
	}
	l.inputs[k.Value] = &inputDecl{name: k.Value, node: k, conn: conn, cfg: cfg, keyFormat: kf, valueFormat: vf}
}

func (l *loader) output(k, v *yaml.Node) {
	conn, cn, kf, vf := l.connectorOf("output", k, v, names(sinkConns))
	if conn == "" {
		return
	}
	c := sinkConns[conn]
	cfg, ok := l.connectorConfig(cn, c.spec, c.config, "outputs."+k.Value+"."+conn)
	if !ok {
		return
	}
	if vf == "" {
		vf = formatJSON
	}
	if conn == "file" && vf != formatJSON {
		l.add(keyNode(v, "value_format"), "output %q: a file output writes JSON values (value_format: json)", k.Value)
	}
	l.outputs[k.Value] = &outputDecl{name: k.Value, node: k, conn: conn, cfg: cfg, keyFormat: kf, valueFormat: vf}
}

// connectorConfig checks a connector's configuration against its spec,
// then decodes and validates it.
func (l *loader) connectorConfig(n *yaml.Node, f spec.Field, decode func(*yaml.Node) (any, error), path string) (any, bool) {
	if ps := spec.CheckAt(l.file, n, f, path); len(ps) > 0 {
		l.ps = append(l.ps, ps...)
		return nil, false
	}
	cfg, err := decode(n)
	if err != nil {
		l.configProblems(n, path, err)
		return nil, false
	}
	return cfg, true
}

// configProblems reports a connector's Validate error, one problem per
// line of it, at the connector's configuration.
func (l *loader) configProblems(n *yaml.Node, path string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			l.add(n, "%s: %s", path, line)
		}
	}
}

// refName checks a reference to an input or output.
func refName[T any](l *loader, n *yaml.Node, kind string, m map[string]T) (T, bool) {
	var zero T
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.add(n, "expected the name of an %s, got %s", kind, spec.Describe(n))
		return zero, false
	}
	v, ok := m[n.Value]
	if !ok && l.declared[kind+" "+n.Value] {
		return zero, false // declared but broken: reported there
	}
	if !ok {
		msg := fmt.Sprintf("no %s is named %q", kind, n.Value)
		known := names(m)
		if s := spec.Suggest(n.Value, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(known) > 0 {
			msg += fmt.Sprintf(" (the %ss are %s)", kind, joinQuoted(known))
		} else {
			msg += fmt.Sprintf(" (the file declares no %ss)", kind)
		}
		l.add(n, "%s", msg)
		return zero, false
	}
	return v, true
}

// compileExpr compiles an expression scalar, reporting its problems at
// the column inside the expression.
func (l *loader) compileExpr(n *yaml.Node, kind exprs.Kind, what string) *exprs.Program {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.add(n, "%s: expected an expression, got %s", what, spec.Describe(n))
		return nil
	}
	p, err := exprs.Compile(n.Value, kind)
	if err != nil {
		l.exprProblem(n, 0, what, err)
		return nil
	}
	return p
}

// exprProblem reports an expression's error inside the scalar n; offset
// is where the expression starts in the scalar, in runes.
func (l *loader) exprProblem(n *yaml.Node, offset int, what string, err error) {
	line, col := n.Line, n.Column
	var e *exprs.Error
	var ce *spec.ColumnError
	switch {
	case errors.As(err, &e):
		quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
		if e.Line == 1 && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			col += offset + e.Column - 1
			if quoted {
				col++
			}
		} else if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			// a block scalar starts on the next line, indented
			line += e.Line
			col = e.Column
		}
		err = fmt.Errorf("%s", e.Msg)
	case errors.As(err, &ce):
		col += offset + ce.Offset
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			col++
		}
		err = ce.Err
	}
	l.ps = append(l.ps, spec.Problem{File: l.file, Line: line, Col: col, Msg: fmt.Sprintf("%s: %v", what, firstLine(err.Error()))})
}

// firstLine keeps an expr-lang message's first line: the rest repeats
// the expression with a caret, which the position already gives.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
