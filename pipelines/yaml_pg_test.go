package pipelines_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/pgtest"
	"github.com/runnel-io/runnel/pipelines"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// runYAML writes yaml to a file in dir and runs it to the end of its
// inputs (Once), with env as the environment, failing the test on any
// problem.
func runYAML(t *testing.T, dir, yaml string, env map[string]string) {
	t.Helper()
	file := filepath.Join(dir, "pipelines.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := pipelines.LoadFile(file, pipelines.LoadOptions{Once: true, Logger: quietLogger(),
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// pgSourceYAML reads a table by polling, filters it and writes files.
const pgSourceYAML = `broker: {data_dir: "${DIR}/data"}
inputs:
  orders:
    postgres:
      url: ${PG_URL}
      table: orders
      mode: timestamp+incrementing
      incrementing_column: id
      timestamp_column: created_at
      batch_size: 7
outputs:
  big: {file: {dir: "${DIR}/big"}}
pipelines:
  big-orders:
    from: orders
    steps:
      - filter: value.amount > 50
      - map: {id: value.id, customer: value.customer, amount: value.amount}
      - to: big
`

// TestYAMLPostgresSource: a YAML input polls a table; a second run reads
// only the rows added since, and the output holds each big order once.
func TestYAMLPostgresSource(t *testing.T) {
	url := pgtest.URL(t)
	db := pgtest.Conn(t, url)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL,
		amount numeric(10,2) NOT NULL, created_at timestamptz NOT NULL DEFAULT now() - interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	insert := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := db.Exec(ctx, "INSERT INTO orders (customer, amount) VALUES ($1, $2)", fmt.Sprintf("c%d", i%7), fmt.Sprintf("%d.%02d", i, i%100)); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	env := map[string]string{"DIR": dir, "PG_URL": url}
	run := func() { t.Helper(); runYAML(t, dir, pgSourceYAML, env) }
	insert(0, 80)
	run()
	insert(80, 120)
	run()
	// The map's arithmetic is in float64: 100.00 comes out as 100.
	var want []string
	for i := range 120 {
		amount, _ := strconv.ParseFloat(fmt.Sprintf("%d.%02d", i, i%100), 64)
		if amount > 50 {
			want = append(want, fmt.Sprintf(`{"amount":%s,"customer":"c%d","id":%d}`, strconv.FormatFloat(amount, 'f', -1, 64), i%7, i+1))
		}
	}
	got := committedLines(t, filepath.Join(dir, "big"))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("big orders:\n%q\nwant:\n%q", got, want)
	}
}
