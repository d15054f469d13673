package pipelines

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/kafkastate"
	"github.com/runnel-io/runnel/engine"
)

// The defaults of RestartStrategy.
const (
	DefaultRestartBackoff    = time.Second
	DefaultRestartMaxBackoff = time.Minute
	DefaultRestartResetAfter = 10 * time.Minute
)

// restartJitter is the largest part of a delay taken off it at random, so
// that the processes of a pipeline that failed together (a database went
// away) do not all come back at the same instant.
const restartJitter = 0.1

// RestartStrategy says how a stage that fails is restarted from its last
// checkpoint, as Flink's exponential-delay restart strategy does: the
// first restart waits Backoff, each further failure in a row doubles the
// wait up to MaxBackoff, and after MaxAttempts restarts in a row Run gives
// up and returns the error. Each wait is shortened by up to 10% at
// random. Every restart is logged at WARN with its attempt number, its
// delay and the error.
//
// A failure ends the series of failures in a row, and starts again at
// attempt 1 with Backoff, when the run before it was healthy: it committed
// a checkpoint (the stage made progress: its outputs and positions moved),
// or it ran ResetAfter without failing (a stage with nothing to commit,
// an idle input, that kept working).
//
// A record that fails under the Fail error policy is never retried: it
// would fail again. That is an *engine.RecordError (an operator or an
// expression failed on it) or a *connect.RejectedError (a sink refused
// it: a value its column cannot hold, a constraint). Nor is a stage whose
// wiring is wrong (no connector for one of its inputs or outputs).
//
// The zero value is the default: restart for ever, waiting 1s, 2s, 4s...
// up to a minute.
type RestartStrategy struct {
	// MaxAttempts is how many times in a row a failed stage is restarted
	// before Run returns its error. 0 (the default): no limit; negative:
	// never restart (a YAML file's max_attempts: 0).
	MaxAttempts int
	// Backoff is the wait before the first restart of a series (default
	// 1s, or MaxBackoff when it is shorter).
	Backoff time.Duration
	// MaxBackoff caps the wait (default 1m, or Backoff when it is longer);
	// it must not be less than Backoff.
	MaxBackoff time.Duration
	// ResetAfter is how long a stage must run without failing to count as
	// healthy when it committed nothing (default 10m). A stage that
	// committed a checkpoint is healthy at once.
	ResetAfter time.Duration
}

// validate says what is wrong with s, every problem; nil when nothing is.
func (s RestartStrategy) validate() error {
	var ps []string
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Backoff", s.Backoff}, {"MaxBackoff", s.MaxBackoff}, {"ResetAfter", s.ResetAfter}} {
		if d.v < 0 {
			ps = append(ps, fmt.Sprintf("%s %s is negative", d.name, d.v))
		}
	}
	if s.MaxBackoff > 0 && s.MaxBackoff < s.Backoff {
		ps = append(ps, fmt.Sprintf("MaxBackoff %s is less than Backoff %s", s.MaxBackoff, s.Backoff))
	}
	if len(ps) > 0 {
		return fmt.Errorf("pipelines: Options.Restart: %s", strings.Join(ps, "; "))
	}
	return nil
}

// withDefaults fills in the fields left zero.
func (s RestartStrategy) withDefaults() RestartStrategy {
	if s.Backoff <= 0 {
		s.Backoff = DefaultRestartBackoff
		if s.MaxBackoff > 0 {
			s.Backoff = min(s.Backoff, s.MaxBackoff)
		}
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = max(DefaultRestartMaxBackoff, s.Backoff)
	}
	if s.ResetAfter <= 0 {
		s.ResetAfter = DefaultRestartResetAfter
	}
	return s
}

// healthy reports whether a run that ended in a failure was healthy: it
// committed checkpoints, or it ran for ResetAfter.
// REQUIRES: s has its defaults.
func (s RestartStrategy) healthy(checkpoints int64, ran time.Duration) bool {
	return checkpoints > 0 || ran >= s.ResetAfter
}

// restarts counts the failures of a stage in a row and says how long to
// wait before each restart. It has no clock: the caller says whether the
// run that failed was healthy, and does the waiting.
type restarts struct {
	s        RestartStrategy // with its defaults
	failures int             // in a row
	// rand returns a number in [0, 1): the part of restartJitter taken
	// off a delay.
	rand func() float64
}

func newRestarts(s RestartStrategy) *restarts {
	return &restarts{s: s.withDefaults(), rand: rand.Float64}
}

// failed counts a failure of the stage, after a run that was healthy or
// not, and returns the attempt number of the next restart (1 after a
// healthy run) and how long to wait before it; ok is false when no
// restart is left (failures are then the failures in a row, the first run
// included).
func (r *restarts) failed(healthy bool) (attempt int, delay time.Duration, ok bool) {
	if healthy {
		r.failures = 0
	}
	r.failures++
	if r.s.MaxAttempts < 0 || r.s.MaxAttempts > 0 && r.failures > r.s.MaxAttempts {
		return r.failures, 0, false
	}
	delay = r.s.Backoff
	for i := 1; i < r.failures && delay < r.s.MaxBackoff; i++ {
		if delay > r.s.MaxBackoff/2 {
			delay = r.s.MaxBackoff
			break
		}
		delay *= 2
	}
	delay = min(delay, r.s.MaxBackoff)
	delay -= time.Duration(float64(delay) * restartJitter * r.rand())
	return r.failures, delay, true
}

// permanentError marks an error that a restart would meet again: the
// stage is not restarted.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// runStage runs one stage, restarting it from its last checkpoint after an
// error that another attempt may not meet (a broker or sink failure), as
// Options.Restart says.
func (p *Pipeline) runStage(ctx context.Context, rt *runtime, store *kafkastate.Store, i int, st engine.Stage) error {
	rs := newRestarts(p.opts.Restart)
	for {
		r, closeSinks, err := p.buildStage(rt, store, i, st)
		healthy := false
		if err == nil {
			p.mu.Lock()
			p.runners[i] = r
			p.mu.Unlock()
			start := time.Now()
			err = r.Run(ctx)
			closeSinks()
			st := r.Stats()
			healthy = rs.s.healthy(st.Checkpoints, time.Since(start))
			if err != nil && ctx.Err() == nil {
				// Restarted or not, what it committed stays counted.
				p.mu.Lock()
				p.before[i], p.runners[i] = p.before[i].Plus(st), nil
				p.mu.Unlock()
			}
		}
		var recErr *engine.RecordError
		var rejErr *connect.RejectedError
		var perm permanentError
		if err == nil || ctx.Err() != nil || errors.As(err, &recErr) || errors.As(err, &rejErr) {
			return err
		}
		if errors.As(err, &perm) {
			return perm.error
		}
		attempt, delay, ok := rs.failed(healthy)
		if !ok {
			if rs.s.MaxAttempts < 0 {
				return fmt.Errorf("pipelines: stage %d of pipeline %s failed, and restarts are off: %w", i, p.g.Name(), err)
			}
			restarted := fmt.Sprintf("%d times", rs.s.MaxAttempts)
			if rs.s.MaxAttempts == 1 {
				restarted = "once"
			}
			return fmt.Errorf("pipelines: stage %d of pipeline %s failed %d times in a row (restarted %s, the most max_attempts allows); last error: %w",
				i, p.g.Name(), attempt, restarted, err)
		}
		args := []any{"pipeline", p.g.Name(), "stage", i, "attempt", attempt}
		if rs.s.MaxAttempts > 0 {
			args = append(args, "max_attempts", rs.s.MaxAttempts)
		}
		args = append(args, "in", delay.Round(time.Millisecond), "err", err)
		p.opts.Logger.Warn("stage failed; restarting from its last checkpoint", args...)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
