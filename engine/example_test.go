package engine_test

import (
	"fmt"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/enginetest"
)

// Clicks per user and minute, with 10s of out-of-orderness allowed, run
// through the test driver.
func ExampleAggregate() {
	g := engine.NewGraph("clicks")
	clicks := engine.From(g, "clicks", engine.String(), engine.String()) // user -> page
	perMinute := engine.Window(clicks, engine.Tumbling(time.Minute).WithDelay(10*time.Second))
	counts := engine.Aggregate(perMinute, engine.Count[string](), engine.Name("clicks-per-minute"))
	engine.To(counts, "counts", engine.JSON[engine.WindowKey[string]](), engine.Int64())
	engine.To(perMinute.Late(), "late-clicks", engine.String(), engine.String())

	d, err := enginetest.New(g)
	if err != nil {
		panic(err)
	}
	send := func(user, page string, at time.Duration) {
		if err := d.Send("clicks", []byte(user), []byte(page), at.Milliseconds()); err != nil {
			panic(err)
		}
	}
	send("ann", "/", 5*time.Second)
	send("bob", "/", 20*time.Second)
	send("ann", "/docs", 65*time.Second) // the watermark is now 55s
	send("ann", "/faq", 58*time.Second)  // out of order, within the delay
	send("bob", "/docs", 75*time.Second) // the watermark passes 60s: the first minute closes
	send("bob", "/", 59*time.Second)     // too late
	if err := d.Close(); err != nil {
		panic(err)
	}

	results, err := enginetest.Read(d, "counts", engine.JSON[engine.WindowKey[string]](), engine.Int64())
	if err != nil {
		panic(err)
	}
	for _, r := range results {
		fmt.Printf("%s [%v, %v): %d\n", r.Key.Key, time.Duration(r.Key.Start)*time.Millisecond, time.Duration(r.Key.End)*time.Millisecond, r.Value)
	}
	for _, r := range d.Output("late-clicks") {
		fmt.Printf("late: %s %s at %v\n", r.Key, r.Value, time.Duration(r.Time)*time.Millisecond)
	}
	// Output:
	// ann [0s, 1m0s): 2
	// bob [0s, 1m0s): 1
	// ann [1m0s, 2m0s): 1
	// bob [1m0s, 2m0s): 1
	// late: bob / at 59s
}
