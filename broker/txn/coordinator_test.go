package txn

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/internal/kafkahash"
	"github.com/runnel-io/runnel/broker/log"
)

// testLogs keeps real partition logs in a temp dir.
type testLogs struct {
	dir  string
	mu   sync.Mutex
	logs map[string]*log.Log
}

func newTestLogs(t *testing.T, dir string) *testLogs {
	tl := &testLogs{dir: dir, logs: map[string]*log.Log{}}
	t.Cleanup(tl.close)
	return tl
}

func (tl *testLogs) open(topic string, p int32) (*log.Log, error) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	name := fmt.Sprintf("%s-%d", topic, p)
	if l := tl.logs[name]; l != nil {
		return l, nil
	}
	l, err := log.Open(filepath.Join(tl.dir, name), &log.Options{RetentionMs: -1})
	if err == nil {
		tl.logs[name] = l
	}
	return l, err
}

func (tl *testLogs) StateLog(p int32) (*log.Log, error)                { return tl.open(StateTopic, p) }
func (tl *testLogs) Partition(topic string, p int32) (*log.Log, error) { return tl.open(topic, p) }

func (tl *testLogs) close() {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, l := range tl.logs {
		l.Close()
	}
	tl.logs = map[string]*log.Log{}
}

// recGroups records the group callbacks.
type recGroups struct {
	mu    sync.Mutex
	calls []string
}

func (g *recGroups) OffsetsTopic() string                { return "__consumer_offsets" }
func (g *recGroups) OffsetsPartition(group string) int32 { return kafkahash.Partition(group, 3) }
func (g *recGroups) EndTxn(groups []string, pid int64, epoch int16, commit bool) {
	g.mu.Lock()
	g.calls = append(g.calls, fmt.Sprintf("%v %d/%d %v", groups, pid, epoch, commit))
	g.mu.Unlock()
}

func txnBatch(t *testing.T, pid int64, epoch int16, seq int32) []byte {
	t.Helper()
	b, err := batch.NewBuilder(batch.CodecNone).SetProducer(pid, epoch, seq).SetTransactional(true).Add(nil, []byte("v"), 1).Build()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCoordinatorLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs, groups := newTestLogs(t, dir), &recGroups{}
	c, err := Open(Config{Dir: dir}, logs, groups)
	if err != nil {
		t.Fatal(err)
	}
	// Idempotent producers get distinct ids.
	a, _, _ := c.InitProducerID(nil, 0, -1, -1)
	b, _, _ := c.InitProducerID(nil, 0, -1, -1)
	if a == b {
		t.Fatalf("two idempotent producers got id %d", a)
	}
	id := "app-1"
	if _, _, err := c.InitProducerID(&id, time.Minute, -1, -1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.InitProducerID(&id, time.Hour, -1, -1); !errors.Is(err, kerr.InvalidTransactionTimeout) {
		t.Fatalf("timeout above the max: %v", err)
	}
	pid, epoch, _ := c.InitProducerID(&id, time.Minute, -1, -1) // epoch bump
	if err := c.EndTxn(id, pid, epoch, true); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("commit with no transaction: %v", err)
	}
	parts := []TopicPartition{{"orders", 0}, {"orders", 1}}
	res, err := c.AddPartitions(id, pid, epoch, parts)
	if err != nil || res[parts[0]] != nil || res[parts[1]] != nil {
		t.Fatalf("add partitions: %v %v", res, err)
	}
	if err := c.AddOffsets(id, pid, epoch, "g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPartitions(id, pid, epoch-1, parts); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("old epoch: %v", err)
	}
	if _, err := c.AddPartitions(id, pid+100, epoch, parts); !errors.Is(err, kerr.InvalidProducerIDMapping) {
		t.Fatalf("wrong producer: %v", err)
	}
	l0, _ := logs.Partition("orders", 0)
	if _, err := l0.Append(txnBatch(t, pid, epoch, 0)); err != nil {
		t.Fatal(err)
	}
	if lso := l0.LastStableOffset(); lso != 0 {
		t.Fatalf("lso %d while the transaction is open", lso)
	}
	if err := c.EndTxn(id, pid, epoch, true); err != nil {
		t.Fatal(err)
	}
	if err := c.EndTxn(id, pid, epoch, true); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	if err := c.EndTxn(id, pid, epoch, false); !errors.Is(err, kerr.InvalidTxnState) {
		t.Fatalf("abort after commit: %v", err)
	}
	if lso, hw := l0.LastStableOffset(), l0.HighWatermark(); lso != 2 || hw != 2 {
		t.Fatalf("after commit: lso %d hw %d, want 2 2 (record + marker)", lso, hw)
	}
	l1, _ := logs.Partition("orders", 1)
	if _, _, end := l1.Offsets(); end != 1 {
		t.Fatalf("partition 1 has no marker: end %d", end)
	}
	if fmt.Sprint(groups.calls) != fmt.Sprintf("[[g1] %d/%d true]", pid, epoch) {
		t.Fatalf("group calls %v", groups.calls)
	}
	d := c.Describe([]string{id, "nope"})
	if d[0].State != kmsg.TransactionStateCompleteCommit || !d[1].NotFound {
		t.Fatalf("describe %+v", d)
	}
	c.Close()
}

// A transaction left in PrepareCommit by a crash is completed at startup,
// and ids are never handed out twice across restarts.
func TestCoordinatorCompletesAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs := newTestLogs(t, dir)
	c, err := Open(Config{Dir: dir}, logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := "app"
	pid, epoch, _ := c.InitProducerID(&id, time.Minute, -1, -1)
	p := TopicPartition{"t", 0}
	if _, err := c.AddPartitions(id, pid, epoch, []TopicPartition{p}); err != nil {
		t.Fatal(err)
	}
	l, _ := logs.Partition("t", 0)
	l.Append(txnBatch(t, pid, epoch, 0))
	// Crash between the decision and the markers.
	tx := c.get(id, false)
	tx.mu.Lock()
	if err := c.prepare(tx, true); err != nil {
		t.Fatal(err)
	}
	tx.mu.Unlock()
	c.Close()
	logs.close()

	c2, err := Open(Config{Dir: dir}, logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if d := c2.Describe([]string{id})[0]; d.State != kmsg.TransactionStateCompleteCommit || d.ProducerID != pid {
		t.Fatalf("after restart: %+v", d)
	}
	l, _ = logs.Partition("t", 0)
	if lso, hw := l.LastStableOffset(), l.HighWatermark(); lso != 2 || hw != 2 {
		t.Fatalf("marker not written at startup: lso %d hw %d", lso, hw)
	}
	seen := map[int64]bool{pid: true}
	for i := 0; i < 5; i++ {
		id, _, err := c2.InitProducerID(nil, 0, -1, -1)
		if err != nil || seen[id] {
			t.Fatalf("producer id %d reused (%v)", id, err)
		}
		seen[id] = true
	}
}
