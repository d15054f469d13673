package log

// Benchmarks of the partition log (STYLE.md §10). Compare runs with
// benchstat, never a single one:
//
//	go test -run '^$' -bench . -benchtime 2s -count 6 ./broker/log > new.txt
//	benchstat new.txt
//
// BenchmarkAppend measures the default durable policy against a raw-file
// baseline timed in the same run, BenchmarkRead sequential reads,
// BenchmarkOpenClean the restart after a clean stop (set
// RUNNEL_BENCH_LOG_BYTES=10737418240 for the 10 GiB startup claim) and
// BenchmarkOpenAfterCrash the restart that validates the active segment.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
)

// benchAppendCase is one shape of BenchmarkAppend: each Append call is one
// uncompressed batch of perBatch records with recSize-byte values and no
// key, made by appenders goroutines at once.
type benchAppendCase struct {
	recSize   int
	perBatch  int
	appenders int
}

var benchAppendCases = []benchAppendCase{
	{100, 1, 1}, {100, 1, 8}, {100, 100, 1}, {100, 100, 8},
	{16 << 10, 1, 1}, {16 << 10, 1, 8}, {16 << 10, 16, 1}, {16 << 10, 16, 8},
}

// benchResetBytes bounds the disk a BenchmarkAppend variant uses: after
// this much the log and the raw file start over, untimed. It is above
// segment.bytes (1 GiB) so that long runs include segment rolls.
const benchResetBytes int64 = 3 << 30

// BenchmarkAppend appends with the default options (flush.messages=1: every
// Append returns once its batch is fsynced) and, in the same run, writes
// the same batch bytes to a plain file in the same temporary directory with
// one write and one fdatasync per batch: the raw baseline.
//
// With several appenders the baseline serializes the writes with a mutex
// and each goroutine then calls fdatasync on its own, outside the mutex:
// the naive per-write fsync, without group commit in user space (the
// file system may still merge concurrent fsyncs into one journal commit).
// The log shares one fdatasync between the appenders waiting at the same
// time.
//
// An op is one Append of one batch; MB/s counts batch bytes as stored
// (record framing and the 61-byte header included). The log and the
// baseline run alternately in 16 rounds (log first, then baseline first,
// ...) so that a drift in the disk's speed during the run hits both.
// Metrics: records/s, p99-ms (latency of one Append) and fsyncs/op (the
// group-commit fdatasyncs per Append, from Stats) for the log, base-MB/s
// for the baseline (which runs one fdatasync per op) and x-baseline, the
// log's throughput divided by the baseline's (the goal is >= 0.7).
func BenchmarkAppend(b *testing.B) {
	for _, c := range benchAppendCases {
		name := fmt.Sprintf("rec=%s/batch=%d/appenders=%d", benchSizeName(c.recSize), c.perBatch, c.appenders)
		b.Run(name, func(b *testing.B) { benchAppend(b, c) })
	}
}

func benchAppend(b *testing.B, c benchAppendCase) {
	proto := benchBatch(b, c.recSize, c.perBatch, time.Now().UnixMilli())
	size := len(proto)
	dir := b.TempDir()
	logDir, rawPath := filepath.Join(dir, "log"), filepath.Join(dir, "raw")

	l := mustOpen(b, logDir, nil)
	defer func() { l.Close() }()
	raw := benchOpenRaw(b, rawPath)
	defer func() { raw.f.Close() }()

	// Append rewrites the base offset in its input, in place. That field
	// is outside the CRC and Append does not look at its old value, so
	// each appender reuses one buffer; they cannot share one.
	bufs := make([][]byte, c.appenders)
	for i := range bufs {
		bufs[i] = slices.Clone(proto)
	}
	lat := make([]time.Duration, b.N)
	logOp := func(w, i int) error {
		t0 := time.Now()
		_, err := l.Append(bufs[w])
		lat[i] = time.Since(t0)
		return err
	}
	rawOp := func(int, int) error { return raw.append(proto) }

	resetOps := int(max(1, benchResetBytes/int64(size)))
	var logTime, rawTime time.Duration
	var logOps, rawOps int // since the last reset
	var fsyncs int64       // of the logs closed by resets
	runLog := func(base, n int) {
		for n > 0 {
			k := min(n, resetOps-logOps)
			b.StartTimer()
			d, err := benchRunOps("log", base, k, c.appenders, logOp)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			logTime += d
			logOps, base, n = logOps+k, base+k, n-k
			if logOps >= resetOps {
				fsyncs += l.Stats().Fsyncs
				if err := errors.Join(l.Close(), os.RemoveAll(logDir)); err != nil {
					b.Fatal(err)
				}
				l, logOps = mustOpen(b, logDir, nil), 0
			}
		}
	}
	runRaw := func(base, n int) {
		for n > 0 {
			k := min(n, resetOps-rawOps)
			d, err := benchRunOps("raw", base, k, c.appenders, rawOp)
			if err != nil {
				b.Fatal(err)
			}
			rawTime += d
			rawOps, base, n = rawOps+k, base+k, n-k
			if rawOps >= resetOps {
				raw.f.Close()
				raw, rawOps = benchOpenRaw(b, rawPath), 0
			}
		}
	}

	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	rounds := min(b.N, 16)
	for r, done := 0, 0; r < rounds; r++ {
		n := (b.N - done) / (rounds - r)
		if r%2 == 0 {
			runLog(done, n)
			runRaw(done, n)
		} else {
			runRaw(done, n)
			runLog(done, n)
		}
		done += n
	}

	ops := float64(b.N)
	fsyncs += l.Stats().Fsyncs
	b.ReportMetric(float64(fsyncs)/ops, "fsyncs/op")
	b.ReportMetric(ops*float64(c.perBatch)/logTime.Seconds(), "records/s")
	b.ReportMetric(ops*float64(size)/rawTime.Seconds()/1e6, "base-MB/s")
	b.ReportMetric(rawTime.Seconds()/logTime.Seconds(), "x-baseline")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100])/float64(time.Millisecond), "p99-ms")
}

// benchRunOps calls op(worker, i) for i in [base, base+n) from workers
// goroutines and returns the wall time they took. The goroutines carry the
// profiler label side=<side>, so that a CPU profile of BenchmarkAppend
// splits into the log and the baseline:
//
//	go tool pprof -tagfocus side=log -top broker/log.test cpu.prof
func benchRunOps(side string, base, n, workers int, op func(w, i int) error) (time.Duration, error) {
	var next atomic.Int64
	next.Store(int64(base))
	end := int64(base + n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("side", side), func(context.Context) {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= end {
					return
				}
				if err := op(w, int(i)); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// benchRaw is the baseline: a plain file, written whole batches at a
// time, each write followed by an fdatasync.
type benchRaw struct {
	mu sync.Mutex
	f  *os.File
}

func benchOpenRaw(b *testing.B, path string) *benchRaw {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	return &benchRaw{f: f}
}

func (r *benchRaw) append(p []byte) error {
	r.mu.Lock()
	_, err := r.f.Write(p)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return benchFdatasync(r.f)
}

// BenchmarkRead reads a 256 MiB log of about 16 KiB batches (16 records of
// 1 KiB) from start to end with maxBytes 1 MiB, as a consumer catching up
// does. An op is one whole pass. cache=warm reads from the page cache (the
// log was just written); cache=cold evicts the log's files from it before
// each pass (Linux only).
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	size, records := benchFill(b, dir, 256<<20, 1<<10, 16)
	for _, cold := range []bool{false, true} {
		b.Run("cache="+map[bool]string{false: "warm", true: "cold"}[cold], func(b *testing.B) {
			if cold && !benchCanDropCache {
				b.Skip("cannot drop the page cache on this platform")
			}
			l := mustOpen(b, dir, nil)
			defer l.Close()
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if cold {
					b.StopTimer()
					benchDropDirCache(b, dir)
					b.StartTimer()
				}
				n, recs := benchReadAll(b, l)
				if n != size || recs != records {
					b.Fatalf("read %d bytes and %d records, want %d and %d", n, recs, size, records)
				}
			}
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// benchReadAll reads the log from its start to the high watermark and
// returns the bytes and records read.
func benchReadAll(b *testing.B, l *Log) (n, records int64) {
	start, hw, _ := l.Offsets()
	for off := start; off < hw; {
		res, err := l.Read(off, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Data) == 0 {
			b.Fatalf("read at %d below the high watermark %d returned nothing", off, hw)
		}
		for pos := 0; pos < len(res.Data); {
			h, err := batch.ParseHeader(res.Data[pos:])
			if err != nil {
				b.Fatal(err)
			}
			records += int64(h.RecordCount)
			off = h.LastOffset() + 1
			pos += h.Size()
		}
		n += int64(len(res.Data))
	}
	return n, records
}

// benchLogBytes is the size of the log that the Open benchmarks restart:
// RUNNEL_BENCH_LOG_BYTES, 512 MiB by default.
func benchLogBytes(b *testing.B) int64 {
	v := os.Getenv("RUNNEL_BENCH_LOG_BYTES")
	if v == "" {
		return 512 << 20
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		b.Fatalf("RUNNEL_BENCH_LOG_BYTES=%q: want a positive number of bytes", v)
	}
	return n
}

// BenchmarkOpenClean restarts a log of RUNNEL_BENCH_LOG_BYTES bytes (512 MiB
// by default) after a clean Close, with the default segment.bytes (1 GiB).
// Its batches are of 40 records of 100 bytes, just above 4 KiB: one offset
// and one time index entry for every 4 KiB of log, the largest indexes the
// default index.interval.bytes makes. An op is Open + Close; ms/open is the
// Open alone, the startup time (goal: < 1 s for 10 GiB). A clean restart
// must read no log data: the benchmark fails if recovery scanned any.
// cache=cold evicts every file of the log from the page cache before each
// Open (Linux only), as after a reboot.
func BenchmarkOpenClean(b *testing.B) {
	dir := b.TempDir()
	size, _ := benchFill(b, dir, benchLogBytes(b), 100, 40)
	for _, cold := range []bool{false, true} {
		b.Run("cache="+map[bool]string{false: "warm", true: "cold"}[cold], func(b *testing.B) {
			if cold && !benchCanDropCache {
				b.Skip("cannot drop the page cache on this platform")
			}
			var openTime, closeTime time.Duration
			var segments int
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if cold {
					b.StopTimer()
					benchDropDirCache(b, dir)
					b.StartTimer()
				}
				t0 := time.Now()
				l, err := Open(dir, nil)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				rep := l.Recovery()
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
				openTime, closeTime = openTime+t1.Sub(t0), closeTime+time.Since(t1)
				if !rep.Clean || rep.ScannedBytes != 0 || len(rep.RebuiltIndexes) > 0 {
					b.Fatalf("clean open: clean=%v, scanned %d bytes, rebuilt %v",
						rep.Clean, rep.ScannedBytes, rep.RebuiltIndexes)
				}
				segments = rep.Segments
			}
			b.ReportMetric(float64(openTime)/float64(time.Millisecond)/float64(b.N), "ms/open")
			b.ReportMetric(float64(closeTime)/float64(time.Millisecond)/float64(b.N), "ms/close")
			b.ReportMetric(float64(size)/(1<<20), "log-MiB")
			b.ReportMetric(float64(segments), "segments")
		})
	}
}

// BenchmarkOpenAfterCrash restarts the log of BenchmarkOpenClean after a
// crash that lost nothing: the checkpoint is the one a running log leaves
// (recovery point at the active segment's base, not clean), so Open
// validates the active segment batch by batch and rebuilds its indexes.
// The "crash" closes the files without Close. An op is one Open.
func BenchmarkOpenAfterCrash(b *testing.B) {
	dir := b.TempDir()
	benchFill(b, dir, benchLogBytes(b), 100, 40)
	crash := func(l *Log) {
		if err := l.closeSegments(); err != nil {
			b.Fatal(err)
		}
	}
	l := mustOpen(b, dir, nil) // leaves the checkpoint of a running log
	crash(l)
	var scanned int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rep := l.Recovery()
		if rep.Clean || rep.ScannedBytes == 0 || len(rep.Truncations) > 0 {
			b.Fatalf("open after crash: clean=%v, scanned %d bytes, truncations %v",
				rep.Clean, rep.ScannedBytes, rep.Truncations)
		}
		scanned = rep.ScannedBytes
		crash(l)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N), "ms/open")
	b.ReportMetric(float64(scanned)/(1<<20), "scanned-MiB")
}

// benchBatch builds an uncompressed batch of n records with recSize-byte
// random values, no key, all at timestamp ts.
func benchBatch(b *testing.B, recSize, n int, ts int64) []byte {
	rng := rand.New(rand.NewPCG(uint64(recSize), uint64(n)))
	bld := batch.NewBuilder(batch.CodecNone)
	for range n {
		v := make([]byte, recSize)
		for i := range v {
			v[i] = byte(rng.Uint32())
		}
		bld.Add(nil, v, ts)
	}
	out, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// benchFill appends batches of perBatch records of recSize bytes to the
// (new) log in dir until it holds at least total bytes, and closes it
// cleanly. Appends carry about 1 MiB of batches each and are not fsynced
// one by one (the segment rolls and Close fsync everything). The batch
// timestamps grow by 1 ms from batch to batch, as from a live producer, so
// that each offset index entry comes with a time index entry. It returns
// the size of the log and its number of records.
func benchFill(b *testing.B, dir string, total int64, recSize, perBatch int) (size, records int64) {
	b.Helper()
	l := mustOpen(b, dir, &Options{FlushMessages: 1 << 62})
	proto := benchBatch(b, recSize, perBatch, 0)
	h, err := batch.ParseHeader(proto)
	if err != nil {
		b.Fatal(err)
	}
	body := proto[batch.HeaderSize:]
	ts := time.Now().Add(-24 * time.Hour).UnixMilli()
	chunk := make([]byte, 0, 1<<20+len(proto))
	for size < total {
		chunk = chunk[:0]
		for len(chunk) < 1<<20 && size+int64(len(chunk)) < total {
			h.FirstTimestamp, h.MaxTimestamp = ts, ts
			ts++
			one, err := batch.Assemble(h, body)
			if err != nil {
				b.Fatal(err)
			}
			chunk = append(chunk, one...)
			records += int64(perBatch)
		}
		mustAppend(b, l, chunk)
		size += int64(len(chunk))
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	return size, records
}

// benchDropDirCache evicts every file of dir from the page cache.
func benchDropDirCache(b *testing.B, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if err := benchDropCache(filepath.Join(dir, e.Name())); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSizeName(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
