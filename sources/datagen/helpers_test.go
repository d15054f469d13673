package datagen

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/engine"
)

// at returns Assignments resuming in at next.
func at(in engine.Input, next int64) *connecttest.Assignments {
	return &connecttest.Assignments{Pos: engine.Positions{in: next}}
}

// legacy is the input of preset that positions stored before the start
// was kept with them have: its start is LegacyStart.
func legacy(preset string) engine.Input { return engine.Input{Stream: "datagen:" + preset} }

// inputOfCfg is the input a source of cfg resumes: of its Start, or the
// legacy input (LegacyStart) when it has none.
func inputOfCfg(cfg Config) engine.Input {
	if cfg.Start == "" {
		return legacy(cfg.Preset)
	}
	return inputOf(cfg.Preset, cfg.Start)
}

func requireNoError(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func requireErrorContains(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", subs)
	}
	for _, sub := range subs {
		if !strings.Contains(err.Error(), sub) {
			t.Fatalf("error %q does not contain %q", err, sub)
		}
	}
}

// open returns an opened Source for cfg, closed at the end of the test.
func open(t testing.TB, cfg Config, a connect.Assignments) *Source {
	t.Helper()
	s, err := New(cfg)
	requireNoError(t, err)
	if a == nil {
		a = &connecttest.Assignments{}
	}
	requireNoError(t, s.Open(context.Background(), a))
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// records flattens batches, checking they are all of task 0.
func records(t testing.TB, bs []connect.Batch) []*connect.Record {
	t.Helper()
	var out []*connect.Record
	for _, b := range bs {
		if b.Task != 0 {
			t.Fatalf("batch of task %d, want 0", b.Task)
		}
		out = append(out, b.Records...)
	}
	return out
}

// readAll polls a bounded source until ErrEndOfInput.
func readAll(t testing.TB, s *Source) []*connect.Record {
	t.Helper()
	var out []*connect.Record
	for i := 0; ; i++ {
		if i > 1_000_000 {
			t.Fatal("bounded source never ended")
		}
		bs, err := s.Poll(context.Background())
		if errors.Is(err, connect.ErrEndOfInput) {
			return out
		}
		requireNoError(t, err)
		out = append(out, records(t, bs)...)
	}
}

// generateN returns records first..first+n-1 of cfg, read by a source
// resuming at first.
func generateN(t testing.TB, cfg Config, first, n int64) []*connect.Record {
	t.Helper()
	cfg.Count = n
	return readAll(t, open(t, cfg, at(inputOfCfg(cfg), first)))
}
