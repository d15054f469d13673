package topic

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/proctest"
)

// fetched finds the records deleted under a source while it reads: a gap
// before the first record of a fetch that lies below the log start. Gaps
// above it (aborted transactions, compaction) are not skips, nor are
// gaps after a position the source did not know exactly.
func TestFetchedCountsDeletedGaps(t *testing.T) {
	logs := &proctest.Buffer{}
	s, err := New(Config{Brokers: []string{"x:9092"}, Topics: []string{"t"}, Group: "g",
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	in := engine.Input{Stream: "t", Partition: 0}
	s.own(in, 10)
	for _, step := range []struct {
		first, last, logStart, lso int64
		skipped                    int64
	}{
		{10, 19, 0, 20, 0},   // no gap
		{25, 29, 0, 30, 0},   // a gap above the log start: aborted or compacted
		{40, 49, 35, 50, 10}, // 30 to 39 gone; the log starts at 35
		{50, 59, 55, 60, 10}, // no gap: what was read stays read
	} {
		s.fetched(in, step.first, step.last, step.logStart, step.lso)
		if s.Skipped() != step.skipped {
			t.Fatalf("after records %d to %d (log start %d): Skipped() = %d, want %d", step.first, step.last, step.logStart, s.Skipped(), step.skipped)
		}
		if p := s.parts[in]; p.next != step.last+1 || p.end != step.lso {
			t.Fatalf("after records %d to %d: next %d, end %d", step.first, step.last, p.next, p.end)
		}
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 1 || !strings.Contains(logs.String(), "skipped=10") {
		t.Fatalf("want one warning with skipped=10:\n%s", logs)
	}
	if lag := s.Lag()[0]; lag != 0 {
		t.Fatalf("lag %d at the end", lag)
	}

	// A position resolved from the reset policy is not exact: a gap
	// after it is no skip.
	s.own(engine.Input{Stream: "t", Partition: 1}, -2)
	s.fetched(engine.Input{Stream: "t", Partition: 1}, 100, 109, 100, 110)
	if s.Skipped() != 10 {
		t.Fatalf("a reset position counted as a skip: %d", s.Skipped())
	}
}
