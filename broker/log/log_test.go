package log

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/runnel-io/runnel/broker/batch"
)

func TestAppendReadRoundTrip(t *testing.T) {
	t.Parallel()
	for _, codec := range []int{batch.CodecNone, batch.CodecGzip, batch.CodecSnappy, batch.CodecLz4, batch.CodecZstd} {
		t.Run(codecName(codec), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := mustOpen(t, dir, &Options{SegmentBytes: 4096, IndexIntervalBytes: 256})
			want := 0
			for i := 0; i < 50; i++ {
				r := mustAppend(t, l, mkBatch(t, codec, "v", 10, int64(1000+i*10)))
				if r.BaseOffset != int64(want) || r.LastOffset != int64(want+9) {
					t.Fatalf("append %d: offsets [%d,%d], want [%d,%d]", i, r.BaseOffset, r.LastOffset, want, want+9)
				}
				want += 10
			}
			got := readAll(t, l)
			checkContiguous(t, got, 0, 500)
			if l.Segments() < 2 && codec == batch.CodecNone {
				t.Fatalf("expected segments to roll at 4 KiB, have %d", l.Segments())
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, dir, nil)
			defer l.Close()
			if rep := l.Recovery(); !rep.Clean || rep.ScannedBytes != 0 {
				t.Fatalf("clean reopen scanned %d bytes (clean=%v)", rep.ScannedBytes, rep.Clean)
			}
			checkContiguous(t, readAll(t, l), 0, 500)
			if r := mustAppend(t, l, mkBatch(t, codec, "w", 1, 9999)); r.BaseOffset != 500 {
				t.Fatalf("append after reopen at %d, want 500", r.BaseOffset)
			}
		})
	}
}

func codecName(c int) string {
	return [...]string{"none", "gzip", "snappy", "lz4", "zstd"}[c]
}

func checkContiguous(t *testing.T, got []rec, from, n int64) {
	t.Helper()
	if int64(len(got)) != n {
		t.Fatalf("got %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if r.offset != from+int64(i) {
			t.Fatalf("record %d has offset %d, want %d", i, r.offset, from+int64(i))
		}
	}
}

func TestAppendRejectsBadBatches(t *testing.T) {
	t.Parallel()
	good := func() []byte { return mkBatch(t, batch.CodecNone, "x", 3, 1) }
	cases := []struct {
		name   string
		mangle func([]byte) []byte
		want   error
	}{
		{"crc", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }, batch.ErrCRC},
		{"magic", func(b []byte) []byte { b[16] = 1; return b }, batch.ErrUnknownMagic},
		{"length too small", func(b []byte) []byte { b[8], b[9], b[10], b[11] = 0, 0, 0, 5; return b }, batch.ErrBadLength},
		{"length past end", func(b []byte) []byte { b[11] += 40; return b }, batch.ErrShort},
		{"torn", func(b []byte) []byte { return b[:len(b)-3] }, batch.ErrShort},
		{"control batch", func([]byte) []byte {
			b, err := controlBatch(1, 0, true, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, ErrControlBatch},
		{"second batch bad", func(b []byte) []byte {
			second := good()
			second[30] ^= 1
			return append(b, second...)
		}, batch.ErrCRC},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := mustOpen(t, t.TempDir(), nil)
			defer l.Close()
			mustAppend(t, l, good())
			_, err := l.Append(c.mangle(good()))
			var be *BatchError
			if !errors.Is(err, c.want) || !errors.As(err, &be) {
				t.Fatalf("got %v, want %v in a *BatchError", err, c.want)
			}
			if _, _, end := l.Offsets(); end != 3 {
				t.Fatalf("log end moved to %d after a rejected append", end)
			}
			checkContiguous(t, readAll(t, l), 0, 3)
		})
	}
}

func TestTornTailIsTruncatedAndReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := mustOpen(t, dir, nil)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, mkBatch(t, batch.CodecNone, "v", 5, 1))
	}
	// Simulate a crash: no Close, then a half-written batch at the end.
	name := filepath.Join(dir, segmentName(0, logSuffix))
	half := mkBatch(t, batch.CodecNone, "torn", 5, 1)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(half[:len(half)/2])
	f.Close()
	st, _ := os.Stat(name)

	l2 := mustOpen(t, dir, nil)
	defer l2.Close()
	rep := l2.Recovery()
	if len(rep.Truncations) != 1 {
		t.Fatalf("truncations = %v", rep.Truncations)
	}
	tr := rep.Truncations[0]
	if tr.FirstLostOffset != 50 || tr.LostBytes != int64(len(half)/2) || tr.Position != st.Size()-int64(len(half)/2) {
		t.Fatalf("report %v", tr)
	}
	if !errors.Is(tr.Reason, batch.ErrShort) {
		t.Fatalf("reason %v, want ErrShort", tr.Reason)
	}
	checkContiguous(t, readAll(t, l2), 0, 50)
	if r := mustAppend(t, l2, mkBatch(t, batch.CodecNone, "v", 1, 1)); r.BaseOffset != 50 {
		t.Fatalf("next offset %d, want 50", r.BaseOffset)
	}
}
