// Command pagecounts is the Go DSL on a realistic stream, with no server
// to install: it starts the built-in broker in-process (data in -data),
// writes a batch of page views to the topic "views" (user, page, event
// time; some out of order, a few late), and runs a pipeline over them:
//
//	views → event time → key by page ─┬→ 1-minute tumbling count        → files out/counts
//	                                  ├→ 5-minute hopping (1m) unique users → files out/unique
//	                                  └→ late views                      → files out/late
//
// The pipeline runs with Once: it processes what the topic holds and
// stops, committing its outputs (exactly once, by atomic renames) and its
// window state. Run it again: it writes the next batch of views (event
// time goes on where it stopped) and resumes where it stopped, closing
// the windows the new views pass.
//
//	go run ./examples/pagecounts              # first batch
//	go run ./examples/pagecounts              # second batch: resumes
//	go run ./examples/pagecounts -events 50000 -data /tmp/pc
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
)

// Row is a window's result, as written to the files.
type Row struct {
	Page  string    `json:"page"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	N     int64     `json:"n"`
}

// rows turns window results into Rows.
func rows(s engine.Stream[engine.WindowKey[string], int64]) engine.Stream[engine.WindowKey[string], Row] {
	return engine.Map(s, func(r engine.Record[engine.WindowKey[string], int64]) (Row, error) {
		return Row{r.Key.Key, time.UnixMilli(r.Key.Start).UTC(), time.UnixMilli(r.Key.End).UTC(), r.Value}, nil
	})
}

// View is one page view.
type View struct {
	User string `json:"user"`
	Page string `json:"page"`
	TS   int64  `json:"ts"` // event time, Unix ms
}

func main() {
	data := flag.String("data", "data/pagecounts", "directory of the broker's data and of the outputs")
	events := flag.Int("events", 5000, "page views to write before running")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *data, *events); err != nil {
		fmt.Fprintln(os.Stderr, "pagecounts:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, data string, events int) error {
	b, err := broker.New(broker.DataDir(filepath.Join(data, "broker")), broker.ListenAddr("127.0.0.1:0"), broker.GroupInitialRebalanceDelay(0))
	if err != nil {
		return err
	}
	defer b.Close()
	from, err := feed(ctx, b.Addr(), events)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %d page views to the topic views, event time from %s\n", events, time.UnixMilli(from).UTC().Format(time.TimeOnly))

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := pipelines.New("pagecounts", pipelines.Options{Brokers: []string{b.Addr()}, Once: true, Logger: quiet})
	views := pipelines.FromTopic(p, "views", engine.String(), engine.JSON[View]())
	timed := engine.WithTime(views, func(r engine.Record[string, View]) (int64, error) { return r.Value.TS, nil })
	byPage := engine.KeyBy(timed, func(r engine.Record[string, View]) string { return r.Value.Page }, engine.Name("by-page"))

	minutes := engine.Window(byPage, engine.Tumbling(time.Minute).WithDelay(30*time.Second), engine.Name("views-per-minute"))
	counts := engine.Aggregate(minutes, engine.Count[View]())
	pipelines.ToFile(rows(counts), filesink.Config{Dir: filepath.Join(data, "out", "counts")}, engine.JSON[engine.WindowKey[string]](), engine.JSON[Row]())
	pipelines.ToFile(minutes.Late(), filesink.Config{Dir: filepath.Join(data, "out", "late")}, engine.String(), engine.JSON[View]())

	hours := engine.Window(byPage, engine.Hopping(5*time.Minute, time.Minute).WithDelay(30*time.Second), engine.Name("unique-users"))
	unique := engine.Aggregate(hours, engine.CountDistinct(func(v View) string { return v.User }))
	pipelines.ToFile(rows(unique), filesink.Config{Dir: filepath.Join(data, "out", "unique")}, engine.JSON[engine.WindowKey[string]](), engine.JSON[Row]())

	start := time.Now()
	if err := p.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "pipeline done in %s\n", time.Since(start).Round(time.Millisecond))
	return report(w, data)
}

// feed writes n page views after the last ones written, and returns the
// event time of the first.
func feed(ctx context.Context, addr string, n int) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, 3, -1, nil, "views")
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, err
	}
	ends, err := adm.ListEndOffsets(ctx, "views")
	if err != nil {
		return 0, err
	}
	var written int64
	ends.Each(func(o kadm.ListedOffset) { written += o.Offset })
	// Event time: 10 views a second from a fixed start, going on from
	// what earlier runs wrote.
	base := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC).UnixMilli() + written*100
	rng := rand.New(rand.NewPCG(uint64(written), 7))
	pages := []string{"/", "/pricing", "/docs", "/docs/quickstart", "/blog", "/signup"}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		ts := base + int64(i)*100
		switch r := rng.IntN(100); {
		case r < 5: // out of order, within the watermark delay
			ts -= rng.Int64N(20_000)
		case r == 5: // late: two minutes behind
			ts -= 120_000
		}
		v := View{User: fmt.Sprintf("user-%d", rng.IntN(200)), Page: pages[rng.IntN(len(pages))], TS: ts}
		val, _ := json.Marshal(v)
		recs[i] = &kgo.Record{Topic: "views", Key: []byte(v.User), Value: val, Timestamp: time.UnixMilli(ts)}
	}
	return base, cl.ProduceSync(ctx, recs...).FirstErr()
}

// report prints a summary of what the outputs hold.
func report(w io.Writer, data string) error {
	var counts, unique []Row
	for _, o := range []struct {
		dir  string
		rows *[]Row
	}{{"counts", &counts}, {"unique", &unique}} {
		err := readParts(filepath.Join(data, "out", o.dir), func(line []byte) error {
			var r Row
			if err := json.Unmarshal(line, &r); err != nil {
				return err
			}
			*o.rows = append(*o.rows, r)
			return nil
		})
		if err != nil {
			return err
		}
	}
	late := 0
	if err := readParts(filepath.Join(data, "out", "late"), func([]byte) error { late++; return nil }); err != nil {
		return err
	}
	var total int64
	for _, r := range counts {
		total += r.N
	}
	fmt.Fprintf(w, "%s: %d closed one-minute windows, %d views counted\n", filepath.Join(data, "out", "counts"), len(counts), total)
	fmt.Fprintf(w, "%s: %d closed five-minute windows of unique users\n", filepath.Join(data, "out", "unique"), len(unique))
	fmt.Fprintf(w, "%s: %d late views\n", filepath.Join(data, "out", "late"), late)
	sort.Slice(counts, func(i, j int) bool {
		if !counts[i].Start.Equal(counts[j].Start) {
			return counts[i].Start.After(counts[j].Start)
		}
		return counts[i].Page < counts[j].Page
	})
	if len(counts) > 0 {
		last := counts[0].Start
		fmt.Fprintf(w, "the last closed minute, %s-%s:\n", last.Format(time.TimeOnly), counts[0].End.Format(time.TimeOnly))
		for _, r := range counts {
			if r.Start.Equal(last) {
				fmt.Fprintf(w, "  %-18s %d views\n", r.Page, r.N)
			}
		}
	}
	fmt.Fprintln(w, "run it again to feed the next views: it resumes where it stopped")
	return nil
}

// readParts calls each for every line of the committed part files of dir.
func readParts(dir string, each func(line []byte) error) error {
	parts, err := filesink.ReadCommitted(dir, "part")
	if err != nil {
		return err
	}
	for _, files := range parts {
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				if err := each(sc.Bytes()); err != nil {
					fh.Close()
					return err
				}
			}
			fh.Close()
			if err := sc.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}
