package main

import (
	"bytes"
	"fmt"
	"testing"
	"time"

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

func TestDemoTwiceAppends(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "demo", "--data-dir", dir, "--records", "120")
	if code != 0 {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	mustContain(t, "first run", out,
		"topic           quickstart: created, 3 partitions",
		"produced 120 page views",
		"every key, value and timestamp as produced",
		"the data lives in", "quickstart-0/", "00000000000000000000.log", "runnel log dump")
	first := endOffsets(t, dir)
	equalInt(t, "records after the first run", sum(first), 120)
	for _, end := range first {
		if end > 0 {
			mustContain(t, "first run", out, fmt.Sprintf("0..%d", end-1))
		}
	}

	code, out, errOut = runCLI(t, "demo", "--data-dir", dir, "--records", "120", "--compression", "zstd")
	if code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	mustContain(t, "second run", out, "exists from an earlier run", "it holds 120 records: this run appends after them",
		"compression zstd")
	second := endOffsets(t, dir)
	equalInt(t, "records after the second run", sum(second), 240)
	for p := range second {
		if second[p] > first[p] {
			// This run's records start where the first run's ended.
			mustContain(t, "second run", out, fmt.Sprintf("%d..%d", first[p], second[p]-1))
		}
	}
}

func TestDemoCodecs(t *testing.T) {
	t.Parallel()
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			clock := func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }
			err := runDemo(&out, demoConfig{DataDir: t.TempDir(), Records: 80, Codec: codec, Now: clock, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, "output", out.String(), "produced 80 page views", "compression "+name, " 11:59:5")
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
