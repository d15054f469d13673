package batch

// Builder accumulates records into one batch, the way a producer does. It is
// used by tests, benchmarks and the CLI; the broker itself stores what
// clients send. The zero value is not usable: call NewBuilder.
type Builder struct {
	hdr     Header
	records []byte
	n       int32
	started bool
}

// NewBuilder returns a builder for a non-idempotent batch compressed with
// codec (CodecNone..CodecZstd).
func NewBuilder(codec int) *Builder {
	return &Builder{hdr: Header{
		Attributes:    int16(codec & AttrCompressionMask),
		ProducerID:    -1,
		ProducerEpoch: -1,
		BaseSequence:  -1,
	}}
}

// SetProducer makes the batch idempotent: producer id, epoch and the
// sequence number of its first record.
func (b *Builder) SetProducer(id int64, epoch int16, baseSequence int32) *Builder {
	b.hdr.ProducerID, b.hdr.ProducerEpoch, b.hdr.BaseSequence = id, epoch, baseSequence
	return b
}

// SetTransactional sets or clears the transactional attribute.
func (b *Builder) SetTransactional(on bool) *Builder {
	if on {
		b.hdr.Attributes |= AttrTransactional
	} else {
		b.hdr.Attributes &^= AttrTransactional
	}
	return b
}

// Add appends a record with an absolute timestamp in milliseconds. A nil
// key or value is encoded as null.
func (b *Builder) Add(key, value []byte, timestamp int64, headers ...RecordHeader) *Builder {
	if !b.started {
		b.hdr.FirstTimestamp, b.hdr.MaxTimestamp, b.started = timestamp, timestamp, true
	}
	if timestamp > b.hdr.MaxTimestamp {
		b.hdr.MaxTimestamp = timestamp
	}
	b.records = AppendRecord(b.records, &Record{
		TimestampDelta: timestamp - b.hdr.FirstTimestamp,
		OffsetDelta:    b.n,
		Key:            key,
		Value:          value,
		Headers:        headers,
	})
	b.n++
	return b
}

// Len is the number of records added so far.
func (b *Builder) Len() int { return int(b.n) }

// Build encodes the batch with base offset 0 (the log assigns the real one).
// Building an empty batch is an error.
func (b *Builder) Build() ([]byte, error) {
	if b.n == 0 {
		return nil, ErrBadRecords
	}
	h := b.hdr
	h.LastOffsetDelta = b.n - 1
	h.RecordCount = b.n
	return Assemble(h, b.records)
}

// Reset empties the builder, keeping its codec and producer settings.
func (b *Builder) Reset() {
	b.records, b.n, b.started = b.records[:0], 0, false
	b.hdr.FirstTimestamp, b.hdr.MaxTimestamp = 0, 0
}
