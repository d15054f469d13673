package pipelines_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
	filesrc "github.com/runnel-io/runnel/sources/file"
)

// equivYAML is the pipeline of TestYAMLEqualsDSL, in YAML.
const equivYAML = `
inputs:
  orders: {file: {paths: ["${TESTDATA}/orders.jsonl"], format: jsonl}}
outputs:
  totals: {file: {dir: out/totals}}
  late: {file: {dir: out/late}}
pipelines:
  totals:
    from: orders
    steps:
      - filter: type(value.amount) in ["int", "float"]
      - event_time: value.ts
      - key_by: value.customer
      - window:
          tumbling: 2m
          delay: 30s
          aggregate: {n: count(), total: sum(value.amount), largest: max(value.amount)}
          late: late
      - map: {customer: value.key, start: iso(value.start), n: value.n, total: value.total, largest: value.largest}
      - to: totals
`

// order is a line of testdata/run/orders.jsonl, for the Go DSL.
type order struct {
	ID       int64    `json:"id"`
	Customer string   `json:"customer"`
	Amount   any      `json:"amount"`
	Currency string   `json:"currency"`
	TS       int64    `json:"ts"`
	Items    []string `json:"items"`
}

// total is a window's result; fields in the order YAML writes them
// (sorted).
type total struct {
	Customer string  `json:"customer"`
	Largest  float64 `json:"largest"`
	N        int64   `json:"n"`
	Start    string  `json:"start"`
	Total    float64 `json:"total"`
}

// TestYAMLEqualsDSL runs one pipeline written in YAML and in the Go DSL
// over the same input, and compares their outputs line by line: the YAML
// is compiled to the same engine operators, with the same semantics.
func TestYAMLEqualsDSL(t *testing.T) {
	testdata, err := filepath.Abs("testdata/run")
	if err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(testdata, "orders.jsonl")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	t.Chdir(dir)

	// YAML
	yamlFile := filepath.Join(dir, "totals.yaml")
	if err := os.WriteFile(yamlFile, []byte(equivYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := pipelines.LoadFile(yamlFile, pipelines.LoadOptions{Once: true, Logger: quietLogger(), LookupEnv: func(string) (string, bool) { return testdata, true }})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}

	// Go
	p := pipelines.New("totals", pipelines.Options{Once: true, DataDir: filepath.Join(dir, "go-data"), Logger: quietLogger()})
	orders := pipelines.FromFile(p, filesrc.Config{Paths: []string{input}, Format: filesrc.FormatJSONL}, engine.JSON[order]())
	numeric := engine.Filter(orders, func(r engine.Record[string, order]) bool { _, ok := r.Value.Amount.(float64); return ok })
	timed := engine.WithTime(numeric, func(r engine.Record[string, order]) (int64, error) { return r.Value.TS, nil })
	byCustomer := engine.KeyBy(timed, func(r engine.Record[string, order]) string { return r.Value.Customer })
	w := engine.Window(byCustomer, engine.Tumbling(2*time.Minute).WithDelay(30*time.Second))
	type acc struct{ N, Total, Largest float64 }
	results := engine.Aggregate(w, engine.Agg[order, acc, acc]{
		Init: func() acc { return acc{} },
		Add: func(a acc, o order) acc {
			x := o.Amount.(float64)
			if a.N == 0 || x > a.Largest {
				a.Largest = x
			}
			a.N++
			a.Total += x
			return a
		},
		Result: func(a acc) acc { return a },
	})
	rows := engine.Map(results, func(r engine.Record[engine.WindowKey[string], acc]) (total, error) {
		return total{Customer: r.Key.Key, Start: time.UnixMilli(r.Key.Start).UTC().Format(time.RFC3339Nano), N: int64(r.Value.N), Total: r.Value.Total, Largest: r.Value.Largest}, nil
	})
	pipelines.ToFile(rows, filesink.Config{Dir: filepath.Join(dir, "go-out", "totals")}, engine.JSON[engine.WindowKey[string]](), engine.JSON[total]())
	pipelines.ToFile(w.Late(), filesink.Config{Dir: filepath.Join(dir, "go-out", "late")}, engine.String(), engine.JSON[order]())
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}

	for _, out := range []string{"totals", "late"} {
		y := canonical(t, committedLines(t, filepath.Join(dir, "out", out)))
		g := canonical(t, committedLines(t, filepath.Join(dir, "go-out", out)))
		if len(y) == 0 {
			t.Errorf("%s: no output", out)
		}
		if !slices.Equal(y, g) {
			t.Errorf("%s differ:\nYAML: %q\nGo:   %q", out, y, g)
		}
	}
}

// canonical re-encodes JSON lines with sorted fields, and sorts them.
func canonical(t *testing.T, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		var v any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	slices.Sort(out)
	return out
}
