package log

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/runnel-io/runnel/broker/batch"
)

// mkBatch builds a batch of n records with values "<prefix>-<i>" and
// timestamps ts, ts+1, ...
func mkBatch(t testing.TB, codec int, prefix string, n int, ts int64) []byte {
	t.Helper()
	b := batch.NewBuilder(codec)
	for i := 0; i < n; i++ {
		b.Add([]byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("%s-%d", prefix, i)), ts+int64(i))
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mkKV builds a one-record batch; a nil value is a tombstone.
func mkKV(t testing.TB, key string, value []byte, ts int64) []byte {
	t.Helper()
	out, err := batch.NewBuilder(batch.CodecNone).Add([]byte(key), value, ts).Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type rec struct {
	offset int64
	ts     int64
	key    string
	value  string
	null   bool
}

// readAll reads every record from the log start to the high watermark.
func readAll(t testing.TB, l *Log) []rec {
	t.Helper()
	start, hw, _ := l.Offsets()
	return readRange(t, l, start, hw)
}

// readRange reads the records with offsets in [from, to); to must not be
// past the high watermark. Batches at or past to are not decoded.
func readRange(t testing.TB, l *Log, from, to int64) []rec {
	t.Helper()
	var out []rec
	for off := from; off < to; {
		res, err := l.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if len(res.Data) == 0 {
			t.Fatalf("read at %d below %d returned nothing", off, to)
		}
		for pos := 0; pos < len(res.Data) && off < to; {
			h, size, err := batch.Check(res.Data[pos:], 0)
			if err != nil {
				t.Fatalf("read at %d: stored batch invalid: %v", off, err)
			}
			recs, err := batch.Records(res.Data[pos:], &h)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				o := h.BaseOffset + int64(r.OffsetDelta)
				if o < off || o >= to {
					continue
				}
				out = append(out, rec{offset: o, ts: h.FirstTimestamp + r.TimestampDelta,
					key: string(r.Key), value: string(r.Value), null: r.Value == nil})
			}
			off = h.LastOffset() + 1
			pos += size
		}
	}
	return out
}

func mustOpen(t testing.TB, dir string, o *Options) *Log {
	t.Helper()
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte) AppendResult {
	t.Helper()
	r, err := l.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mkBatchTS builds a batch with one record per timestamp, values
// "<prefix>-<i>", in the given (possibly unordered) timestamp order.
func mkBatchTS(t testing.TB, codec int, prefix string, ts ...int64) []byte {
	t.Helper()
	b := batch.NewBuilder(codec)
	for i, x := range ts {
		b.Add([]byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("%s-%d", prefix, i)), x)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// abandon simulates a crash of the process that holds l: it closes the
// files without the fsyncs, index writes and clean checkpoint of Close,
// so the next Open recovers. l is unusable afterwards.
func abandon(l *Log) {
	l.maint.Lock()
	defer l.maint.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.closed = true
	l.closeSegments()
}

// segPath is the path of the file with suffix of the segment at base.
func segPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, segmentName(base, suffix))
}

// storedBatch is a batch as found in a .log file.
type storedBatch struct {
	pos int64
	hdr batch.Header
}

// batchesIn lists the batches of a .log file, which must be valid.
func batchesIn(t testing.TB, path string) []storedBatch {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []storedBatch
	for pos := 0; pos < len(data); {
		h, size, err := batch.Check(data[pos:], 0)
		if err != nil {
			t.Fatalf("%s at %d: %v", path, pos, err)
		}
		out = append(out, storedBatch{int64(pos), h})
		pos += size
	}
	return out
}

// segmentBases lists the base offsets of the .log files in dir.
func segmentBases(t testing.TB, dir string) []int64 {
	t.Helper()
	bases, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return bases
}

// copyDir copies the regular files of src into dst (created).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
