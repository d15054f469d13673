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
// Compile errors carry the column inside the expression (*Error), so that
// a YAML file's problem points at the character.
package exprs

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
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
}

// Compile compiles src, checking it against Env and, where the types are
// known at compile time, against want.
func Compile(src string, want Kind) (*Program, error) {
	opts := []expr.Option{expr.Env(Env{})}
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
	return &Program{src: src, kind: want, p: p}, nil
}

// String returns the source of the expression.
func (p *Program) String() string { return p.src }

// Run evaluates the expression for a record.
func (p *Program) Run(env *Env) (any, error) {
	v, err := expr.Run(p.p, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.src, err)
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
