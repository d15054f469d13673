package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/engine"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		errs []string // each must appear; none means valid
	}{
		{name: "minimal", cfg: Config{Paths: []string{"x"}}},
		{name: "full", cfg: Config{Paths: []string{"a/*.csv", "b"}, Format: FormatCSV, CSVHeader: boolp(false),
			Follow: true, PollInterval: time.Second, MaxBatch: 10, OffsetsFile: "o.json"}},
		{name: "no paths", cfg: Config{}, errs: []string{"file source: paths: at least one path or glob is required"}},
		{name: "empty path", cfg: Config{Paths: []string{""}}, errs: []string{"file source: paths: entry 0 is empty"}},
		{name: "bad glob", cfg: Config{Paths: []string{"a/[x"}}, errs: []string{"file source: paths: \"a/[x\": syntax error in pattern"}},
		{name: "format", cfg: Config{Paths: []string{"x"}, Format: "xml"}, errs: []string{`file source: format: unknown format "xml"`}},
		{name: "poll interval", cfg: Config{Paths: []string{"x"}, Follow: true, PollInterval: -1}, errs: []string{"file source: poll_interval: -1ns must not be negative"}},
		{name: "max batch", cfg: Config{Paths: []string{"x"}, MaxBatch: -3}, errs: []string{"file source: max_batch: -3 must not be negative"}},
		{name: "offsets dir", cfg: Config{Paths: []string{"x"}, OffsetsFile: "dir/"}, errs: []string{"file source: offsets_file:"}},
		{name: "all at once", cfg: Config{Format: "x", MaxBatch: -1}, errs: []string{"paths:", "format:", "max_batch:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.errs) == 0 {
				requireNoError(t, err)
				return
			}
			requireErrorContains(t, err, tc.errs...)
			if _, nerr := New(tc.cfg); nerr == nil || nerr.Error() != err.Error() {
				t.Fatalf("New: %v, want the Validate error", nerr)
			}
		})
	}
}

func TestLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, "a.log"), "one\ntwo\r\n\nlast")
	before := time.Now().UnixMilli()
	s := open(t, Config{Paths: []string{path}}, nil)
	recs := readAll(t, s)
	equalStrings(t, values(recs), []string{"one", "two", "", "last"})
	wantPos := [][2]int64{{0, 4}, {4, 9}, {9, 10}, {10, 14}}
	for i, r := range recs {
		if r.Key != nil {
			t.Errorf("record %d: key %q, want nil", i, r.Key)
		}
		if r.Value == nil {
			t.Errorf("record %d: nil value", i)
		}
		want := engine.Pos{Input: engine.Input{Stream: path, Partition: 0}, Offset: wantPos[i][0], Next: wantPos[i][1]}
		if r.Pos != want {
			t.Errorf("record %d: pos %+v, want %+v", i, r.Pos, want)
		}
		if h, ok := r.Header(HeaderFile); !ok || string(h) != path || len(r.Headers) != 1 {
			t.Errorf("record %d: headers %v, want one %s=%s", i, r.Headers, HeaderFile, path)
		}
		if r.Time < before || r.Time > time.Now().UnixMilli() {
			t.Errorf("record %d: time %d not the read time", i, r.Time)
		}
	}
}

func TestJSONL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, "a.jsonl"), "{\"a\": 1}\n\n   \r\n[1,2]\r\n\"s\"\n")
	s := open(t, Config{Paths: []string{path}, Format: FormatJSONL}, nil)
	recs := readAll(t, s)
	equalStrings(t, values(recs), []string{`{"a": 1}`, `[1,2]`, `"s"`})
	if recs[1].Pos.Offset != 15 || recs[1].Pos.Next != 22 {
		t.Fatalf("second record at %+v, want offset 15 next 22", recs[1].Pos)
	}

	bad := writeFile(t, filepath.Join(dir, "bad.jsonl"), "{}\n{nope}\n{}\n")
	s = open(t, Config{Paths: []string{bad}, Format: FormatJSONL}, nil)
	bs, err := s.Poll(context.Background())
	requireNoError(t, err) // the good line comes first
	equalStrings(t, values(records(t, bs)), []string{"{}"})
	_, err = s.Poll(context.Background())
	requireErrorContains(t, err, bad, "offset 3", "invalid JSON")
	_, err2 := s.Poll(context.Background())
	if err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("second Poll: %v, want the same error again", err2)
	}
}

func TestCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	content := "\ufeffname,note,n\r\nann,\"hi, there\",1\n\nbob,\"say \"\"x\"\"\",<2>\n"
	path := writeFile(t, filepath.Join(dir, "a.csv"), content)

	s := open(t, Config{Paths: []string{path}, Format: FormatCSV}, nil)
	recs := readAll(t, s)
	equalStrings(t, values(recs), []string{
		`{"name":"ann","note":"hi, there","n":"1"}`,
		`{"name":"bob","note":"say \"x\"","n":"<2>"}`,
	})
	if recs[0].Pos.Offset != int64(len("\ufeffname,note,n\r\n")) {
		t.Fatalf("first row at offset %d", recs[0].Pos.Offset)
	}
	if last := recs[len(recs)-1]; last.Pos.Next != int64(len(content)) {
		t.Fatalf("last row ends at %d, want %d", last.Pos.Next, len(content))
	}

	t.Run("no header", func(t *testing.T) {
		s := open(t, Config{Paths: []string{path}, Format: FormatCSV, CSVHeader: boolp(false)}, nil)
		equalStrings(t, values(readAll(t, s)), []string{
			`["name","note","n"]`, `["ann","hi, there","1"]`, `["bob","say \"x\"","<2>"]`,
		})
	})
	t.Run("resume past the header", func(t *testing.T) {
		a := &connecttest.Assignments{Pos: engine.Positions{{Stream: path}: recs[1].Pos.Offset}}
		s := open(t, Config{Paths: []string{path}, Format: FormatCSV}, a)
		equalStrings(t, values(readAll(t, s)), []string{`{"name":"bob","note":"say \"x\"","n":"<2>"}`})
	})
	for _, tc := range []struct{ name, content, want string }{
		{"field count", "a,b\n1,2\n1,2,3\n", "offset 8: CSV row has 3 fields, the header 2"},
		{"quoted newline", "a,b\n1,\"x\ny\"\n", "offset 4: CSV:"},
		{"duplicate column", "a,a\n1,2\n", `offset 0: CSV header names column "a" twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(t.TempDir(), "bad.csv"), tc.content)
			s := open(t, Config{Paths: []string{p}, Format: FormatCSV}, nil)
			var err error
			for err == nil {
				_, err = s.Poll(context.Background())
			}
			requireErrorContains(t, err, p, tc.want)
		})
	}
}

func TestGlobAndDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "logs", "b.log"), "b1\nb2\n")
	writeFile(t, filepath.Join(dir, "logs", "a.log"), "a1\n")
	writeFile(t, filepath.Join(dir, "logs", "sub", "ignored.log"), "sub\n") // not recursive
	writeFile(t, filepath.Join(dir, "other", "x.txt"), "x1\n")
	writeFile(t, filepath.Join(dir, "other", "y.log"), "y1\n")
	requireNoError(t, os.Symlink(filepath.Join(dir, "other", "x.txt"), filepath.Join(dir, "logs", "link.log")))

	s := open(t, Config{Paths: []string{
		filepath.Join(dir, "logs"),        // a directory
		filepath.Join(dir, "other/*.txt"), // a glob
		filepath.Join(dir, "logs/a.log"),  // named twice
		filepath.Join(dir, "*/y.log"),     // a glob over directories
		filepath.Join(dir, "nothing*"),    // matching nothing
	}}, nil)
	recs := readAll(t, s)
	equalStrings(t, values(recs), []string{"a1", "b1", "b2", "x1", "x1", "y1"})
	if got, want := recs[3].Pos.Stream, filepath.Join(dir, "logs", "link.log"); got != want {
		t.Fatalf("identity of the link: %s, want %s", got, want)
	}
}

func TestRelativePathIdentity(t *testing.T) {
	// Not parallel: changes the working directory.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "d", "a.log"), "x\n")
	t.Chdir(dir)
	s := open(t, Config{Paths: []string{"./d/../d//a.log"}}, nil)
	recs := readAll(t, s)
	if want := filepath.Join(abs(t, "."), "d", "a.log"); recs[0].Pos.Stream != want {
		t.Fatalf("identity %q, want %q", recs[0].Pos.Stream, want)
	}
}

func TestResumeAtAssignedPositions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "a.log"), "a1\na2\na3\n")
	b := writeFile(t, filepath.Join(dir, "b.log"), "b1\nb2\n")
	c := writeFile(t, filepath.Join(dir, "c.log"), "c1\n")
	assign := &connecttest.Assignments{Pos: engine.Positions{
		{Stream: a}:                3,  // after a1
		{Stream: b}:                6,  // at its end
		{Stream: "/elsewhere.log"}: 99, // an input no longer matched
	}}
	s := open(t, Config{Paths: []string{filepath.Join(dir, "*.log")}}, assign)
	if len(assign.Calls()) != 0 {
		t.Fatal("Assigned called before the first Poll")
	}
	recs := readAll(t, s)
	equalStrings(t, values(recs), []string{"a2", "a3", "c1"})
	if len(assign.Calls()) != 1 || len(assign.Calls()[0]) != 1 || assign.Calls()[0][0] != 0 {
		t.Fatalf("Assigned calls: %v, want one for task 0", assign.Calls())
	}
	if recs[0].Pos.Offset != 3 {
		t.Fatalf("first record at %d, want 3", recs[0].Pos.Offset)
	}
	if fi, _ := os.Stat(a); recs[1].Pos.Next != fi.Size() {
		t.Fatalf("last record of a ends at %d, want the file size %d", recs[1].Pos.Next, fi.Size())
	}
	if recs[2].Pos.Stream != c || recs[2].Pos.Offset != 0 {
		t.Fatalf("c read from %+v, want its start", recs[2].Pos)
	}
}

func TestAssignedError(t *testing.T) {
	t.Parallel()
	path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), "x\n")
	boom := errors.New("boom")
	a := &connecttest.Assignments{Err: boom}
	s := open(t, Config{Paths: []string{path}}, a)
	if _, err := s.Poll(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Poll: %v, want boom", err)
	}
	a.SetErr(nil)
	equalStrings(t, values(readAll(t, s)), []string{"x"}) // retried
}

func TestPartialLastLine(t *testing.T) {
	t.Parallel()
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), "one\ntwo")
		s := open(t, Config{Paths: []string{path}}, nil)
		recs := readAll(t, s)
		equalStrings(t, values(recs), []string{"one", "two"})
		if recs[1].Pos.Offset != 4 || recs[1].Pos.Next != 7 {
			t.Fatalf("last line at %+v, want 4..7", recs[1].Pos)
		}
	})
	t.Run("follow", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), "one\ntw")
		s := open(t, Config{Paths: []string{path}, Follow: true, PollInterval: 5 * time.Millisecond}, nil)
		equalStrings(t, values(pollUntil(t, s, 1)), []string{"one"})
		expectNothing(t, s)
		appendFile(t, path, "o")
		expectNothing(t, s)
		appendFile(t, path, "\r\nthree\n")
		recs := pollUntil(t, s, 2)
		equalStrings(t, values(recs), []string{"two", "three"})
		if recs[0].Pos.Offset != 4 || recs[0].Pos.Next != 9 || recs[1].Pos.Next != 15 {
			t.Fatalf("positions %+v %+v", recs[0].Pos, recs[1].Pos)
		}
	})
}

func TestFollowAppendsAndNewFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "a.log"), "a1\n")
	s := open(t, Config{Paths: []string{filepath.Join(dir, "*.log")}, Follow: true, PollInterval: 5 * time.Millisecond}, nil)
	equalStrings(t, values(pollUntil(t, s, 1)), []string{"a1"})

	appendFile(t, a, "a2\n")
	equalStrings(t, values(pollUntil(t, s, 1)), []string{"a2"})

	b := writeFile(t, filepath.Join(dir, "b.log"), "b1\n")
	writeFile(t, filepath.Join(dir, "b.txt"), "not matched\n")
	recs := pollUntil(t, s, 1)
	equalStrings(t, values(recs), []string{"b1"})
	if recs[0].Pos.Stream != b {
		t.Fatalf("record from %s, want %s", recs[0].Pos.Stream, b)
	}
	appendFile(t, a, "a3\n")
	appendFile(t, b, "b2\n")
	got := values(pollUntil(t, s, 2))
	if strings.Join(got, ",") != "a3,b2" && strings.Join(got, ",") != "b2,a3" {
		t.Fatalf("got %q, want a3 and b2", got)
	}
	expectNothing(t, s)
}

func TestFollowLiteralPathAppearsLater(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "later.log")
	if _, err := New(Config{Paths: []string{path}}); err != nil {
		t.Fatal(err)
	}
	bounded, _ := New(Config{Paths: []string{path}})
	requireErrorContains(t, bounded.Open(context.Background(), &connecttest.Assignments{}), "later.log", "no such file")

	s := open(t, Config{Paths: []string{path}, Follow: true, PollInterval: 5 * time.Millisecond}, nil)
	expectNothing(t, s)
	writeFile(t, path, "hello\n")
	equalStrings(t, values(pollUntil(t, s, 1)), []string{"hello"})
}

func TestFollowRoundRobin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var big strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&big, "a%d\n", i)
	}
	writeFile(t, filepath.Join(dir, "a.log"), big.String())
	writeFile(t, filepath.Join(dir, "b.log"), "b0\nb1\n")
	s := open(t, Config{Paths: []string{dir}, Follow: true, PollInterval: 5 * time.Millisecond, MaxBatch: 10}, nil)
	bs, err := s.Poll(context.Background())
	requireNoError(t, err)
	recs := records(t, bs)
	if len(recs) != 10 {
		t.Fatalf("first batch has %d records, want MaxBatch 10", len(recs))
	}
	var fromB int
	for _, r := range recs {
		if strings.HasPrefix(string(r.Value), "b") {
			fromB++
		}
	}
	if fromB != 2 {
		t.Fatalf("first batch %q: %d records of b.log, want both: the busy file must not starve it", values(recs), fromB)
	}
	all := append(recs, pollUntil(t, s, 992)...)
	seen := map[string]bool{}
	for _, v := range values(all) {
		if seen[v] {
			t.Fatalf("%s read twice", v)
		}
		seen[v] = true
	}
	expectNothing(t, s)
}

func TestMaxBatch(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), b.String())
	s := open(t, Config{Paths: []string{path}, MaxBatch: 10}, nil)
	var sizes []int
	for {
		bs, err := s.Poll(context.Background())
		if errors.Is(err, connect.ErrEndOfInput) {
			break
		}
		requireNoError(t, err)
		if len(bs) != 1 {
			t.Fatalf("%d batches, want 1", len(bs))
		}
		sizes = append(sizes, len(bs[0].Records))
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Fatalf("batch sizes %v, want [10 10 5]", sizes)
	}
}

func TestTruncated(t *testing.T) {
	t.Parallel()
	t.Run("resume position beyond the end", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), "short\n")
		s := open(t, Config{Paths: []string{path}}, &connecttest.Assignments{Pos: engine.Positions{{Stream: path}: 100}})
		_, err := s.Poll(context.Background())
		requireErrorContains(t, err, path, "truncated below position 100")
	})
	t.Run("follow", func(t *testing.T) {
		t.Parallel()
		path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), "one\ntwo\n")
		s := open(t, Config{Paths: []string{path}, Follow: true, PollInterval: 5 * time.Millisecond}, nil)
		pollUntil(t, s, 2)
		requireNoError(t, os.Truncate(path, 3))
		requireErrorContains(t, pollError(t, s), path, "truncated below position 8")
	})
}

func TestEndOfInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, Config{Paths: []string{filepath.Join(dir, "*.log")}}, nil)
	for range 3 {
		if _, err := s.Poll(context.Background()); !errors.Is(err, connect.ErrEndOfInput) {
			t.Fatalf("Poll of nothing: %v, want ErrEndOfInput", err)
		}
	}

	a := writeFile(t, filepath.Join(dir, "a.log"), "a\n")
	s = open(t, Config{Paths: []string{filepath.Join(dir, "*.log")}}, nil)
	// A file created after Open is found by the last glob.
	writeFile(t, filepath.Join(dir, "b.log"), "b\n")
	bs, err := s.Poll(context.Background())
	requireNoError(t, err)
	equalStrings(t, values(records(t, bs)), []string{"a", "b"})
	// Growth after the end is not read: the source ended.
	appendFile(t, a, "more\n")
	if _, err := s.Poll(context.Background()); !errors.Is(err, connect.ErrEndOfInput) {
		t.Fatalf("Poll: %v, want ErrEndOfInput", err)
	}
	if lag := s.Lag()[0]; lag != 0 {
		t.Fatalf("lag %d after the end, want 0", lag)
	}
}

func TestOffsetsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "in", "a.log"), "a1\na2\na3\n")
	b := writeFile(t, filepath.Join(dir, "in", "b.log"), "b1\nb2\n")
	offsets := filepath.Join(dir, "in", "offsets.json") // in the watched directory: never read as input
	cfg := Config{Paths: []string{filepath.Join(dir, "in")}, OffsetsFile: offsets}

	s := open(t, cfg, nil)
	recs := readAll(t, s)
	equalStrings(t, values(recs), []string{"a1", "a2", "a3", "b1", "b2"})
	cp := connect.Checkpoint{0: {{Stream: a}: recs[1].Pos.Next, {Stream: b}: recs[3].Pos.Next}}
	requireNoError(t, s.Commit(context.Background(), cp))
	requireNoError(t, s.Commit(context.Background(), connect.Checkpoint{7: {{Stream: a}: 0}})) // other tasks: ignored
	if _, err := os.Stat(offsets + tmpSuffix); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	got, err := readOffsets(offsets)
	requireNoError(t, err)
	if !got.Equal(cp[0]) {
		t.Fatalf("stored %v, want %v", got, cp[0])
	}

	// A new source resumes there...
	s2 := open(t, cfg, nil)
	equalStrings(t, values(readAll(t, s2)), []string{"a3", "b2"})
	// ...unless the Assignments say otherwise.
	s3 := open(t, cfg, &connecttest.Assignments{Pos: engine.Positions{{Stream: a}: 0}})
	equalStrings(t, values(readAll(t, s3)), []string{"a1", "a2", "a3", "b2"})
	// Commit merges: inputs absent from the checkpoint keep their offsets.
	requireNoError(t, s3.Commit(context.Background(), connect.Checkpoint{0: {{Stream: a}: 9}}))
	got, err = readOffsets(offsets)
	requireNoError(t, err)
	if want := (engine.Positions{{Stream: a}: 9, {Stream: b}: recs[3].Pos.Next}); !got.Equal(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}

	t.Run("no offsets file", func(t *testing.T) {
		s := open(t, Config{Paths: []string{a}}, nil)
		readAll(t, s)
		requireNoError(t, s.Commit(context.Background(), cp))
		if entries, _ := os.ReadDir(filepath.Dir(a)); len(entries) != 3 {
			t.Fatalf("Commit without OffsetsFile wrote something: %v", entries)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		bad := writeFile(t, filepath.Join(t.TempDir(), "o.json"), "{nope")
		s, err := New(Config{Paths: []string{a}, OffsetsFile: bad})
		requireNoError(t, err)
		requireErrorContains(t, s.Open(context.Background(), &connecttest.Assignments{}), "offsets_file", bad)
	})
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), "")
	s := open(t, Config{Paths: []string{path}, Follow: true, PollInterval: time.Hour}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Poll(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll with a canceled ctx: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Poll(ctx) // nothing to read: waits for an hour
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Poll: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Poll ignored the cancellation")
	}
	// The source still works after a canceled Poll.
	appendFile(t, path, "x\n")
	s.lastScan = time.Time{} // no need to wait an hour for the next look
	equalStrings(t, values(pollUntil(t, s, 1)), []string{"x"})
}

func TestLongLine(t *testing.T) {
	t.Parallel()
	path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), "ok\n"+strings.Repeat("x", 100)+"\nshort\n")
	for _, follow := range []bool{false, true} {
		s := open(t, Config{Paths: []string{path}, Follow: follow}, nil)
		s.maxLine = 64
		bs, err := s.Poll(context.Background())
		requireNoError(t, err)
		equalStrings(t, values(records(t, bs)), []string{"ok"})
		_, err = s.Poll(context.Background())
		requireErrorContains(t, err, path, "offset 3", "line longer than 64 bytes")
	}
	// A line of exactly the limit is fine ("\r" counts, "\n" does not).
	exact := writeFile(t, filepath.Join(t.TempDir(), "b.log"), strings.Repeat("y", 63)+"\r\n"+strings.Repeat("z", 64))
	s := open(t, Config{Paths: []string{exact}}, nil)
	s.maxLine = 64
	if recs := readAll(t, s); len(recs) != 2 || len(recs[0].Value) != 63 || len(recs[1].Value) != 64 {
		t.Fatalf("got %q", values(recs))
	}
}

func TestLongLineDefaultLimit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 16 MiB")
	}
	big := strings.Repeat("x", MaxLineBytes)
	path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), big+"\n"+big+"x\n")
	s := open(t, Config{Paths: []string{path}, MaxBatch: 1}, nil)
	bs, err := s.Poll(context.Background())
	requireNoError(t, err)
	if recs := records(t, bs); len(recs) != 1 || len(recs[0].Value) != MaxLineBytes {
		t.Fatal("a line of MaxLineBytes was not read whole")
	}
	_, err = s.Poll(context.Background())
	requireErrorContains(t, err, path, fmt.Sprintf("offset %d", MaxLineBytes+1))
}

func TestLag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "a.log"), "0123456789\n") // 11 bytes
	writeFile(t, filepath.Join(dir, "b.log"), "01234\n")           // 6 bytes
	s, err := New(Config{Paths: []string{dir}, Follow: true, PollInterval: 5 * time.Millisecond, MaxBatch: 1})
	requireNoError(t, err)
	if lag := s.Lag()[0]; lag != -1 {
		t.Fatalf("lag before Open %d, want -1", lag)
	}
	requireNoError(t, s.Open(context.Background(), &connecttest.Assignments{Pos: engine.Positions{{Stream: a}: 11}}))
	defer s.Close(context.Background())
	if lag := s.Lag()[0]; lag != 17 {
		t.Fatalf("lag after Open %d, want 17 (positions are known on the first Poll)", lag)
	}
	pollUntil(t, s, 1)
	if lag := s.Lag()[0]; lag != 0 {
		t.Fatalf("lag %d after reading everything, want 0", lag)
	}
	appendFile(t, a, "abc\n")
	requireNoError(t, s.rescan()) // what the next Poll does first: size the files
	s.updateLag()
	if lag := s.Lag()[0]; lag != 4 {
		t.Fatalf("lag %d after an append of 4 bytes, want 4", lag)
	}
}

func TestFollowReplacedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, "a.log"), "one\ntwo\n")
	s := open(t, Config{Paths: []string{path}, Follow: true, PollInterval: 5 * time.Millisecond}, nil)
	equalStrings(t, values(pollUntil(t, s, 2)), []string{"one", "two"})

	// The old file gets a last unterminated line, then a longer file is
	// renamed over it: the old one is drained, the new one read on from
	// the position reached.
	appendFile(t, path, "end")
	tmp := writeFile(t, filepath.Join(dir, "new.tmp"), "one\ntwo\nENDthree\n")
	requireNoError(t, os.Rename(tmp, path))
	recs := pollUntil(t, s, 2)
	equalStrings(t, values(recs), []string{"end", "three"})
	if recs[1].Pos.Offset != 11 {
		t.Fatalf("new file read from %d, want 11", recs[1].Pos.Offset)
	}

	// Deleted and created again, shorter: truncated.
	requireNoError(t, os.Remove(path))
	expectNothing(t, s)
	writeFile(t, path, "x\n")
	requireErrorContains(t, pollError(t, s), path, "truncated below position 17")
}

func TestUsage(t *testing.T) {
	t.Parallel()
	path := writeFile(t, filepath.Join(t.TempDir(), "a.log"), "x\n")
	s, err := New(Config{Paths: []string{path}})
	requireNoError(t, err)
	if _, err := s.Poll(context.Background()); !errors.Is(err, ErrNotOpen) {
		t.Fatalf("Poll before Open: %v", err)
	}
	requireErrorContains(t, s.Open(context.Background(), nil), "Assignments")
	requireNoError(t, s.Open(context.Background(), &connecttest.Assignments{}))
	requireErrorContains(t, s.Open(context.Background(), &connecttest.Assignments{}), "already open")
	bs, err := s.Poll(context.Background())
	requireNoError(t, err)
	equalStrings(t, values(records(t, bs)), []string{"x"})
	requireNoError(t, s.Close(context.Background()))
	requireNoError(t, s.Close(context.Background()))
	if _, err := s.Poll(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
}

func TestCloseReleasesFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 3 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("%d.log", i)), "x\n")
	}
	s := open(t, Config{Paths: []string{dir}, Follow: true, PollInterval: 5 * time.Millisecond}, nil)
	pollUntil(t, s, 3)
	for _, f := range s.files {
		if f.f == nil {
			t.Fatalf("%s not open while following", f.path)
		}
	}
	requireNoError(t, s.Close(context.Background()))
	for _, f := range s.files {
		if f.f != nil {
			t.Fatalf("%s still open after Close", f.path)
		}
	}
}
