package log

import (
	"errors"
	"fmt"
	"testing"

	"github.com/runnel-io/runnel/broker/batch"
)

// pbatch builds a batch of n records from producer pid/epoch starting at
// sequence seq.
func pbatch(t testing.TB, pid int64, epoch int16, seq int32, n int, txn bool) []byte {
	t.Helper()
	b := batch.NewBuilder(batch.CodecNone).SetProducer(pid, epoch, seq).SetTransactional(txn)
	for i := 0; i < n; i++ {
		b.Add([]byte("k"), []byte(fmt.Sprintf("p%d-e%d-s%d", pid, epoch, int(seq)+i)), 1000)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIdempotentProducer(t *testing.T) {
	t.Parallel()
	l := mustOpen(t, t.TempDir(), &Options{RetentionMs: -1})
	defer l.Close()
	r1 := mustAppend(t, l, pbatch(t, 7, 0, 0, 3, false))
	r2 := mustAppend(t, l, pbatch(t, 7, 0, 3, 2, false))
	if r2.BaseOffset != 3 || r2.Duplicate {
		t.Fatalf("second batch %+v", r2)
	}
	// A retry of either of them is answered with its original offsets.
	for _, c := range []struct {
		seq  int32
		n    int
		want AppendResult
	}{{0, 3, r1}, {3, 2, r2}} {
		got := mustAppend(t, l, pbatch(t, 7, 0, c.seq, c.n, false))
		if !got.Duplicate || got.BaseOffset != c.want.BaseOffset || got.LastOffset != c.want.LastOffset {
			t.Fatalf("retry of seq %d: %+v, want offsets of %+v", c.seq, got, c.want)
		}
	}
	if _, _, end := l.Offsets(); end != 5 {
		t.Fatalf("retries wrote data: log end %d", end)
	}
	cases := []struct {
		name  string
		batch []byte
		want  error
	}{
		{"gap", pbatch(t, 7, 0, 9, 1, false), ErrOutOfOrderSequence},
		{"overlap", pbatch(t, 7, 0, 4, 2, false), ErrOutOfOrderSequence},
		{"new producer not at 0", pbatch(t, 8, 0, 5, 1, false), ErrOutOfOrderSequence},
		{"new epoch not at 0", pbatch(t, 7, 1, 5, 1, false), ErrOutOfOrderSequence},
	}
	for _, c := range cases {
		if _, err := l.Append(c.batch); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A new epoch fences the old one.
	mustAppend(t, l, pbatch(t, 7, 1, 0, 1, false))
	if _, err := l.Append(pbatch(t, 7, 0, 5, 1, false)); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("zombie epoch: %v", err)
	}
	// Plain producers are not tracked.
	mustAppend(t, l, mkBatch(t, batch.CodecNone, "plain", 2, 1))
	mustAppend(t, l, mkBatch(t, batch.CodecNone, "plain", 2, 1))
}

// Duplicate detection and fencing survive restarts: clean ones (snapshot
// at the log end) and crashes (snapshot at the recovery point plus the
// replay of the validated tail), across segment rolls.
func TestProducerStateSurvivesRestarts(t *testing.T) {
	t.Parallel()
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := &Options{SegmentBytes: 600, RetentionMs: -1}
			l := mustOpen(t, dir, opts)
			var last AppendResult
			seq := int32(0)
			for i := 0; i < 40; i++ {
				last = mustAppend(t, l, pbatch(t, 42, 3, seq, 2, false))
				seq += 2
				mustAppend(t, l, pbatch(t, 43, 0, int32(i), 1, false))
			}
			if l.Segments() < 3 {
				t.Fatalf("only %d segments; the test wants rolls", l.Segments())
			}
			if !crash {
				l.Close()
			}
			l = mustOpen(t, dir, opts)
			defer l.Close()
			if rep := l.Recovery(); rep.Clean == crash {
				t.Fatalf("recovery %+v", rep)
			}
			got := mustAppend(t, l, pbatch(t, 42, 3, seq-2, 2, false))
			if !got.Duplicate || got.BaseOffset != last.BaseOffset {
				t.Fatalf("retry after restart: %+v, want duplicate of %+v", got, last)
			}
			if _, err := l.Append(pbatch(t, 42, 3, seq+1, 1, false)); !errors.Is(err, ErrOutOfOrderSequence) {
				t.Fatalf("gap after restart: %v", err)
			}
			if _, err := l.Append(pbatch(t, 42, 2, 0, 1, false)); !errors.Is(err, ErrInvalidProducerEpoch) {
				t.Fatalf("old epoch after restart: %v", err)
			}
			mustAppend(t, l, pbatch(t, 42, 3, seq, 1, false))
			mustAppend(t, l, pbatch(t, 43, 0, 40, 1, false))
		})
	}
}

func TestTransactionsLastStableOffsetAndAborts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := &Options{RetentionMs: -1}
	l := mustOpen(t, dir, opts)
	mustAppend(t, l, mkBatch(t, batch.CodecNone, "before", 2, 1)) // 0-1
	mustAppend(t, l, pbatch(t, 1, 0, 0, 3, true))                 // 2-4: txn of producer 1
	mustAppend(t, l, pbatch(t, 2, 0, 0, 2, true))                 // 5-6: txn of producer 2
	mustAppend(t, l, mkBatch(t, batch.CodecNone, "plain", 1, 1))  // 7
	if lso, hw := l.LastStableOffset(), l.HighWatermark(); lso != 2 || hw != 8 {
		t.Fatalf("lso %d hw %d, want 2 8", lso, hw)
	}
	res, err := l.ReadCommitted(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := countRecords(t, res.Data); got != 2 {
		t.Fatalf("read_committed saw %d records below the LSO, want 2", got)
	}
	if _, err := l.Append(pbatch(t, 1, 0, 3, 1, false)); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("plain batch inside an open transaction: %v", err)
	}
	// Producer 1 commits, producer 2 aborts.
	if _, err := l.AppendControl(1, 0, true, 0); err != nil { // 8
		t.Fatal(err)
	}
	if lso := l.LastStableOffset(); lso != 5 {
		t.Fatalf("lso after commit %d, want 5", lso)
	}
	if _, err := l.AppendControl(2, 0, false, 0); err != nil { // 9
		t.Fatal(err)
	}
	if _, err := l.AppendControl(2, -1, false, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("marker from an old epoch: %v", err)
	}
	check := func(l *Log) {
		t.Helper()
		if lso, hw := l.LastStableOffset(), l.HighWatermark(); lso != 10 || hw != 10 {
			t.Fatalf("lso %d hw %d, want 10 10", lso, hw)
		}
		res, err := l.ReadCommitted(0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		want := []AbortedTxn{{ProducerID: 2, FirstOffset: 5, LastOffset: 9, LastStableOffset: 5}}
		if fmt.Sprint(res.Aborted) != fmt.Sprint(want) {
			t.Fatalf("aborted %+v, want %+v", res.Aborted, want)
		}
		if res, _ := l.ReadCommitted(8, 1<<20); len(res.Aborted) != 1 {
			t.Fatalf("a fetch from 8 overlaps the aborted range up to 9: %+v", res.Aborted)
		}
	}
	check(l)
	// A transaction still open at a crash keeps the LSO after recovery.
	mustAppend(t, l, pbatch(t, 3, 0, 0, 1, true)) // 10
	l.Close()
	l = mustOpen(t, dir, opts)
	check2 := func(l *Log, clean bool) {
		t.Helper()
		if l.Recovery().Clean != clean {
			t.Fatalf("recovery %+v", l.Recovery())
		}
		if lso := l.LastStableOffset(); lso != 10 {
			t.Fatalf("open transaction lost at restart: lso %d", lso)
		}
		res, _ := l.ReadCommitted(0, 1<<20)
		if len(res.Aborted) != 1 || res.Aborted[0].ProducerID != 2 {
			t.Fatalf("aborted transactions after restart: %+v", res.Aborted)
		}
	}
	check2(l, true)
	abandon(l) // crash
	l = mustOpen(t, dir, opts)
	defer l.Close()
	check2(l, false)
	if _, err := l.AppendControl(3, 0, true, 0); err != nil {
		t.Fatal(err)
	}
	if lso := l.LastStableOffset(); lso != 12 {
		t.Fatalf("lso %d after the last commit, want 12", lso)
	}
}

func countRecords(t *testing.T, data []byte) int {
	t.Helper()
	n := 0
	for pos := 0; pos < len(data); {
		h, size, err := batch.Check(data[pos:], 0)
		if err != nil {
			t.Fatal(err)
		}
		if !h.IsControl() {
			n += int(h.RecordCount)
		}
		pos += size
	}
	return n
}

func TestSnapshotEncoding(t *testing.T) {
	t.Parallel()
	ps := newProducerState()
	for i := int64(0); i < 5; i++ {
		h := batch.Header{BaseOffset: i * 10, LastOffsetDelta: 2, ProducerID: i % 3, ProducerEpoch: int16(i), BaseSequence: int32(i), MaxTimestamp: 99}
		if i == 4 {
			h.Attributes = batch.AttrTransactional
		}
		ps.apply(&h)
	}
	b := ps.marshal(50)
	got, off, err := unmarshalSnapshot(b)
	if err != nil || off != 50 {
		t.Fatalf("%v at %d", err, off)
	}
	if fmt.Sprint(got.ongoing) != fmt.Sprint(ps.ongoing) || len(got.producers) != len(ps.producers) {
		t.Fatalf("round trip: %+v vs %+v", got, ps)
	}
	for id, e := range ps.producers {
		if fmt.Sprint(*got.producers[id]) != fmt.Sprint(*e) {
			t.Fatalf("producer %d: %+v vs %+v", id, *got.producers[id], *e)
		}
	}
	for i := range b {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x40
		if _, _, err := unmarshalSnapshot(bad); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	for n := 0; n < len(b); n++ {
		if _, _, err := unmarshalSnapshot(b[:n]); err == nil {
			t.Fatalf("truncated to %d bytes accepted", n)
		}
	}
}

// Compaction keeps the aborted transactions of the segments it rewrites.
func TestCompactionKeepsTransactionIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := &Options{SegmentBytes: 400, Compact: true, RetentionMs: -1}
	l := mustOpen(t, dir, opts)
	mustAppend(t, l, mkKV(t, "a", []byte("1"), 1))
	mustAppend(t, l, mkKV(t, "a", []byte("2"), 1)) // supersedes offset 0
	mustAppend(t, l, pbatch(t, 9, 0, 0, 2, true))
	if _, err := l.AppendControl(9, 0, false, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		mustAppend(t, l, mkKV(t, "b", []byte(fmt.Sprint(i)), 1)) // roll past the aborted transaction
	}
	st, err := l.Compact()
	if err != nil || st.Rewritten == 0 {
		t.Fatalf("compaction %+v, %v", st, err)
	}
	for _, reopen := range []bool{false, true} {
		if reopen {
			l.Close()
			l = mustOpen(t, dir, opts)
		}
		res, err := l.ReadCommitted(0, 1<<20)
		if err != nil || len(res.Aborted) != 1 || res.Aborted[0].ProducerID != 9 {
			t.Fatalf("reopen=%v: aborted %+v, %v", reopen, res.Aborted, err)
		}
	}
	l.Close()
}
