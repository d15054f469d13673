package file_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/sinks/file"
)

// Example writes two records of task 0 and commits them with the
// positions they cover; a new sink on the same directory finds those
// positions in the part file's name.
func Example() {
	dir, err := os.MkdirTemp("", "runnel-file-sink")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	sink, err := file.New(file.Config{Dir: dir, Prefix: "orders", RollRecords: 10000})
	if err != nil {
		log.Fatal(err)
	}
	pos, err := sink.OpenTask(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resume at:", pos)

	in := engine.Input{Stream: "/data/orders.jsonl"}
	recs := []*connect.Record{
		{Value: []byte(`{"id":1}`), Pos: engine.Pos{Input: in, Offset: 0, Next: 9}},
		{Value: []byte(`{"id":2}`), Pos: engine.Pos{Input: in, Offset: 9, Next: 18}},
	}
	if err := sink.Write(ctx, 0, recs); err != nil {
		log.Fatal(err)
	}
	if err := sink.Commit(ctx, connect.Checkpoint{0: {in: 18}}); err != nil {
		log.Fatal(err)
	}
	sink.Close(ctx)

	parts, err := file.ReadCommitted(dir, "orders")
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range parts[0] {
		b, _ := os.ReadFile(p)
		fmt.Printf("%s:\n%s", filepath.Base(p), b)
	}

	again, _ := file.New(file.Config{Dir: dir, Prefix: "orders"})
	pos, err = again.OpenTask(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resume at:", pos)
	again.Close(ctx)
	// Output:
	// resume at: map[]
	// orders-0-0000000001-p0492up31ehgiurrichin4sped9pmurjc00i0.jsonl:
	// {"id":1}
	// {"id":2}
	// resume at: map[{/data/orders.jsonl 0}:18]
}
