package broker

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func startBroker(t *testing.T, opts ...Opt) *Broker {
	t.Helper()
	b, err := New(append([]Opt{ListenAddr("127.0.0.1:0"), DataDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestApiVersionsAdvertisesRegisteredHandlers(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatal(err)
	}
	got := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	for key, h := range handlers {
		if h != nil && got[int16(key)] != [2]int16{h.min, h.max} {
			t.Errorf("%s: advertised %v, registered [%d %d]", kmsg.NameForKey(int16(key)), got[int16(key)], h.min, h.max)
		}
	}
	if len(got) == 0 {
		t.Fatal("no API advertised")
	}
}

// A request for an unknown ApiVersions version gets UNSUPPORTED_VERSION
// with the list, like Kafka; garbage closes the connection and the broker
// keeps serving others.
func TestBadRequestsDoNotHurtTheBroker(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(4)
	frame := encodeRequest(req, 1, "x")
	frame[7] = 99 // version 99

	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	body, err := readFrame(nc, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
		t.Fatalf("error %d with %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}

	for _, garbage := range [][]byte{
		{0, 0, 0, 8, 0x7f, 0x7f, 0, 0, 0, 0, 0, 0}, // unknown key
		{0, 0, 0, 3, 1, 2, 3},                      // frame too short
		{0x7f, 0xff, 0xff, 0xff},                   // over the size limit
	} {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(garbage)
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("connection still open after %x", garbage)
		}
		c.Close()
	}
	// Still serving.
	if _, err := nc.Write(encodeRequest(kmsg.NewPtrApiVersionsRequest(), 2, "x")); err != nil {
		t.Fatal(err)
	}
	if _, err := readFrame(nc, nil, 1<<20); err != nil {
		t.Fatalf("broker stopped answering: %v", err)
	}
}
