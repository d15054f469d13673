package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/runnel-io/runnel/broker/batch"
	"github.com/runnel-io/runnel/broker/log"
	"github.com/runnel-io/runnel/broker/store"
)

// errorCode maps an error of the storage packages to the Kafka error code
// a client expects; 0 for nil. Unknown errors are KAFKA_STORAGE_ERROR for
// I/O and UNKNOWN_SERVER_ERROR otherwise, and are logged by the caller.
func errorCode(err error) int16 {
	var ke *kerr.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ke):
		return ke.Code
	case errors.Is(err, store.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, store.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, store.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, store.ErrInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, store.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, log.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, log.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, log.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, log.ErrTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, batch.ErrCRC):
		return kerr.CorruptMessage.Code
	case errors.Is(err, batch.ErrUnknownMagic), errors.Is(err, batch.ErrBadLength),
		errors.Is(err, batch.ErrShort), errors.Is(err, batch.ErrBadHeader),
		errors.Is(err, batch.ErrBadRecords), errors.Is(err, log.ErrEmptyAppend),
		errors.Is(err, log.ErrControlBatch):
		return kerr.InvalidRecord.Code
	case errors.Is(err, log.ErrFailed), errors.Is(err, log.ErrClosed), errors.Is(err, store.ErrClosed):
		return kerr.KafkaStorageError.Code
	}
	return kerr.UnknownServerError.Code
}

// errorMessage is the text for the ErrorMessage fields of newer versions.
func errorMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
