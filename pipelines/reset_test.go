package pipelines_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/kafkastate"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
)

// resetYAML counts the clicks of the topic clicks per page in tumbling
// windows of 10s, after a key_by (two stages), into part files: the
// shape of issue 12's pipeline. %[1]s is the broker, %[2]s the directory.
const resetYAML = `broker: {bootstrap: [%[1]s], data_dir: %[2]s/data}
inputs:
  clicks: {topic: {topics: [clicks]}}
outputs:
  counts: {file: {dir: %[2]s/out/counts}}
pipelines:
  counts:
    from: clicks
    steps:
      - event_time: value.ts
      - key_by: value.page
      - name: per-10s
        window:
          tumbling: 10s
          aggregate: {views: count()}
      - map: {page: value.key, start: value.start, views: value.views}
      - to: counts
`

// resetRig is a broker with the topic clicks (2 partitions) and the
// counting pipeline file.
type resetRig struct {
	t    *testing.T
	addr string
	dir  string
	adm  *kadm.Client
	// clicks are the records produced, with their partitions and
	// offsets.
	clicks []*kgo.Record
}

func newResetRig(t *testing.T) *resetRig {
	t.Helper()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "clicks", 2, nil)
	return &resetRig{t: t, addr: addr, dir: t.TempDir(), adm: kadm.NewClient(brokertest.Client(t, addr))}
}

// produce writes n clicks of the pages /a, /b, /c, one every second from
// ts (Unix ms), keyed by page, timestamped with their ts.
func (r *resetRig) produce(ts int64, n int) {
	r.t.Helper()
	cl := brokertest.Client(r.t, r.addr)
	var recs []*kgo.Record
	for i := range n {
		page := []string{"/a", "/b", "/c"}[i%3]
		at := ts + int64(i)*1000
		recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(page), Timestamp: time.UnixMilli(at),
			Value: fmt.Appendf(nil, `{"page":%q,"ts":%d}`, page, at)})
	}
	if err := cl.ProduceSync(brokertest.Context(r.t), recs...).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
	r.clicks = append(r.clicks, recs...) // with their partitions and offsets
}

func (r *resetRig) load() *pipelines.File {
	r.t.Helper()
	f, err := pipelines.Parse(filepath.Join(r.dir, "counts.yaml"), fmt.Appendf(nil, resetYAML, r.addr, r.dir), pipelines.LoadOptions{Once: true, Logger: quietLogger()})
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

// run runs the file once and returns the stats of the pipeline.
func (r *resetRig) run() []connect.Stats {
	r.t.Helper()
	f := r.load()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := f.Run(ctx); err != nil {
		r.t.Fatal(err)
	}
	return f.Stats()[0].Stages
}

func (r *resetRig) reset(o pipelines.ResetOptions) *pipelines.ResetPlan {
	r.t.Helper()
	plan, err := r.load().Reset(brokertest.Context(r.t), "counts", o)
	if err != nil {
		r.t.Fatal(err)
	}
	return plan
}

// resetState is every place the pipeline keeps positions.
type resetState struct {
	groups    map[string]map[int32]int64 // committed offsets by group, by partition (one topic each)
	sink      map[connect.TaskID]engine.Positions
	snapshots map[string]map[connect.TaskID][]connect.Snapshot // by stage
}

func (r *resetRig) state() resetState {
	r.t.Helper()
	ctx := brokertest.Context(r.t)
	s := resetState{groups: map[string]map[int32]int64{}, snapshots: map[string]map[connect.TaskID][]connect.Snapshot{}}
	for _, g := range []string{"counts", "counts-stage1"} {
		offs, err := r.adm.FetchOffsets(ctx, g)
		if err != nil {
			r.t.Fatal(err)
		}
		s.groups[g] = map[int32]int64{}
		offs.Each(func(o kadm.OffsetResponse) { s.groups[g][o.Partition] = o.At })
	}
	sink, err := filesink.New(filesink.Config{Dir: filepath.Join(r.dir, "out", "counts")})
	if err != nil {
		r.t.Fatal(err)
	}
	if s.sink, err = sink.StoredPositions(ctx); err != nil {
		r.t.Fatal(err)
	}
	store, err := kafkastate.New(ctx, []string{r.addr}, "counts-state")
	if err != nil {
		r.t.Fatal(err)
	}
	defer store.Close()
	for _, stage := range []string{"counts/0", "counts/1"} {
		if s.snapshots[stage], err = store.Stored(ctx, stage); err != nil {
			r.t.Fatal(err)
		}
	}
	return s
}

func (s resetState) equal(o resetState) bool {
	return maps.EqualFunc(s.groups, o.groups, maps.Equal) &&
		maps.EqualFunc(s.sink, o.sink, engine.Positions.Equal) &&
		maps.EqualFunc(s.snapshots, o.snapshots, func(a, b map[connect.TaskID][]connect.Snapshot) bool {
			return maps.EqualFunc(a, b, func(x, y []connect.Snapshot) bool {
				return slices.EqualFunc(x, y, func(p, q connect.Snapshot) bool {
					return p.Seq == q.Seq && p.Positions.Equal(q.Positions) && string(p.State) == string(q.State)
				})
			})
		})
}

// end returns the log end offsets of a topic by partition.
func (r *resetRig) end(topic string) map[int32]int64 {
	r.t.Helper()
	ends, err := r.adm.ListEndOffsets(brokertest.Context(r.t), topic)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// planLines returns the actions of a plan as lines, with their stage.
func planLines(p *pipelines.ResetPlan) string {
	var b strings.Builder
	for _, a := range p.Actions {
		fmt.Fprintf(&b, "%d %s: %s\n", a.Stage, a.Kind, a)
	}
	return b.String()
}

// A dry run lists every place the pipeline keeps positions and changes
// none; Execute moves them all, and the next run reads the input again
// with no late record and writes every window again, as before.
func TestResetDryRunThenExecute(t *testing.T) {
	t.Parallel()
	r := newResetRig(t)
	r.produce(0, 90)
	first := r.run()
	if first[0].In != 90 || first[1].Late != 0 {
		t.Fatalf("first run: stage 0 read %d, stage 1 had %d late; want 90 and 0", first[0].In, first[1].Late)
	}
	counts := filepath.Join(r.dir, "out", "counts")
	firstLines := committedLines(t, counts)
	if len(firstLines) == 0 {
		t.Fatal("the first run wrote no window")
	}
	before := r.state()
	if len(before.sink) == 0 || len(before.snapshots["counts/1"]) == 0 || before.groups["counts"][0] == 0 {
		t.Fatalf("the first run left no positions to reset: %+v", before)
	}

	plan := r.reset(pipelines.ResetOptions{ToEarliest: true})
	if plan.Executed {
		t.Fatal("a dry run says it executed")
	}
	lines := planLines(plan)
	repartition := ""
	for _, a := range plan.Actions {
		if a.Stage == 1 && a.Kind == pipelines.ResetGroupOffset {
			repartition = strings.Fields(a.Where)[3]
		}
	}
	for _, want := range []string{
		fmt.Sprintf("0 group offset: group counts, topic clicks partition 0: %d → 0 (the log start)\n", before.groups["counts"][0]),
		fmt.Sprintf("0 group offset: group counts, topic clicks partition 1: %d → 0 (the log start)\n", before.groups["counts"][1]),
		"1 group offset: group counts-stage1, topic " + repartition + " partition 0: ",
		"(the log end: stage 0 writes the topic again)\n",
		"1 state snapshots: state topic counts-state, stage 1: ",
		"→ deleted: the windows start empty\n",
		"1 sink positions: output counts (file:" + counts + "), task 0: " + repartition + "[0] at ",
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("the plan has no line with %q:\n%s", want, lines)
		}
	}
	if after := r.state(); !after.equal(before) {
		t.Fatalf("the dry run changed something:\nbefore %+v\nafter  %+v", before, after)
	}

	plan = r.reset(pipelines.ResetOptions{ToEarliest: true, Execute: true})
	if !plan.Executed {
		t.Fatal("Execute did not execute")
	}
	after := r.state()
	if want := map[int32]int64{0: 0, 1: 0}; !maps.Equal(after.groups["counts"], want) {
		t.Errorf("group counts at %v, want %v", after.groups["counts"], want)
	}
	if want := r.end(repartition); !maps.Equal(after.groups["counts-stage1"], want) {
		t.Errorf("group counts-stage1 at %v, want the end of %s, %v", after.groups["counts-stage1"], repartition, want)
	}
	if len(after.sink) != 0 || len(after.snapshots["counts/0"])+len(after.snapshots["counts/1"]) != 0 {
		t.Errorf("positions or snapshots left: %+v", after)
	}

	second := r.run()
	if second[0].In != 90 || second[1].Late != 0 {
		t.Fatalf("after the reset: stage 0 read %d, stage 1 had %d late; want 90 and 0", second[0].In, second[1].Late)
	}
	var twice []string
	for _, l := range firstLines {
		twice = append(twice, l, l)
	}
	if got := committedLines(t, counts); !slices.Equal(got, twice) {
		t.Fatalf("after the second run the counts are\n%q\nwant each of the first run's twice\n%q", got, twice)
	}
}

// Reset refuses a pipeline whose group has a member, naming both.
func TestResetRefusedWhileRunning(t *testing.T) {
	t.Parallel()
	r := newResetRig(t)
	r.produce(0, 3)
	member := brokertest.Client(t, r.addr, kgo.ConsumeTopics("clicks"), kgo.ConsumerGroup("counts"), kgo.ClientID("other-process"))
	ctx := brokertest.Context(t)
	for {
		member.PollFetches(ctx) // joins the group
		d, err := r.adm.DescribeGroups(ctx, "counts")
		if err != nil {
			t.Fatal(err)
		}
		if g := d["counts"]; len(g.Members) == 1 && g.State == "Stable" {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the member never joined")
		}
	}
	_, err := r.load().Reset(ctx, "counts", pipelines.ResetOptions{ToEarliest: true, Execute: true})
	if !errors.Is(err, pipelines.ErrPipelineRunning) {
		t.Fatalf("Reset while the group has a member: %v, want ErrPipelineRunning", err)
	}
	for _, want := range []string{"group counts has 1 member (state Stable)", "client other-process", "stop it first"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

// With the embedded broker, a pipeline running on the data directory
// holds it: Reset is refused.
func TestResetRefusedWhileRunningEmbedded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`broker: {data_dir: %[1]s/data}
inputs:
  lines: {file: {paths: [%[1]s/in.txt], follow: true, poll_interval: 10ms}}
outputs:
  out: {file: {dir: %[1]s/out}}
pipelines:
  copy: {from: lines, steps: [{to: out}]}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := pipelines.Parse("copy.yaml", []byte(yaml), pipelines.LoadOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(brokertest.Context(t))
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for st := f.Stats()[0].Stages; len(st) == 0 || st[0].Checkpoints == 0; st = f.Stats()[0].Stages {
		select {
		case err := <-done:
			t.Fatalf("the pipeline stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	g, err := pipelines.Parse("copy.yaml", []byte(yaml), pipelines.LoadOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Reset(ctx, "copy", pipelines.ResetOptions{ToEarliest: true}); !errors.Is(err, pipelines.ErrPipelineRunning) {
		t.Fatalf("Reset while the pipeline runs: %v, want ErrPipelineRunning", err)
	}
}

// ToTime starts each partition of a topic input at its first record at
// or after the time; the next run writes again the windows from then on.
func TestResetToTime(t *testing.T) {
	t.Parallel()
	r := newResetRig(t)
	r.produce(0, 90)
	r.run()
	counts := filepath.Join(r.dir, "out", "counts")
	firstLines := committedLines(t, counts)

	at := int64(30_000) // a window boundary
	want := map[int32]int64{}
	for _, rec := range r.clicks {
		if _, ok := want[rec.Partition]; !ok && rec.Timestamp.UnixMilli() >= at {
			want[rec.Partition] = rec.Offset
		}
	}
	plan := r.reset(pipelines.ResetOptions{ToTime: time.UnixMilli(at), Execute: true})
	lines := planLines(plan)
	for p, off := range want {
		line := fmt.Sprintf("group counts, topic clicks partition %d: ", p)
		if !strings.Contains(lines, line) || !strings.Contains(lines, fmt.Sprintf("→ %d (the first record at or after 1970-01-01T00:00:30Z)", off)) {
			t.Errorf("the plan does not move partition %d to %d:\n%s", p, off, lines)
		}
	}
	if got := r.state().groups["counts"]; !maps.Equal(got, want) {
		t.Fatalf("group counts at %v, want %v", got, want)
	}

	second := r.run()
	if second[0].In != 60 || second[1].Late != 0 {
		t.Fatalf("after the reset: stage 0 read %d, stage 1 had %d late; want 60 and 0", second[0].In, second[1].Late)
	}
	var again []string
	for _, l := range firstLines {
		again = append(again, l)
		var start int64
		fmt.Sscanf(l[strings.Index(l, `"start":`)+len(`"start":`):], "%d", &start)
		if start >= at {
			again = append(again, l)
		}
	}
	slices.Sort(again)
	if got := committedLines(t, counts); !slices.Equal(got, again) {
		t.Fatalf("after the second run the counts are\n%q\nwant the first run's, and again those from %d\n%q", got, at, again)
	}
}

// ToTime needs topic inputs; an unknown pipeline is an error with a
// suggestion.
func TestResetErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`broker: {data_dir: %[1]s/data}
inputs:
  lines: {file: {paths: [%[1]s/in.txt]}}
outputs:
  out: {file: {dir: %[1]s/out}}
pipelines:
  copy: {from: lines, steps: [{to: out}]}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func() *pipelines.File {
		f, err := pipelines.Parse("copy.yaml", []byte(yaml), pipelines.LoadOptions{Once: true, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ctx := brokertest.Context(t)
	if _, err := load().Reset(ctx, "copy", pipelines.ResetOptions{ToEarliest: true}); err == nil || !strings.Contains(err.Error(), "nothing to reset: the embedded broker has no data") {
		t.Errorf("Reset of a pipeline that never ran: %v", err)
	}
	if err := load().Run(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := load().Reset(ctx, "copy", pipelines.ResetOptions{ToTime: time.Unix(0, 0)})
	if err == nil || !strings.Contains(err.Error(), "pipeline copy reads the file input lines: only topic inputs can be read again from a time") {
		t.Errorf("ToTime on a file input: %v", err)
	}
	_, err = load().Reset(ctx, "cpy", pipelines.ResetOptions{ToEarliest: true})
	if err == nil || !strings.Contains(err.Error(), `has no pipeline "cpy" (did you mean "copy"?)`) {
		t.Errorf("an unknown pipeline: %v", err)
	}
	if _, err := load().Reset(ctx, "copy", pipelines.ResetOptions{}); err == nil {
		t.Error("Reset without a target succeeded")
	}

	// A file input: its offsets file is deleted, and the next run reads
	// the file again.
	plan, err := load().Reset(ctx, "copy", pipelines.ResetOptions{ToEarliest: true, Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	offsets := filepath.Join(dir, "data", "offsets", "copy.lines.json")
	if lines := planLines(plan); !strings.Contains(lines, "0 offsets file: offsets file "+offsets+" (file input lines): positions → deleted: read from the start of each file\n") {
		t.Errorf("the plan does not delete the offsets file:\n%s", lines)
	}
	if _, err := os.Stat(offsets); !os.IsNotExist(err) {
		t.Errorf("the offsets file is still there: %v", err)
	}
	if err := load().Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committedLines(t, filepath.Join(dir, "out")); !slices.Equal(got, []string{`"a"`, `"a"`}) {
		t.Errorf("after the reset the output holds %q, want the line twice", got)
	}
}

// A datagen input is set back to record 0 of its data set: after the
// reset the run generates the same records (the same times, though the
// default start is the time of the first run) into the repartition
// topic, whose positions topic the reset emptied, and every window is
// written again as before.
func TestResetDatagen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`broker: {data_dir: %[1]s/data}
inputs:
  sample: {datagen: {preset: orders, count: 300}}
outputs:
  revenue: {file: {dir: %[1]s/out}}
pipelines:
  revenue:
    from: sample
    steps:
      - event_time: value.ts
      - key_by: value.currency
      - window: {tumbling: 10s, delay: 10s, aggregate: {orders: count(), revenue: sum(value.amount)}}
      - to: revenue
`, dir)
	run := func() []connect.Stats {
		t.Helper()
		f, err := pipelines.Parse("revenue.yaml", []byte(yaml), pipelines.LoadOptions{Once: true, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Run(brokertest.Context(t)); err != nil {
			t.Fatal(err)
		}
		return f.Stats()[0].Stages
	}
	if st := run(); st[0].In != 300 || st[1].Late != 0 {
		t.Fatalf("first run: read %d, %d late", st[0].In, st[1].Late)
	}
	first := committedLines(t, filepath.Join(dir, "out"))
	if len(first) == 0 {
		t.Fatal("the first run wrote no window")
	}
	f, err := pipelines.Parse("revenue.yaml", []byte(yaml), pipelines.LoadOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := f.Reset(brokertest.Context(t), "revenue", pipelines.ResetOptions{ToEarliest: true, Execute: true})
	if err != nil {
		t.Fatal(err)
	}
	lines := planLines(plan)
	for _, want := range []string{
		"0 offsets file: offsets file " + filepath.Join(dir, "data", "offsets", "revenue.sample.json") + " (datagen input sample): record 300 of datagen:orders@",
		" → record 0 (the same records again)\n",
		"0 sink positions: output repartition topic revenue-",
		"[0] at 300 → none\n",
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("the plan has no line with %q:\n%s", want, lines)
		}
	}
	if st := run(); st[0].In != 300 || st[1].Late != 0 {
		t.Fatalf("after the reset: read %d, %d late; want 300 and 0", st[0].In, st[1].Late)
	}
	var twice []string
	for _, l := range first {
		twice = append(twice, l, l)
	}
	if got := committedLines(t, filepath.Join(dir, "out")); !slices.Equal(got, twice) {
		t.Fatalf("after the second run the output holds\n%q\nwant each window of the first run twice\n%q", got, twice)
	}
}
