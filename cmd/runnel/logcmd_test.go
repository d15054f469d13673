package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/log"
)

// writeLog writes a partition log of n batches of 4 records each, with an
// index entry for every batch, closes it and returns its directory.
func writeLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l, err := log.Open(dir, &log.Options{IndexIntervalBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	for i := range n {
		b := batch.NewBuilder(batch.CodecNone)
		for r := range 4 {
			b.Add([]byte(fmt.Sprintf("user-%d", r)), []byte(fmt.Sprintf(`{"batch":%d,"record":%d}`, i, r)), ts+int64(i*1000+r))
		}
		data, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func segment(dir, suffix string) string { return filepath.Join(dir, "00000000000000000000"+suffix) }

func TestLogDumpSegment(t *testing.T) {
	t.Parallel()
	dir := writeLog(t, 3)
	code, out, errOut := runCLI(t, "log", "dump", "--records", segment(dir, ".log"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	mustContain(t, "dump", out,
		"position: 0 baseOffset: 0 lastOffset: 3 count: 4 ",
		"baseOffset: 4 lastOffset: 7 count: 4 ",
		"baseOffset: 8 lastOffset: 11 count: 4 ",
		"codec: none firstTimestamp: 2025-03-01T12:00:00.000Z maxTimestamp: 2025-03-01T12:00:00.003Z timestampType: CreateTime",
		"producerId: -1 producerEpoch: -1 baseSequence: -1 transactional: false control: false",
		"crcValid: true",
		`| offset: 5 timestamp: 2025-03-01T12:00:01.001Z key: user-1 value: {"batch":1,"record":1} headers: 0`,
		"3 batches, 12 records, ")
	if n := strings.Count(out, "| offset: "); n != 12 {
		t.Errorf("%d record lines, want 12", n)
	}

	// Without --records: batches only, values cut with --value-bytes.
	_, out, _ = runCLI(t, "log", "dump", segment(dir, ".log"))
	if strings.Contains(out, "| offset:") {
		t.Error("records printed without --records")
	}
	_, out, _ = runCLI(t, "log", "dump", "--records", "--value-bytes", "5", segment(dir, ".log"))
	mustContain(t, "dump", out, `value: {"bat... (22 bytes)`)
}

func TestLogDumpIndexes(t *testing.T) {
	t.Parallel()
	dir := writeLog(t, 4)
	_, logOut, _ := runCLI(t, "log", "dump", segment(dir, ".log"))
	positions := map[string]string{} // base offset -> position, from the segment
	for _, m := range regexp.MustCompile(`position: (\d+) baseOffset: (\d+)`).FindAllStringSubmatch(logOut, -1) {
		positions[m[2]] = m[1]
	}

	code, out, errOut := runCLI(t, "log", "dump", segment(dir, ".index"), segment(dir, ".timeindex"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	entries := regexp.MustCompile(`(?m)^offset: (\d+) position: (\d+)$`).FindAllStringSubmatch(out, -1)
	if len(entries) < 2 {
		t.Fatalf("%d offset index entries, want one per batch after the first:\n%s", len(entries), out)
	}
	for _, e := range entries {
		if positions[e[1]] != e[2] {
			t.Errorf("index entry offset %s position %s; the segment has that batch at %q", e[1], e[2], positions[e[1]])
		}
	}
	times := regexp.MustCompile(`(?m)^timestamp: \S+ \((\d+)\) offset: (\d+)$`).FindAllStringSubmatch(out, -1)
	if len(times) == 0 {
		t.Fatalf("no time index entries:\n%s", out)
	}
	last := times[len(times)-1]
	want := strconv.FormatInt(time.Date(2025, 3, 1, 12, 0, 3, 3e6, time.UTC).UnixMilli(), 10)
	if last[1] != want || last[2] != "15" {
		t.Errorf("last time index entry (%s, %s), want (%s, 15): the newest timestamp and last offset", last[1], last[2], want)
	}
}

func TestLogDumpStopsAtBadData(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(segment(writeLog(t, 3), ".log"))
	if err != nil {
		t.Fatal(err)
	}
	size := len(src) / 3 // the batches are the same size
	for _, tc := range []struct {
		name  string
		file  string
		data  []byte
		wants []string
	}{
		{"flipped bit", "00000000000000000000.log", flip(src, size+batch.HeaderSize+3), []string{
			"position: 0 baseOffset: 0", "crcValid: true",
			fmt.Sprintf("position: %d baseOffset: 4 lastOffset: 7", size), "crcValid: false",
			fmt.Sprintf("position: %d: bad batch: broker/batch: CRC mismatch", size),
			fmt.Sprintf("stopping here, %d bytes not dumped", 2*size)}},
		{"torn tail", "00000000000000000000.log", src[:len(src)-10], []string{
			fmt.Sprintf("position: %d: the batch claims %d bytes but only %d are left in the file (a torn write?)", 2*size, size, size-10)}},
		{"short tail", "00000000000000000000.log", src[:size+5], []string{
			fmt.Sprintf("position: %d: 5 bytes at the end are too few for a batch (a torn write?)", size)}},
		{"bad length", "00000000000000000000.log", make([]byte, 100), []string{
			"position: 0: bad batch: broker/batch: invalid batch length: length 0 < 49"}},
		{"partial index entry", "00000000000000000000.index", make([]byte, 10), []string{
			"offset: 0 position: 0", "2 bytes at the end are a partial entry"}},
		{"index going backwards", "00000000000000000005.index", []byte{0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 20}, []string{
			"offset: 7 position: 9", "offset: 6 position: 20", "entry 1 does not grow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.file)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, "log", "dump", path)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			mustContain(t, "dump", out, tc.wants...)
			if want := "runnel: " + path + ": stopped at the problem shown above\n"; errOut != want {
				t.Errorf("stderr %q, want %q", errOut, want)
			}
		})
	}
}

func TestLogDumpFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, _, errOut := runCLI(t, "log", "dump", filepath.Join(dir, "missing.log"), filepath.Join(dir, "topics.json"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := "runnel: 2 of 2 files could not be dumped:\n" +
		"  " + filepath.Join(dir, "missing.log") + ": cannot open: no such file or directory\n" +
		"  " + filepath.Join(dir, "topics.json") + ": not a file runnel can dump: expected a name ending in .log, .index or .timeindex\n"
	if errOut != want {
		t.Errorf("stderr\n%s\nwant\n%s", errOut, want)
	}
}

func flip(b []byte, at int) []byte {
	c := append([]byte(nil), b...)
	c[at] ^= 0x01
	return c
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []byte
		max  int
		want string
	}{
		{nil, 10, "null"},
		{[]byte{}, 10, `""`},
		{[]byte("hello"), 10, "hello"},
		{[]byte("hello world"), 5, "hello... (11 bytes)"},
		{[]byte("héllo"), 2, "h... (6 bytes)"},
		{[]byte{0, 1, 0xff}, 10, `"\x00\x01\xff"`},
		{[]byte("a\nb"), 10, `"a\nb"`},
	} {
		if got := truncate(tc.in, tc.max); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
