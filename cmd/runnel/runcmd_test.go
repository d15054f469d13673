package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	rconnect "github.com/runnel-io/runnel/connect" // connect is kafka.go's
	"github.com/runnel-io/runnel/internal/proctest"
	"github.com/runnel-io/runnel/pipelines"
)

// ordersFile is a pipeline file reading in/orders.jsonl under dir and
// writing the big orders to out/big; the embedded broker's data is in
// dir/data.
func ordersFile(t *testing.T, dir string, follow bool) string {
	t.Helper()
	for _, d := range []string{"in", "out"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return writeFile(t, dir, "orders.yaml", fmt.Sprintf(`broker: {data_dir: %s}
inputs:
  orders: {file: {paths: [%s], format: jsonl, follow: %t, poll_interval: 10ms}}
outputs:
  big: {file: {dir: %s}}
pipelines:
  big-orders:
    from: orders
    steps:
      - filter: value.amount > 100
      - map: {id: value.id, amount: value.amount}
      - to: big
`, filepath.Join(dir, "data"), filepath.Join(dir, "in", "orders.jsonl"), follow, filepath.Join(dir, "out", "big")))
}

// appendOrders appends orders from, .., to-1 to in/orders.jsonl: order i
// has the amount 40*i, and a field the pipeline drops.
func appendOrders(t *testing.T, dir string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "in", "orders.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := from; i < to; i++ {
		fmt.Fprintf(f, `{"id": %d, "amount": %d, "note": "order %d"}`+"\n", i, 40*i, i)
	}
}

// bigOrders is what the pipeline writes for orders from, .., to-1.
func bigOrders(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		if 40*i > 100 {
			out = append(out, fmt.Sprintf(`{"amount":%d,"id":%d}`, 40*i, i))
		}
	}
	return out
}

// committedLines returns the lines of the committed part files of dir,
// in the order of their names, each a JSON object re-encoded with its
// keys sorted; it fails the test on an in-progress file.
func committedLines(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.Name(), ".inprogress"):
			t.Errorf("%s is left in progress", e.Name())
		case strings.HasPrefix(e.Name(), "part-") && strings.HasSuffix(e.Name(), ".jsonl"):
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				var v map[string]any
				if err := json.Unmarshal([]byte(l), &v); err != nil {
					t.Fatalf("%s: %q: %v", e.Name(), l, err)
				}
				b, _ := json.Marshal(v)
				lines = append(lines, string(b))
			}
		}
	}
	return lines
}

// summaryRow matches a pipeline's row of the summary.
func summaryRow(name string, in, out int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`(?m)^PIPELINE +IN +OUT +LATE +SKIPPED +DEAD-LETTERED\n%s +%d +%d +0 +0 +0$`, regexp.QuoteMeta(name), in, out))
}

// run --once processes what the input holds and commits it; a second run
// processes only the orders appended since.
func TestRunOnceWritesAndResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := ordersFile(t, dir, false)
	appendOrders(t, dir, 1, 7)
	code, out, errOut := runCLI(t, "run", "--once", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := fmt.Sprintf("running 1 pipeline from %s (embedded broker, data in %s)\n", path, filepath.Join(dir, "data"))
	if !strings.HasPrefix(out, want) {
		t.Errorf("stdout does not start with\n%s\n%s", want, out)
	}
	if !summaryRow("big-orders", 6, 4).MatchString(out) {
		t.Errorf("no summary of 6 orders in, 4 out:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^done in \S+\n\z`).MatchString(out) {
		t.Errorf("stdout does not end with done in ...:\n%s", out)
	}
	if got, want := committedLines(t, filepath.Join(dir, "out", "big")), bigOrders(1, 7); !slices.Equal(got, want) {
		t.Fatalf("first run wrote\n%q\nwant\n%q", got, want)
	}

	appendOrders(t, dir, 7, 10)
	code, out, errOut = runCLI(t, "run", "--once", "--quiet", path)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}
	if !summaryRow("big-orders", 3, 3).MatchString(out) {
		t.Errorf("second run: no summary of 3 orders in, 3 out:\n%s", out)
	}
	if got, want := committedLines(t, filepath.Join(dir, "out", "big")), bigOrders(1, 10); !slices.Equal(got, want) {
		t.Fatalf("after the second run the output holds\n%q\nwant\n%q", got, want)
	}
}

// Without --once run goes on until stopped (ctx here, a signal in
// real life), shows its progress meanwhile, and commits when stopped.
func TestRunUntilStopped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := ordersFile(t, dir, true)
	appendOrders(t, dir, 1, 7)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut proctest.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"run", path, "--interval", "10ms"}, strings.NewReader(""), &out, &errOut)
	}()
	// Not a terminal: a progress line per interval; wait for one that
	// has the 6 orders in.
	progressRE := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ big-orders in=6 \(\d+(\.\d)?/s\) out=4 \(\d+(\.\d)?/s\) lag=(\d+|-) watermark=- late=0$`)
	deadline := time.Now().Add(30 * time.Second)
	for !progressRE.MatchString(out.String()) {
		select {
		case code := <-exited:
			t.Fatalf("exit %d before it was stopped\n%s%s", code, out.String(), errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress line with the 6 orders in:\n%s%s", out.String(), errOut.String())
		}
	}
	cancel()
	var code int
	select {
	case code = <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("did not stop:\n%s%s", out.String(), errOut.String())
	}
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !summaryRow("big-orders", 6, 4).MatchString(out.String()) {
		t.Errorf("no summary of 6 orders in, 4 out:\n%s", out.String())
	}
	if !regexp.MustCompile(`(?m)^stopped after \S+; a second run resumes from the committed positions\n\z`).MatchString(out.String()) {
		t.Errorf("stdout does not end with the stop:\n%s", out.String())
	}
	mustContain(t, "stderr", errOut.String(), "stopping: the pipelines commit their outputs and positions")
	if got, want := committedLines(t, filepath.Join(dir, "out", "big")), bigOrders(1, 7); !slices.Equal(got, want) {
		t.Fatalf("the output holds\n%q\nwant\n%q", got, want)
	}
}

// A file with problems is not run: nothing is created.
func TestRunFileWithProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "bad.yaml", strings.Replace(problemsYAML, "data_dir: data", "data_dir: "+filepath.Join(dir, "data"), 1))
	code, out, errOut := runCLI(t, "run", "--once", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := "runnel: 4 problems in " + path + ": nothing was run\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	if strings.Contains(out, "running") {
		t.Errorf("it ran:\n%s", out)
	}
	if !strings.Contains(out, path+`:6:1: unknown field "pipelinez" (did you mean "pipelines"?)`+"\n") || strings.Count(out, "\n") != 4 {
		t.Errorf("stdout is not the 4 problems:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the data directory was created (%v)", err)
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "orders.yaml", cleanYAML)
	missing := filepath.Join(dir, "missing.yaml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "runnel: name one pipeline file, got 0 arguments\nRun 'runnel run --help' for usage.\n"},
		{[]string{"run", path, path}, "runnel: name one pipeline file, got 2 arguments\nRun 'runnel run --help' for usage.\n"},
		{[]string{"run", missing}, "runnel: " + missing + ": no such file or directory\n"},
		{[]string{"run", path, "--log-level", "loud"}, "runnel: --log-level \"loud\": want debug, info, warn or error\n"},
		{[]string{"run", path, "--interval", "-1s"}, "runnel: --interval -1s: want a positive duration, such as 5s\n"},
		{[]string{"run", path, "--interval", "often"}, "runnel: invalid argument \"often\" for \"--interval\" flag: time: invalid duration \"often\"\nRun 'runnel run --help' for usage.\n"},
		{[]string{"run", path, "--close-windows"}, "runnel: --close-windows needs --once: a running pipeline's input has no end to close the windows at\n"},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%q: exit %d, stdout %q, stderr\n%s\nwant\n%s", tc.args, code, out, errOut, tc.want)
		}
	}
	code, out, _ := runCLI(t, "run", "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	mustContain(t, "run help", out, "--once", "--close-windows", "--interval", "--quiet", "--log-level", "SIGINT", "runnel run pipeline.yaml",
		"records that arrive for them are late")
}

var (
	t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	// wm is a watermark, 2026-11-21T09:08:10Z.
	wm = time.Date(2026, 11, 21, 9, 8, 10, 0, time.UTC).UnixMilli()
)

// stage is a stage's stats with one task.
func stage(in, out, lag, watermark, late int64) rconnect.Stats {
	return rconnect.Stats{Tasks: 1, In: in, Out: out, Lag: lag, Watermark: watermark, Late: late}
}

func TestProgressLines(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := newProgress(&b, false, t0)
	sample := func(after time.Duration, stats ...pipelines.PipelineStats) string {
		b.Reset()
		p.sample(t0.Add(after), stats)
		return b.String()
	}
	pc := func(stages ...rconnect.Stats) pipelines.PipelineStats {
		return pipelines.PipelineStats{Name: "page-counts", Stages: stages}
	}
	other := func(stages ...rconnect.Stats) pipelines.PipelineStats {
		return pipelines.PipelineStats{Name: "big-orders", Stages: stages}
	}
	for i, tc := range []struct {
		after time.Duration
		stats []pipelines.PipelineStats
		want  string
	}{
		// Rates from the start.
		{time.Second, []pipelines.PipelineStats{pc(stage(5000, 12, 0, wm, 3)), other(stage(0, 0, -1, math.MinInt64, 0))},
			"2026-11-21T09:00:01Z page-counts in=5000 (5000/s) out=12 (12/s) lag=0 watermark=2026-11-21T09:08:10Z late=3\n" +
				"2026-11-21T09:00:01Z big-orders in=0 (0/s) out=0 (0/s) lag=- watermark=- late=0\n"},
		// Rates over the 3s since the last sample.
		{4 * time.Second, []pipelines.PipelineStats{pc(stage(7000, 13, 40, wm+1000, 3)), other(stage(2, 1, 5, math.MinInt64, 0))},
			"2026-11-21T09:00:04Z page-counts in=7000 (667/s) out=13 (0.3/s) lag=40 watermark=2026-11-21T09:08:11Z late=3\n" +
				"2026-11-21T09:00:04Z big-orders in=2 (0.7/s) out=1 (0.3/s) lag=5 watermark=- late=0\n"},
		// page-counts restarted: its counters went down, which is no
		// growth; its tasks are gone, so the watermark is the last known.
		{5 * time.Second, []pipelines.PipelineStats{pc(rconnect.Stats{In: 100, Out: 1, Lag: -1, Watermark: math.MinInt64}), other(stage(12, 1, 5, math.MinInt64, 0))},
			"2026-11-21T09:00:05Z page-counts in=100 (0/s) out=1 (0/s) lag=- watermark=2026-11-21T09:08:11Z late=0\n" +
				"2026-11-21T09:00:05Z big-orders in=12 (10/s) out=1 (0/s) lag=5 watermark=- late=0\n"},
		// Two stages (a key_by): in is the first stage's, out the last
		// one's (its rate the growth of that total), known lags and late
		// counts summed, the lowest watermark.
		{7 * time.Second, []pipelines.PipelineStats{
			pc(stage(300, 51, 7, wm+5000, 1), stage(40, 2, -1, wm+2000, 2)),
			other(stage(20, 3, 0, math.MinInt64, 0)),
		},
			"2026-11-21T09:00:07Z page-counts in=300 (100/s) out=2 (0.5/s) lag=7 watermark=2026-11-21T09:08:12Z late=3\n" +
				"2026-11-21T09:00:07Z big-orders in=20 (4/s) out=3 (1/s) lag=0 watermark=- late=0\n"},
		// The first stage restarted: its counter went down, no growth.
		{9 * time.Second, []pipelines.PipelineStats{
			pc(stage(290, 61, 3, wm+6000, 1), stage(60, 12, 4, wm+7000, 2)),
			other(stage(20, 3, 0, math.MinInt64, 0)),
		},
			"2026-11-21T09:00:09Z page-counts in=290 (0/s) out=12 (5/s) lag=7 watermark=2026-11-21T09:08:16Z late=3\n" +
				"2026-11-21T09:00:09Z big-orders in=20 (0/s) out=3 (0/s) lag=0 watermark=- late=0\n"},
	} {
		if got := sample(tc.after, tc.stats...); got != tc.want {
			t.Errorf("sample %d:\n%s\nwant\n%s", i, got, tc.want)
		}
	}
}

func TestProgressTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := newProgress(&b, true, t0)
	stats := func(in1, in2 int64) []pipelines.PipelineStats {
		return []pipelines.PipelineStats{
			{Name: "page-counts", Stages: []rconnect.Stats{stage(in1, in1/10, 0, wm, 3)}},
			{Name: "big-orders", Stages: []rconnect.Stats{stage(in2, in2, -1, math.MinInt64, 0)}},
		}
	}
	p.sample(t0.Add(time.Second), stats(5000, 7))
	want := "\x1b[2KPIPELINE     IN/S  OUT/S  IN    OUT  LAG  WATERMARK             LATE\n" +
		"\x1b[2Kpage-counts  5000  500    5000  500  0    2026-11-21T09:08:10Z  3\n" +
		"\x1b[2Kbig-orders   7     7      7     7    -    -                     0\n"
	if b.String() != want {
		t.Fatalf("first frame:\n%q\nwant\n%q", b.String(), want)
	}

	// The next frame goes up 3 lines and draws over the first.
	b.Reset()
	p.sample(t0.Add(3*time.Second), stats(25000, 5))
	want = "\x1b[3A" +
		"\x1b[2KPIPELINE     IN/S   OUT/S  IN     OUT   LAG  WATERMARK             LATE\n" +
		"\x1b[2Kpage-counts  10000  1000   25000  2500  0    2026-11-21T09:08:10Z  3\n" +
		"\x1b[2Kbig-orders   0      0      5      5     -    -                     0\n"
	if b.String() != want {
		t.Fatalf("second frame:\n%q\nwant\n%q", b.String(), want)
	}

	// A log line written in between pushes the table up: the next frame
	// is drawn below it.
	b.Reset()
	fmt.Fprintf(p.interrupting(&b), "level=WARN msg=%q\n", "something")
	p.sample(t0.Add(4*time.Second), stats(25000, 5))
	want = "level=WARN msg=\"something\"\n" +
		"\x1b[2KPIPELINE     IN/S  OUT/S  IN     OUT   LAG  WATERMARK             LATE\n" +
		"\x1b[2Kpage-counts  0     0      25000  2500  0    2026-11-21T09:08:10Z  3\n" +
		"\x1b[2Kbig-orders   0     0      5      5     -    -                     0\n"
	if b.String() != want {
		t.Fatalf("frame after a log line:\n%q\nwant\n%q", b.String(), want)
	}
}

// A file with a duplicate key is not run, like any file with a problem.
func TestRunDuplicatePipelines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Every path in dir, should it run after all.
	content := strings.NewReplacer("in/", dir+"/in/", "out/", dir+"/out/").Replace(twoPipelinesYAML)
	path := writeFile(t, dir, "dup.yaml", "broker: {data_dir: "+filepath.Join(dir, "data")+"}\n"+content)
	code, out, errOut := runCLI(t, "run", "--once", path)
	if want := path + ":13:3: duplicate key \"p\" (first at line 8)\n"; code != 1 || out != want {
		t.Errorf("exit %d, stdout %q; want 1 and %q", code, out, want)
	}
	if want := "runnel: 1 problem in " + path + ": nothing was run\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the data directory was created (%v)", err)
	}
}

// The summary counts what the pipelines wrote where (issue 12: "OUT 92"
// while the counts file had 45 rows: late records were counted as
// output): OUT is the records of the results, LATE those of the late
// output, and each output lists the records it took, which are the lines
// of its files.
func TestRunSummaryCountsEachOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	quickstart, err := filepath.Abs("../../examples/quickstart/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml, err := os.ReadFile(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "quickstart.yaml", strings.ReplaceAll(string(yaml), "data/quickstart", filepath.Join(dir, "data")))
	code, out, errOut := runCLI(t, "run", "--once", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	counts := len(committedLines(t, filepath.Join(dir, "data", "out", "counts")))
	late := len(committedLines(t, filepath.Join(dir, "data", "out", "late")))
	unique := len(committedLines(t, filepath.Join(dir, "data", "out", "unique")))
	if counts == 0 || late == 0 {
		t.Fatalf("%d windows and %d late views: the quickstart shows both", counts, late)
	}
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^page-counts +5000 +%d +%d +0 +0$`, counts, late))
	if !row.MatchString(out) {
		t.Errorf("page-counts' row does not say %d out (the windows written) and %d late:\n%s", counts, late, out)
	}
	for name, n := range map[string]int{"counts": counts, "late": late, "unique": unique, "views": 5000} {
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^  %s +%d +\S`, name, n)).MatchString(out) {
			t.Errorf("the output %s is not listed with %d records:\n%s", name, n, out)
		}
	}
}

// A run that fails at startup prints the error alone: no table of zeros,
// no outputs (issue 12).
func TestRunStartupErrorAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A broker nobody listens on: the pipelines cannot start.
	path := writeFile(t, dir, "nobroker.yaml", `broker:
  bootstrap: ["127.0.0.1:1"]
  data_dir: `+filepath.Join(dir, "data")+`
inputs:
  in: {topic: {topics: [in]}}
outputs:
  out: {file: {dir: `+filepath.Join(dir, "out")+`}}
pipelines:
  p:
    from: in
    steps:
      - to: out
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"run", "--once", "-q", path}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String(), "PIPELINE") || strings.Contains(stdout.String(), "outputs") {
		t.Errorf("a summary of a run that never started:\n%s", stdout.String())
	}
	if stderr.Len() == 0 {
		t.Error("no error printed")
	}
}

// clicksFile is a pipeline file counting the clicks of in/clicks.jsonl
// under dir per page in tumbling windows of 10s, after a key_by (two
// stages), to out/counts; late clicks go to out/late.
func clicksFile(t *testing.T, dir string) string {
	t.Helper()
	for _, d := range []string{"in", "out"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return writeFile(t, dir, "clicks.yaml", fmt.Sprintf(`broker: {data_dir: %[1]s/data}
inputs:
  clicks: {file: {paths: [%[1]s/in/clicks.jsonl], format: jsonl}}
outputs:
  counts: {file: {dir: %[1]s/out/counts}}
  late: {file: {dir: %[1]s/out/late}}
pipelines:
  page-counts:
    from: clicks
    steps:
      - event_time: value.ts
      - key_by: value.page
      - name: per-10s
        window:
          tumbling: 10s
          aggregate: {views: count()}
          late: late
      - map: {page: value.key, start: value.start, views: value.views}
      - to: counts
`, dir))
}

// appendClicks appends clicks, "page@ts", to in/clicks.jsonl.
func appendClicks(t *testing.T, dir string, clicks ...string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "in", "clicks.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range clicks {
		page, ts, _ := strings.Cut(c, "@")
		fmt.Fprintf(f, `{"page": %q, "ts": %s}`+"\n", page, ts)
	}
}

// runClicks runs the clicks file with args and returns its stdout; it
// fails the test unless the summary is the one of in clicks read, late
// of them late, and closed windows closed.
func runClicks(t *testing.T, path string, in, late, closed int, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, append(append([]string{"run", "--quiet"}, args...), path)...)
	if code != 0 {
		t.Fatalf("%q: exit %d\n%s%s", args, code, out, errOut)
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^page-counts +%d +\d+ +%d +0 +0$`, in, late)).MatchString(out) {
		t.Errorf("%q: no summary of %d clicks in, %d late:\n%s", args, in, late, out)
	}
	line := fmt.Sprintf("pipeline page-counts: closed %d window", closed)
	if closed > 1 {
		line += "s"
	}
	if has := strings.Contains(out, line+" at the end of the input\n"); has != (closed > 0) || (closed == 0 && strings.Contains(out, "closed")) {
		t.Errorf("%q: want %d windows closed in the summary:\n%s", args, closed, out)
	}
	return out
}

// run --once leaves the last windows open; --close-windows closes them,
// even with nothing new to read (the first stage says again that it
// ended); in a later run clicks for closed windows are late, and later
// clicks make windows of their own.
func TestRunOnceCloseWindows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := clicksFile(t, dir)
	appendClicks(t, dir, "/a@1000", "/a@2000", "/b@3000", "/a@15000", "/b@25000")
	runClicks(t, path, 5, 0, 0, "--once")
	counts := filepath.Join(dir, "out", "counts")
	want := []string{
		`{"page":"/a","start":0,"views":2}`,
		`{"page":"/b","start":0,"views":1}`,
		`{"page":"/a","start":10000,"views":1}`,
	}
	if got := committedLines(t, counts); !slices.Equal(got, want) {
		t.Fatalf("after --once the counts are\n%q\nwant\n%q", got, want)
	}

	runClicks(t, path, 0, 0, 1, "--once", "--close-windows")
	want = append(want, `{"page":"/b","start":20000,"views":1}`)
	if got := committedLines(t, counts); !slices.Equal(got, want) {
		t.Fatalf("after --close-windows the counts are\n%q\nwant\n%q", got, want)
	}

	appendClicks(t, dir, "/a@5000", "/b@29000", "/c@40000")
	runClicks(t, path, 3, 2, 1, "--once", "--close-windows")
	want = append(want, `{"page":"/c","start":40000,"views":1}`)
	if got := committedLines(t, counts); !slices.Equal(got, want) {
		t.Fatalf("after a later run the counts are\n%q\nwant\n%q", got, want)
	}
	if got, want := committedLines(t, filepath.Join(dir, "out", "late")), []string{`{"page":"/a","ts":5000}`, `{"page":"/b","ts":29000}`}; !slices.Equal(got, want) {
		t.Fatalf("the late clicks are\n%q\nwant\n%q", got, want)
	}
}
