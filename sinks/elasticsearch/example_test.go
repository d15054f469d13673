package elasticsearch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"maps"
	"net/http/httptest"
	"slices"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/esemu"
	"github.com/runnel-io/runnel/sinks/elasticsearch"
)

// The runtime's calls of one checkpoint, against the emulator: documents
// by key in an index per topic, each versioned by its source offset.
func Example() {
	emu := esemu.New()
	ts := httptest.NewServer(emu)
	defer ts.Close()
	ctx := context.Background()

	s, err := elasticsearch.New(elasticsearch.Config{
		Addresses: []string{ts.URL},
		Consumer:  "orders-pipeline", // set by the runtime
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	pos, err := s.OpenTask(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("task 0 committed before:", pos != nil)

	in := engine.Input{Stream: "Orders", Partition: 0}
	recs := []*connect.Record{
		{Key: []byte("o-1"), Value: []byte(`{"total":10}`), Pos: engine.Pos{Input: in, Offset: 0, Next: 1}},
		{Key: []byte("o-2"), Value: []byte(`{"total":25}`), Pos: engine.Pos{Input: in, Offset: 1, Next: 2}},
		{Key: []byte("o-1"), Value: []byte(`{"total":12}`), Pos: engine.Pos{Input: in, Offset: 2, Next: 3}},
		{Key: []byte("o-2"), Value: nil, Pos: engine.Pos{Input: in, Offset: 3, Next: 4}}, // deletes o-2
	}
	if err := s.Write(ctx, 0, recs); err != nil {
		log.Fatal(err)
	}
	cp := connect.Checkpoint{0: {in: 4}}
	if err := s.Prepare(ctx, cp); err != nil {
		log.Fatal(err)
	}
	if err := s.Commit(ctx, cp); err != nil {
		log.Fatal(err)
	}

	docs := emu.Docs("orders")
	for _, id := range slices.Sorted(maps.Keys(docs)) {
		fmt.Printf("orders/%s version %d: %s\n", id, docs[id].Version, docs[id].Source)
	}
	// The positions, in the task document and per partition.
	offsets := emu.Docs(elasticsearch.DefaultOffsetsIndex)
	var task elasticsearch.TaskDoc
	json.Unmarshal(offsets[elasticsearch.TaskDocID("orders-pipeline", 0)].Source, &task)
	fmt.Printf("task 0: generation %d, positions %+v\n", task.Generation, task.Positions)
	var part elasticsearch.PartitionDoc
	json.Unmarshal(offsets[elasticsearch.PartitionDocID("orders-pipeline", in)].Source, &part)
	fmt.Printf("%s[%d]: next offset %d\n", part.Topic, part.Partition, part.NextOffset)
	// Output:
	// task 0 committed before: false
	// orders/o-1 version 3: {"total":12}
	// task 0: generation 1, positions [{Topic:Orders Partition:0 NextOffset:4}]
	// Orders[0]: next offset 4
}
