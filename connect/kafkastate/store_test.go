package kafkastate_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/kafkastate"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
)

// The store's tests run against the built-in broker, in this process.

func newStore(t *testing.T, addr, topic string) *kafkastate.Store {
	t.Helper()
	s, err := kafkastate.New(brokertest.Context(t), []string{addr}, topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func in(stream string, p int32) engine.Input { return engine.Input{Stream: stream, Partition: p} }

func snap(seq int64, state string, pos engine.Positions) connect.Snapshot {
	return connect.Snapshot{Seq: seq, Positions: pos, State: []byte(state)}
}

func save(t *testing.T, s *kafkastate.Store, stage string, snaps map[connect.TaskID]connect.Snapshot) {
	t.Helper()
	if err := s.Save(brokertest.Context(t), stage, snaps); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, s *kafkastate.Store, stage string, tasks ...connect.TaskID) map[connect.TaskID][]connect.Snapshot {
	t.Helper()
	got, err := s.Load(brokertest.Context(t), stage, tasks)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range got {
		slices.SortFunc(l, func(a, b connect.Snapshot) int { return int(b.Seq - a.Seq) })
	}
	return got
}

func equalSnapshots(a, b []connect.Snapshot) bool {
	return slices.EqualFunc(a, b, func(x, y connect.Snapshot) bool {
		return x.Seq == y.Seq && x.Positions.Equal(y.Positions) && bytes.Equal(x.State, y.State)
	})
}

func requireSnapshots(t *testing.T, what string, got, want []connect.Snapshot) {
	t.Helper()
	if !equalSnapshots(got, want) {
		t.Fatalf("%s: %s, want %s", what, describe(got), describe(want))
	}
}

func describe(l []connect.Snapshot) string {
	var b bytes.Buffer
	for _, s := range l {
		st := s.State
		if len(st) > 32 {
			st = append(st[:32:32], "..."...)
		}
		fmt.Fprintf(&b, "{seq %d at %v: %d bytes %q} ", s.Seq, s.Positions, len(s.State), st)
	}
	return b.String()
}

// rawRecords reads the whole state topic.
func rawRecords(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	ctx := brokertest.Context(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	var out []*kgo.Record
	for int64(len(out)) < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// chunkValue encodes a chunk as the package doc draws it, with a save id
// of its own: a save that tore after this chunk.
func chunkValue(seq int64, chunks int, pos engine.Positions, state []byte) []byte {
	v := []byte{2}
	v = binary.AppendVarint(v, seq)
	v = binary.BigEndian.AppendUint64(v, 0xdeadbeef)
	v = binary.AppendUvarint(v, uint64(chunks))
	var pj []byte
	if pos != nil {
		type p struct {
			S string `json:"s"`
			P int32  `json:"p"`
			O int64  `json:"o"`
		}
		var l []p
		for in, off := range pos {
			l = append(l, p{in.Stream, in.Partition, off})
		}
		pj, _ = json.Marshal(l)
	}
	v = binary.AppendUvarint(v, uint64(len(pj)))
	return append(append(v, pj...), state...)
}

// produceRaw writes records to the state topic as a crashed Save would
// have left them.
func produceRaw(t *testing.T, addr, topic string, kv ...any) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchMaxBytes(kafkastate.ChunkSize+64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < len(kv); i += 2 {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(kv[i].(string)), Value: kv[i+1].([]byte)})
	}
	if err := cl.ProduceSync(brokertest.Context(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func randomState(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestRoundTrip: snapshots of several tasks and stages come back as they
// were saved, each stage seeing only its own.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newStore(t, addr, "rt-state")
	two := engine.Positions{in("clicks", 0): 42, in("views/eu", 0): 7}
	save(t, s, "g/0", map[connect.TaskID]connect.Snapshot{
		0: snap(1, `{"v":1}`, two),
		1: snap(1, `{"v":2}`, engine.Positions{in("clicks", 1): 3}),
		2: snap(1, "", engine.Positions{}),
	})
	save(t, s, "g/1", map[connect.TaskID]connect.Snapshot{0: snap(5, "stage one", engine.Positions{in("g-k-repartition", 0): 9})})
	save(t, s, "g/10", map[connect.TaskID]connect.Snapshot{0: snap(1, "stage ten", engine.Positions{})})

	got := load(t, s, "g/0", 0, 1, 2, 3)
	requireSnapshots(t, "task 0", got[0], []connect.Snapshot{snap(1, `{"v":1}`, two)})
	requireSnapshots(t, "task 1", got[1], []connect.Snapshot{snap(1, `{"v":2}`, engine.Positions{in("clicks", 1): 3})})
	requireSnapshots(t, "task 2", got[2], []connect.Snapshot{snap(1, "", engine.Positions{})})
	if l, ok := got[3]; ok {
		t.Fatalf("task 3 was never saved, Load returned %s", describe(l))
	}
	if len(got) != 3 {
		t.Fatalf("Load returned %d tasks, want 3", len(got))
	}
	got = load(t, s, "g/1", 0, 1)
	if len(got) != 1 {
		t.Fatalf("stage g/1: %d tasks, want 1", len(got))
	}
	requireSnapshots(t, "stage g/1 task 0", got[0], []connect.Snapshot{snap(5, "stage one", engine.Positions{in("g-k-repartition", 0): 9})})
	requireSnapshots(t, "stage g/10 task 0", load(t, s, "g/10", 0)[0], []connect.Snapshot{snap(1, "stage ten", engine.Positions{})})

	// Another process opening the same topic reads the same.
	other := newStore(t, addr, "rt-state")
	requireSnapshots(t, "task 0 from another store", load(t, other, "g/0", 0)[0], []connect.Snapshot{snap(1, `{"v":1}`, two)})
}

// TestSlotsKeepLastTwo: each task keeps the snapshots of its last two
// checkpoints.
func TestSlotsKeepLastTwo(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newStore(t, addr, "slots-state")
	for seq := int64(1); seq <= 5; seq++ {
		save(t, s, "p/0", map[connect.TaskID]connect.Snapshot{
			0: snap(seq, fmt.Sprintf("state %d", seq), engine.Positions{in("in", 0): 10 * seq}),
			1: snap(seq+100, fmt.Sprintf("other %d", seq), engine.Positions{in("in", 1): seq}),
		})
		got := load(t, s, "p/0", 0, 1)
		want := []connect.Snapshot{snap(seq, fmt.Sprintf("state %d", seq), engine.Positions{in("in", 0): 10 * seq})}
		if seq > 1 {
			want = append(want, snap(seq-1, fmt.Sprintf("state %d", seq-1), engine.Positions{in("in", 0): 10 * (seq - 1)}))
		}
		requireSnapshots(t, fmt.Sprintf("task 0 after seq %d", seq), got[0], want)
		if len(got[1]) != len(want) || got[1][0].Seq != seq+100 {
			t.Fatalf("task 1 after seq %d: %s", seq, describe(got[1]))
		}
	}
}

// TestChunks: a snapshot larger than ChunkSize is written in chunks and
// read back whole; a smaller one replacing it in its slot does not pick
// up the stale chunks.
func TestChunks(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newStore(t, addr, "chunk-state")
	big := randomState(2*kafkastate.ChunkSize + 1234)
	pos := engine.Positions{in("in", 0): 99}
	save(t, s, "c/0", map[connect.TaskID]connect.Snapshot{0: {Seq: 1, Positions: pos, State: big}})
	var keys []string
	for _, r := range rawRecords(t, addr, "chunk-state") {
		keys = append(keys, string(r.Key))
		if len(r.Value) > kafkastate.ChunkSize+1024 {
			t.Errorf("the record %s holds %d bytes, more than a chunk", r.Key, len(r.Value))
		}
	}
	if want := []string{"c/0/0/1/0", "c/0/0/1/1", "c/0/0/1/2"}; !slices.Equal(keys, want) {
		t.Fatalf("record keys %q, want %q", keys, want)
	}
	requireSnapshots(t, "the chunked snapshot", load(t, s, "c/0", 0)[0], []connect.Snapshot{{Seq: 1, Positions: pos, State: big}})

	// Seq 3 goes to the same slot, in one chunk: chunks 1 and 2 of seq 1
	// stay in the topic and must not be appended.
	save(t, s, "c/0", map[connect.TaskID]connect.Snapshot{0: snap(2, "two", pos)})
	save(t, s, "c/0", map[connect.TaskID]connect.Snapshot{0: snap(3, "three", pos)})
	requireSnapshots(t, "after a small snapshot in the slot", load(t, s, "c/0", 0)[0],
		[]connect.Snapshot{snap(3, "three", pos), snap(2, "two", pos)})

	// Exactly one chunk's worth is one record.
	exact := randomState(kafkastate.ChunkSize)
	save(t, s, "c/0", map[connect.TaskID]connect.Snapshot{1: {Seq: 1, Positions: pos, State: exact}})
	n := 0
	for _, r := range rawRecords(t, addr, "chunk-state") {
		if bytes.HasPrefix(r.Key, []byte("c/0/1/")) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("a snapshot of exactly ChunkSize bytes took %d records, want 1", n)
	}
	requireSnapshots(t, "a snapshot of ChunkSize bytes", load(t, s, "c/0", 1)[1], []connect.Snapshot{{Seq: 1, Positions: pos, State: exact}})
}

// TestTornSnapshotIgnored: a crash in the middle of a Save leaves chunk 0
// of a newer snapshot with the other chunks of an older one; Load ignores
// that slot and returns the other.
func TestTornSnapshotIgnored(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newStore(t, addr, "torn-state")
	one := randomState(2*kafkastate.ChunkSize + 10) // 3 chunks
	two := randomState(kafkastate.ChunkSize + 10)   // 2 chunks
	p1, p2, p3 := engine.Positions{in("in", 0): 1}, engine.Positions{in("in", 0): 2}, engine.Positions{in("in", 0): 3}
	save(t, s, "t/0", map[connect.TaskID]connect.Snapshot{0: {Seq: 1, Positions: p1, State: one}})
	save(t, s, "t/0", map[connect.TaskID]connect.Snapshot{0: {Seq: 2, Positions: p2, State: two}})
	requireSnapshots(t, "before the crash", load(t, s, "t/0", 0)[0],
		[]connect.Snapshot{{Seq: 2, Positions: p2, State: two}, {Seq: 1, Positions: p1, State: one}})

	// Seq 3 goes to slot 1, over seq 1: only its chunk 0 made it.
	produceRaw(t, addr, "torn-state", "t/0/0/1/0", chunkValue(3, 3, p3, randomState(kafkastate.ChunkSize)))
	requireSnapshots(t, "after a torn seq 3", load(t, s, "t/0", 0)[0], []connect.Snapshot{{Seq: 2, Positions: p2, State: two}})

	// Seq 4 goes to slot 0, over seq 2, in more chunks than seq 2 had:
	// its chunk 2 was never there.
	produceRaw(t, addr, "torn-state",
		"t/0/0/0/0", chunkValue(4, 3, p3, randomState(kafkastate.ChunkSize)),
		"t/0/0/0/1", chunkValue(4, 3, nil, randomState(kafkastate.ChunkSize)))
	if got := load(t, s, "t/0", 0); len(got[0]) != 0 {
		t.Fatalf("both slots are torn, Load returned %s", describe(got[0]))
	}

	// A whole seq 5 in slot 1 is found again.
	save(t, s, "t/0", map[connect.TaskID]connect.Snapshot{0: snap(5, "five", p3)})
	requireSnapshots(t, "after seq 5", load(t, s, "t/0", 0)[0], []connect.Snapshot{snap(5, "five", p3)})
}

// TestLoadEmpty: Load of an empty topic, or of a stage never saved,
// returns nothing and no error.
func TestLoadEmpty(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newStore(t, addr, "empty-state")
	if got := load(t, s, "e/0", 0, 1); len(got) != 0 {
		t.Fatalf("Load of an empty topic: %v", got)
	}
	save(t, s, "other/0", map[connect.TaskID]connect.Snapshot{0: snap(1, "x", engine.Positions{})})
	if got := load(t, s, "e/0", 0, 1); len(got) != 0 {
		t.Fatalf("Load of a stage never saved: %v", got)
	}
	// The topic was created compacted, with one partition.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(brokertest.Context(t), "empty-state")
	if err != nil {
		t.Fatal(err)
	}
	if td := topics["empty-state"]; len(td.Partitions) != 1 {
		t.Fatalf("the state topic has %d partitions, want 1", len(td.Partitions))
	}
	cfgs, err := adm.DescribeTopicConfigs(brokertest.Context(t), "empty-state")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("empty-state", nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" {
			policy = c.MaybeValue()
		}
	}
	if policy != "compact" {
		t.Fatalf("cleanup.policy %q, want compact", policy)
	}
}

// TestLoadCanceled: Load gives up when its context ends.
func TestLoadCanceled(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newStore(t, addr, "cancel-state")
	save(t, s, "x/0", map[connect.TaskID]connect.Snapshot{0: snap(1, "x", engine.Positions{})})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Load(ctx, "x/0", []connect.TaskID{0}); err == nil {
		t.Fatal("Load with a canceled context succeeded")
	}
}

// TestRewrittenSeqTornIsIgnored: after a failed checkpoint the runtime
// saves the same seq again. When that second save is torn after its first
// chunk, the slot holds its chunk 0 and the later chunks of the first
// save, all with the same seq: Load must not glue them together into a
// snapshot that was never saved (the save id tells them apart).
func TestRewrittenSeqTornIsIgnored(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newStore(t, addr, "reseq-state")
	pA, pB := engine.Positions{in("in", 0): 10}, engine.Positions{in("in", 0): 12}
	first := randomState(kafkastate.ChunkSize + 10) // 2 chunks
	save(t, s, "r/0", map[connect.TaskID]connect.Snapshot{0: {Seq: 3, Positions: pA, State: first}})
	// The second save of seq 3, 2 chunks too, torn after chunk 0.
	second := randomState(kafkastate.ChunkSize + 20)
	produceRaw(t, addr, "reseq-state", "r/0/0/1/0", chunkValue(3, 2, pB, second[:kafkastate.ChunkSize]))
	for _, sn := range load(t, s, "r/0", 0)[0] {
		okA := sn.Positions.Equal(pA) && bytes.Equal(sn.State, first)
		okB := sn.Positions.Equal(pB) && bytes.Equal(sn.State, second)
		if !okA && !okB {
			t.Fatalf("Load returned a snapshot that was never saved: %s", describe([]connect.Snapshot{sn}))
		}
	}
}

// TestDelete: Delete forgets every snapshot of a stage, chunks included,
// and of no other stage; Load and Stored then find none, and the slots
// are used again from seq 1 without an old snapshot coming back.
func TestDelete(t *testing.T) {
	t.Parallel()
	addr := brokertest.Start(t)
	s := newStore(t, addr, "del-state")
	p1, p2 := engine.Positions{in("in", 0): 10}, engine.Positions{in("in", 0): 20}
	big := randomState(kafkastate.ChunkSize + 10) // 2 chunks
	save(t, s, "d/1", map[connect.TaskID]connect.Snapshot{0: snap(1, "one", p1), 3: {Seq: 7, Positions: p1, State: big}})
	save(t, s, "d/1", map[connect.TaskID]connect.Snapshot{0: snap(2, "two", p2)})
	save(t, s, "d/10", map[connect.TaskID]connect.Snapshot{0: snap(1, "other stage", p1)})

	stored, err := s.Stored(brokertest.Context(t), "d/1")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range stored {
		slices.SortFunc(l, func(a, b connect.Snapshot) int { return int(b.Seq - a.Seq) })
	}
	if len(stored) != 2 {
		t.Fatalf("Stored found tasks %v, want 0 and 3", slices.Collect(maps.Keys(stored)))
	}
	requireSnapshots(t, "stored task 0", stored[0], []connect.Snapshot{snap(2, "two", p2), snap(1, "one", p1)})
	requireSnapshots(t, "stored task 3", stored[3], []connect.Snapshot{{Seq: 7, Positions: p1, State: big}})

	n, err := s.Delete(brokertest.Context(t), "d/1")
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 { // task 0: two slots; task 3: two chunks
		t.Errorf("Delete wrote %d tombstones, want 4", n)
	}
	if got := load(t, s, "d/1", 0, 3); len(got) != 0 {
		t.Fatalf("after Delete, Load returned %v", got)
	}
	if stored, err := s.Stored(brokertest.Context(t), "d/1"); err != nil || len(stored) != 0 {
		t.Fatalf("after Delete, Stored returned %v, %v", stored, err)
	}
	requireSnapshots(t, "the other stage", load(t, s, "d/10", 0)[0], []connect.Snapshot{snap(1, "other stage", p1)})
	if n, err := s.Delete(brokertest.Context(t), "d/1"); err != nil || n != 0 {
		t.Fatalf("a second Delete wrote %d tombstones (%v), want none", n, err)
	}

	// A new seq 1 takes slot 1; slot 0 (seq 2 before) stays empty.
	save(t, s, "d/1", map[connect.TaskID]connect.Snapshot{0: snap(1, "again", p2)})
	requireSnapshots(t, "after a new save", load(t, s, "d/1", 0)[0], []connect.Snapshot{snap(1, "again", p2)})
}
