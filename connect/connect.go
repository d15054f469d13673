// Package connect is the connector contract of runnel: what a source and a
// sink implement so that the engine can run them exactly once, and the
// runtime that does so (Run). Connectors live in sources/<system> and
// sinks/<system>; this package knows none of them.
//
// # Records and positions
//
// Sources and sinks exchange engine.Raw records: key and value bytes,
// headers, event time, and the position the record was read from. A
// source is split into tasks (a topic source: one task per partition
// number; a file source: one task); every record belongs to one task, and
// a task's engine.Positions say, per input (topic partition, file), where
// reading resumes.
//
// # The exactly-once contract
//
// The runtime processes a task's records, hands the outputs to the sink
// (Sink.Write) and, at every checkpoint, asks the sink to make them durable
// together with the positions they cover (Sink.Commit). A sink that
// declares ExactlyOnce stores the positions atomically with its output: in
// the same database transaction, in the name of an atomically renamed
// file, in the same Kafka transaction. When a task starts (Sink.OpenTask)
// such a sink reports the positions it stored, and the source resumes
// there, whatever the consumer group's offsets say: the group offsets are
// then only committed for lag monitoring. Whatever was written and not
// committed when a process died is discarded by the sink (stray files are
// deleted, the transaction never committed), and the records are read and
// processed again.
//
// A sink that declares AtLeastOnce cannot do that: the runtime commits the
// positions to the source (Source.Commit: the group offsets) after the
// sink's Commit returned, and a crash in between replays records into the
// sink.
//
// A stage has one primary sink, the one whose positions are the truth:
// the stage resumes there and restores the state taken there. Other
// outputs of the stage (a dead-letter topic, a late-record output, a
// second branch) are committed before it on every checkpoint. An
// at-least-once one may see records again after a crash. An exactly-once
// one stores its positions too; when a crash (or an aborted transaction)
// came between its commit and the primary's, it reports positions ahead of
// the primary's, and while the stage replays up to them the outputs of
// records they cover are not written to it again, nor are its positions
// moved back. Outputs that no record caused (a window closed by a
// processing-time tick) carry no position and are written again.
//
// # State
//
// A task with windows has state. At a checkpoint the runtime snapshots it
// and stores the snapshot, tagged with the positions it reflects, in a
// compacted state topic (StateStore) before the primary sink commits; at
// start it restores the snapshot whose tag equals the positions the sink
// reports. Snapshots are kept for the last two checkpoints of each task, so
// a crash between the snapshot and the sink's commit finds the previous
// one. Because the snapshot is looked up by the sink's positions, state and
// output never disagree, whatever the sink.
//
// # The end of a bounded input
//
// At the end of a bounded input (ErrEndOfInput) the runtime commits and
// stops; windows the watermark has not closed stay in the state, for a
// later run. With StageConfig.CloseWindows it closes them (Flink's batch
// mode does the same): their results and the state without them must
// then be committed together with positions no other commit of the task
// had, or a crash between the state's save and the sink's commit would
// leave two snapshots at the same positions with nothing to tell which
// one the sink's output matches. So a stage reading the pipeline's input
// closes a task's windows in the first checkpoint that commits the task
// at its end: at the end of the input, or earlier when the source tells
// (Ender), and puts regular checkpoints off while a source that cannot
// tell has work to commit. A stage after a KeyBy closes in the task, as it
// reads its upstream tasks' end markers, which are records with positions
// of their own. A task committed at its end with windows open (by an
// earlier run without CloseWindows) keeps them open: the runtime says so.
//
// # Reprocessing
//
// A task resumes where its primary sink's positions say, with the state
// taken there; a task the sink reports no positions for resumes where the
// source itself would (the group's committed offsets, an offsets file),
// with empty state (the stored snapshots are then ignored). So to process
// an input again, every place that keeps positions is reset together
// (pipelines' Reset): the exactly-once sinks forget theirs
// (PositionsDeleter), the state store its snapshots, and the source's
// own positions are moved to where the processing starts again.
package connect

import (
	"context"
	"errors"
	"fmt"

	"github.com/runnel-io/runnel/engine"
)

// Record is the unit sources produce and sinks consume.
type Record = engine.Raw

// TaskID identifies a task of a source: the partition number for topics.
type TaskID = int32

// Checkpoint holds, for each task it covers, the positions up to which the
// task's records have been processed.
type Checkpoint map[TaskID]engine.Positions

// Delivery is what a sink guarantees.
type Delivery int

const (
	// AtLeastOnce sinks may see a record again after a crash.
	AtLeastOnce Delivery = iota
	// ExactlyOnce sinks store positions atomically with their output.
	ExactlyOnce
)

func (d Delivery) String() string {
	if d == ExactlyOnce {
		return "exactly-once"
	}
	return "at-least-once"
}

// Batch is a run of records of one task, in source order.
type Batch struct {
	Task    TaskID
	Records []*Record
	// Past holds, per input, a position the source moved to past
	// offsets that hold no record (a topic's transaction markers): the
	// task's position moves there too, after the records, so that a
	// partition ending with a marker is committed at its end. A batch
	// may have no records and only Past.
	Past engine.Positions
}

// Assignments receives the task changes of a source. The source calls it
// only from inside Poll, so never while the caller processes records.
type Assignments interface {
	// Assigned is called when the source is given tasks. It returns the
	// positions each task resumes from; a task missing from the result,
	// or an input missing from its positions, resumes where the source
	// itself would (the group's committed offsets or its reset policy,
	// the start of a file).
	Assigned(ctx context.Context, tasks []TaskID) (map[TaskID]engine.Positions, error)
	// Revoked is called before tasks are taken away: the runtime commits
	// their work first.
	Revoked(ctx context.Context, tasks []TaskID)
	// Lost is called when tasks were taken away without a chance to
	// commit (the group session expired): their uncommitted work is
	// dropped.
	Lost(ctx context.Context, tasks []TaskID)
}

// Source reads records.
type Source interface {
	// Open starts the source; task changes are reported to a.
	Open(ctx context.Context, a Assignments) error
	// Poll waits for records and returns them by task. It returns ctx's
	// error when ctx ends, and ErrEndOfInput when a bounded source has
	// nothing more to read (the --once mode; a following source never
	// does).
	Poll(ctx context.Context) ([]Batch, error)
	// Commit reports processed positions: for an at-least-once sink they
	// are the positions (the group offsets); for an exactly-once sink the
	// source may keep them for monitoring.
	Commit(ctx context.Context, cp Checkpoint) error
	// Lag returns, per task, how many records (or bytes, for files) are
	// known to be waiting; -1 when unknown.
	Lag() map[TaskID]int64
	Close(ctx context.Context) error
}

// InputLister is implemented by a source whose tasks read several inputs
// known in advance (a topic source reading co-partitioned topics: task p
// reads partition p of each). The runtime has the windows of a task wait
// for each of them before their watermark moves, so that an input read
// later than the others does not find its windows closed.
type InputLister interface {
	Inputs(task TaskID) []engine.Input
}

// Ender is implemented by a bounded source that can tell, task by task,
// when a task has read everything the run reads (a topic source after
// StopAtEnd: every partition of the task read up to where the run ends).
// AtEnd must never report an end early: the task's windows close then
// (StageConfig.CloseWindows). Reporting it late is safe: the windows close
// at the end of the input, or stay open when a checkpoint committed the
// task's end first. The runtime calls it with its own lock held, between
// Polls.
type Ender interface {
	AtEnd(task TaskID) bool
}

// Skipper is implemented by a source that can tell when records of its
// inputs were deleted before it read them (a topic's retention or
// DeleteRecords took the segment it was about to read): Skipped returns
// how many so far, counted in Stats.Deleted. The source also logs each
// such gap at WARN.
type Skipper interface {
	Skipped() int64
}

// ErrEndOfInput is returned by Poll of a source that read everything it
// was asked to (a bounded run).
var ErrEndOfInput = errors.New("connect: end of input")

// ErrAborted is returned by a sink's Commit when the commit was rolled
// back and the source was rewound to the last committed positions (a
// Kafka transaction aborted by a rebalance): the runtime restores the
// tasks' last committed state and processes the records again.
var ErrAborted = errors.New("connect: commit aborted")

// Sink writes records.
type Sink interface {
	// Delivery says whether the sink stores positions with its output.
	Delivery() Delivery
	// OpenTask prepares the sink for a task and returns the positions the
	// sink stored for it (nil for an at-least-once sink or a task never
	// committed). It drops whatever a previous owner of the task wrote
	// and did not commit.
	OpenTask(ctx context.Context, task TaskID) (engine.Positions, error)
	// Write buffers records of a task. They are durable only once Commit
	// returns; the sink may write them out earlier. Write may block: that
	// is how a slow sink slows the source. The records are valid until
	// Write returns (the runtime reuses them): a sink that keeps them
	// keeps copies of the structs (their Key, Value and Headers are never
	// written to again).
	Write(ctx context.Context, task TaskID, recs []*Record) error
	// Commit makes what was written for the tasks of cp durable, each
	// task atomically with its positions for an exactly-once sink. Tasks
	// with nothing written since their last commit may be in cp: their
	// positions still advance.
	Commit(ctx context.Context, cp Checkpoint) error
	// CloseTask drops a task: what was written and not committed is
	// discarded.
	CloseTask(ctx context.Context, task TaskID) error
	Close(ctx context.Context) error
}

// PositionsDeleter is implemented by an exactly-once sink that can list
// and forget the positions it stored. A reset of its pipeline (to process
// the input again, `runnel pipeline reset`) deletes them, so that the
// stage no longer resumes where the sink was, but where the source's own
// positions say (the group offsets, an offsets file), which the reset
// moved. Neither method may delete the sink's output.
type PositionsDeleter interface {
	// StoredPositions returns the positions the sink stored, by task, as
	// OpenTask would report them; tasks without any are left out. It
	// changes nothing; the caller owns the result.
	StoredPositions(ctx context.Context) (map[TaskID]engine.Positions, error)
	// DeletePositions forgets the positions the sink stored for every
	// task, so that OpenTask reports none (nil). Call it on a sink with
	// no task open, while no process runs the stage: a sink that can
	// fence makes one that still has a task open fail its next Commit
	// rather than store positions again.
	DeletePositions(ctx context.Context) error
}

// Rejection is an output record a sink refused, and why: a value its
// column cannot hold, a document its index mapping refuses.
type Rejection struct {
	// Task is the task the record was written for (Prepare sets it;
	// Write's rejections are of the task written).
	Task   TaskID
	Record *Record
	Reason error
}

// RejectedError is returned by Write or Prepare when the sink refused some
// records and took all the others. The runtime applies the graph's error
// policy to each refused record: with DeadLetter it is written to the
// dead-letter output, with the reason and its source position in headers
// (engine.HeaderError and the others); with Skip it is counted and
// logged; with Fail the stage stops.
type RejectedError struct {
	Rejected []Rejection
}

func (e *RejectedError) Error() string {
	if len(e.Rejected) == 0 {
		return "connect: no record rejected"
	}
	r := e.Rejected[0]
	msg := fmt.Sprintf("connect: record from %s[%d] offset %d rejected: %v", r.Record.Pos.Stream, r.Record.Pos.Partition, r.Record.Pos.Offset, r.Reason)
	if n := len(e.Rejected) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Preparer is implemented by a sink that sends its records to the target
// in a first phase, without their positions: rows into an open
// transaction, bulk requests. At a checkpoint the runtime calls Prepare on
// every such sink of the stage before it commits any: the records refused
// then (a RejectedError) reach the dead-letter output in the same
// checkpoint. Commit then only stores the positions and ends the
// transaction. cp is what Commit will be given.
type Preparer interface {
	Prepare(ctx context.Context, cp Checkpoint) error
}

// Roller is implemented by a sink that wants a checkpoint before the
// interval is up: a file sink whose part file reached its size or record
// limit. The runtime asks after every Write.
type Roller interface {
	WantsCommit() bool
}

// Broadcaster is implemented by a sink that can write one record to every
// partition of its output (the topic sink): the runtime broadcasts the
// watermark markers of a KeyBy's writers through it.
type Broadcaster interface {
	Broadcast(ctx context.Context, task TaskID, rec *Record) error
}
