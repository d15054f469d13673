package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/broker/store"
)

// endOffsets opens the data directory and returns the log end offset of each
// partition of the demo topic.
func endOffsets(t *testing.T, dir string) []int64 {
	t.Helper()
	o := store.DefaultOptions()
	o.BackgroundInterval = 0
	st, err := store.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.Topic(demoTopic)
	if err != nil {
		t.Fatal(err)
	}
	var ends []int64
	for p := range d.Partitions {
		l, err := st.Partition(demoTopic, p)
		if err != nil {
			t.Fatal(err)
		}
		if !l.Recovery().Clean {
			t.Errorf("partition %d was not closed cleanly by the demo", p)
		}
		_, _, end := l.Offsets()
		ends = append(ends, end)
	}
	return ends
}

func sum(xs []int64) (n int64) {
	for _, x := range xs {
		n += x
	}
	return n
}

// demoCommitted serves dir with a broker for a moment and returns the
// committed offsets of the demo group.
func demoCommitted(t *testing.T, dir string) map[int32]int64 {
	t.Helper()
	b, err := broker.New(broker.DataDir(dir), broker.ListenAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return committed(t, b.Addr(), demoGroup, demoTopic)
}

// demoRow matches partition p's row of the demo's summary: the offsets
// acknowledged in this run, the log start (0), the log end, the group's
// committed offset (the log end) and its lag (0).
func demoRow(p int, from, end int64) string {
	return fmt.Sprintf(`(?m)^ +%d +%d\.\.%d +0 +%d +%d +0 +`, p, from, end-1, end, end)
}

// The demo makes a round trip through the broker; run twice, the second
// run's records follow the first's and the group reads only them.
func TestDemoTwiceAppends(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "demo", "--data-dir", dir, "--records", "120")
	if code != 0 {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	mustContain(t, "first run", out,
		"broker          listening on 127.0.0.1:",
		"topic           quickstart: created, 3 partitions",
		"group           demo: new, it starts at the beginning of each partition",
		"produced 120 page views", "idempotent, acks=all",
		"consumed them back in group \"demo\"", "every key, value and timestamp as produced",
		"the group read 120 records, from the beginning of each partition",
		"shut the broker down cleanly",
		"the data lives in", "quickstart-0/", "__consumer_offsets-0/", "00000000000000000000.log",
		"runnel broker --data-dir "+dir, "runnel group describe demo", "kcat -b 127.0.0.1:9092",
		"runnel log dump")
	first := endOffsets(t, dir)
	equalInt(t, "records after the first run", sum(first), 120)
	var acked []string
	for p, end := range first {
		if end > 0 {
			mustMatch(t, "first run", out, demoRow(p, 0, end))
			acked = append(acked, fmt.Sprintf("partition %d offsets 0-%d", p, end-1))
		}
	}
	mustContain(t, "first run", out, "acknowledged:   "+strings.Join(acked, ", ")+"\n")
	equalOffsets(t, "committed after the first run", demoCommitted(t, dir), map[int32]int64{0: first[0], 1: first[1], 2: first[2]})

	code, out, errOut = runCLI(t, "demo", "--data-dir", dir, "--records", "120", "--compression", "zstd")
	if code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	mustContain(t, "second run", out, "exists from an earlier run", "it holds 120 records: this run appends after them",
		fmt.Sprintf("group           demo: committed offsets from an earlier run (partition 0 at %d, 1 at %d, 2 at %d): it resumes there", first[0], first[1], first[2]),
		"compression zstd",
		"the group read 120 records, only this run's: it resumed from the offsets it had committed")
	second := endOffsets(t, dir)
	equalInt(t, "records after the second run", sum(second), 240)
	for p := range second {
		if second[p] > first[p] {
			// This run's records start where the first run's ended.
			mustMatch(t, "second run", out, demoRow(p, first[p], second[p]))
		}
	}
	equalOffsets(t, "committed after the second run", demoCommitted(t, dir), map[int32]int64{0: second[0], 1: second[1], 2: second[2]})
}

// A group behind the log end reads the records it had not consumed too,
// and the demo tells them apart from its own.
func TestDemoGroupCatchesUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cli(t, "", "demo", "--data-dir", dir, "--records", "50")

	// Move the group back to the start, with the group command.
	b, err := broker.New(broker.DataDir(dir), broker.ListenAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	mustMatch(t, "reset", cli(t, "", "group", "reset-offsets", "demo", "--topic", "quickstart", "--to-earliest", "--execute", "-b", b.Addr()),
		`(?m)^committed the new offsets of group "demo": 3 partitions of topic "quickstart" reset$`)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	out := cli(t, "", "demo", "--data-dir", dir, "--records", "30")
	mustContain(t, "second run", out, "group           demo: committed offsets from an earlier run (partition 0 at 0, 1 at 0, 2 at 0)",
		"the group read 80 records: this run's 30, and 50 older ones it had not consumed before")
	ends := endOffsets(t, dir)
	equalOffsets(t, "committed", demoCommitted(t, dir), map[int32]int64{0: ends[0], 1: ends[1], 2: ends[2]})
}

func TestDemoCodecs(t *testing.T) {
	t.Parallel()
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			clock := func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }
			err := runDemo(ctxT(t), &out, demoConfig{DataDir: t.TempDir(), Records: 80, Codec: codec, Now: clock, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, "output", out.String(), "produced 80 page views", "compression "+name, " 11:59:5",
				"every key, value and timestamp as produced")
		})
	}
}

func TestDemoReportsLockedDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, _, errOut := runCLI(t, "demo", "--data-dir", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := fmt.Sprintf("runnel: the data directory %s is in use by another runnel process; stop it, or pick another --data-dir\n", dir)
	if errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}

func equalInt(t *testing.T, what string, got, want int64) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
}
