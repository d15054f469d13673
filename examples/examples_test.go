// Package examples_test runs the YAML examples of this directory as batch
// jobs (--once), each in an empty directory, and checks what they wrote
// against results computed here, independently, from the generated input:
// the datagen records are a pure function of their index, and the Python
// producer's readings a formula.
package examples_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
	"github.com/runnel-io/runnel/sources/datagen"
)

// runTimeout bounds one run of a pipeline file; each takes seconds.
const runTimeout = time.Minute

// TestQuickstart runs the quickstart twice on one data directory. The
// second run feeds the next 5000 views and the aggregations resume where
// they stopped: no window is written twice, and each per-minute count is
// exactly the generated views of its page and minute but the late ones,
// which went to the late output.
func TestQuickstart(t *testing.T) {
	file := examplePath(t, "quickstart/pipeline.yaml")
	t.Chdir(t.TempDir())
	for run := 1; run <= 2; run++ {
		f := runFile(t, file, nil)
		requireEqual(t, fmt.Sprintf("run %d: views written by feed", run), stage(t, f, "feed", 0).Out, 5000)
		// Run 2 reads only the new views: it resumed, it did not reprocess.
		requireEqual(t, fmt.Sprintf("run %d: views read by page-counts", run), stage(t, f, "page-counts", 0).In, 5000)
		requireEqual(t, fmt.Sprintf("run %d: views read by unique-users", run), stage(t, f, "unique-users", 0).In, 5000)
	}

	recs := generate(t, datagen.PresetPageviews, 10000)
	views := make([]pageview, len(recs))
	var maxTS int64
	for i, r := range recs {
		views[i] = decodeStrict[pageview](t, r.Value)
		requireEqual(t, fmt.Sprintf("key of view %d", i), string(r.Key), views[i].User)
		maxTS = max(maxTS, views[i].TS)
	}

	// The late views are generated views, each at most once, and only of
	// those 2 minutes behind their place in the feed: the ones up to 20 s
	// out of order are within the 30 s delay, so never late.
	start, err := time.Parse(time.RFC3339, datagenStart(t, datagen.PresetPageviews))
	requireNoError(t, err)
	behind := func(i int) bool {
		base := start.UnixMilli() + int64(i)*datagen.DefaultInterval.Milliseconds()
		return views[i].TS == base-(2*time.Minute).Milliseconds()
	}
	index := map[pageview][]int{}
	for i, v := range views {
		index[v] = append(index[v], i)
	}
	type window struct {
		page  string
		start int64 // Unix ms
	}
	type tally struct{ n, msOnPage int64 }
	late := map[window]tally{}
	lateLines := committedLines(t, "data/quickstart/out/late")
	for _, l := range lateLines {
		v := decodeStrict[pageview](t, []byte(l))
		is := index[v]
		if len(is) == 0 {
			t.Fatalf("late view %s is not a generated view, or is there twice", l)
		}
		index[v] = is[1:]
		if !behind(is[0]) {
			t.Errorf("view %d %s went late, but it is not 2 minutes behind (the delay is 30 s)", is[0], l)
		}
		w := window{v.Page, floorTo(v.TS, time.Minute)}
		late[w] = tally{late[w].n + 1, late[w].msOnPage + v.MsOnPage}
	}
	if len(lateLines) == 0 {
		t.Fatal("no late views: the example shows none")
	}

	// Per page and minute (tumbling): every window written is counted
	// exactly, and every window long closed was written.
	gen := map[window]tally{}
	for _, v := range views {
		w := window{v.Page, floorTo(v.TS, time.Minute)}
		gen[w] = tally{gen[w].n + 1, gen[w].msOnPage + v.MsOnPage}
	}
	written := map[window]bool{}
	for _, l := range committedLines(t, "data/quickstart/out/counts") {
		row := decodeStrict[countRow](t, []byte(l))
		w := window{row.Page, parseISO(t, row.Minute)}
		if w.start != floorTo(w.start, time.Minute) {
			t.Errorf("%s: the minute is not a minute", l)
		}
		if written[w] {
			t.Errorf("%s: window written twice", l)
			continue
		}
		written[w] = true
		want := tally{gen[w].n - late[w].n, gen[w].msOnPage - late[w].msOnPage}
		if row.Views != want.n {
			t.Errorf("%s: views = %d, want %d (%d generated, %d late)", l, row.Views, want.n, gen[w].n, late[w].n)
			continue
		}
		if avg := math.Round(float64(want.msOnPage) / float64(want.n)); row.AvgMsOnPage != avg {
			t.Errorf("%s: avg_ms_on_page = %v, want %v", l, row.AvgMsOnPage, avg)
		}
	}
	if len(written) == 0 {
		t.Fatal("no per-minute counts written")
	}
	// The watermark ends at the newest view less the delay; a window that
	// closed well before that (2 minutes of slack) must have been written.
	closedBy := maxTS - (30*time.Second + 2*time.Minute).Milliseconds()
	for w, n := range gen {
		if n.n > late[w].n && w.start+time.Minute.Milliseconds() <= closedBy && !written[w] {
			t.Errorf("window %s %s (%d views) was never written", w.page, time.UnixMilli(w.start).UTC().Format(time.RFC3339), n.n-late[w].n)
		}
	}

	// Distinct users per page over 5 minutes, every minute (hopping). The
	// views dropped as late are not written, so users lie between the
	// distinct users of the views never late and those of all the views.
	type users struct{ all, sure map[string]bool }
	hop := map[window]users{}
	for i, v := range views {
		for s := floorTo(v.TS, time.Minute); s > v.TS-(5*time.Minute).Milliseconds(); s -= time.Minute.Milliseconds() {
			w := window{v.Page, s}
			u, ok := hop[w]
			if !ok {
				u = users{map[string]bool{}, map[string]bool{}}
				hop[w] = u
			}
			u.all[v.User] = true
			if !behind(i) {
				u.sure[v.User] = true
			}
		}
	}
	writtenHop := map[window]bool{}
	for _, l := range committedLines(t, "data/quickstart/out/unique") {
		row := decodeStrict[uniqueRow](t, []byte(l))
		w := window{row.Page, parseISO(t, row.From)}
		if w.start != floorTo(w.start, time.Minute) || parseISO(t, row.To)-w.start != (5*time.Minute).Milliseconds() {
			t.Errorf("%s: not a 5-minute window starting on a minute", l)
		}
		if writtenHop[w] {
			t.Errorf("%s: window written twice", l)
			continue
		}
		writtenHop[w] = true
		u := hop[w]
		if row.Users < max(1, int64(len(u.sure))) || row.Users > int64(len(u.all)) {
			t.Errorf("%s: users = %d, want from %d to %d", l, row.Users, max(1, len(u.sure)), len(u.all))
		}
	}
	for w, u := range hop {
		if len(u.sure) > 0 && w.start+(5*time.Minute).Milliseconds() <= closedBy && !writtenHop[w] {
			t.Errorf("unique users of %s from %s were never written", w.page, time.UnixMilli(w.start).UTC().Format(time.RFC3339))
		}
	}
	if len(writtenHop) == 0 {
		t.Fatal("no unique users written")
	}
}

// TestBigOrders runs big-orders once, then reads the topic big-orders
// from the broker it left on disk: exactly the generated orders worth
// more than 500 EUR, each once, keyed by customer.
func TestBigOrders(t *testing.T) {
	file := examplePath(t, "big-orders/pipeline.yaml")
	t.Chdir(t.TempDir())
	f := runFile(t, file, nil)
	requireEqual(t, "orders written by feed", stage(t, f, "feed", 0).Out, 2000)
	requireEqual(t, "orders read by big-orders", stage(t, f, "big-orders", 0).In, 2000)

	rates := map[string]float64{"EUR": 1, "USD": 0.92, "GBP": 1.17}
	want := map[string]bigOrder{}
	for i, r := range generate(t, datagen.PresetOrders, 2000) {
		o := decodeStrict[order](t, r.Value)
		rate, ok := rates[o.Currency]
		if !ok {
			t.Fatalf("order %d: unknown currency %q", i, o.Currency)
		}
		eur := o.Amount * rate
		// The filter compares the amount rounded to cents: one this
		// close to 500 would make the expectation depend on the rounding.
		if math.Abs(eur-500) < 0.01 {
			t.Fatalf("order %s: %v EUR is within a cent of 500", o.OrderID, eur)
		}
		if eur > 500 {
			want[o.OrderID] = bigOrder{
				Order: o.OrderID, Customer: o.Customer, Country: o.Country,
				EUR: math.Round(o.Amount*rate*100) / 100, At: iso(o.TS),
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("no generated order is worth more than 500 EUR")
	}
	requireEqual(t, "orders written by big-orders", stage(t, f, "big-orders", 0).Out, int64(len(want)))

	b, err := broker.New(broker.DataDir("data/big-orders/broker"), broker.ListenAddr("127.0.0.1:0"))
	requireNoError(t, err)
	t.Cleanup(func() { requireNoError(t, b.Close()) })
	got := readTopic(t, b.Addr(), "big-orders")
	seen := map[string]bool{}
	for _, r := range got {
		o := decodeStrict[bigOrder](t, r.Value)
		w, ok := want[o.Order]
		switch {
		case !ok:
			t.Errorf("%s: not an order over 500 EUR", r.Value)
		case seen[o.Order]:
			t.Errorf("%s: read twice", r.Value)
		case o != w:
			t.Errorf("%s: want %+v", r.Value, w)
		case string(r.Key) != w.Customer:
			t.Errorf("%s: key %q, want the customer", r.Value, r.Key)
		}
		seen[o.Order] = true
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("order %s (%+v) is missing", id, want[id])
		}
	}
	t.Logf("%d big orders", len(got))
}

// TestSessions runs sessions once: every session written is one burst of
// clicks of the generated ones (a user's clicks cut by 60 s of silence),
// complete and counted exactly, and all but the bursts still open at the
// end of the input were written.
func TestSessions(t *testing.T) {
	file := examplePath(t, "sessions/pipeline.yaml")
	t.Chdir(t.TempDir())
	f := runFile(t, file, nil)
	requireEqual(t, "clicks written by feed", stage(t, f, "feed", 0).Out, 5000)
	requireEqual(t, "clicks read by sessions", stage(t, f, "sessions", 0).In, 5000)

	byUser := map[string][]click{}
	var maxTS int64
	for i, r := range generate(t, datagen.PresetClicks, 5000) {
		c := decodeStrict[click](t, r.Value)
		requireEqual(t, fmt.Sprintf("key of click %d", i), string(r.Key), c.User)
		byUser[c.User] = append(byUser[c.User], c)
		maxTS = max(maxTS, c.TS)
	}
	type session struct {
		user string
		from int64
	}
	bursts := map[session]sessionRow{}
	lastOf := map[session]int64{}
	for user, cs := range byUser {
		slices.SortStableFunc(cs, func(a, b click) int { return cmp.Compare(a.TS, b.TS) })
		for len(cs) > 0 {
			n := 1
			for n < len(cs) && cs[n].TS-cs[n-1].TS <= time.Minute.Milliseconds() {
				n++
			}
			pages := map[string]bool{}
			bought := false
			for _, c := range cs[:n] {
				pages[c.Page] = true
				bought = bought || c.Action == "buy"
			}
			first, last := cs[0].TS, cs[n-1].TS
			s := session{user, first}
			bursts[s] = sessionRow{
				User: user, From: iso(first), Seconds: float64(last-first) / 1000,
				Clicks: int64(n), Pages: int64(len(pages)), Bought: bought,
			}
			lastOf[s] = last
			cs = cs[n:]
		}
	}

	got := map[session]bool{}
	for _, l := range committedLines(t, "data/sessions/out") {
		row := decodeStrict[sessionRow](t, []byte(l))
		if row.Clicks < 3 || row.Clicks > 15 || row.Pages > row.Clicks || row.Seconds > 140 {
			t.Errorf("%s: not a burst of 3 to 15 clicks within 140 s", l)
		}
		s := session{row.User, parseISO(t, row.From)}
		want, ok := bursts[s]
		switch {
		case !ok:
			t.Errorf("%s: no burst of the user starts then", l)
		case got[s]:
			t.Errorf("%s: written twice", l)
		case row != want:
			t.Errorf("%s: want %+v", l, want)
		}
		got[s] = true
	}
	// A session closes once the watermark (the newest click less the 10 s
	// delay) passes its last click by 60 s; every burst that ended well
	// before (1 minute of slack) was written.
	closedBy := maxTS - (10*time.Second + time.Minute + time.Minute).Milliseconds()
	for s, last := range lastOf {
		if last <= closedBy && !got[s] {
			t.Errorf("the session of %s from %s was never written: %+v", s.user, iso(s.from), bursts[s])
		}
	}
	if len(got) < len(bursts)*8/10 {
		t.Errorf("%d sessions written of %d bursts, want at least 80%%", len(got), len(bursts))
	}
	t.Logf("%d sessions written of %d bursts", len(got), len(bursts))
}

// TestPythonProducer runs the Python producer against a broker, then the
// pipeline that aggregates its readings per sensor and minute.
func TestPythonProducer(t *testing.T) {
	python := needPython(t)
	script := examplePath(t, "python-producer/producer.py")
	file := examplePath(t, "python-producer/pipeline.yaml")
	t.Chdir(t.TempDir())
	addr := brokertest.Start(t)

	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-B", script, "--bootstrap", addr, "--minutes", "10")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", cmd, err, stdout.Bytes(), stderr.Bytes())
	}
	requireEqual(t, "producer's report", strings.TrimSpace(stdout.String()), "wrote 605 readings to readings at "+addr)

	f := runFile(t, file, func(name string) (string, bool) {
		if name == "KAFKA_BOOTSTRAP" {
			return addr, true
		}
		return "", false
	})
	requireEqual(t, "readings read", stage(t, f, "sensor-minutes", 0).In, 605)

	// The producer's readings: i in [0, 600), one a second, in turn.
	const base = 1795251600000
	type minute struct {
		sensor string
		start  int64
	}
	type acc struct {
		n              int64
		sum, low, high float64
	}
	accs := map[minute]*acc{}
	for i := range 600 {
		m := minute{fmt.Sprintf("sensor-%d", i%5), floorTo(base+int64(i)*1000, time.Minute)}
		c := 18 + float64(i%7)*0.5 + float64(i%5)
		a := accs[m]
		if a == nil {
			a = &acc{low: c, high: c}
			accs[m] = a
		}
		a.n++
		a.sum += c
		a.low, a.high = min(a.low, c), max(a.high, c)
	}
	var want []string
	for m, a := range accs {
		want = append(want, fmt.Sprint(sensorRow{
			Sensor: m.sensor, Minute: iso(m.start), Readings: a.n,
			Mean: math.Round(a.sum/float64(a.n)*100) / 100, Low: a.low, High: a.high,
		}))
	}
	var got []string
	for _, l := range committedLines(t, "data/python-producer/out") {
		got = append(got, fmt.Sprint(decodeStrict[sensorRow](t, []byte(l))))
	}
	slices.Sort(want)
	slices.Sort(got)
	requireEqual(t, "rows", len(want), 50)
	if !slices.Equal(got, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The records of the examples, as their JSON.
type (
	pageview struct {
		User     string `json:"user"`
		Page     string `json:"page"`
		TS       int64  `json:"ts"`
		Referrer string `json:"referrer"`
		MsOnPage int64  `json:"ms_on_page"`
	}
	countRow struct {
		Page        string  `json:"page"`
		Minute      string  `json:"minute"`
		Views       int64   `json:"views"`
		AvgMsOnPage float64 `json:"avg_ms_on_page"`
	}
	uniqueRow struct {
		Page  string `json:"page"`
		From  string `json:"from"`
		To    string `json:"to"`
		Users int64  `json:"users"`
	}
	order struct {
		OrderID  string  `json:"order_id"`
		Customer string  `json:"customer"`
		Amount   float64 `json:"amount"`
		Currency string  `json:"currency"`
		Country  string  `json:"country"`
		TS       int64   `json:"ts"`
	}
	bigOrder struct {
		Order    string  `json:"order"`
		Customer string  `json:"customer"`
		Country  string  `json:"country"`
		EUR      float64 `json:"eur"`
		At       string  `json:"at"`
	}
	click struct {
		User   string `json:"user"`
		Page   string `json:"page"`
		TS     int64  `json:"ts"`
		Action string `json:"action"`
	}
	sessionRow struct {
		User    string  `json:"user"`
		From    string  `json:"from"`
		Seconds float64 `json:"seconds"`
		Clicks  int64   `json:"clicks"`
		Pages   int64   `json:"pages"`
		Bought  bool    `json:"bought"`
	}
	sensorRow struct {
		Sensor   string  `json:"sensor"`
		Minute   string  `json:"minute"`
		Readings int64   `json:"readings"`
		Mean     float64 `json:"mean"`
		Low      float64 `json:"low"`
		High     float64 `json:"high"`
	}
)

// examplePath returns the absolute path of a file of this directory; call
// it before t.Chdir.
func examplePath(t *testing.T, rel string) string {
	t.Helper()
	abs, err := filepath.Abs(rel)
	requireNoError(t, err)
	return abs
}

// runFile loads a pipeline file as a batch job (Once) and runs it to its
// end.
func runFile(t *testing.T, path string, env func(string) (string, bool)) *pipelines.File {
	t.Helper()
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	f, err := pipelines.LoadFile(path, pipelines.LoadOptions{Once: true, LookupEnv: env, Logger: quietLogger()})
	requireNoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	start := time.Now()
	requireNoError(t, f.Run(ctx))
	if ctx.Err() != nil { // Run returns nil when ctx ends
		t.Fatalf("%s did not end within %v: %+v", path, runTimeout, f.Stats())
	}
	t.Logf("ran %s in %v: %+v", filepath.Base(filepath.Dir(path)), time.Since(start).Round(time.Millisecond), f.Stats())
	return f
}

// stage returns the progress of stage i of pipeline name.
func stage(t *testing.T, f *pipelines.File, name string, i int) connect.Stats {
	t.Helper()
	for _, p := range f.Stats() {
		if p.Name == name {
			if i >= len(p.Stages) {
				t.Fatalf("pipeline %s has %d stages, want stage %d", name, len(p.Stages), i)
			}
			return p.Stages[i]
		}
	}
	t.Fatalf("no pipeline %s in %v", name, f.Names())
	return connect.Stats{}
}

// fromStart are the Assignments of a source that resumes nowhere: a
// datagen source then starts at record 0.
type fromStart struct{}

func (fromStart) Assigned(context.Context, []connect.TaskID) (map[connect.TaskID]engine.Positions, error) {
	return nil, nil
}
func (fromStart) Revoked(context.Context, []connect.TaskID) {}
func (fromStart) Lost(context.Context, []connect.TaskID)    {}

// datagenStart returns the start of the records that the example run in
// the test's directory generated of preset: the time of its first run,
// which the datagen input's offsets file keeps (data/*/offsets).
func datagenStart(t *testing.T, preset string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("data", "*", "offsets", "*.json"))
	requireNoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		requireNoError(t, err)
		var o struct{ Preset, Stream string }
		requireNoError(t, json.Unmarshal(b, &o))
		if o.Preset != preset {
			continue
		}
		start, ok := datagen.StartOf(preset, engine.Input{Stream: o.Stream})
		if !ok || start == datagen.LegacyStart {
			t.Fatalf("%s: the stream %q does not carry the start of a first run", f, o.Stream)
		}
		// Generated now, not weeks ago: retention keeps the records.
		if at, _ := time.Parse(time.RFC3339, start); time.Since(at) > time.Hour {
			t.Fatalf("%s: the records start at %s", f, start)
		}
		return start
	}
	t.Fatalf("no offsets file of a %s datagen input in %v", preset, files)
	return ""
}

// generate returns the first n records of a datagen preset, as the
// examples' datagen inputs generate them (their config differs only in
// Count, and in the start their first run picked: datagenStart).
func generate(t *testing.T, preset string, n int64) []*connect.Record {
	t.Helper()
	ctx := context.Background()
	src, err := datagen.New(datagen.Config{Preset: preset, Count: n, Start: datagenStart(t, preset)})
	requireNoError(t, err)
	defer src.Close(ctx)
	requireNoError(t, src.Open(ctx, fromStart{}))
	var out []*connect.Record
	for {
		bs, err := src.Poll(ctx)
		if errors.Is(err, connect.ErrEndOfInput) {
			break
		}
		requireNoError(t, err)
		for _, b := range bs {
			out = append(out, b.Records...)
		}
	}
	requireEqual(t, preset+" records generated", int64(len(out)), n)
	for i, r := range out {
		requireEqual(t, fmt.Sprintf("offset of record %d", i), r.Pos.Offset, int64(i))
	}
	return out
}

// readTopic reads every committed record of topic (read_committed) up to
// its end offsets.
func readTopic(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	ends, err := kadm.NewClient(brokertest.Client(t, addr)).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	requireNoError(t, err)
	// Control records are kept so that the position passes the last
	// transaction marker, which ends each partition.
	cl := brokertest.Client(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	next := map[int32]int64{}
	left := func() bool {
		for _, e := range ends[topic] {
			if next[e.Partition] < e.Offset {
				return true
			}
		}
		return false
	}
	var out []*kgo.Record
	for left() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: read up to %v of %v", topic, next, ends)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("reading %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// needPython returns the python3 that the example is run with, and skips
// the test without a Kafka client for it (fails under CI=true, where the
// clients are installed).
func needPython(t *testing.T) string {
	t.Helper()
	python := "/usr/bin/python3"
	if p := os.Getenv("RUNNEL_TEST_PYTHON"); p != "" {
		python = p
	}
	var errs []error
	for _, mod := range []string{"confluent_kafka", "kafka"} {
		out, err := exec.Command(python, "-c", "import "+mod).CombinedOutput()
		if err == nil {
			return python
		}
		errs = append(errs, fmt.Errorf("%s -c 'import %s': %w: %s", python, mod, err, bytes.TrimSpace(out)))
	}
	const hint = "install one with `apt-get install python3-confluent-kafka` or `python3-kafka` (Debian 12), " +
		"or set RUNNEL_TEST_PYTHON to a python3 that imports confluent_kafka or kafka"
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but no Kafka client for Python: %v; %s", errors.Join(errs...), hint)
	}
	t.Skipf("\n!!! SKIPPED: no Kafka client for Python: %v\n!!! This test runs the example's producer; %s.\n", errors.Join(errs...), hint)
	return ""
}

// committedLines returns the lines of a file sink's committed part files.
func committedLines(t *testing.T, dir string) []string {
	t.Helper()
	byTask, err := filesink.ReadCommitted(dir, "part")
	requireNoError(t, err)
	var lines []string
	for _, paths := range byTask {
		for _, p := range paths {
			data, err := os.ReadFile(p)
			requireNoError(t, err)
			for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				if l != "" {
					lines = append(lines, l)
				}
			}
		}
	}
	return lines
}

// decodeStrict decodes one JSON value that has exactly the fields of T.
func decodeStrict[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	if _, err := d.Token(); err != io.EOF {
		t.Fatalf("%s: more than one JSON value", data)
	}
	return v
}

// iso formats Unix ms as the pipelines' iso() does.
func iso(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }

// parseISO returns the Unix ms of an iso() time.
func parseISO(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	requireNoError(t, err)
	return tm.UnixMilli()
}

// floorTo returns the start, in Unix ms, of the d-long window holding ms.
func floorTo(ms int64, d time.Duration) int64 {
	n := d.Milliseconds()
	return ms - ((ms%n)+n)%n
}

// quietLogger keeps the pipelines' logs out of the test output unless -v
// is given.
func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func requireNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func requireEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}
