package group

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/batch"
)

// Coordinator is the group coordinator of a broker: a Core owned by one
// goroutine (run), which takes requests, write completions, loaded records
// and timer ticks from channels, one at a time, as kfake's Cluster.run and
// raft's node.run do. Blocking requests never block that goroutine: a
// JoinGroup waiting for its rebalance is a waiter inside the Core, answered
// when the Core says so, while run goes on serving everyone else.
//
// Around run: one writer goroutine per partition of __consumer_offsets
// (started on the first write to it) appends what the Core asks for,
// coalescing everything queued into one batch, so concurrent commits share
// one fsync; and a loader goroutine reads the topic at startup. Close stops
// all of them and waits.
//
// Handle is safe for concurrent use.
type Coordinator struct {
	opts Options
	st   Storage
	core *Core // owned by run
	log  *slog.Logger

	reqs    chan request
	results chan []writeResult
	loads   chan loadMsg
	txnEnds chan txnEnd

	writers []*writer // owned by run; nil until the first write

	closing   chan struct{} // closed by Close
	stopped   chan struct{} // closed when run returns
	wg        sync.WaitGroup
	closeOnce sync.Once
}

type request struct {
	cl    Client
	req   kmsg.Request
	reply chan kmsg.Response // buffered: run never blocks on it
}

type writeResult struct {
	id  uint64
	err error
}

// loadMsg carries records read by the loader, or (done) the end of loading.
type loadMsg struct {
	partition int32
	recs      []Record
	done      bool
}

// Loading reads this much of a partition at a time.
const loadReadBytes = 1 << 20

// A writer puts writes of about this many bytes into one batch, well under
// max.message.bytes (1 MiB by default); a single larger write is appended
// alone.
const maxCoalesceBytes = 512 << 10

// loadRetryInterval spaces the attempts to read __consumer_offsets after a
// read error. Groups stay COORDINATOR_LOAD_IN_PROGRESS meanwhile: serving
// them without their offsets would move consumers back to their reset
// offsets.
const loadRetryInterval = time.Second

// New starts a coordinator over st: it asks st for the partition count,
// then loads every group and committed offset in the background; until
// that is done, requests are answered COORDINATOR_LOAD_IN_PROGRESS (or what
// Kafka answers instead for that API). A nil opts means the defaults
// (opts.Partitions is ignored: st decides).
func New(st Storage, opts *Options) (*Coordinator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	n, err := st.Partitions()
	if err != nil {
		return nil, fmt.Errorf("broker/group: partitions of %s: %w", TopicName, err)
	}
	o.Partitions = n
	o.EnsureDefaults()
	core, err := NewCore(&o, o.Now())
	if err != nil {
		return nil, err
	}
	c := &Coordinator{
		opts:    o,
		st:      st,
		core:    core,
		log:     o.Logger,
		reqs:    make(chan request),
		results: make(chan []writeResult),
		loads:   make(chan loadMsg),
		txnEnds: make(chan txnEnd),
		writers: make([]*writer, n),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	c.wg.Add(2)
	go c.run()
	go c.load()
	return c, nil
}

// Partitions is the number of partitions of __consumer_offsets in use.
func (c *Coordinator) Partitions() int { return c.opts.Partitions }

// Handle serves one request of a group API (see Core.Handle) for client
// cl and returns its response. It blocks as long as the protocol says: a
// JoinGroup until its rebalance completes, an OffsetCommit until the
// offsets are durable. ctx bounds the wait; when it ends first, Handle
// returns ctx.Err() and the response, when it comes, is dropped. After
// Close, Handle returns ErrClosed. The caller must not modify req
// afterwards (see Core.Handle).
func (c *Coordinator) Handle(ctx context.Context, cl Client, req kmsg.Request) (kmsg.Response, error) {
	r := request{cl: cl, req: req, reply: make(chan kmsg.Response, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.stopped:
		return nil, ErrClosed
	}
	select {
	case resp := <-r.reply:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.stopped:
		select {
		case resp := <-r.reply:
			return resp, nil
		default:
			return nil, ErrClosed
		}
	}
}

// txnEnd is an EndTxn call on its way to the owner loop.
type txnEnd struct {
	groups []string
	pid    int64
	commit bool
	done   chan struct{}
}

// EndTxn applies (commit) or drops the offsets producer pid committed in
// its transaction for groups (TxnOffsetCommit). The transaction
// coordinator calls it once the transaction's markers are durable; it
// returns once OffsetFetch shows the result (or, while loading, once the
// call is queued to run when loading ends), or when the coordinator closes.
func (c *Coordinator) EndTxn(groups []string, pid int64, commit bool) {
	e := txnEnd{groups, pid, commit, make(chan struct{})}
	select {
	case c.txnEnds <- e:
		<-e.done
	case <-c.closing:
	}
}

// Close shuts the coordinator down: requests waiting (joins, syncs) are
// answered COORDINATOR_NOT_AVAILABLE, so that clients find the
// coordinator again (after a restart, they find their groups and offsets
// there); writes in progress finish and are answered; then every goroutine
// has returned. Later requests get ErrClosed. Close is idempotent.
func (c *Coordinator) Close() {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.wg.Wait()
	})
}

// run is the owner loop: the only goroutine touching c.core.
func (c *Coordinator) run() {
	defer c.wg.Done()
	defer close(c.stopped)
	var (
		waiting     = map[uint64]chan kmsg.Response{}
		nextID      uint64
		outstanding int // writes handed to writers, not yet completed
		closing     = c.closing
		shutdown    bool
		timer       = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	for {
		rd := c.core.Ready()
		for _, r := range rd.Replies {
			if ch, ok := waiting[r.ID]; ok {
				ch <- r.Resp
				delete(waiting, r.ID)
			}
		}
		for _, w := range rd.Writes {
			outstanding++
			c.writer(w.Partition).enqueue(w)
		}
		if shutdown && outstanding == 0 {
			// Every request was answered: those waiting by
			// Shutdown, those writing as their writes completed.
			return
		}
		if t, ok := c.core.NextDeadline(); ok {
			timer.Reset(max(time.Until(t), 0))
		} else {
			timer.Stop()
		}

		select {
		case r := <-c.reqs:
			nextID++
			waiting[nextID] = r.reply
			c.core.Advance(c.opts.Now())
			c.core.Handle(nextID, r.cl, r.req)
		case results := <-c.results:
			c.core.Advance(c.opts.Now())
			for _, res := range results {
				outstanding--
				c.core.WriteDone(res.id, res.err)
			}
		case m := <-c.loads:
			if m.done {
				c.core.Advance(c.opts.Now())
				c.core.FinishLoad()
				continue
			}
			for _, rec := range m.recs {
				if err := c.core.ReplayRecord(m.partition, rec); err != nil {
					c.log.Warn("group coordinator: skipping a record of "+TopicName, "err", err)
				}
			}
		case e := <-c.txnEnds:
			c.core.EndTxn(e.groups, e.pid, e.commit)
			close(e.done)
		case <-timer.C:
			c.core.Advance(c.opts.Now())
		case <-closing:
			closing, shutdown = nil, true
			c.core.Shutdown()
		}
	}
}

// writer appends the writes of one partition, in order.
type writer struct {
	p    int32
	mu   sync.Mutex
	q    []Write
	wake chan struct{}
}

// writer returns the writer of partition p, starting it on first use.
// REQUIRES: called from run.
func (c *Coordinator) writer(p int32) *writer {
	if w := c.writers[p]; w != nil {
		return w
	}
	w := &writer{p: p, wake: make(chan struct{}, 1)}
	c.writers[p] = w
	c.wg.Add(1)
	go c.writeLoop(w)
	return w
}

func (w *writer) enqueue(x Write) {
	w.mu.Lock()
	w.q = append(w.q, x)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// writeLoop appends queued writes until the coordinator stops. run stops
// only once every write it handed out has completed, so sending a result
// never blocks past that.
func (c *Coordinator) writeLoop(w *writer) {
	defer c.wg.Done()
	for {
		select {
		case <-w.wake:
		case <-c.stopped:
			return
		}
		w.mu.Lock()
		q := w.q
		w.q = nil
		w.mu.Unlock()
		if len(q) == 0 {
			continue
		}
		results := c.appendWrites(w.p, q)
		select {
		case c.results <- results:
		case <-c.stopped:
			return
		}
	}
}

// appendWrites appends q to partition p, several writes to a batch, and
// returns each write's outcome.
func (c *Coordinator) appendWrites(p int32, q []Write) []writeResult {
	results := make([]writeResult, 0, len(q))
	for len(q) > 0 {
		n, size := 0, 0
		for n < len(q) {
			s := writeSize(q[n])
			if n > 0 && (size+s > maxCoalesceBytes || q[n].Producer != nil || q[0].Producer != nil) {
				break // a transactional write is a batch of its own
			}
			size += s
			n++
		}
		err := c.appendBatch(p, q[:n], q[0].Producer)
		for _, w := range q[:n] {
			results = append(results, writeResult{id: w.ID, err: err})
		}
		q = q[n:]
	}
	return results
}

func writeSize(w Write) int {
	n := 0
	for _, r := range w.Records {
		n += len(r.Key) + len(r.Value) + 24
	}
	return n
}

func (c *Coordinator) appendBatch(p int32, ws []Write, producer *Producer) error {
	b := batch.NewBuilder(batch.CodecNone)
	if producer != nil {
		b.SetProducer(producer.ID, producer.Epoch, -1).SetTransactional(true)
	}
	ts := c.opts.Now().UnixMilli()
	for _, w := range ws {
		for _, r := range w.Records {
			b.Add(r.Key, r.Value, ts)
		}
	}
	data, err := b.Build()
	if err != nil {
		return fmt.Errorf("broker/group: build a batch: %w", err)
	}
	if err := c.st.Append(p, data); err != nil {
		return fmt.Errorf("broker/group: append to %s-%d: %w", TopicName, p, err)
	}
	return nil
}

// load reads every partition of __consumer_offsets from its start and
// hands the records to run, then reports the end of loading.
func (c *Coordinator) load() {
	defer c.wg.Done()
	start := time.Now()
	total := 0
	for p := int32(0); p < int32(c.opts.Partitions); p++ {
		var off int64
		for {
			data, hw, err := c.st.Read(p, off, loadReadBytes)
			if err != nil {
				c.log.Error("group coordinator: reading "+TopicName+" failed; groups stay loading, retrying",
					"partition", p, "offset", off, "err", err)
				select {
				case <-c.closing:
					return
				case <-time.After(loadRetryInterval):
				}
				continue
			}
			recs, next, err := decodeBatches(data)
			if err != nil {
				c.log.Error("group coordinator: undecodable batch in "+TopicName+"; the rest of the partition is skipped",
					"partition", p, "offset", off, "err", err)
			}
			if len(recs) > 0 {
				total += len(recs)
				select {
				case c.loads <- loadMsg{partition: p, recs: recs}:
				case <-c.closing:
					return
				}
			}
			if err != nil || next <= off || next >= hw {
				break
			}
			off = next
		}
	}
	c.log.Info("group coordinator: "+TopicName+" read", "partitions", c.opts.Partitions, "records", total, "duration", time.Since(start))
	select {
	case c.loads <- loadMsg{done: true}:
	case <-c.closing:
	}
}

// decodeBatches returns the records of the batches in data (control
// batches skipped) and the offset after the last batch.
func decodeBatches(data []byte) ([]Record, int64, error) {
	var recs []Record
	var next int64
	for pos := 0; pos < len(data); {
		h, size, err := batch.Check(data[pos:], 0)
		if err != nil {
			return recs, next, err
		}
		b := data[pos : pos+size]
		pos += size
		next = h.LastOffset() + 1
		rs, err := batch.Records(b, &h)
		if err != nil {
			return recs, next, err
		}
		if h.IsControl() {
			if len(rs) == 1 && len(rs[0].Key) >= 4 {
				commit := binary.BigEndian.Uint16(rs[0].Key[2:]) == 1
				recs = append(recs, Record{Marker: &Marker{ProducerID: h.ProducerID, Commit: commit}})
			}
			continue
		}
		var producer *Producer
		if h.IsTransactional() {
			producer = &Producer{ID: h.ProducerID, Epoch: h.ProducerEpoch}
		}
		for _, r := range rs {
			recs = append(recs, Record{Key: r.Key, Value: r.Value, Producer: producer})
		}
	}
	return recs, next, nil
}
