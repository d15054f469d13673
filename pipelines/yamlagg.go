package pipelines

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines/exprs"
	"github.com/runnel-io/runnel/pipelines/spec"
)

// The aggregations of a YAML window: "name: fn(expression)".
var aggFuncs = []string{"count", "sum", "min", "max", "avg", "count_distinct"}

// reservedResults are the fields a window result has besides its
// aggregations.
var reservedResults = []string{"key", "start", "end"}

var aggCall = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$`)

// aggDef is one named aggregation of a window.
type aggDef struct {
	name string
	fn   string
	arg  *exprs.Program // nil for count()
}

// parseAgg parses "fn(expression)"; its error may point inside the value.
func parseAgg(src string) (aggDef, error) {
	m := aggCall.FindStringSubmatchIndex(src)
	if m == nil {
		return aggDef{}, fmt.Errorf("expected an aggregation such as count(), sum(value.amount) or count_distinct(value.user), got %q", src)
	}
	fn, arg := src[m[2]:m[3]], src[m[4]:m[5]]
	argCol := utf8.RuneCountInString(src[:m[4]])
	if !slices.Contains(aggFuncs, fn) {
		msg := fmt.Sprintf("unknown aggregation %q (one of %s)", fn, strings.Join(aggFuncs, ", "))
		if s := spec.Suggest(fn, aggFuncs); s != "" {
			msg = fmt.Sprintf("unknown aggregation %q (did you mean %q?)", fn, s)
		}
		return aggDef{}, &spec.ColumnError{Offset: utf8.RuneCountInString(src[:m[2]]), Err: fmt.Errorf("%s", msg)}
	}
	d := aggDef{fn: fn}
	if strings.TrimSpace(arg) == "" {
		if fn != "count" {
			return aggDef{}, &spec.ColumnError{Offset: argCol, Err: fmt.Errorf("%s needs an expression: %s(value.field)", fn, fn)}
		}
		return d, nil
	}
	kind := exprs.Any
	if fn == "sum" || fn == "avg" {
		kind = exprs.Number
	}
	p, err := exprs.Compile(arg, kind)
	if err != nil {
		if e, ok := err.(*exprs.Error); ok && e.Line == 1 {
			return aggDef{}, &spec.ColumnError{Offset: argCol + e.Column - 1, Err: fmt.Errorf("%s", e.Msg)}
		}
		return aggDef{}, err
	}
	d.arg = p
	return d, nil
}

// aggIn is a record's value on its way into a window: the value, and the
// arguments of the window's aggregations computed from it beforehand (so
// that an expression's error goes to the error policy, with the record).
type aggIn struct {
	Value any   `json:"v"`
	Args  []any `json:"a"`
}

// aggAcc is the accumulator of one aggregation; what it holds depends on
// the function. Accumulators are snapshotted as JSON.
type aggAcc struct {
	N   int64               `json:"n,omitempty"` // count; avg's count
	S   float64             `json:"s,omitempty"` // sum; avg's sum
	V   any                 `json:"v,omitempty"` // min, max
	Has bool                `json:"h,omitempty"` // V is set
	D   map[string]struct{} `json:"d,omitempty"` // count_distinct: JSON of each value
}

// args computes the aggregations' arguments for a record. A nil argument
// (a missing field) is left out of the aggregation, as SQL does with NULL.
func args(defs []aggDef, r *engine.Record[any, any]) (aggIn, error) {
	in := aggIn{Value: r.Value, Args: make([]any, len(defs))}
	var env *exprs.Env
	for i, d := range defs {
		if d.arg == nil {
			continue
		}
		if env == nil {
			env = envOf(r, d.arg.Uses("headers"))
		}
		v, err := d.arg.Run(env)
		if err != nil {
			return aggIn{}, fmt.Errorf("%s: %w", d.name, err)
		}
		if d.fn == "sum" || d.fn == "avg" {
			if v != nil {
				n, ok := number(v)
				if !ok {
					return aggIn{}, fmt.Errorf("%s: %s(%s) of %v (%T), not a number", d.name, d.fn, d.arg, v, v)
				}
				v = n
			}
		}
		if d.fn == "count_distinct" && v != nil {
			b, err := json.Marshal(v)
			if err != nil {
				return aggIn{}, fmt.Errorf("%s: %w", d.name, err)
			}
			v = string(b)
		}
		in.Args[i] = v
	}
	return in, nil
}

// composite is the engine aggregation of a window's named aggregations.
func composite(defs []aggDef) engine.Agg[aggIn, []aggAcc, map[string]any] {
	return engine.Agg[aggIn, []aggAcc, map[string]any]{
		Init: func() []aggAcc { return make([]aggAcc, len(defs)) },
		Add: func(accs []aggAcc, in aggIn) []aggAcc {
			for i, d := range defs {
				a := &accs[i]
				v := in.Args[i]
				if d.arg != nil && v == nil {
					continue
				}
				switch d.fn {
				case "count":
					a.N++
				case "sum":
					a.S += v.(float64)
				case "avg":
					a.S += v.(float64)
					a.N++
				case "min":
					if !a.Has || compare(v, a.V) < 0 {
						a.V, a.Has = v, true
					}
				case "max":
					if !a.Has || compare(v, a.V) > 0 {
						a.V, a.Has = v, true
					}
				case "count_distinct":
					if a.D == nil {
						a.D = map[string]struct{}{}
					}
					a.D[v.(string)] = struct{}{}
				}
			}
			return accs
		},
		Merge: func(x, y []aggAcc) []aggAcc {
			for i, d := range defs {
				a, b := &x[i], &y[i]
				switch d.fn {
				case "count", "sum", "avg":
					a.N += b.N
					a.S += b.S
				case "min":
					if b.Has && (!a.Has || compare(b.V, a.V) < 0) {
						a.V, a.Has = b.V, true
					}
				case "max":
					if b.Has && (!a.Has || compare(b.V, a.V) > 0) {
						a.V, a.Has = b.V, true
					}
				case "count_distinct":
					if a.D == nil {
						a.D = map[string]struct{}{}
					}
					for k := range b.D {
						a.D[k] = struct{}{}
					}
				}
			}
			return x
		},
		Result: func(accs []aggAcc) map[string]any {
			out := make(map[string]any, len(defs)+3)
			for i, d := range defs {
				a := accs[i]
				switch d.fn {
				case "count":
					out[d.name] = a.N
				case "sum":
					out[d.name] = a.S
				case "avg":
					if a.N > 0 {
						out[d.name] = a.S / float64(a.N)
					} else {
						out[d.name] = nil
					}
				case "min", "max":
					out[d.name] = a.V
				case "count_distinct":
					out[d.name] = int64(len(a.D))
				}
			}
			return out
		},
	}
}
