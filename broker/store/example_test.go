package store_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/store"
)

// Example opens a data directory, creates a topic (or finds it from an
// earlier run), appends a batch to one partition and reads it back.
func Example() {
	dir, err := os.MkdirTemp("", "runnel-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	st, err := store.Open(dir, nil) // DefaultOptions
	if err != nil {
		panic(err)
	}
	defer st.Close()

	_, err = st.CreateTopic("orders", 3, map[string]string{"cleanup.policy": "compact"})
	if err != nil && !errors.Is(err, store.ErrTopicExists) {
		panic(err)
	}
	d, err := st.Topic("orders")
	if err != nil {
		panic(err)
	}
	policy, _ := d.Config("cleanup.policy")
	fmt.Printf("%s: %d partitions, cleanup.policy=%s (%s)\n", d.Name, d.Partitions, policy.Value, policy.Source)

	l, err := st.Partition("orders", 1)
	if err != nil {
		panic(err)
	}
	b, err := batch.NewBuilder(batch.CodecNone).
		Add([]byte("order-1"), []byte(`{"total":12.5}`), 1700000000000).
		Add([]byte("order-2"), []byte(`{"total":3}`), 1700000000001).
		Build()
	if err != nil {
		panic(err)
	}
	res, err := l.Append(b)
	if err != nil {
		panic(err)
	}
	fmt.Printf("appended offsets %d..%d\n", res.BaseOffset, res.LastOffset)

	read, err := l.Read(0, 1<<20)
	if err != nil {
		panic(err)
	}
	h, _, err := batch.Check(read.Data, 0)
	if err != nil {
		panic(err)
	}
	recs, err := batch.Records(read.Data, &h)
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		fmt.Printf("offset %d: %s = %s\n", h.BaseOffset+int64(r.OffsetDelta), r.Key, r.Value)
	}
	_, err = st.Partition("orders", 3)
	fmt.Println(errors.Is(err, store.ErrUnknownTopic))

	// Output:
	// orders: 3 partitions, cleanup.policy=compact (topic)
	// appended offsets 0..1
	// offset 0: order-1 = {"total":12.5}
	// offset 1: order-2 = {"total":3}
	// true
}
