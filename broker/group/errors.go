package group

import "errors"

// Errors of the coordinator. Protocol errors are not here: they are Kafka
// error codes (package kerr) in the responses.
var (
	// EXTERNAL

	// ErrClosed is returned by Coordinator.Handle once Close has started
	// and the request could not be served; the wire layer answers
	// COORDINATOR_NOT_AVAILABLE, and the client finds the coordinator
	// again.
	ErrClosed = errors.New("broker/group: coordinator is closed")
	// ErrTooLarge is what a Storage wraps when a batch is over the
	// topic's max.message.bytes. An offset commit then gets
	// INVALID_COMMIT_OFFSET_SIZE, as Kafka answers.
	ErrTooLarge = errors.New("broker/group: record batch too large")

	// INTERNAL

	// errBadRecord marks a record of __consumer_offsets that does not
	// decode; loading skips it and logs.
	errBadRecord = errors.New("broker/group: undecodable __consumer_offsets record")
)
