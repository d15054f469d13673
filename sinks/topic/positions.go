package topic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// A sink with a positions topic stores, in the transaction of each
// checkpoint, one record per task of the checkpoint:
//
//	key:   PositionsKey "/" task            e.g. "feed/views/host-1a2b3c4d/0"
//	value: {"version":1,"positions":[{"stream":"datagen:pageviews@2026-12-07T09:00:00Z","partition":0,"next":5000}]}
//
// The topic is compacted: its last record of a key is the task's
// positions. OpenTask first loads the sink's producer id, which fences
// the previous owner of the transactional id (a crashed process) and
// aborts its open transaction, then reads the topic read_committed from
// its start to its last stable offset: the last record of the task's key
// is where the source resumes, and what the sink's output holds up to.
//
// DeletePositions, which a reset of the pipeline calls, writes a
// tombstone (a record without a value) for every key under PositionsScope
// (of every process), in a transaction:
// a task whose last record is a tombstone has no positions, and the
// source starts where its own positions say (a datagen, file or Postgres
// source's offsets file).

// positionsVersion is the version of the value format.
const positionsVersion = 1

type positionsValue struct {
	Version   int             `json:"version"`
	Positions []positionEntry `json:"positions"`
}

type positionEntry struct {
	Stream    string `json:"stream"`
	Partition int32  `json:"partition"`
	Next      int64  `json:"next"`
}

func (s *Sink) positionsKey(task connect.TaskID) string {
	return s.cfg.PositionsKey + "/" + strconv.Itoa(int(task))
}

func encodePositions(pos engine.Positions) []byte {
	v := positionsValue{Version: positionsVersion}
	for _, in := range slices.SortedFunc(maps.Keys(pos), func(a, b engine.Input) int {
		if c := strings.Compare(a.Stream, b.Stream); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	}) {
		v.Positions = append(v.Positions, positionEntry{in.Stream, in.Partition, pos[in]})
	}
	b, _ := json.Marshal(v) // strings and numbers only
	return b
}

func decodePositions(b []byte) (engine.Positions, error) {
	var v positionsValue
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if v.Version != positionsVersion {
		return nil, fmt.Errorf("unknown version %d", v.Version)
	}
	pos := engine.Positions{}
	for _, e := range v.Positions {
		if e.Next < 0 {
			return nil, fmt.Errorf("negative position %d of %s[%d]", e.Next, e.Stream, e.Partition)
		}
		pos[engine.Input{Stream: e.Stream, Partition: e.Partition}] = e.Next
	}
	return pos, nil
}

// openPositions fences the previous owner of the sink's transactional id,
// once, and returns the positions of task stored in the positions topic.
func (s *Sink) openPositions(ctx context.Context, task connect.TaskID) (engine.Positions, error) {
	if err := s.fence(ctx); err != nil {
		return nil, err
	}
	key := s.positionsKey(task)
	latest, err := s.readPositions(ctx, true)
	if err != nil {
		return nil, err
	}
	last, ok := latest[key]
	if !ok {
		return nil, nil
	}
	pos, err := decodePositions(last.value)
	if err != nil {
		return nil, fmt.Errorf("topic sink: the positions topic %s, key %s: %w", s.cfg.PositionsTopic, key, err)
	}
	return pos, nil
}

// fence loads the sink's producer id, once: this fences the previous
// owner of the transactional id and aborts its open transaction.
func (s *Sink) fence(ctx context.Context) error {
	if s.fenced {
		return nil
	}
	if _, _, err := s.cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("topic sink: initializing the transactional producer %s: %w", s.cfg.TransactionalID, err)
	}
	s.fenced = true
	return nil
}

// positionsRecord is the last record of a key of the positions topic.
type positionsRecord struct {
	partition int32
	value     []byte
}

// readPositions reads the positions topic from its start and returns the
// last record of each key; a key whose last record is a tombstone is left
// out. committed reads what is committed, up to the last stable offset
// (what OpenTask reads); otherwise it reads everything up to the high
// watermark, records of open or aborted transactions too.
func (s *Sink) readPositions(ctx context.Context, committed bool) (map[string]positionsRecord, error) {
	topic := s.cfg.PositionsTopic
	adm := kadm.NewClient(s.cl)
	list, isolation := adm.ListCommittedOffsets, kgo.ReadCommitted()
	if !committed {
		list, isolation = adm.ListEndOffsets, kgo.ReadUncommitted()
	}
	ends, err := list(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return map[string]positionsRecord{}, nil // no topic: no positions
	}
	if err != nil {
		return nil, fmt.Errorf("topic sink: the end of the positions topic %s: %w", topic, err)
	}
	want := map[int32]int64{} // partition -> its end
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	latest := map[string]positionsRecord{}
	offsets := map[int32]kgo.Offset{}
	for p := range want {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	if len(offsets) == 0 {
		return latest, nil
	}
	// Transaction markers are read too: the end may be one.
	rd, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.FetchIsolationLevel(isolation), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})}, s.cfg.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("topic sink: %w", err)
	}
	defer rd.Close()
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = errors.Join(ferr, err) })
		if ferr != nil {
			return nil, fmt.Errorf("topic sink: reading the positions topic %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			switch {
			case r.Attrs.IsControl():
			case r.Value == nil:
				delete(latest, string(r.Key))
			default:
				latest[string(r.Key)] = positionsRecord{r.Partition, r.Value}
			}
		})
	}
	return latest, nil
}

var _ connect.PositionsDeleter = (*Sink)(nil)

// StoredPositions implements connect.PositionsDeleter: the positions
// stored under the sink's PositionsScope, by task, as OpenTask reads them
// (the positions of a task that several processes kept, each under its
// own key, merged: the furthest per input). It changes nothing. A sink without a positions topic stores none of
// its own: an at-least-once sink has none, and a transactional sink's
// are its source group's committed offsets (which a reset moves itself).
func (s *Sink) StoredPositions(ctx context.Context) (map[connect.TaskID]engine.Positions, error) {
	out := map[connect.TaskID]engine.Positions{}
	if !s.txn {
		return out, nil
	}
	latest, err := s.readPositions(ctx, true)
	if err != nil {
		return nil, err
	}
	for key, r := range latest {
		rest, ok := strings.CutPrefix(key, s.cfg.PositionsScope+"/")
		if !ok {
			continue
		}
		task, err := strconv.ParseInt(rest[strings.LastIndexByte(rest, '/')+1:], 10, 32)
		if err != nil {
			continue
		}
		pos, err := decodePositions(r.value)
		if err != nil {
			return nil, fmt.Errorf("topic sink: the positions topic %s, key %s: %w", s.cfg.PositionsTopic, key, err)
		}
		for in, next := range pos {
			if out[connect.TaskID(task)] == nil {
				out[connect.TaskID(task)] = engine.Positions{}
			}
			out[connect.TaskID(task)][in] = max(out[connect.TaskID(task)][in], next)
		}
	}
	return out, nil
}

// DeletePositions implements connect.PositionsDeleter: it writes a
// tombstone for every key under PositionsScope (of every process), in a
// transaction of the sink's
// transactional id, which first fences a previous owner of the id (its
// open transaction is aborted). The records written to Topic stay. A sink
// without a positions topic has nothing to delete.
func (s *Sink) DeletePositions(ctx context.Context) error {
	if !s.txn {
		return nil
	}
	if err := s.fence(ctx); err != nil {
		return err
	}
	// Every key of the scope, those of open or aborted transactions too:
	// a tombstone too many is harmless.
	latest, err := s.readPositions(ctx, false)
	if err != nil {
		return err
	}
	maps.DeleteFunc(latest, func(key string, _ positionsRecord) bool {
		return !strings.HasPrefix(key, s.cfg.PositionsScope+"/")
	})
	if len(latest) == 0 {
		return nil
	}
	if err := s.begin(); err != nil {
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(latest)) {
		r := &kgo.Record{Topic: s.cfg.PositionsTopic, Partition: latest[key].partition, Key: []byte(key), Timestamp: time.Now(), Context: explicitCtx}
		s.cl.Produce(context.WithoutCancel(ctx), r, s.promise)
	}
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("topic sink: flushing: %w", err)
	}
	if err := s.firstErr(); err != nil {
		aerr := s.cl.EndTransaction(ctx, kgo.TryAbort)
		s.inTxn = aerr != nil
		s.takeErr()
		return fmt.Errorf("topic sink: deleting the positions in %s: %w", s.cfg.PositionsTopic, errors.Join(err, aerr))
	}
	if err := s.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("topic sink: deleting the positions in %s: ending the transaction: %w", s.cfg.PositionsTopic, err)
	}
	s.inTxn = false
	return nil
}

// commitPositions writes cp's positions and commits the transaction that
// holds them with the records written since the last commit.
func (s *Sink) commitPositions(ctx context.Context, cp connect.Checkpoint) error {
	if err := s.begin(); err != nil {
		return err
	}
	for task, pos := range cp {
		s.cl.Produce(context.WithoutCancel(ctx), &kgo.Record{Topic: s.cfg.PositionsTopic, Key: []byte(s.positionsKey(task)),
			Value: encodePositions(pos), Timestamp: time.Now()}, s.promise)
	}
	// As Commit of a session: flush before looking at the errors, and a
	// flush cut short by ctx leaves the transaction open for the next
	// Commit (the runtime's last checkpoint) to end.
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("topic sink: flushing: %w", err)
	}
	if err := s.firstErr(); err != nil {
		if aerr := s.cl.EndTransaction(ctx, kgo.TryAbort); aerr != nil {
			return errors.Join(err, aerr)
		}
		s.inTxn = false
		s.takeErr()
		return fmt.Errorf("topic sink: producing to %s: %w", s.cfg.Topic, err)
	}
	if err := s.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		s.inTxn = ctx.Err() != nil && errors.Is(err, ctx.Err())
		return fmt.Errorf("topic sink: ending the transaction: %w", err)
	}
	s.inTxn = false
	return nil
}
