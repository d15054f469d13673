// Package txn is the broker's transaction coordinator: producer ids for
// idempotent producers, and the state of every transactional.id, as Kafka's
// TransactionCoordinator keeps them.
//
// # States
//
// A transactional id goes Empty -> Ongoing (AddPartitionsToTxn or
// AddOffsetsToTxn) -> PrepareCommit or PrepareAbort (EndTxn) ->
// CompleteCommit or CompleteAbort -> (next transaction) Ongoing ... Every
// transition is written to the internal compacted topic __transaction_state
// before it is acknowledged, in Kafka's record format (kmsg.TxnMetadataKey
// and kmsg.TxnMetadataValue), and the state is rebuilt from that topic at
// startup. A transaction found in a Prepare state at startup is completed:
// its markers are written again (a marker written twice is harmless: the
// second one finds no open transaction).
//
// EndTxn writes the decision first (Prepare*), then a control batch (a
// marker) to every partition of the transaction, including the
// __consumer_offsets partition of each consumer group whose offsets the
// transaction carries, tells the group coordinator to make those offsets
// visible or drop them, and then writes Complete*. EndTxn answers after all
// of it is durable, so a producer that saw its commit succeed can rely on
// read_committed consumers seeing its records.
//
// # Fencing
//
// InitProducerId for a transactional id bumps its epoch. Partitions refuse
// batches and markers with an older epoch (broker/log), so a zombie
// producer with the old epoch can write nothing more. A transaction open
// longer than its timeout is aborted by the coordinator with a bumped epoch,
// which fences its producer too, as Kafka does.
//
// # Producer ids
//
// Producer ids come from blocks reserved in the file "producer-id-block"
// of the data directory (a decimal number: the first id not yet
// reserved), replaced atomically before any id of a new block is handed
// out. A crash skips the rest of a block; an id is never handed out twice.
package txn
