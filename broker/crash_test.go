package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/internal/proctest"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The broker crash test runs a broker in a real process, produces to it
// with acks=all from several clients, kills it with SIGKILL after a random
// number of acknowledgments, restarts it on the same data directory and
// checks with a consumer that every acknowledged record is at its offset.
// The child is this test binary re-executed to run only TestBrokerProcess.
// broker/log's TestCrashRecovery does the same for one log without the
// wire; this one covers the path from the produce request to the ack.

const (
	brokerCrashDirEnv  = "RUNNEL_BROKER_CRASH_DIR"       // the data directory; set only in the child
	brokerCrashAddrEnv = "RUNNEL_BROKER_CRASH_ADDR_FILE" // where the child writes its address
	brokerCrashSeedEnv = "RUNNEL_BROKER_CRASH_SEED"      // reruns TestBrokerCrashRecovery with a logged seed

	brokerCrashCycles     = 30
	brokerCrashTopic      = "crash"
	brokerCrashPartitions = 4
	brokerCrashProducers  = 4 // clients, one producing goroutine each
	brokerCrashMaxAcks    = 3000
	brokerCrashGroup      = "crash-group" // committed offsets, once the broker serves OffsetCommit
)

// TestBrokerProcess is the child of TestBrokerCrashRecovery: a broker on
// the data directory of brokerCrashDirEnv that writes its address to the
// file of brokerCrashAddrEnv and serves until it is killed.
func TestBrokerProcess(t *testing.T) {
	dir := os.Getenv(brokerCrashDirEnv)
	if dir == "" {
		t.Skip("helper process of TestBrokerCrashRecovery; runs only with " + brokerCrashDirEnv + " set")
	}
	addrFile := os.Getenv(brokerCrashAddrEnv)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := New(DataDir(dir), ListenAddr("127.0.0.1:0"), Logger(logger))
	if err != nil {
		brokerChildFail("start: %v", err)
	}
	// Written whole and renamed, so the parent never reads half an address.
	if err := os.WriteFile(addrFile+".tmp", []byte(b.Addr()), 0o644); err != nil {
		brokerChildFail("address file: %v", err)
	}
	if err := os.Rename(addrFile+".tmp", addrFile); err != nil {
		brokerChildFail("address file: %v", err)
	}
	// The parent holds our stdin open: EOF means it is gone, and an
	// orphan must not keep serving.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		brokerChildFail("stdin closed: the parent is gone")
	}()
	time.Sleep(2 * time.Minute)
	brokerChildFail("not killed after 2 minutes")
}

func brokerChildFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "broker process: "+format+"\n", args...)
	os.Exit(2)
}

// brokerProc is a running child broker.
type brokerProc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	addr    string
	stderr  *proctest.Buffer
	exited  chan struct{} // closed when Wait returns
	waitErr error         // set before exited closes
	killed  bool
}

// startBrokerProc starts a child broker on dataDir and waits until it
// listens. The child is killed at the end of the test if it still runs.
func startBrokerProc(t *testing.T, dataDir, addrDir string, n int) *brokerProc {
	t.Helper()
	addrFile := filepath.Join(addrDir, fmt.Sprintf("addr-%d", n))
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrokerProcess$")
	cmd.Env = append(os.Environ(), brokerCrashDirEnv+"="+dataDir, brokerCrashAddrEnv+"="+addrFile)
	p := &brokerProc{cmd: cmd, stderr: &proctest.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		stdin.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if addr, err := os.ReadFile(addrFile); err == nil {
			p.addr = string(addr)
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("broker process %d exited before listening (%v); stderr:\n%s", n, p.waitErr, p.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker process %d not listening after 30s; stderr:\n%s", n, p.stderr)
		}
	}
}

// kill sends SIGKILL and waits for the process to die. A child that died
// by itself before is a failure.
func (p *brokerProc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("broker process exited by itself (%v); stderr:\n%s", p.waitErr, p.stderr)
	default:
	}
	p.killed = true
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-p.exited
	p.stdin.Close()
	var ee *exec.ExitError
	if !errors.As(p.waitErr, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("broker process did not die by the signal (%v); stderr:\n%s", p.waitErr, p.stderr)
	}
}

// crashRecord is a record whose produce was acknowledged.
type crashRecord struct {
	topic     string
	partition int32
	offset    int64
	value     string
}

func TestBrokerCrashRecovery(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(brokerCrashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", brokerCrashSeedEnv, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, brokerCrashSeedEnv, seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	dataDir, addrDir := t.TempDir(), t.TempDir()
	begin := time.Now()

	proc := startBrokerProc(t, dataDir, addrDir, 0)
	admCl := newCrashClient(t, proc.addr)
	adm := kadm.NewClient(admCl)
	ctx := ctxT(t)
	// Small segments, so that rolls happen between the kills.
	segBytes := "16384"
	if _, err := adm.CreateTopic(ctx, brokerCrashPartitions, 1, map[string]*string{"segment.bytes": &segBytes}, brokerCrashTopic); err != nil {
		t.Fatal(err)
	}
	commits := servesOffsetCommit(t, adm)
	if commits {
		t.Logf("the broker serves OffsetCommit: committing offsets of group %q before each kill", brokerCrashGroup)
	} else {
		t.Logf("committed offsets not checked: the broker does not advertise OffsetCommit, OffsetFetch and FindCoordinator yet")
	}
	admCl.Close()

	var acked []crashRecord
	var committed kadm.Offsets
	var total, truncations int
	for cycle := 0; cycle < brokerCrashCycles; cycle++ {
		after := 1 + rnd.IntN(brokerCrashMaxAcks)
		if cycle%5 == 0 {
			after = 1 + rnd.IntN(10) // a kill within the first requests
		}
		var beforeKill func(acked []crashRecord)
		if commits {
			beforeKill = func(acks []crashRecord) {
				committed = commitCrashOffsets(t, proc.addr, cycle, acks)
			}
		}
		acks := produceUntilKill(t, proc, cycle, after, acked, beforeKill)
		acked = append(acked, acks...)
		truncations += strings.Count(proc.stderr.String(), "recovery truncated the log")

		proc = startBrokerProc(t, dataDir, addrDir, cycle+1)
		total = checkAckedRecords(t, proc.addr, acked)
		if commits {
			checkCommittedOffsets(t, proc.addr, committed)
		}
		t.Logf("cycle %d: killed after %d acks (target %d); %d acked in all, %d records in the log",
			cycle, len(acks), after, len(acked), total)
	}
	truncations += strings.Count(proc.stderr.String(), "recovery truncated the log")
	proc.kill(t)
	t.Logf("%d kill cycles in %v: %d acked records, all present; %d unacknowledged records survived; %d recovery truncations; committed offsets checked: %v",
		brokerCrashCycles, time.Since(begin).Round(time.Millisecond), len(acked), total-len(acked), truncations, commits)
}

// newCrashClient is a client of a child broker, with acks=all and
// idempotence off (so a retried batch may be stored twice: the checks
// look at acknowledged offsets, not at duplicate values).
func newCrashClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceUntilKill runs brokerCrashProducers producers against proc until
// after records are acknowledged, calls beforeKill (if not nil) with every
// record acknowledged so far (prev and this cycle's), kills proc, and
// returns the records this cycle's producers saw acknowledged, including
// those whose acks arrived between the decision and the kill.
func produceUntilKill(t *testing.T, proc *brokerProc, cycle, after int, prev []crashRecord, beforeKill func([]crashRecord)) []crashRecord {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu      sync.Mutex
		acks    []crashRecord
		reached = make(chan struct{})
		pending sync.WaitGroup // one per Produce call, done in its callback
		loops   sync.WaitGroup
		clients []*kgo.Client
	)
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.SnappyCompression(), kgo.ZstdCompression(), kgo.GzipCompression()}
	for i := 0; i < brokerCrashProducers; i++ {
		cl := newCrashClient(t, proc.addr,
			kgo.DefaultProduceTopic(brokerCrashTopic),
			kgo.ProducerLinger(time.Duration(i)*time.Millisecond),
			kgo.ProducerBatchCompression(codecs[i%len(codecs)]),
			// Few buffered records make small batches and many
			// requests, so that kills land between them.
			kgo.MaxBufferedRecords(16<<i),
		)
		clients = append(clients, cl)
		loops.Add(1)
		go func() {
			defer loops.Done()
			for seq := 0; ctx.Err() == nil; seq++ {
				id := fmt.Sprintf("%d/%d/%d", cycle, i, seq)
				pending.Add(1)
				cl.Produce(ctx, &kgo.Record{Key: []byte(id), Value: []byte(id)}, func(r *kgo.Record, err error) {
					defer pending.Done()
					if err != nil {
						return // unacknowledged: may be lost or present
					}
					mu.Lock()
					acks = append(acks, crashRecord{r.Topic, r.Partition, r.Offset, string(r.Value)})
					n := len(acks)
					mu.Unlock()
					if n == after {
						close(reached)
					}
				})
			}
		}()
	}
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		t.Fatalf("cycle %d: %d of %d acks after 30s; broker stderr:\n%s", cycle, n, after, proc.stderr)
	}
	if beforeKill != nil {
		mu.Lock()
		all := append(append([]crashRecord(nil), prev...), acks...)
		mu.Unlock()
		beforeKill(all)
	}
	proc.kill(t)
	// Records still buffered or in flight fail now; their callbacks
	// (and any ack that was read before the connection broke) finish
	// before Close returns.
	cancel()
	for _, cl := range clients {
		cl.Close()
	}
	loops.Wait()
	pending.Wait()
	return acks
}

// checkAckedRecords reads every partition of the crash topic from the start
// to its end offset and checks that offsets run from 0 to the end without a
// gap or a duplicate, and that every acknowledged record is at its offset.
// It returns the number of records in the topic.
func checkAckedRecords(t *testing.T, addr string, acked []crashRecord) int {
	t.Helper()
	ctx := ctxT(t)
	admCl := newCrashClient(t, addr)
	defer admCl.Close()
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, brokerCrashTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	from := map[int32]kgo.Offset{}
	values := make([][]string, brokerCrashPartitions)
	seen := make([][]bool, brokerCrashPartitions)
	remaining, total := 0, 0
	for p := int32(0); p < brokerCrashPartitions; p++ {
		o, ok := ends.Lookup(brokerCrashTopic, p)
		if !ok {
			t.Fatalf("no end offset for partition %d", p)
		}
		values[p], seen[p] = make([]string, o.Offset), make([]bool, o.Offset)
		remaining += int(o.Offset)
		total += int(o.Offset)
		if o.Offset > 0 {
			from[p] = kgo.NewOffset().At(0)
		}
	}
	cons := newCrashClient(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{brokerCrashTopic: from}),
		kgo.FetchMaxWait(200*time.Millisecond))
	defer cons.Close()
	for remaining > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the timeout", total-remaining, total)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if r.Offset < 0 || r.Offset >= int64(len(values[p])) {
				t.Fatalf("partition %d: record at offset %d beyond the end offset %d", p, r.Offset, len(values[p]))
			}
			if seen[p][r.Offset] {
				t.Fatalf("partition %d: offset %d twice (%q, then %q)", p, r.Offset, values[p][r.Offset], r.Value)
			}
			seen[p][r.Offset] = true
			values[p][r.Offset] = string(r.Value)
			remaining--
		})
	}
	for _, a := range acked {
		if a.topic != brokerCrashTopic || a.partition < 0 || a.partition >= brokerCrashPartitions {
			t.Fatalf("acked record %q went to %s/%d", a.value, a.topic, a.partition)
		}
		vals := values[a.partition]
		if a.offset >= int64(len(vals)) {
			t.Fatalf("acked record %q at %d/%d lost: the partition ends at %d", a.value, a.partition, a.offset, len(vals))
		}
		if got := vals[a.offset]; got != a.value {
			t.Fatalf("acked record %q at %d/%d: the offset holds %q", a.value, a.partition, a.offset, got)
		}
	}
	return total
}

// servesOffsetCommit reports whether the broker advertises what
// kadm.CommitOffsets and FetchOffsets need.
func servesOffsetCommit(t *testing.T, adm *kadm.Client) bool {
	t.Helper()
	vs, err := adm.ApiVersions(ctxT(t))
	if err != nil {
		t.Fatalf("api versions: %v", err)
	}
	serves := len(vs) > 0
	vs.Each(func(v kadm.BrokerApiVersions) {
		if v.Err != nil {
			t.Fatalf("api versions of node %d: %v", v.NodeID, v.Err)
		}
		for _, k := range []kmsg.Key{kmsg.OffsetCommit, kmsg.OffsetFetch, kmsg.FindCoordinator} {
			if _, ok := v.KeyMaxVersion(int16(k)); !ok {
				serves = false
			}
		}
	})
	return serves
}

// commitCrashOffsets commits, for every partition of the crash topic, the
// offset after its last acknowledged record, with the cycle as metadata so
// that each commit differs from the previous one. It returns what it
// committed.
func commitCrashOffsets(t *testing.T, addr string, cycle int, acked []crashRecord) kadm.Offsets {
	t.Helper()
	next := make([]int64, brokerCrashPartitions)
	for _, a := range acked {
		next[a.partition] = max(next[a.partition], a.offset+1)
	}
	offs := kadm.Offsets{}
	for p, at := range next {
		offs.Add(kadm.Offset{Topic: brokerCrashTopic, Partition: int32(p), At: at, LeaderEpoch: -1, Metadata: fmt.Sprintf("cycle %d", cycle)})
	}
	cl := newCrashClient(t, addr)
	defer cl.Close()
	resps, err := kadm.NewClient(cl).CommitOffsets(ctxT(t), brokerCrashGroup, offs)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("cycle %d: commit offsets: %v", cycle, err)
	}
	return offs
}

// checkCommittedOffsets checks that the group's committed offsets are
// exactly the last acknowledged commit.
func checkCommittedOffsets(t *testing.T, addr string, want kadm.Offsets) {
	t.Helper()
	cl := newCrashClient(t, addr)
	defer cl.Close()
	got, err := kadm.NewClient(cl).FetchOffsets(ctxT(t), brokerCrashGroup)
	if err == nil {
		err = got.Error()
	}
	if err != nil {
		t.Fatalf("fetch committed offsets: %v", err)
	}
	want.Each(func(w kadm.Offset) {
		g, ok := got.Lookup(w.Topic, w.Partition)
		if !ok {
			t.Fatalf("committed offset of %s/%d lost (want %d %q)", w.Topic, w.Partition, w.At, w.Metadata)
		}
		if g.At != w.At || g.Metadata != w.Metadata {
			t.Fatalf("committed offset of %s/%d: %d %q, want %d %q", w.Topic, w.Partition, g.At, g.Metadata, w.At, w.Metadata)
		}
	})
}
