package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
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
