// Package kafkastate stores task snapshots in a compacted Kafka topic, so
// that a task's state follows it to whichever process the consumer group
// hands it: the built-in broker or any Kafka cluster keeps it.
//
// Each task has two slots, the parity of its checkpoint number, so the
// topic always holds the last two snapshots of each task (see the package
// doc of connect for why two). A snapshot larger than a record can hold is
// cut into chunks. Record keys and values:
//
//	key:   <stage>/<task>/<slot>/<chunk>           e.g. "clicks/0/3/1/0"
//	value: +---------+--------+---------+-----------+----------------+-------+
//	       | version | seq    | save id | chunks    | positions len  | ...   |
//	       | 1 byte  | varint | 8 bytes | uvarint   | uvarint        |       |
//	       |   = 2   |        |         |           |                |       |
//	       +---------+--------+---------+-----------+----------------+-------+
//	       ... positions (JSON, in chunk 0 only) | state bytes of this chunk
//
// A snapshot is whole when all its chunks carry the save id of its chunk 0
// (random per save: a checkpoint that failed is saved again with the same
// seq, and a torn second save must not be glued to the first's chunks); a
// torn one (a crash between chunks) is ignored and the other slot is used.
//
// Delete forgets a stage's snapshots (a reset of its pipeline, to process
// its input again): a tombstone (a record without a value) for each of
// their keys, which readers take as "no snapshot" and compaction removes.
package kafkastate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// ChunkSize is the most state bytes one record carries (Kafka's default
// message.max.bytes is 1 MiB).
const ChunkSize = 512 << 10

// Store is a StateStore over one compacted topic of one partition.
type Store struct {
	topic string
	opts  []kgo.Opt
	cl    *kgo.Client
}

// New connects to brokers and creates the topic when it is missing
// (compacted, one partition).
func New(ctx context.Context, brokers []string, topic string, opts ...kgo.Opt) (*Store, error) {
	opts = append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)
	cl, err := kgo.NewClient(append(opts, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(ChunkSize+64<<10))...)
	if err != nil {
		return nil, fmt.Errorf("kafkastate: %w", err)
	}
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": ptr("compact")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		cl.Close()
		return nil, fmt.Errorf("kafkastate: creating the state topic %s: %w", topic, err)
	}
	return &Store{topic: topic, opts: opts, cl: cl}, nil
}

func ptr[T any](v T) *T { return &v }

// Close closes the store's client.
func (s *Store) Close() { s.cl.Close() }

func key(stage string, task connect.TaskID, slot int64, chunk int) string {
	return fmt.Sprintf("%s/%d/%d/%d", stage, task, slot, chunk)
}

// Save implements connect.StateStore.
func (s *Store) Save(ctx context.Context, stage string, snaps map[connect.TaskID]connect.Snapshot) error {
	var recs []*kgo.Record
	for id, sn := range snaps {
		pos, err := encodePositions(sn.Positions)
		if err != nil {
			return err
		}
		n := max(1, (len(sn.State)+ChunkSize-1)/ChunkSize)
		saveID := rand.Uint64()
		for i := 0; i < n; i++ {
			var v []byte
			v = append(v, 2)
			v = binary.AppendVarint(v, sn.Seq)
			v = binary.BigEndian.AppendUint64(v, saveID)
			v = binary.AppendUvarint(v, uint64(n))
			if i == 0 {
				v = binary.AppendUvarint(v, uint64(len(pos)))
				v = append(v, pos...)
			} else {
				v = binary.AppendUvarint(v, 0)
			}
			v = append(v, sn.State[i*ChunkSize:min(len(sn.State), (i+1)*ChunkSize)]...)
			recs = append(recs, &kgo.Record{Topic: s.topic, Partition: 0, Key: []byte(key(stage, id, sn.Seq%2, i)), Value: v})
		}
	}
	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafkastate: writing to %s: %w", s.topic, err)
	}
	return nil
}

// positionsJSON is how positions are written: a list, as JSON objects
// cannot have struct keys.
type positionsJSON struct {
	Stream    string `json:"s"`
	Partition int32  `json:"p"`
	Offset    int64  `json:"o"`
}

func encodePositions(p engine.Positions) ([]byte, error) {
	l := make([]positionsJSON, 0, len(p))
	for in, off := range p {
		l = append(l, positionsJSON{in.Stream, in.Partition, off})
	}
	return json.Marshal(l)
}

func decodePositions(b []byte) (engine.Positions, error) {
	var l []positionsJSON
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	p := make(engine.Positions, len(l))
	for _, e := range l {
		p[engine.Input{Stream: e.Stream, Partition: e.Partition}] = e.Offset
	}
	return p, nil
}

type chunk struct {
	seq   int64
	id    uint64
	n     int
	pos   []byte
	state []byte
}

func parse(v []byte) (chunk, error) {
	var c chunk
	if len(v) < 1 || v[0] != 2 {
		return c, errors.New("unknown snapshot version")
	}
	r := bytes.NewReader(v[1:])
	seq, err := binary.ReadVarint(r)
	if err != nil {
		return c, err
	}
	var idb [8]byte
	if _, err := io.ReadFull(r, idb[:]); err != nil {
		return c, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n == 0 || n > 1<<20 {
		return c, fmt.Errorf("bad chunk count")
	}
	pl, err := binary.ReadUvarint(r)
	if err != nil || pl > uint64(r.Len()) {
		return c, fmt.Errorf("bad positions length")
	}
	rest := v[len(v)-r.Len():]
	return chunk{seq: seq, id: binary.BigEndian.Uint64(idb[:]), n: int(n), pos: rest[:pl], state: rest[pl:]}, nil
}

// Load implements connect.StateStore: it reads the topic to its end.
func (s *Store) Load(ctx context.Context, stage string, tasks []connect.TaskID) (map[connect.TaskID][]connect.Snapshot, error) {
	latest, err := s.latest(ctx, stage)
	if err != nil {
		return nil, err
	}
	return assemble(latest, stage, tasks)
}

// Stored returns the snapshots the topic holds for every task of the
// stage, as Load would return them. It changes nothing.
func (s *Store) Stored(ctx context.Context, stage string) (map[connect.TaskID][]connect.Snapshot, error) {
	latest, err := s.latest(ctx, stage)
	if err != nil {
		return nil, err
	}
	return assemble(latest, stage, tasksOf(latest, stage))
}

// Delete forgets every snapshot of the stage, of every task: it writes a
// tombstone for each of their records (compaction then removes them),
// and returns how many. A task without a snapshot starts with empty
// state, and its slots are used again from seq 1, so that no snapshot of
// before the deletion can match the positions of a later checkpoint.
// Call it while no process runs the stage.
func (s *Store) Delete(ctx context.Context, stage string) (int, error) {
	latest, err := s.latest(ctx, stage)
	if err != nil {
		return 0, err
	}
	recs := make([]*kgo.Record, 0, len(latest))
	for k := range latest {
		recs = append(recs, &kgo.Record{Topic: s.topic, Partition: 0, Key: []byte(k)})
	}
	if len(recs) == 0 {
		return 0, nil
	}
	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return 0, fmt.Errorf("kafkastate: deleting the snapshots of %s from %s: %w", stage, s.topic, err)
	}
	return len(recs), nil
}

// tasksOf returns the tasks that have records in latest, sorted.
func tasksOf(latest map[string][]byte, stage string) []connect.TaskID {
	var tasks []connect.TaskID
	for k := range latest {
		rest := strings.TrimPrefix(k, stage+"/")
		id, _, _ := strings.Cut(rest, "/")
		n, err := strconv.ParseInt(id, 10, 32)
		if err != nil {
			continue
		}
		if t := connect.TaskID(n); !slices.Contains(tasks, t) {
			tasks = append(tasks, t)
		}
	}
	slices.Sort(tasks)
	return tasks
}

// latest reads the topic to its end and returns the last value of each
// key of the stage; a key whose last record is a tombstone is left out.
func (s *Store) latest(ctx context.Context, stage string) (map[string][]byte, error) {
	adm := kadm.NewClient(s.cl)
	ends, err := adm.ListEndOffsets(ctx, s.topic)
	if err != nil {
		return nil, fmt.Errorf("kafkastate: %w", err)
	}
	end, ok := ends.Lookup(s.topic, 0)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("kafkastate: the end of %s: %v", s.topic, end.Err)
	}
	latest := map[string][]byte{}
	if end.Offset == 0 {
		return latest, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), s.opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: {0: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		return nil, fmt.Errorf("kafkastate: %w", err)
	}
	defer cl.Close()
	prefix := stage + "/"
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, fe := range fs.Errors() {
			return nil, fmt.Errorf("kafkastate: reading %s: %w", s.topic, fe.Err)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if k := string(r.Key); strings.HasPrefix(k, prefix) {
				if r.Value == nil {
					delete(latest, k) // a tombstone: Delete
				} else {
					latest[k] = r.Value
				}
			}
			if r.Offset >= end.Offset-1 {
				done = true
			}
		})
		if done {
			return latest, nil
		}
	}
}

// assemble builds the whole snapshots of tasks from the records of
// latest.
func assemble(latest map[string][]byte, stage string, tasks []connect.TaskID) (map[connect.TaskID][]connect.Snapshot, error) {
	out := map[connect.TaskID][]connect.Snapshot{}
	for _, t := range tasks {
		for slot := int64(0); slot < 2; slot++ {
			first, ok := latest[key(stage, t, slot, 0)]
			if !ok {
				continue
			}
			c0, err := parse(first)
			if err != nil {
				return nil, fmt.Errorf("kafkastate: %s: %w", key(stage, t, slot, 0), err)
			}
			state := append([]byte(nil), c0.state...)
			whole := true
			for i := 1; i < c0.n; i++ {
				v, ok := latest[key(stage, t, slot, i)]
				if !ok {
					whole = false
					break
				}
				ci, err := parse(v)
				if err != nil || ci.seq != c0.seq || ci.id != c0.id {
					whole = false
					break
				}
				state = append(state, ci.state...)
			}
			if !whole {
				continue
			}
			pos, err := decodePositions(c0.pos)
			if err != nil {
				return nil, fmt.Errorf("kafkastate: %s: %w", key(stage, t, slot, 0), err)
			}
			out[t] = append(out[t], connect.Snapshot{Seq: c0.seq, Positions: pos, State: state})
		}
	}
	return out, nil
}
