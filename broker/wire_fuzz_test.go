package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeRequest frames req as a client would.
func encodeRequest(req kmsg.Request, correlationID int32, clientID string) []byte {
	var b []byte
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// FuzzParseRequest feeds arbitrary frames to the request decoder: it must
// never panic, and a request it accepts must survive a re-encode with the
// same header.
func FuzzParseRequest(f *testing.F) {
	for key, h := range handlers {
		if h == nil {
			continue
		}
		for v := h.min; v <= h.max; v++ {
			req := kmsg.RequestForKey(int16(key))
			req.SetVersion(v)
			f.Add(encodeRequest(req, 7, "seed")[4:])
		}
	}
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, frame []byte) {
		hdr, req, err := parseRequest(frame)
		if err != nil {
			return
		}
		if req.Key() != hdr.key || req.GetVersion() != hdr.version {
			t.Fatalf("header says %d v%d, request is %d v%d", hdr.key, hdr.version, req.Key(), req.GetVersion())
		}
		clientID := ""
		if hdr.clientID != nil {
			clientID = *hdr.clientID
		}
		again := encodeRequest(req, hdr.correlationID, clientID)
		hdr2, req2, err := parseRequest(again[4:])
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v", err)
		}
		if hdr2.correlationID != hdr.correlationID || !bytes.Equal(req2.AppendTo(nil), req.AppendTo(nil)) {
			t.Fatal("re-encoded request differs")
		}
	})
}

func TestReadFrameLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"too small", []byte{0, 0, 0, 2, 1, 2}, false},
		{"negative", []byte{0xff, 0xff, 0xff, 0xff}, false},
		{"over the limit", []byte{0, 0x10, 0, 0}, false},
		{"truncated", []byte{0, 0, 0, 10, 1, 2, 3}, false},
		{"ok", []byte{0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}, true},
	}
	for _, c := range cases {
		_, err := readFrame(bytes.NewReader(c.in), nil, 1<<16)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
}

// A flexible request that declares 2^32-1 tagged fields in 40 bytes is cut
// off by the decode deadline (kmsg would spin on it for many seconds)
// rather than holding its connection.
func TestTagCountBombIsCutOff(t *testing.T) {
	t.Parallel()
	frame := []byte("\x00\x1c\x00\x03\x00\x00\x00\x01\x00\x04\x80eed\x00\x01\x01\x01\x00\x00\x00\x00\xff\x01\x00\x01\x00\xff\xff\xff\xff\x01\x00\x00\xff\xff\xff\xff\x0f")
	if _, _, err := parseRequest(frame); !errors.Is(err, errDecodeTimeout) {
		t.Fatalf("parse: %v, want the decode deadline", err)
	}
}
