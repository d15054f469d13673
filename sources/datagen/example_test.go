package datagen_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/sources/datagen"
)

// resumeAt is the connect.Assignments of a stage whose sink committed the
// source's input up to next (0: nothing).
type resumeAt struct {
	in   engine.Input
	next int64
}

func (a resumeAt) Assigned(context.Context, []connect.TaskID) (map[connect.TaskID]engine.Positions, error) {
	return map[connect.TaskID]engine.Positions{0: {a.in: a.next}}, nil
}
func (resumeAt) Revoked(context.Context, []connect.TaskID) {}
func (resumeAt) Lost(context.Context, []connect.TaskID)    {}

// Two records of each preset; then, resuming at record 1, the same second
// record again.
func Example() {
	ctx := context.Background()
	poll := func(cfg datagen.Config, next int64) {
		src, err := datagen.New(cfg)
		if err != nil {
			panic(err)
		}
		defer src.Close(ctx)
		if err := src.Open(ctx, resumeAt{src.Input(), next}); err != nil {
			panic(err)
		}
		for {
			batches, err := src.Poll(ctx)
			if errors.Is(err, connect.ErrEndOfInput) {
				return
			}
			if err != nil {
				panic(err)
			}
			for _, r := range batches[0].Records {
				fmt.Printf("%d %s %s\n", r.Pos.Offset, r.Key, r.Value)
			}
		}
	}
	// A fixed start (the default is the time of the first run).
	const start = "2026-11-21T09:00:00Z"
	for _, preset := range datagen.Presets() {
		poll(datagen.Config{Preset: preset, Count: 2, Start: start}, 0)
	}
	poll(datagen.Config{Preset: datagen.PresetOrders, Count: 1, Start: start}, 1)
	// Output:
	// 0 user-88 {"user":"user-88","page":"/docs/quickstart","ts":1795251600000,"referrer":"direct","ms_on_page":2760}
	// 1 user-132 {"user":"user-132","page":"/docs","ts":1795251600100,"referrer":"google","ms_on_page":28440}
	// 0 cust-166 {"order_id":"o-0","customer":"cust-166","amount":49.99,"currency":"EUR","country":"DE","ts":1795251600000}
	// 1 cust-195 {"order_id":"o-1","customer":"cust-195","amount":22.85,"currency":"EUR","country":"DE","ts":1795251600100}
	// 0 user-6 {"user":"user-6","page":"/","ts":1795251600061,"action":"view"}
	// 1 user-109 {"user":"user-109","page":"/","ts":1795251602396,"action":"view"}
	// 1 cust-195 {"order_id":"o-1","customer":"cust-195","amount":22.85,"currency":"EUR","country":"DE","ts":1795251600100}
}
