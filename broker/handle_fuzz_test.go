package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/batch"
)

// FuzzHandleRequest runs every request that parses through its handler on
// a live broker (no network): no input may panic a handler or make its
// response unencodable. Requests that wait for other group members
// (JoinGroup, SyncGroup) are left out, and fetches do not long-poll.
func FuzzHandleRequest(f *testing.F) {
	for key, h := range handlers {
		if h == nil {
			continue
		}
		for v := h.min; v <= h.max; v++ {
			req := kmsg.RequestForKey(int16(key))
			req.SetVersion(v)
			f.Add(encodeRequest(req, 1, "seed")[4:])
		}
	}
	// Produce v0-v2 with valid message sets of magic 0 and 1, plain and
	// compressed, for the up-conversion.
	for _, c := range []struct {
		v     int16
		magic int8
		codec int
	}{{0, 0, batch.CodecNone}, {1, 0, batch.CodecLz4}, {2, 1, batch.CodecGzip}, {2, 1, batch.CodecSnappy}} {
		var set []byte
		for i := range 3 {
			set = batch.AppendLegacyMessage(set, c.magic, &batch.Message{Offset: int64(i), Timestamp: 1, Key: []byte("k"), Value: []byte("v")})
		}
		if c.codec != batch.CodecNone {
			var err error
			if set, err = batch.AppendLegacyWrapper(nil, c.magic, c.codec, 2, 1, set); err != nil {
				f.Fatal(err)
			}
		}
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(c.v)
		req.Acks = 1
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "fuzz-old"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = set
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		f.Add(encodeRequest(req, 1, "seed")[4:])
	}
	b, err := New(ListenAddr("127.0.0.1:0"), DataDir(f.TempDir()), GroupInitialRebalanceDelay(0))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	c := &clientConn{b: b, remote: "127.0.0.1:1", clientID: "fuzz"}
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, req, err := parseRequest(frame)
		if err != nil {
			return
		}
		switch r := req.(type) {
		case *kmsg.JoinGroupRequest, *kmsg.SyncGroupRequest:
			return
		case *kmsg.FetchRequest:
			r.MaxWaitMillis = 0
		}
		resp, err := c.handle(hdr.key, req)
		if err != nil {
			t.Fatalf("%s v%d: %v", kmsg.NameForKey(hdr.key), hdr.version, err)
		}
		if resp != nil {
			appendResponse(nil, hdr.correlationID, resp)
		}
	})
}
