package log

import (
	"fmt"
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
	var out []rec
	for off := start; off < hw; {
		res, err := l.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if len(res.Data) == 0 {
			t.Fatalf("read at %d below hw %d returned nothing", off, hw)
		}
		for pos := 0; pos < len(res.Data); {
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
				if o < off {
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
