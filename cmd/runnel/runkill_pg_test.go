package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/runnel-io/runnel/internal/pgtest"
)

// killPGYAML is the pipeline TestKillRunPostgres kills: killYAML's
// windows, into two Postgres tables without keys (a row written twice
// would show) that the sink creates.
const killPGYAML = killHead + `outputs:
  counts:
    postgres:
      url: ${PG_URL}
      table: page_counts
      auto_create: true
      columns:
        - {name: page, from: value.key, type: text}
        - {name: start, from: value.start, type: bigint}
        - {name: n, type: bigint}
  late:
    postgres:
      url: ${PG_URL}
      table: late_clicks
      auto_create: true
      columns:
        - {name: id, type: bigint}
        - {name: page, type: text}
        - {name: ts, type: bigint}
pipelines:
  page-counts:
    from: clicks
    steps:
      - event_time: value.ts
      - key_by: value.page
      - name: per-10s
        window:
          tumbling: 10s
          delay: 2s
          aggregate: {n: count()}
          late: late
      - to: counts
`

// TestKillRunPostgres: topic → key_by → tumbling window → Postgres, with
// `runnel run` killed 20 times under load. The tables hold every closed
// window once with exactly its clicks, and every late click once.
func TestKillRunPostgres(t *testing.T) {
	url := pgtest.URL(t)
	rig := killRun(t, killPGYAML, "PG_URL="+url)
	db := pgtest.Conn(t, url)
	ctx := context.Background()

	truth := windowTruth(rig.produced)
	lateRows, err := db.Query(ctx, "SELECT id, page, ts FROM late_clicks")
	if err != nil {
		t.Fatal(err)
	}
	late, lateSeen := 0, map[int64]bool{}
	for lateRows.Next() {
		var id, ts int64
		var page string
		if err := lateRows.Scan(&id, &page, &ts); err != nil {
			t.Fatal(err)
		}
		if lateSeen[id] {
			t.Errorf("late click %d written twice", id)
		}
		lateSeen[id] = true
		truth[fmt.Sprintf("%s@%d", page, ts/10_000*10_000)]--
		late++
	}
	if err := lateRows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, "SELECT page, start, n FROM page_counts")
	if err != nil {
		t.Fatal(err)
	}
	windows, seen := 0, map[string]bool{}
	for rows.Next() {
		var page string
		var start, n int64
		if err := rows.Scan(&page, &start, &n); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s@%d", page, start)
		if seen[k] {
			t.Errorf("window %s written twice", k)
		}
		seen[k] = true
		if n != truth[k] {
			t.Errorf("window %s counts %d clicks, want %d", k, n, truth[k])
		}
		windows++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := 5 * (rig.produced/200 - 2); windows < want || late == 0 {
		t.Errorf("%d windows and %d late clicks for %d clicks; want at least %d windows and some late", windows, late, rig.produced, want)
	}
	t.Logf("%d clicks, %d window rows, %d late rows, 20 kills", rig.produced, windows, late)
}
