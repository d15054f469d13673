// Package pipelines runs pipelines: a graph of package engine bound to
// connectors (topics of the built-in broker or of any Kafka cluster,
// files, generated data; Postgres and Elasticsearch to come), declared in
// Go with a typed DSL or in YAML files, both compiled to the same engine
// graph.
//
// A program declares a pipeline in a dozen lines and runs it:
//
//	p := pipelines.New("page-counts", pipelines.Options{Brokers: []string{"localhost:9092"}})
//	views := pipelines.FromTopic(p, "views", engine.String(), engine.JSON[View]())
//	timed := engine.WithTime(views, func(r engine.Record[string, View]) (int64, error) { return r.Value.TS, nil })
//	byPage := engine.KeyBy(timed, func(r engine.Record[string, View]) string { return r.Value.Page })
//	counts := engine.Aggregate(engine.Window(byPage, engine.Tumbling(time.Minute)), engine.Count[View]())
//	pipelines.ToFile(counts, file.Config{Dir: "out"}, engine.JSON[engine.WindowKey[string]](), engine.JSON[int64]())
//	err := p.Run(ctx)
//
// Without Brokers the built-in broker runs in-process on Options.DataDir.
// Run the same program in more processes to share the work: each stage of
// the pipeline is a consumer group, and a process that dies hands its
// tasks, with their state, to the others.
//
// Outputs are exactly once: a topic output in Kafka transactions that also
// commit the consumed offsets, a file output by atomic renames carrying
// the positions; state is restored as of the positions the output
// committed (see package connect). Run returns nil once ctx ends, after
// committing; a stage that fails for a reason that may pass (a broker or
// sink error) restarts from its last checkpoint, as Options.Restart says
// (by default for ever, waiting 1s doubling up to a minute; see
// RestartStrategy).
//
// LoadFile reads a YAML pipeline file (docs/pipelines-yaml.md in the
// repository): it checks it against the specs of its fields, connectors
// and steps, reports every problem at once as spec.Problems
// (file:line:col: message), and compiles the pipelines; File.Run runs
// them. Expressions are compiled once, by package exprs.
//
// File.Reset (and Pipeline.Reset) make a stopped pipeline process its
// input again: they move every position it keeps (the group offsets of
// its stages, the offsets files of its inputs, the positions its outputs
// stored, its state snapshots) to the start of the input or to a time,
// after a dry run by default; see reset.go.
//
// It is the only package (besides examples and cmd) importing both the
// engine and the connectors.
package pipelines
