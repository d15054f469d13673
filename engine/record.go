package engine

// Header is a record header, as in Kafka.
type Header struct {
	Key   string
	Value []byte
}

// Input names one partition of one source stream: a topic partition, or a
// file for the file source (Stream is then the file's identity and
// Partition is 0).
type Input struct {
	Stream    string
	Partition int32
}

// Pos is where a record was read from.
type Pos struct {
	Input
	// Offset is the record's own offset: the Kafka offset, or the byte
	// offset at which a line starts.
	Offset int64
	// Next is where reading resumes after this record: Offset+1 for a
	// topic, the byte after the line for a file.
	Next int64
}

// Positions maps each input of a task to the position reading resumes at
// (a Pos.Next). It is what exactly-once sinks store with their output.
type Positions map[Input]int64

// Clone returns a copy of p.
func (p Positions) Clone() Positions {
	c := make(Positions, len(p))
	for k, v := range p {
		c[k] = v
	}
	return c
}

// Equal reports whether p and q hold the same positions.
func (p Positions) Equal(q Positions) bool {
	if len(p) != len(q) {
		return false
	}
	for k, v := range p {
		if w, ok := q[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Record is what flows between operators: a key, a value, headers, the
// event time in Unix milliseconds, and the position of the source record
// it derives from (kept through every stateless operator; a window result
// carries the position of the record that closed or updated it).
type Record[K, V any] struct {
	Key     K
	Value   V
	Time    int64
	Headers []Header
	Pos     Pos
}

// Raw is a record as sources produce it and sinks consume it: bytes.
type Raw = Record[[]byte, []byte]

// Header returns the value of the last header named key, and whether there
// is one.
func (r *Record[K, V]) Header(key string) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}
