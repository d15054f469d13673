package broker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker/txn"
)

// eosWorker runs franz-go's GroupTransactSession over in -> out: every
// record it consumes is produced again as "out-<value>" in the same
// transaction that commits the consumed offsets. Every fourth transaction
// is aborted instead, so its records are consumed and produced again.
func eosWorker(ctx context.Context, t *testing.T, b *Broker, id int, in, out string, committedTxns *int64, mu *sync.Mutex) (*kgo.GroupTransactSession, func()) {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(b.Addr()),
		kgo.TransactionalID(fmt.Sprintf("eos-worker-%d", id)),
		kgo.ConsumerGroup("eos-group"),
		kgo.ConsumeTopics(in),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic(out),
		// A worker closed mid-transaction leaves it open until the
		// coordinator aborts it at this timeout (then the LSO moves on).
		kgo.TransactionTimeout(2*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for txn := 0; ctx.Err() == nil; {
			fs := sess.PollRecords(ctx, 25)
			if fs.IsClientClosed() || ctx.Err() != nil {
				return
			}
			recs := fs.Records()
			if len(recs) == 0 {
				continue
			}
			if err := sess.Begin(); err != nil {
				t.Errorf("worker %d: begin: %v", id, err)
				return
			}
			for _, r := range recs {
				sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: []byte("out-" + string(r.Value))}, nil)
			}
			commit := txn%4 != 1
			txn++
			// Send the records before deciding, so that aborted ones
			// reach the log and read_committed must filter them.
			if err := sess.Client().Flush(ctx); err != nil && ctx.Err() == nil {
				t.Logf("worker %d: flush: %v", id, err)
			}
			committed, err := sess.End(ctx, kgo.TransactionEndTry(commit))
			if err != nil && ctx.Err() == nil {
				// A rebalance can fail the commit; the session aborts and
				// the records are consumed again.
				t.Logf("worker %d: end: %v", id, err)
			}
			if committed {
				mu.Lock()
				*committedTxns++
				mu.Unlock()
			}
		}
	}()
	return sess, func() { sess.Close(); <-done }
}

// TestExactlyOnceConsumeTransformProduce: franz-go's GroupTransactSession
// against runnel gives exactly-once: with aborted transactions and a worker
// closed mid-stream (possibly mid-transaction, which the coordinator then
// aborts at the transaction timeout), a read_committed reader of the output
// sees every input record transformed exactly once.
func TestExactlyOnceConsumeTransformProduce(t *testing.T) {
	t.Parallel()
	b := startBroker(t, GroupInitialRebalanceDelay(0), Transactions(txn.Config{AbortInterval: 50 * time.Millisecond}))
	ctx := ctxT(t)
	const in, out, n = "eos-in", "eos-out", 600
	adm := kadm.NewClient(newClient(t, b))
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, in); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, out); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, b, kgo.DefaultProduceTopic(in))
	for i := 0; i < n; i++ {
		prod.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 17)), Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var txns int64
	_, stopA := eosWorker(wctx, t, b, 1, in, out, &txns, &mu)
	_, stopB := eosWorker(wctx, t, b, 2, in, out, &txns, &mu)

	// Read the output as it is committed; stop worker 1 once a third is
	// through, so worker 2 takes its partitions over mid-stream.
	reader := newClient(t, b, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	seen := map[string]int{}
	stoppedA := false
	for len(seen) < n {
		fs := reader.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading the output: %v (seen %d of %d)", err, len(seen), n)
		}
		for _, r := range fs.Records() {
			seen[string(r.Value)]++
		}
		if !stoppedA && len(seen) > n/3 {
			stopA()
			stoppedA = true
		}
	}
	cancel()
	stopB()
	if !stoppedA {
		stopA()
	}
	// Everything is decided now; read the whole output once more.
	final := consumeAll(t, b, out, true)
	counts := map[string]int{}
	for _, v := range final {
		counts[v]++
	}
	for i := 0; i < n; i++ {
		if c := counts["out-"+strconv.Itoa(i)]; c != 1 {
			t.Errorf("output of record %d seen %d times", i, c)
		}
	}
	if len(final) != n {
		t.Errorf("read_committed output holds %d records, want %d", len(final), n)
	}
	all := consumeAll(t, b, out, false)
	t.Logf("%d committed transactions; the output log holds %d records in all (aborted ones included)", txns, len(all))
	if len(all) <= n {
		t.Errorf("no transaction was aborted (%d records in the log): the test did not exercise aborts", len(all))
	}
}
