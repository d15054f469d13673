package datagen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/engine"
)

// equalRecords fails unless got and want are the same records, byte for
// byte.
func equalRecords(t *testing.T, got, want []*connect.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for k := range got {
		g, w := got[k], want[k]
		if !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || g.Time != w.Time || g.Pos != w.Pos || len(g.Headers)+len(w.Headers) != 0 {
			t.Fatalf("record %d differs:\n got %s %s %d %+v %v\nwant %s %s %d %+v %v", k,
				g.Key, g.Value, g.Time, g.Pos, g.Headers, w.Key, w.Value, w.Time, w.Pos, w.Headers)
		}
	}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	for _, preset := range Presets() {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			// 4000 clicks cross several frames of the clicks schedule.
			const n = 4000
			cfg := Config{Preset: preset, MaxBatch: 97}
			all := generateN(t, cfg, 0, n)
			for k, r := range all {
				if want := (engine.Pos{Input: engine.Input{Stream: "datagen:" + preset}, Offset: int64(k), Next: int64(k) + 1}); r.Pos != want {
					t.Fatalf("record %d at %+v, want %+v", k, r.Pos, want)
				}
			}
			// Resumed anywhere, with other batch sizes: the same bytes.
			for _, first := range []int64{1, 499, 1234, 2999} {
				cfg := cfg
				cfg.MaxBatch = int(first%13) + 1
				equalRecords(t, generateN(t, cfg, first, n-first), all[first:])
			}
			// Record by record, backwards: the same bytes.
			g := newGenerator(cfg.withDefaults())
			for i := int64(n - 1); i >= 0; i -= 7 {
				buf, keyLen, ts := g.appendRecord(nil, i)
				if r := all[i]; !bytes.Equal(buf[:keyLen], r.Key) || !bytes.Equal(buf[keyLen:], r.Value) || ts != r.Time {
					t.Fatalf("record %d generated alone: %s %s %d, want %s %s %d", i, buf[:keyLen], buf[keyLen:], ts, r.Key, r.Value, r.Time)
				}
			}
			// Another seed, start or number of keys: other records.
			for _, other := range []Config{
				{Preset: preset, Seed: 2},
				{Preset: preset, Keys: 50},
				{Preset: preset, Start: "2026-11-21T09:00:01Z"},
			} {
				recs := generateN(t, other, 0, 100)
				same := 0
				for k, r := range recs {
					if bytes.Equal(r.Value, all[k].Value) {
						same++
					}
				}
				if same > 5 {
					t.Fatalf("%+v: %d of 100 records as with the defaults", other, same)
				}
			}
		})
	}
}

func TestBoundedCount(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Preset: PresetOrders, Count: 1234, MaxBatch: 100}, nil)
	if lag := s.Lag()[0]; lag != 1234 {
		t.Fatalf("lag before the first Poll %d, want 1234", lag)
	}
	var got []*connect.Record
	for {
		bs, err := s.Poll(context.Background())
		if errors.Is(err, connect.ErrEndOfInput) {
			break
		}
		requireNoError(t, err)
		recs := records(t, bs)
		if len(recs) == 0 || len(recs) > 100 {
			t.Fatalf("Poll returned %d records, want 1 to 100", len(recs))
		}
		got = append(got, recs...)
		if lag := s.Lag()[0]; lag != int64(1234-len(got)) {
			t.Fatalf("lag %d after %d records, want %d", lag, len(got), 1234-len(got))
		}
		if len(got) > 1234 {
			t.Fatalf("more than Count records")
		}
	}
	if len(got) != 1234 || got[1233].Pos.Next != 1234 {
		t.Fatalf("got %d records, the last ending at %d; want 1234", len(got), got[len(got)-1].Pos.Next)
	}
	for range 2 {
		if _, err := s.Poll(context.Background()); !errors.Is(err, connect.ErrEndOfInput) {
			t.Fatalf("Poll after the end: %v, want ErrEndOfInput", err)
		}
	}
	if lag := s.Lag()[0]; lag != 0 {
		t.Fatalf("lag %d at the end, want 0", lag)
	}
	t.Run("unbounded", func(t *testing.T) {
		s := open(t, Config{Preset: PresetOrders, MaxBatch: 7}, nil)
		for range 3 {
			bs, err := s.Poll(context.Background())
			requireNoError(t, err)
			if n := len(records(t, bs)); n != 7 {
				t.Fatalf("Poll returned %d records, want MaxBatch 7", n)
			}
		}
		if lag := s.Lag()[0]; lag != -1 {
			t.Fatalf("lag %d, want -1 (unbounded)", lag)
		}
	})
}

func TestResumeAtAssignedPosition(t *testing.T) {
	t.Parallel()
	a := at(legacy(PresetPageviews), 500)
	s := open(t, Config{Preset: PresetPageviews, Count: 10}, a)
	recs := readAll(t, s)
	if len(recs) != 10 || recs[0].Pos.Offset != 500 || recs[9].Pos.Next != 510 {
		t.Fatalf("got %d records from %+v, want 10 from 500", len(recs), recs[0].Pos)
	}
	if len(a.Calls()) != 1 || len(a.Calls()[0]) != 1 || a.Calls()[0][0] != 0 {
		t.Fatalf("Assigned calls %v, want one for task 0", a.Calls())
	}
	// Positions of other inputs (another preset) are not the source's.
	s = open(t, Config{Preset: PresetPageviews, Count: 1}, at(legacy(PresetOrders), 500))
	if recs := readAll(t, s); recs[0].Pos.Offset != 0 {
		t.Fatalf("resumed at %d on the position of another input", recs[0].Pos.Offset)
	}
	t.Run("negative", func(t *testing.T) {
		s := open(t, Config{Preset: PresetPageviews}, at(legacy(PresetPageviews), -1))
		_, err := s.Poll(context.Background())
		requireErrorContains(t, err, "assigned position -1 of datagen:pageviews is negative")
	})
	t.Run("error", func(t *testing.T) {
		boom := errors.New("boom")
		s := open(t, Config{Preset: PresetPageviews}, &connecttest.Assignments{Err: boom})
		_, err := s.Poll(context.Background())
		if !errors.Is(err, boom) {
			t.Fatalf("Poll: %v, want the Assigned error", err)
		}
		requireErrorContains(t, err, "assigning task 0")
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	requireNoError(t, err)
	return string(b)
}

func TestOffsetsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	offsets := filepath.Join(dir, "offsets.json")
	cfg := Config{Preset: PresetClicks, Count: 300, OffsetsFile: offsets}
	ctx := context.Background()

	s := open(t, cfg, nil)
	first := readAll(t, s)
	if _, err := os.Stat(offsets); !os.IsNotExist(err) {
		t.Fatalf("offsets file written before a Commit: %v", err)
	}
	in := s.Input()
	if !strings.HasPrefix(in.Stream, "datagen:clicks@") {
		t.Fatalf("the input %q does not carry its start", in.Stream)
	}
	requireNoError(t, s.Commit(ctx, connect.Checkpoint{0: {in: 120}}))
	if got, want := readFile(t, offsets), `{"version":2,"preset":"clicks","stream":"`+in.Stream+`","next":120}`+"\n"; got != want {
		t.Fatalf("offsets file %q, want %q", got, want)
	}
	// Other tasks and inputs are not the source's.
	requireNoError(t, s.Commit(ctx, connect.Checkpoint{7: {in: 5}, 0: {{Stream: "datagen:orders"}: 6}}))
	requireNoError(t, s.Commit(ctx, connect.Checkpoint{}))
	if _, next, _, err := readOffsets(offsets, PresetClicks); err != nil || next != 120 {
		t.Fatalf("stored %d (%v), want 120", next, err)
	}
	if _, err := os.Stat(offsets + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	requireErrorContains(t, s.Commit(ctx, connect.Checkpoint{0: {in: -1}}), "committed position -1")

	// A new source resumes there, and generates the same records...
	s2 := open(t, cfg, nil)
	resumed := readAll(t, s2)
	equalRecords(t, resumed[:180], first[120:])
	if resumed[299].Pos.Next != 420 {
		t.Fatalf("the resumed run ends at %d, want 120+Count", resumed[299].Pos.Next)
	}
	// ...unless the Assignments say otherwise.
	s3 := open(t, cfg, at(in, 7))
	equalRecords(t, readAll(t, s3)[:10], first[7:17])

	t.Run("no offsets file", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, Config{Preset: PresetClicks, Count: 3}, nil)
		readAll(t, s)
		requireNoError(t, s.Commit(ctx, connect.Checkpoint{0: {in: 3}}))
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("Commit without OffsetsFile wrote %v", entries)
		}
	})
	for _, tc := range []struct{ name, content, want string }{
		{"corrupt", `{"version":1,"pre`, "corrupt: unexpected end of JSON input"},
		{"not an object", `[1]`, "corrupt:"},
		{"version", `{"version":3,"preset":"clicks","next":1}`, "unknown version 3"},
		{"stream", `{"version":2,"preset":"clicks","stream":"datagen:orders@2026-11-21T09:00:00Z","next":1}`, `corrupt: stream "datagen:orders@2026-11-21T09:00:00Z" is not one of preset "clicks"`},
		{"other preset", `{"version":1,"preset":"orders","next":1}`, `holds the position of preset "orders", not "clicks"`},
		{"negative", `{"version":1,"preset":"clicks","next":-4}`, "corrupt: negative position -4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "o.json")
			requireNoError(t, os.WriteFile(bad, []byte(tc.content), 0o644))
			s, err := New(Config{Preset: PresetClicks, OffsetsFile: bad})
			requireNoError(t, err)
			requireErrorContains(t, s.Open(ctx, &connecttest.Assignments{}), "datagen source: offsets_file: "+bad+": "+tc.want)
		})
	}
	t.Run("relative path", func(t *testing.T) {
		s, err := New(Config{Preset: PresetClicks, OffsetsFile: "o.json"})
		requireNoError(t, err)
		if !filepath.IsAbs(s.cfg.OffsetsFile) {
			t.Fatalf("offsets file %q not made absolute at New", s.cfg.OffsetsFile)
		}
	})
}

// A Commit that fails half way leaves the previous offsets file as it was.
func TestCommitAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	offsets := filepath.Join(dir, "offsets.json")
	ctx := context.Background()
	s := open(t, Config{Preset: PresetOrders, OffsetsFile: offsets, Start: LegacyStart}, nil)
	in := s.Input()
	requireNoError(t, s.Commit(ctx, connect.Checkpoint{0: {in: 10}}))
	before := readFile(t, offsets)

	// The temporary file cannot be created: a directory is in its way.
	requireNoError(t, os.Mkdir(offsets+".tmp", 0o755))
	requireErrorContains(t, s.Commit(ctx, connect.Checkpoint{0: {in: 20}}), "datagen source: offsets_file:")
	if got := readFile(t, offsets); got != before {
		t.Fatalf("a failed Commit changed the offsets file to %q", got)
	}
	requireNoError(t, os.Remove(offsets+".tmp"))
	requireNoError(t, s.Commit(ctx, connect.Checkpoint{0: {in: 20}}))
	if _, next, _, err := readOffsets(offsets, PresetOrders); err != nil || next != 20 {
		t.Fatalf("stored %d (%v) after the retried Commit, want 20", next, err)
	}

	// A temporary file left by a crash is replaced, and never read.
	requireNoError(t, os.WriteFile(offsets+".tmp", []byte("{half"), 0o644))
	s2 := open(t, Config{Preset: PresetOrders, OffsetsFile: offsets, Count: 1, Start: LegacyStart}, nil)
	if recs := readAll(t, s2); recs[0].Pos.Offset != 20 {
		t.Fatalf("resumed at %d, want 20", recs[0].Pos.Offset)
	}
	requireNoError(t, s2.Commit(ctx, connect.Checkpoint{0: {in: 21}}))
	if _, next, _, err := readOffsets(offsets, PresetOrders); err != nil || next != 21 {
		t.Fatalf("stored %d (%v), want 21", next, err)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := New(Config{Preset: PresetPageviews})
	requireNoError(t, err)
	if _, err := s.Poll(ctx); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("Poll before Open: %v", err)
	}
	requireErrorContains(t, s.Open(ctx, nil), "Assignments")
	requireNoError(t, s.Open(ctx, &connecttest.Assignments{}))
	requireErrorContains(t, s.Open(ctx, &connecttest.Assignments{}), "already open")
	bs, err := s.Poll(ctx)
	requireNoError(t, err)
	if n := len(records(t, bs)); n != DefaultMaxBatch {
		t.Fatalf("Poll returned %d records, want %d", n, DefaultMaxBatch)
	}
	requireNoError(t, s.Close(ctx))
	requireNoError(t, s.Close(ctx))
	if _, err := s.Poll(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
	if err := s.Open(ctx, &connecttest.Assignments{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	s = open(t, Config{Preset: PresetPageviews}, nil)
	if _, err := s.Poll(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll with a canceled ctx: %v", err)
	}
}

// The records of a batch do not share bytes that a sink could see change.
func TestRecordsAreIndependent(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Preset: PresetOrders, MaxBatch: 50}, nil)
	bs, err := s.Poll(context.Background())
	requireNoError(t, err)
	recs := records(t, bs)
	want := make([]string, len(recs))
	for k, r := range recs {
		want[k] = string(r.Key) + "|" + string(r.Value)
		if cap(r.Key) != len(r.Key) || cap(r.Value) != len(r.Value) {
			t.Fatalf("record %d: key or value with spare capacity: an append would write into another record", k)
		}
	}
	_ = append(recs[0].Key, "XXXX"...)
	_ = append(recs[0].Value, "XXXX"...)
	if _, err := s.Poll(context.Background()); err != nil { // a next batch
		t.Fatal(err)
	}
	for k, r := range recs {
		if got := string(r.Key) + "|" + string(r.Value); got != want[k] {
			t.Fatalf("record %d changed to %s", k, got)
		}
	}
}

func TestRateCancel(t *testing.T) {
	t.Parallel()
	// One record every 1000 s: the first at once, the second never here.
	s := open(t, Config{Preset: PresetClicks, Rate: 0.001}, nil)
	bs, err := s.Poll(context.Background())
	requireNoError(t, err)
	if n := len(records(t, bs)); n != 1 {
		t.Fatalf("first paced Poll returned %d records, want 1", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		bs, err := s.Poll(ctx)
		if len(bs) > 0 {
			err = fmt.Errorf("got %d batches", len(bs))
		}
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Poll: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Poll ignored the cancellation")
	}
	// The source goes on after a canceled Poll: the next record is not
	// due yet.
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := s.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll: %v, want context.DeadlineExceeded", err)
	}
}

// fakeClock is a clock whose time moves when the test says, and whose
// timers move it to their deadline when waited on.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) install(p *pacer) {
	p.now = func() time.Time { return c.now }
	p.timer = func(d time.Duration) (<-chan time.Time, func() bool) {
		c.waits = append(c.waits, d)
		c.now = c.now.Add(d)
		ch := make(chan time.Time, 1)
		ch <- c.now
		return ch, func() bool { return false }
	}
}

func TestPacing(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Preset: PresetOrders, Rate: 10, MaxBatch: 25}, nil)
	clock := &fakeClock{now: time.Unix(1000, 0)}
	clock.install(&s.pace)
	poll := func() int {
		t.Helper()
		bs, err := s.Poll(context.Background())
		requireNoError(t, err)
		return len(records(t, bs))
	}
	if n := poll(); n != 1 || len(clock.waits) != 0 {
		t.Fatalf("first Poll: %d records after waits %v, want 1 at once", n, clock.waits)
	}
	// The next is due 100 ms later: Poll waits for it.
	if n := poll(); n != 1 || len(clock.waits) != 1 || clock.waits[0] != 100*time.Millisecond {
		t.Fatalf("second Poll: %d records after waits %v, want 1 after 100ms", n, clock.waits)
	}
	// 1.05 s later, 10 more are due.
	clock.now = clock.now.Add(1050 * time.Millisecond)
	if n := poll(); n != 10 || len(clock.waits) != 1 {
		t.Fatalf("Poll 1.05s later: %d records after waits %v, want 10 at once", n, clock.waits)
	}
	if n := poll(); n != 1 || clock.waits[1] != 50*time.Millisecond {
		t.Fatalf("Poll: %d records after waits %v, want 1 after 50ms", n, clock.waits)
	}
	// A minute behind: one batch, no catching up.
	clock.now = clock.now.Add(time.Minute)
	if n := poll(); n != 25 {
		t.Fatalf("Poll a minute later: %d records, want MaxBatch 25", n)
	}
	if n := poll(); n != 1 || clock.waits[2] != 100*time.Millisecond {
		t.Fatalf("Poll after catching up: %d records after waits %v, want 1 after 100ms", n, clock.waits)
	}

	t.Run("count", func(t *testing.T) {
		s := open(t, Config{Preset: PresetOrders, Rate: 1000, Count: 3}, nil)
		clock := &fakeClock{now: time.Unix(1000, 0)}
		clock.install(&s.pace)
		clock.now = clock.now.Add(time.Hour) // never seen: the first record anchors
		if recs := readAll(t, s); len(recs) != 3 {
			t.Fatalf("got %d records, want 3", len(recs))
		}
	})
}

// The default start is the time of the first run, to the second: the
// records are recent, so retention.ms does not delete them as old (with
// the fixed start 2026-11-21 a topic's 7 days of retention deleted the
// quickstart's views before its pipelines read them). The positions keep
// it in the input's name, so a resumed source goes on with the same
// times, whenever it runs; a position stored without one goes on from
// LegacyStart; a Start given that is not the stored one starts over.
func TestDefaultStartIsTheFirstRunsTime(t *testing.T) {
	t.Parallel()
	first := time.Date(2030, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	newAt := func(now time.Time, cfg Config, a connect.Assignments) *Source {
		t.Helper()
		s, err := New(cfg)
		requireNoError(t, err)
		s.now = func() time.Time { return now }
		requireNoError(t, s.Open(context.Background(), a))
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	cfg := Config{Preset: PresetOrders, Count: 50}
	s := newAt(first, cfg, &connecttest.Assignments{})
	recs := readAll(t, s)
	want := Config{Preset: PresetOrders, Start: "2030-05-06T07:08:09Z"}
	if in := s.Input(); in != inputOf(PresetOrders, want.Start) {
		t.Fatalf("input %+v, want the start in its name", in)
	}
	equalRecords(t, recs, generateN(t, want, 0, 50))

	// A day later, resuming at record 20 of that input: the same times.
	later := newAt(first.Add(24*time.Hour), cfg, at(s.Input(), 20))
	equalRecords(t, readAll(t, later)[:30], recs[20:])

	// A position stored without its start goes on from LegacyStart.
	old := newAt(first, cfg, at(legacy(PresetOrders), 20))
	equalRecords(t, readAll(t, old), generateN(t, Config{Preset: PresetOrders}, 20, 50))

	// A Start given: the stored position of another start is not its own.
	other := Config{Preset: PresetOrders, Count: 5, Start: "2031-01-01T00:00:00Z"}
	o := newAt(first, other, at(s.Input(), 20))
	if r := readAll(t, o); r[0].Pos.Offset != 0 || r[0].Pos.Input != inputOf(PresetOrders, other.Start) {
		t.Fatalf("a source with another start resumed at %+v", r[0].Pos)
	}
	same := Config{Preset: PresetOrders, Count: 5, Start: want.Start}
	if r := readAll(t, newAt(first, same, at(s.Input(), 20))); r[0].Pos.Offset != 20 {
		t.Fatalf("a source given the stored start resumed at %d, want 20", r[0].Pos.Offset)
	}
}

// TestRewindOffsetsFile: a rewound offsets file makes a source generate
// the same records again from the first, with the start of the file's
// input even when the default start (the time of the run) has moved on.
func TestRewindOffsetsFile(t *testing.T) {
	t.Parallel()
	offsets := filepath.Join(t.TempDir(), "offsets.json")
	requireNoError(t, RewindOffsetsFile(offsets, PresetOrders)) // no file: nothing to do
	if _, err := os.Stat(offsets); !os.IsNotExist(err) {
		t.Fatalf("RewindOffsetsFile made a file: %v", err)
	}
	cfg := Config{Preset: PresetOrders, Count: 40, OffsetsFile: offsets}
	s, err := New(cfg)
	requireNoError(t, err)
	s.now = func() time.Time { return time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC) }
	requireNoError(t, s.Open(context.Background(), &connecttest.Assignments{}))
	first := readAll(t, s)
	requireNoError(t, s.Commit(context.Background(), connect.Checkpoint{0: {s.Input(): 40}}))
	requireNoError(t, s.Close(context.Background()))

	in, next, ok, err := ReadOffsetsFile(offsets, PresetOrders)
	if err != nil || !ok || next != 40 || in != s.Input() {
		t.Fatalf("ReadOffsetsFile = %v, %d, %t, %v; want %v at 40", in, next, ok, err, s.Input())
	}
	requireNoError(t, RewindOffsetsFile(offsets, PresetOrders))
	if in2, next, _, _ := ReadOffsetsFile(offsets, PresetOrders); next != 0 || in2 != in {
		t.Fatalf("after RewindOffsetsFile: %v at %d, want %v at 0", in2, next, in)
	}
	again, err := New(cfg)
	requireNoError(t, err)
	again.now = func() time.Time { return time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) }
	requireNoError(t, again.Open(context.Background(), &connecttest.Assignments{}))
	t.Cleanup(func() { again.Close(context.Background()) })
	equalRecords(t, readAll(t, again), first)
}

// AtEnd says a bounded run generated its Count records as soon as the
// last Poll returned the last of them, and never before (windows close
// then, with --close-windows).
func TestAtEnd(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Preset: PresetOrders, Count: 10, MaxBatch: 4}, nil)
	if s.AtEnd(0) {
		t.Fatal("at its end before the first Poll")
	}
	n := 0
	for n < 10 {
		bs, err := s.Poll(context.Background())
		requireNoError(t, err)
		n += len(records(t, bs))
		if got := s.AtEnd(0); got != (n == 10) {
			t.Fatalf("AtEnd after %d of 10 records: %v", n, got)
		}
	}
	if open(t, Config{Preset: PresetOrders}, nil).AtEnd(0) {
		t.Fatal("an unbounded source at its end")
	}
}
