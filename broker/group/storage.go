package group

// Storage is the __consumer_offsets topic as the coordinator needs it:
// append durably to a partition, read a partition from its start. The
// broker implements it over its data directory (package store); tests use
// an in-memory one. Methods are called from the coordinator's own
// goroutines (one writer per partition, one loader), never concurrently for
// the same partition.
type Storage interface {
	// Partitions is the number of partitions of the topic: the count of
	// the existing topic, or the count it will be created with. New calls
	// it once; the answer holds for the life of the Coordinator.
	Partitions() (int, error)
	// Append appends batch, one RecordBatch v2 (see package batch), to
	// partition p, creating the topic first when it does not exist yet.
	// It returns once the batch is durable. Errors wrap ErrTooLarge when
	// the batch is over the topic's max.message.bytes; any other error
	// means the batch may or may not be stored.
	Append(p int32, batch []byte) error
	// Read returns whole batches of partition p starting with the one that
	// holds offset (or the first one, when offset is below the log start),
	// about maxBytes of them, and the high watermark. It returns no data
	// at the high watermark, and for a topic that does not exist yet. The
	// caller owns data.
	Read(p int32, offset int64, maxBytes int) (data []byte, highWatermark int64, err error)
}
