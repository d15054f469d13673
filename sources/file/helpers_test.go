package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
)

func requireNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func requireErrorContains(t *testing.T, err error, subs ...string) {
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

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	requireNoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	requireNoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	requireNoError(t, err)
	_, err = f.WriteString(content)
	requireNoError(t, err)
	requireNoError(t, f.Close())
}

// open returns an opened Source for cfg, closed at the end of the test.
func open(t *testing.T, cfg Config, a connect.Assignments) *Source {
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
func records(t *testing.T, bs []connect.Batch) []*connect.Record {
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
func readAll(t *testing.T, s *Source) []*connect.Record {
	t.Helper()
	var out []*connect.Record
	for i := 0; ; i++ {
		if i > 100000 {
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

// pollUntil polls a source until it returned n records in all, failing
// the test after 10 seconds.
func pollUntil(t *testing.T, s *Source, n int) []*connect.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var out []*connect.Record
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d records %q after 10s, want %d", len(out), values(out), n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		bs, err := s.Poll(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Poll: %v", err)
		}
		out = append(out, records(t, bs)...)
	}
	return out
}

// pollError polls until Poll fails with something other than a timeout,
// and returns that error.
func pollError(t *testing.T, s *Source) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := s.Poll(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	t.Fatal("Poll did not fail within 10s")
	return nil
}

// expectNothing checks that a following source has no record for a few
// poll intervals. It is a negative check: it cannot time out wrongly.
func expectNothing(t *testing.T, s *Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*s.cfg.PollInterval)
	defer cancel()
	for {
		bs, err := s.Poll(ctx)
		if recs := records(t, bs); len(recs) > 0 {
			t.Fatalf("got records %q, want none", values(recs))
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return
		}
		requireNoError(t, err)
	}
}

func values(recs []*connect.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

func equalStrings(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func abs(t *testing.T, path string) string {
	t.Helper()
	a, err := filepath.Abs(path)
	requireNoError(t, err)
	return a
}

func boolp(b bool) *bool { return &b }
