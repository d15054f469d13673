package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/internal/pgtest"
)

// revenueYAML is issue 12's pipeline: orders fed to a topic, then counted
// and summed per currency and minute after a key_by, into Postgres. The
// table has no key (insert mode): a window written again shows twice.
const revenueYAML = `broker: {data_dir: %[1]s/data}
inputs:
  sample: {file: {paths: [%[1]s/orders.jsonl], format: jsonl}}
  orders: {topic: {topics: [orders]}}
outputs:
  orders: {topic: {topic: orders}}
  revenue:
    postgres:
      url: %[2]s
      table: revenue_per_minute
      auto_create: true
      columns:
        - {name: currency, from: value.key, type: text}
        - {name: minute, from: value.start, type: bigint}
        - {name: orders, type: bigint}
        - {name: revenue, type: "numeric(14,2)"}
pipelines:
  feed:
    from: sample
    steps:
      - to: orders
  revenue:
    from: orders
    steps:
      - event_time: value.ts
      - key_by: value.currency
      - name: revenue-per-minute
        window:
          tumbling: 1m
          delay: 5s
          aggregate: {orders: count(), revenue: sum(value.amount)}
      - to: revenue
`

// revenueFile writes n orders, two a second, a few out of order, and the
// pipeline file; it returns the file's path.
func revenueFile(t *testing.T, dir, url string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		ts := int64(i) * 500
		if i%7 == 0 {
			ts -= 3000
		}
		fmt.Fprintf(&b, `{"id":%d,"currency":%q,"amount":%d.5,"ts":%d}`+"\n", i, []string{"EUR", "USD", "GBP"}[i%3], i%50, max(ts, 0))
	}
	if err := os.WriteFile(filepath.Join(dir, "orders.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "revenue.yaml", fmt.Sprintf(revenueYAML, dir, url))
}

// summary returns a pipeline's IN, OUT and LATE in a run's summary.
func summary(t *testing.T, out, pipeline string) (in, written, late int) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + pipeline + ` +(\d+) +(\d+) +(\d+) +0 +0$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary of %s:\n%s", pipeline, out)
	}
	in, _ = strconv.Atoi(m[1])
	written, _ = strconv.Atoi(m[2])
	late, _ = strconv.Atoi(m[3])
	return in, written, late
}

func runOnce(t *testing.T, path string) string {
	t.Helper()
	code, out, errOut := runCLI(t, "run", "--once", "-q", path)
	if code != 0 {
		t.Fatalf("run --once: exit %d\n%s%s", code, out, errOut)
	}
	return out
}

// TestIssue12PipelineReset: after "runnel pipeline reset --to-earliest
// --execute", run --once processes the whole input again, with no late
// record, and writes every window again with the same results. (Before
// the command, a reset of the group offsets alone made the run read the
// input again into a second stage that resumed with its restored state:
// IN 1702 OUT 0 LATE 1653.) The dry run before it changes nothing.
func TestIssue12PipelineReset(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db := pgtest.Conn(t, url)
	dir := t.TempDir()
	path := revenueFile(t, dir, url, 600)
	ctx := context.Background()
	rows := func(sql string) []string {
		t.Helper()
		r, err := db.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for r.Next() {
			var s string
			if err := r.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	windows := func() []string {
		return rows(`SELECT concat_ws('|', currency, minute, orders, revenue) FROM revenue_per_minute ORDER BY 1`)
	}
	positions := func() []string {
		return rows(`SELECT concat_ws('|', consumer, topic, partition, next_offset) FROM runnel_offsets ORDER BY 1`)
	}

	out := runOnce(t, path)
	if in, _, late := summary(t, out, "revenue"); in != 600 || late != 0 {
		t.Fatalf("first run: revenue read %d orders, %d late; want 600 and 0\n%s", in, late, out)
	}
	first := windows()
	if len(first) == 0 {
		t.Fatal("the first run wrote no window")
	}
	stored := positions()

	code, out, errOut := runCLI(t, "pipeline", "reset", path, "revenue", "--to-earliest")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	mustContain(t, "the dry run", out,
		"reset pipeline revenue of "+path+" (embedded broker, data in "+filepath.Join(dir, "data")+") to the earliest offsets:\n",
		"stage 0:\n  group revenue, topic orders partition 0: ", " → 0 (the log start)\n",
		"stage 1:\n  group revenue-stage1, topic revenue-",
		"(the log end: stage 0 writes the topic again)\n",
		"  state topic revenue-state, stage 1: ",
		"  output revenue (postgres:revenue.revenue), task 0: revenue-",
		"note: the outputs keep what they hold",
	)
	if !strings.HasSuffix(out, "\ndry run: nothing changed; add --execute\n") {
		t.Errorf("the dry run does not end with the dry run line:\n%s", out)
	}
	if got := positions(); !slices.Equal(got, stored) {
		t.Fatalf("the dry run changed the positions in Postgres: %q, were %q", got, stored)
	}
	out = runOnce(t, path)
	if in, written, _ := summary(t, out, "revenue"); in != 0 || written != 0 {
		t.Fatalf("after the dry run, run --once read %d and wrote %d: something was reset\n%s", in, written, out)
	}

	code, out, errOut = runCLI(t, "pipeline", "reset", path, "revenue", "--to-earliest", "--execute")
	if code != 0 {
		t.Fatalf("--execute: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.HasSuffix(out, "\ndone: the next run of revenue processes its input again from the earliest offsets\n") {
		t.Errorf("--execute does not end with done:\n%s", out)
	}
	if got := positions(); len(got) != 0 {
		t.Errorf("positions left in Postgres: %q", got)
	}

	out = runOnce(t, path)
	in, written, late := summary(t, out, "revenue")
	if in != 600 || late != 0 || written != len(first) {
		t.Fatalf("after the reset: IN %d OUT %d LATE %d, want IN 600 OUT %d LATE 0\n%s", in, written, late, len(first), out)
	}
	if fin, _, _ := summary(t, out, "feed"); fin != 0 {
		t.Errorf("the feed, not reset, read %d orders again", fin)
	}
	var twice []string
	for _, w := range first {
		twice = append(twice, w, w)
	}
	if got := windows(); !slices.Equal(got, twice) {
		t.Fatalf("after the second run the table holds\n%q\nwant each window of the first run twice\n%q", got, twice)
	}
}

// The usage errors of pipeline reset say what is wrong.
func TestPipelineResetUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := ordersFile(t, dir, false)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{path}, "name a pipeline file and one of its pipelines, got 1 arguments"},
		{[]string{path, "big-order", "--to-earliest"}, path + ` has no pipeline "big-order" (did you mean "big-orders"?)`},
		{[]string{path, "zzzzzzzzzzzz", "--to-earliest"}, `has no pipeline "zzzzzzzzzzzz" (its pipelines: "big-orders")`},
		{[]string{path, "big-orders"}, "say where to read the input again from: --to-earliest or --to-datetime TIME"},
		{[]string{path, "big-orders", "--to-earliest", "--to-datetime", "2026-01-01T00:00:00Z"}, "--to-earliest and --to-datetime each say where to read the input again from: give one"},
		{[]string{path, "big-orders", "--to-datetime", "yesterday"}, `--to-datetime "yesterday": want a time like 2026-03-01T12:00:00Z (RFC 3339)`},
		{[]string{path, "big-orders", "--to-datetime", "2026-01-01T00:00:00Z"}, "only topic inputs can be read again from a time"},
		{[]string{filepath.Join(dir, "none.yaml"), "big-orders", "--to-earliest"}, "none.yaml: no such file or directory"},
	} {
		code, out, errOut := runCLI(t, append([]string{"pipeline", "reset"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q, want 1 and %q (stdout %q)", tc.args, code, errOut, tc.want, out)
		}
	}
}
