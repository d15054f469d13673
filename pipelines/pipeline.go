package pipelines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/kafkastate"
	"github.com/runnel-io/runnel/engine"
	topicsink "github.com/runnel-io/runnel/sinks/topic"
	topicsrc "github.com/runnel-io/runnel/sources/topic"
)

// Options configure where a pipeline runs.
type Options struct {
	// Brokers of the Kafka cluster the pipeline's topics live in. Empty:
	// the built-in broker runs in-process on DataDir.
	Brokers []string
	// DataDir of the embedded broker (default "data").
	DataDir string
	// CheckpointInterval is how often work is committed (default 1s).
	CheckpointInterval time.Duration
	// StopTimeout bounds a stop (the end of Run's context): each stage
	// processes the batch in hand and commits within it; past it Run
	// returns an error wrapping connect.ErrStopTimeout that says what was
	// not committed (the next run processes it again). Default 30s.
	StopTimeout time.Duration
	// InstanceID names this process among the processes running the
	// pipeline, stable across its restarts: the process is then a static
	// member of the consumer groups (restarted, it takes its partitions
	// back at once and fences its previous incarnation), and its
	// transactional ids are built from it. Default: dynamic membership,
	// and transactional ids built from the id kept in DataDir (the file
	// instance-id, made at the first run; see instance.go), so that a
	// restarted process still fences the transactions its previous
	// incarnation left open. DataDir is then locked while the pipeline
	// runs: give each process its own.
	InstanceID string
	// SessionTimeout of the consumer groups (default 10s): how long the
	// partitions of a crashed process wait before moving.
	SessionTimeout time.Duration
	// Once stops the pipeline when it has processed what its inputs held
	// when it started (files as they are, topics up to their last stable
	// offsets; a stage after a KeyBy once the stage before it is done),
	// committing first: for batch jobs and tests.
	Once bool
	// Restart says how a failed stage is restarted from its last
	// checkpoint. Default: for ever, waiting 1s doubling up to 1m, the
	// count starting again once the stage committed a checkpoint (see
	// RestartStrategy).
	Restart RestartStrategy
	// CloseWindows, with Once, closes every window at the end of the
	// input, as Flink's batch mode does, instead of leaving the windows
	// the watermark has not closed in the state for a later run: each
	// open window writes its final result, in the commit of the input's
	// last records, as if the watermark had gone to +∞. Across a KeyBy
	// the end travels with the records: a stage closes its windows once
	// every task of the stage before it ended. Afterwards the watermark
	// stands at the end of the last window closed, so that in a later run
	// records for those windows are late (the window's late output, or
	// dropped), as after any watermark past them, and records for later
	// windows open new ones. Windows an earlier run left open close in a
	// run that reads records again (see connect.StageConfig.CloseWindows).
	// Run refuses it without Once (ErrCloseWindowsNeedsOnce).
	CloseWindows bool
	// ClientOptions are added to every franz-go client (TLS, SASL...).
	ClientOptions []kgo.Opt
	Logger        *slog.Logger
}

// Pipeline is a graph with its connectors.
type Pipeline struct {
	g       *engine.Graph
	opts    Options
	static  bool // Options.InstanceID was given
	sources map[string]sourceBinding
	sinks   map[string]sinkBinding

	// labels name the outputs of a pipeline file (see labelled).
	labels []outputLabel
	// local are the sources that keep their positions in a file of
	// their own, by source name: Reset resets them.
	local map[string]localInput

	mu      sync.Mutex
	runners []*connect.Runner
	// before are, per stage, the counters of the runners a restart
	// replaced: Stats goes on from them.
	before []connect.Stats
	// With Options.Once: the source of each stage, and which stages are
	// done, so that a stage reading a repartition topic stops at its end
	// once the stage writing it is done.
	srcs []connect.Source
	done []bool
}

// sourceBinding makes a stage's source.
type sourceBinding func(rt *runtime, stage int) (connect.Source, error)

// sinkBinding makes a sink for a stage, given the stage's source.
type sinkBinding func(rt *runtime, stage int, src connect.Source, primary bool) (connect.Sink, error)

// New returns an empty pipeline; declare its graph with the From* and To*
// functions of this package and the operators of package engine.
func New(name string, o Options) *Pipeline {
	if o.DataDir == "" {
		o.DataDir = "data"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	static := o.InstanceID != ""
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 10 * time.Second
	}
	g := engine.NewGraph(name)
	g.SetLogger(o.Logger)
	p := &Pipeline{g: g, opts: o, static: static, sources: map[string]sourceBinding{}, sinks: map[string]sinkBinding{}, local: map[string]localInput{}}
	g.SetOwner(p)
	return p
}

// localInput is a source that keeps its positions in an offsets file of
// its own (file, Postgres and datagen sources).
type localInput struct {
	kind   string // "file", "postgres", "datagen"
	name   string // the input's name in a file, or the source's
	path   string // its offsets file; "" when it has none
	preset string // of a datagen input
}

// The roles of a file's outputs in a pipeline (OutputStats.Role).
const (
	RoleOutput     = "output"      // the pipeline's results
	RoleLate       = "late"        // a window's late records
	RoleDeadLetter = "dead letter" // the records that failed
)

// outputLabel names a sink of the graph as an output of a pipeline file.
type outputLabel struct {
	sink, name, role string
}

// labelled runs bind, which declares a sink, and names the sink it
// declared name, with role.
func (p *Pipeline) labelled(name, role string, bind func()) {
	before := maps.Clone(p.sinks)
	bind()
	for sink := range p.sinks {
		if _, ok := before[sink]; !ok {
			p.labels = append(p.labels, outputLabel{sink, name, role})
		}
	}
}

// Graph returns the pipeline's graph.
func (p *Pipeline) Graph() *engine.Graph { return p.g }

// FromTopic reads a topic. Run it in more processes with the same
// pipeline name to share the partitions.
func FromTopic[K, V any](p *Pipeline, topic string, keys engine.Serde[K], values engine.Serde[V]) engine.Stream[K, V] {
	return FromTopicConfig(p, topicsrc.Config{Topics: []string{topic}}, keys, values)
}

// FromTopicConfig reads cfg.Topics (co-partitioned topics, read as one
// stream: a record's Pos.Input.Stream says which) with cfg's StartAt and
// MaxPollRecords. The brokers, group and membership are the pipeline's.
func FromTopicConfig[K, V any](p *Pipeline, cfg topicsrc.Config, keys engine.Serde[K], values engine.Serde[V]) engine.Stream[K, V] {
	name := "topic:" + strings.Join(cfg.Topics, ",")
	p.sources[name] = func(rt *runtime, stage int) (connect.Source, error) {
		return rt.topicSource(stage, cfg)
	}
	return engine.From(p.g, name, keys, values)
}

// ToTopic writes to a topic, exactly once, in Kafka transactions: with the
// consumed offsets when the stage reads a topic of the same cluster (and
// this is its first output), with the source's positions when it reads
// another source (datagen, files, Postgres; see runtime.topicSink); at
// least once when it is a second output of a stage reading topics.
func ToTopic[K, V any](s engine.Stream[K, V], topic string, keys engine.Serde[K], values engine.Serde[V]) {
	ToTopicConfig(s, topicsink.Config{Topic: topic}, keys, values)
}

// ToTopicConfig is ToTopic with cfg's Topic and TransactionTimeout; the
// brokers and transactional id are the pipeline's.
func ToTopicConfig[K, V any](s engine.Stream[K, V], cfg topicsink.Config, keys engine.Serde[K], values engine.Serde[V]) {
	p := pipelineOf(s.Graph())
	name := "topic:" + cfg.Topic
	p.sinks[name] = func(rt *runtime, stage int, src connect.Source, primary bool) (connect.Sink, error) {
		return rt.topicSink(stage, cfg, src, primary)
	}
	engine.To(s, name, keys, values)
}

// FromSource reads a source connector that the pipeline does not know by
// name (one of sources/*, or your own connect.Source): newSource is called
// each time the stage starts (again).
func FromSource[K, V any](p *Pipeline, name string, newSource func() (connect.Source, error), keys engine.Serde[K], values engine.Serde[V]) engine.Stream[K, V] {
	p.sources[name] = func(*runtime, int) (connect.Source, error) { return newSource() }
	return engine.From(p.g, name, keys, values)
}

// ToSink writes to a sink connector (one of sinks/*, or your own
// connect.Sink): newSink is called each time the stage starts (again).
func ToSink[K, V any](s engine.Stream[K, V], name string, newSink func() (connect.Sink, error), keys engine.Serde[K], values engine.Serde[V]) {
	p := pipelineOf(s.Graph())
	p.sinks[name] = func(*runtime, int, connect.Source, bool) (connect.Sink, error) { return newSink() }
	engine.To(s, name, keys, values)
}

// DeadLetterTo sends the records that fail to the topic, with the error
// and source position in headers, at least once.
func (p *Pipeline) DeadLetterTo(topic string) {
	name := "dead-letter:" + topic
	p.g.SetErrorPolicy(engine.ErrorPolicy{Mode: engine.DeadLetter, DeadLetter: name})
	p.sinks[name] = func(rt *runtime, stage int, src connect.Source, _ bool) (connect.Sink, error) {
		return rt.topicSink(stage, topicsink.Config{Topic: topic}, nil, false)
	}
}

// SkipErrors drops the records that fail, with a log line each.
func (p *Pipeline) SkipErrors() { p.g.SetErrorPolicy(engine.ErrorPolicy{Mode: engine.Skip}) }

// pipelineOf finds the Pipeline of a graph, for the To* functions that
// only get a stream.
func pipelineOf(g *engine.Graph) *Pipeline {
	p, ok := g.Owner().(*Pipeline)
	if !ok {
		panic("pipelines: the stream does not belong to a pipeline made by pipelines.New")
	}
	return p
}

// Stats returns the progress of each running stage.
func (p *Pipeline) Stats() []connect.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]connect.Stats, len(p.runners))
	for i, r := range p.runners {
		out[i] = connect.Stats{Lag: -1, Watermark: math.MinInt64}
		if r != nil {
			out[i] = r.Stats()
		}
		if i < len(p.before) {
			out[i] = p.before[i].Plus(out[i])
		}
	}
	return out
}

// runtime is what Run sets up: the cluster and the per-stage wiring.
type runtime struct {
	ctx     context.Context
	opts    Options
	name    string
	brokers []string
	groups  []string // per stage
	static  bool
	// instance builds the transactional ids: Options.InstanceID, or the
	// data directory's id.
	instance string
	adm      *kadm.Client
	// partitions of the topics created for the pipeline: those of the
	// first stage's input.
	partitions int32
	// reset: the sinks are made for Reset, which only lists and deletes
	// their positions: topicSink creates no topic and no transactional
	// session; readsTopic says whether the stage they are made for reads
	// topics.
	reset, readsTopic bool
}

// stageGroups are the consumer groups of the stages of pipeline name:
// the name for stage 0, then <name>-stage<i>.
func stageGroups(name string, stages int) []string {
	groups := make([]string, stages)
	for i := range groups {
		groups[i] = name
		if i > 0 {
			groups[i] = fmt.Sprintf("%s-stage%d", name, i)
		}
	}
	return groups
}

// ensureTopic creates a topic the pipeline writes to when it is missing,
// with as many partitions as the pipeline's input.
func (rt *runtime) ensureTopic(topic string) error {
	resp, err := rt.adm.CreateTopic(rt.ctx, rt.partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("pipelines: creating the topic %s: %w", topic, err)
	}
	return nil
}

// ensureRepartition creates a KeyBy's repartition topic when it is
// missing, and sets its retention.ms to -1 (also on a topic an older
// runnel created): its records carry event times, which retention would
// compare with the clock and delete before the next stage read them. The
// next stage deletes what it committed instead (topicsrc.Config's
// DeleteCommitted), as Kafka Streams purges its repartition topics.
func (rt *runtime) ensureRepartition(topic string) error {
	if err := rt.ensureTopic(topic); err != nil {
		return err
	}
	forever := "-1"
	resp, err := rt.adm.AlterTopicConfigs(rt.ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &forever}}, topic)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = resp.On(topic, nil); err == nil {
			err = r.Err
		}
	}
	if err != nil {
		return fmt.Errorf("pipelines: setting retention.ms=-1 on the repartition topic %s: %w", topic, err)
	}
	return nil
}

// topicSource reads the topics of cfg, with the pipeline's brokers, group
// and membership.
func (rt *runtime) topicSource(stage int, cfg topicsrc.Config) (*topicsrc.Source, error) {
	cfg.Brokers, cfg.Group = rt.brokers, rt.groups[stage]
	cfg.SessionTimeout, cfg.ClientOptions, cfg.Logger = rt.opts.SessionTimeout, rt.opts.ClientOptions, rt.opts.Logger
	if rt.static {
		cfg.InstanceID = rt.opts.InstanceID
	}
	return topicsrc.New(cfg)
}

// topicSink writes cfg.Topic, creating it when missing, with the
// pipeline's brokers. It is exactly once when the stage reads a topic and
// the sink is its primary (one transaction with the consumed offsets), or
// when the stage reads another source (datagen, files, Postgres): then
// each checkpoint is one transaction with the source's positions, which
// go to the topic <pipeline>-<topic>-positions, as Kafka Connect's
// exactly-once source connectors do (KIP-618). Without a source (the dead
// letter) it is at least once.
func (rt *runtime) topicSink(stage int, cfg topicsink.Config, src connect.Source, primary bool) (connect.Sink, error) {
	if rt.reset {
		return rt.resetTopicSink(cfg, src)
	}
	if err := rt.ensureTopic(cfg.Topic); err != nil {
		return nil, err
	}
	cfg.Brokers, cfg.ClientOptions = rt.brokers, rt.opts.ClientOptions
	ts, fromTopic := src.(*topicsrc.Source)
	switch {
	case fromTopic && primary:
		cfg.TransactionalID = fmt.Sprintf("%s-%s", rt.groups[stage], rt.instance)
		return topicsink.NewTransactional(ts, cfg)
	case src != nil && !fromTopic:
		rt.withPositions(&cfg)
		if err := rt.ensureCompacted(cfg.PositionsTopic); err != nil {
			return nil, err
		}
	}
	return topicsink.New(cfg)
}

// withPositions sets the positions topic of a topic sink whose stage reads
// no topic: <pipeline>-<topic>-positions, keys under <pipeline>/<topic>
// (two pipelines whose names and topics make the same topic name keep
// apart), each process under its instance, and a transactional id of its
// own form (no group-based id can be it).
func (rt *runtime) withPositions(cfg *topicsink.Config) {
	cfg.PositionsTopic = fmt.Sprintf("%s-%s-positions", rt.name, cfg.Topic)
	cfg.PositionsScope = rt.name + "/" + cfg.Topic
	cfg.PositionsKey = cfg.PositionsScope + "/" + rt.instance
	cfg.TransactionalID = "positions:" + cfg.PositionsKey
}

// resetTopicSink is topicSink for Reset: a sink with the positions topic
// the stage's sink has when it reads no topic; otherwise an at-least-once
// sink, whose positions (none, or a transactional sink's group offsets)
// Reset does not ask for. It creates nothing.
func (rt *runtime) resetTopicSink(cfg topicsink.Config, src connect.Source) (connect.Sink, error) {
	cfg.Brokers, cfg.ClientOptions = rt.brokers, rt.opts.ClientOptions
	if src != nil && !rt.readsTopic {
		rt.withPositions(&cfg)
	}
	return topicsink.New(cfg)
}

// topicConfig is the configuration of a KeyBy's repartition output.
func topicConfig(topic string) topicsink.Config { return topicsink.Config{Topic: topic} }

// ensureCompacted creates a compacted topic of one partition when it is
// missing: where sinks keep positions.
func (rt *runtime) ensureCompacted(topic string) error {
	compact := "compact"
	resp, err := rt.adm.CreateTopic(rt.ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("pipelines: creating the topic %s: %w", topic, err)
	}
	return nil
}

// Run runs the pipeline until ctx ends (it then commits and returns nil),
// its bounded sources are read to the end with Options.Once, or an error
// stops it.
func (p *Pipeline) Run(ctx context.Context) error {
	err := p.run(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) && !errors.Is(err, connect.ErrStopTimeout) {
		return nil // stopped while starting
	}
	return err
}

// ErrCloseWindowsNeedsOnce is the error of Options.CloseWindows without
// Options.Once: only a bounded run has an end to close the windows at.
var ErrCloseWindowsNeedsOnce = errors.New("pipelines: closing the windows at the end of the input needs a bounded run (Once): a running pipeline's input has no end")

func (p *Pipeline) run(ctx context.Context) error {
	if err := p.opts.Restart.validate(); err != nil {
		return err
	}
	if p.opts.CloseWindows && !p.opts.Once {
		return ErrCloseWindowsNeedsOnce
	}
	stages, err := p.g.Stages()
	if err != nil {
		return err
	}
	rt := &runtime{opts: p.opts, name: p.g.Name(), brokers: p.opts.Brokers, static: p.static, instance: p.opts.InstanceID}
	if !p.static {
		id, release, err := acquireInstance(p.opts.DataDir)
		if err != nil {
			return err
		}
		defer release()
		rt.instance = id
	}
	if len(rt.brokers) == 0 {
		b, err := broker.New(broker.DataDir(p.opts.DataDir), broker.ListenAddr("127.0.0.1:0"), broker.GroupInitialRebalanceDelay(0))
		if err != nil {
			return fmt.Errorf("pipelines: starting the embedded broker: %w", err)
		}
		defer b.Close()
		rt.brokers = []string{b.Addr()}
	}
	rt.groups = stageGroups(p.g.Name(), len(stages))
	admCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(rt.brokers...)}, p.opts.ClientOptions...)...)
	if err != nil {
		return err
	}
	defer admCl.Close()
	rt.adm, rt.ctx = kadm.NewClient(admCl), ctx
	if rt.partitions, err = inputPartitions(ctx, rt.adm, stages); err != nil {
		return err
	}
	var store *kafkastate.Store
	for _, st := range stages {
		if st.Stateful {
			if store, err = kafkastate.New(ctx, rt.brokers, p.g.Name()+"-state", p.opts.ClientOptions...); err != nil {
				return err
			}
			defer store.Close()
			break
		}
	}
	p.mu.Lock()
	p.runners, p.before = make([]*connect.Runner, len(stages)), make([]connect.Stats, len(stages))
	p.srcs, p.done = make([]connect.Source, len(stages)), make([]bool, len(stages))
	p.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(stages))
	for i, st := range stages {
		go func() {
			err := p.runStage(ctx, rt, store, i, st)
			if err != nil {
				cancel()
			} else if p.opts.Once && i+1 < len(stages) {
				p.mu.Lock()
				p.done[i] = true
				if ts, ok := p.srcs[i+1].(*topicsrc.Source); ok {
					ts.StopAtEnd()
				}
				p.mu.Unlock()
			}
			errs <- err
		}()
	}
	var all []error
	for range stages {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// buildStage makes the source, sinks and runner of a stage.
func (p *Pipeline) buildStage(rt *runtime, store *kafkastate.Store, i int, st engine.Stage) (_ *connect.Runner, closeSinks func(), err error) {
	var sinks []connect.Sink
	// Not the named result: a return with an error sets that to nil
	// before the deferred call below runs.
	closeAll := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range sinks {
			if err := s.Close(cctx); err != nil {
				p.opts.Logger.Warn("closing a sink", "pipeline", p.g.Name(), "stage", i, "err", err)
			}
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	var src connect.Source
	if st.Repartition {
		if err := rt.ensureRepartition(st.Source); err != nil {
			return nil, nil, err
		}
		src, err = rt.topicSource(i, topicsrc.Config{Topics: []string{st.Source}, DeleteCommitted: true})
	} else {
		bind := p.sources[st.Source]
		if bind == nil {
			return nil, nil, permanentError{fmt.Errorf("pipelines: no connector for the source %s", st.Source)}
		}
		src, err = bind(rt, i)
	}
	if err != nil {
		return nil, nil, err
	}
	if ts, ok := src.(*topicsrc.Source); ok && p.opts.Once {
		p.mu.Lock()
		p.srcs[i] = src
		if i == 0 || p.done[i-1] {
			ts.StopAtEnd()
		}
		p.mu.Unlock()
	}
	byName := map[string]connect.Sink{}
	primary := primaryOf(p, st)
	for _, out := range st.Sinks {
		var s connect.Sink
		if bind := p.sinks[out]; bind != nil {
			s, err = bind(rt, i, src, out == primary)
		} else {
			// a KeyBy's repartition output
			if err = rt.ensureRepartition(out); err == nil {
				s, err = rt.topicSink(i, topicsink.Config{Topic: out}, src, out == primary)
			}
		}
		if err != nil {
			return nil, nil, err
		}
		byName[out] = s
		sinks = append(sinks, s)
	}
	cfg := connect.StageConfig{
		Graph: p.g, Stage: i, Source: src, Sinks: byName, Primary: primary,
		CheckpointInterval: p.opts.CheckpointInterval, StopTimeout: p.opts.StopTimeout, Logger: p.opts.Logger,
		Upstreams: int(rt.partitions), CloseWindows: p.opts.CloseWindows,
	}
	if st.Stateful {
		cfg.State = store
	}
	r, err := connect.NewRunner(cfg)
	if err != nil {
		return nil, nil, permanentError{err} // the stage's wiring
	}
	return r, closeAll, nil
}

// primaryOf picks a stage's primary output: its only exactly-once user
// sink or repartition output, else the first output that is not the dead
// letter.
func primaryOf(p *Pipeline, st engine.Stage) string {
	dl := p.g.ErrorPolicy().DeadLetter
	for _, out := range st.Sinks {
		if out != dl {
			return out
		}
	}
	return st.Sinks[0]
}

// inputPartitions returns the partition count of the first stage's input
// topic, 1 when it is not a topic.
func inputPartitions(ctx context.Context, adm *kadm.Client, stages []engine.Stage) (int32, error) {
	parts := int32(1)
	if src, ok := strings.CutPrefix(stages[0].Source, "topic:"); ok {
		td, err := adm.ListTopics(ctx, strings.Split(src, ",")...)
		if err != nil {
			return 0, err
		}
		for _, t := range td {
			if t.Err == nil {
				parts = max(parts, int32(len(t.Partitions)))
			}
		}
	}
	return parts, nil
}
