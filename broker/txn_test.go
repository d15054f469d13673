package broker

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker/txn"
)

// consumeAll appends a plain sentinel record to the single-partition
// topic, then reads from the start with the given isolation until the
// sentinel: everything before it is decided, so what a read_committed
// consumer sees by then is final. The sentinel is not returned.
func consumeAll(t *testing.T, b *Broker, topic string, committed bool) []string {
	t.Helper()
	ctx := ctxT(t)
	sentinel := fmt.Sprintf("sentinel-%d", time.Now().UnixNano())
	if err := newClient(t, b).ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(sentinel)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	var out []string
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			v := string(r.Value)
			if v == sentinel {
				return out
			}
			if len(v) < 9 || v[:9] != "sentinel-" {
				out = append(out, v)
			}
		}
	}
}

func TestTransactionsCommitAbortFence(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := ctxT(t)
	const topic = "txn-topic"
	if _, err := kadm.NewClient(newClient(t, b)).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, b, kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic(topic))
	run := func(prefix string, n int, commit bool) {
		t.Helper()
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end %s: %v", prefix, err)
		}
	}
	run("committed", 10, true)
	run("aborted", 7, false)
	run("again", 3, true)

	countPrefix := func(vals []string, prefix string) int {
		n := 0
		for _, v := range vals {
			if len(v) > len(prefix) && v[:len(prefix)] == prefix {
				n++
			}
		}
		return n
	}
	check := func() {
		t.Helper()
		committed := consumeAll(t, b, topic, true)
		if countPrefix(committed, "committed-") != 10 || countPrefix(committed, "again-") != 3 || countPrefix(committed, "aborted-") != 0 {
			t.Fatalf("read_committed saw %v", committed)
		}
		all := consumeAll(t, b, topic, false)
		if countPrefix(all, "aborted-") != 7 {
			t.Fatalf("read_uncommitted saw %d aborted records, want 7: %v", countPrefix(all, "aborted-"), all)
		}
	}
	check()

	// A second producer with the same transactional id fences the first.
	zombie := prod
	fresh := newClient(t, b, kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic(topic))
	if err := fresh.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.ProduceSync(ctx, kgo.StringRecord("fresh")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	err := zombie.ProduceSync(ctx, kgo.StringRecord("zombie")).FirstErr()
	if err == nil {
		err = zombie.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie producer was not fenced: %v", err)
	}
	if err := fresh.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

// The coordinator aborts a transaction past its timeout and fences its
// producer; driven by an injected clock, not by waiting.
func TestTransactionTimeoutAborts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b := startBroker(t, Transactions(txn.Config{Now: clock, AbortInterval: time.Hour}))
	ctx := ctxT(t)
	prod := newClient(t, b, kgo.TransactionalID("slow"), kgo.DefaultProduceTopic("timeouts"), kgo.TransactionTimeout(10*time.Second))
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, kgo.StringRecord("never committed")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	l, err := b.Store().Partition("timeouts", 0)
	if err != nil {
		t.Fatal(err)
	}
	if lso := l.LastStableOffset(); lso != 0 {
		t.Fatalf("lso %d with the transaction open", lso)
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	b.txn.ExpireTimedOut()
	if lso, hw := l.LastStableOffset(), l.HighWatermark(); lso != hw || hw != 2 {
		t.Fatalf("after the timeout: lso %d hw %d, want the abort marker written (2, 2)", lso, hw)
	}
	if err := prod.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("commit after the coordinator aborted the transaction succeeded")
	}
	if got := consumeAll(t, b, "timeouts", true); len(got) != 0 {
		t.Fatalf("read_committed saw %v", got)
	}
}

// Transaction state, aborted ranges and producer ids survive a restart.
func TestTransactionsSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := New(ListenAddr("127.0.0.1:0"), DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	prod := newClient(t, b, kgo.TransactionalID("durable"), kgo.DefaultProduceTopic("restart"))
	for i, commit := range []bool{true, false, true} {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("%v-%d", commit, i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	before := b.txn.Describe([]string{"durable"})[0]
	prod.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2, err := New(ListenAddr("127.0.0.1:0"), DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	after := b2.txn.Describe([]string{"durable"})[0]
	if after.ProducerID != before.ProducerID || after.ProducerEpoch != before.ProducerEpoch || after.State != before.State {
		t.Fatalf("transaction state before %+v, after restart %+v", before, after)
	}
	got := consumeAll(t, b2, "restart", true)
	if fmt.Sprint(got) != "[true-0 true-2]" {
		t.Fatalf("read_committed after restart: %v", got)
	}
	// The id's epoch moves on from the persisted one.
	prod2 := newClient(t, b2, kgo.TransactionalID("durable"), kgo.DefaultProduceTopic("restart"))
	if err := prod2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod2.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := prod2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if d := b2.txn.Describe([]string{"durable"})[0]; d.ProducerEpoch <= before.ProducerEpoch {
		t.Fatalf("epoch did not move on: %+v", d)
	}
}

func TestDescribeAndListTransactions(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := ctxT(t)
	prod := newClient(t, b, kgo.TransactionalID("described"), kgo.DefaultProduceTopic("desc"))
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, kgo.StringRecord("open")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newClient(t, b))
	ds, err := adm.DescribeTransactions(ctx, "described")
	if err != nil {
		t.Fatal(err)
	}
	d, ok := ds["described"]
	if !ok || d.Err != nil || d.State != "Ongoing" || len(d.Topics["desc"]) != 1 {
		t.Fatalf("describe: %+v", ds)
	}
	ls, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ls["described"]; !ok || len(ls) != 1 {
		t.Fatalf("list ongoing: %+v", ls)
	}
	ps, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"desc": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	active := ps.SortedProducers()
	if len(active) != 1 || active[0].ProducerID != d.ProducerID || active[0].CurrentTxnStartOffset != 0 {
		t.Fatalf("producers: %+v (coordinator says %+v)", active, d)
	}
	if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	ls, _ = adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if len(ls) != 0 {
		t.Fatalf("still ongoing after commit: %+v", ls)
	}
}

// ListOffsets answers LATEST with the last stable offset for
// read_committed and the high watermark for read_uncommitted: while a
// transaction is open the two differ (librdkafka's 0103 test,
// do_test_wmark_isolation_level).
func TestListOffsetsIsolationLevel(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	ctx := ctxT(t)
	const topic = "txn-wmark"
	adm := kadm.NewClient(newClient(t, b))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	plain := newClient(t, b, kgo.DefaultProduceTopic(topic))
	for i := range 3 {
		if err := plain.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint("plain-", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ends := func() (uncommitted, committed int64) {
		t.Helper()
		u, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = u.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := adm.ListCommittedOffsets(ctx, topic)
		if err == nil {
			err = c.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		uo, _ := u.Lookup(topic, 0)
		co, _ := c.Lookup(topic, 0)
		return uo.Offset, co.Offset
	}
	if u, c := ends(); u != 3 || c != 3 {
		t.Fatalf("before the transaction: latest %d (read_uncommitted), %d (read_committed); want 3 and 3", u, c)
	}
	prod := newClient(t, b, kgo.TransactionalID("tx-wmark"), kgo.DefaultProduceTopic(topic))
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := prod.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint("txn-", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if u, c := ends(); u != 8 || c != 3 {
		t.Fatalf("transaction open: latest %d (read_uncommitted), %d (read_committed); want 8 and 3", u, c)
	}
	if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// The commit marker takes offset 8.
	if u, c := ends(); u != 9 || c != 9 {
		t.Fatalf("after the commit: latest %d (read_uncommitted), %d (read_committed); want 9 and 9", u, c)
	}
}
