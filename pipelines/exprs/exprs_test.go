package exprs_test

import (
	"errors"
	"testing"

	"github.com/runnel-io/runnel/pipelines/exprs"
)

func TestCompileErrorsPointInside(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want exprs.Kind
		col  int
	}{
		{`value.page == "/" &&`, exprs.Bool, 20},                // at the dangling operator
		{`valu.page`, exprs.Any, 1},                             // unknown variable
		{`value.page + `, exprs.Any, 13},                        // at the dangling operator
		{`time + "x"`, exprs.Int, 6},                            // int + string
		{`"page"`, exprs.Bool, 1},                               // a string is not a bool
		{`len(value.users) > 2 || topc == "a"`, exprs.Bool, 25}, // unknown variable inside
	} {
		_, err := exprs.Compile(tc.src, tc.want)
		var e *exprs.Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v, want an *exprs.Error", tc.src, err)
			continue
		}
		if e.Column != tc.col {
			t.Errorf("%q: column %d, want %d (%s)", tc.src, e.Column, tc.col, e.Msg)
		}
	}
}

func TestRun(t *testing.T) {
	env := &exprs.Env{
		Key:     "u1",
		Value:   map[string]any{"page": "/docs", "ts": float64(1700000000000), "users": []any{"a", "b"}},
		Time:    5,
		Headers: map[string]string{"trace": "42"},
		Topic:   "views", Partition: 2, Offset: 9,
	}
	keep, err := exprs.Compile(`value.page startsWith "/doc" && headers.trace == "42" && partition == 2`, exprs.Bool)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := keep.Bool(env); err != nil || !ok {
		t.Fatalf("filter: %v %v", ok, err)
	}
	ts, err := exprs.Compile(`value.ts`, exprs.Int)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ts.Int(env); err != nil || n != 1700000000000 {
		t.Fatalf("time: %v %v", n, err)
	}
	m, err := exprs.Compile(`{"page": upper(value.page), "users": len(value.users), "key": key}`, exprs.Any)
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Run(env)
	if err != nil {
		t.Fatal(err)
	}
	got := v.(map[string]any)
	if got["page"] != "/DOCS" || got["users"] != 2 || got["key"] != "u1" {
		t.Fatalf("map: %v", got)
	}
	// A field that is not there at run time is nil, and a type error at
	// run time is an error, not a panic.
	bad, err := exprs.Compile(`value.page + 1`, exprs.Any)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Run(env); err == nil {
		t.Fatal("adding a number to a string did not fail")
	}
}

func TestISOAndTime(t *testing.T) {
	p, err := exprs.Compile(`iso(value.start)`, exprs.String)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Run(&exprs.Env{Value: map[string]any{"start": float64(1763715660000)}})
	if err != nil || v != "2025-11-21T09:01:00Z" {
		t.Fatalf("iso = %v, %v", v, err)
	}
	for src, want := range map[string]int64{
		`value.ts`:                     1763715660000,
		`"2025-11-21T09:01:00.5Z"`:     1763715660500,
		`date("2025-11-21T09:01:00Z")`: 1763715660000,
		`value.ts + 1`:                 1763715660001,
	} {
		p, err := exprs.Compile(src, exprs.Any)
		if err != nil {
			t.Fatal(src, err)
		}
		got, err := p.Time(&exprs.Env{Value: map[string]any{"ts": float64(1763715660000)}})
		if err != nil || got != want {
			t.Errorf("%s: Time = %d, %v; want %d", src, got, err, want)
		}
	}
	p, _ = exprs.Compile(`value.page`, exprs.Any)
	if _, err := p.Time(&exprs.Env{Value: map[string]any{"page": "/docs"}}); err == nil {
		t.Error("a page name taken as a time")
	}
	if p.Uses("headers") || !p.Uses("value") {
		t.Error("Uses is wrong")
	}
}
