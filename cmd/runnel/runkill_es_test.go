package main

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/runnel-io/runnel/internal/esemu"
)

// killESYAML is the pipeline TestKillRunElasticsearch kills: clicks
// into an index, one document per click id, with a map in between.
const killESYAML = killHead + `outputs:
  search:
    elasticsearch:
      addresses: ["${ES_URL}"]
      index: clicks
pipelines:
  index-clicks:
    from: clicks
    steps:
      - map: {id: value.id, page: value.page, ts: value.ts, second: value.ts / 1000}
      - to: search
`

// TestKillRunElasticsearch: topic → map → Elasticsearch (the emulator),
// with `runnel run` killed 20 times under load. The index holds one
// document per click with its content, and the offsets documents cover
// every partition up to its end.
func TestKillRunElasticsearch(t *testing.T) {
	es := esemu.New()
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)
	rig := killRun(t, killESYAML, "ES_URL="+srv.URL)

	docs := es.Docs("clicks")
	for i := range rig.produced {
		d, ok := docs[strconv.Itoa(i)]
		if !ok {
			t.Errorf("click %d is missing", i)
			continue
		}
		c := killClick(i)
		ts := c["ts"].(int64)
		want := map[string]any{"id": float64(i), "page": c["page"], "ts": float64(ts), "second": float64(ts) / 1000}
		var got map[string]any
		if err := json.Unmarshal(d.Source, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("click %d: %s, want %v", i, d.Source, want)
		}
	}
	if len(docs) != rig.produced {
		t.Errorf("%d documents for %d clicks", len(docs), rig.produced)
	}
	t.Logf("%d clicks, %d documents, %d bulk requests, 20 kills", rig.produced, len(docs), es.BulkRequests())
}
