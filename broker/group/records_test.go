package group

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The records are byte for byte Kafka's: a key version, then the fields.
func TestRecordEncoding(t *testing.T) {
	t.Parallel()
	key := offsetKey("g", "t", 3)
	// version 1 | "g" | "t" | partition 3
	if want := "0001" + "00016" + "7" + "000174" + "00000003"; hex.EncodeToString(key) != want {
		t.Errorf("offset key %x, want %s", key, want)
	}
	if got, want := hex.EncodeToString(groupKey("g")), "0002"+"000167"; got != want {
		t.Errorf("group key %s, want %s", got, want)
	}
	val := offsetValue(offset{offset: 42, leaderEpoch: 5, metadata: "m", commitTime: 1000})
	// version 3 | offset 42 | leader epoch 5 | "m" | commit timestamp 1000
	want := "0003" + "000000000000002a" + "00000005" + "00016d" + "00000000000003e8"
	if hex.EncodeToString(val) != want {
		t.Errorf("offset value %x, want %s", val, want)
	}
	d, err := decodeRecord(key, val)
	if err != nil || !d.isOffset || d.group != "g" || d.topic != "t" || d.partition != 3 || *d.offset != (offset{42, 5, "m", 1000}) {
		t.Errorf("decode: %+v %v", d, err)
	}

	// Older value versions (Kafka before 2.1) decode too.
	v1 := kmsg.NewOffsetCommitValue()
	v1.Version, v1.Offset, v1.Metadata, v1.CommitTimestamp, v1.ExpireTimestamp = 1, 7, "x", 10, 20
	d, err = decodeRecord(offsetKey("g", "t", 0), v1.AppendTo(nil))
	if err != nil || d.offset.offset != 7 || d.offset.leaderEpoch != -1 || d.offset.metadata != "x" {
		t.Errorf("decode v1 value: %+v %v", d, err)
	}

	// A KIP-848 record (key version 3+) is reported, not misread.
	if _, err := decodeRecord([]byte{0, 3, 0, 1, 'g'}, []byte{0, 0}); err == nil {
		t.Error("key version 3 decoded")
	}
	if _, err := decodeRecord([]byte{0}, nil); err == nil {
		t.Error("a 1-byte key decoded")
	}
	if _, err := decodeRecord(groupKey("g"), []byte{0, 3, 0}); err == nil {
		t.Error("a truncated group value decoded")
	}
}

// A group's metadata survives the round trip through its record.
func TestGroupMetadataRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.run("options initial-delay=0")
	h.run("join g=g client=a v=5 inst=i1 protos=range topics=t1,t2")
	h.run("sync g=g m=i1-1 inst=i1 gen=1 assign=i1-1:ASSIGN")
	h.run("persist")
	rec := h.log[0][len(h.log[0])-1]
	d, err := decodeRecord(rec.Key, rec.Value)
	if err != nil || d.meta == nil {
		t.Fatalf("decode: %v", err)
	}
	m := d.meta
	if m.Version != 3 || m.ProtocolType != "consumer" || m.Generation != 1 || *m.Protocol != "range" || *m.Leader != "i1-1" ||
		len(m.Members) != 1 || *m.Members[0].InstanceID != "i1" || m.Members[0].ClientID != "a" ||
		m.Members[0].ClientHost != "/10.0.0.1" || m.Members[0].SessionTimeoutMillis != 10000 ||
		m.Members[0].RebalanceTimeoutMillis != 30000 || string(m.Members[0].Assignment) != "ASSIGN" {
		t.Fatalf("group metadata: %+v", m)
	}
	var sub kmsg.ConsumerMemberMetadata
	if err := sub.ReadFrom(m.Members[0].Subscription); err != nil || len(sub.Topics) != 2 {
		t.Fatalf("subscription: %+v %v", sub, err)
	}
	// Re-encoding what was decoded gives the same bytes.
	if again := m.AppendTo(nil); !bytes.Equal(again, rec.Value) {
		t.Fatal("group metadata value does not re-encode to the same bytes")
	}
}
