package file

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// crashDirEnv makes TestCrashHelper run the writer of TestKill9 in dir.
const crashDirEnv = "RUNNEL_FILE_SINK_CRASH_DIR"

// crashStream is the input of a task in TestKill9. Task 1's is long, so
// that its positions always go to _positions sidecars.
func crashStream(id connect.TaskID) string {
	if id == 1 {
		return "/" + strings.Repeat("long/", 50) + "in"
	}
	return "in"
}

// TestCrashHelper is the process TestKill9 kills: it resumes two tasks at
// the positions the sink reports and writes record n of a task with value
// n and position n+1, committing at random points (sometimes twice in a
// row, so with no data), until it is killed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the process TestKill9 kills")
	}
	s, err := New(Config{Dir: dir})
	requireNoError(t, err)
	next := map[connect.TaskID]int64{}
	for id := range connect.TaskID(2) {
		p := openTask(t, s, id)
		next[id] = p[engine.Input{Stream: crashStream(id)}]
	}
	for {
		id := connect.TaskID(rand.IntN(2))
		in := engine.Input{Stream: crashStream(id)}
		recs := make([]*connect.Record, 1+rand.IntN(20))
		for i := range recs {
			n := next[id]
			recs[i] = &connect.Record{Value: []byte(strconv.FormatInt(n, 10)), Pos: engine.Pos{Input: in, Offset: n, Next: n + 1}}
			next[id]++
		}
		write(t, s, id, recs...)
		if rand.IntN(3) == 0 {
			cp := connect.Checkpoint{}
			for id := range connect.TaskID(2) {
				cp[id] = engine.Positions{{Stream: crashStream(id)}: next[id]}
			}
			commitOK(t, s, cp)
		}
	}
}

// TestKill9 kills a writing process at random points, restarts it from the
// positions the sink reports, and checks that the committed files hold
// every record exactly once, in order, up to those positions.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	dir := t.TempDir()
	var seq [2]uint64
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		requireNoError(t, cmd.Start())
		// Wait for a commit of both tasks, then let it run a random while.
		deadline := time.Now().Add(30 * time.Second)
		for {
			s0, _, err0 := LastCommit(dir, "part", 0)
			s1, _, err1 := LastCommit(dir, "part", 1)
			if err0 == nil && err1 == nil && s0 > seq[0] && s1 > seq[1] {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: no commit within 30s; helper output:\n%s", round, out)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond)
		requireNoError(t, cmd.Process.Kill()) // SIGKILL
		if err := cmd.Wait(); err == nil || strings.Contains(out.String(), "FAIL") {
			t.Fatalf("round %d: helper ended by itself (%v):\n%s", round, err, out)
		}
		for id := range connect.TaskID(2) {
			seq[id] = checkCrashDir(t, dir, id)
		}
	}
}

// checkCrashDir checks that task id's committed files hold records 0 to
// its positions, each once, and returns the seq of its last commit.
func checkCrashDir(t *testing.T, dir string, id connect.TaskID) uint64 {
	t.Helper()
	s := newSink(t, Config{Dir: dir})
	pos := openTask(t, s, id)
	want := pos[engine.Input{Stream: crashStream(id)}]
	if len(pos) != 1 {
		t.Fatalf("task %d: positions %v", id, pos)
	}
	var n int64
	files := committed(t, dir, "part", id)
	for _, path := range files {
		f, err := os.Open(filepath.Join(dir, path))
		requireNoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if got := sc.Text(); got != strconv.FormatInt(n, 10) {
				t.Fatalf("task %d: %s: record %q, want %d", id, path, got, n)
			}
			n++
		}
		f.Close()
		requireNoError(t, sc.Err())
	}
	if n != want {
		t.Fatalf("task %d: %d records committed, positions say %d", id, n, want)
	}
	for _, name := range ls(t, dir) {
		if strings.HasSuffix(name, inProgressSuffix) && strings.Contains(name, fmt.Sprintf("-%d-", id)) {
			t.Fatalf("task %d: %s left after OpenTask", id, name)
		}
	}
	seq, _, err := LastCommit(dir, "part", id)
	requireNoError(t, err)
	t.Logf("task %d: %d records in %d part files, last commit seq %d", id, n, len(files), seq)
	return seq
}
