package group

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/runnel-io/runnel/broker/internal/kafkahash"
)

// TopicName is the internal compacted topic holding committed offsets and
// group metadata, named as in Kafka.
const TopicName = "__consumer_offsets"

// MaxPartitions bounds offsets.topic.num.partitions. Kafka's default is 50;
// see the package doc for why runnel defaults to DefaultPartitions.
const MaxPartitions = 50

// DefaultPartitions is runnel's offsets.topic.num.partitions.
const DefaultPartitions = 1

// Key versions of the records of __consumer_offsets, as Kafka writes them.
// The first int16 of a key tells its kind: 0 and 1 are offset commits, 2
// is group metadata. Newer Kafka releases use versions 3 and up for
// KIP-848 groups, which runnel does not serve; loading skips them.
const (
	offsetKeyVersion = 1
	groupKeyVersion  = 2
	// Value versions written: OffsetCommitValue v3 (leader epoch, no
	// expire timestamp) and GroupMetadataValue v3 (static members).
	offsetValueVersion = 3
	groupValueVersion  = 3
)

// Record is one record of __consumer_offsets: a key and a value, or a nil
// Value for a tombstone. Both are Kafka's encodings (kmsg.OffsetCommitKey
// and OffsetCommitValue, kmsg.GroupMetadataKey and GroupMetadataValue),
// each starting with its int16 version, so the topic reads as Kafka's does.
type Record struct {
	Key, Value []byte
	// Read back only: the transactional producer the record belongs to
	// (nil when not transactional), or, for a transaction marker, the
	// marker (Key and Value are then nil).
	Producer *Producer
	Marker   *Marker
}

// PartitionFor is the partition of __consumer_offsets that holds group's
// records: Kafka's rule (see kafkahash.Partition), so that a data
// directory moved to Kafka (or tooling that reads the topic) finds each
// group where Kafka would.
func PartitionFor(group string, partitions int) int32 { return kafkahash.Partition(group, partitions) }

// offsetKey encodes the key of an offset commit.
func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: offsetKeyVersion, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

// groupKey encodes the key of a group's metadata.
func groupKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: groupKeyVersion, Group: group}
	return k.AppendTo(nil)
}

// offsetValue encodes a committed offset.
func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.offset, o.leaderEpoch, o.metadata, o.commitTime
	return v.AppendTo(nil)
}

// decodedRecord is a record of __consumer_offsets, decoded.
type decodedRecord struct {
	group string
	// Offset commit: topic, partition and the offset (nil: tombstone).
	isOffset  bool
	topic     string
	partition int32
	offset    *offset
	// Group metadata (nil: tombstone).
	meta *kmsg.GroupMetadataValue
}

// decodeRecord decodes one record. Unknown key versions (KIP-848 records of
// newer Kafka releases) and undecodable bytes wrap errBadRecord.
func decodeRecord(key, value []byte) (decodedRecord, error) {
	if len(key) < 2 {
		return decodedRecord{}, fmt.Errorf("%w: key of %d bytes", errBadRecord, len(key))
	}
	switch v := int16(binary.BigEndian.Uint16(key)); v {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return decodedRecord{}, fmt.Errorf("%w: offset commit key: %w", errBadRecord, err)
		}
		d := decodedRecord{group: k.Group, isOffset: true, topic: k.Topic, partition: k.Partition}
		if value == nil {
			return d, nil
		}
		var val kmsg.OffsetCommitValue
		if err := val.ReadFrom(value); err != nil {
			return d, fmt.Errorf("%w: offset commit value of group %q: %w", errBadRecord, k.Group, err)
		}
		epoch := val.LeaderEpoch
		if val.Version < 3 {
			epoch = -1
		}
		d.offset = &offset{offset: val.Offset, leaderEpoch: epoch, metadata: val.Metadata, commitTime: val.CommitTimestamp}
		return d, nil
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return decodedRecord{}, fmt.Errorf("%w: group metadata key: %w", errBadRecord, err)
		}
		d := decodedRecord{group: k.Group}
		if value == nil {
			return d, nil
		}
		val := new(kmsg.GroupMetadataValue)
		if err := val.ReadFrom(value); err != nil {
			return d, fmt.Errorf("%w: group metadata value of group %q: %w", errBadRecord, k.Group, err)
		}
		d.meta = val
		return d, nil
	default:
		return decodedRecord{}, fmt.Errorf("%w: key version %d (not a classic group record)", errBadRecord, v)
	}
}
