// Package brokertest runs the built-in broker in a test's process, for the
// tests of the packages that reach it over the Kafka protocol (connectors,
// the runtime, pipelines), and gives them the franz-go clients they need.
package brokertest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/broker"
)

// Start runs a broker on a temporary data directory until the test ends
// and returns its address. Groups rebalance without the initial delay.
func Start(t testing.TB, opts ...broker.Opt) string {
	t.Helper()
	opts = append([]broker.Opt{broker.DataDir(t.TempDir()), broker.ListenAddr("127.0.0.1:0"), broker.GroupInitialRebalanceDelay(0)}, opts...)
	b, err := broker.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b.Addr()
}

// Context returns a context that ends with the test, or after a minute.
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Client returns a client of the broker at addr, closed when the test
// ends.
func Client(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates a topic, failing the test if it cannot.
func CreateTopic(t testing.TB, addr, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := kadm.NewClient(Client(t, addr)).CreateTopic(Context(t), partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
}
