package topic_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/sources/topic"
)

// The source's tests run against the built-in broker, in this process.

var quiet = slog.New(slog.DiscardHandler)

// produce writes n records to each of the partitions of topic: key
// "k<p>-<i>", value "v<p>-<i>", timestamp 1000*(i+1) ms, one header.
func produce(t *testing.T, addr, topicName string, partitions int32, from, n int) {
	t.Helper()
	cl := brokertest.Client(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for p := range partitions {
		for i := from; i < from+n; i++ {
			recs = append(recs, &kgo.Record{Topic: topicName, Partition: p,
				Key: fmt.Appendf(nil, "k%d-%d", p, i), Value: fmt.Appendf(nil, "v%d-%d", p, i),
				Timestamp: time.UnixMilli(int64(1000 * (i + 1))),
				Headers:   []kgo.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}}})
		}
	}
	if err := cl.ProduceSync(brokertest.Context(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// assignments records the callbacks of a source and answers Assigned
// with resume.
type assignments struct {
	mu       sync.Mutex
	resume   map[connect.TaskID]engine.Positions
	assigned [][]connect.TaskID
	revoked  [][]connect.TaskID
	lost     [][]connect.TaskID
}

var _ connect.Assignments = (*assignments)(nil)

func (a *assignments) Assigned(_ context.Context, ids []connect.TaskID) (map[connect.TaskID]engine.Positions, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.assigned = append(a.assigned, ids)
	return a.resume, nil
}

func (a *assignments) Revoked(_ context.Context, ids []connect.TaskID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revoked = append(a.revoked, ids)
}

func (a *assignments) Lost(_ context.Context, ids []connect.TaskID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lost = append(a.lost, ids)
}

func (a *assignments) calls() (assigned, revoked, lost [][]connect.TaskID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.assigned), slices.Clone(a.revoked), slices.Clone(a.lost)
}

func newSource(t *testing.T, cfg topic.Config) *topic.Source {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	s, err := topic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t *testing.T, s *topic.Source, a connect.Assignments) {
	t.Helper()
	if err := s.Open(brokertest.Context(t), a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
}

// poll polls s until it returned n records or the deadline passed, and
// returns them by input, in order. onBatch, if not nil, sees each Poll's
// batches.
func poll(t *testing.T, s *topic.Source, n int, onBatch func([]connect.Batch)) map[engine.Input][]*connect.Record {
	t.Helper()
	out := map[engine.Input][]*connect.Record{}
	got := 0
	deadline := time.Now().Add(30 * time.Second)
	for got < n {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d records of %d", got, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		bs, err := s.Poll(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Poll: %v", err)
		}
		for _, b := range bs {
			for _, r := range b.Records {
				if r.Pos.Partition != b.Task {
					t.Fatalf("a record of partition %d in the batch of task %d", r.Pos.Partition, b.Task)
				}
				out[r.Pos.Input] = append(out[r.Pos.Input], r)
				got++
			}
		}
		if onBatch != nil && len(bs) > 0 {
			onBatch(bs)
		}
	}
	return out
}

// offsets returns the offsets of recs.
func offsets(recs []*connect.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Pos.Offset
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func committedOffsets(t *testing.T, addr, group string) map[engine.Input]int64 {
	t.Helper()
	resp, err := kadm.NewClient(brokertest.Client(t, addr)).FetchOffsets(brokertest.Context(t), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[engine.Input]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			t.Fatalf("the offset of %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		out[engine.Input{Stream: o.Topic, Partition: o.Partition}] = o.At
	})
	return out
}

func in(stream string, p int32) engine.Input { return engine.Input{Stream: stream, Partition: p} }

// TestResumesWhereAssignedSays: the positions Assigned returns are where
// the source reads from, over the group's committed offsets; partitions
// Assigned says nothing of start at the group's offsets.
func TestResumesWhereAssignedSays(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 3, nil)
	produce(t, addr, "in", 3, 0, 10)
	// An earlier run of the group committed these.
	offs := kadm.Offsets{}
	offs.AddOffset("in", 0, 5, -1)
	offs.AddOffset("in", 1, 6, -1)
	if err := kadm.NewClient(brokertest.Client(t, addr)).CommitAllOffsets(brokertest.Context(t), "g", offs); err != nil {
		t.Fatal(err)
	}

	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g"})
	a := &assignments{resume: map[connect.TaskID]engine.Positions{0: {in("in", 0): 3}, 2: {in("in", 2): 8}}}
	open(t, s, a)
	got := poll(t, s, 7+4+2, nil)
	for p, want := range map[int32][]int64{0: span(3, 10), 1: span(6, 10), 2: span(8, 10)} {
		if o := offsets(got[in("in", p)]); !slices.Equal(o, want) {
			t.Errorf("partition %d read at offsets %v, want %v", p, o, want)
		}
	}
	if assigned, _, _ := a.calls(); len(assigned) != 1 || !slices.Equal(assigned[0], []connect.TaskID{0, 1, 2}) {
		t.Fatalf("Assigned calls %v, want one with tasks 0, 1 and 2", assigned)
	}

	r := got[in("in", 2)][0]
	if string(r.Key) != "k2-8" || string(r.Value) != "v2-8" || r.Time != 9000 ||
		r.Pos.Offset != 8 || r.Pos.Next != 9 || len(r.Headers) != 1 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != "8" {
		t.Fatalf("record %+v, want k2-8=v2-8 at 9000ms, offset 8, next 9, header h=8", r)
	}
}

// TestCommitAndLag: Commit stores the group's offsets, where a later
// member resumes; Lag counts what is left behind the last record
// returned; Close revokes the tasks.
func TestCommitAndLag(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 2, nil)
	produce(t, addr, "in", 2, 0, 10)
	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", MaxPollRecords: 3})
	a := &assignments{}
	open(t, s, a)
	if l := s.Lag(); len(l) != 0 {
		t.Fatalf("lag before any record: %v", l)
	}
	// After each Poll, the lag of each task is what follows its last
	// record returned.
	last := map[connect.TaskID]int64{}
	poll(t, s, 20, func(bs []connect.Batch) {
		for _, b := range bs {
			last[b.Task] = b.Records[len(b.Records)-1].Pos.Offset
		}
		lag := s.Lag()
		for id, off := range last {
			if want := 10 - (off + 1); lag[id] != want {
				t.Errorf("lag of task %d after offset %d: %d, want %d", id, off, lag[id], want)
			}
		}
	})
	if l := s.Lag(); l[0] != 0 || l[1] != 0 {
		t.Fatalf("lag after everything: %v", l)
	}

	cp := connect.Checkpoint{0: {in("in", 0): 7}, 1: {in("in", 1): 4}}
	if err := s.Commit(brokertest.Context(t), cp); err != nil {
		t.Fatal(err)
	}
	if got := committedOffsets(t, addr, "g"); got[in("in", 0)] != 7 || got[in("in", 1)] != 4 {
		t.Fatalf("the group's offsets %v, want 7 and 4", got)
	}
	if err := s.Close(brokertest.Context(t)); err != nil {
		t.Fatal(err)
	}
	if _, revoked, _ := a.calls(); len(revoked) == 0 || !slices.Equal(revoked[len(revoked)-1], []connect.TaskID{0, 1}) {
		t.Fatalf("Revoked calls %v, want the tasks revoked when the source leaves", revoked)
	}

	// The next member of the group starts at the committed offsets.
	s2 := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g"})
	open(t, s2, &assignments{})
	got := poll(t, s2, 3+6, nil)
	if o := offsets(got[in("in", 0)]); !slices.Equal(o, span(7, 10)) {
		t.Errorf("partition 0 read again at %v, want 7 to 9", o)
	}
	if o := offsets(got[in("in", 1)]); !slices.Equal(o, span(4, 10)) {
		t.Errorf("partition 1 read again at %v, want 4 to 9", o)
	}
}

// TestStartAtLatest: without committed offsets nor positions, "latest"
// starts at the end.
func TestStartAtLatest(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 1, nil)
	produce(t, addr, "in", 1, 0, 5)
	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", StartAt: "latest"})
	a := &assignments{}
	open(t, s, a)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if assigned, _, _ := a.calls(); len(assigned) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no assignment")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		bs, err := s.Poll(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		if len(bs) > 0 {
			t.Fatalf("read %d records that were there before the start", len(bs[0].Records))
		}
	}
	produce(t, addr, "in", 1, 5, 2)
	got := poll(t, s, 2, nil)
	if o := offsets(got[in("in", 0)]); !slices.Equal(o, span(5, 7)) {
		t.Fatalf("read %v, want the records produced after the start (5, 6)", o)
	}
}

// TestReadCommitted: records of aborted transactions are never returned.
func TestReadCommitted(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 1, nil)
	cl := brokertest.Client(t, addr, kgo.TransactionalID("producer"), kgo.DefaultProduceTopic("in"))
	ctx := brokertest.Context(t)
	for _, txn := range []struct {
		values []string
		commit bool
	}{{[]string{"a", "b"}, true}, {[]string{"x", "y"}, false}, {[]string{"c"}, true}} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range txn.values {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(txn.commit)); err != nil {
			t.Fatal(err)
		}
	}
	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g"})
	open(t, s, &assignments{})
	got := poll(t, s, 3, nil)[in("in", 0)]
	var vs []string
	for _, r := range got {
		vs = append(vs, string(r.Value))
	}
	if !slices.Equal(vs, []string{"a", "b", "c"}) {
		t.Fatalf("read %q, want a, b, c: the aborted x and y never", vs)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := topic.Config{Brokers: []string{"b:9092"}, Topics: []string{"t"}, Group: "g"}
	with := func(f func(*topic.Config)) topic.Config { c := ok; f(&c); return c }
	for _, tc := range []struct {
		name string
		cfg  topic.Config
		err  string
	}{
		{"valid", ok, ""},
		{"latest", with(func(c *topic.Config) { c.StartAt = "latest" }), ""},
		{"no brokers", with(func(c *topic.Config) { c.Brokers = nil }), "brokers:"},
		{"no topics", with(func(c *topic.Config) { c.Topics = nil }), "topics:"},
		{"no group", with(func(c *topic.Config) { c.Group = "" }), "group:"},
		{"start_at", with(func(c *topic.Config) { c.StartAt = "middle" }), `start_at: "middle"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.err)
			}
			if _, nerr := topic.New(tc.cfg); nerr == nil {
				t.Fatal("New accepted an invalid configuration")
			}
		})
	}
}
