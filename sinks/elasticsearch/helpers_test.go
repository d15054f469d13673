package elasticsearch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/esemu"
)

// envES names an Elasticsearch to run the tests against instead of the
// emulator ("http://localhost:9200", "https://elastic:pw@host:9200").
const envES = "RUNNEL_TEST_ES"

// cluster is the Elasticsearch a test writes to.
type cluster struct {
	t   testing.TB
	url string
	// emu is the emulator, nil on a real cluster: fault injection and
	// introspection need it.
	emu *esemu.Server
	// prefix starts every index name of the test: tests share a real
	// cluster.
	prefix  string
	indexes []string // deleted at the end, on a real cluster
}

// newCluster returns RUNNEL_TEST_ES when set, else an emulator served for
// the test.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	c := &cluster{t: t, prefix: testPrefix(t)}
	if u := os.Getenv(envES); u != "" {
		c.url = u
		t.Cleanup(c.deleteIndexes)
		return c
	}
	c.emu = esemu.New()
	ts := httptest.NewServer(c.emu)
	t.Cleanup(ts.Close)
	c.url = ts.URL
	return c
}

// emulator returns the emulator, skipping the test on a real cluster.
func (c *cluster) emulator() *esemu.Server {
	c.t.Helper()
	if c.emu == nil {
		c.t.Skipf("needs the emulator's fault injection or introspection; %s is set", envES)
	}
	return c.emu
}

// testPrefix returns a name unique to the test, valid in index names.
func testPrefix(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	n := b.String()
	if len(n) > 60 {
		n = n[:60]
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	return "rt-" + n + "-" + hex.EncodeToString(rnd[:])
}

// index returns the name of an index of the test.
func (c *cluster) index(name string) string {
	n := c.prefix + "-" + name
	c.indexes = append(c.indexes, n)
	return n
}

// config returns a Config for the cluster, with fast retries, an offsets
// index and a consumer of the test's own.
func (c *cluster) config() Config {
	return Config{
		Addresses:       []string{c.url},
		OffsetsIndex:    c.index("offsets"),
		Consumer:        "consumer-" + c.prefix,
		RetryBackoff:    time.Millisecond,
		MaxRetryBackoff: 5 * time.Millisecond,
	}
}

func (c *cluster) deleteIndexes() {
	for _, ix := range c.indexes {
		c.do("DELETE", "/"+ix+"?ignore_unavailable=true", nil, nil)
	}
}

// do sends a request to the cluster, decodes a JSON answer into out, and
// returns the status.
func (c *cluster) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		requireNoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	u, err := url.Parse(c.url)
	requireNoError(c.t, err)
	req, err := http.NewRequest(method, strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")+path, rd)
	requireNoError(c.t, err)
	if u.User != nil {
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	requireNoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	requireNoError(c.t, err)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// doc is a document as GET returns it.
type doc struct {
	Found   bool            `json:"found"`
	Version int64           `json:"_version"`
	Source  json.RawMessage `json:"_source"`
}

// get returns a document (realtime, no refresh needed).
func (c *cluster) get(index, id string) doc {
	c.t.Helper()
	var d doc
	status := c.do("GET", "/"+index+"/_doc/"+url.PathEscape(id), nil, &d)
	if status != 200 && status != 404 {
		c.t.Fatalf("GET %s/%s: status %d", index, id, status)
	}
	return d
}

// requireDoc fails unless the document exists with that source (compared
// as JSON) and, if version > 0, that version.
func (c *cluster) requireDoc(index, id, source string, version int64) {
	c.t.Helper()
	d := c.get(index, id)
	if !d.Found {
		c.t.Fatalf("document %s/%s not found, want %s", index, id, source)
	}
	if !jsonEqual(d.Source, []byte(source)) {
		c.t.Fatalf("document %s/%s is %s, want %s", index, id, d.Source, source)
	}
	if version > 0 && d.Version != version {
		c.t.Fatalf("document %s/%s has version %d, want %d", index, id, d.Version, version)
	}
}

func (c *cluster) requireNoDoc(index, id string) {
	c.t.Helper()
	if d := c.get(index, id); d.Found {
		c.t.Fatalf("document %s/%s is %s, want none", index, id, d.Source)
	}
}

// ids refreshes index and returns the ids of its documents.
func (c *cluster) ids(index string) []string {
	c.t.Helper()
	c.do("POST", "/"+index+"/_refresh", nil, nil)
	var res struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	status := c.do("POST", "/"+index+"/_search", map[string]any{"size": 1000, "sort": []any{"_doc"}}, &res)
	if status == 404 {
		return nil
	}
	var ids []string
	for _, h := range res.Hits.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

// count refreshes index and returns its number of documents.
func (c *cluster) count(index string) int {
	c.t.Helper()
	c.do("POST", "/"+index+"/_refresh", nil, nil)
	var res struct {
		Count int `json:"count"`
	}
	if c.do("POST", "/"+index+"/_count", nil, &res) == 404 {
		return 0
	}
	return res.Count
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return bytes.Equal(xs, ys)
}

func requireNoError(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func requireErrorContains(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", subs)
	}
	for _, sub := range subs {
		if !strings.Contains(err.Error(), sub) {
			t.Fatalf("error %q does not contain %q", err, sub)
		}
	}
}

// newSink returns a Sink for cfg, closed at the end of the test.
func newSink(t testing.TB, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg)
	requireNoError(t, err)
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// rec is a record of topic[partition] at offset; an empty value is a
// tombstone.
func rec(topic string, partition int32, offset int64, key, value string) *connect.Record {
	r := &connect.Record{
		Key: []byte(key),
		Pos: engine.Pos{Input: engine.Input{Stream: topic, Partition: partition}, Offset: offset, Next: offset + 1},
	}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

// cp is the checkpoint of task 0 at the positions of recs (the Next of
// the last record of each input).
func cp(recs ...*connect.Record) connect.Checkpoint {
	p := engine.Positions{}
	for _, r := range recs {
		p[r.Pos.Input] = r.Pos.Next
	}
	return connect.Checkpoint{0: p}
}

func openTask(t testing.TB, s *Sink, id connect.TaskID) engine.Positions {
	t.Helper()
	p, err := s.OpenTask(context.Background(), id)
	requireNoError(t, err)
	return p
}

func write(t testing.TB, s *Sink, id connect.TaskID, recs ...*connect.Record) {
	t.Helper()
	requireNoError(t, s.Write(context.Background(), id, recs))
}

// commit prepares and commits cp, failing on any error or rejection.
func commit(t testing.TB, s *Sink, cp connect.Checkpoint) {
	t.Helper()
	requireNoError(t, s.Prepare(context.Background(), cp))
	requireNoError(t, s.Commit(context.Background(), cp))
}

// rejected returns the rejections of err, a *connect.RejectedError.
func rejected(t testing.TB, err error) []connect.Rejection {
	t.Helper()
	var rej *connect.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("error %v, want a *connect.RejectedError", err)
	}
	return rej.Rejected
}
