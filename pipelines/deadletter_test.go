package pipelines_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/pipelines"
)

// A record that does not decode goes to the dead-letter topic with the
// error and its source position in headers; the others go through.
func TestDeadLetterTopic(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, "in", 1)
	produce(t, addr,
		&kgo.Record{Topic: "in", Value: []byte(`{"user":"a","page":"/x","ts":1}`)},
		&kgo.Record{Topic: "in", Value: []byte(`{"user":`), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("42")}}},
		&kgo.Record{Topic: "in", Value: []byte(`{"user":"b","page":"/y","ts":2}`)},
	)
	p := pipelines.New("dl", pipelines.Options{Brokers: []string{addr}, DataDir: t.TempDir(), CheckpointInterval: 50 * time.Millisecond})
	p.DeadLetterTo("in-dead")
	in := pipelines.FromTopic(p, "in", engine.String(), engine.JSON[click]())
	pages := engine.Map(in, func(r engine.Record[string, click]) (string, error) { return r.Value.Page, nil })
	pipelines.ToTopic(pages, "out", engine.String(), engine.String())

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() { defer wg.Done(); err = p.Run(ctx) }()
	out := readCommitted(t, addr, "out", 2, 30*time.Second)
	dead := readCommitted(t, addr, "in-dead", 1, 30*time.Second)
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || string(out[0].Value) != "/x" || string(out[1].Value) != "/y" {
		t.Fatalf("out: %v", out)
	}
	if len(dead) != 1 || string(dead[0].Value) != `{"user":` {
		t.Fatalf("dead letters: %v", dead)
	}
	h := map[string]string{}
	for _, kv := range dead[0].Headers {
		h[kv.Key] = string(kv.Value)
	}
	for k, want := range map[string]string{
		"trace": "42", engine.HeaderTopic: "in", engine.HeaderPartition: "0", engine.HeaderOffset: "1",
		engine.HeaderOperator: "topic:in",
	} {
		if h[k] != want {
			t.Errorf("header %s = %q, want %q", k, h[k], want)
		}
	}
	if h[engine.HeaderError] == "" {
		t.Errorf("no %s header", engine.HeaderError)
	}
	t.Logf("dead letter headers: %v", h)
}
