package datagen

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/engine"
)

// runStage runs a stage copying the records of a datagen source with cfg
// to out, and returns Run's error.
func runStage(t *testing.T, cfg Config, out *connecttest.Sink) error {
	t.Helper()
	g := engine.NewGraph("copy")
	in := engine.From(g, "datagen", engine.Bytes(), engine.Bytes())
	engine.To(in, "out", engine.Bytes(), engine.Bytes())
	src, err := New(cfg)
	requireNoError(t, err)
	r, err := connect.NewRunner(connect.StageConfig{Graph: g, Source: src,
		Sinks: map[string]connect.Sink{"out": out}, Logger: slog.New(slog.DiscardHandler)})
	requireNoError(t, err)
	return r.Run(context.Background())
}

// A stage that crashes and starts again over an exactly-once sink writes
// what one run without a crash writes, byte for byte.
func TestExactlyOnceThroughTheRunner(t *testing.T) {
	t.Parallel()
	const total = 1400
	cfg := Config{Preset: PresetClicks, MaxBatch: 64, Start: LegacyStart}
	in := inputOf(PresetClicks, LegacyStart)

	clean := connecttest.NewExactlyOnceSink("out", nil)
	cfg.Count = total
	requireNoError(t, runStage(t, cfg, clean))
	want := clean.Output(0)
	if len(want) != total || clean.Positions(0)[in] != total {
		t.Fatalf("clean run: %d records, position %d; want %d", len(want), clean.Positions(0)[in], total)
	}

	crashed := connecttest.NewExactlyOnceSink("out", nil)
	crashed.SetRollAfter(200) // a checkpoint every 200 records...
	crash := errors.New("crash")
	crashed.FailCommit(3, crash) // ...the third of which fails
	if err := runStage(t, cfg, crashed); !errors.Is(err, crash) {
		t.Fatalf("first run: %v, want the crash", err)
	}
	committed := crashed.Positions(0)[in]
	if committed == 0 || committed >= total || int64(len(crashed.Output(0))) != committed {
		t.Fatalf("after the crash: %d records committed at position %d", len(crashed.Output(0)), committed)
	}
	cfg.Count = total - committed // the run resumes at the sink's position
	requireNoError(t, runStage(t, cfg, crashed))
	equalRecords(t, crashed.Output(0), want)
}

// Over an at-least-once sink the position lives in the offsets file: a
// second run goes on where the first stopped.
func TestAtLeastOnceThroughTheRunner(t *testing.T) {
	t.Parallel()
	offsets := filepath.Join(t.TempDir(), "offsets.json")
	cfg := Config{Preset: PresetPageviews, Count: 300, MaxBatch: 64, OffsetsFile: offsets}
	out := connecttest.NewAtLeastOnceSink("out", nil)
	requireNoError(t, runStage(t, cfg, out))
	if _, next, ok, err := readOffsets(offsets, PresetPageviews); err != nil || !ok || next != 300 {
		t.Fatalf("offsets file holds %d (%v, %v), want 300", next, ok, err)
	}
	requireNoError(t, runStage(t, cfg, out))
	got := out.Output(0)
	if len(got) != 600 {
		t.Fatalf("%d records in two runs, want 600", len(got))
	}
	// The runs generated from the start the first one picked, which the
	// offsets file keeps.
	stored, _, _, err := readOffsets(offsets, PresetPageviews)
	requireNoError(t, err)
	start, ok := StartOf(PresetPageviews, stored)
	if !ok || start == LegacyStart {
		t.Fatalf("the offsets file holds the input %q", stored.Stream)
	}
	equalRecords(t, got, generateN(t, Config{Preset: PresetPageviews, Start: start}, 0, 600))
}
