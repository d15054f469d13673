package pipelines_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
)

// click is the input of the windowed tests.
type click struct {
	User string `json:"user"`
	Page string `json:"page"`
	TS   int64  `json:"ts"`
}

type windowRow struct {
	Key   engine.WindowKey[string] `json:"key"`
	Count int64                    `json:"count"`
}

// pageCounts declares topic clicks → key by page → hopping count → files.
func pageCounts(p *pipelines.Pipeline, dir string) {
	in := pipelines.FromTopic(p, "clicks", engine.String(), engine.JSON[click]())
	timed := engine.WithTime(in, func(r engine.Record[string, click]) (int64, error) { return r.Value.TS, nil })
	byPage := engine.KeyBy(timed, func(r engine.Record[string, click]) string { return r.Value.Page }, engine.Name("by-page"))
	w := engine.Window(byPage, engine.Hopping(10*time.Second, 5*time.Second), engine.Name("counts"))
	counts := engine.Aggregate(w, engine.Count[click]())
	rows := engine.Map(counts, func(r engine.Record[engine.WindowKey[string], int64]) (windowRow, error) {
		return windowRow{r.Key, r.Value}, nil
	})
	pipelines.ToFile(rows, filesink.Config{Dir: dir}, engine.JSON[engine.WindowKey[string]](), engine.JSON[windowRow]())
}

// flush writes to every partition of topic a click at ts, so that the
// watermark of every input passes what came before.
func flush(t testing.TB, addr, topic string, partitions int32, ts int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for p := int32(0); p < partitions; p++ {
		v, _ := json.Marshal(click{User: "flush", Page: "/flush", TS: ts})
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// readRows reads every committed part file of dir.
func readRows(t testing.TB, dir string) []windowRow {
	t.Helper()
	parts, err := filesink.ReadCommitted(dir, "part")
	if err != nil {
		t.Fatal(err)
	}
	var rows []windowRow
	for _, files := range parts {
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				var r windowRow
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				rows = append(rows, r)
			}
			fh.Close()
		}
	}
	return rows
}

// expectedCounts computes the hopping counts of the clicks whose windows
// end at or before end.
func expectedCounts(clicks []click, end int64) map[engine.WindowKey[string]]int64 {
	want := map[engine.WindowKey[string]]int64{}
	for _, c := range clicks {
		for start := c.TS - c.TS%5000; start > c.TS-10000; start -= 5000 {
			if start+10000 <= end {
				want[engine.WindowKey[string]{Key: c.Page, Start: start, End: start + 10000}]++
			}
		}
	}
	return want
}

// clickInput creates the topic clicks and writes n clicks to it (user i
// mod users, page i mod pages, one every step ms), then a flush click on
// every partition far ahead, and returns the hopping counts the clicks
// make.
func clickInput(t *testing.T, addr string, partitions int32, n, users, pages int, step int64) map[engine.WindowKey[string]]int64 {
	t.Helper()
	createTopic(t, addr, "clicks", partitions)
	var clicks []click
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		c := click{User: fmt.Sprint("u", i%users), Page: fmt.Sprint("/p", i%pages), TS: int64(i) * step}
		clicks = append(clicks, c)
		v, _ := json.Marshal(c)
		recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(c.User), Value: v})
	}
	produce(t, addr, recs...)
	// A window closes when every input's watermark passed it: every
	// partition needs a later record.
	end := int64(n)*step + 20000
	flush(t, addr, "clicks", partitions, end)
	return expectedCounts(clicks, end)
}

// runUntil runs p until done holds (a minute at most), then stops it.
func runUntil(t *testing.T, p *pipelines.Pipeline, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for !done() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// checkCounts fails the test unless the committed files of dir hold
// exactly the want counts, each window once.
func checkCounts(t *testing.T, dir string, want map[engine.WindowKey[string]]int64) {
	t.Helper()
	got := map[engine.WindowKey[string]]int64{}
	for _, r := range readRows(t, dir) {
		if _, dup := got[r.Key]; dup {
			t.Errorf("window %+v written twice", r.Key)
		}
		got[r.Key] = r.Count
	}
	var wrong []string
	for k, n := range want {
		if got[k] != n {
			wrong = append(wrong, fmt.Sprintf("%+v: got %d want %d", k, got[k], n))
		}
	}
	sort.Strings(wrong)
	if len(wrong) > 0 || len(got) != len(want) {
		t.Fatalf("%d windows, want %d; wrong: %v", len(got), len(want), wrong[:min(10, len(wrong))])
	}
}

func TestWindowToFileExactlyOnce(t *testing.T) {
	addr := startBroker(t)
	dir := t.TempDir()
	want := clickInput(t, addr, 3, 3000, 17, 7, 20)
	// A first run stops part-way (if it is slow enough); the second
	// resumes from the files.
	for _, enough := range []int{len(want) / 3, len(want)} {
		p := pipelines.New("pages", pipelines.Options{Brokers: []string{addr}, DataDir: t.TempDir(), CheckpointInterval: 50 * time.Millisecond})
		pageCounts(p, dir)
		runUntil(t, p, func() bool { return len(readRows(t, dir)) >= enough })
	}
	checkCounts(t, dir, want)
}

// onceClicks creates the topic clicks with 2 partitions and writes 500
// clicks to it, one every 100ms from 0 to 49.9s, keyed by user (5 users,
// so both partitions hold clicks up to 49.5s at least), on 3 pages.
func onceClicks(t *testing.T, addr string) []click {
	t.Helper()
	createTopic(t, addr, "clicks", 2)
	return produceClicks(t, addr, 0, 500, 0)
}

// produceClicks writes n clicks, i from `from`, at i*100+shift ms.
func produceClicks(t *testing.T, addr string, from, n int, shift int64) []click {
	t.Helper()
	var clicks []click
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		c := click{User: fmt.Sprint("u", i%5), Page: fmt.Sprint("/p", i%3), TS: int64(i)*100 + shift}
		clicks = append(clicks, c)
		v, _ := json.Marshal(c)
		recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(c.User), Value: v})
	}
	produce(t, addr, recs...)
	return clicks
}

// runOnce runs p with Once until it stops by itself, and returns its
// stages' stats.
func runOnce(t *testing.T, p *pipelines.Pipeline) []connect.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not stop by itself")
	}
	return p.Stats()
}

func TestOnceStopsAtTheEnd(t *testing.T) {
	addr := startBroker(t)
	clicks := onceClicks(t, addr)
	dir := t.TempDir()
	p := pipelines.New("pages", pipelines.Options{Brokers: []string{addr}, DataDir: t.TempDir(), CheckpointInterval: 50 * time.Millisecond, Once: true})
	pageCounts(p, dir)
	stats := runOnce(t, p)
	// Windows the watermark passed (both partitions are past 45s, none
	// at 50s) are written, each once; the last ones, [40s, 50s) and
	// [45s, 55s), stay open in the state for a later run.
	checkCounts(t, dir, expectedCounts(clicks, 45000))
	if n := stats[1].Closed; n != 0 {
		t.Errorf("%d windows closed at the end of the input without CloseWindows", n)
	}

	// The repartition topic keeps its records whatever their event time
	// (retention.ms -1: the clicks are stamped 1970), and the stage that
	// reads it deleted what it committed.
	adm := kadm.NewClient(brokertest.Client(t, addr))
	const repartition = "pages-by-page-repartition"
	rc, err := adm.DescribeTopicConfigs(context.Background(), repartition)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rc.On(repartition, nil); err != nil || !slices.ContainsFunc(c.Configs, func(c kadm.Config) bool {
		return c.Key == "retention.ms" && c.Value != nil && *c.Value == "-1"
	}) {
		t.Errorf("the repartition topic's configs %+v (%v): want retention.ms -1", c.Configs, err)
	}
	starts, err := adm.ListStartOffsets(context.Background(), repartition)
	if err != nil {
		t.Fatal(err)
	}
	purged := false
	starts.Each(func(o kadm.ListedOffset) { purged = purged || o.Offset > 0 })
	if !purged {
		t.Errorf("nothing of the repartition topic was deleted: %v", starts)
	}
}

// TestOnceCloseWindows: with CloseWindows a bounded run closes every
// window at the end of its input, across the KeyBy, each written once
// with its count. A later run finds records for those windows late, and
// counts later records in windows of their own.
func TestOnceCloseWindows(t *testing.T) {
	addr := startBroker(t)
	clicks := onceClicks(t, addr)
	dir := t.TempDir()
	opts := pipelines.Options{Brokers: []string{addr}, DataDir: t.TempDir(), CheckpointInterval: 50 * time.Millisecond, Once: true, CloseWindows: true}
	p := pipelines.New("pages", opts)
	pageCounts(p, dir)
	stats := runOnce(t, p)
	want := expectedCounts(clicks, math.MaxInt64)
	checkCounts(t, dir, want)
	// The end closed what the watermark had not: [40s, 50s) and
	// [45s, 55s) of each page.
	if n := stats[1].Closed; n != 6 {
		t.Errorf("%d windows closed at the end of the input, want 6", n)
	}

	// Early clicks fall only in closed windows (late, and dropped: the
	// window has no late output); clicks from 60s on make windows of
	// their own, closed at the end of this run too.
	early := produceClicks(t, addr, 0, 30, 0)     // 0 to 2.9s
	later := produceClicks(t, addr, 0, 50, 60000) // 60 to 64.9s
	p = pipelines.New("pages", opts)
	pageCounts(p, dir)
	stats = runOnce(t, p)
	if stats[0].In != int64(len(early)+len(later)) || stats[1].Late != int64(len(early)) {
		t.Errorf("the second run read %d clicks and found %d late, want %d and %d", stats[0].In, stats[1].Late, len(early)+len(later), len(early))
	}
	for k, n := range expectedCounts(later, math.MaxInt64) {
		want[k] += n
	}
	checkCounts(t, dir, want)
}
