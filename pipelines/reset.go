package pipelines

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/broker/store"
	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/kafkastate"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/fsutil"
	"github.com/runnel-io/runnel/pipelines/spec"
	"github.com/runnel-io/runnel/sources/datagen"
)

// A reset makes a pipeline process its input again, as Kafka Streams'
// application reset tool does for a Streams application. A pipeline keeps
// positions in several places, and a stage resumes where its primary
// sink's positions say, with the state snapshot taken there (see package
// connect): moving only the group offsets of its input makes the first
// stage read again, and the stages after a key_by resume with their
// restored state, to which the records read again are late. Reset moves
// every place together:
//
//   - the group offsets of the first stage, when it reads topics: to each
//     partition's log start (ToEarliest), or to the first record at or
//     after ToTime;
//   - the offsets files of the first stage's other sources (file,
//     Postgres, datagen inputs): deleted, so that files and tables are
//     read from their start; a datagen input's is set back to record 0
//     of the same input, which generates the same records again;
//   - the group offsets of each stage after a key_by: to the end of its
//     repartition topic, since the first stage writes what it reads into
//     that topic again (Kafka Streams' tool moves its intermediate topics
//     to their end and deletes its internal repartition topics; runnel
//     keeps the repartition topic, whose committed records the stage
//     deletes as it goes);
//   - the positions every exactly-once sink of every stage stored with
//     its output (connect.PositionsDeleter): deleted, so that each stage
//     resumes where the offsets above say;
//   - the state snapshots of every stage (the topic <pipeline>-state):
//     deleted, so that windows start empty (Kafka Streams deletes its
//     changelog topics).
//
// The outputs are not touched: what the run after the reset writes goes
// beside or over what is there, as each sink's package doc says.

// ErrPipelineRunning is wrapped by the error of Reset when the pipeline
// runs: a group of its stages has members, or its data directory is in
// use.
var ErrPipelineRunning = errors.New("pipelines: the pipeline is running")

// ResetOptions say where Reset moves a pipeline's positions: exactly one
// of ToEarliest and ToTime.
type ResetOptions struct {
	// ToEarliest processes the pipeline's input again from its start:
	// each partition's log start offset for topic inputs; the start of
	// the files, of the table, of the generated records for the others.
	ToEarliest bool
	// ToTime processes again the records of the pipeline's topic inputs
	// from the first one whose timestamp is at or after ToTime (a
	// partition with none: from its end). Other inputs cannot start at a
	// time: Reset refuses them.
	ToTime time.Time
	// Execute does what the plan says; without it Reset only makes the
	// plan (a dry run) and changes nothing.
	Execute bool
}

// The kinds of ResetAction.
const (
	ResetGroupOffset   = "group offset"    // a committed offset of a stage's consumer group
	ResetOffsetsFile   = "offsets file"    // the positions file of a file, Postgres or datagen input
	ResetSinkPositions = "sink positions"  // the positions an exactly-once sink stored for a task
	ResetSnapshots     = "state snapshots" // the snapshots of a stage's tasks in the state topic
)

// ResetPlan is what Reset does, or did with Execute.
type ResetPlan struct {
	Pipeline string
	// Target says where the input is read again from, for people:
	// "the earliest offsets", "2026-03-01T12:00:00Z".
	Target string
	// Actions change the places that keep positions, in the order they
	// are done. None: there was nothing to reset.
	Actions []ResetAction
	// Notes say what the plan means for the next run.
	Notes []string
	// Executed is set when the actions were done.
	Executed bool
}

// ResetAction changes one place that keeps positions.
type ResetAction struct {
	// Stage is the stage of the pipeline the place belongs to (0 reads
	// the pipeline's input; each key_by starts the next one).
	Stage int
	// Kind is one of ResetGroupOffset, ResetOffsetsFile,
	// ResetSinkPositions and ResetSnapshots.
	Kind string
	// Where names the place, for people: "group totals, topic orders
	// partition 0", "output revenue (postgres:totals.revenue), task 0".
	Where string
	// From is what it holds now, To what it will hold, for people.
	From, To string

	do func(ctx context.Context) error
}

// String is the action as one line: "<where>: <from> → <to>".
func (a ResetAction) String() string {
	return fmt.Sprintf("%s: %s → %s", a.Where, a.From, a.To)
}

// Reset moves every position pipeline name keeps to where o says, so that
// its next run processes the input again from there (see ResetOptions and
// the comment at the top of reset.go). It returns the plan: without
// o.Execute it changes nothing. It opens the file's Kafka cluster, or its
// embedded broker on DataDir/broker (which must hold data: the pipeline
// ran there). It fails with ErrPipelineRunning while the pipeline runs.
// Should it fail half way, run it again: each action can be done twice.
func (f *File) Reset(ctx context.Context, name string, o ResetOptions) (*ResetPlan, error) {
	var p *Pipeline
	for _, q := range f.Pipelines {
		if q.g.Name() == name {
			p = q
		}
	}
	if p == nil {
		msg := fmt.Sprintf("pipelines: %s has no pipeline %q", f.Path, name)
		if s := spec.Suggest(name, f.Names()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += fmt.Sprintf(" (its pipelines: %s)", joinQuoted(f.Names()))
		}
		return nil, errors.New(msg)
	}
	return p.resetOn(ctx, f.Bootstrap, filepath.Join(f.DataDir, "broker"), o)
}

// Reset is File.Reset for a pipeline built in Go: on Options.Brokers, or
// on the embedded broker of Options.DataDir as Run has it.
func (p *Pipeline) Reset(ctx context.Context, o ResetOptions) (*ResetPlan, error) {
	return p.resetOn(ctx, p.opts.Brokers, p.opts.DataDir, o)
}

// resetOn resets p on brokers, or on the embedded broker of brokerDir.
func (p *Pipeline) resetOn(ctx context.Context, brokers []string, brokerDir string, o ResetOptions) (*ResetPlan, error) {
	if o.ToEarliest == !o.ToTime.IsZero() {
		return nil, errors.New("pipelines: reset: say where to: ToEarliest or ToTime, one of them")
	}
	stages, err := p.g.Stages()
	if err != nil {
		return nil, err
	}
	if src := stages[0].Source; !o.ToTime.IsZero() && !strings.HasPrefix(src, "topic:") {
		what := "the source " + src
		if in, ok := p.local[src]; ok {
			what = fmt.Sprintf("the %s input %s", in.kind, in.name)
		}
		return nil, fmt.Errorf("pipelines: pipeline %s reads %s: only topic inputs can be read again from a time (the time of their records); reset it to the earliest instead", p.g.Name(), what)
	}
	rt := &runtime{ctx: ctx, opts: p.opts, name: p.g.Name(), brokers: brokers, static: p.static, instance: p.opts.InstanceID, reset: true}
	if !p.static {
		// The lock run holds: a pipeline running on this data directory
		// (and the embedded broker) is refused here.
		id, release, err := acquireInstance(p.opts.DataDir)
		if errors.Is(err, fsutil.ErrLocked) {
			return nil, fmt.Errorf("%w: %w", ErrPipelineRunning, err)
		}
		if err != nil {
			return nil, err
		}
		defer release()
		rt.instance = id
	}
	if len(rt.brokers) == 0 {
		if _, err := os.Stat(brokerDir); err != nil {
			return nil, fmt.Errorf("pipelines: nothing to reset: the embedded broker has no data in %s (did pipeline %s run with this data_dir?): %w", brokerDir, p.g.Name(), err)
		}
		b, err := broker.New(broker.DataDir(brokerDir), broker.ListenAddr("127.0.0.1:0"), broker.GroupInitialRebalanceDelay(0))
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%w: starting the embedded broker on %s: %w", ErrPipelineRunning, brokerDir, err)
		}
		if err != nil {
			return nil, fmt.Errorf("pipelines: starting the embedded broker on %s: %w", brokerDir, err)
		}
		defer b.Close()
		rt.brokers = []string{b.Addr()}
	}
	rt.groups = stageGroups(p.g.Name(), len(stages))
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(rt.brokers...)}, p.opts.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("pipelines: %w", err)
	}
	defer cl.Close()
	rt.adm = kadm.NewClient(cl)
	r := &resetter{p: p, rt: rt, stages: stages, o: o, plan: &ResetPlan{Pipeline: p.g.Name()}}
	defer r.close()
	if err := r.build(ctx); err != nil {
		return nil, err
	}
	if !o.Execute {
		return r.plan, nil
	}
	// Group offsets and offsets files first: they only count once the
	// sinks' positions are gone. Then the snapshots, before the sinks'
	// positions: a reset cut short between the two leaves positions with
	// no state to match them, which the next run refuses (rather than
	// resume with no state).
	for _, kind := range []string{ResetGroupOffset, ResetOffsetsFile, ResetSnapshots, ResetSinkPositions} {
		for _, a := range r.plan.Actions {
			if a.Kind != kind {
				continue
			}
			if err := a.do(ctx); err != nil {
				return r.plan, fmt.Errorf("pipelines: reset of %s: %s: %w (nothing of the pipeline is consistent until the reset is run again)", p.g.Name(), a.Where, err)
			}
		}
	}
	r.plan.Executed = true
	return r.plan, nil
}

// resetter makes the plan of a reset.
type resetter struct {
	p      *Pipeline
	rt     *runtime
	stages []engine.Stage
	o      ResetOptions
	plan   *ResetPlan
	// groupOffsets are the new offsets of each group: one commit each.
	groupOffsets map[string]kadm.Offsets
	closers      []func()
}

func (r *resetter) close() {
	for _, c := range slices.Backward(r.closers) {
		c()
	}
}

func (r *resetter) add(a ResetAction) { r.plan.Actions = append(r.plan.Actions, a) }

func (r *resetter) note(format string, args ...any) {
	r.plan.Notes = append(r.plan.Notes, fmt.Sprintf(format, args...))
}

// build checks that the pipeline does not run and makes the plan.
func (r *resetter) build(ctx context.Context) error {
	r.plan.Target = "the earliest offsets"
	if !r.o.ToEarliest {
		r.plan.Target = r.o.ToTime.UTC().Format(time.RFC3339Nano)
	}
	r.groupOffsets = map[string]kadm.Offsets{}
	if err := r.checkStopped(ctx); err != nil {
		return err
	}
	if err := r.input(ctx); err != nil {
		return err
	}
	for i, st := range r.stages[1:] {
		if err := r.repartition(ctx, i+1, st.Source); err != nil {
			return err
		}
	}
	if err := r.snapshots(ctx); err != nil {
		return err
	}
	for i, st := range r.stages {
		if err := r.sinks(ctx, i, st); err != nil {
			return err
		}
	}
	slices.SortStableFunc(r.plan.Actions, func(a, b ResetAction) int { return cmp.Compare(a.Stage, b.Stage) })
	for group, offsets := range r.groupOffsets {
		r.addGroupCommit(group, offsets)
	}
	r.notes()
	return nil
}

// checkStopped refuses a pipeline whose groups have members.
func (r *resetter) checkStopped(ctx context.Context) error {
	groups := slices.Clone(r.rt.groups)
	if !topicStage(r.stages[0]) {
		groups = groups[1:] // the first stage reads no topic: no group
	}
	if len(groups) == 0 {
		return nil
	}
	described, err := r.rt.adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("pipelines: describing the groups of %s: %w", r.p.g.Name(), err)
	}
	for _, g := range groups {
		d, ok := described[g]
		switch {
		case !ok, errors.Is(d.Err, kerr.GroupIDNotFound):
			continue
		case d.Err != nil:
			return fmt.Errorf("pipelines: describing group %s: %w", g, d.Err)
		}
		if len(d.Members) == 0 && (d.State == "Empty" || d.State == "Dead" || d.State == "") {
			continue
		}
		var ms []string
		for _, m := range d.Members {
			ms = append(ms, fmt.Sprintf("%s (client %s on %s)", m.MemberID, m.ClientID, m.ClientHost))
		}
		members := fmt.Sprintf("%d members", len(d.Members))
		if len(d.Members) == 1 {
			members = "1 member"
		}
		return fmt.Errorf("%w: its group %s has %s (state %s): %s; stop it first (a process that stopped just now leaves the group after the session timeout, %v)",
			ErrPipelineRunning, g, members, d.State, strings.Join(ms, ", "), r.rt.opts.SessionTimeout)
	}
	return nil
}

// topicStage reports whether a stage reads topics.
func topicStage(st engine.Stage) bool {
	return st.Repartition || strings.HasPrefix(st.Source, "topic:")
}

// input plans the positions of the first stage's source.
func (r *resetter) input(ctx context.Context) error {
	st := r.stages[0]
	if topics, ok := strings.CutPrefix(st.Source, "topic:"); ok {
		return r.topicInput(ctx, strings.Split(topics, ","))
	}
	in, ok := r.p.local[st.Source]
	if !ok || in.path == "" {
		r.note("the source %s keeps no positions that a reset knows of: if it keeps its own, reset them yourself", st.Source)
		return nil
	}
	fi, err := os.Stat(in.path)
	if errors.Is(err, os.ErrNotExist) {
		if in.kind == "datagen" {
			r.note("the datagen input %s has no offsets file (%s): its next run starts a new data set, at the time of the run unless start is set", in.name, in.path)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("pipelines: the offsets file of input %s: %w", in.name, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("pipelines: the offsets file of input %s, %s, is a directory", in.name, in.path)
	}
	where := fmt.Sprintf("offsets file %s (%s input %s)", in.path, in.kind, in.name)
	switch in.kind {
	case "datagen":
		stream, next, _, err := datagen.ReadOffsetsFile(in.path, in.preset)
		if err != nil {
			return fmt.Errorf("pipelines: %w", err)
		}
		r.add(ResetAction{Stage: 0, Kind: ResetOffsetsFile, Where: where,
			From: fmt.Sprintf("record %d of %s", next, stream.Stream), To: "record 0 (the same records again)",
			do: func(context.Context) error { return datagen.RewindOffsetsFile(in.path, in.preset) }})
	default:
		from := "the start of each file"
		if in.kind == "postgres" {
			from = "the start of the table (or its start setting)"
		}
		r.add(ResetAction{Stage: 0, Kind: ResetOffsetsFile, Where: where, From: "positions", To: "deleted: read from " + from,
			do: func(context.Context) error {
				if err := os.Remove(in.path); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				return nil
			}})
	}
	return nil
}

// topicInput plans the group offsets of the first stage's topics.
func (r *resetter) topicInput(ctx context.Context, topics []string) error {
	var target kadm.ListedOffsets
	var err error
	kind := "start"
	if r.o.ToEarliest {
		target, err = r.rt.adm.ListStartOffsets(ctx, topics...)
	} else {
		kind = "time"
		target, err = r.rt.adm.ListOffsetsAfterMilli(ctx, r.o.ToTime.UnixMilli(), topics...)
	}
	if err != nil {
		return fmt.Errorf("pipelines: listing the offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	ends, err := r.rt.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("pipelines: listing the offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	return r.groupActions(ctx, 0, topics, target, ends, kind)
}

// repartition plans the group offsets of a stage after a key_by: the end
// of its repartition topic.
func (r *resetter) repartition(ctx context.Context, stage int, topic string) error {
	ends, err := r.rt.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("pipelines: listing the offsets of %s: %w", topic, err)
	}
	return r.groupActions(ctx, stage, []string{topic}, ends, ends, "end")
}

// groupActions plans moving the committed offsets of the stage's group
// for topics to target's, which are the log start offsets (kind
// "start"), those of the first records at or after ToTime ("time") or
// the log end offsets ("end"). A missing topic has nothing to move.
func (r *resetter) groupActions(ctx context.Context, stage int, topics []string, target, ends kadm.ListedOffsets, kind string) error {
	group := r.rt.groups[stage]
	committed, err := r.rt.adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("pipelines: fetching the committed offsets of group %s: %w", group, err)
	}
	for _, topic := range topics {
		parts := target[topic]
		if l, ok := parts[-1]; ok && l.Err != nil {
			if errors.Is(l.Err, kerr.UnknownTopicOrPartition) {
				r.note("the topic %s does not exist: nothing of it to read again", topic)
				continue
			}
			return fmt.Errorf("pipelines: listing the offsets of %s: %w", topic, l.Err)
		}
		for _, p := range slices.Sorted(maps.Keys(parts)) {
			l := parts[p]
			if l.Err != nil {
				return fmt.Errorf("pipelines: listing the offsets of %s[%d]: %w", topic, p, l.Err)
			}
			end, _ := ends.Lookup(topic, p)
			var detail string
			switch {
			case kind == "end":
				detail = fmt.Sprintf("the log end: stage %d writes the topic again", stage-1)
			case end.Err == nil && l.Offset >= end.Offset && kind == "start":
				detail = "the log end: the partition holds no records"
			case end.Err == nil && l.Offset >= end.Offset:
				detail = "the log end: no record at or after " + r.plan.Target
			case kind == "start":
				detail = "the log start"
			default:
				detail = "the first record at or after " + r.plan.Target
			}
			from := "none"
			if c, ok := committed.Lookup(topic, p); ok && c.Err == nil && c.At >= 0 {
				from = strconv.FormatInt(c.At, 10)
			}
			offsets := r.groupOffsets[group]
			offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: l.Offset, LeaderEpoch: -1})
			r.groupOffsets[group] = offsets
			r.add(ResetAction{Stage: stage, Kind: ResetGroupOffset,
				Where: fmt.Sprintf("group %s, topic %s partition %d", group, topic, p),
				From:  from, To: fmt.Sprintf("%d (%s)", l.Offset, detail)})
		}
	}
	return nil
}

// addGroupCommit gives the first group offset action of group the commit
// of all of them.
func (r *resetter) addGroupCommit(group string, offsets kadm.Offsets) {
	prefix := "group " + group + ","
	for i, a := range r.plan.Actions {
		if a.Kind != ResetGroupOffset || !strings.HasPrefix(a.Where, prefix) {
			continue
		}
		r.plan.Actions[i].do = func(ctx context.Context) error {
			resps, err := r.rt.adm.CommitOffsets(ctx, group, offsets)
			if err == nil {
				err = resps.Error()
			}
			if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
				return fmt.Errorf("%w: a member joined group %s meanwhile: %w", ErrPipelineRunning, group, err)
			}
			return err
		}
		for j := i + 1; j < len(r.plan.Actions); j++ {
			if b := r.plan.Actions[j]; b.Kind == ResetGroupOffset && strings.HasPrefix(b.Where, prefix) {
				r.plan.Actions[j].do = func(context.Context) error { return nil } // committed with the first
			}
		}
		return
	}
}

// snapshots plans deleting the snapshots of every stage.
func (r *resetter) snapshots(ctx context.Context) error {
	topic := r.p.g.Name() + "-state"
	tds, err := r.rt.adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("pipelines: looking up %s: %w", topic, err)
	}
	if td, ok := tds[topic]; !ok || td.Err != nil {
		return nil // no state ever saved
	}
	store, err := kafkastate.New(ctx, r.rt.brokers, topic, r.rt.opts.ClientOptions...) // the topic exists: nothing is created
	if err != nil {
		return err
	}
	r.closers = append(r.closers, store.Close)
	for i := range r.stages {
		stage := fmt.Sprintf("%s/%d", r.p.g.Name(), i)
		stored, err := store.Stored(ctx, stage)
		if err != nil {
			return err
		}
		if len(stored) == 0 {
			continue
		}
		var tasks []string
		n := 0
		for _, id := range slices.Sorted(maps.Keys(stored)) {
			tasks = append(tasks, strconv.Itoa(int(id)))
			n += len(stored[id])
		}
		from := fmt.Sprintf("%d snapshots of tasks %s", n, strings.Join(tasks, ", "))
		switch {
		case n == 1:
			from = "1 snapshot of task " + tasks[0]
		case len(tasks) == 1:
			from = fmt.Sprintf("%d snapshots of task %s", n, tasks[0])
		}
		r.add(ResetAction{Stage: i, Kind: ResetSnapshots,
			Where: fmt.Sprintf("state topic %s, stage %d", topic, i),
			From:  from,
			To:    "deleted: the windows start empty",
			do: func(ctx context.Context) error {
				_, err := store.Delete(ctx, stage)
				return err
			}})
	}
	return nil
}

// nameLocal names the local source whose offsets file is path after the
// input of a file that declares it.
func (p *Pipeline) nameLocal(path, input string) {
	for k, l := range p.local {
		if l.path == path {
			l.name = input
			p.local[k] = l
		}
	}
}

// noSource stands for a stage's source when the stage's sinks are made
// for a reset: no source is opened, and the sinks made then do not use it.
type noSource struct{ connect.Source }

// sinks plans deleting the positions of the exactly-once sinks of a
// stage.
func (r *resetter) sinks(ctx context.Context, stage int, st engine.Stage) error {
	r.rt.readsTopic = topicStage(st)
	primary := primaryOf(r.p, st)
	for _, out := range st.Sinks {
		var s connect.Sink
		var err error
		if bind := r.p.sinks[out]; bind != nil {
			s, err = bind(r.rt, stage, noSource{}, out == primary)
		} else {
			s, err = r.rt.topicSink(stage, topicConfig(out), noSource{}, out == primary)
		}
		if err != nil {
			return fmt.Errorf("pipelines: the output %s: %w", r.p.outputName(out), err)
		}
		r.closers = append(r.closers, func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			s.Close(cctx)
		})
		pd, ok := s.(connect.PositionsDeleter)
		if !ok || s.Delivery() != connect.ExactlyOnce {
			continue
		}
		stored, err := pd.StoredPositions(ctx)
		if err != nil {
			return fmt.Errorf("pipelines: the output %s: %w", r.p.outputName(out), err)
		}
		ids := slices.Sorted(maps.Keys(stored))
		for k, id := range ids {
			a := ResetAction{Stage: stage, Kind: ResetSinkPositions,
				Where: fmt.Sprintf("output %s, task %d", r.p.outputName(out), id),
				From:  formatPositions(stored[id]), To: "none",
			}
			a.do = func(context.Context) error { return nil }
			if k == 0 { // one call deletes every task's
				a.do = pd.DeletePositions
			}
			r.add(a)
		}
	}
	return nil
}

// outputName names a sink of the graph for people: its output's name in
// the file and the sink, or the sink.
func (p *Pipeline) outputName(sink string) string {
	for _, l := range p.labels {
		if l.sink == sink {
			return fmt.Sprintf("%s (%s)", l.name, sink)
		}
	}
	if !strings.Contains(sink, ":") {
		return "repartition topic " + sink
	}
	return sink
}

// formatPositions writes positions sorted: "orders[0] at 1702, orders[1] at 1650".
func formatPositions(pos engine.Positions) string {
	ins := slices.SortedFunc(maps.Keys(pos), func(a, b engine.Input) int {
		return cmp.Or(strings.Compare(a.Stream, b.Stream), cmp.Compare(a.Partition, b.Partition))
	})
	parts := make([]string, len(ins))
	for i, in := range ins {
		parts[i] = fmt.Sprintf("%s[%d] at %d", in.Stream, in.Partition, pos[in])
	}
	return strings.Join(parts, ", ")
}

// notes says what the plan means for the next run.
func (r *resetter) notes() {
	if len(r.plan.Actions) == 0 {
		r.note("nothing to reset: pipeline %s has no positions stored", r.p.g.Name())
		return
	}
	if len(r.stages) > 1 {
		r.note("the stages after a key_by start at the end of their repartition topics: the first stage writes what it reads into them again")
	}
	if !r.o.ToTime.IsZero() {
		r.note("windows that began before %s see only the records from then on: their results are partial, and replace the complete ones in an output that upserts", r.plan.Target)
	}
	r.note("the outputs keep what they hold: the next run writes beside it (files, topics, tables in insert mode) or over it (tables in upsert mode; Elasticsearch keeps a document whose version is not older); clear them first for the new results alone")
}
