package pipelines_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines"
	filesink "github.com/runnel-io/runnel/sinks/file"
	filesrc "github.com/runnel-io/runnel/sources/file"
)

// flaky fails every few commits, the first one included (else a fast
// run may commit everything at once and never fail), as a sink whose
// server goes away.
type flaky struct {
	connect.Sink
	commits, failed *atomic.Int64
	every           int64
	calm            *atomic.Bool // set: no more failures (the test stops)
}

var errFlaky = errors.New("flaky: the server went away")

func (f flaky) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if f.commits.Add(1)%f.every == 1 && !f.calm.Load() {
		f.failed.Add(1)
		return errFlaky
	}
	return f.Sink.Commit(ctx, cp)
}

// A sink that fails now and then makes its stage restart from its last
// checkpoint: the output stays exactly once.
func TestFailingSinkRestartsTheStage(t *testing.T) {
	addr := startBroker(t)
	dir := t.TempDir()
	want := clickInput(t, addr, 2, 4000, 11, 5, 25)

	var commits, failed atomic.Int64
	var calm atomic.Bool
	p := pipelines.New("pages", pipelines.Options{Brokers: []string{addr}, DataDir: t.TempDir(), CheckpointInterval: 20 * time.Millisecond,
		Restart: pipelines.RestartStrategy{Backoff: 10 * time.Millisecond},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil))})
	in := pipelines.FromTopic(p, "clicks", engine.String(), engine.JSON[click]())
	timed := engine.WithTime(in, func(r engine.Record[string, click]) (int64, error) { return r.Value.TS, nil })
	byPage := engine.KeyBy(timed, func(r engine.Record[string, click]) string { return r.Value.Page }, engine.Name("by-page"))
	counts := engine.Aggregate(engine.Window(byPage, engine.Hopping(10*time.Second, 5*time.Second), engine.Name("counts")), engine.Count[click]())
	rows := engine.Map(counts, func(r engine.Record[engine.WindowKey[string], int64]) (windowRow, error) {
		return windowRow{r.Key, r.Value}, nil
	})
	pipelines.ToSink(rows, "flaky-files", func() (connect.Sink, error) {
		s, err := filesink.New(filesink.Config{Dir: dir})
		return flaky{s, &commits, &failed, 2, &calm}, err
	}, engine.JSON[engine.WindowKey[string]](), engine.JSON[windowRow]())

	// The commit of the stop must not fail: Run would return its error.
	runUntil(t, p, func() bool {
		done := len(readRows(t, dir)) >= len(want)
		calm.Store(done)
		return done
	})
	if failed.Load() == 0 {
		t.Fatalf("%d commits, none failed", commits.Load())
	}
	t.Logf("%d commits, %d failed", commits.Load(), failed.Load())
	checkCounts(t, dir, want)
	// The counters go on across the restarts, each record and each row
	// written counted once.
	st := p.Stats()
	if rows := int64(len(readRows(t, dir))); st[0].In != 4000+2 || st[1].Written["flaky-files"] != rows { // and a flush click per partition
		t.Errorf("stats %+v, want 4002 records in (the clicks and a flush per partition) and the %d rows written", st, rows)
	}
}

// failFirst fails the first commits of a sink, counted over the sinks a
// stage makes as it restarts: a database that is away, then back.
type failFirst struct {
	connect.Sink
	left   *atomic.Int64 // failures to go; negative: for ever
	failed *atomic.Int64
}

func (f failFirst) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if f.left.Load() != 0 {
		f.left.Add(-1)
		f.failed.Add(1)
		return errFlaky
	}
	return f.Sink.Commit(ctx, cp)
}

// logRecorder keeps the records of a logger, and signals each on warned
// when it is at WARN.
type logRecorder struct {
	mu     sync.Mutex
	recs   []slog.Record
	warned chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{warned: make(chan struct{}, 1000)} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l } // the runner's attrs are not needed
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	if r.Level == slog.LevelWarn {
		select {
		case l.warned <- struct{}{}:
		default:
		}
	}
	return nil
}

// restarts returns the attributes of the records that announce a
// restart, in order.
func (l *logRecorder) restarts() []map[string]slog.Value {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range l.recs {
		if r.Level != slog.LevelWarn || !strings.Contains(r.Message, "restarting") {
			continue
		}
		m := map[string]slog.Value{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
		out = append(out, m)
	}
	return out
}

// failingPipeline is a pipeline p copying the lines of a file to a file
// output whose commits fail as left says.
func failingPipeline(t *testing.T, restart pipelines.RestartStrategy, left int64, log *logRecorder) (p *pipelines.Pipeline, out string, failed *atomic.Int64) {
	t.Helper()
	dir := t.TempDir()
	var lines strings.Builder
	for i := range 100 {
		fmt.Fprintf(&lines, "line-%03d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(dir, "out")
	failed = new(atomic.Int64)
	var toGo atomic.Int64
	toGo.Store(left)
	p = pipelines.New("p", pipelines.Options{DataDir: filepath.Join(dir, "data"), Once: true, Restart: restart, Logger: slog.New(log)})
	in := pipelines.FromFile(p, filesrc.Config{Paths: []string{filepath.Join(dir, "in.txt")}}, engine.String())
	pipelines.ToSink(in, "failing-files", func() (connect.Sink, error) {
		s, err := filesink.New(filesink.Config{Dir: out})
		return failFirst{s, &toGo, failed}, err
	}, engine.String(), engine.String())
	return p, out, failed
}

// committedPartLines reads the lines of the committed part files of dir,
// sorted.
func committedPartLines(t *testing.T, dir string) []string {
	t.Helper()
	parts, err := filesink.ReadCommitted(dir, "part")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, files := range parts {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.Fields(string(b))...)
		}
	}
	sort.Strings(out)
	return out
}

// Issue 12: a stage that fails more than five times in a row (a database
// away for a while) keeps restarting by default, and carries on, exactly
// once, when the database is back. Each restart is logged at WARN with
// its attempt number, delay and cause; the attempt number grows, as no
// run in between committed anything.
func TestIssue12StageRestartsForEverByDefault(t *testing.T) {
	t.Parallel()
	log := newLogRecorder()
	const failures = 8
	// Only the backoff is set, to keep the test short.
	p, out, failed := failingPipeline(t, pipelines.RestartStrategy{Backoff: time.Millisecond}, failures, log)
	if err := p.Run(t.Context()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if failed.Load() != failures {
		t.Errorf("%d commits failed, want %d", failed.Load(), failures)
	}
	got := committedPartLines(t, out)
	if len(got) != 100 || got[0] != "line-000" || got[99] != "line-099" {
		t.Errorf("%d lines committed (%v...), want line-000 to line-099 once each", len(got), got[:min(3, len(got))])
	}
	rs := log.restarts()
	if len(rs) != failures {
		t.Fatalf("%d restarts logged, want %d", len(rs), failures)
	}
	for i, r := range rs {
		if r["pipeline"].String() != "p" || r["stage"].Int64() != 0 || r["attempt"].Int64() != int64(i+1) {
			t.Errorf("restart %d logged with pipeline %v, stage %v, attempt %v", i+1, r["pipeline"], r["stage"], r["attempt"])
		}
		if _, ok := r["max_attempts"]; ok {
			t.Errorf("restart %d logged with max_attempts %v; there is no limit", i+1, r["max_attempts"])
		}
		if r["in"].Kind() != slog.KindDuration || !strings.Contains(r["err"].String(), errFlaky.Error()) {
			t.Errorf("restart %d logged with delay %v, cause %v", i+1, r["in"], r["err"])
		}
	}
}

// A bounded max_attempts ends a stage that keeps failing, with an error
// saying so and wrapping the last cause; restarts may be turned off.
func TestRestartsExhausted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		max      int
		restarts int
		want     string
	}{
		{"max_attempts 3", 3, 3, "pipelines: stage 0 of pipeline p failed 4 times in a row (restarted 3 times, the most max_attempts allows); last error: "},
		{"max_attempts 1", 1, 1, "pipelines: stage 0 of pipeline p failed 2 times in a row (restarted once, the most max_attempts allows); last error: "},
		{"never restart", -1, 0, "pipelines: stage 0 of pipeline p failed, and restarts are off: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := newLogRecorder()
			p, _, failed := failingPipeline(t, pipelines.RestartStrategy{MaxAttempts: tc.max, Backoff: time.Millisecond}, -1, log)
			err := p.Run(t.Context())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, errFlaky) {
				t.Fatalf("Run = %v, want %q...%v", err, tc.want, errFlaky)
			}
			if failed.Load() != int64(tc.restarts+1) {
				t.Errorf("%d commits failed, want %d", failed.Load(), tc.restarts+1)
			}
			rs := log.restarts()
			if len(rs) != tc.restarts {
				t.Fatalf("%d restarts logged, want %d", len(rs), tc.restarts)
			}
			for i, r := range rs {
				if r["attempt"].Int64() != int64(i+1) || r["max_attempts"].Int64() != int64(tc.max) {
					t.Errorf("restart %d logged as attempt %v of %v", i+1, r["attempt"], r["max_attempts"])
				}
			}
		})
	}
}

// A stop during a backoff returns at once, with nil.
func TestStopDuringRestartBackoff(t *testing.T) {
	t.Parallel()
	log := newLogRecorder()
	p, _, _ := failingPipeline(t, pipelines.RestartStrategy{Backoff: time.Hour}, -1, log)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	for len(log.restarts()) == 0 {
		select {
		case <-log.warned:
		case err := <-errc:
			t.Fatalf("Run returned %v before its first restart", err)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run = %v, want nil after a stop", err)
		}
	case <-time.After(10 * time.Second): // a failure, not a wait: the backoff is an hour
		t.Fatal("Run did not return after a stop during a backoff")
	}
}

// A record that fails under the Fail policy is not retried: it would
// fail again, for ever now that restarts have no limit by default.
func TestRecordErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	log := newLogRecorder()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := pipelines.New("p", pipelines.Options{DataDir: filepath.Join(dir, "data"), Once: true, Logger: slog.New(log)})
	in := pipelines.FromFile(p, filesrc.Config{Paths: []string{filepath.Join(dir, "in.txt")}}, engine.String())
	bad := errors.New("no b")
	out := engine.Map(in, func(r engine.Record[string, string]) (string, error) {
		if r.Value == "b" {
			return "", bad
		}
		return r.Value, nil
	})
	pipelines.ToFile(out, filesink.Config{Dir: filepath.Join(dir, "out")}, engine.String(), engine.String())
	err := p.Run(t.Context())
	var recErr *engine.RecordError
	if !errors.As(err, &recErr) || !errors.Is(err, bad) {
		t.Fatalf("Run = %v, want a *engine.RecordError", err)
	}
	if rs := log.restarts(); len(rs) != 0 {
		t.Fatalf("%d restarts logged, want none", len(rs))
	}
}

// refuseB is a sink that refuses the records whose value is "b", as a
// database refuses a row that breaks a constraint.
type refuseB struct{ connect.Sink }

func (r refuseB) Write(ctx context.Context, task connect.TaskID, recs []*connect.Record) error {
	var rej connect.RejectedError
	var took []*connect.Record
	for _, rec := range recs {
		if string(rec.Value) == "b" {
			rej.Rejected = append(rej.Rejected, connect.Rejection{Task: task, Record: rec, Reason: errors.New("constraint b")})
		} else {
			took = append(took, rec)
		}
	}
	if err := r.Sink.Write(ctx, task, took); err != nil {
		return err
	}
	if len(rej.Rejected) > 0 {
		return &rej
	}
	return nil
}

// Nor is a record a sink refuses under the Fail policy.
func TestRejectedRecordIsNotRetried(t *testing.T) {
	t.Parallel()
	log := newLogRecorder()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := pipelines.New("p", pipelines.Options{DataDir: filepath.Join(dir, "data"), Once: true, Logger: slog.New(log)})
	in := pipelines.FromFile(p, filesrc.Config{Paths: []string{filepath.Join(dir, "in.txt")}}, engine.String())
	pipelines.ToSink(in, "refusing-files", func() (connect.Sink, error) {
		s, err := filesink.New(filesink.Config{Dir: filepath.Join(dir, "out")})
		return refuseB{s}, err
	}, engine.String(), engine.String())
	err := p.Run(t.Context())
	var rej *connect.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("Run = %v, want a *connect.RejectedError", err)
	}
	if rs := log.restarts(); len(rs) != 0 {
		t.Fatalf("%d restarts logged, want none", len(rs))
	}
}
