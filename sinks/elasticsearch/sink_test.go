package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

func TestIndexPerTopic(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	s := newSink(t, c.config()) // index: {topic}
	orders, users := c.prefix+"-Orders", c.prefix+"-users"
	c.index("orders")
	c.index("users")
	openTask(t, s, 0)
	a, b := rec(orders, 0, 0, "k1", `{"a":1}`), rec(users, 0, 0, "k1", `{"b":2}`)
	write(t, s, 0, a, b)
	commit(t, s, cp(a, b))
	c.requireDoc(strings.ToLower(orders), "k1", `{"a":1}`, 1)
	c.requireDoc(users, "k1", `{"b":2}`, 1)
}

func TestFixedIndex(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("fixed")
	s := newSink(t, cfg)
	openTask(t, s, 0)
	a, b := rec("t1", 0, 0, "k1", `{"a":1}`), rec("t2", 3, 7, "k2", `{"b":2}`)
	write(t, s, 0, a, b)
	commit(t, s, cp(a, b))
	c.requireDoc(cfg.Index, "k1", `{"a":1}`, 1)
	c.requireDoc(cfg.Index, "k2", `{"b":2}`, 8)
	if n := c.count(cfg.Index); n != 2 {
		t.Fatalf("%d documents, want 2", n)
	}
}

func TestIndexFunc(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	eu, us := c.index("eu"), c.index("us")
	cfg.Index = "ignored"
	cfg.IndexFunc = func(r *connect.Record) (string, error) {
		region, _, _ := strings.Cut(string(r.Key), ":")
		switch region {
		case "eu":
			return eu, nil
		case "us":
			return us, nil
		case "bad":
			return "Not Valid", nil
		}
		return "", fmt.Errorf("no region in key %q", r.Key)
	}
	s := newSink(t, cfg)
	openTask(t, s, 0)
	recs := []*connect.Record{
		rec("t", 0, 0, "eu:1", `{"n":1}`),
		rec("t", 0, 1, "us:1", `{"n":2}`),
		rec("t", 0, 2, "xx:1", `{"n":3}`),
		rec("t", 0, 3, "bad:1", `{"n":4}`),
	}
	rej := rejected(t, s.Write(context.Background(), 0, recs))
	if len(rej) != 2 {
		t.Fatalf("rejected %d records, want 2: %v", len(rej), rej)
	}
	requireErrorContains(t, rej[0].Reason, `index: no region in key "xx:1"`)
	requireErrorContains(t, rej[1].Reason, `index "Not Valid": index name must be lower case`)
	if rej[0].Task != 0 || string(rej[0].Record.Key) != "xx:1" || rej[0].Record.Pos.Offset != 2 {
		t.Fatalf("rejection %+v: wrong record", rej[0])
	}
	commit(t, s, cp(recs...))
	c.requireDoc(eu, "eu:1", `{"n":1}`, 1)
	c.requireDoc(us, "us:1", `{"n":2}`, 2)
}

func TestIDPosition(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index, cfg.ID = c.index("log"), IDPosition
	s := newSink(t, cfg)
	openTask(t, s, 0)
	a := rec("clicks", 2, 3, "k", `{"n":1}`)
	b := rec("clicks", 2, 3, "k", `{"n":2}`) // a second output of the record at 3
	d := rec("clicks", 2, 4, "k", `{"n":3}`)
	tomb := rec("clicks", 2, 5, "k", "")
	nopos := &connect.Record{Key: []byte("k"), Value: []byte(`{"n":5}`)}
	rej := rejected(t, s.Write(context.Background(), 0, []*connect.Record{a, b, d, tomb, nopos}))
	if len(rej) != 2 {
		t.Fatalf("rejected %v, want the tombstone and the record without a position", rej)
	}
	requireErrorContains(t, rej[0].Reason, "tombstone")
	requireErrorContains(t, rej[1].Reason, "no source position")
	commit(t, s, cp(a, d, tomb))
	c.requireDoc(cfg.Index, "clicks-2-3", `{"n":1}`, 4)
	c.requireDoc(cfg.Index, "clicks-2-3-1", `{"n":2}`, 4)
	c.requireDoc(cfg.Index, "clicks-2-4", `{"n":3}`, 5)

	// A replay writes nothing new.
	s2 := newSink(t, cfg)
	openTask(t, s2, 0)
	write(t, s2, 0, a, b, d)
	commit(t, s2, cp(a, d, tomb))
	got := c.ids(cfg.Index)
	slices.Sort(got)
	if want := []string{"clicks-2-3", "clicks-2-3-1", "clicks-2-4"}; !slices.Equal(got, want) {
		t.Fatalf("documents %q, want %q", got, want)
	}
	c.requireDoc(cfg.Index, "clicks-2-3-1", `{"n":2}`, 4)
}

func TestDeleteOnTombstone(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	s := newSink(t, cfg)
	openTask(t, s, 0)
	recs := []*connect.Record{
		rec("t", 0, 0, "gone", `{"v":1}`),
		rec("t", 0, 1, "kept", `{"v":1}`),
		rec("t", 0, 2, "never", ""), // deleting what is not there
	}
	write(t, s, 0, recs...)
	commit(t, s, cp(recs...))
	tomb := rec("t", 0, 3, "gone", "")
	write(t, s, 0, tomb)
	commit(t, s, cp(tomb))
	c.requireNoDoc(cfg.Index, "gone")
	c.requireNoDoc(cfg.Index, "never")
	c.requireDoc(cfg.Index, "kept", `{"v":1}`, 2)
	// Replaying the older write does not bring the document back (within
	// index.gc_deletes).
	write(t, s, 0, recs[0])
	commit(t, s, cp(tomb))
	c.requireNoDoc(cfg.Index, "gone")

	no := false
	cfg.DeleteOnTombstone = &no
	s2 := newSink(t, cfg)
	openTask(t, s2, 0)
	rej := rejected(t, s2.Write(context.Background(), 0, []*connect.Record{rec("t", 0, 4, "kept", "")}))
	requireErrorContains(t, rej[0].Reason, "tombstone")
	c.requireDoc(cfg.Index, "kept", `{"v":1}`, 2)
}

func TestBulkSizing(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	emu := c.emulator()
	cfg := c.config()
	cfg.Index = c.index("sized")
	cfg.FlushBytes, cfg.FlushInterval, cfg.Workers = 2048, time.Hour, 1
	s := newSink(t, cfg)
	openTask(t, s, 0)
	var recs []*connect.Record
	for i := range 100 {
		recs = append(recs, rec("t", 0, int64(i), "k"+strconv.Itoa(i), fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", 180))))
	}
	before := emu.BulkRequests()
	write(t, s, 0, recs...)
	requireNoError(t, s.Prepare(context.Background(), cp(recs...)))
	// ~300 bytes an item, 6 or 7 a request.
	n := emu.BulkRequests() - before
	t.Logf("%d bulk requests", n)
	if n < 12 || n > 20 {
		t.Fatalf("%d bulk requests for 100 items of ~300 bytes with flush_bytes 2048, want about 16", n)
	}
	requireNoError(t, s.Commit(context.Background(), cp(recs...)))
	if docs := emu.Docs(cfg.Index); len(docs) != 100 {
		t.Fatalf("%d documents, want 100", len(docs))
	}
}

func TestReplayIsIdempotent(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	a := newSink(t, cfg)
	if p := openTask(t, a, 0); p != nil {
		t.Fatalf("new task opened at %v, want nil", p)
	}
	v1, v2 := rec("t", 0, 5, "k", `{"v":1}`), rec("t", 0, 9, "k", `{"v":2}`)
	write(t, a, 0, v1, v2)
	commit(t, a, cp(v2))
	c.requireDoc(cfg.Index, "k", `{"v":2}`, 10)

	// Another Sink resumes at the committed position, and is replayed
	// older records anyway: the document does not go back.
	b := newSink(t, cfg)
	want := engine.Positions{{Stream: "t"}: 10}
	if p := openTask(t, b, 0); !p.Equal(want) {
		t.Fatalf("opened at %v, want %v", p, want)
	}
	write(t, b, 0, v1)
	commit(t, b, cp(v2))
	c.requireDoc(cfg.Index, "k", `{"v":2}`, 10)
	write(t, b, 0, v2, v1) // in any order
	commit(t, b, cp(v2))
	c.requireDoc(cfg.Index, "k", `{"v":2}`, 10)

	v3 := rec("t", 0, 12, "k", `{"v":3}`)
	write(t, b, 0, v3)
	commit(t, b, cp(v3))
	c.requireDoc(cfg.Index, "k", `{"v":3}`, 13)
}

// A crash between the documents and the positions: the next owner writes
// the same records again.
func TestCrashBeforeCommit(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	a := newSink(t, cfg)
	openTask(t, a, 0)
	first := rec("t", 0, 0, "k0", `{"v":0}`)
	write(t, a, 0, first)
	commit(t, a, cp(first))
	var recs []*connect.Record
	for i := 1; i <= 20; i++ {
		recs = append(recs, rec("t", 0, int64(i), "k"+strconv.Itoa(i%7), fmt.Sprintf(`{"v":%d}`, i)))
	}
	write(t, a, 0, recs...)
	requireNoError(t, a.Prepare(context.Background(), cp(recs...)))
	// a dies here.

	b := newSink(t, cfg)
	if p := openTask(t, b, 0); !p.Equal(cp(first)[0]) {
		t.Fatalf("opened at %v, want %v", p, cp(first)[0])
	}
	write(t, b, 0, recs...)
	commit(t, b, cp(recs...))
	for k := range 7 {
		last := 0
		for i := 1; i <= 20; i++ {
			if i%7 == k {
				last = i
			}
		}
		c.requireDoc(cfg.Index, "k"+strconv.Itoa(k), fmt.Sprintf(`{"v":%d}`, last), int64(last+1))
	}
}

func TestSamePosition(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	s := newSink(t, cfg)
	openTask(t, s, 0)
	// Three outputs of the record at 5, two of key k: the last wins.
	recs := []*connect.Record{
		rec("t", 0, 5, "k", `{"v":"a"}`),
		rec("t", 0, 5, "j", `{"v":"b"}`),
		rec("t", 0, 5, "k", `{"v":"c"}`),
	}
	write(t, s, 0, recs...)
	commit(t, s, cp(recs...))
	c.requireDoc(cfg.Index, "k", `{"v":"c"}`, 6)
	c.requireDoc(cfg.Index, "j", `{"v":"b"}`, 6)

	// An output without a position (a processing-time window) takes the
	// task's highest version and wins over that version.
	tick := &connect.Record{Key: []byte("k"), Value: []byte(`{"v":"tick"}`)}
	write(t, s, 0, tick)
	commit(t, s, cp(recs...))
	c.requireDoc(cfg.Index, "k", `{"v":"tick"}`, 6)
	// A later record wins over it.
	later := rec("t", 0, 6, "k", `{"v":"later"}`)
	write(t, s, 0, later)
	commit(t, s, cp(later))
	c.requireDoc(cfg.Index, "k", `{"v":"later"}`, 7)

	// Many outputs of one position (the map path of supersede).
	var many []*connect.Record
	for i := range 50 {
		many = append(many, rec("t", 0, 7, "m"+strconv.Itoa(i%5), fmt.Sprintf(`{"i":%d}`, i)))
	}
	write(t, s, 0, many...)
	commit(t, s, cp(many...))
	for k := range 5 {
		c.requireDoc(cfg.Index, "m"+strconv.Itoa(k), fmt.Sprintf(`{"i":%d}`, 45+k), 8)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, status int }{{2, 429}, {1, 503}, {3, 502}} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			emu := c.emulator()
			cfg := c.config()
			cfg.Index = c.index("kv")
			s := newSink(t, cfg)
			openTask(t, s, 0)
			var recs []*connect.Record
			for i := range 10 {
				recs = append(recs, rec("t", 0, int64(i), "k"+strconv.Itoa(i), fmt.Sprintf(`{"i":%d}`, i)))
			}
			write(t, s, 0, recs...)
			emu.FailNext(tc.n, tc.status)
			before := emu.BulkRequests()
			commit(t, s, cp(recs...))
			if n := emu.BulkRequests() - before; n < tc.n+2 {
				t.Fatalf("%d bulk requests, want at least %d: %d failed, then the documents and the offsets", n, tc.n+2, tc.n)
			}
			docs := emu.Docs(cfg.Index)
			if len(docs) != 10 {
				t.Fatalf("%d documents, want 10", len(docs))
			}
			for i := range 10 {
				if d := docs["k"+strconv.Itoa(i)]; d.Version != int64(i+1) || d.SeqNo > 9 {
					t.Fatalf("document k%d: %+v, want version %d, written once", i, d, i+1)
				}
			}
		})
	}
}

// A request failing after every retry leaves the task in doubt until it
// is opened again.
func TestRequestFailure(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	emu := c.emulator()
	cfg := c.config()
	cfg.Index, cfg.MaxRetries = c.index("kv"), 2
	s := newSink(t, cfg)
	openTask(t, s, 0)
	r := rec("t", 0, 0, "k", `{"v":1}`)
	write(t, s, 0, r)
	emu.FailNext(3, 503)
	err := s.Prepare(context.Background(), cp(r))
	requireErrorContains(t, err, "task 0: bulk request", "503")
	if errors.As(err, new(*connect.RejectedError)) {
		t.Fatalf("Prepare returned a RejectedError for a failed request: %v", err)
	}
	requireErrorContains(t, s.Commit(context.Background(), cp(r)), "503")
	requireErrorContains(t, s.Write(context.Background(), 0, []*connect.Record{r}), "503")

	if p := openTask(t, s, 0); p != nil {
		t.Fatalf("opened at %v, want nil: nothing was committed", p)
	}
	write(t, s, 0, r)
	commit(t, s, cp(r))
	c.requireDoc(cfg.Index, "k", `{"v":1}`, 1)
}

// itemRejecter makes the first item of the next n bulk responses that
// touch index a 429 es_rejected_execution_exception, as a cluster whose
// write queue is full answers. The document was written: its retry is a
// version conflict.
type itemRejecter struct {
	next  http.RoundTripper
	index string
	n     atomic.Int64
}

func (ir *itemRejecter) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := ir.next.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/_bulk") || res.StatusCode != 200 {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	var resp map[string]any
	if json.Unmarshal(body, &resp) == nil && bytes.Contains(body, []byte(`"`+ir.index+`"`)) && ir.n.Add(-1) >= 0 {
		items := resp["items"].([]any)
		for action := range items[0].(map[string]any) {
			items[0] = map[string]any{action: map[string]any{
				"_index": ir.index,
				"status": 429,
				"error": map[string]any{
					"type":   "es_rejected_execution_exception",
					"reason": "rejected execution of coordinating operation [coordinating_and_primary_bytes=0]",
				},
			}}
		}
		resp["errors"] = true
		body, _ = json.Marshal(resp)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Del("Content-Length")
	return res, nil
}

func TestItemRetries(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index, cfg.MaxRetries, cfg.Workers = c.index("kv"), 3, 1
	ir := &itemRejecter{next: http.DefaultTransport, index: cfg.Index}
	cfg.Transport = ir
	s := newSink(t, cfg)
	openTask(t, s, 0)
	a, b := rec("t", 0, 0, "a", `{"v":1}`), rec("t", 0, 1, "b", `{"v":2}`)
	write(t, s, 0, a, b)
	ir.n.Store(3) // the first request and two retries
	commit(t, s, cp(a, b))
	if n := ir.n.Load(); n != -1 {
		t.Fatalf("%d rejections left, want all 3 used, and one request more", n)
	}
	c.requireDoc(cfg.Index, "a", `{"v":1}`, 1)
	c.requireDoc(cfg.Index, "b", `{"v":2}`, 2)

	// A document refused more than max_retries times fails Prepare, and
	// the task until it is opened again.
	d := rec("t", 0, 2, "d", `{"v":3}`)
	write(t, s, 0, d)
	ir.n.Store(1 << 30)
	err := s.Prepare(context.Background(), cp(d))
	requireErrorContains(t, err, `document "d"`, "still refused after 3 retries", "es_rejected_execution_exception")
	requireErrorContains(t, s.Commit(context.Background(), cp(d)), "still refused")
}

func TestRejectedByCluster(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("typed")
	s := newSink(t, cfg)
	openTask(t, s, 0)
	first := rec("t", 0, 0, "k1", `{"n":1}`) // maps n as a long
	write(t, s, 0, first)
	commit(t, s, cp(first))

	recs := []*connect.Record{
		rec("t", 0, 1, "k2", `"a string"`),
		rec("t", 0, 2, "k3", `{"n":"abc"}`),
		rec("t", 0, 3, "k4", `{"n":2}`),
		rec("t", 0, 4, "k5", `{"n":`),
		rec("t", 0, 5, "k6", "[1,2]"),
		rec("t", 0, 6, "k7", "{\n  \"n\": 7\n}"), // compacted
		rec("t", 0, 7, "", `{"n":8}`),
		rec("t", 0, 8, "bad\x00id", `{"n":9}`),
		rec("t", 0, 9, strings.Repeat("x", 513), `{"n":10}`),
		rec("t", 0, 10, "k11", `{"n":11,}`), // refused by the cluster
		rec("t", 0, 11, "k12", "{\n\"n\": 12,\n}"),
	}
	rej := rejected(t, s.Write(context.Background(), 0, recs))
	var got []string
	for _, x := range rej {
		got = append(got, fmt.Sprintf("%s: %v", posString(x.Record.Pos), x.Reason))
	}
	want := []string{
		"t[0] offset 1: value is not a JSON object",
		"t[0] offset 4: value is not a JSON object",
		"t[0] offset 5: value is not a JSON object",
		"t[0] offset 7: record has no key to be the document _id",
		"t[0] offset 8: document _id must be at most 512 bytes of printable UTF-8",
		"t[0] offset 9: document _id must be at most 512 bytes of printable UTF-8",
		"t[0] offset 11: value is not a JSON object",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Write rejected:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	rej = rejected(t, s.Prepare(context.Background(), cp(recs...)))
	if len(rej) != 2 {
		t.Fatalf("Prepare rejected %v, want k3 and k11", rej)
	}
	slices.SortFunc(rej, func(a, b connect.Rejection) int { return int(a.Record.Pos.Offset - b.Record.Pos.Offset) })
	if string(rej[1].Record.Key) != "k11" || !strings.Contains(rej[1].Reason.Error(), "parsing_exception") {
		t.Fatalf("rejection %+v, want k11 with a parsing exception", rej[1])
	}
	t.Logf("reason: %v", rej[1].Reason)
	x := rej[0]
	if x.Task != 0 || string(x.Record.Key) != "k3" || string(x.Record.Value) != `{"n":"abc"}` || x.Record.Pos.Offset != 2 {
		t.Fatalf("rejection %+v, want the record of k3", x)
	}
	var ie *ItemError
	if !errors.As(x.Reason, &ie) || ie.Status != 400 || !strings.HasSuffix(ie.Type, "parsing_exception") {
		t.Fatalf("reason %#v, want a 400 document_parsing_exception", x.Reason)
	}
	requireErrorContains(t, x.Reason, "parsing_exception: ", "[n]")
	t.Logf("reason: %v", x.Reason)
	// The rejections were reported: Commit goes ahead.
	requireNoError(t, s.Commit(context.Background(), cp(recs...)))
	c.requireNoDoc(cfg.Index, "k3")
	c.requireDoc(cfg.Index, "k4", `{"n":2}`, 4)
	c.requireDoc(cfg.Index, "k7", `{"n":7}`, 7)
	if src := c.get(cfg.Index, "k7").Source; bytes.Contains(src, []byte("\n")) {
		t.Fatalf("document k7 is %q, want it compacted", src)
	}
}

func TestCommitWithoutPrepare(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("typed")
	s := newSink(t, cfg)
	openTask(t, s, 0)
	a := rec("t", 0, 0, "a", `{"n":1}`)
	write(t, s, 0, a)
	commit(t, s, cp(a))
	b := rec("t", 0, 1, "b", `{"n":"x"}`)
	write(t, s, 0, b)
	err := s.Commit(context.Background(), cp(b))
	requireErrorContains(t, err, "committing without Prepare: 1 records refused", `t[0] offset 1`)
	// Prepare reports them.
	rej := rejected(t, s.Prepare(context.Background(), cp(b)))
	if len(rej) != 1 || string(rej[0].Record.Key) != "b" {
		t.Fatalf("rejections %v, want b", rej)
	}
	if p := openTask(t, newSink(t, c.config()), 0); !p.Equal(cp(a)[0]) {
		t.Fatalf("committed %v, want %v", p, cp(a)[0])
	}
}

func TestFencing(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	a, b := newSink(t, cfg), newSink(t, cfg)
	openTask(t, a, 0)
	r1 := rec("t", 0, 0, "k", `{"v":1}`)
	write(t, a, 0, r1)
	commit(t, a, cp(r1))

	if p := openTask(t, b, 0); !p.Equal(cp(r1)[0]) {
		t.Fatalf("b opened at %v, want %v", p, cp(r1)[0])
	}
	r2 := rec("t", 0, 1, "k", `{"v":2}`)
	write(t, a, 0, r2) // a does not know yet
	requireNoError(t, a.Prepare(context.Background(), cp(r2)))
	err := a.Commit(context.Background(), cp(r2))
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("stale Commit returned %v, want ErrFenced", err)
	}
	if err := a.Write(context.Background(), 0, []*connect.Record{r2}); !errors.Is(err, ErrFenced) {
		t.Fatalf("stale Write returned %v, want ErrFenced", err)
	}
	// The stale worker's document landed: it is the one b writes too.
	c.requireDoc(cfg.Index, "k", `{"v":2}`, 2)

	r3 := rec("t", 0, 2, "k", `{"v":3}`)
	write(t, b, 0, r2, r3)
	commit(t, b, cp(r3))
	c.requireDoc(cfg.Index, "k", `{"v":3}`, 3)
	td := c.taskDoc(cfg, 0)
	if td.Generation != 2 || !decodePositions(td.Positions).Equal(cp(r3)[0]) {
		t.Fatalf("task document %+v, want generation 2 at b's positions %v", td, cp(r3)[0])
	}

	// a opens the task again: now b is fenced.
	if p := openTask(t, a, 0); !p.Equal(cp(r3)[0]) {
		t.Fatalf("a opened at %v, want %v", p, cp(r3)[0])
	}
	write(t, b, 0, r3)
	if err := b.Commit(context.Background(), cp(r3)); !errors.Is(err, ErrFenced) {
		t.Fatalf("b's Commit returned %v, want ErrFenced", err)
	}
}

func TestOffsetsReadAtStart(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	s := newSink(t, cfg)
	openTask(t, s, 0)
	openTask(t, s, 1)
	// Task 0 reads partition 0 of two topics; task 1 partition 1.
	r0, r1, r2 := rec("orders", 0, 41, "a", `{"v":1}`), rec("refunds", 0, 6, "b", `{"v":2}`), rec("orders", 1, 99, "c", `{"v":3}`)
	write(t, s, 0, r0, r1)
	write(t, s, 1, r2)
	check := connect.Checkpoint{
		0: {{Stream: "orders", Partition: 0}: 42, {Stream: "refunds", Partition: 0}: 7},
		1: {{Stream: "orders", Partition: 1}: 100},
	}
	commit(t, s, check)
	requireNoError(t, s.Close(context.Background()))

	s2 := newSink(t, cfg)
	for id, want := range check {
		if p := openTask(t, s2, id); !p.Equal(want) {
			t.Fatalf("task %d opened at %v, want %v", id, p, want)
		}
	}
	if p := openTask(t, s2, 2); p != nil {
		t.Fatalf("task 2 opened at %v, want nil", p)
	}
	for id, pos := range check {
		for in, next := range pos {
			pd := c.partitionDoc(cfg, in)
			want := PartitionDoc{Consumer: cfg.Consumer, Topic: in.Stream, Partition: in.Partition, NextOffset: next, Task: id, Generation: 1, UpdatedAt: pd.UpdatedAt}
			if pd != want || pd.UpdatedAt == "" {
				t.Fatalf("partition document of %v: %+v, want %+v", in, pd, want)
			}
		}
	}
	if td := c.taskDoc(cfg, 0); td.Consumer != cfg.Consumer || td.Task != 0 || td.Generation != 2 || td.Owner == "" ||
		!slices.Equal(td.Positions, []Position{{"orders", 0, 42}, {"refunds", 0, 7}}) {
		t.Fatalf("task document %+v", td)
	}
}

// taskDoc and partitionDoc read offsets documents with _mget: their ids
// hold slashes.
func (c *cluster) taskDoc(cfg Config, id connect.TaskID) TaskDoc {
	var d TaskDoc
	c.mgetOffsets(cfg, TaskDocID(cfg.Consumer, id), &d)
	return d
}

func (c *cluster) partitionDoc(cfg Config, in engine.Input) PartitionDoc {
	var d PartitionDoc
	c.mgetOffsets(cfg, PartitionDocID(cfg.Consumer, in), &d)
	return d
}

func (c *cluster) mgetOffsets(cfg Config, id string, out any) {
	c.t.Helper()
	var res struct {
		Docs []struct {
			Found  bool            `json:"found"`
			Source json.RawMessage `json:"_source"`
		} `json:"docs"`
	}
	if status := c.do("POST", "/"+cfg.OffsetsIndex+"/_mget", map[string]any{"ids": []string{id}}, &res); status != 200 {
		c.t.Fatalf("_mget %s: status %d", id, status)
	}
	if len(res.Docs) != 1 || !res.Docs[0].Found {
		c.t.Fatalf("offsets document %s not found", id)
	}
	requireNoError(c.t, json.Unmarshal(res.Docs[0].Source, out))
}

// A checkpoint without new records or positions writes nothing.
func TestIdleCommit(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	emu := c.emulator()
	cfg := c.config()
	cfg.Index = c.index("kv")
	s := newSink(t, cfg)
	openTask(t, s, 0)
	r := rec("t", 0, 0, "k", `{"v":1}`)
	write(t, s, 0, r)
	commit(t, s, cp(r))
	before := emu.BulkRequests()
	commit(t, s, cp(r))
	if n := emu.BulkRequests() - before; n != 0 {
		t.Fatalf("%d bulk requests for an idle checkpoint, want 0", n)
	}
	moved := connect.Checkpoint{0: {{Stream: "t"}: 5}} // filtered records
	commit(t, s, moved)
	if p := openTask(t, newSink(t, cfg), 0); !p.Equal(moved[0]) {
		t.Fatalf("opened at %v, want %v", p, moved[0])
	}
}

func TestTaskState(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	s := newSink(t, cfg)
	r := rec("t", 0, 0, "k", `{"v":1}`)
	requireErrorContains(t, s.Write(context.Background(), 0, []*connect.Record{r}), "task 0 is not open")
	requireErrorContains(t, s.Prepare(context.Background(), cp(r)), "task 0 is not open")
	requireErrorContains(t, s.Commit(context.Background(), cp(r)), "task 0 is not open")
	_, err := s.OpenTask(context.Background(), -1)
	requireErrorContains(t, err, "negative task")

	openTask(t, s, 0)
	write(t, s, 0, r)
	requireNoError(t, s.CloseTask(context.Background(), 0))
	requireErrorContains(t, s.Commit(context.Background(), cp(r)), "task 0 is not open")
	openTask(t, s, 0)
	requireNoError(t, s.Prepare(context.Background(), cp(r)))

	requireNoError(t, s.Close(context.Background()))
	requireNoError(t, s.Close(context.Background()))
	if err := s.Write(context.Background(), 0, []*connect.Record{r}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close returned %v, want ErrClosed", err)
	}
	if _, err := s.OpenTask(context.Background(), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("OpenTask after Close returned %v, want ErrClosed", err)
	}
}

// Tasks written from several goroutines, several requests in flight.
func TestConcurrentTasks(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index, cfg.Workers, cfg.FlushBytes = c.index("kv"), 4, 4096
	s := newSink(t, cfg)
	const tasks, rounds, perRound = 4, 5, 40
	for id := range tasks {
		openTask(t, s, connect.TaskID(id))
	}
	var wg sync.WaitGroup
	errs := make(chan error, tasks)
	for id := range tasks {
		wg.Go(func() {
			topic := "t" + strconv.Itoa(id)
			for round := range rounds {
				var recs []*connect.Record
				for i := range perRound {
					off := int64(round*perRound + i)
					recs = append(recs, rec(topic, int32(id), off, fmt.Sprintf("%s-%d", topic, off%30), fmt.Sprintf(`{"off":%d}`, off)))
				}
				ck := connect.Checkpoint{connect.TaskID(id): {recs[0].Pos.Input: recs[len(recs)-1].Pos.Next}}
				if err := s.Write(context.Background(), connect.TaskID(id), recs); err != nil {
					errs <- err
					return
				}
				if err := s.Prepare(context.Background(), ck); err != nil {
					errs <- err
					return
				}
				if err := s.Commit(context.Background(), ck); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		requireNoError(t, err)
	}
	if n := c.count(cfg.Index); n != tasks*30 {
		t.Fatalf("%d documents, want %d", n, tasks*30)
	}
	const last = rounds*perRound - 1
	for id := range tasks {
		for k := range 30 {
			off := last - (last-k)%30
			c.requireDoc(cfg.Index, fmt.Sprintf("t%d-%d", id, k), fmt.Sprintf(`{"off":%d}`, off), int64(off+1))
		}
	}
}

// Sinks opening one task at once: each open fences the ones before, and
// only the last can commit.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cfg := c.config()
	cfg.Index = c.index("kv")
	const n = maxOpenAttempts // each loses at most n-1 races
	sinks := make([]*Sink, n)
	for i := range sinks {
		sinks[i] = newSink(t, cfg)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range sinks {
		wg.Go(func() { _, errs[i] = s.OpenTask(context.Background(), 0) })
	}
	wg.Wait()
	for _, err := range errs {
		requireNoError(t, err)
	}
	if g := c.taskDoc(cfg, 0).Generation; g != n {
		t.Fatalf("generation %d after %d opens, want %d", g, n, n)
	}
	r := rec("t", 0, 0, "k", `{"v":1}`)
	committed := 0
	for _, s := range sinks {
		write(t, s, 0, r)
		requireNoError(t, s.Prepare(context.Background(), cp(r)))
		switch err := s.Commit(context.Background(), cp(r)); {
		case err == nil:
			committed++
		case !errors.Is(err, ErrFenced):
			t.Fatalf("Commit returned %v, want nil or ErrFenced", err)
		}
	}
	if committed != 1 {
		t.Fatalf("%d sinks committed, want 1", committed)
	}
}
