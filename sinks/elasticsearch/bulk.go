package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// indexer sends the Sink's document actions in bulk requests, as
// esutil.BulkIndexer would (esutil imports the go-elasticsearch client
// package, see client; and its NewBulkIndexer links esapi.New). It has
// Workers goroutines, each
// filling a buffer of its own and sending it when the next action would
// take it past FlushBytes, when FlushInterval passed since its last
// request, at Flush and at Close. Add, Flush and Close are called by one
// goroutine at a time (the Sink's, under Sink.mu), and none after Close.
type indexer struct {
	cl         esapi.Transport
	flushBytes int
	interval   time.Duration
	// done is told the outcome of every action added, from the workers:
	// res is nil on success (status 200 or 201), err is set when there is
	// no result for the action (the request failed). It must be safe for
	// concurrent use.
	done func(it *item, res *bulkItemResult, err error)

	workers []*bulkWorker
	next    atomic.Uint64 // round robin of Add
	wg      sync.WaitGroup
	// ctx is that of the requests; Close cancels it when it gives up.
	ctx    context.Context
	cancel context.CancelFunc
}

// bulkWorker sends one buffer of actions at a time. Its fields but ops are
// owned by its goroutine.
type bulkWorker struct {
	ix    *indexer
	ops   chan indexerOp
	buf   []byte  // the body of the next request
	items []*item // its actions, in order
	meta  []byte  // scratch of add
	resp  bulkResponse
}

// indexerOp is what a worker is handed: an action, or with flushed set, a
// request to send its buffer and close flushed.
type indexerOp struct {
	it      *item
	flushed chan struct{}
}

// newIndexer starts the workers of an indexer.
func newIndexer(cl esapi.Transport, cfg Config, done func(*item, *bulkItemResult, error)) *indexer {
	ix := &indexer{cl: cl, flushBytes: cfg.FlushBytes, interval: cfg.FlushInterval, done: done}
	ix.ctx, ix.cancel = context.WithCancel(context.Background())
	ix.workers = make([]*bulkWorker, cfg.Workers)
	for i := range ix.workers {
		w := &bulkWorker{ix: ix, ops: make(chan indexerOp, 1)}
		ix.workers[i] = w
		ix.wg.Add(1)
		go w.run()
	}
	return ix
}

// Add hands it to a worker: the next in turn, or another whose queue has
// room, or else it waits for the next in turn until ctx is done.
func (ix *indexer) Add(ctx context.Context, it *item) error {
	n := ix.next.Add(1)
	for i := range ix.workers {
		select {
		case ix.workers[(n+uint64(i))%uint64(len(ix.workers))].ops <- indexerOp{it: it}:
			return nil
		default:
		}
	}
	select {
	case ix.workers[n%uint64(len(ix.workers))].ops <- indexerOp{it: it}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush has every worker send its buffer, and waits for the outcomes of
// all the actions added before it, or for ctx.
func (ix *indexer) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	flushed := make([]chan struct{}, len(ix.workers))
	for i, w := range ix.workers {
		flushed[i] = make(chan struct{})
		select {
		case w.ops <- indexerOp{flushed: flushed[i]}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, f := range flushed {
		select {
		case <-f:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close has the workers send their buffers and waits for them to stop. If
// ctx is done first, it cancels their requests and returns ctx's error;
// they stop soon after.
func (ix *indexer) Close(ctx context.Context) error {
	for _, w := range ix.workers {
		close(w.ops)
	}
	stopped := make(chan struct{})
	go func() {
		ix.wg.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		ix.cancel()
		return nil
	case <-ctx.Done():
		ix.cancel()
		return ctx.Err()
	}
}

func (w *bulkWorker) run() {
	defer w.ix.wg.Done()
	tick := time.NewTicker(w.ix.interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			w.send()
		case op, ok := <-w.ops:
			switch {
			case !ok:
				w.send()
				return
			case op.flushed != nil:
				w.send()
				close(op.flushed)
				tick.Reset(w.ix.interval)
			default:
				if w.add(op.it) {
					tick.Reset(w.ix.interval)
				}
			}
		}
	}
}

// add appends the lines of it to the buffer, sending the buffer first if
// they would take it past FlushBytes, and after if it reached FlushBytes.
// It reports whether it sent a request.
func (w *bulkWorker) add(it *item) (sent bool) {
	w.meta = appendActionMeta(w.meta[:0], it)
	n := len(w.meta)
	if it.action == actionIndex {
		n += len(it.body) + 1
	}
	if len(w.buf) > 0 && len(w.buf)+n > w.ix.flushBytes {
		w.send()
		sent = true
	}
	w.buf = append(w.buf, w.meta...)
	if it.action == actionIndex {
		w.buf = append(w.buf, it.body...)
		w.buf = append(w.buf, '\n')
	}
	w.items = append(w.items, it)
	if len(w.buf) >= w.ix.flushBytes {
		w.send()
		sent = true
	}
	return sent
}

// appendActionMeta appends the action and metadata line of it. Ids and
// index names are printable UTF-8 (checked by Write): strconv's quoting
// is JSON's for them.
func appendActionMeta(b []byte, it *item) []byte {
	b = append(b, `{"`...)
	b = append(b, it.action...)
	b = append(b, `":{"_id":`...)
	b = strconv.AppendQuote(b, it.id)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, it.version, 10)
	b = append(b, `,"version_type":`...)
	b = strconv.AppendQuote(b, it.vtype)
	b = append(b, `,"_index":`...)
	b = strconv.AppendQuote(b, it.index)
	return append(b, "}}\n"...)
}

// send sends the buffer in a bulk request, if it holds anything, and
// tells done the outcome of each of its actions.
func (w *bulkWorker) send() {
	if len(w.items) == 0 {
		return
	}
	err := w.request()
	for i, it := range w.items {
		switch {
		case err != nil:
			w.ix.done(it, nil, err)
		case i >= len(w.resp.Items):
			w.ix.done(it, nil, fmt.Errorf("bulk response: %d results for %d actions", len(w.resp.Items), len(w.items)))
		default:
			var res bulkItemResult
			found := false
			for _, res = range w.resp.Items[i] {
				found = true
				break
			}
			switch {
			case !found:
				w.ix.done(it, nil, fmt.Errorf("bulk response: result %d names no action", i))
			case res.Error.Type != "" || res.Status > 201:
				w.ix.done(it, &res, nil)
			default:
				w.ix.done(it, nil, nil)
			}
		}
	}
	clear(w.items)
	w.items = w.items[:0]
	clear(w.resp.Items)
	w.resp.Items = w.resp.Items[:0]
	w.buf = w.buf[:0]
	if cap(w.buf) > 2*w.ix.flushBytes {
		w.buf = nil // grown by an action larger than FlushBytes
	}
}

// request sends the buffer and decodes the response into w.resp.
func (w *bulkWorker) request() error {
	req := esapi.BulkRequest{
		Body:    bytes.NewReader(w.buf),
		Refresh: "false",
		// What esutil.BulkIndexer adds to the client's meta header.
		Header: http.Header{headerClientMeta: {"h=bp"}},
	}
	res, err := req.Do(w.ix.ctx, w.ix.cl)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.IsError() {
		return errors.New(res.String())
	}
	if err := decodeBulk(res.Body, &w.resp); err != nil {
		return fmt.Errorf("bulk response: %w", err)
	}
	return nil
}
