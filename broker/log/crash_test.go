package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
)

// The crash test runs the writer in a real process and kills it with
// SIGKILL at a random point, then checks what the log kept. The child is
// this test binary re-executed to run only TestCrashWriterProcess.

const (
	crashDirEnv   = "RUNNEL_CRASH_DIR"   // the log directory; set only in the child
	crashCycleEnv = "RUNNEL_CRASH_CYCLE" // the cycle number, the first part of every value
	crashSeedEnv  = "RUNNEL_CRASH_SEED"  // reruns TestCrashRecovery with a logged seed
	crashWriters  = 4                    // appending goroutines in the child
	crashCycles   = 24
)

// crashOptions are the options of both the child and the checks: small
// segments so that rolls happen during the test.
func crashOptions() *Options {
	return &Options{SegmentBytes: 64 << 10, IndexIntervalBytes: 1024}
}

// crashValue is the value of a record: writer cycle, goroutine, sequence.
func crashValue(cycle, g, seq int) string { return fmt.Sprintf("%d/%d/%d", cycle, g, seq) }

// crashWriter identifies the goroutine of one child that wrote a record.
type crashWriter struct{ cycle, g int }

// parseCrashValue parses crashValue's output (fast: the check parses every
// record of the log after each cycle).
func parseCrashValue(v string) (w crashWriter, seq int, ok bool) {
	c, rest, ok1 := strings.Cut(v, "/")
	g, s, ok2 := strings.Cut(rest, "/")
	var err1, err2, err3 error
	w.cycle, err1 = strconv.Atoi(c)
	w.g, err2 = strconv.Atoi(g)
	seq, err3 = strconv.Atoi(s)
	return w, seq, ok1 && ok2 && err1 == nil && err2 == nil && err3 == nil
}

// TestCrashWriterProcess is the child of TestCrashRecovery. It appends
// until it is killed and prints, after each Append returns,
// "ack <base> <last> <goroutine> <firstSeq> <n>" with a single write.
func TestCrashWriterProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashRecovery; runs only with " + crashDirEnv + " set")
	}
	cycle, err := strconv.Atoi(os.Getenv(crashCycleEnv))
	if err != nil {
		crashChildFail("bad %s: %v", crashCycleEnv, err)
	}
	l, err := Open(dir, crashOptions())
	if err != nil {
		crashChildFail("open: %v", err)
	}
	crashChildWrite("ready\n")
	// Some compression, but not much: under the race detector codecs are
	// slow (lz4 and gzip most), and the parent decodes every record of
	// the log after each cycle.
	codecs := []int{batch.CodecNone, batch.CodecNone, batch.CodecSnappy, batch.CodecZstd}
	for g := 0; g < crashWriters; g++ {
		go func() {
			rnd := rand.New(rand.NewPCG(uint64(cycle), uint64(g)))
			b := batch.NewBuilder(codecs[g%len(codecs)])
			for seq := 0; ; {
				n := 1 + rnd.IntN(20)
				b.Reset()
				for i := 0; i < n; i++ {
					b.Add([]byte(strconv.Itoa(g)), []byte(crashValue(cycle, g, seq+i)), time.Now().UnixMilli())
				}
				data, err := b.Build()
				if err != nil {
					crashChildFail("build: %v", err)
				}
				res, err := l.Append(data)
				if err != nil {
					crashChildFail("append: %v", err)
				}
				if res.LastOffset-res.BaseOffset != int64(n-1) {
					crashChildFail("append of %d records got offsets [%d, %d]", n, res.BaseOffset, res.LastOffset)
				}
				crashChildWrite(fmt.Sprintf("ack %d %d %d %d %d\n", res.BaseOffset, res.LastOffset, g, seq, n))
				seq += n
			}
		}()
	}
	// The parent kills us long before; this only bounds an orphan's life.
	time.Sleep(2 * time.Minute)
	crashChildFail("not killed after 2 minutes")
}

var crashStdout sync.Mutex

// crashChildWrite writes s to stdout with one unbuffered write (a line is
// far below PIPE_BUF, so the parent never sees half of one).
func crashChildWrite(s string) {
	crashStdout.Lock()
	defer crashStdout.Unlock()
	if _, err := os.Stdout.Write([]byte(s)); err != nil {
		os.Exit(3) // the parent is gone
	}
}

func crashChildFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "crash writer: "+format+"\n", args...)
	os.Exit(2)
}

// crashAck is an acknowledged append: records cycle/g/firstSeq.. at
// offsets base..base+n-1.
type crashAck struct {
	cycle, g, firstSeq, n int
	base, last            int64
}

func parseCrashAck(line string, cycle int) (crashAck, error) {
	a := crashAck{cycle: cycle}
	_, err := fmt.Sscanf(line, "ack %d %d %d %d %d", &a.base, &a.last, &a.g, &a.firstSeq, &a.n)
	if err == nil && (a.n < 1 || a.last-a.base != int64(a.n-1)) {
		err = errors.New("offsets do not match the record count")
	}
	if err != nil {
		return a, fmt.Errorf("bad ack line %q: %w", line, err)
	}
	return a, nil
}

// crashKill says when a cycle kills its child.
type crashKill int

const (
	killAtStart   crashKill = iota // right after the process starts: in the runtime or in Open
	killAtReady                    // once Open has returned, before any append
	killAfterAcks                  // after a random number of acks
)

func (k crashKill) String() string {
	return [...]string{"at start", "at ready", "after acks"}[k]
}

func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", crashSeedEnv, err)
		}
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, crashSeedEnv, seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()

	var acked []crashAck
	truncations := 0
	for cycle := 0; cycle < crashCycles; cycle++ {
		kill, after := killAfterAcks, 20+rnd.IntN(281)
		switch cycle % 8 {
		case 3:
			kill, after = killAtStart, 0
		case 6:
			kill, after = killAtReady, 0
		}
		acks := runCrashChild(t, dir, cycle, kill, after)
		acked = append(acked, acks...)

		// Every other cycle checks a copy, so that the next child
		// recovers from the crash itself; the others check (and close)
		// the log in place. The check is cumulative either way.
		check := dir
		if cycle%2 == 1 {
			check = t.TempDir()
			copyDir(t, dir, check)
		}
		rep := checkCrashLog(t, check, acked)
		truncations += len(rep.Truncations)
		t.Logf("cycle %d: killed %v, %d acks (%d acked in all); recovery scanned %d bytes, %d segments, truncations %v",
			cycle, kill, len(acks), len(acked), rep.ScannedBytes, rep.Segments, rep.Truncations)
	}
	checkCrashLog(t, dir, acked)
	t.Logf("%d cycles, %d acked appends, %d truncations", crashCycles, len(acked), truncations)
}

// runCrashChild runs one writer on dir and kills it as kill says. It
// returns every append the child acknowledged before it died.
func runCrashChild(t *testing.T, dir string, cycle int, kill crashKill, after int) []crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterProcess$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashCycleEnv+"="+strconv.Itoa(cycle))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A safety net for a child that hangs; no assertion depends on it.
	var hung bool
	var hungMu sync.Mutex
	watchdog := time.AfterFunc(time.Minute, func() {
		hungMu.Lock()
		hung = true
		hungMu.Unlock()
		cmd.Process.Kill()
	})
	defer watchdog.Stop()

	killed := false
	doKill := func() {
		if !killed {
			killed = true
			if err := cmd.Process.Kill(); err != nil {
				t.Errorf("kill: %v", err)
			}
		}
	}
	if kill == killAtStart {
		doKill()
	}
	var acks []crashAck
	ready := false
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err != io.EOF {
				t.Fatalf("reading the child: %v", err)
			}
			if line != "" {
				t.Fatalf("child printed a partial line %q", line)
			}
			break
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "ready":
			ready = true
			if kill == killAtReady {
				doKill()
			}
		case strings.HasPrefix(line, "ack "):
			if !ready {
				t.Fatalf("ack before ready: %q", line)
			}
			a, err := parseCrashAck(line, cycle)
			if err != nil {
				t.Fatal(err)
			}
			acks = append(acks, a)
			if kill == killAfterAcks && len(acks) >= after {
				doKill()
			}
		}
	}
	err = cmd.Wait()
	hungMu.Lock()
	defer hungMu.Unlock()
	if hung {
		t.Fatalf("cycle %d: the child did not get to its kill point within a minute; stderr:\n%s", cycle, stderr.String())
	}
	var ee *exec.ExitError
	if !killed || !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("cycle %d: the child ended on its own (%v) after %d acks; stderr:\n%s", cycle, err, len(acks), stderr.String())
	}
	return acks
}

// checkCrashLog opens the log in dir and checks that it holds every
// acknowledged record at its offset, that offsets run without a gap from
// the log start to the high watermark, and that each writer goroutine's
// records appear once each, in order. It closes the log.
func checkCrashLog(t *testing.T, dir string, acked []crashAck) RecoveryReport {
	t.Helper()
	l := mustOpen(t, dir, crashOptions())
	defer func() {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	rep := l.Recovery()
	start, hw, leo := l.Offsets()
	if hw != leo {
		t.Fatalf("after recovery the high watermark %d is not the log end %d", hw, leo)
	}
	if start != 0 {
		t.Fatalf("log start %d, want 0", start)
	}
	recs := readAll(t, l)
	checkContiguous(t, recs, start, hw-start)

	for _, a := range acked {
		if a.last >= hw {
			t.Fatalf("acked offsets [%d, %d] (cycle %d, goroutine %d) lost: high watermark %d; recovery %+v",
				a.base, a.last, a.cycle, a.g, hw, rep)
		}
		for i := 0; i < a.n; i++ {
			off := a.base + int64(i)
			want := crashValue(a.cycle, a.g, a.firstSeq+i)
			if got := recs[off-start].value; got != want {
				t.Fatalf("acked offset %d holds %q, want %q; recovery %+v", off, got, want, rep)
			}
		}
	}

	// A goroutine appends one batch at a time, and a batch is fsynced
	// before the next is written: its sequences must run 0, 1, 2, ...
	next := map[crashWriter]int{}
	for _, r := range recs {
		w, seq, ok := parseCrashValue(r.value)
		if !ok {
			t.Fatalf("offset %d holds %q, not a crash writer value", r.offset, r.value)
		}
		if seq != next[w] {
			t.Fatalf("offset %d holds sequence %d of cycle %d goroutine %d, want %d", r.offset, seq, w.cycle, w.g, next[w])
		}
		next[w]++
	}
	return rep
}
