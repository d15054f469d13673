// Package broker is runnel's Kafka-compatible broker: a TCP server that
// speaks the Kafka wire protocol (requests and responses encoded with
// franz-go's kmsg, error codes from kerr) over the partition logs of
// package broker/store, so that unmodified Kafka clients (librdkafka,
// kafka-python, franz-go, sarama, kcat) use it as they would use Kafka.
//
// # Usage
//
//	b, err := broker.New(broker.DataDir("./data"), broker.ListenAddr("127.0.0.1:0"))
//	if err != nil { ... }
//	defer b.Close()
//	client, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//
// The same broker runs standalone as `runnel broker`.
//
// # Structure
//
// wire.go frames and decodes requests; broker.go owns the listener and the
// connections; each Kafka API lives in its own file named after its key
// (18_api_versions.go, ...), which starts with the versions it serves and
// how it differs from Kafka, and registers itself with regKey. ApiVersions
// advertises exactly what is registered. Requests on one connection are
// served one at a time and answered in order, as Kafka does.
//
// Storage lives in sub-packages that know nothing of the wire:
// broker/batch (the RecordBatch format, and the old message sets that Produce
// and Fetch v0-v2 convert from and to), broker/log (one partition's
// segments, with its idempotent and transactional producers' state) and
// broker/store (the data directory: topics, configs, identity, background
// retention and compaction). The coordinators sit beside them:
// broker/group (consumer groups and committed offsets, persisted in
// __consumer_offsets) and broker/txn (producer ids and transactions,
// persisted in __transaction_state). groups.go and broker.go connect them
// to the store.
//
// # Failure handling
//
// A frame that cannot be parsed, an unknown API or version (other than
// ApiVersions, which answers UNSUPPORTED_VERSION) or a request larger than
// MaxRequestBytes closes that connection and nothing else. Close stops
// accepting, lets the request in flight on each connection finish, then
// flushes and checkpoints every log.
package broker
