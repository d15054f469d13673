package compattest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/runnel-io/runnel/broker"
)

// saramaConfig is sarama's default configuration at the given protocol
// version (sarama negotiates nothing: it speaks the version it is told).
func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	return cfg
}

// saramaHandler consumes until it has seen want records, marking each.
type saramaHandler struct {
	mu   sync.Mutex
	seen map[string]int
	want int
	done chan struct{}
	once sync.Once
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.seen[string(m.Value)]++
		n := len(h.seen)
		h.mu.Unlock()
		s.MarkMessage(m, "")
		if n >= h.want {
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

// TestSarama: IBM/sarama, the other Go client, produces synchronously,
// consumes in a consumer group with committed offsets, and reads with a
// plain partition consumer, at its default protocol version and at Kafka
// 2.1's (the oldest that stores RecordBatch v2 on produce).
func TestSarama(t *testing.T) {
	t.Parallel()
	for _, v := range []sarama.KafkaVersion{sarama.DefaultVersion, sarama.V2_1_0_0, sarama.V3_0_0_0} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			b := startBroker(t, broker.GroupInitialRebalanceDelay(0))
			topic := name(t, "sarama")
			createTopic(t, b, topic, 3)
			cfg := saramaConfig(v)
			prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			const n = 60
			offsets := map[int32]int64{}
			for i := 0; i < n; i++ {
				p, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint(i % 7)), Value: sarama.StringEncoder(fmt.Sprint("v", i))})
				if err != nil {
					t.Fatal(err)
				}
				if off != offsets[p] {
					t.Fatalf("record %d acked at %d/%d, want offset %d", i, p, off, offsets[p])
				}
				offsets[p]++
			}
			prod.Close()

			group := name(t, "sarama-group")
			cg, err := sarama.NewConsumerGroup([]string{b.Addr()}, group, cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := &saramaHandler{seen: map[string]int{}, want: n, done: make(chan struct{})}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			go func() {
				for ctx.Err() == nil {
					if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
						t.Errorf("consume: %v", err)
						return
					}
				}
			}()
			select {
			case <-h.done:
			case <-ctx.Done():
				t.Fatalf("group consumed %d of %d", len(h.seen), n)
			}
			cancel()
			if err := cg.Close(); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				if h.seen[fmt.Sprint("v", i)] != 1 {
					t.Fatalf("v%d seen %d times", i, h.seen[fmt.Sprint("v", i)])
				}
			}
			// The group's commits are there (sarama commits on close).
			got := committed(t, b, group)
			for p, end := range offsets {
				if got[topic][p] != end {
					t.Fatalf("committed %v, want the log ends %v", got, offsets)
				}
			}
			// A plain partition consumer reads a partition from the start.
			c, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			for want := int64(0); want < offsets[0]; want++ {
				select {
				case m := <-pc.Messages():
					if m.Offset != want {
						t.Fatalf("partition consumer at %d, want %d", m.Offset, want)
					}
				case err := <-pc.Errors():
					t.Fatal(err)
				case <-time.After(30 * time.Second):
					t.Fatalf("partition consumer stalled at %d of %d", want, offsets[0])
				}
			}
		})
	}
}
