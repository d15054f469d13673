package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/esemu"
	"github.com/runnel-io/runnel/internal/pgtest"
	"github.com/runnel-io/runnel/sources/datagen"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// revenueRow is a row of the postgres example's table.
type revenueRow struct {
	orders           int64
	revenue, biggest float64
}

// TestPostgresExample runs examples/postgres against a real PostgreSQL:
// every window that closed is one row holding exactly its orders' count,
// sum (to the cent) and max, recomputed from the generated orders.
func TestPostgresExample(t *testing.T) {
	url := pgtest.URL(t)
	file := examplePath(t, "postgres/pipeline.yaml")
	t.Chdir(t.TempDir())
	f := runFile(t, file, envOf(map[string]string{"PG_URL": url}))
	requireEqual(t, "orders read by revenue", stage(t, f, "revenue", 0).In, 5000)

	// The truth: the windows the watermark (the largest ts, less the
	// 15 s delay) closed.
	want := map[string]revenueRow{}
	var maxTS int64
	for _, r := range generate(t, datagen.PresetOrders, 5000) {
		o := decodeStrict[order](t, r.Value)
		maxTS = max(maxTS, o.TS)
		k := fmt.Sprintf("%s@%d", o.Currency, floorTo(o.TS, time.Minute))
		w := want[k]
		w.orders++
		w.revenue += o.Amount
		w.biggest = max(w.biggest, o.Amount)
		want[k] = w
	}
	watermark := maxTS - 15_000
	for k := range want {
		var start int64
		fmt.Sscanf(k[strings.Index(k, "@")+1:], "%d", &start)
		if start+60_000 > watermark {
			delete(want, k) // still open
		}
	}

	db := pgtest.Conn(t, url)
	rows, err := db.Query(context.Background(), "SELECT currency, minute, orders, revenue::float8, biggest::float8 FROM revenue_per_minute")
	requireNoError(t, err)
	got := map[string]revenueRow{}
	for rows.Next() {
		var cur string
		var minute time.Time
		var r revenueRow
		requireNoError(t, rows.Scan(&cur, &minute, &r.orders, &r.revenue, &r.biggest))
		k := fmt.Sprintf("%s@%d", cur, minute.UnixMilli())
		if _, dup := got[k]; dup {
			t.Errorf("window %s: two rows", k)
		}
		got[k] = r
	}
	requireNoError(t, rows.Err())
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("window %s: no row, want %+v", k, w)
		case g.orders != w.orders || math.Abs(g.revenue-math.Round(w.revenue*100)/100) > 0.001 || g.biggest != w.biggest:
			t.Errorf("window %s: %+v, want %+v", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
	}
	t.Logf("%d windows", len(got))
}

// TestElasticsearchExample runs examples/elasticsearch against the
// emulator: pageviews holds every view once, with its content; last-view
// holds each user's last view by offset.
func TestElasticsearchExample(t *testing.T) {
	es := esemu.New()
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)
	file := examplePath(t, "elasticsearch/pipeline.yaml")
	t.Chdir(t.TempDir())
	runFile(t, file, envOf(map[string]string{"ES_URL": srv.URL}))

	type doc struct {
		User     string  `json:"user"`
		Page     string  `json:"page"`
		At       string  `json:"at"`
		Referrer string  `json:"referrer"`
		Seconds  float64 `json:"seconds_on_page"`
	}
	wantAll := map[doc]int{}
	last := map[string]doc{}
	for _, r := range generate(t, datagen.PresetPageviews, 5000) {
		v := decodeStrict[pageview](t, r.Value)
		d := doc{v.User, v.Page, iso(v.TS), v.Referrer, float64(v.MsOnPage) / 1000}
		wantAll[d]++
		last[v.User] = d // a user's views are in one partition, in order
	}
	all := es.Docs("pageviews")
	requireEqual(t, "documents in pageviews", len(all), 5000)
	for id, d := range all {
		g := decodeStrict[doc](t, d.Source)
		if wantAll[g] == 0 {
			t.Errorf("pageviews/%s: %s is no generated view (or one indexed twice)", id, d.Source)
		}
		wantAll[g]--
	}
	lv := es.Docs("last-view")
	requireEqual(t, "documents in last-view", len(lv), len(last))
	for user, want := range last {
		d, ok := lv[user]
		if !ok {
			t.Errorf("last-view/%s is missing", user)
			continue
		}
		var g doc
		requireNoError(t, json.Unmarshal(d.Source, &g))
		if g != want {
			t.Errorf("last-view/%s: %+v, want %+v", user, g, want)
		}
	}
}

// envOf looks variables up in m.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
