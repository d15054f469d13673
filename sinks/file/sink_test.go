package file

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		errs []string // each must appear; none means valid
	}{
		{name: "minimal", cfg: Config{Dir: "d"}},
		{name: "full", cfg: Config{Dir: "d", Prefix: "out.v2_x-1", Format: FormatCSV, Columns: []string{"a", "b"}, RollBytes: 1, RollRecords: 1}},
		{name: "no dir", cfg: Config{}, errs: []string{"file sink: dir: required"}},
		{name: "prefix slash", cfg: Config{Dir: "d", Prefix: "a/b"}, errs: []string{`file sink: prefix: "a/b"`}},
		{name: "prefix dot", cfg: Config{Dir: "d", Prefix: ".a"}, errs: []string{"file sink: prefix:"}},
		{name: "prefix long", cfg: Config{Dir: "d", Prefix: strings.Repeat("a", 65)}, errs: []string{"file sink: prefix:"}},
		{name: "format", cfg: Config{Dir: "d", Format: "parquet"}, errs: []string{`file sink: format: unknown format "parquet"`}},
		{name: "csv without columns", cfg: Config{Dir: "d", Format: FormatCSV}, errs: []string{"file sink: columns: at least one column"}},
		{name: "csv column twice", cfg: Config{Dir: "d", Format: FormatCSV, Columns: []string{"a", "a"}}, errs: []string{`file sink: columns: "a" is named twice`}},
		{name: "roll", cfg: Config{Dir: "d", RollBytes: -1, RollRecords: -2}, errs: []string{"file sink: roll_bytes: -1", "file sink: roll_records: -2"}},
		{name: "all at once", cfg: Config{Prefix: "/", Format: "x"}, errs: []string{"dir:", "prefix:", "format:"}},
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

func TestWriteCommit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out", "deeper") // created by OpenTask
	s := newSink(t, Config{Dir: dir})
	if s.Delivery() != connect.ExactlyOnce {
		t.Fatal("the file sink must be exactly-once")
	}
	if p := openTask(t, s, 0); p != nil {
		t.Fatalf("positions of a new task: %v, want nil", p)
	}
	write(t, s, 0, rec("/in/a", 0, `{"n":1}`), rec("/in/a", 1, `{"n":2}`))
	write(t, s, 0, rec("/in/a", 2, `{"n":3}`))
	equalStrings(t, ls(t, dir), []string{".part-0-0000000001.jsonl.inprogress"})
	if all, _ := ReadCommitted(dir, "part"); len(all) != 0 {
		t.Fatalf("committed before Commit: %v", all)
	}

	pos1 := engine.Positions{{Stream: "/in/a"}: 3}
	commitOK(t, s, connect.Checkpoint{0: pos1})
	want1 := partName("part", 0, 1, pos1, "jsonl")
	equalStrings(t, ls(t, dir), []string{want1})
	if got := readFile(t, filepath.Join(dir, want1)); got != "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n" {
		t.Fatalf("content %q", got)
	}

	write(t, s, 0, rec("/in/a", 3, `{"n":4}`))
	equalStrings(t, ls(t, dir), []string{".part-0-0000000002.jsonl.inprogress", want1})
	pos2 := engine.Positions{{Stream: "/in/a"}: 4, {Stream: "/in/b", Partition: 3}: 7}
	commitOK(t, s, connect.Checkpoint{0: pos2})
	want2 := partName("part", 0, 2, pos2, "jsonl")
	equalStrings(t, committed(t, dir, "part", 0), []string{want1, want2})
	if got := readFile(t, filepath.Join(dir, want2)); got != "{\"n\":4}\n" {
		t.Fatalf("content %q", got)
	}
	for _, tc := range []struct {
		name string
		want engine.Positions
	}{{want1, pos1}, {want2, pos2}} {
		p, err := DecodePositions(dir, filepath.Join(dir, tc.name))
		requireNoError(t, err)
		equalPositions(t, p, tc.want)
	}
}

// TestTokenGolden pins the name format: changing it breaks recovery of
// existing directories.
func TestTokenGolden(t *testing.T) {
	t.Parallel()
	pos := engine.Positions{{Stream: "b"}: 300, {Stream: "a", Partition: -1}: 0, {Stream: "a", Partition: 2}: 5}
	// count 3 | len 1 "a" partition -1 next 0 | len 1 "a" 2 5 | len 1 "b" 0 300;
	// the base32hex below was checked with Python's base64.b32hexencode.
	enc := encodePositions(pos)
	if got, want := string(enc), "\x03\x01a\x01\x00\x01a\x04\x0a\x01b\x00\xd8\x04"; got != want {
		t.Fatalf("encoding %x, want %x", got, want)
	}
	if got, want := partName("part", 12, 34, pos, "jsonl"), "part-12-0000000034-p0c0m208005gg82g1c80dg10.jsonl"; got != want {
		t.Fatalf("name %s, want %s", got, want)
	}
	if got := partName("part", 0, 1, engine.Positions{}, "csv"); got != "part-0-0000000001-p00.csv" {
		t.Fatalf("name of empty positions %s", got)
	}
}

func TestPositionsRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir, Prefix: "out"})
	cp := connect.Checkpoint{}
	for id := range connect.TaskID(3) {
		openTask(t, s, id)
		write(t, s, id, rec("topic", int64(id), "x"))
		cp[id] = engine.Positions{{Stream: "topic", Partition: id}: int64(id) + 1, {Stream: "other", Partition: 9}: 100 * int64(id)}
	}
	cp[3] = nil // not open
	requireErrorContains(t, s.Commit(context.Background(), cp), "task 3 is not open")
	delete(cp, 3)
	commitOK(t, s, cp)
	requireNoError(t, s.Close(context.Background()))

	s2 := newSink(t, Config{Dir: dir, Prefix: "out"})
	for id, want := range cp {
		equalPositions(t, openTask(t, s2, id), want)
		seq, p, err := LastCommit(dir, "out", id)
		requireNoError(t, err)
		equalPositions(t, p, want)
		if seq != 1 {
			t.Fatalf("task %d: seq %d, want 1", id, seq)
		}
	}
	if p := openTask(t, s2, 7); p != nil {
		t.Fatalf("positions of a task never committed: %v", p)
	}
	// A sink with another prefix in the same directory sees nothing.
	s3 := newSink(t, Config{Dir: dir, Prefix: "out-0"})
	if p := openTask(t, s3, 0); p != nil {
		t.Fatalf("prefix out-0 sees positions %v of prefix out", p)
	}
	write(t, s3, 0, rec("t", 0, "y"))
	commitOK(t, s3, connect.Checkpoint{0: {{Stream: "t"}: 1}})
	equalPositions(t, openTask(t, s2, 0), cp[0])
	if got := committed(t, dir, "out", 0); len(got) != 1 {
		t.Fatalf("prefix out, task 0: %v", got)
	}
}

func TestLongPositionsSidecar(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir})
	openTask(t, s, 5)
	pos := engine.Positions{}
	for i := range 20 {
		pos[engine.Input{Stream: "/var/log/some/rather/long/path/" + strings.Repeat("x", i) + ".log"}] = int64(i * 1000)
	}
	pos[engine.Input{Stream: "not utf-8 \xff\xfe"}] = 1
	write(t, s, 5, rec("in", 0, "a"))
	commitOK(t, s, connect.Checkpoint{5: pos})

	names := committed(t, dir, "part", 5)
	if len(names) != 1 {
		t.Fatalf("committed %v", names)
	}
	n := names[0]
	if len(n) > maxNameLen {
		t.Fatalf("name %s is %d bytes long", n, len(n))
	}
	hash := hashOf(encodePositions(pos))
	if want := "part-5-0000000001-h" + hash + ".jsonl"; n != want {
		t.Fatalf("name %s, want %s", n, want)
	}
	equalStrings(t, ls(t, filepath.Join(dir, positionsDir)), []string{hash + ".json"})
	var sc sidecarJSON
	requireNoError(t, json.Unmarshal([]byte(readFile(t, filepath.Join(dir, positionsDir, hash+".json"))), &sc))
	if len(sc.Positions) != len(pos) || sc.Positions[0].Stream != "/var/log/some/rather/long/path/.log" {
		t.Fatalf("sidecar positions %+v", sc.Positions)
	}

	s2 := newSink(t, Config{Dir: dir})
	equalPositions(t, openTask(t, s2, 5), pos)
	// The same positions once more, with no data: nothing to do.
	commitOK(t, s2, connect.Checkpoint{5: pos})
	equalStrings(t, ls(t, filepath.Join(dir, committedDir)), nil)
	// New positions with no data: a marker with a hashed token.
	pos[engine.Input{Stream: "in"}] = 1
	hash = hashOf(encodePositions(pos))
	commitOK(t, s2, connect.Checkpoint{5: pos})
	equalStrings(t, ls(t, filepath.Join(dir, committedDir)), []string{"part-5-0000000002-h" + hash})
	equalPositions(t, openTask(t, newSink(t, Config{Dir: dir}), 5), pos)

	// A corrupt sidecar is an error, not a silent restart from nothing.
	requireNoError(t, os.WriteFile(filepath.Join(dir, positionsDir, hash+".json"), []byte(`{"encoded":"00"}`), 0o644))
	_, err := newSink(t, Config{Dir: dir}).OpenTask(context.Background(), 5)
	requireErrorContains(t, err, hash, "corrupt")
	requireNoError(t, os.Remove(filepath.Join(dir, positionsDir, hash+".json")))
	_, err = newSink(t, Config{Dir: dir}).OpenTask(context.Background(), 5)
	requireErrorContains(t, err, "task 5, seq 2")
}

func TestCommitWithoutData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir})
	openTask(t, s, 1)
	openTask(t, s, 2)
	pos1 := engine.Positions{{Stream: "in"}: 10}
	write(t, s, 2, rec("in", 0, "x"))
	commitOK(t, s, connect.Checkpoint{1: pos1, 2: pos1})
	markers := filepath.Join(dir, committedDir)
	equalStrings(t, ls(t, markers), []string{name{prefix: "part", task: 1, seq: 1, token: "p" + b32.EncodeToString(encodePositions(pos1))}.marker()})
	if got := committed(t, dir, "part", 1); len(got) != 0 {
		t.Fatalf("part files for a commit without data: %v", got)
	}
	if fi, err := os.Stat(filepath.Join(markers, ls(t, markers)[0])); err != nil || fi.Size() != 0 {
		t.Fatalf("marker: %v, %v", fi, err)
	}
	equalPositions(t, openTask(t, newSink(t, Config{Dir: dir}), 1), pos1)

	// Another empty commit replaces the marker: a seq per commit. Task 2,
	// its positions unchanged and nothing written, is skipped.
	pos2 := engine.Positions{{Stream: "in"}: 20}
	commitOK(t, s, connect.Checkpoint{1: pos2, 2: pos1})
	if seq, _, _ := LastCommit(dir, "part", 2); seq != 1 {
		t.Fatalf("task 2 committed again (seq %d) with nothing new", seq)
	}
	m2 := name{prefix: "part", task: 1, seq: 2, token: "p" + b32.EncodeToString(encodePositions(pos2))}.marker()
	equalStrings(t, ls(t, markers), []string{m2})
	equalPositions(t, openTask(t, newSink(t, Config{Dir: dir}), 1), pos2)

	// Data after markers: the part file takes seq 3 and the marker goes.
	pos3 := engine.Positions{{Stream: "in"}: 30}
	write(t, s, 1, rec("in", 20, "y"))
	commitOK(t, s, connect.Checkpoint{1: pos3})
	equalStrings(t, committed(t, dir, "part", 1), []string{partName("part", 1, 3, pos3, "jsonl")})
	equalStrings(t, ls(t, markers), nil)
	equalPositions(t, openTask(t, newSink(t, Config{Dir: dir}), 1), pos3)

	// Older markers left by a crash are deleted by OpenTask.
	old := name{prefix: "part", task: 1, seq: 1, token: "p00"}.marker()
	requireNoError(t, os.WriteFile(filepath.Join(markers, old), nil, 0o644))
	equalPositions(t, openTask(t, newSink(t, Config{Dir: dir}), 1), pos3)
	equalStrings(t, ls(t, markers), nil)
	// A marker with the highest seq wins and stays; it holds no
	// positions (a reset's), which is none.
	newer := name{prefix: "part", task: 1, seq: 9, token: "p00"}.marker()
	requireNoError(t, os.WriteFile(filepath.Join(markers, newer), nil, 0o644))
	equalPositions(t, openTask(t, newSink(t, Config{Dir: dir}), 1), nil)
	equalStrings(t, ls(t, markers), []string{newer})
}

// TestDeletePositions: DeletePositions gives every task with positions a
// commit without any, so that OpenTask reports none; the part files stay,
// and the next commits take the following seqs.
func TestDeletePositions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir})
	pos := func(n int64) engine.Positions { return engine.Positions{{Stream: "in"}: n} }
	long := engine.Positions{}
	for i := range 20 {
		long[engine.Input{Stream: strings.Repeat("s", 20), Partition: int32(i)}] = 1000
	}
	openTask(t, s, 0)
	openTask(t, s, 1)
	openTask(t, s, 2)
	write(t, s, 0, rec("in", 0, "a"))
	write(t, s, 2, rec("in", 0, "c"))
	commitOK(t, s, connect.Checkpoint{0: pos(1), 1: pos(5), 2: long}) // task 1: a marker; task 2: a sidecar
	write(t, s, 0, rec("in", 1, "b"))
	commitOK(t, s, connect.Checkpoint{0: pos(2)})
	requireNoError(t, s.Close(context.Background()))

	r := newSink(t, Config{Dir: dir})
	stored, err := r.StoredPositions(context.Background())
	requireNoError(t, err)
	if len(stored) != 3 || !stored[0].Equal(pos(2)) || !stored[1].Equal(pos(5)) || !stored[2].Equal(long) {
		t.Fatalf("StoredPositions = %v", stored)
	}
	before := committedLines(t, dir)
	requireNoError(t, r.DeletePositions(context.Background()))
	stored, err = r.StoredPositions(context.Background())
	requireNoError(t, err)
	if len(stored) != 0 {
		t.Fatalf("after DeletePositions, StoredPositions = %v", stored)
	}
	none := "p" + b32.EncodeToString(encodePositions(engine.Positions{}))
	equalStrings(t, ls(t, filepath.Join(dir, committedDir)), []string{
		name{prefix: "part", task: 0, seq: 3, token: none}.marker(),
		name{prefix: "part", task: 1, seq: 2, token: none}.marker(),
		name{prefix: "part", task: 2, seq: 2, token: none}.marker(),
	})
	if got := committedLines(t, dir); !slices.Equal(got, before) {
		t.Fatalf("the output changed: %q, was %q", got, before)
	}
	// Nothing left to delete: nothing written.
	requireNoError(t, r.DeletePositions(context.Background()))
	if got := ls(t, filepath.Join(dir, committedDir)); len(got) != 3 {
		t.Fatalf("a second DeletePositions wrote markers: %q", got)
	}

	for id := range connect.TaskID(3) {
		equalPositions(t, openTask(t, r, id), nil)
	}
	if err := r.DeletePositions(context.Background()); err == nil {
		t.Fatal("DeletePositions with tasks open succeeded")
	}
	write(t, r, 0, rec("in", 0, "a"))
	commitOK(t, r, connect.Checkpoint{0: pos(1)})
	equalStrings(t, committed(t, dir, "part", 0), []string{
		partName("part", 0, 1, pos(1), "jsonl"), partName("part", 0, 2, pos(2), "jsonl"), partName("part", 0, 4, pos(1), "jsonl"),
	})
	equalPositions(t, openTask(t, newSink(t, Config{Dir: dir}), 0), pos(1))
}

// committedLines returns the lines of every committed part file of dir.
func committedLines(t testing.TB, dir string) []string {
	t.Helper()
	all, err := ReadCommitted(dir, "part")
	requireNoError(t, err)
	var out []string
	for _, id := range slices.Sorted(maps.Keys(all)) {
		for _, p := range all[id] {
			out = append(out, filepath.Base(p)+": "+readFile(t, p))
		}
	}
	return out
}

func TestStrayInProgressDeleted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir})
	openTask(t, s, 0)
	openTask(t, s, 1)
	pos := engine.Positions{{Stream: "in"}: 1}
	write(t, s, 0, rec("in", 0, "committed"))
	commitOK(t, s, connect.Checkpoint{0: pos})
	write(t, s, 0, rec("in", 1, "lost"))
	write(t, s, 1, rec("in", 0, "other task"))
	// Strays of an earlier crash, and files not the sink's.
	for _, n := range []string{".part-0-0000000007.jsonl.inprogress", ".part-0-0000000002.csv.inprogress", "notes.txt", ".part-x-0000000002.jsonl.inprogress"} {
		requireNoError(t, os.WriteFile(filepath.Join(dir, n), []byte("junk\n"), 0o644))
	}

	// A new owner of task 0 (s is not told: it is as good as dead).
	s2 := newSink(t, Config{Dir: dir})
	equalPositions(t, openTask(t, s2, 0), pos)
	equalStrings(t, ls(t, dir), []string{".part-1-0000000001.jsonl.inprogress", ".part-x-0000000002.jsonl.inprogress", "notes.txt", partName("part", 0, 1, pos, "jsonl")})
	if got := readFile(t, filepath.Join(dir, partName("part", 0, 1, pos, "jsonl"))); got != "committed\n" {
		t.Fatalf("content %q", got)
	}
	write(t, s2, 0, rec("in", 1, "again"))
	pos2 := engine.Positions{{Stream: "in"}: 2}
	commitOK(t, s2, connect.Checkpoint{0: pos2})
	equalStrings(t, committed(t, dir, "part", 0), []string{partName("part", 0, 1, pos, "jsonl"), partName("part", 0, 2, pos2, "jsonl")})
	if got := readFile(t, filepath.Join(dir, partName("part", 0, 2, pos2, "jsonl"))); got != "again\n" {
		t.Fatalf("content %q", got)
	}
}

// TestCrashBeforeRename: a sink that synced its in-progress file and died
// before the rename committed nothing: the next owner finds the previous
// commit's positions and only its data.
func TestCrashBeforeRename(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newSink(t, Config{Dir: dir})
	openTask(t, a, 0)
	pos1 := engine.Positions{{Stream: "in"}: 2}
	write(t, a, 0, rec("in", 0, "r0"), rec("in", 1, "r1"))
	commitOK(t, a, connect.Checkpoint{0: pos1})
	write(t, a, 0, rec("in", 2, "r2"), rec("in", 3, "r3"))
	// What Commit does before the rename: flush and fsync.
	a.mu.Lock()
	p := a.mu.tasks[0].cur
	requireNoError(t, p.w.Flush())
	requireNoError(t, p.f.Sync())
	a.mu.Unlock()
	if got := readFile(t, p.path); got != "r2\nr3\n" {
		t.Fatalf("in-progress content %q", got)
	}

	b := newSink(t, Config{Dir: dir})
	equalPositions(t, openTask(t, b, 0), pos1)
	var all []string
	for _, path := range committed(t, dir, "part", 0) {
		all = append(all, readFile(t, filepath.Join(dir, path)))
	}
	equalStrings(t, all, []string{"r0\nr1\n"})
	if _, err := os.Stat(p.path); !os.IsNotExist(err) {
		t.Fatalf("stray in-progress file still there: %v", err)
	}
}

func TestCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir, Format: FormatCSV, Columns: []string{"name", "n", "ok", "note", "nested"}})
	openTask(t, s, 0)
	write(t, s, 0,
		rec("in", 0, `{"name":"ann","n":1.50,"ok":true,"note":"hi, \"you\"","nested":{"a": [1, 2]}}`),
		rec("in", 1, `{"name":"bob","n":null,"extra":"ignored","nested":[ ]}`),
		rec("in", 2, `{"name":"multi\nline","n":-2e3,"ok":false}`),
	)
	err := s.Write(context.Background(), 0, []*connect.Record{rec("in", 3, `{"name":"fine"}`), rec("in", 4, `[1]`)})
	requireErrorContains(t, err, "task 0", "in[0] offset 4", "not a JSON object")
	requireErrorContains(t, s.Write(context.Background(), 0, []*connect.Record{rec("in", 5, `null`)}), "offset 5", "not a JSON object")
	pos := engine.Positions{{Stream: "in"}: 3}
	commitOK(t, s, connect.Checkpoint{0: pos})
	got := readFile(t, filepath.Join(dir, partName("part", 0, 1, pos, "csv")))
	want := "name,n,ok,note,nested\n" +
		"ann,1.50,true,\"hi, \"\"you\"\"\",\"{\"\"a\"\":[1,2]}\"\n" +
		"bob,,,,[]\n" +
		"\"multi\nline\",-2e3,false,,\n"
	if got != want {
		t.Fatalf("content\n%s\nwant\n%s", got, want)
	}
	// Each part file has its header.
	write(t, s, 0, rec("in", 3, `{"name":"cat"}`))
	pos2 := engine.Positions{{Stream: "in"}: 4}
	commitOK(t, s, connect.Checkpoint{0: pos2})
	if got := readFile(t, filepath.Join(dir, partName("part", 0, 2, pos2, "csv"))); got != "name,n,ok,note,nested\ncat,,,,\n" {
		t.Fatalf("second part %q", got)
	}
}

func TestJSONLNewline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir})
	openTask(t, s, 4)
	write(t, s, 4, rec("in", 0, "good"))
	err := s.Write(context.Background(), 4, []*connect.Record{rec("in", 1, "fine"), rec("in", 2, "bad\nvalue")})
	requireErrorContains(t, err, "task 4", "in[0] offset 2", "newline")
	pos := engine.Positions{{Stream: "in"}: 1}
	commitOK(t, s, connect.Checkpoint{4: pos})
	if got := readFile(t, filepath.Join(dir, partName("part", 4, 1, pos, "jsonl"))); got != "good\n" {
		t.Fatalf("content %q: a failed Write must write none of its records", got)
	}
}

func TestWantsCommit(t *testing.T) {
	t.Parallel()
	t.Run("records", func(t *testing.T) {
		t.Parallel()
		s := newSink(t, Config{Dir: t.TempDir(), RollRecords: 3})
		openTask(t, s, 0)
		openTask(t, s, 1)
		write(t, s, 0, rec("in", 0, "a"), rec("in", 1, "b"))
		write(t, s, 1, rec("in", 0, "a"), rec("in", 1, "b"))
		if s.WantsCommit() {
			t.Fatal("WantsCommit at 2 records of 3")
		}
		write(t, s, 1, rec("in", 2, "c"))
		if !s.WantsCommit() {
			t.Fatal("no WantsCommit at 3 records of 3")
		}
		commitOK(t, s, connect.Checkpoint{1: {{Stream: "in"}: 3}})
		if s.WantsCommit() {
			t.Fatal("WantsCommit after the commit")
		}
	})
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		s := newSink(t, Config{Dir: t.TempDir(), Format: FormatCSV, Columns: []string{"a"}, RollBytes: 10})
		openTask(t, s, 0)
		write(t, s, 0, rec("in", 0, `{"a":"xyz"}`)) // "a\nxyz\n": 6 bytes, the header counts
		if s.WantsCommit() {
			t.Fatal("WantsCommit at 6 bytes of 10")
		}
		write(t, s, 0, rec("in", 1, `{"a":"uvw"}`))
		if !s.WantsCommit() {
			t.Fatal("no WantsCommit at 10 bytes of 10")
		}
		requireNoError(t, s.CloseTask(context.Background(), 0))
		if s.WantsCommit() {
			t.Fatal("WantsCommit after CloseTask")
		}
	})
	t.Run("no limits", func(t *testing.T) {
		t.Parallel()
		s := newSink(t, Config{Dir: t.TempDir()})
		openTask(t, s, 0)
		write(t, s, 0, rec("in", 0, strings.Repeat("x", 1<<20)))
		if s.WantsCommit() {
			t.Fatal("WantsCommit without limits")
		}
	})
}

func TestCloseTask(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir})
	openTask(t, s, 0)
	write(t, s, 0, rec("in", 0, "x"))
	requireNoError(t, s.CloseTask(context.Background(), 0))
	equalStrings(t, ls(t, dir), nil)
	requireErrorContains(t, s.Write(context.Background(), 0, []*connect.Record{rec("in", 0, "x")}), "task 0 is not open")
	requireNoError(t, s.CloseTask(context.Background(), 0)) // not open: nothing to do

	// Reopening a task drops what the sink had in progress for it.
	openTask(t, s, 0)
	write(t, s, 0, rec("in", 0, "x"))
	openTask(t, s, 0)
	equalStrings(t, ls(t, dir), nil)

	write(t, s, 0, rec("in", 0, "y"))
	requireNoError(t, s.Close(context.Background()))
	requireNoError(t, s.Close(context.Background()))
	equalStrings(t, ls(t, dir), nil)
	for name, err := range map[string]error{
		"OpenTask":  func() error { _, err := s.OpenTask(context.Background(), 0); return err }(),
		"Write":     s.Write(context.Background(), 0, nil),
		"Commit":    s.Commit(context.Background(), connect.Checkpoint{0: nil}),
		"CloseTask": s.CloseTask(context.Background(), 0),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := s.OpenTask(context.Background(), -1); err == nil {
		t.Error("OpenTask of a negative task succeeded")
	}
}

// TestCommitFailure: a Commit that fails leaves its tasks in doubt until
// OpenTask reads the disk again.
func TestCommitFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newSink(t, Config{Dir: dir})
	openTask(t, s, 0)
	openTask(t, s, 1)
	pos := engine.Positions{{Stream: "in"}: 1}
	write(t, s, 0, rec("in", 0, "a"))
	write(t, s, 1, rec("in", 0, "b"))
	s.mu.Lock()
	requireNoError(t, os.Remove(s.mu.tasks[1].cur.path)) // the rename of task 1 will fail
	s.mu.Unlock()
	err := s.Commit(context.Background(), connect.Checkpoint{0: pos, 1: pos})
	requireErrorContains(t, err, "task 1")
	requireErrorContains(t, s.Write(context.Background(), 1, []*connect.Record{rec("in", 1, "c")}), "in doubt")
	requireErrorContains(t, s.Commit(context.Background(), connect.Checkpoint{0: pos}), "in doubt")

	// Task 0 was renamed before task 1 failed: it is committed.
	equalPositions(t, openTask(t, s, 0), pos)
	if p := openTask(t, s, 1); p != nil {
		t.Fatalf("task 1 positions %v, want none", p)
	}
	write(t, s, 1, rec("in", 0, "b"))
	commitOK(t, s, connect.Checkpoint{1: pos})
	equalStrings(t, committed(t, dir, "part", 1), []string{partName("part", 1, 1, pos, "jsonl")})
}

func TestReadCommittedMissingDir(t *testing.T) {
	t.Parallel()
	all, err := ReadCommitted(filepath.Join(t.TempDir(), "nope"), "part")
	requireNoError(t, err)
	if len(all) != 0 {
		t.Fatalf("got %v", all)
	}
	seq, pos, err := LastCommit(filepath.Join(t.TempDir(), "nope"), "part", 0)
	if err != nil || seq != 0 || pos != nil {
		t.Fatalf("LastCommit: %d, %v, %v", seq, pos, err)
	}
	if _, err := DecodePositions(t.TempDir(), "notes.txt"); err == nil {
		t.Fatal("DecodePositions of a name not the sink's succeeded")
	}
}

func TestParseName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want name
		ok   bool
	}{
		{"part-0-0000000001-p00.jsonl", name{"part", 0, 1, "p00", "jsonl"}, true},
		{"my-out.v1-12-0000000034-p0c0m.csv", name{"my-out.v1", 12, 34, "p0c0m", "csv"}, true},
		{"part-3-12345678901-h0123456789abcdef0123456789abcdef", name{"part", 3, 12345678901, "h0123456789abcdef0123456789abcdef", ""}, true},
		{".part-7-0000000002.jsonl.inprogress", name{"part", 7, 2, "", "jsonl"}, true},
		{"part-0-0000000001-p00.txt", name{}, false},               // unknown extension
		{"part-0-0000000001-pzz.jsonl", name{}, false},             // not base32hex
		{"part-0-0000000001-habc.jsonl", name{}, false},            // short hash
		{"part-0-0000000001-x00.jsonl", name{}, false},             // unknown token kind
		{"part-00-0000000001-p00.jsonl", name{}, false},            // task not canonical
		{"part-0-001-p00.jsonl", name{}, false},                    // short seq
		{"part-9999999999-0000000001-p00.jsonl", name{}, false},    // task out of range
		{"-0-0000000001-p00.jsonl", name{}, false},                 // no prefix
		{".part-7-0000000002.jsonl", name{}, false},                // hidden, not in progress
		{".part-7-0000000002-p00.jsonl.inprogress", name{}, false}, // token in progress
		{"0-0000000001-p00", name{}, false},
	} {
		got, err := parseName(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseName(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && tc.want.token != "" {
			back := got.marker()
			if got.ext != "" {
				back = got.part()
			}
			if back != tc.in && tc.want.seq < 1e10 {
				t.Errorf("%q formats back as %q", tc.in, back)
			}
		}
	}
}

func TestDecodePositionsErrors(t *testing.T) {
	t.Parallel()
	for _, b := range []string{
		"",                                  // no count
		"\x01",                              // count, no entry
		"\x05\x01a\x00\x00",                 // count too large
		"\x01\x05a\x00\x00",                 // stream longer than the input
		"\x01\x01a\x00\x00x",                // trailing byte
		"\x02\x01a\x00\x00\x01a\x00\x02",    // input twice
		"\x01\x01a\x80\x80\x80\x80\x20\x00", // partition out of int32 range
	} {
		if p, err := decodePositions([]byte(b)); err == nil {
			t.Errorf("decodePositions(%x) = %v, want an error", b, p)
		}
	}
}

func FuzzDecodePositions(f *testing.F) {
	f.Add(encodePositions(engine.Positions{}))
	f.Add(encodePositions(engine.Positions{{Stream: "a"}: 1, {Stream: "b", Partition: -3}: -1 << 40}))
	f.Add([]byte("\x01\x01a\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePositions(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something decoding to the same.
		enc := encodePositions(p)
		q, err := decodePositions(enc)
		if err != nil {
			t.Fatalf("re-encoding of %v does not decode: %v", p, err)
		}
		if !q.Equal(p) {
			t.Fatalf("%v re-decodes as %v", p, q)
		}
		tok := "p" + b32.EncodeToString(enc)
		if !validToken(tok) {
			t.Fatalf("token %q not valid", tok)
		}
		r, err := decodeToken("", tok)
		if err != nil || !r.Equal(p) {
			t.Fatalf("token %q decodes as %v, %v", tok, r, err)
		}
	})
}
