package connecttest_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/connect/connecttest"
	"github.com/runnel-io/runnel/engine"
)

// A stage upper-casing its input runs over a scripted source and an
// exactly-once sink that had already committed the first record: the
// source resumes after it, and the sink's commit carries the positions of
// the last record.
func Example() {
	g := engine.NewGraph("upper")
	in := engine.From(g, "in", engine.String(), engine.String())
	up := engine.Map(in, func(r engine.Record[string, string]) (string, error) { return strings.ToUpper(r.Value), nil })
	engine.To(up, "out", engine.String(), engine.String())

	j := &connecttest.Journal{}
	src := connecttest.NewSource(j)
	out := connecttest.NewExactlyOnceSink("out", j)
	p0 := connecttest.Input("in", 0)
	src.Append(p0, connecttest.Rec("k", "a", 1000), connecttest.Rec("k", "b", 2000), connecttest.Rec("k", "c", 3000))
	out.SetPositions(0, engine.Positions{p0: 1})
	src.Push(connecttest.Assign(0), connecttest.EndOfInput())

	r, err := connect.NewRunner(connect.StageConfig{Graph: g, Source: src,
		Sinks: map[string]connect.Sink{"out": out}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	if err := r.Run(context.Background()); err != nil {
		panic(err)
	}
	for _, rec := range out.Output(0) {
		fmt.Printf("%s at offset %d\n", rec.Value, rec.Pos.Offset)
	}
	fmt.Println("committed positions:", out.Positions(0)[p0])
	fmt.Println(strings.Join(j.Only("source.Assigned([0])", "out.OpenTask(0)", "out.Commit", "source.Commit"), " -> "))
	// Output:
	// B at offset 1
	// C at offset 2
	// committed positions: 3
	// source.Assigned([0]) -> out.OpenTask(0) -> out.Commit -> source.Commit
}
