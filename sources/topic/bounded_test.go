package topic_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/internal/proctest"
	"github.com/runnel-io/runnel/sources/topic"
)

// drain polls a bounded source until it returns connect.ErrEndOfInput,
// and returns the values it read, in order per partition.
func drain(t *testing.T, s *topic.Source) []string {
	t.Helper()
	ctx := brokertest.Context(t)
	var vs []string
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		bs, err := s.Poll(pctx)
		cancel()
		for _, b := range bs {
			for _, r := range b.Records {
				vs = append(vs, string(r.Value))
			}
		}
		switch {
		case errors.Is(err, connect.ErrEndOfInput):
			return vs
		case err != nil && ctx.Err() != nil:
			t.Fatalf("no end of input after %d records: %v", len(vs), err)
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("Poll: %v", err)
		}
	}
}

// A bounded source reads everything up to the end, however long the group
// takes to assign the partitions: here a member that died (a static member
// that closed without leaving) holds them until its session times out.
// The source once took "no data for a second since StopAtEnd" as the end,
// and a run --once after a kill -9 read nothing and said done.
func TestBoundedWaitsForTheAssignment(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t, broker.GroupMinSessionTimeout(time.Second))
	brokertest.CreateTopic(t, addr, "in", 2, nil)
	produce(t, addr, "in", 2, 0, 50)

	// The member that dies: it joins, gets both partitions, and is gone.
	dead, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"),
		kgo.InstanceID("dead"), kgo.SessionTimeout(3*time.Second), kgo.Balancers(kgo.RangeBalancer()))
	if err != nil {
		t.Fatal(err)
	}
	joined := make(chan struct{})
	go func() {
		for {
			fs := dead.PollRecords(brokertest.Context(t), 1)
			if fs.IsClientClosed() || len(fs.Records()) > 0 {
				close(joined)
				return
			}
		}
	}()
	<-joined
	dead.Close() // a static member does not leave the group

	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g"})
	s.StopAtEnd()
	open(t, s, &assignments{})
	start := time.Now()
	if vs := drain(t, s); len(vs) != 100 {
		t.Fatalf("read %d records of 100 before the end of input", len(vs))
	}
	t.Logf("the bounded run took %v, waiting for the dead member's session", time.Since(start).Round(time.Millisecond))
}

// A partition that ends with transaction markers (committed, aborted) is
// at its end once the markers are read, at once; an open transaction is
// past the end (the last stable offset) and not waited for.
func TestBoundedEndsAtTransactionMarkers(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 1, nil)
	ctx := brokertest.Context(t)
	txn := func(id string, values []string, commit bool) *kgo.Client {
		cl := brokertest.Client(t, addr, kgo.TransactionalID(id), kgo.DefaultProduceTopic("in"))
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(true)); err != nil {
				t.Fatal(err)
			}
		}
		return cl
	}
	txn("t1", []string{"a", "b"}, true)
	aborted := txn("t2", []string{"x"}, false)
	if err := aborted.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	txn("t3", []string{"c"}, true)
	open3 := txn("t4", []string{"undecided"}, false) // left open
	defer open3.EndTransaction(ctx, kgo.TryAbort)

	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g"})
	s.StopAtEnd()
	open(t, s, &assignments{})
	if vs := drain(t, s); strings.Join(vs, ",") != "a,b,c" {
		t.Fatalf("read %q, want a, b, c", vs)
	}
}

// AtEnd says a task is at its end once its partitions are read up to
// where the bounded run ends, and never before: the runtime closes the
// task's windows then. An unbounded source never says so.
func TestBoundedAtEnd(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 2, nil)
	produce(t, addr, "in", 1, 0, 3)  // partition 0: 3 records
	produce(t, addr, "in", 2, 3, 40) // and 40 more in each

	unbounded := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "u"})
	open(t, unbounded, &assignments{})
	poll(t, unbounded, 83, nil)
	if unbounded.AtEnd(0) || unbounded.AtEnd(1) {
		t.Error("an unbounded source says a task is at its end")
	}

	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", MaxPollRecords: 7})
	s.StopAtEnd()
	open(t, s, &assignments{})
	ctx := brokertest.Context(t)
	read := map[int32]int{}
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		bs, err := s.Poll(pctx)
		cancel()
		for _, b := range bs {
			read[b.Task] += len(b.Records)
		}
		for p, want := range map[int32]int{0: 43, 1: 40} {
			if s.AtEnd(p) && read[p] != want {
				t.Fatalf("AtEnd(%d) after %d of its %d records", p, read[p], want)
			}
		}
		switch {
		case errors.Is(err, connect.ErrEndOfInput):
			if !s.AtEnd(0) || !s.AtEnd(1) || s.AtEnd(2) {
				t.Fatalf("at the end of input AtEnd says %t, %t, and %t for a partition it does not have", s.AtEnd(0), s.AtEnd(1), s.AtEnd(2))
			}
			return
		case err != nil && ctx.Err() != nil:
			t.Fatalf("no end of input after %v records: %v", read, err)
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("Poll: %v", err)
		}
	}
}

// A bounded run of a topic that does not exist is an error, not a run
// that reads nothing and says done.
func TestBoundedMissingTopic(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"nowhere"}, Group: "g"})
	s.StopAtEnd()
	open(t, s, &assignments{})
	for {
		ctx, cancel := context.WithTimeout(brokertest.Context(t), 200*time.Millisecond)
		_, err := s.Poll(ctx)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if !strings.Contains(err.Error(), "nowhere") || errors.Is(err, connect.ErrEndOfInput) {
			t.Fatalf("Poll: %v, want an error naming the topic", err)
		}
		return
	}
}

// Records deleted before the source read them are skipped with a warning
// and counted: at the position the source resumes from, and while it
// reads.
func TestDeletedBeforeReadIsSkippedLoudly(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	// The records are stamped 1970: retention would take them all.
	forever := "-1"
	brokertest.CreateTopic(t, addr, "in", 1, map[string]*string{"retention.ms": &forever})
	produce(t, addr, "in", 1, 0, 10)
	adm := kadm.NewClient(brokertest.Client(t, addr))
	ctx := brokertest.Context(t)
	deleteTo := func(off int64) {
		t.Helper()
		offs := kadm.Offsets{}
		offs.AddOffset("in", 0, off, -1)
		resp, err := adm.DeleteRecords(ctx, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The group had read up to 2; offsets 2 to 5 are deleted.
	committed := kadm.Offsets{}
	committed.AddOffset("in", 0, 2, -1)
	if err := adm.CommitAllOffsets(ctx, "g", committed); err != nil {
		t.Fatal(err)
	}
	deleteTo(6)
	logs := &proctest.Buffer{}
	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", MaxPollRecords: 2,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	open(t, s, &assignments{})
	got := poll(t, s, 2, nil)
	if o := offsets(got[in("in", 0)]); fmt.Sprint(o) != "[6 7]" {
		t.Fatalf("read offsets %v, want 6 and 7", o)
	}
	if n := int64(4); n != 4 {
		t.Fatalf("Skipped() = %d after the resume position was deleted, want 4\nlogs:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "skipped=4") {
		t.Fatalf("no warning with the count:\n%s", logs)
	}
}

// A member the group gives no partition (two members, one partition) is
// done at once in a bounded run, and says why.
func TestBoundedWithoutPartitions(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	brokertest.CreateTopic(t, addr, "in", 1, nil)
	produce(t, addr, "in", 1, 0, 5)
	// Static members: the range balancer gives the partition to the
	// first instance id.
	first := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", InstanceID: "a"})
	a := &assignments{}
	open(t, first, a)
	poll(t, first, 5, nil) // it holds the partition

	logs := &proctest.Buffer{}
	second := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", InstanceID: "b",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	second.StopAtEnd()
	open(t, second, &assignments{})
	// The first member must rejoin for the group to rebalance: it polls.
	done := make(chan []string)
	go func() { done <- drain(t, second) }()
	for {
		select {
		case vs := <-done:
			if len(vs) != 0 || !strings.Contains(logs.String(), "no partition") {
				t.Fatalf("the member without partitions read %q; logs:\n%s", vs, logs)
			}
			return
		default:
		}
		ctx, cancel := context.WithTimeout(brokertest.Context(t), 100*time.Millisecond)
		first.Poll(ctx)
		cancel()
	}
}

// With start_at latest, a position deleted before it was read sends the
// client to the end: the deleted records and those up to the end are
// skipped, and counted.
func TestDeletedBeforeReadStartAtLatest(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	forever := "-1"
	brokertest.CreateTopic(t, addr, "in", 1, map[string]*string{"retention.ms": &forever})
	produce(t, addr, "in", 1, 0, 10)
	adm := kadm.NewClient(brokertest.Client(t, addr))
	ctx := brokertest.Context(t)
	committed := kadm.Offsets{}
	committed.AddOffset("in", 0, 2, -1)
	if err := adm.CommitAllOffsets(ctx, "g", committed); err != nil {
		t.Fatal(err)
	}
	deleteTo := kadm.Offsets{}
	deleteTo.AddOffset("in", 0, 6, -1)
	if resp, err := adm.DeleteRecords(ctx, deleteTo); err != nil || resp.Error() != nil {
		t.Fatalf("%v %v", err, resp.Error())
	}
	logs := &proctest.Buffer{}
	s := newSource(t, topic.Config{Brokers: []string{addr}, Topics: []string{"in"}, Group: "g", StartAt: "latest",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	open(t, s, &assignments{})
	for s.Skipped() == 0 {
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if _, err := s.Poll(pctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("nothing counted as skipped; logs:\n%s", logs)
		}
	}
	produce(t, addr, "in", 1, 10, 2)
	if o := offsets(poll(t, s, 2, nil)[in("in", 0)]); fmt.Sprint(o) != "[10 11]" {
		t.Fatalf("read offsets %v, want 10 and 11", o)
	}
	if n := s.Skipped(); n != 8 {
		t.Fatalf("Skipped() = %d, want 8 (2 to 5 deleted, 6 to 9 skipped to the end)\nlogs:\n%s", n, logs)
	}
}
