// Package exprs compiles the expressions of YAML pipelines (map, filter,
// key_by, event time, aggregations) with github.com/expr-lang/expr, once,
// against the fields a record offers, and runs them per record.
//
// An expression sees the record as these variables:
//
//	key        the record key, decoded (JSON, or the string)
//	value      the record value, decoded (JSON objects are maps)
//	time       the event time, Unix milliseconds
//	headers    the headers, name → value (the last of a repeated name)
//	topic, partition, offset    where the record was read
//
// Besides expr-lang's builtins (https://expr-lang.org/docs/language-definition),
// expressions have:
//
//	iso(ms)    Unix milliseconds as an RFC 3339 time in UTC: iso(time)
//	           is "2026-11-21T09:00:00Z"; use it on a window's start and end
//
// Compile errors carry the column inside the expression (*Error), so that
// a YAML file's problem points at the character.
package exprs

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Env is what an expression sees of a record.
type Env struct {
	Key       any               `expr:"key"`
	Value     any               `expr:"value"`
	Time      int64             `expr:"time"`
	Headers   map[string]string `expr:"headers"`
	Topic     string            `expr:"topic"`
	Partition int32             `expr:"partition"`
	Offset    int64             `expr:"offset"`
}

// Kind is the type an expression must have.
type Kind int

const (
	Any Kind = iota
	Bool
	Int    // time and counts: integers (a float with no fraction is taken)
	Number // sums and averages
	String
)

// Error is a compile error at a position inside the expression.
type Error struct {
	Line, Column int // 1-based, in runes
	Msg          string
}

func (e *Error) Error() string { return e.Msg }

// Program is a compiled expression.
type Program struct {
	src  string
	kind Kind
	p    *vm.Program
	uses map[string]bool // the variables of Env it reads
}

// Compile compiles src, checking it against Env and, where the types are
// known at compile time, against want.
func Compile(src string, want Kind) (*Program, error) {
	opts := []expr.Option{expr.Env(Env{}), isoFunc}
	switch want {
	case Bool:
		opts = append(opts, expr.AsBool())
	case Int:
		opts = append(opts, expr.AsInt64())
	case Number:
		opts = append(opts, expr.AsFloat64())
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, &Error{Line: max(1, fe.Line), Column: fe.Column + 1, Msg: fe.Message}
		}
		return nil, &Error{Line: 1, Column: 1, Msg: err.Error()}
	}
	uses := map[string]bool{}
	ast.Find(p.Node(), func(n ast.Node) bool {
		if id, ok := n.(*ast.IdentifierNode); ok {
			uses[id.Value] = true
		}
		return false
	})
	return &Program{src: src, kind: want, p: p, uses: uses}, nil
}

// Uses reports whether the expression reads the variable name ("headers"),
// so that a caller fills only what is read.
func (p *Program) Uses(name string) bool { return p.uses[name] }

// String returns the source of the expression.
func (p *Program) String() string { return p.src }

// Run evaluates the expression for a record.
func (p *Program) Run(env *Env) (any, error) {
	v, err := expr.Run(p.p, env)
	if err != nil {
		// expr-lang's message repeats the expression with a caret on
		// more lines; one line is what logs and headers want.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return nil, fmt.Errorf("%s: %s", p.src, strings.TrimSpace(msg))
	}
	if p.kind == String {
		if _, ok := v.(string); !ok && v != nil {
			return nil, fmt.Errorf("%s: the result is %T, not a string", p.src, v)
		}
	}
	return v, nil
}

// Bool evaluates an expression compiled with Bool.
func (p *Program) Bool(env *Env) (bool, error) {
	v, err := p.Run(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: the result is %T, not true or false", p.src, v)
	}
	return b, nil
}

// Int evaluates an expression compiled with Int.
func (p *Program) Int(env *Env) (int64, error) {
	v, err := p.Run(env)
	if err != nil {
		return 0, err
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case float64:
		if n == float64(int64(n)) {
			return int64(n), nil
		}
	}
	return 0, fmt.Errorf("%s: the result %v is not an integer", p.src, v)
}

// Time evaluates an expression giving an event time and returns it in
// Unix milliseconds: a number of milliseconds, an RFC 3339 string
// ("2026-11-21T09:00:00Z", fractions allowed) or a time from the date()
// builtin.
func (p *Program) Time(env *Env) (int64, error) {
	v, err := p.Run(env)
	if err != nil {
		return 0, err
	}
	switch t := v.(type) {
	case int64:
		return t, nil
	case int:
		return int64(t), nil
	case float64:
		if !math.IsNaN(t) && !math.IsInf(t, 0) {
			return int64(t), nil
		}
	case string:
		tm, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2026-11-21T09:00:00Z", p.src, t)
		}
		return tm.UnixMilli(), nil
	case time.Time:
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("%s: the result %v (%T) is not a time (Unix ms, or an RFC 3339 string)", p.src, v, v)
}

// isoFunc is iso(ms): Unix milliseconds as RFC 3339 in UTC.
var isoFunc = expr.Function("iso", func(args ...any) (any, error) {
	var ms int64
	switch n := args[0].(type) {
	case int64:
		ms = n
	case int:
		ms = int64(n)
	case float64:
		ms = int64(n)
	default:
		return nil, fmt.Errorf("iso(%v): expected Unix milliseconds, got %T", args[0], args[0])
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), nil
}, new(func(any) string))
