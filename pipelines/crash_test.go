//go:build unix

package pipelines_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/proctest"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/broker/txn"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
)

// The kill tests run pipelines in child processes against a broker in the
// test process, kill the children with SIGKILL at random moments while
// input keeps arriving, start them again, and check that the output holds
// every input exactly once. Some runs are stopped with SIGTERM instead,
// while busy: they must commit and exit 0. A child is this test binary
// re-executed to run only TestPipelineChild, configured by the
// environment.

const (
	childKindEnv     = "RUNNEL_PIPELINE_CHILD"      // the pipeline: childPages or childUpper; set only in the child
	childBrokerEnv   = "RUNNEL_PIPELINE_BROKER"     // the broker's address
	childDirEnv      = "RUNNEL_PIPELINE_DIR"        // the file sink's directory (childPages)
	childInstanceEnv = "RUNNEL_PIPELINE_INSTANCE"   // Options.InstanceID
	crashSeedEnv     = "RUNNEL_PIPELINE_CRASH_SEED" // reruns the kill tests with a logged seed
	// crashLogsEnv names a directory where a failed kill test writes the
	// whole stderr of every child and the content of the file sink's
	// directory (the test log only shows the end of the last children's).
	crashLogsEnv = "RUNNEL_PIPELINE_CRASH_LOGS"

	childPages = "pages" // clicks → KeyBy(page) → hopping count → files (pageCounts)
	childUpper = "upper" // in → upper case → out, in transactions

	crashKills     = 20 // SIGKILLs per kill test
	crashStopEvery = 5  // one run in crashStopEvery is stopped with SIGTERM instead
	// A run is killed or stopped crashKillMin plus up to crashKillSpread
	// after it starts or, one time in two, after it got its tasks.
	crashKillMin    = 100 * time.Millisecond
	crashKillSpread = 500 * time.Millisecond

	crashCheckpoint = 50 * time.Millisecond
	// Short group sessions and transactions, so that the failover test
	// does not wait for Kafka's defaults; heartbeats well inside the
	// session (franz-go's default interval, 3s, is not).
	crashSession    = 3 * time.Second
	crashHeartbeat  = 200 * time.Millisecond
	crashTxnTimeout = 5 * time.Second

	// The producers write crashBatch records, then wait crashPause.
	crashBatch = 10
	crashPause = 10 * time.Millisecond
	// Event time between two clicks, ms.
	crashTick = 20
	// Pages, the keys of the windows: with 12, every partition of the
	// repartition topic gets some, with 3 partitions or 4.
	crashPages = 12
)

// crashOptions are the options of a child's pipeline.
func crashOptions(addr, instance string, logger *slog.Logger) pipelines.Options {
	return pipelines.Options{
		Brokers:            []string{addr},
		CheckpointInterval: crashCheckpoint,
		InstanceID:         instance,
		SessionTimeout:     crashSession,
		ClientOptions:      []kgo.Opt{kgo.HeartbeatInterval(crashHeartbeat), kgo.TransactionTimeout(crashTxnTimeout)},
		Logger:             logger,
	}
}

// upperValues declares in → upper case → out.
func upperValues(p *pipelines.Pipeline) {
	in := pipelines.FromTopic(p, "in", engine.String(), engine.String())
	up := engine.Map(in, func(r engine.Record[string, string]) (string, error) { return strings.ToUpper(r.Value), nil })
	pipelines.ToTopic(up, "out", engine.String(), engine.String())
}

// TestPipelineChild is the child of the kill tests: it runs the pipeline
// childKindEnv names until SIGTERM, then exits 0. An error exits 2. It
// logs at debug level, with the stages' stats every second.
func TestPipelineChild(t *testing.T) {
	kind := os.Getenv(childKindEnv)
	if kind == "" {
		t.Skip("helper process of the kill tests; runs only with " + childKindEnv + " set")
	}
	// The parent holds our stdin open: EOF means it is gone, and an
	// orphan must not keep running.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		childFail("stdin closed: the parent is gone")
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	// The parent waits for this line before it sends SIGTERM: a signal
	// that came before the handler would kill the child (on a loaded
	// machine the test binary takes a while to get here).
	fmt.Fprintln(os.Stderr, childReady)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := crashOptions(os.Getenv(childBrokerEnv), os.Getenv(childInstanceEnv), logger)
	var p *pipelines.Pipeline
	switch kind {
	case childPages:
		p = pipelines.New("pages", opts)
		pageCounts(p, os.Getenv(childDirEnv))
	case childUpper:
		p = pipelines.New("upper", opts)
		upperValues(p)
	default:
		childFail("unknown pipeline %q", kind)
	}
	go func() {
		for range time.Tick(time.Second) {
			for i, st := range p.Stats() {
				logger.Debug("stats", "stage", i, "stats", fmt.Sprintf("%+v", st))
			}
		}
	}()
	if err := p.Run(ctx); err != nil {
		childFail("run: %v", err)
	}
	fmt.Fprintln(os.Stderr, "pipeline child: stopped cleanly")
}

func childFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pipeline child: "+format+"\n", args...)
	os.Exit(2)
}

// TestKillWindowToFile kills the process running clicks → KeyBy(page) →
// hopping count → files again and again while clicks arrive, and checks
// that the files end up with every window once, with its exact count.
func TestKillWindowToFile(t *testing.T) {
	t.Parallel()
	rnd := crashRand(t)
	begin := time.Now()
	e := newCrashEnv(t)
	createTopic(t, e.addr, "clicks", 3)
	feed := startFeeder(t, e.addr, clickRecord)

	stops := e.killLoop(rnd, childPages, "child")
	n, err := feed.halt()
	if err != nil {
		t.Fatalf("producing: %v", err)
	}
	looped := time.Since(begin)
	before := e.windows()
	end := e.flushClicks(n, 3)
	want := expectedCounts(clicksUpTo(n), end)

	last := e.start(childPages, "child")
	e.waitWindows(want, last)
	last.stop(t)
	e.checkWindows(want)
	t.Logf("%d kills and %d stops while producing, in %v; last run %v; %d clicks; %d windows, %d of them written before the last run",
		crashKills, stops, looped.Round(time.Millisecond), (time.Since(begin) - looped).Round(time.Millisecond), n, len(want), before)
}

// TestKillTopicToTopicTransactions kills the process running in → upper
// case → out, in transactions, again and again while records arrive, and
// checks with a read_committed consumer that out holds every record once.
func TestKillTopicToTopicTransactions(t *testing.T) {
	t.Parallel()
	rnd := crashRand(t)
	begin := time.Now()
	e := newCrashEnv(t)
	createTopic(t, e.addr, "in", 3)
	feed := startFeeder(t, e.addr, func(i int) *kgo.Record {
		return &kgo.Record{Topic: "in", Key: []byte(fmt.Sprint(i % 37)), Value: []byte(fmt.Sprintf("rec-%d", i))}
	})

	stops := e.killLoop(rnd, childUpper, "child")
	n, err := feed.halt()
	if err != nil {
		t.Fatalf("producing: %v", err)
	}
	looped := time.Since(begin)
	tail := e.tailOut()
	before := tail.poll(t)

	last := e.start(childUpper, "child")
	e.waitFor(fmt.Sprintf("%d records in out", n), 60*time.Second, func() bool { return tail.poll(t) >= n }, last)
	last.stop(t)

	counts := map[string]int{}
	for _, v := range e.readOut() {
		counts[v]++
	}
	var wrong []string
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("REC-%d", i)
		if c := counts[v]; c != 1 {
			wrong = append(wrong, fmt.Sprintf("%s %d times", v, c))
		}
		delete(counts, v)
	}
	for v, c := range counts {
		wrong = append(wrong, fmt.Sprintf("%s %d times, not produced", v, c))
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		t.Errorf("%d records produced; %d wrong in out:\n%s", n, len(wrong), strings.Join(wrong[:min(20, len(wrong))], "\n"))
	}
	t.Logf("%d kills and %d stops while producing, in %v; last run %v; %d records, %d of them committed before the last run",
		crashKills, stops, looped.Round(time.Millisecond), (time.Since(begin) - looped).Round(time.Millisecond), n, before)
}

// TestTwoProcessesSplitAndFailover runs the windowed pipeline in two
// processes, checks that they share the partitions of both stages, kills
// one, checks that the other takes all the partitions over, and that the
// files end up with every window once, with its exact count: the survivor
// restored the state of the windows the killed process had open.
func TestTwoProcessesSplitAndFailover(t *testing.T) {
	t.Parallel()
	rnd := crashRand(t)
	begin := time.Now()
	e := newCrashEnv(t)
	const partitions = 4
	createTopic(t, e.addr, "clicks", partitions)
	feed := startFeeder(t, e.addr, clickRecord)

	a := e.start(childPages, "a")
	b := e.start(childPages, "b")
	groups := []string{"pages", "pages-stage1"} // of the stages before and after the KeyBy
	e.waitFor("both processes own partitions of both stages", 30*time.Second, func() bool {
		owners := e.owners(groups)
		for _, g := range groups {
			if len(owners[g]) != 2 || len(owners[g]["a"]) == 0 || len(owners[g]["b"]) == 0 {
				return false
			}
		}
		return true
	}, a, b)
	split := e.owners(groups)
	t.Logf("split: %v", split)
	// Let b commit windows of each of its window tasks, then kill it at a
	// random moment: some of its windows are open.
	e.waitFor("b's window tasks commit files", 30*time.Second, func() bool {
		parts, err := filesink.ReadCommitted(e.dir, "part")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range split["pages-stage1"]["b"] {
			if len(parts[task]) == 0 {
				return false
			}
		}
		return true
	}, a, b)
	time.Sleep(time.Duration(rnd.Int64N(int64(crashKillSpread))))
	b.kill(t)
	killed := time.Now()
	e.waitFor("a owns every partition of both stages", 30*time.Second, func() bool {
		owners := e.owners(groups)
		for _, g := range groups {
			if len(owners[g]) != 1 || len(owners[g]["a"]) != partitions {
				return false
			}
		}
		return true
	}, a)
	tookOver := time.Since(killed)

	n, err := feed.halt()
	if err != nil {
		t.Fatalf("producing: %v", err)
	}
	end := e.flushClicks(n, partitions)
	want := expectedCounts(clicksUpTo(n), end)
	e.waitWindows(want, a)
	a.stop(t)
	e.checkWindows(want)
	t.Logf("a took every partition over %v after the kill (session timeout %v); %v in all; %d clicks; %d windows",
		tookOver.Round(time.Millisecond), crashSession, time.Since(begin).Round(time.Millisecond), n, len(want))
}

// crashRand returns the test's random source, seeded from crashSeedEnv or
// the clock, and logs the seed.
func crashRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, crashSeedEnv, seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// crashEnv is a broker in the test process and the children run against
// it.
type crashEnv struct {
	t    *testing.T
	addr string
	dir  string // the file sink's directory
	adm  *kadm.Client

	mu       sync.Mutex
	children []*child
}

// newCrashEnv starts a broker that accepts the children's short sessions
// and aborts their timed-out transactions quickly.
func newCrashEnv(t *testing.T) *crashEnv {
	t.Helper()
	b, err := broker.New(broker.DataDir(t.TempDir()), broker.ListenAddr("127.0.0.1:0"),
		broker.GroupInitialRebalanceDelay(0), broker.GroupMinSessionTimeout(time.Second),
		broker.Transactions(txn.Config{AbortInterval: 200 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	e := &crashEnv{t: t, addr: b.Addr(), dir: t.TempDir(), adm: kadm.NewClient(cl)}
	// Cleanups run last registered first: the children go before the
	// broker.
	t.Cleanup(e.cleanup)
	return e
}

// cleanup kills the children still running and, when the test failed,
// shows what they wrote.
func (e *crashEnv) cleanup() {
	e.mu.Lock()
	children := e.children
	e.mu.Unlock()
	for _, c := range children {
		c.cmd.Process.Kill()
		<-c.exited
		c.stdin.Close()
	}
	if !e.t.Failed() {
		return
	}
	if dir := os.Getenv(crashLogsEnv); dir != "" {
		e.saveLogs(dir, children)
	}
	const shown, tail = 3, 8 << 10
	for i, c := range children {
		s := c.stderr.String()
		if i < len(children)-shown {
			e.t.Logf("%s: %v, %d bytes of stderr", c.name, c.waitErr, len(s))
			continue
		}
		if len(s) > tail {
			s = "...\n" + s[len(s)-tail:]
		}
		e.t.Logf("stderr of %s (%v):\n%s", c.name, c.waitErr, s)
	}
}

// saveLogs writes the stderr of every child and the content of the file
// sink's directory to dir.
func (e *crashEnv) saveLogs(dir string, children []*child) {
	var all strings.Builder
	for _, c := range children {
		fmt.Fprintf(&all, "=== %s (%v)\n%s", c.name, c.waitErr, c.stderr)
	}
	var files strings.Builder
	entries, _ := os.ReadDir(e.dir)
	for _, en := range entries {
		fmt.Fprintf(&files, "=== %s\n", en.Name())
		if b, err := os.ReadFile(filepath.Join(e.dir, en.Name())); err == nil {
			files.Write(b)
		}
	}
	for name, content := range map[string]string{".children.log": all.String(), ".files.log": files.String()} {
		path := filepath.Join(dir, e.t.Name()+name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			e.t.Logf("saving the logs: %v", err)
			return
		}
		e.t.Logf("wrote %s", path)
	}
}

// child is a child process running a pipeline.
type child struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *proctest.Buffer
	exited  chan struct{} // closed when Wait returns
	waitErr error         // set before exited closes
}

// start runs the pipeline kind as instance in a new child.
func (e *crashEnv) start(kind, instance string) *child {
	t := e.t
	t.Helper()
	e.mu.Lock()
	n := len(e.children)
	e.mu.Unlock()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineChild$")
	cmd.Env = append(os.Environ(), childKindEnv+"="+kind, childBrokerEnv+"="+e.addr,
		childDirEnv+"="+e.dir, childInstanceEnv+"="+instance)
	c := &child{name: fmt.Sprintf("child %d (%s)", n, instance), cmd: cmd, stderr: &proctest.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	e.mu.Lock()
	e.children = append(e.children, c)
	e.mu.Unlock()
	return c
}

// running fails the test if c exited by itself.
func (c *child) running(t *testing.T) {
	t.Helper()
	select {
	case <-c.exited:
		t.Fatalf("%s exited by itself (%v); stderr:\n%s", c.name, c.waitErr, c.stderr)
	default:
	}
}

// kill sends SIGKILL and waits for the child to die. A child that died by
// itself before is a failure.
func (c *child) kill(t *testing.T) {
	t.Helper()
	c.running(t)
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %s: %v", c.name, err)
	}
	<-c.exited
	c.stdin.Close()
	var ee *exec.ExitError
	if !errors.As(c.waitErr, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("%s did not die by the signal (%v); stderr:\n%s", c.name, c.waitErr, c.stderr)
	}
	c.check(t)
}

// childReady is what a child writes once it handles SIGTERM.
const childReady = "pipeline child: handling SIGTERM"

// stop waits for the child to handle SIGTERM, sends it, and waits for the
// child to commit and exit 0.
func (c *child) stop(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(c.stderr.String(), childReady); {
		c.running(t)
		if time.Now().After(deadline) {
			t.Fatalf("%s does not handle SIGTERM after 2 minutes; stderr:\n%s", c.name, c.stderr)
		}
		time.Sleep(10 * time.Millisecond) // polling the child's output
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", c.name, err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still running 30s after SIGTERM; stderr:\n%s", c.name, c.stderr)
	}
	c.stdin.Close()
	if c.waitErr != nil || !strings.Contains(c.stderr.String(), "stopped cleanly") {
		t.Errorf("%s did not stop cleanly (%v); stderr:\n%s", c.name, c.waitErr, c.stderr)
	}
	c.check(t)
}

// check fails the test on a data race or a panic in the child's output,
// and on a stage that failed and restarted: with nothing injected but
// kills of whole processes, a stage has no reason to fail.
func (c *child) check(t *testing.T) {
	t.Helper()
	s := c.stderr.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "stage failed", "level=ERROR"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s wrote %q; stderr:\n%s", c.name, bad, s)
			return
		}
	}
}

// waitFor polls cond until it holds, failing the test after timeout or
// when one of the running children exits.
func (e *crashEnv) waitFor(what string, timeout time.Duration, cond func() bool, running ...*child) {
	t := e.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		for _, c := range running {
			c.running(t)
		}
		if time.Now().After(deadline) {
			e.dump()
			t.Fatalf("%s: not after %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dump logs the end offsets of every topic, the offsets of every group and
// the transactions: what a test that waited in vain needs to find out why.
func (e *crashEnv) dump() {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	topics, err := e.adm.ListTopics(ctx)
	if err != nil {
		t.Logf("dump: %v", err)
		return
	}
	names := topics.Names()
	hwm, _ := e.adm.ListEndOffsets(ctx, names...)
	lso, _ := e.adm.ListCommittedOffsets(ctx, names...)
	hwm.Each(func(o kadm.ListedOffset) {
		l, _ := lso.Lookup(o.Topic, o.Partition)
		fmt.Fprintf(&b, "%s/%d: high watermark %d, last stable %d\n", o.Topic, o.Partition, o.Offset, l.Offset)
	})
	groups, _ := e.adm.ListGroups(ctx)
	for _, g := range groups.Groups() {
		offs, err := e.adm.FetchOffsets(ctx, g)
		if err != nil {
			fmt.Fprintf(&b, "group %s: %v\n", g, err)
			continue
		}
		offs.Each(func(o kadm.OffsetResponse) {
			fmt.Fprintf(&b, "group %s: %s/%d at %d\n", g, o.Topic, o.Partition, o.At)
		})
	}
	if txns, err := e.adm.ListTransactions(ctx, nil, nil); err == nil {
		described, _ := e.adm.DescribeTransactions(ctx, txns.TransactionalIDs()...)
		for _, d := range described.Sorted() {
			fmt.Fprintf(&b, "transaction %s: %s, producer %d/%d, started %v, partitions %v\n", d.TxnID, d.State,
				d.ProducerID, d.ProducerEpoch, time.UnixMilli(d.StartTimestamp).Format("15:04:05.000"), d.Topics.Sorted())
		}
	}
	t.Logf("at %s:\n%s", time.Now().Format("15:04:05.000"), b.String())
}

// killLoop starts the pipeline kind as instance and kills it crashKills
// times with SIGKILL, each a random time after it started or, one time in
// two, after it got its tasks (on a slow machine a run may take longer
// than crashKillSpread to start). One run in crashStopEvery is stopped
// with SIGTERM instead, while busy: it must commit and exit 0. It returns
// the number of those stops.
func (e *crashEnv) killLoop(rnd *rand.Rand, kind, instance string) (stops int) {
	t := e.t
	t.Helper()
	for kills := 0; kills < crashKills; {
		c := e.start(kind, instance)
		if rnd.IntN(2) == 0 {
			e.waitFor(c.name+" gets tasks", 30*time.Second, func() bool {
				return strings.Contains(c.stderr.String(), "task assigned")
			}, c)
		}
		select {
		case <-time.After(crashKillMin + time.Duration(rnd.Int64N(int64(crashKillSpread)))):
		case <-c.exited:
		}
		if rnd.IntN(crashStopEvery) == 0 {
			c.stop(t)
			stops++
			continue
		}
		c.kill(t)
		kills++
	}
	return stops
}

// feeder produces records in the background, crashBatch at a time with
// acks=all, until halted: record i is gen(i).
type feeder struct {
	cl   *kgo.Client
	gen  func(i int) *kgo.Record
	stop chan struct{}
	done chan struct{}
	once sync.Once
	n    int   // records acknowledged; read after done
	err  error // read after done
}

func startFeeder(t *testing.T, addr string, gen func(i int) *kgo.Record) *feeder {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	f := &feeder{cl: cl, gen: gen, stop: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	t.Cleanup(func() { f.halt() })
	return f
}

func (f *feeder) run() {
	defer close(f.done)
	for {
		recs := make([]*kgo.Record, crashBatch)
		for i := range recs {
			recs[i] = f.gen(f.n + i)
		}
		// One idempotent client produces them in order: each partition
		// gets its records in the order of i.
		if err := f.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			f.err = err
			return
		}
		f.n += len(recs)
		select {
		case <-f.stop:
			return
		case <-time.After(crashPause):
		}
	}
}

// halt stops the feeder and returns how many records it produced, every
// one of them acknowledged, or the error that stopped it.
func (f *feeder) halt() (int, error) {
	f.once.Do(func() {
		close(f.stop)
		<-f.done
		f.cl.Close()
	})
	return f.n, f.err
}

// clickOf is the i-th click: event times grow by crashTick, users and
// pages cycle.
func clickOf(i int) click {
	return click{User: fmt.Sprint("u", i%17), Page: fmt.Sprint("/p", i%crashPages), TS: int64(i) * crashTick}
}

func clickRecord(i int) *kgo.Record {
	c := clickOf(i)
	v, _ := json.Marshal(c)
	return &kgo.Record{Topic: "clicks", Key: []byte(c.User), Value: v}
}

// clicksUpTo returns the first n clicks.
func clicksUpTo(n int) []click {
	clicks := make([]click, n)
	for i := range clicks {
		clicks[i] = clickOf(i)
	}
	return clicks
}

// flushClicks writes, to every partition of clicks, one click per page far
// after the n clicks produced, so that the watermark of every task of
// both stages passes the end of every window of those clicks. It returns
// the flush clicks' time.
func (e *crashEnv) flushClicks(n int, partitions int32) int64 {
	t := e.t
	t.Helper()
	ts := int64(n)*crashTick + 100_000
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := int32(0); p < partitions; p++ {
		for page := 0; page < crashPages; page++ {
			v, _ := json.Marshal(click{User: "flush", Page: fmt.Sprint("/p", page), TS: ts})
			recs = append(recs, &kgo.Record{Topic: "clicks", Partition: p, Key: []byte("flush"), Value: v})
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return ts
}

// windows returns the number of distinct windows in the committed part
// files.
func (e *crashEnv) windows() int {
	seen := map[engine.WindowKey[string]]bool{}
	for _, r := range readRows(e.t, e.dir) {
		seen[r.Key] = true
	}
	return len(seen)
}

// waitWindows waits until the files hold as many windows as want, and
// says which are wrong when they do not in time.
func (e *crashEnv) waitWindows(want map[engine.WindowKey[string]]int64, running ...*child) {
	e.t.Helper()
	defer func() {
		if e.t.Failed() {
			e.checkWindows(want)
		}
	}()
	e.waitFor(fmt.Sprintf("%d windows written", len(want)), 60*time.Second,
		func() bool { return e.windows() >= len(want) }, running...)
}

// checkWindows reads every committed part file and checks that they hold
// each window of want once, with its count, and nothing else; and that no
// in-progress file is left.
func (e *crashEnv) checkWindows(want map[engine.WindowKey[string]]int64) {
	t := e.t
	t.Helper()
	got := map[engine.WindowKey[string]]int64{}
	var wrong []string
	for _, r := range readRows(t, e.dir) {
		if _, dup := got[r.Key]; dup {
			wrong = append(wrong, fmt.Sprintf("%+v written twice (%d, then %d)", r.Key, got[r.Key], r.Count))
		}
		got[r.Key] = r.Count
	}
	for k, n := range want {
		if c, ok := got[k]; !ok {
			wrong = append(wrong, fmt.Sprintf("%+v missing, want %d", k, n))
		} else if c != n {
			wrong = append(wrong, fmt.Sprintf("%+v: count %d, want %d", k, c, n))
		}
	}
	for k, c := range got {
		if _, ok := want[k]; !ok {
			wrong = append(wrong, fmt.Sprintf("%+v (count %d) not expected", k, c))
		}
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		t.Errorf("%d windows written, %d expected; %d wrong:\n%s", len(got), len(want), len(wrong), strings.Join(wrong[:min(20, len(wrong))], "\n"))
	}
	stray, err := filepath.Glob(filepath.Join(e.dir, ".*.inprogress"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stray) > 0 {
		t.Errorf("in-progress files left after a clean stop: %v", stray)
	}
}

// outTail follows out, read_committed, to see the last run's progress.
type outTail struct {
	cl   *kgo.Client
	seen map[string]bool
}

func (e *crashEnv) tailOut() *outTail {
	t := e.t
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &outTail{cl: cl, seen: map[string]bool{}}
}

// poll reads what is there and returns how many distinct values were
// read so far.
func (o *outTail) poll(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	fs := o.cl.PollFetches(ctx)
	fs.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("fetching %s/%d: %v", topic, p, err)
		}
	})
	fs.EachRecord(func(r *kgo.Record) { o.seen[string(r.Value)] = true })
	return len(o.seen)
}

// readOut reads the values of out, read_committed, from the start to
// the end. No transaction may be left open: the last stable offsets must
// be the high watermarks.
func (e *crashEnv) readOut() []string {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lso, err := e.adm.ListCommittedOffsets(ctx, "out")
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		t.Fatalf("the last stable offsets of out: %v", err)
	}
	hwm, err := e.adm.ListEndOffsets(ctx, "out")
	if err == nil {
		err = hwm.Error()
	}
	if err != nil {
		t.Fatalf("the end offsets of out: %v", err)
	}
	lso.Each(func(o kadm.ListedOffset) {
		if h, _ := hwm.Lookup(o.Topic, o.Partition); h.Offset != o.Offset {
			t.Errorf("out/%d: last stable offset %d, high watermark %d: a transaction is open", o.Partition, o.Offset, h.Offset)
		}
	})
	// Control records are kept, so that reading stops at the last stable
	// offset even when a transaction marker is there.
	ends := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	lso.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			ends[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(ends) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"out": from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var vals []string
	for len(ends) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading out: partitions %v not read to their ends after 30s", slices.Sorted(maps.Keys(ends)))
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetching %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				vals = append(vals, string(r.Value))
			}
			if end, ok := ends[r.Partition]; ok && r.Offset >= end-1 {
				delete(ends, r.Partition)
			}
		})
	}
	return vals
}

// owners returns, for each of the groups that is stable, the partitions
// each member (by instance id) is assigned.
func (e *crashEnv) owners(groups []string) map[string]map[string][]int32 {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	described, err := e.adm.DescribeGroups(ctx, groups...)
	if err != nil {
		t.Fatalf("describe groups: %v", err)
	}
	out := map[string]map[string][]int32{}
	for _, g := range described {
		if g.Err != nil || g.State != "Stable" {
			continue
		}
		members := map[string][]int32{}
		for _, m := range g.Members {
			id := m.MemberID
			if m.InstanceID != nil {
				id = *m.InstanceID
			}
			parts := []int32{}
			if ca, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range ca.Topics {
					parts = append(parts, tp.Partitions...)
				}
			}
			members[id] = parts
		}
		out[g.Group] = members
	}
	return out
}
