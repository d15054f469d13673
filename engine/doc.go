// Package engine is runnel's pipeline runtime: the dataflow graph, its
// operators, windows over event time, and the per-task state they keep. It
// imports nothing from connect, sources, sinks, pipelines or broker; the
// runtime that feeds tasks from sources and hands their output to sinks is
// package connect.
//
// # Graphs and tasks
//
// A Graph is declared with typed functions: From (a source, decoded with
// serdes), Map, MapRecord, Filter, FlatMap, Peek, WithTime, Branch, Merge,
// KeyBy, Window + Aggregate (+ Late), and To (an output, encoded with
// serdes). The graph is a template. A Task instantiates it for one input
// partition, with its own operators and state; operators of a task are
// fused: a record goes through the whole chain in function calls, with no
// queue between operators (Flink calls this operator chaining). Queues,
// and so backpressure, are only where a task meets the outside: the
// source's bounded fetch buffer and the sinks' bounded write buffers. A
// slow sink blocks Write, which stops the task from polling, which stops
// the fetches.
//
// # Stages and repartitioning
//
// KeyBy cuts the graph into stages. Run distributed, the records of stage
// s are written to a repartition topic keyed by the new key, and stage s+1
// reads that topic, so that all records of a key meet in one task (Kafka
// Streams does the same). Each stage is a consumer group of its own, and
// each process running the pipeline joins all of them: the groups share
// the partitions between processes, and move them when a process dies.
//
// # Event time, watermarks, windows
//
// Records carry an event time (Record.Time, Unix ms): the source's
// timestamp, or what WithTime computes from the record. A window operator
// keeps a watermark per input (topic partition): its largest event time
// minus the window's Delay (bounded out-of-orderness). The operator's
// watermark is the smallest over its inputs, leaving out inputs without
// records for longer than Idle, and it never goes back. After a KeyBy the
// inputs are the upstream tasks (see KeyBy), so a slow upstream task holds
// windows back instead of making the others' records late.
//
// A window [Start, End) closes when the watermark reaches End+Grace; with
// EmitFinal its result is written then, once; with EmitUpdate after every
// change. A record that fits no open window is late: it goes to the
// window's Late stream (counted in Metrics.Late; dropped when nothing
// reads that stream). Windows are tumbling, hopping, sliding (one per
// record, over the span before it) or session (closing after a gap);
// aggregations are Count, Sum, Min, Max, Avg, CountDistinct, Reduce, or any
// Agg.
//
// At the end of a bounded input the windows a watermark has not closed
// stay open, for a later run. A run may close them instead, as Flink's
// batch mode does: Task.CloseWindows closes every open window as if the
// watermark had gone to +∞, and leaves the watermark at the end of the
// last one (plus the grace), so that a later run finds records for those
// windows late and opens windows for later times. Across a KeyBy the end
// travels as end markers (Task.ClosingMarkers): a task of the next stage
// closes its windows as it reads the end of its last upstream task.
//
// # State
//
// A task's state is its windows (and their watermarks). Task.Snapshot
// encodes it as JSON, one member per stateful operator by name, and
// Task.Restore brings it back. The runtime stores a snapshot at every
// checkpoint, tagged with the input positions it reflects, and restores
// the one whose positions equal those the sink committed (connect's
// package doc has the protocol).
//
// Why snapshots and not a changelog topic (Kafka Streams' choice): a
// changelog is exactly-once only if writing it and committing the output
// are one atomic step, which only a Kafka transaction gives, so Kafka
// Streams is exactly-once only into Kafka. Runnel's sinks are also files,
// Postgres and Elasticsearch, each committing positions its own way. A
// snapshot looked up by the positions the sink committed is consistent
// with the output whatever the sink, with no two-phase commit across
// systems. The cost is writing the whole state of a task at each
// checkpoint rather than what changed; window state is bounded by the open
// windows (keys × windows open at once), which is small for the usual
// windows, and for big state incremental snapshots (a delta chain) fit the
// same protocol later.
//
// # Errors
//
// A record an operator cannot process (a decode error, an error from a
// user function, an encode error) goes to the graph's ErrorPolicy: Fail
// stops the task with a *RecordError naming the operator and the source
// position; Skip logs and counts it; DeadLetter writes the source record,
// as read, to a dead-letter output with the error and position in headers.
//
// # Testing
//
// Package enginetest runs a graph deterministically: feed records and
// watermarks, read the outputs. The golden tests of this package
// (testdata/golden) are written with it.
package engine
