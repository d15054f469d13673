package broker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/group"
	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
	"github.com/runnel-io/runnel/broker/txn"
)

// Broker is a Kafka-protocol broker serving the topics of one data
// directory. Create it with New; it serves until Close.
type Broker struct {
	cfg    cfg
	ln     net.Listener
	addr   string
	store  *store.Store
	txn    *txn.Coordinator
	groups *group.Coordinator // consumer groups and committed offsets
	log    *slog.Logger
	done   chan struct{} // closed when shutdown starts

	mu struct {
		sync.Mutex
		conns   map[*clientConn]struct{}
		closing bool
	}
	wg        sync.WaitGroup // the accept loop and every connection
	closeOnce sync.Once
	closeErr  error
}

// clientConn is one client connection. Requests on it are served one at a
// time, in order, as Kafka does.
type clientConn struct {
	b        *Broker
	nc       net.Conn
	remote   string
	clientID string
}

// New starts a broker: it opens the data directory and listens.
func New(opts ...Opt) (*Broker, error) {
	c := defaultCfg()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	so := c.storeOpts
	if so == nil {
		so = store.DefaultOptions()
	}
	if so.Logger == nil {
		so.Logger = c.logger
	}
	st, err := store.Open(c.dataDir, so)
	if err != nil {
		return nil, err
	}
	b := &Broker{cfg: c, store: st, log: c.logger, done: make(chan struct{})}
	tc := c.txnCfg
	tc.Dir, tc.Logger = c.dataDir, c.logger
	// The group coordinator first: the transaction coordinator completes
	// interrupted transactions at startup, which may carry offsets.
	gopts := c.groupOptions()
	gopts.PartitionExists = b.partitionExists
	if b.groups, err = group.New(&offsetsTopic{st: st, partitions: c.offsetsPartitions}, gopts); err != nil {
		st.Close()
		return nil, err
	}
	if b.txn, err = txn.Open(tc, txnLogs{b}, txnGroups{b}); err != nil {
		b.groups.Close()
		st.Close()
		return nil, err
	}
	if b.ln, err = net.Listen("tcp", c.listen); err != nil {
		b.groups.Close()
		b.txn.Close()
		st.Close()
		return nil, fmt.Errorf("broker: listen on %s: %w", c.listen, err)
	}
	ln := b.ln
	b.mu.conns = map[*clientConn]struct{}{}
	b.addr = ln.Addr().String()
	if c.advertised != "" {
		b.addr = c.advertised
	}
	b.wg.Add(1)
	go b.accept()
	b.log.Info("broker listening", "addr", ln.Addr().String(), "advertised", b.addr, "data_dir", c.dataDir)
	return b, nil
}

// Store is the data directory the broker serves.
func (b *Broker) Store() *store.Store { return b.store }

// Addr is the advertised host:port.
func (b *Broker) Addr() string { return b.addr }

func (b *Broker) accept() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			b.log.Warn("accept failed", "err", err)
			select {
			case <-b.done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		c := &clientConn{b: b, nc: nc, remote: nc.RemoteAddr().String()}
		b.mu.Lock()
		if b.mu.closing {
			b.mu.Unlock()
			nc.Close()
			return
		}
		b.mu.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		go c.serve()
	}
}

// serve reads and answers requests until the client leaves, sends
// something unparsable, or the broker shuts down.
func (c *clientConn) serve() {
	b := c.b
	defer b.wg.Done()
	defer func() {
		c.nc.Close()
		b.mu.Lock()
		delete(b.mu.conns, c)
		b.mu.Unlock()
	}()
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var in, out []byte
	for {
		frame, err := readFrame(r, in, b.cfg.maxRequestBytes)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
				b.log.Info("closing connection", "remote", c.remote, "client_id", c.clientID, "err", err)
			}
			return
		}
		in = frame
		hdr, req, err := parseRequest(frame)
		var resp kmsg.Response
		switch {
		case err == nil:
			if hdr.clientID != nil {
				c.clientID = *hdr.clientID
			}
			if resp, err = c.handle(hdr.key, req); err != nil {
				b.log.Error("closing connection: handler failed", "remote", c.remote, "client_id", c.clientID,
					"api", kmsg.NameForKey(hdr.key), "version", hdr.version, "err", err)
				return
			}
		case errors.Is(err, errUnknownKey) && hdr.key == int16(kmsg.ApiVersions):
			resp = unsupportedVersionsResponse()
		default:
			b.log.Info("closing connection", "remote", c.remote, "client_id", c.clientID, "err", err)
			return
		}
		if resp == nil {
			continue
		}
		out = appendResponse(out[:0], hdr.correlationID, resp)
		if _, err := c.nc.Write(out); err != nil {
			return
		}
	}
}

// handle runs the handler of key. A panic in it (a bug) is returned as an
// error with its stack, and costs that client its connection, not the
// broker its other clients.
func (c *clientConn) handle(key int16, req kmsg.Request) (resp kmsg.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return handlerFor(key).fn(c.b, c, req), nil
}

// Done is closed when the broker starts shutting down; long waits in
// handlers (fetch long polls) select on it.
func (b *Broker) Done() <-chan struct{} { return b.done }

// Close shuts the broker down gracefully: it stops accepting, stops the
// group coordinator (requests waiting for a rebalance are answered
// COORDINATOR_NOT_AVAILABLE), lets the request in flight on each connection
// finish (up to ShutdownTimeout), closes the connections, then flushes and
// checkpoints the logs. It is idempotent and returns the first error of the
// first call.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		close(b.done)
		b.mu.Lock()
		b.mu.closing = true
		b.ln.Close()
		for c := range b.mu.conns {
			// Unblocks a connection waiting for its next request; one
			// inside a handler finishes it first.
			c.nc.SetReadDeadline(time.Now())
		}
		b.mu.Unlock()
		// Requests waiting in the coordinator (a JoinGroup waits for
		// its rebalance) are answered now; offset writes in progress
		// finish first.
		b.groups.Close()

		waited := make(chan struct{})
		go func() { b.wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(b.cfg.shutdownTimeout):
			b.mu.Lock()
			for c := range b.mu.conns {
				c.nc.Close()
			}
			b.mu.Unlock()
			<-waited
		}
		b.txn.Close()
		b.closeErr = b.store.Close()
	})
	return b.closeErr
}

// txnLogs gives the transaction coordinator its logs.
type txnLogs struct{ b *Broker }

func (a txnLogs) StateLog(p int32) (*log.Log, error) {
	return a.b.internalTopic(txn.StateTopic, int(a.b.cfg.txnCfg.StatePartitions), p)
}

func (a txnLogs) Partition(topic string, p int32) (*log.Log, error) { return a.b.partition(topic, p) }

// internalTopic returns partition p of an internal compacted topic,
// creating the topic with n partitions on first use.
func (b *Broker) internalTopic(name string, n int, p int32) (*log.Log, error) {
	if _, err := b.store.Topic(name); errors.Is(err, store.ErrUnknownTopic) {
		if _, err := b.store.CreateTopic(name, max(n, 1), map[string]string{"cleanup.policy": "compact"}); err != nil && !errors.Is(err, store.ErrTopicExists) {
			return nil, err
		}
	}
	return b.partition(name, p)
}
