package pipelines_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/engine"
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

func TestWindowToFileExactlyOnce(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "clicks", 3)
	dir := t.TempDir()
	var clicks []click
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		c := click{User: fmt.Sprint("u", i%17), Page: fmt.Sprint("/p", i%7), TS: int64(i) * 20}
		clicks = append(clicks, c)
		v, _ := json.Marshal(c)
		recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(c.User), Value: v})
	}
	produce(t, addr, recs...)
	// The watermark of each repartition partition passes the end of the
	// data only with a later record in it: one per page, far ahead.
	const end = 3000 * 20
	flush(t, addr, "clicks", 3, end+20000)
	want := expectedCounts(clicks, end+20000)

	run := func(stopWhen func() bool) {
		p := pipelines.New("pages", pipelines.Options{Brokers: []string{addr}, CheckpointInterval: 50 * time.Millisecond})
		pageCounts(p, dir)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var err error
		wg.Add(1)
		go func() { defer wg.Done(); err = p.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for !stopWhen() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A first run stops part-way; the second resumes from the files.
	run(func() bool { return len(readRows(t, dir)) > len(want)/3 })
	run(func() bool { return len(readRows(t, dir)) >= len(want) })

	got := map[engine.WindowKey[string]]int64{}
	for _, r := range readRows(t, dir) {
		if _, dup := got[r.Key]; dup {
			t.Errorf("window %+v written twice", r.Key)
		}
		got[r.Key] = r.Count
	}
	var missing []string
	for k, n := range want {
		if got[k] != n {
			missing = append(missing, fmt.Sprintf("%+v: got %d want %d", k, got[k], n))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || len(got) != len(want) {
		t.Fatalf("%d windows, want %d; wrong: %v", len(got), len(want), missing[:min(10, len(missing))])
	}
}

func TestOnceStopsAtTheEnd(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "clicks", 2)
	dir := t.TempDir()
	var clicks []click
	var recs []*kgo.Record
	for i := 0; i < 500; i++ {
		c := click{User: fmt.Sprint("u", i%5), Page: fmt.Sprint("/p", i%3), TS: int64(i) * 100}
		clicks = append(clicks, c)
		v, _ := json.Marshal(c)
		recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(c.User), Value: v})
	}
	produce(t, addr, recs...)
	p := pipelines.New("pages", pipelines.Options{Brokers: []string{addr}, CheckpointInterval: 50 * time.Millisecond, Once: true})
	pageCounts(p, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not stop by itself")
	}
	// Windows the watermark passed are written; the last ones stay open
	// in the state for a later run.
	want := expectedCounts(clicks, 500*100-10000)
	got := map[engine.WindowKey[string]]int64{}
	for _, r := range readRows(t, dir) {
		got[r.Key] = r.Count
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%+v: got %d, want %d", k, got[k], n)
		}
	}
}
