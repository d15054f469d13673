package store

import (
	"errors"
	"fmt"
)

// Errors returned by the store. Every error that a caller may want to
// classify wraps one of the EXTERNAL sentinels, so match with errors.Is; the
// wire layer maps them to Kafka error codes (ErrTopicExists to
// TOPIC_ALREADY_EXISTS, ErrUnknownTopic to UNKNOWN_TOPIC_OR_PARTITION,
// ErrInvalidTopic to INVALID_TOPIC_EXCEPTION, ErrInvalidConfig to
// INVALID_CONFIG, ErrInvalidPartitions to INVALID_PARTITIONS). A call that
// finds several problems reports all of them in one error, built with
// errors.Join, so it can match more than one sentinel.
var (
	// ErrTopicExists is returned by CreateTopic for a name in use.
	ErrTopicExists = errors.New("broker/store: topic already exists")
	// ErrUnknownTopic is returned for a topic that does not exist, or a
	// partition past the topic's last one (Kafka uses one code for both).
	ErrUnknownTopic = errors.New("broker/store: unknown topic or partition")
	// ErrInvalidTopic is returned for a topic name that breaks Kafka's
	// rules (see ValidateTopicName).
	ErrInvalidTopic = errors.New("broker/store: invalid topic name")
	// ErrInvalidConfig is returned for unknown topic configs, values that
	// do not parse or are out of range, and invalid Options.
	ErrInvalidConfig = errors.New("broker/store: invalid config")
	// ErrInvalidPartitions is returned for a partition count below 1,
	// above MaxPartitions, or (CreatePartitions) not above the current one.
	ErrInvalidPartitions = errors.New("broker/store: invalid number of partitions")
	// ErrClosed is returned by calls on a closed store.
	ErrClosed = errors.New("broker/store: store is closed")
	// ErrLocked is returned by Open when another Store (in this process
	// or another) has the data directory open.
	ErrLocked = errors.New("broker/store: data directory is in use")
	// ErrCorrupt is wrapped by *CorruptError: a metadata file of the data
	// directory cannot be trusted. The store refuses to open rather than
	// guess.
	ErrCorrupt = errors.New("broker/store: corrupt metadata")
)

// CorruptError reports a metadata file of the data directory that cannot be
// used: which file, which line (0 when the problem is not on one line, such
// as a missing key), and what is wrong. It wraps ErrCorrupt.
type CorruptError struct {
	Path   string
	Line   int
	Detail string
}

func (e *CorruptError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Detail)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corruptf(path string, line int, format string, args ...any) error {
	return &CorruptError{Path: path, Line: line, Detail: fmt.Sprintf(format, args...)}
}
