package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/pipelines"
	"github.com/runnel-io/runnel/pipelines/spec"
)

// runConfig is what "runnel run" does; tests fill it directly.
type runConfig struct {
	File         string
	Once         bool
	CloseWindows bool          // with Once
	Interval     time.Duration // 0: 1s on a terminal, 10s otherwise
	Quiet        bool
	LogLevel     string
}

func newRunCmd() *cobra.Command {
	cfg := runConfig{LogLevel: "warn"}
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run the pipelines of a pipeline file",
		Long: `run checks a pipeline file (YAML) like "runnel lint" and runs its
pipelines in this process until SIGINT (Ctrl-C) or SIGTERM. A file with
problems is not run: they are printed, one per line as file:line:col, and
the exit status is 1.

Without broker.bootstrap in the file, the pipelines use a broker embedded
in this process, with its data in broker.data_dir (default ./data). The
data directory also holds the positions of file inputs.

On SIGINT or SIGTERM the pipelines finish the batch in hand, commit their
outputs and positions and stop; a second run resumes from there, without
losing or repeating a record. The commit is bounded by stop_timeout
(default 30s): past it run fails and says what it did not commit, which
the next run processes again. A second signal kills the process at once. With --once each
pipeline processes what its inputs hold when it starts, commits and stops:
batch jobs and tests.

A --once run leaves open the windows its watermark has not closed (the
last ones, and those of a partition the run saw little of): their
records are in the state, and a later run adds to them and closes them.
With --close-windows it closes them instead, as Flink's batch mode does
at the end of a bounded input: every open window writes its result, in
the commit of the input's last records, as if the watermark had gone to
the end of time (across a key_by, once every task of the stage before it
is done). What this means for a later run: the windows stay closed, and
records that arrive for them are late (the window's late output, or
dropped), however much grace the window has; records for later windows
open new ones. Windows an earlier run left open close too, except
those before any key_by: they close only in a run that reads new
records. --close-windows needs --once.

While the pipelines run, run shows their progress every --interval: on a
terminal a table redrawn in place, otherwise one line per pipeline:
records in and out, in total and per second, the lag (records of the
inputs not yet read), the watermark (the event time up to which windows
are complete) and the records that came too late for their window. The
IN counts the records a pipeline read, OUT those its last stage wrote (a
key_by starts a stage that reads what the stage before it wrote).
A summary follows at the end, with the windows --close-windows closed.

A stage that fails (a database or broker away) restarts from its last
checkpoint as the file's restart settings say: by default for ever,
waiting 1s doubling up to 1m; each restart is logged at WARN with its
attempt number, wait and cause.

The pipelines' logs go to stderr as text (log/slog), at --log-level and
above.`,
		Example: "  runnel run pipeline.yaml\n" +
			"  runnel run --once nightly.yaml\n" +
			"  runnel run --once --close-windows finished-data.yaml\n" +
			"  runnel run pipeline.yaml --interval 30s --log-level info > progress.log",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("name one pipeline file, got %d arguments\nRun '%s --help' for usage.", len(args), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.File = args[0]
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runFile(ctx, stop, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cfg.Once, "once", false, "process what the inputs hold, then stop (batch jobs, tests)")
	f.BoolVar(&cfg.CloseWindows, "close-windows", false, "with --once: close every window at the end of the input; later records for them are late")
	f.DurationVar(&cfg.Interval, "interval", 0, "show the progress this often (default 1s on a terminal, 10s otherwise)")
	f.BoolVarP(&cfg.Quiet, "quiet", "q", false, "show no progress, only the summary at the end")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	return cmd
}

// runFile runs the pipelines of cfg.File until they are done (--once) or
// ctx ends. unnotify stops catching signals, so that a second one kills
// the process.
func runFile(ctx context.Context, unnotify func(), stdout, stderr io.Writer, cfg runConfig) error {
	if cfg.CloseWindows && !cfg.Once {
		return errors.New("--close-windows needs --once: a running pipeline's input has no end to close the windows at")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	if cfg.Interval < 0 {
		return fmt.Errorf("--interval %s: want a positive duration, such as 5s", cfg.Interval)
	}
	tty := isTerminal(stdout)
	interval := cfg.Interval
	if interval == 0 {
		interval = 10 * time.Second
		if tty {
			interval = time.Second
		}
	}
	prog := newProgress(stdout, tty, time.Now())
	// On a terminal, what goes to stderr between two frames pushes the
	// table up: the next frame is drawn below it instead of over it.
	if tty && isTerminal(stderr) {
		stderr = prog.interrupting(stderr)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	f, err := pipelines.LoadFile(cfg.File, pipelines.LoadOptions{Once: cfg.Once, CloseWindows: cfg.CloseWindows, LookupEnv: os.LookupEnv, Logger: logger})
	var ps spec.Problems
	switch {
	case errors.As(err, &ps):
		printProblems(stdout, ps)
		return fmt.Errorf("%s in %s: nothing was run", counted(int64(len(ps)), "problem", "problems"), cfg.File)
	case err != nil:
		return readError(cfg.File, err)
	}

	where := "Kafka at " + strings.Join(f.Bootstrap, ",")
	if len(f.Bootstrap) == 0 {
		abs, _ := filepath.Abs(f.DataDir)
		where = "embedded broker, data in " + abs
	}
	fmt.Fprintf(stdout, "running %s from %s (%s)\n", counted(int64(len(f.Pipelines)), "pipeline", "pipelines"), f.Path, where)

	start := time.Now()
	prog.restart(start)
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var tick <-chan time.Time
	if !cfg.Quiet {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	stopping := ctx.Done()
	var runErr error
	for running := true; running; {
		select {
		case now := <-tick:
			prog.sample(now, f.Stats())
		case <-stopping:
			unnotify()
			stopping = nil
			fmt.Fprintln(stderr, "stopping: the pipelines commit their outputs and positions (signal again to kill)")
		case runErr = <-done:
			running = false
		}
	}
	elapsed := time.Since(start)
	final := f.Stats()
	if runErr != nil && !started(final) {
		// A failure at startup: the error alone, not a table of zeros.
		return runErr
	}
	if !cfg.Quiet && tty {
		prog.sample(time.Now(), final) // the table shows the end, not the last tick
	}
	writeSummary(stdout, final)
	writeOutputs(stdout, f.Outputs(), final)
	switch {
	case runErr != nil:
		return runErr
	case ctx.Err() != nil:
		fmt.Fprintf(stdout, "stopped after %s; a second run resumes from the committed positions\n", roundElapsed(elapsed))
	default:
		fmt.Fprintf(stdout, "done in %s\n", roundElapsed(elapsed))
	}
	return nil
}

// started reports whether any pipeline read a record or had a task.
func started(stats []pipelines.PipelineStats) bool {
	for _, ps := range stats {
		for _, s := range ps.Stages {
			if s.In > 0 || s.Tasks > 0 || s.Checkpoints > 0 {
				return true
			}
		}
	}
	return false
}

// writeOutputs says where the results are, and how many records each
// output took in this run.
func writeOutputs(w io.Writer, outs []pipelines.OutputInfo, stats []pipelines.PipelineStats) {
	if len(outs) == 0 {
		return
	}
	written := map[string]int64{}
	for _, ps := range stats {
		for _, o := range ps.Outputs {
			written[o.Name] += o.Records
		}
	}
	fmt.Fprintln(w, "outputs (records written by this run):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, o := range outs {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", o.Name, written[o.Name], o.Where)
	}
	tw.Flush()
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func roundElapsed(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// writeSummary prints the counts of each pipeline at the end of a run,
// and the windows the end of the input closed (--close-windows).
func writeSummary(w io.Writer, stats []pipelines.PipelineStats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tIN\tOUT\tLATE\tSKIPPED\tDEAD-LETTERED")
	var lost []string
	for _, ps := range stats {
		t := total(ps)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", ps.Name, t.in, t.out, t.late, t.skipped, t.deadLettered)
		if t.closed > 0 {
			lost = append(lost, fmt.Sprintf("pipeline %s: closed %s at the end of the input", ps.Name, counted(t.closed, "window", "windows")))
		}
		if t.deleted > 0 {
			lost = append(lost, fmt.Sprintf("warning: pipeline %s: %s of its input were deleted (retention.ms, retention.bytes or DeleteRecords) before it read them", ps.Name, counted(t.deleted, "record", "records")))
		}
	}
	tw.Flush()
	for _, l := range lost {
		fmt.Fprintln(w, l)
	}
}

// totals are a pipeline's counters: records in of its first stage, out of
// its last, the others summed over its stages.
type totals struct {
	in, out, late, skipped, deadLettered int64
	deleted                              int64 // input deleted before it was read
	closed                               int64 // windows closed by the end of the input
	lag                                  int64 // -1: no stage knows its lag
	watermark                            int64 // math.MinInt64: none
}

func total(ps pipelines.PipelineStats) totals {
	t := totals{lag: -1, watermark: math.MinInt64}
	// OUT counts the records of the pipeline's results: not its late
	// records nor its dead letters, which have their columns.
	for _, o := range ps.Outputs {
		if o.Role == pipelines.RoleOutput {
			t.out += o.Records
		}
	}
	for j, s := range ps.Stages {
		// A key_by's stage reads what the stage before it wrote: the
		// pipeline's input is its first stage's, its output its last's.
		if j == 0 {
			t.in = s.In
		}
		if j == len(ps.Stages)-1 && ps.Outputs == nil {
			t.out = s.Out
		}
		t.late += s.Late
		t.skipped += s.Skipped
		t.deadLettered += s.DeadLettered
		t.deleted += s.Deleted
		t.closed += s.Closed
		if s.Lag >= 0 {
			t.lag = max(t.lag, 0) + s.Lag
		}
		// A stage without tasks has no watermark (one that has not
		// started reports the zero Stats).
		if s.Tasks > 0 && s.Watermark != math.MinInt64 && (t.watermark == math.MinInt64 || s.Watermark < t.watermark) {
			t.watermark = s.Watermark
		}
	}
	return t
}

// progress shows how the pipelines of a run advance, one sample at a
// time: on a terminal a table redrawn in place, otherwise one log line
// per pipeline. Rates are the growth of the counters since the previous
// sample, over the wall time between the two; a counter that went down
// (a stage restarted) counts as no growth. It is safe for concurrent use.
type progress struct {
	mu    sync.Mutex // guards the fields and orders the writes to w
	w     io.Writer
	tty   bool
	last  time.Time                 // of the previous sample, or the start
	prev  []pipelines.PipelineStats // the previous sample; nil: all zero
	drawn int                       // lines of the frame on the terminal
	// watermarks are the last known watermark of each pipeline.
	watermarks map[string]int64
}

func newProgress(w io.Writer, tty bool, start time.Time) *progress {
	return &progress{w: w, tty: tty, last: start, watermarks: map[string]int64{}}
}

// restart makes the next rates count from zero at start.
func (p *progress) restart(start time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last, p.prev = start, nil
}

// row is one pipeline's line of progress.
type row struct {
	name            string
	totals          totals
	inRate, outRate float64 // per second
}

// sample shows stats, taken at now. It keeps stats, which the caller
// must not change afterwards.
func (p *progress) sample(now time.Time, stats []pipelines.PipelineStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	secs := now.Sub(p.last).Seconds()
	rows := make([]row, len(stats))
	for i, ps := range stats {
		rows[i] = row{name: ps.Name, totals: total(ps)}
		var before totals
		if i < len(p.prev) && p.prev[i].Name == ps.Name {
			before = total(p.prev[i])
		}
		dIn, dOut := max(rows[i].totals.in-before.in, 0), max(rows[i].totals.out-before.out, 0)
		// Stopped or rebalancing stages have no tasks, hence no
		// watermark: show the last one known.
		if wm := rows[i].totals.watermark; wm != math.MinInt64 {
			p.watermarks[ps.Name] = wm
		} else if wm, ok := p.watermarks[ps.Name]; ok {
			rows[i].totals.watermark = wm
		}
		if secs > 0 {
			rows[i].inRate, rows[i].outRate = float64(dIn)/secs, float64(dOut)/secs
		}
	}
	p.last, p.prev = now, stats
	if p.tty {
		p.drawTable(rows)
	} else {
		p.writeLines(now, rows)
	}
}

// REQUIRES: p.mu
func (p *progress) writeLines(now time.Time, rows []row) {
	at := now.UTC().Format(time.RFC3339)
	for _, r := range rows {
		fmt.Fprintf(p.w, "%s %s in=%d (%s/s) out=%d (%s/s) lag=%s watermark=%s late=%d\n",
			at, r.name, r.totals.in, formatRate(r.inRate), r.totals.out, formatRate(r.outRate),
			formatLag(r.totals.lag), formatWatermark(r.totals.watermark), r.totals.late)
	}
}

// drawTable draws the table over the previous one: up to its first line,
// then each line cleared and written.
//
// REQUIRES: p.mu
func (p *progress) drawTable(rows []row) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tIN/S\tOUT/S\tIN\tOUT\tLAG\tWATERMARK\tLATE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%d\n", r.name, formatRate(r.inRate), formatRate(r.outRate),
			r.totals.in, r.totals.out, formatLag(r.totals.lag), formatWatermark(r.totals.watermark), r.totals.late)
	}
	tw.Flush()
	lines := strings.SplitAfter(strings.TrimSuffix(b.String(), "\n"), "\n")
	var out strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&out, "\x1b[%dA", p.drawn)
	}
	for _, l := range lines {
		out.WriteString("\x1b[2K" + strings.TrimSuffix(l, "\n") + "\n")
	}
	// A frame with fewer lines than the last one clears the rest.
	for range p.drawn - len(lines) {
		out.WriteString("\x1b[2K\n")
	}
	io.WriteString(p.w, out.String())
	p.drawn = max(p.drawn, len(lines))
}

// interrupting returns a writer that writes to w, between frames: what
// it writes goes below the table, and the next frame below that.
func (p *progress) interrupting(w io.Writer) io.Writer {
	return &interruptWriter{p: p, w: w}
}

type interruptWriter struct {
	p *progress
	w io.Writer
}

func (iw *interruptWriter) Write(b []byte) (int, error) {
	iw.p.mu.Lock()
	defer iw.p.mu.Unlock()
	iw.p.drawn = 0
	return iw.w.Write(b)
}

// formatRate prints a rate per second: whole above 10, else to a tenth.
func formatRate(r float64) string {
	if r >= 10 {
		return fmt.Sprintf("%.0f", r)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", r), ".0")
}

func formatLag(lag int64) string {
	if lag < 0 {
		return "-"
	}
	return fmt.Sprint(lag)
}

func formatWatermark(ms int64) string {
	if ms == math.MinInt64 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}
