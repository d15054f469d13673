// Package connecttest holds in-memory fakes of the connector contract of
// package connect, for tests of the stage runtime (connect.Runner) and of
// what is built on it:
//
//   - Source: a connect.Source over in-memory partition logs, whose task
//     assignments, revocations and losses are scripted (Push) and whose
//     read positions follow what Assigned returns, like the topic source.
//   - Sink: an exactly-once or at-least-once connect.Sink that keeps what
//     was written and committed, records every call, and fails, or returns
//     connect.ErrAborted, on the commit it is told to.
//   - State: a connect.StateStore keeping the last two snapshots of each
//     task, as the Kafka state store does.
//   - Assignments: fixed positions for task 0, for tests of a source on
//     its own (no runtime), recording each Assigned call.
//   - Journal: one list of calls shared by the fakes, so that a test can
//     check their order across them ("state.Save" before "out.Commit").
//
// Every fake is safe for concurrent use: the runtime calls it from its
// goroutine while the test inspects it from another.
//
// # Usage
//
//	j := &connecttest.Journal{}
//	src := connecttest.NewSource(j)
//	out := connecttest.NewExactlyOnceSink("out", j)
//	src.Append(connecttest.Input("in", 0), connecttest.Rec("k", "v", 1000))
//	src.Push(connecttest.Assign(0), connecttest.EndOfInput())
//	r, _ := connect.NewRunner(connect.StageConfig{Graph: g, Source: src,
//		Sinks: map[string]connect.Sink{"out": out}})
//	err := r.Run(ctx) // nil once the source reported the end of its input
//	// out.Output(0), out.Positions(0), j.Entries()...
package connecttest
