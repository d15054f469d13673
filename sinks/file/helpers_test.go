package file

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

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

// newSink returns a Sink for cfg, closed at the end of the test.
func newSink(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	requireNoError(t, err)
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// rec is a record read from stream at offset, one byte long.
func rec(stream string, offset int64, value string) *connect.Record {
	return &connect.Record{
		Value: []byte(value),
		Pos:   engine.Pos{Input: engine.Input{Stream: stream}, Offset: offset, Next: offset + 1},
	}
}

func openTask(t testing.TB, s *Sink, id connect.TaskID) engine.Positions {
	t.Helper()
	p, err := s.OpenTask(context.Background(), id)
	requireNoError(t, err)
	return p
}

func write(t testing.TB, s *Sink, id connect.TaskID, recs ...*connect.Record) {
	t.Helper()
	requireNoError(t, s.Write(context.Background(), id, recs))
}

func commitOK(t testing.TB, s *Sink, cp connect.Checkpoint) {
	t.Helper()
	requireNoError(t, s.Commit(context.Background(), cp))
}

// ls returns the names in dir, sorted; none if it does not exist.
func ls(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	requireNoError(t, err)
	return string(b)
}

// committed returns the base names of the committed part files of a
// task.
func committed(t testing.TB, dir, prefix string, id connect.TaskID) []string {
	t.Helper()
	all, err := ReadCommitted(dir, prefix)
	requireNoError(t, err)
	var out []string
	for _, p := range all[id] {
		if filepath.Dir(p) != dir {
			t.Fatalf("ReadCommitted returned %s, not in %s", p, dir)
		}
		out = append(out, filepath.Base(p))
	}
	return out
}

func equalStrings(t testing.TB, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func equalPositions(t testing.TB, got, want engine.Positions) {
	t.Helper()
	if !got.Equal(want) || (got == nil) != (want == nil) {
		t.Fatalf("positions %v, want %v", got, want)
	}
}

// partName is the expected name of a part file with inline positions.
func partName(prefix string, id connect.TaskID, seq uint64, pos engine.Positions, ext string) string {
	return name{prefix: prefix, task: id, seq: seq, token: "p" + b32.EncodeToString(encodePositions(pos)), ext: ext}.part()
}
