package pipelines

import (
	"math"
	"strings"
	"testing"
	"time"
)

// step is a failure fed to restarts, and what it must answer.
type step struct {
	healthy bool // the run before the failure was healthy
	attempt int
	delay   time.Duration
	ok      bool
}

func runSteps(t *testing.T, r *restarts, steps []step) {
	t.Helper()
	for i, s := range steps {
		attempt, delay, ok := r.failed(s.healthy)
		if attempt != s.attempt || delay != s.delay || ok != s.ok {
			t.Fatalf("failure %d (healthy before: %v): attempt %d, delay %s, ok %v; want attempt %d, delay %s, ok %v",
				i+1, s.healthy, attempt, delay, ok, s.attempt, s.delay, s.ok)
		}
	}
}

// noJitter is restarts of s whose delays are not shortened at random.
func noJitter(s RestartStrategy) *restarts {
	r := newRestarts(s)
	r.rand = func() float64 { return 0 }
	return r
}

func TestRestartDelays(t *testing.T) {
	t.Parallel()
	sec := time.Second
	for _, tc := range []struct {
		name  string
		s     RestartStrategy
		steps []step
	}{
		{"default: 1s doubling to 1m, for ever", RestartStrategy{}, []step{
			{false, 1, sec, true}, {false, 2, 2 * sec, true}, {false, 3, 4 * sec, true}, {false, 4, 8 * sec, true},
			{false, 5, 16 * sec, true}, {false, 6, 32 * sec, true}, {false, 7, time.Minute, true}, {false, 8, time.Minute, true},
		}},
		{"a healthy run starts the series again", RestartStrategy{}, []step{
			{false, 1, sec, true}, {false, 2, 2 * sec, true}, {false, 3, 4 * sec, true},
			{true, 1, sec, true}, {false, 2, 2 * sec, true},
		}},
		{"bounded: the failure after the last restart ends it", RestartStrategy{MaxAttempts: 3}, []step{
			{false, 1, sec, true}, {false, 2, 2 * sec, true}, {false, 3, 4 * sec, true}, {false, 4, 0, false},
		}},
		// Issue 12: a 13 s outage survived on attempt 4, a second one 28 s
		// later ended the process (at most 5 restarts, the count reset
		// after a minute). The stage committed checkpoints in between: the
		// second outage starts at attempt 1.
		{"issue 12: two outages 28s apart", RestartStrategy{MaxAttempts: 5}, []step{
			{false, 1, sec, true}, {false, 2, 2 * sec, true}, {false, 3, 4 * sec, true}, {false, 4, 8 * sec, true},
			{true, 1, sec, true}, {false, 2, 2 * sec, true}, {false, 3, 4 * sec, true}, {false, 4, 8 * sec, true},
			{false, 5, 16 * sec, true}, {false, 6, 0, false},
		}},
		{"never restart", RestartStrategy{MaxAttempts: -1}, []step{{false, 1, 0, false}}},
		{"never restart, even after a healthy run", RestartStrategy{MaxAttempts: -1}, []step{{true, 1, 0, false}}},
		{"one restart", RestartStrategy{MaxAttempts: 1}, []step{{false, 1, sec, true}, {true, 1, sec, true}, {false, 2, 0, false}}},
		{"settings", RestartStrategy{Backoff: 3 * sec, MaxBackoff: 10 * sec}, []step{
			{false, 1, 3 * sec, true}, {false, 2, 6 * sec, true}, {false, 3, 10 * sec, true}, {false, 4, 10 * sec, true},
		}},
		{"a backoff longer than the default cap", RestartStrategy{Backoff: 2 * time.Minute}, []step{
			{false, 1, 2 * time.Minute, true}, {false, 2, 2 * time.Minute, true},
		}},
		{"a cap shorter than the default backoff", RestartStrategy{MaxBackoff: 300 * time.Millisecond}, []step{
			{false, 1, 300 * time.Millisecond, true}, {false, 2, 300 * time.Millisecond, true},
		}},
		{"backoff equal to the cap", RestartStrategy{Backoff: 5 * sec, MaxBackoff: 5 * sec}, []step{
			{false, 1, 5 * sec, true}, {false, 2, 5 * sec, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, noJitter(tc.s), tc.steps)
		})
	}
}

// Doubling never overflows, however long the series and the cap.
func TestRestartDelaysDoNotOverflow(t *testing.T) {
	t.Parallel()
	r := noJitter(RestartStrategy{Backoff: 3, MaxBackoff: math.MaxInt64})
	var last time.Duration
	for i := 0; i < 200; i++ {
		_, d, ok := r.failed(false)
		if !ok || d < last || d <= 0 {
			t.Fatalf("failure %d: delay %s after %s, ok %v", i+1, d, last, ok)
		}
		last = d
	}
	if last != math.MaxInt64 {
		t.Fatalf("the delays end at %s, want the cap", last)
	}
}

// Jitter takes at most a tenth off a delay, and never adds to it.
func TestRestartJitter(t *testing.T) {
	t.Parallel()
	for _, f := range []float64{0, 0.5, 0.999999} {
		r := newRestarts(RestartStrategy{Backoff: 10 * time.Second})
		r.rand = func() float64 { return f }
		_, d, _ := r.failed(false)
		want := 10*time.Second - time.Duration(f*float64(time.Second))
		if d != want {
			t.Errorf("rand %v: delay %s, want %s", f, d, want)
		}
	}
	r := newRestarts(RestartStrategy{})
	for i := 0; i < 100; i++ {
		_, d, _ := r.failed(i%3 == 0)
		base := time.Second << min((i%3), 6)
		if d > base || d < base*9/10 {
			t.Fatalf("failure %d: delay %s, want within [%s, %s]", i+1, d, base*9/10, base)
		}
	}
}

func TestRestartHealthy(t *testing.T) {
	t.Parallel()
	s := RestartStrategy{}.withDefaults()
	for _, tc := range []struct {
		checkpoints int64
		ran         time.Duration
		want        bool
	}{
		{0, 0, false},
		{1, 0, true},                             // it committed: it made progress
		{0, 28 * time.Second, false},             // the second outage of issue 12 came after 28s
		{0, DefaultRestartResetAfter - 1, false}, // ran a while, committed nothing
		{0, DefaultRestartResetAfter, true},      // an idle stage that kept working
		{3, DefaultRestartResetAfter + time.Hour, true},
	} {
		if got := s.healthy(tc.checkpoints, tc.ran); got != tc.want {
			t.Errorf("healthy(%d checkpoints, ran %s) = %v, want %v", tc.checkpoints, tc.ran, got, tc.want)
		}
	}
	if s := (RestartStrategy{ResetAfter: time.Minute}).withDefaults(); !s.healthy(0, time.Minute) || s.healthy(0, time.Minute-1) {
		t.Errorf("ResetAfter 1m is not the threshold")
	}
}

func TestRestartStrategyValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    RestartStrategy
		want string // "" when valid
	}{
		{RestartStrategy{}, ""},
		{RestartStrategy{MaxAttempts: -1}, ""},
		{RestartStrategy{Backoff: time.Minute}, ""},
		{RestartStrategy{MaxBackoff: time.Millisecond}, ""},
		{RestartStrategy{Backoff: time.Second, MaxBackoff: time.Second}, ""},
		{RestartStrategy{Backoff: -time.Second}, "pipelines: Options.Restart: Backoff -1s is negative"},
		{RestartStrategy{Backoff: 2 * time.Second, MaxBackoff: time.Second}, "pipelines: Options.Restart: MaxBackoff 1s is less than Backoff 2s"},
		{RestartStrategy{Backoff: -1, MaxBackoff: -2, ResetAfter: -3},
			"pipelines: Options.Restart: Backoff -1ns is negative; MaxBackoff -2ns is negative; ResetAfter -3ns is negative"},
	} {
		err := tc.s.validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v: validate() = %q, want %q", tc.s, got, tc.want)
		}
	}
	if err := New("p", Options{Restart: RestartStrategy{Backoff: -1}}).Run(t.Context()); err == nil || !strings.Contains(err.Error(), "Backoff -1ns is negative") {
		t.Errorf("Run of a pipeline with a negative backoff: %v", err)
	}
}

// A file's restart is every pipeline's, and a pipeline's restart
// overrides it field by field; max_attempts 0 turns restarts off, and
// unlimited lifts the file's limit.
func TestYAMLRestart(t *testing.T) {
	t.Parallel()
	doc := `
restart: {max_attempts: 5, backoff: 2s}
inputs:
  views: {datagen: {preset: pageviews, count: 10}}
outputs:
  a: {topic: {topic: a}}
  b: {topic: {topic: b}}
  c: {topic: {topic: c}}
  d: {topic: {topic: d}}
pipelines:
  files: {from: views, steps: [{to: a}]}
  unlimited: {from: views, steps: [{to: b}], restart: {max_attempts: unlimited, max_backoff: 5m}}
  never: {from: views, steps: [{to: c}], restart: {max_attempts: 0}}
  own: {from: views, steps: [{to: d}], restart: {backoff: 10s, reset_after: 30m}}
`
	f, err := Parse("p.yaml", []byte(doc), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RestartStrategy{
		"files":     {MaxAttempts: 5, Backoff: 2 * time.Second},
		"unlimited": {Backoff: 2 * time.Second, MaxBackoff: 5 * time.Minute},
		"never":     {MaxAttempts: -1, Backoff: 2 * time.Second},
		"own":       {MaxAttempts: 5, Backoff: 10 * time.Second, ResetAfter: 30 * time.Minute},
	}
	for _, p := range f.Pipelines {
		if got := p.opts.Restart; got != want[p.g.Name()] {
			t.Errorf("pipeline %s: restart %+v, want %+v", p.g.Name(), got, want[p.g.Name()])
		}
	}
	f, err = Parse("p.yaml", []byte("inputs: {v: {datagen: {preset: pageviews}}}\noutputs: {a: {topic: {topic: a}}}\npipelines: {p: {from: v, steps: [{to: a}]}}\n"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Pipelines[0].opts.Restart; got != (RestartStrategy{}) {
		t.Errorf("without restart: %+v, want the defaults", got)
	}
}
