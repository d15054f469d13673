package pipelines

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines/exprs"
	"github.com/runnel-io/runnel/pipelines/spec"
	topicsrc "github.com/runnel-io/runnel/sources/topic"
)

// The steps of a YAML pipeline, each a mapping with one of these keys
// (and optionally "name", the operator's name: give windows one, so that
// their state outlives edits of the steps before them).
var stepNames = []string{"filter", "map", "flat_map", "event_time", "set_key", "key_by", "window", "branch", "fan_out", "merge", "to"}

var windowSpec = spec.Field{Kind: spec.Object, Fields: []spec.Field{
	{Name: "tumbling", Kind: spec.Duration},
	{Name: "hopping", Kind: spec.Object, Fields: []spec.Field{
		{Name: "size", Kind: spec.Duration, Required: true},
		{Name: "advance", Kind: spec.Duration, Required: true},
	}},
	{Name: "sliding", Kind: spec.Duration},
	{Name: "session", Kind: spec.Duration},
	{Name: "delay", Kind: spec.Duration},
	{Name: "grace", Kind: spec.Duration},
	{Name: "idle", Kind: spec.Duration},
	{Name: "emit", Kind: spec.String, Enum: []string{"final", "update"}},
	{Name: "aggregate", Kind: spec.Map, Required: true, Elem: &spec.Field{Kind: spec.String}},
	{Name: "late", Kind: spec.String},
}}

var armSpec = spec.Field{Kind: spec.Object, Fields: []spec.Field{
	{Name: "name", Kind: spec.String},
	{Name: "when", Kind: spec.String},
	{Name: "steps", Kind: spec.List, Required: true, Elem: &spec.Field{Kind: spec.Any}},
}}

// flow is a stream being compiled, with the stage it is in (a key_by
// starts the next one).
type flow struct {
	s     engine.Stream[any, any]
	stage int
}

// compiler compiles one pipeline of a file.
type compiler struct {
	l    *loader
	name string
	node *yaml.Node
	keyN *yaml.Node // the pipeline's name in the file
	p    *Pipeline
	// outs are the streams written to each output, in outOrder.
	outs       map[string][]flow
	outOrder   []string
	outNodes   map[string]*yaml.Node
	usedInputs []*inputDecl
	inputs     map[string]flow
	broken     map[string]*inputDecl // placeholders of inputs in error
	dataDir    string
	deadTopic  string // the dead-letter topic, if any
	// late counts, per output, the flows written to it that are a
	// window's late records.
	late     map[string]int
	branches int
	bad      bool // a problem was found: the graph is not built further
}

func (c *compiler) add(n *yaml.Node, format string, args ...any) {
	c.bad = true
	c.l.add(n, format, args...)
}

// compile builds the pipeline, or returns nil after reporting problems.
func (c *compiler) compile(o Options) *Pipeline {
	c.outs, c.outNodes, c.inputs, c.late = map[string][]flow{}, map[string]*yaml.Node{}, map[string]flow{}, map[string]int{}
	c.dataDir = o.DataDir
	from := field(c.node, "from")
	steps := field(c.node, "steps")
	if from == nil || steps == nil || steps.Kind != yaml.SequenceNode {
		return nil // reported by the spec
	}
	// The inputs: those of from, and those merged by the steps.
	var fromNodes []*yaml.Node
	switch from.Kind {
	case yaml.SequenceNode:
		fromNodes = from.Content
		if len(fromNodes) == 0 {
			c.add(from, "from: name at least one input")
		}
	default:
		fromNodes = []*yaml.Node{from}
	}
	refs := slices.Clone(fromNodes)
	collectMerges(steps, &refs)
	for _, r := range refs {
		in, ok := refName(c.l, r, "input", c.l.inputs)
		if !ok {
			// A placeholder, so that the steps are checked too.
			c.bad = true
			in = &inputDecl{name: r.Value, node: r, conn: "broken"}
			if c.broken == nil {
				c.broken = map[string]*inputDecl{}
			}
			if b := c.broken[r.Value]; b != nil {
				in = b
			}
			c.broken[r.Value] = in
		}
		if !slices.Contains(c.usedInputs, in) {
			c.usedInputs = append(c.usedInputs, in)
		}
	}
	var topics []*inputDecl
	for _, in := range c.usedInputs {
		if in.conn == "topic" {
			topics = append(topics, in)
		}
	}
	if len(c.usedInputs) > 1 && len(topics) < len(c.usedInputs) {
		for _, in := range c.usedInputs {
			if in.conn != "topic" && in.conn != "broken" {
				c.add(from, "pipeline %q reads the inputs %s: a pipeline reads one source, so only topic inputs can be merged (%q is a %s input); split it into two pipelines joined by a topic", c.name, joinQuoted(inputNames(c.usedInputs)), in.name, in.conn)
				break
			}
		}
	}
	c.p = New(c.name, o)
	c.bindInputs(topics)
	var start []flow
	for _, n := range fromNodes {
		start = append(start, c.inputs[n.Value])
	}
	fl := start[0]
	if len(start) > 1 {
		fl = c.merge(start)
	}
	c.steps(steps, fl, "pipelines."+c.name+".steps")
	c.errorPolicy()
	if c.bad {
		return nil
	}
	if len(c.outOrder) == 0 {
		c.add(keyNode(c.node, "steps"), "pipeline %q writes to no output: end its steps with \"- to: <output>\"", c.name)
		return nil
	}
	for _, name := range c.outOrder {
		fls := c.outs[name]
		out := c.l.outputs[name]
		fl := fls[0]
		if len(fls) > 1 {
			for _, f := range fls[1:] {
				if f.stage != fl.stage {
					c.add(c.outNodes[name], "the output %q is written before and after a key_by; write each to its own output", name)
					return nil
				}
			}
			fl = c.merge(fls)
		}
		role := RoleOutput
		if c.late[name] == len(fls) {
			role = RoleLate
		}
		c.p.labelled(name, role, func() { sinkConns[out.conn].bind(fl.s, out) })
	}
	if _, err := c.p.g.Stages(); err != nil {
		c.add(c.keyN, "pipeline %q: %v", c.name, err)
		return nil
	}
	return c.p
}

func inputNames(ins []*inputDecl) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.name
	}
	return out
}

// collectMerges finds the input names merged by steps, in branches too.
func collectMerges(steps *yaml.Node, refs *[]*yaml.Node) {
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return
	}
	for _, st := range steps.Content {
		if m := field(st, "merge"); m != nil {
			if m.Kind == yaml.SequenceNode {
				*refs = append(*refs, m.Content...)
			} else {
				*refs = append(*refs, m)
			}
		}
		for _, arms := range []*yaml.Node{field(st, "branch"), field(st, "fan_out")} {
			if arms != nil && arms.Kind == yaml.SequenceNode {
				for _, a := range arms.Content {
					collectMerges(field(a, "steps"), refs)
				}
			}
		}
	}
}

// bindInputs declares the pipeline's source: the topic inputs together,
// as one topic source, or its one other input.
func (c *compiler) bindInputs(topics []*inputDecl) {
	var raw engine.Stream[[]byte, []byte]
	if len(topics) > 0 {
		cfg := *topics[0].cfg.(*topicsrc.Config)
		cfg.Topics = nil
		for _, in := range topics {
			ic := in.cfg.(*topicsrc.Config)
			if ic.StartAt != cfg.StartAt || ic.MaxPollRecords != cfg.MaxPollRecords {
				c.add(in.node, "the topic inputs %q and %q, merged in pipeline %q, must agree on start_at and max_poll_records", topics[0].name, in.name, c.name)
				return
			}
			for _, t := range ic.Topics {
				if !slices.Contains(cfg.Topics, t) {
					cfg.Topics = append(cfg.Topics, t)
				}
			}
		}
		raw = FromTopicConfig(c.p, cfg, engine.Bytes(), engine.Bytes())
	}
	for _, in := range c.usedInputs {
		s := raw
		if in.conn == "topic" {
			if len(topics) > 1 {
				mine := in.cfg.(*topicsrc.Config).Topics
				s = engine.Filter(raw, func(r engine.Record[[]byte, []byte]) bool {
					return slices.Contains(mine, r.Pos.Input.Stream)
				}, engine.Name("input-"+in.name))
			}
		} else if in.conn == "broken" {
			s = engine.From(c.p.g, "broken:"+in.name, engine.Bytes(), engine.Bytes())
		} else {
			s = sourceConns[in.conn].bind(c.p, in, c.dataDir)
		}
		keys, values := dynSerde{in.keyFormat}, dynSerde{in.valueFormat}
		dec := engine.MapRecord(s, func(r engine.Record[[]byte, []byte]) (engine.Record[any, any], error) {
			k, err := keys.Decode(r.Key)
			if err != nil {
				return engine.Record[any, any]{}, fmt.Errorf("input %s: key: %w", in.name, err)
			}
			v, err := values.Decode(r.Value)
			if err != nil {
				return engine.Record[any, any]{}, fmt.Errorf("input %s: value: %w", in.name, err)
			}
			return engine.Record[any, any]{Key: normalizeKey(k), Value: v, Time: r.Time, Headers: r.Headers, Pos: r.Pos}, nil
		}, engine.Name("decode-"+in.name))
		c.inputs[in.name] = flow{s: dec}
	}
}

func (c *compiler) merge(fls []flow) flow {
	ss := make([]engine.Stream[any, any], len(fls))
	for i, f := range fls {
		ss[i] = f.s
	}
	return flow{s: engine.Merge(ss...), stage: fls[0].stage}
}

// steps compiles a list of steps onto fl.
func (c *compiler) steps(list *yaml.Node, fl flow, path string) {
	// After a problem the steps are still checked, to report every
	// problem at once; the graph is dropped.
	for i, st := range list.Content {
		where := fmt.Sprintf("%s[%d]", path, i)
		if st.Kind != yaml.MappingNode {
			c.add(st, "%s: expected a step (a mapping such as \"filter: value.amount > 0\"), got %s", where, spec.Describe(st))
			continue
		}
		var op string
		var arg *yaml.Node
		var opts []engine.Opt
		ok := true
		for _, d := range c.l.dups {
			if d.Mapping == st && slices.Contains(stepNames, d.Key.Value) {
				// Two filters in one item: the "- " of the second is missing.
				c.l.dupMsg[d.Key] = fmt.Sprintf("%s: %s: one step per list item (start the second with \"- \")", where, d.Message())
			}
		}
		for j := 0; j+1 < len(st.Content); j += 2 {
			k, v := st.Content[j], st.Content[j+1]
			switch {
			case k.Value == "name":
				if v.Kind != yaml.ScalarNode || v.Value == "" {
					c.add(v, "%s.name: expected a name", where)
					ok = false
					continue
				}
				opts = append(opts, engine.Name(v.Value))
			case slices.Contains(stepNames, k.Value):
				if op != "" {
					c.add(k, "%s: one step per list item: %q and %q are two (start the second with \"- \")", where, op, k.Value)
					ok = false
					continue
				}
				op, arg = k.Value, v
			default:
				msg := fmt.Sprintf("%s: unknown step %q", where, k.Value)
				if s := spec.Suggest(k.Value, stepNames); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				} else {
					msg += fmt.Sprintf(" (one of %s)", strings.Join(stepNames, ", "))
				}
				c.add(k, "%s", msg)
				ok = false
			}
		}
		if op == "" {
			if ok {
				c.add(st, "%s: a step needs an operator (%s)", where, strings.Join(stepNames, ", "))
			}
			continue
		}
		last := i == len(list.Content)-1
		if (op == "branch" || op == "fan_out") && !last {
			c.add(keyNode(st, op), "%s: %s splits the stream: it must be the last step of its list (put the steps that follow inside its arms)", where, op)
		}
		fl = c.step(op, arg, st, fl, where+"."+op, opts)
	}
}

// recExpr is an expression of a step, with what it reads of a record.
type recExpr struct {
	p       *exprs.Program
	headers bool // it reads headers: only then are they put in a map
}

func (e recExpr) env(r *engine.Record[any, any]) *exprs.Env { return envOf(r, e.headers) }

// expr compiles a step's expression; a problem is reported and marks the
// pipeline bad.
func (c *compiler) expr(n *yaml.Node, kind exprs.Kind, where string) (recExpr, bool) {
	p := c.l.compileExpr(n, kind, where)
	if p == nil {
		c.bad = true
		return recExpr{}, false
	}
	return recExpr{p, p.Uses("headers")}, true
}

// step compiles one step.
func (c *compiler) step(op string, arg, st *yaml.Node, fl flow, where string, opts []engine.Opt) flow {
	switch op {
	case "filter":
		e, ok := c.expr(arg, exprs.Bool, where)
		if !ok {
			return fl
		}
		fl.s = engine.FlatMap(fl.s, func(r engine.Record[any, any]) ([]any, error) {
			keep, err := e.p.Bool(e.env(&r))
			if err != nil || !keep {
				return nil, err
			}
			return []any{r.Value}, nil
		}, opts...)
	case "map":
		build := c.builder(arg, where)
		if build == nil {
			c.bad = true
			return fl
		}
		fl.s = engine.Map(fl.s, func(r engine.Record[any, any]) (any, error) { return build(&r) }, opts...)
	case "flat_map":
		e, ok := c.expr(arg, exprs.Any, where)
		if !ok {
			return fl
		}
		fl.s = engine.FlatMap(fl.s, func(r engine.Record[any, any]) ([]any, error) {
			v, err := e.p.Run(e.env(&r))
			if err != nil || v == nil {
				return nil, err
			}
			vs, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("flat_map %s: the result is %T, not a list", e.p, v)
			}
			return vs, nil
		}, opts...)
	case "event_time":
		e, ok := c.expr(arg, exprs.Any, where)
		if !ok {
			return fl
		}
		fl.s = engine.WithTime(fl.s, func(r engine.Record[any, any]) (int64, error) { return e.p.Time(e.env(&r)) }, opts...)
	case "set_key", "key_by":
		e, ok := c.expr(arg, exprs.Any, where)
		if !ok {
			return fl
		}
		setOpts := opts
		if op == "key_by" {
			setOpts = nil
		}
		fl.s = engine.MapRecord(fl.s, func(r engine.Record[any, any]) (engine.Record[any, any], error) {
			k, err := e.p.Run(e.env(&r))
			if err != nil {
				return engine.Record[any, any]{}, err
			}
			r.Key = normalizeKey(k)
			return r, nil
		}, setOpts...)
		if op == "key_by" {
			fl.s = engine.KeyByWith(fl.s, func(r engine.Record[any, any]) any { return r.Key }, dynSerde{formatJSON}, dynSerde{formatJSON}, opts...)
			fl.stage++
		}
	case "merge":
		fls := []flow{fl}
		refs := []*yaml.Node{arg}
		if arg.Kind == yaml.SequenceNode {
			refs = arg.Content
		}
		for _, r := range refs {
			in := c.inputs[r.Value]
			if fl.stage != in.stage {
				c.add(r, "%s: the input %q cannot be merged after a key_by: merge it before the key_by", where, r.Value)
				return fl
			}
			fls = append(fls, in)
		}
		return c.merge(fls)
	case "to":
		c.to(arg, fl, where)
	case "window":
		return c.window(arg, fl, where, opts)
	case "branch", "fan_out":
		c.arms(op, arg, fl, where)
	}
	return fl
}

// to writes fl to an output and lets it go on.
func (c *compiler) to(n *yaml.Node, fl flow, where string) {
	out, ok := refName(c.l, n, "output", c.l.outputs)
	if !ok {
		c.bad = true
		return
	}
	if !slices.Contains(out.writers, c.name) {
		out.writers = append(out.writers, c.name)
	}
	if _, seen := c.outs[out.name]; !seen {
		c.outOrder = append(c.outOrder, out.name)
		c.outNodes[out.name] = n
	}
	c.outs[out.name] = append(c.outs[out.name], fl)
}

// builder compiles the argument of map: an expression, or a mapping of
// field names to expressions (nested mappings make nested objects).
func (c *compiler) builder(n *yaml.Node, where string) func(*engine.Record[any, any]) (any, error) {
	if n.Kind == yaml.MappingNode {
		type fieldBuild struct {
			name  string
			build func(*engine.Record[any, any]) (any, error)
		}
		var fields []fieldBuild
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			b := c.builder(v, where+"."+k.Value)
			if b == nil {
				ok = false
				continue
			}
			fields = append(fields, fieldBuild{k.Value, b})
		}
		if !ok {
			return nil
		}
		return func(r *engine.Record[any, any]) (any, error) {
			out := make(map[string]any, len(fields))
			for _, f := range fields {
				v, err := f.build(r)
				if err != nil {
					return nil, err
				}
				out[f.name] = v
			}
			return out, nil
		}
	}
	e, ok := c.expr(n, exprs.Any, where)
	if !ok {
		return nil
	}
	return func(r *engine.Record[any, any]) (any, error) { return e.p.Run(e.env(r)) }
}

// arms compiles branch and fan_out.
func (c *compiler) arms(op string, n *yaml.Node, fl flow, where string) {
	ps := spec.CheckAt(c.l.file, n, spec.Field{Kind: spec.List, Elem: &armSpec}, where)
	if len(ps) > 0 {
		c.l.ps = append(c.l.ps, ps...)
		c.bad = true
		return
	}
	if len(n.Content) == 0 {
		c.add(n, "%s: give at least one arm", where)
		return
	}
	if op == "fan_out" {
		for i, a := range n.Content {
			if w := field(a, "when"); w != nil {
				c.add(keyNode(a, "when"), "%s[%d]: a fan_out arm takes every record; \"when\" is for branch", where, i)
				return
			}
			c.steps(field(a, "steps"), fl, fmt.Sprintf("%s[%d].steps", where, i))
		}
		return
	}
	var whens []*exprs.Program
	var armNames []string
	for i, a := range n.Content {
		name := fmt.Sprintf("%d", i)
		if nn := field(a, "name"); nn != nil {
			name = nn.Value
		}
		armNames = append(armNames, name)
		w := field(a, "when")
		if w == nil {
			if i != len(n.Content)-1 {
				c.add(a, "%s[%d]: an arm without \"when\" takes every record left: it must be the last", where, i)
				return
			}
			whens = append(whens, nil)
			continue
		}
		p := c.l.compileExpr(w, exprs.Bool, fmt.Sprintf("%s[%d].when", where, i))
		if p == nil {
			c.bad = true
			return
		}
		whens = append(whens, p)
	}
	// Evaluate the conditions once per record, so that an error goes to
	// the error policy; the arm is carried to the branch in the key.
	type routed struct {
		arm int
		key any
	}
	routedS := engine.MapRecord(fl.s, func(r engine.Record[any, any]) (engine.Record[any, any], error) {
		arm := -1
		var env *exprs.Env
		for i, w := range whens {
			if w == nil {
				arm = i
				break
			}
			if env == nil {
				env = envOf(&r, true)
			}
			ok, err := w.Bool(env)
			if err != nil {
				return engine.Record[any, any]{}, fmt.Errorf("branch %s: %w", armNames[i], err)
			}
			if ok {
				arm = i
				break
			}
		}
		r.Key = routed{arm, r.Key}
		return r, nil
	})
	c.branches++
	cases := make([]engine.Case[any, any], len(whens))
	for i := range whens {
		cases[i] = engine.Case[any, any]{Name: fmt.Sprintf("branch%d-%s", c.branches, armNames[i]), When: func(r engine.Record[any, any]) bool {
			return r.Key.(routed).arm == i
		}}
	}
	outs := engine.Branch(routedS, cases...)
	for i, a := range n.Content {
		s := engine.MapRecord(outs[cases[i].Name], func(r engine.Record[any, any]) (engine.Record[any, any], error) {
			r.Key = r.Key.(routed).key
			return r, nil
		})
		c.steps(field(a, "steps"), flow{s: s, stage: fl.stage}, fmt.Sprintf("%s[%d].steps", where, i))
	}
}

// window compiles a window and its aggregation.
func (c *compiler) window(n *yaml.Node, fl flow, where string, opts []engine.Opt) flow {
	ps := spec.CheckAt(c.l.file, n, windowSpec, where)
	ok := len(ps) == 0
	if !ok {
		c.l.ps = append(c.l.ps, ps...)
		c.bad = true
		if n.Kind != yaml.MappingNode {
			return fl
		}
	}
	d := func(m *yaml.Node, name string) time.Duration {
		if v := field(m, name); v != nil {
			t, _ := time.ParseDuration(v.Value)
			return t
		}
		return 0
	}
	var kinds []string
	var ws engine.WindowSpec
	for _, k := range []string{"tumbling", "hopping", "sliding", "session"} {
		if field(n, k) != nil {
			kinds = append(kinds, k)
		}
	}
	switch {
	case len(kinds) == 0:
		c.add(n, "%s: say which windows: tumbling, hopping, sliding or session", where)
		ok = false
	case len(kinds) > 1:
		c.add(keyNode(n, kinds[1]), "%s: one kind of window per step, got %s", where, strings.Join(kinds, " and "))
		ok = false
	case ok:
		switch kinds[0] {
		case "tumbling":
			ws = engine.Tumbling(d(n, "tumbling"))
		case "hopping":
			h := field(n, "hopping")
			ws = engine.Hopping(d(h, "size"), d(h, "advance"))
		case "sliding":
			ws = engine.Sliding(d(n, "sliding"))
		case "session":
			ws = engine.Session(d(n, "session"))
		}
		ws = ws.WithDelay(d(n, "delay")).WithGrace(d(n, "grace")).WithIdle(d(n, "idle"))
		if e := field(n, "emit"); e != nil && e.Value == "update" {
			ws = ws.EmitOnUpdate()
		}
		if err := ws.Validate(); err != nil {
			c.add(keyNode(n, kinds[0]), "%s: %v", where, strings.TrimPrefix(err.Error(), "engine: "))
			ok = false
		}
	}
	var defs []aggDef
	if aggN := field(n, "aggregate"); aggN != nil && aggN.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(aggN.Content); i += 2 {
			k, v := aggN.Content[i], aggN.Content[i+1]
			if slices.Contains(reservedResults, k.Value) {
				c.add(k, "%s.aggregate: %q is a field of every result (key, start, end); name the aggregation otherwise", where, k.Value)
				ok = false
				continue
			}
			if v.Kind != yaml.ScalarNode {
				continue // reported by the spec
			}
			def, err := parseAgg(v.Value)
			if err != nil {
				c.bad, ok = true, false
				c.l.exprProblem(v, 0, where+".aggregate."+k.Value, err)
				continue
			}
			def.name = k.Value
			defs = append(defs, def)
		}
		if len(aggN.Content) == 0 {
			c.add(aggN, "%s.aggregate: name at least one aggregation, such as \"views: count()\"", where)
			ok = false
		}
	}
	late := field(n, "late")
	if late != nil {
		if _, found := refName(c.l, late, "output", c.l.outputs); !found {
			c.bad, ok = true, false
		}
	}
	if !ok || c.bad {
		return fl
	}
	in := engine.MapRecord(fl.s, func(r engine.Record[any, any]) (engine.Record[winKey, aggIn], error) {
		a, err := args(defs, &r)
		return engine.Record[winKey, aggIn]{Key: winKey{normalizeKey(r.Key)}, Value: a, Time: r.Time, Headers: r.Headers, Pos: r.Pos}, err
	})
	w := engine.Window(in, ws, opts...)
	res := engine.Aggregate(w, composite(defs))
	if late != nil {
		ls := engine.MapRecord(w.Late(), func(r engine.Record[winKey, aggIn]) (engine.Record[any, any], error) {
			return engine.Record[any, any]{Key: r.Key.V, Value: r.Value.Value, Time: r.Time, Headers: r.Headers, Pos: r.Pos}, nil
		})
		c.to(late, flow{s: ls, stage: fl.stage}, where+".late")
		c.late[late.Value]++
	}
	out := engine.MapRecord(res, func(r engine.Record[engine.WindowKey[winKey], map[string]any]) (engine.Record[any, any], error) {
		v := r.Value
		v["key"], v["start"], v["end"] = r.Key.Key.V, r.Key.Start, r.Key.End
		return engine.Record[any, any]{Key: r.Key.Key.V, Value: v, Time: r.Time, Headers: r.Headers, Pos: r.Pos}, nil
	})
	return flow{s: out, stage: fl.stage}
}

// errorPolicy applies on_error and dead_letter.
func (c *compiler) errorPolicy() {
	mode := "fail"
	if m := field(c.node, "on_error"); m != nil {
		mode = m.Value
	}
	dl := field(c.node, "dead_letter")
	switch {
	case dl != nil && mode != "dead_letter" && field(c.node, "on_error") != nil:
		c.add(dl, "dead_letter is set but on_error is %q: say on_error: dead_letter (or leave on_error out)", mode)
	case dl != nil:
		out, ok := refName(c.l, dl, "output", c.l.outputs)
		if !ok {
			c.bad = true
			return
		}
		if out.conn != "topic" {
			c.add(dl, "dead_letter: the output %q is a %s output; dead letters go to a topic output (the error and the source position travel in headers)", out.name, out.conn)
			return
		}
		c.deadTopic = sinkConns["topic"].topic(out.cfg)
		c.p.labelled(out.name, RoleDeadLetter, func() { c.p.DeadLetterTo(c.deadTopic) })
	case mode == "dead_letter":
		c.add(keyNode(c.node, "on_error"), "on_error: dead_letter needs dead_letter: <a topic output>")
	case mode == "skip":
		c.p.SkipErrors()
	}
}
