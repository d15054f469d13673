package pipelines_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/brokertest"
	"github.com/runnel-io/runnel/internal/esemu"
	"github.com/runnel-io/runnel/internal/pgtest"
)

// rejectYAML writes the same lines to a table and to an index; what each
// refuses goes to its dead-letter topic.
const rejectYAML = `broker: {bootstrap: ["${KAFKA}"], data_dir: "${DIR}/data"}
inputs:
  people: {file: {paths: ["${DIR}/people.jsonl"], format: jsonl}}
outputs:
  table:
    postgres: {url: "${PG_URL}", table: people}
  index:
    elasticsearch: {addresses: ["${ES_URL}"], index: people, id: position}
  pg-rejected: {topic: {topic: pg-rejected}}
  es-rejected: {topic: {topic: es-rejected}}
pipelines:
  to-table:
    from: people
    on_error: dead_letter
    dead_letter: pg-rejected
    steps: [{to: table}]
  to-index:
    from: people
    on_error: dead_letter
    dead_letter: es-rejected
    steps: [{to: index}]
`

// TestSinkRejectionsToDeadLetter: records a table or an index refuses go
// to the pipeline's dead-letter topic with the reason; the others land,
// and the pipeline goes on to the end of its input.
func TestSinkRejectionsToDeadLetter(t *testing.T) {
	addr := startBroker(t)
	url := pgtest.URL(t)
	db := pgtest.Conn(t, url)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE people (id int PRIMARY KEY, name varchar(5) NOT NULL, n numeric CHECK (n > 0))`); err != nil {
		t.Fatal(err)
	}
	es := esemu.New()
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	lines := []string{
		`{"id":1,"name":"ann","n":10}`,
		`{"id":2,"name":"toolong","n":5}`, // table: too long for varchar(5)
		`{"id":3,"name":"bob","n":"abc"}`, // table: not a number; index: n is a long
		`{"id":4,"name":"cy","n":-1}`,     // table: the check
		`{"id":5,"name":"dee","n":7}`,
		`{"id":6,"name":null,"n":3}`, // table: not null
		`42`,                         // table and index: not an object
	}
	if err := os.WriteFile(filepath.Join(dir, "people.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runYAML(t, dir, rejectYAML, map[string]string{"KAFKA": addr, "DIR": dir, "PG_URL": url, "ES_URL": srv.URL})

	rows, err := db.Query(ctx, "SELECT id FROM people ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if !slices.Equal(ids, []int{1, 5}) {
		t.Errorf("rows %v, want ids 1 and 5", ids)
	}
	checkDead(t, addr, "pg-rejected", map[string]string{
		lines[1]: "longer than 5", lines[2]: `"abc"`, lines[3]: "people_n_check", lines[5]: "null", lines[6]: "object",
	})

	if docs := es.Docs("people"); len(docs) != 5 {
		t.Errorf("%d documents, want 5", len(docs))
	}
	checkDead(t, addr, "es-rejected", map[string]string{lines[2]: "[n]", lines[6]: "object"})
}

// checkDead reads topic and checks it holds exactly the records of want,
// each once, with an error header containing want's text.
func checkDead(t *testing.T, addr, topic string, want map[string]string) {
	t.Helper()
	canon := func(s string) string {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%s: %q: %v", topic, s, err)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	byCanon := map[string]string{}
	for k, v := range want {
		byCanon[canon(k)] = v
	}
	want = byCanon
	got := readCommitted(t, addr, topic, len(want), 30*time.Second)
	// Nothing more: the topic (no transactions) ends after them.
	ends, err := kadm.NewClient(brokertest.Client(t, addr)).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
	if end != int64(len(want)) {
		t.Errorf("%s holds %d records, want %d", topic, end, len(want))
	}
	for _, r := range got {
		v := canon(string(r.Value))
		reason := ""
		for _, h := range r.Headers {
			if h.Key == engine.HeaderError {
				reason = string(h.Value)
			}
		}
		w, ok := want[v]
		switch {
		case !ok:
			t.Errorf("%s: %s is no refused record (or is there twice); reason %q", topic, v, reason)
		case !strings.Contains(strings.ToLower(reason), strings.ToLower(w)):
			t.Errorf("%s: %s: reason %q, want it to mention %q", topic, v, reason, w)
		}
		delete(want, v)
	}
	for v := range want {
		t.Errorf("%s: %s is missing", topic, v)
	}
}

// TestYAMLIndexExpression: an elasticsearch output's index_expression
// picks each record's index.
func TestYAMLIndexExpression(t *testing.T) {
	es := esemu.New()
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	var lines []string
	for i := range 10 {
		lines = append(lines, fmt.Sprintf(`{"id":%d,"n":%d}`, i, i))
	}
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := `broker: {data_dir: "${DIR}/data"}
inputs:
  in: {file: {paths: ["${DIR}/in.jsonl"], format: jsonl}}
outputs:
  search:
    elasticsearch: {addresses: ["${ES_URL}"], id: position, index_expression: 'value.n >= 7 ? "big" : "small-" + string(value.n % 2)'}
pipelines:
  p: {from: in, steps: [{to: search}]}
`
	runYAML(t, dir, yaml, map[string]string{"DIR": dir, "ES_URL": srv.URL})
	for index, want := range map[string][]int{"big": {7, 8, 9}, "small-0": {0, 2, 4, 6}, "small-1": {1, 3, 5}} {
		var got []int
		for _, d := range es.Docs(index) {
			var v struct{ ID int }
			if err := json.Unmarshal(d.Source, &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, v.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("index %s holds ids %v, want %v", index, got, want)
		}
	}
}
