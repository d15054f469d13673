package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/internal/proctest"
)

// killHead starts the pipeline files of the kill tests: the test's
// broker, frequent checkpoints, static membership, the clicks.
const killHead = `broker:
  bootstrap: ["${KAFKA_BOOTSTRAP}"]
  data_dir: ${DIR}/data
checkpoint_interval: 200ms
session_timeout: 3s
instance_id: killed
inputs:
  clicks: {topic: {topics: [clicks]}}
`

// killYAML is the pipeline TestKillRunExactlyOnce kills: clicks →
// key_by page → 10 s tumbling counts → files, late clicks → files.
const killYAML = killHead + `outputs:
  counts: {file: {dir: "${DIR}/out/counts"}}
  late: {file: {dir: "${DIR}/out/late"}}
pipelines:
  page-counts:
    from: clicks
    steps:
      - event_time: value.ts
      - key_by: value.page
      - name: per-10s
        window:
          tumbling: 10s
          delay: 2s
          aggregate: {n: count()}
          late: late
      - to: counts
`

// killClick is click i of the test's input: 5 pages, 20 clicks a second
// of event time, one in 16 two seconds out of order and one in 97 a
// minute late.
func killClick(i int) map[string]any {
	ts := int64(1795251600000) + int64(i)*50
	switch {
	case i%97 == 96:
		ts -= 60_000
	case i%16 == 15:
		ts -= 2_000
	}
	return map[string]any{"id": i, "page": fmt.Sprintf("/p%d", i%5), "ts": ts}
}

// killRig is a run of killRun: where it ran and what it fed.
type killRig struct {
	dir      string
	produced int // clicks: killClick(0) … killClick(produced-1)
	logs     *proctest.Buffer
}

// killRun builds runnel, writes yaml to a file and runs `runnel run` on
// it against a broker in the test's process (KAFKA_BOOTSTRAP; DIR is a
// temporary directory; env adds variables), SIGKILLing it at random
// moments 20 times while clicks are produced to the topic clicks (4
// partitions, keyed by click id, about 4000 a second); then `runnel run
// --once` finishes the input.
func killRun(t *testing.T, yaml string, env ...string) *killRig {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and kills it 20 times")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "runnel")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := brokertest.Start(t, broker.GroupInitialRebalanceDelay(0), broker.GroupMinSessionTimeout(time.Second))
	brokertest.CreateTopic(t, addr, "clicks", 4, nil)
	file := filepath.Join(dir, "kill.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env = append(append(os.Environ(), "KAFKA_BOOTSTRAP="+addr, "DIR="+dir), env...)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RUNNEL_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (RUNNEL_KILL_SEED)", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))

	// The feeder produces clicks, keyed by id, until told to stop.
	cl := brokertest.Client(t, addr, kgo.DefaultProduceTopic("clicks"))
	// The kills take 20 to 40 s and the last run more under load: a
	// context of its own, longer than brokertest.Context's minute.
	ctx, cancelAll := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancelAll)
	rig := &killRig{dir: dir, logs: &proctest.Buffer{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var recs []*kgo.Record
			for range 200 {
				v, _ := json.Marshal(killClick(rig.produced))
				recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(rig.produced)), Value: v})
				rig.produced++
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(50 * time.Millisecond) // pacing: about 4000 clicks/s
		}
	}()

	for i := range 20 {
		cmd := exec.Command(bin, "run", "-q", "--log-level", "error", file)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, rig.logs, rig.logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A random moment: while starting, restoring, or processing.
		time.Sleep(time.Duration(100+rnd.IntN(1900)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = cmd.Wait()
	}
	close(stop)
	wg.Wait()

	// Finish the input.
	runCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, bin, "run", "--once", "-q", file)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, rig.logs, rig.logs
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("run --once: %v\n%s", err, rig.logs.String())
	}
	t.Logf("%d clicks produced during the kills; run --once took %v", rig.produced, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", rig.logs.String())
		}
	})
	return rig
}

// windowTruth returns the clicks of each "page@window start" (10 s
// tumbling windows) of the first n clicks.
func windowTruth(n int) map[string]int64 {
	truth := map[string]int64{}
	for i := range n {
		c := killClick(i)
		truth[fmt.Sprintf("%s@%d", c["page"], c["ts"].(int64)/10_000*10_000)]++
	}
	return truth
}

// TestKillRunExactlyOnce runs killRun on a windowed pipeline into files.
// Every window written is written once, and holds exactly the clicks of
// its page and 10 s that were not late (the late ones are in their own
// output, each once too). The stage has two exactly-once file sinks: a
// kill between the commit of one and the other's once wrote a
// checkpoint's windows twice.
func TestKillRunExactlyOnce(t *testing.T) {
	rig := killRun(t, killYAML)
	dir, produced := rig.dir, rig.produced

	// The truth: clicks per (page, window start), minus the late ones.
	truth := windowTruth(produced)
	late := 0
	lateSeen := map[int]bool{}
	for _, line := range committedLines(t, filepath.Join(dir, "out", "late")) {
		var c struct {
			ID   int    `json:"id"`
			Page string `json:"page"`
			TS   int64  `json:"ts"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		if lateSeen[c.ID] {
			t.Errorf("late click %d written twice", c.ID)
		}
		lateSeen[c.ID] = true
		truth[fmt.Sprintf("%s@%d", c.Page, c.TS/10_000*10_000)]--
		late++
	}
	windows := committedLines(t, filepath.Join(dir, "out", "counts"))
	seen := map[string]bool{}
	for _, line := range windows {
		var w struct {
			Key   string `json:"key"`
			Start int64  `json:"start"`
			N     int64  `json:"n"`
		}
		if err := json.Unmarshal([]byte(line), &w); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s@%d", w.Key, w.Start)
		if seen[k] {
			t.Errorf("window %s written twice", k)
		}
		seen[k] = true
		if w.N != truth[k] {
			t.Errorf("window %s counts %d clicks, want %d", k, w.N, truth[k])
		}
	}
	// Event time covers produced/20 seconds: all but the last windows
	// of each page closed.
	if want := 5 * (produced/200 - 2); len(windows) < want || late == 0 {
		t.Errorf("%d windows and %d late clicks for %d clicks; want at least %d windows and some late", len(windows), late, produced, want)
	}
	t.Logf("%d clicks, %d windows, %d late, 20 kills", produced, len(windows), late)
}
