package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/internal/proctest"
)

// onceYAML has two pipelines read one topic, each into its own files,
// as dynamic members of their groups (no instance_id): a process killed
// with -9 stays in the groups until its session times out. The second
// goes through a repartition topic, written in Kafka transactions: the
// kill leaves one open, which holds back the topic's last stable offset
// until the next process fences it.
const onceYAML = `broker:
  bootstrap: ["${KAFKA_BOOTSTRAP}"]
  data_dir: ${DIR}/data
checkpoint_interval: 100ms
session_timeout: 2s
inputs:
  events: {topic: {topics: [events]}}
outputs:
  a: {file: {dir: "${DIR}/out/a"}}
  b: {file: {dir: "${DIR}/out/b"}}
pipelines:
  copy-a:
    from: events
    steps:
      - filter: value.id >= 0
      - to: a
  copy-b:
    from: events
    steps:
      - key_by: value.id % 7
      - map: {id: value.id, twice: value.id * 2}
      - to: b
`

// partLines counts the lines of the committed part files of dir, without
// judging files in progress (a killed run leaves them).
func partLines(dir string) int {
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "part-") && strings.HasSuffix(e.Name(), ".jsonl") {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			n += strings.Count(string(data), "\n")
		}
	}
	return n
}

// Issue 12: after a kill -9, "run --once" joined groups whose old member
// had not expired yet; the assignment took seconds, and the bounded topic
// source ended on "no data for a second" counted from the start of the
// run: exit 0, IN 0, everything left unread. Ten times: a run is killed
// while it processes, more records arrive, and run --once must read every
// record of both pipelines, each once, and exit 0.
func TestKillThenRunOnceReadsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("kills runnel run 10 times")
	}
	t.Parallel()
	addr := brokertest.Start(t, broker.GroupMinSessionTimeout(time.Second))
	brokertest.CreateTopic(t, addr, "events", 3, nil)
	dir := t.TempDir()
	file := writeFile(t, dir, "once.yaml", onceYAML)
	env := append(os.Environ(), "RUNNEL_TEST_RUN_MAIN=1", "KAFKA_BOOTSTRAP="+addr, "DIR="+dir)
	cl := brokertest.Client(t, addr, kgo.DefaultProduceTopic("events"))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 2))
	produced := 0
	// produceN is called by the test and by its feeder, one at a time.
	produceN := func(n int) {
		var recs []*kgo.Record
		for range n {
			v, _ := json.Marshal(map[string]int{"id": produced})
			recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(produced)), Value: v})
			produced++
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Error(err)
		}
	}
	logs := &proctest.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs)
		}
	}()
	outA, outB := filepath.Join(dir, "out", "a"), filepath.Join(dir, "out", "b")
	for i := range 10 {
		produceN(300)
		before := min(partLines(outA), partLines(outB))
		cmd := exec.Command(os.Args[0], "run", "-q", "--log-level", "warn", file)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Records keep coming while the run processes them, so that the
		// kill finds a transaction open.
		stop, fed := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(fed)
			for {
				select {
				case <-stop:
					return
				default:
				}
				produceN(20)
				time.Sleep(10 * time.Millisecond) // pacing: about 2000 records a second
			}
		}()
		// Killed once both pipelines are processing: each committed
		// output of this run, then at a random moment within 300 ms.
		for min(partLines(outA), partLines(outB)) <= before {
			if ctx.Err() != nil {
				cmd.Process.Kill()
				t.Fatalf("run %d: no output of both pipelines", i)
			}
			time.Sleep(10 * time.Millisecond) // polling the files the child writes
		}
		time.Sleep(time.Duration(rnd.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		close(stop)
		<-fed
		produceN(200) // only --once can read these

		out := &proctest.Buffer{}
		once := exec.CommandContext(ctx, os.Args[0], "run", "--once", "-q", file)
		once.Env, once.Stdout, once.Stderr = env, out, logs
		start := time.Now()
		if err := once.Run(); err != nil {
			t.Fatalf("run %d: run --once: %v\n%s", i, err, out)
		}
		took := time.Since(start).Round(time.Millisecond)
		for name, d := range map[string]string{"a": outA, "b": outB} {
			lines := committedLines(t, d)
			seen := make(map[int]bool, len(lines))
			for _, l := range lines {
				var v struct{ ID int }
				if err := json.Unmarshal([]byte(l), &v); err != nil {
					t.Fatal(err)
				}
				if seen[v.ID] {
					t.Errorf("run %d: output %s holds %d twice", i, name, v.ID)
				}
				seen[v.ID] = true
			}
			if len(seen) != produced {
				t.Fatalf("run %d: run --once exited 0 in %v with %d of %d records in output %s\n%s", i, took, len(seen), produced, name, out)
			}
		}
		t.Logf("run %d: %d records; run --once took %v", i, produced, took)
	}
}
