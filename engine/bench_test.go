package engine_test

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
)

// The window benchmarks run the Nexmark q5 shape (a hopping-window count
// of bids by auction) and a tumbling count by auction through a local
// task, and the same job written as a plain Go loop (handLoop), on the
// same events in the same run. The goal is an engine at 0.8x the loop or
// better.
//
// Both sides start from the same bytes and end with the same bytes: every
// event is a 32-byte binary bid (encodeBid) that both decode with
// decodeBid, and every result is a 24-byte window key and an 8-byte count
// that both encode with the same functions and hand to a resultSink that
// counts them. The engine does it through its own machinery (a Serde on
// From, WithTime, KeyBy, Window, Aggregate(Count), To); the hand loop
// calls the functions directly. What the engine adds on top is what the
// benchmark measures. Each iteration checks its answer (number of results
// and sum of counts) against the reference, so a fast wrong engine fails.
//
// An op is one pass over the benchBids events, from an empty task to the
// last window closed (the watermark moved to the end of time); ns/op is
// per pass, and "events/s" and "ns/event" per event. Run them on one core:
// the task is single-threaded, and with GOMAXPROCS=1 the garbage
// collector's work is charged to the side that makes the garbage.
//
//	go test -run '^$' -bench 'Q5|Tumbling' -cpu 1 -benchtime 3x -count 6 ./engine > new.txt
//	benchstat new.txt
//	sed -E 's#^(Benchmark[^/]+)/(engine|handloop)#\1/impl=\2#' new.txt | benchstat -col /impl -
//
// The ratio sub-benchmark alternates an engine pass and a hand-loop pass
// (AB BA ...) and reports "x-handloop", the engine's events/s over the
// loop's, so that drift in the machine's speed hits both alike.

// Event set parameters.
const (
	benchEvents   = 1 << 20
	benchAuctions = 10_000
	// benchDisorder bounds how far an event's time is behind the largest
	// time before it (ms); the watermark delay covers it, so no event is
	// late.
	benchDisorder = 500
	benchStart    = 1_700_000_000_000 // event time of the first bid, Unix ms
	benchSource   = "bids"
)

// bid is a Nexmark bid.
type bid struct {
	Auction  int64
	Bidder   int64
	Price    int64
	DateTime int64 // event time, Unix ms
}

// bidSize is the size of an encoded bid:
//
//	| auction (8B) | bidder (8B) | price (8B) | date time (8B) |  little endian
const bidSize = 32

func encodeBid(b bid) []byte {
	p := make([]byte, bidSize)
	binary.LittleEndian.PutUint64(p[0:], uint64(b.Auction))
	binary.LittleEndian.PutUint64(p[8:], uint64(b.Bidder))
	binary.LittleEndian.PutUint64(p[16:], uint64(b.Price))
	binary.LittleEndian.PutUint64(p[24:], uint64(b.DateTime))
	return p
}

func decodeBid(p []byte) (bid, error) {
	if len(p) != bidSize {
		return bid{}, fmt.Errorf("a bid is %d bytes, not %d", bidSize, len(p))
	}
	return bid{
		Auction:  int64(binary.LittleEndian.Uint64(p[0:])),
		Bidder:   int64(binary.LittleEndian.Uint64(p[8:])),
		Price:    int64(binary.LittleEndian.Uint64(p[16:])),
		DateTime: int64(binary.LittleEndian.Uint64(p[24:])),
	}, nil
}

// A result's key is | auction (8B) | start (8B) | end (8B) |, its value
// the count (8B), little endian.
func encodeWindowKey(auction, start, end int64) []byte {
	p := make([]byte, 24)
	binary.LittleEndian.PutUint64(p[0:], uint64(auction))
	binary.LittleEndian.PutUint64(p[8:], uint64(start))
	binary.LittleEndian.PutUint64(p[16:], uint64(end))
	return p
}

func encodeCount(n int64) []byte {
	return binary.LittleEndian.AppendUint64(make([]byte, 0, 8), uint64(n))
}

type bidSerde struct{}

func (bidSerde) Encode(b bid) ([]byte, error) { return encodeBid(b), nil }
func (bidSerde) Decode(p []byte) (bid, error) { return decodeBid(p) }

// windowKeySerde and countSerde only encode: the results are read back
// by resultSink.
type windowKeySerde struct{}

func (windowKeySerde) Encode(k engine.WindowKey[int64]) ([]byte, error) {
	return encodeWindowKey(k.Key, k.Start, k.End), nil
}
func (windowKeySerde) Decode([]byte) (engine.WindowKey[int64], error) {
	return engine.WindowKey[int64]{}, errors.New("windowKeySerde only encodes")
}

type countSerde struct{}

func (countSerde) Encode(n int64) ([]byte, error) { return encodeCount(n), nil }
func (countSerde) Decode([]byte) (int64, error)   { return 0, errors.New("countSerde only encodes") }

var (
	_ engine.Serde[bid]                     = bidSerde{}
	_ engine.Serde[engine.WindowKey[int64]] = windowKeySerde{}
	_ engine.Serde[int64]                   = countSerde{}
)

// windowResult is a decoded result, for comparisons.
type windowResult struct {
	Auction, Start, End, Count int64
}

// resultSink receives the encoded results of either side: it counts them
// and adds up the counts; with keep it also decodes and keeps them.
//
// Like a real sink, it may keep what it is given (it keeps the last
// result), so that the result bytes are the sink's on both sides: without
// it the compiler would keep the hand loop's on the stack.
type resultSink struct {
	n, total         int64
	lastKey, lastVal []byte
	keep             bool
	got              []windowResult
}

func (s *resultSink) add(key, value []byte) {
	c := int64(binary.LittleEndian.Uint64(value))
	s.n++
	s.total += c
	s.lastKey, s.lastVal = key, value
	if s.keep {
		s.got = append(s.got, windowResult{
			Auction: int64(binary.LittleEndian.Uint64(key[0:])),
			Start:   int64(binary.LittleEndian.Uint64(key[8:])),
			End:     int64(binary.LittleEndian.Uint64(key[16:])),
			Count:   c,
		})
	}
}

// bids are encoded bids as a topic source would deliver them: about one
// bid per millisecond, each up to benchDisorder ms behind, on auctions
// drawn from a Zipf distribution (a few hot auctions, a long tail), with
// the record timestamp set to the bid's time, as a producer would. They
// are kept in two arrays without pointers, so that the garbage collector
// does not scan them: the live heap of a pass is the window state, as in
// a real task.
type bids struct {
	values []byte  // n encoded bids, back to back
	times  []int64 // record timestamps
}

func (bs *bids) len() int           { return len(bs.times) }
func (bs *bids) value(i int) []byte { return bs.values[i*bidSize : (i+1)*bidSize : (i+1)*bidSize] }

func genBids(n int, seed uint64) *bids {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	auctions := rand.NewZipf(r, 1.1, 10, benchAuctions-1)
	bs := &bids{values: make([]byte, 0, n*bidSize), times: make([]int64, n)}
	for i := range n {
		ts := benchStart + int64(i) - r.Int64N(benchDisorder+1)
		b := bid{
			Auction:  1000 + int64(auctions.Uint64()),
			Bidder:   r.Int64N(100_000),
			Price:    100 + r.Int64N(1_000_000),
			DateTime: ts,
		}
		bs.values = append(bs.values, encodeBid(b)...)
		bs.times[i] = ts
	}
	return bs
}

var benchBids = sync.OnceValue(func() *bids { return genBids(benchEvents, 1) })

// Window specs of the benchmarks.
var (
	q5Spec       = engine.Hopping(10*time.Second, 2*time.Second).WithDelay(time.Second)
	tumblingSpec = engine.Tumbling(10 * time.Second).WithDelay(time.Second)
)

// countGraph is the engine's job: bids by auction, counted per window.
func countGraph(spec engine.WindowSpec) *engine.Graph {
	g := engine.NewGraph("nexmark")
	bids := engine.From(g, benchSource, engine.Bytes(), engine.Serde[bid](bidSerde{}))
	timed := engine.WithTime(bids, func(r engine.Record[[]byte, bid]) (int64, error) { return r.Value.DateTime, nil })
	byAuction := engine.KeyBy(timed, func(r engine.Record[[]byte, bid]) int64 { return r.Value.Auction })
	counts := engine.Aggregate(engine.Window(byAuction, spec), engine.Count[bid](), engine.Name("counts"))
	engine.To(counts, "out", engine.Serde[engine.WindowKey[int64]](windowKeySerde{}), engine.Serde[int64](countSerde{}))
	return g
}

// runEngine runs one pass of g over bs in a new local task, closing every
// window at the end. The task gets the records the way the runtime hands
// them over: a poll's batch of *Raw at a time (ProcessBatch), which the
// task does not keep (the Raws are reused here, so that the source's
// allocations are not measured).
func runEngine(g *engine.Graph, bs *bids, sink *resultSink) (*engine.Task, error) {
	t, err := g.NewLocalTask(0, engine.OutputFunc(func(_ string, r *engine.Raw) { sink.add(r.Key, r.Value) }))
	if err != nil {
		return nil, err
	}
	// Batches of records, as a poll of the runtime brings them, reused.
	const batch = 512
	raws := make([]engine.Raw, batch)
	ptrs := make([]*engine.Raw, batch)
	for i := range raws {
		raws[i].Pos.Input = engine.Input{Stream: benchSource}
		ptrs[i] = &raws[i]
	}
	for i := 0; i < bs.len(); i += batch {
		n := min(batch, bs.len()-i)
		for j := range n {
			r := &raws[j]
			r.Value, r.Time = bs.value(i+j), bs.times[i+j]
			r.Pos.Offset, r.Pos.Next = int64(i+j), int64(i+j)+1
		}
		if err := t.ProcessBatch(benchSource, ptrs[:n]); err != nil {
			return t, err
		}
	}
	return t, t.AdvanceWatermark(math.MaxInt64)
}

// handLoop is the same job as countGraph written directly: per window (by
// start) a map of counts by auction; the watermark is the largest event
// time seen minus the delay; windows whose end it reached are emitted and
// dropped, oldest first. A bid whose windows are all closed is late and
// dropped (none is, with these events).
type handLoop struct {
	size, advance, delay int64
	sink                 *resultSink
	windows              map[int64]map[int64]int64 // start -> auction -> count
	next                 int64                     // start of the oldest window that may be open
	maxTime, watermark   int64
	late                 int64
}

func newHandLoop(spec engine.WindowSpec, sink *resultSink) *handLoop {
	return &handLoop{
		size: spec.Size, advance: spec.Advance, delay: spec.Delay, sink: sink,
		windows: map[int64]map[int64]int64{},
		next:    math.MaxInt64, maxTime: math.MinInt64, watermark: math.MinInt64,
	}
}

func (h *handLoop) add(value []byte) error {
	b, err := decodeBid(value)
	if err != nil {
		return err
	}
	ts := b.DateTime
	last := ts - ts%h.advance // event times are positive
	placed := false
	for start := last; start > ts-h.size; start -= h.advance {
		if start+h.size <= h.watermark {
			break // closed, and so are the earlier ones
		}
		counts := h.windows[start]
		if counts == nil {
			counts = map[int64]int64{}
			h.windows[start] = counts
			h.next = min(h.next, start)
		}
		counts[b.Auction]++
		placed = true
	}
	if !placed {
		h.late++
	}
	if ts > h.maxTime {
		h.maxTime = ts
		if wm := ts - h.delay; wm > h.watermark {
			h.watermark = wm
			h.fire()
		}
	}
	return nil
}

// fire emits and drops the windows the watermark closed.
func (h *handLoop) fire() {
	for len(h.windows) > 0 && h.next+h.size <= h.watermark {
		h.emit(h.next)
		h.next += h.advance
	}
}

func (h *handLoop) emit(start int64) {
	counts, ok := h.windows[start]
	if !ok {
		return
	}
	for auction, n := range counts {
		h.sink.add(encodeWindowKey(auction, start, start+h.size), encodeCount(n))
	}
	delete(h.windows, start)
}

// close emits every window left, as the end of the input.
func (h *handLoop) close() {
	for ; len(h.windows) > 0; h.next += h.advance {
		h.emit(h.next)
	}
}

func runHandLoop(spec engine.WindowSpec, bs *bids, sink *resultSink) (*handLoop, error) {
	h := newHandLoop(spec, sink)
	for i := range bs.len() {
		if err := h.add(bs.value(i)); err != nil {
			return h, err
		}
	}
	h.close()
	return h, nil
}

// TestWindowBenchEquivalence checks that the engine and the hand loop of
// the benchmarks compute the same results, so that the benchmarks compare
// equal work.
func TestWindowBenchEquivalence(t *testing.T) {
	t.Parallel()
	bs := genBids(100_000, 2)
	for _, tc := range []struct {
		name string
		spec engine.WindowSpec
	}{{"q5", q5Spec}, {"tumbling", tumblingSpec}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eng := &resultSink{keep: true}
			task, err := runEngine(countGraph(tc.spec), bs, eng)
			if err != nil {
				t.Fatal(err)
			}
			hand := &resultSink{keep: true}
			h, err := runHandLoop(tc.spec, bs, hand)
			if err != nil {
				t.Fatal(err)
			}
			if late := task.Metrics().Late.Load(); late != 0 || h.late != 0 {
				t.Fatalf("late bids: engine %d, hand loop %d; the events must have none", late, h.late)
			}
			perBid := tc.spec.Size / tc.spec.Advance
			if want := perBid * int64(bs.len()); eng.total != want {
				t.Fatalf("the engine counted %d bids in windows, want %d (%d windows per bid)", eng.total, want, perBid)
			}
			order := func(a, b windowResult) int {
				return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Auction, b.Auction))
			}
			slices.SortFunc(eng.got, order)
			slices.SortFunc(hand.got, order)
			if !slices.Equal(eng.got, hand.got) {
				t.Fatalf("the engine and the hand loop disagree: %d and %d results", len(eng.got), len(hand.got))
			}
			t.Logf("%d bids: %d results", bs.len(), len(eng.got))
		})
	}
}

func BenchmarkQ5(b *testing.B)       { benchWindows(b, q5Spec) }
func BenchmarkTumbling(b *testing.B) { benchWindows(b, tumblingSpec) }

func benchWindows(b *testing.B, spec engine.WindowSpec) {
	bs := benchBids()
	var want resultSink
	if _, err := runHandLoop(spec, bs, &want); err != nil {
		b.Fatal(err)
	}
	g := countGraph(spec)
	// A pass of either side checks its answer. Each starts after a
	// collection, so that it pays for its own garbage only.
	pass := func(b *testing.B, side string) time.Duration {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		start := time.Now()
		var got resultSink
		var err error
		if side == "engine" {
			_, err = runEngine(g, bs, &got)
		} else {
			_, err = runHandLoop(spec, bs, &got)
		}
		d := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if got.n != want.n || got.total != want.total {
			b.Fatalf("%s: %d results counting %d bids, want %d counting %d", side, got.n, got.total, want.n, want.total)
		}
		return d
	}
	for _, side := range []string{"engine", "handloop"} {
		b.Run(side, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pass(b, side)
			}
			events := float64(b.N) * float64(bs.len())
			b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
			b.ReportMetric(float64(want.n), "results/op")
		})
	}
	// Both sides in turn (AB BA ...), each pass timed on its own.
	b.Run("ratio", func(b *testing.B) {
		var eng, hand time.Duration
		for i := 0; b.Loop(); i++ {
			if i%2 == 0 {
				eng += pass(b, "engine")
				hand += pass(b, "handloop")
			} else {
				hand += pass(b, "handloop")
				eng += pass(b, "engine")
			}
		}
		events := float64(b.N) * float64(bs.len())
		b.ReportMetric(events/eng.Seconds(), "engine-events/s")
		b.ReportMetric(events/hand.Seconds(), "handloop-events/s")
		b.ReportMetric(hand.Seconds()/eng.Seconds(), "x-handloop")
	})
}
