package broker

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// openConns is the number of client connections the broker holds.
func (b *Broker) openConns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.mu.conns)
}

// waitConns waits, up to a deadline, until the broker holds n connections.
func waitConns(t *testing.T, b *Broker, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.openConns() != n {
		if time.Now().After(deadline) {
			t.Fatalf("broker holds %d connections, want %d", b.openConns(), n)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not timing it
	}
}

// A handler that panics costs its client the connection; the broker and
// its other clients go on. Not parallel: it swaps a handler.
func TestHandlerPanicClosesOnlyThatConnection(t *testing.T) {
	key := kmsg.ElectLeaders // not served: free for the test
	if handlers[key] != nil {
		t.Fatal("the test needs an API the broker does not serve")
	}
	handlers[key] = &handler{min: 0, max: 2, fn: func(*Broker, *clientConn, kmsg.Request) kmsg.Response { panic("boom") }}
	t.Cleanup(func() { handlers[key] = nil }) // after the broker's cleanup: LIFO
	b := startBroker(t)

	other, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	victim, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	victim.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrElectLeadersRequest()
	victim.Write(encodeRequest(req, 1, "victim"))
	if _, err := victim.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection of a panicking request stayed open")
	}
	other.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := other.Write(encodeRequest(kmsg.NewPtrApiVersionsRequest(), 2, "other")); err != nil {
		t.Fatal(err)
	}
	if _, err := readFrame(other, nil, 1<<20); err != nil {
		t.Fatalf("another client lost its broker: %v", err)
	}
}

// Clients that vanish mid-frame or while their fetch long-polls leave no
// connection (and no goroutine) behind.
func TestClientsVanishing(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	// Half a frame, then gone.
	c1, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	var half bytes.Buffer
	binary.Write(&half, binary.BigEndian, int32(100))
	half.Write(make([]byte, 10))
	c1.Write(half.Bytes())
	// A fetch that will wait 3 s for data, then gone.
	c2, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Store().CreateTopic("vanish", 1, nil); err != nil {
		t.Fatal(err)
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.SetVersion(11)
	fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = 3000, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "vanish"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	c2.Write(encodeRequest(fetch, 1, "vanisher"))
	waitConns(t, b, 2)
	c1.Close()
	c2.Close()
	waitConns(t, b, 0)
}
