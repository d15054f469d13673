// Package elasticsearch is the Elasticsearch sink of runnel: it indexes
// each record's value as a document, through the bulk API, exactly once.
// Requests go through esapi and elastictransport of
// github.com/elastic/go-elasticsearch/v8, with a bulk indexer of the
// Sink's own; it does not import the client package, which imports the
// typed API (see client.go). Elasticsearch has no transactions: exactly
// once comes from idempotent writes, each carrying an external version
// derived from the record's source position, and from positions stored,
// per task, in an offsets document written once the documents are
// acknowledged.
//
// # Documents
//
// The index of a record is Config.Index, where "{topic}" stands for the
// record's source topic, lower-cased (a record without one is rejected);
// or what Config.IndexFunc returns (the pipeline compiles an index
// expression into it). Its _id is the
// record's key (Config.ID "key", the default) or "<topic>-<partition>-<offset>"
// of its source position ("position"). The value, which must be a JSON
// object, is the document's source, as it is (compacted if it holds a
// newline); headers and the event time are not written. A record that
// cannot be a document (no key with id "key", a value that is no JSON
// object, an _id that is not printable UTF-8 of at most 512 bytes, an
// invalid index name) is rejected by Write; one the cluster refuses (a
// field its mapping cannot hold) by Prepare, with an *ItemError
// "<type>: <reason>" as the reason. Both go to the graph's error policy. A record without
// a value (a tombstone) deletes the document of its key
// (Config.DeleteOnTombstone, default true with id "key").
//
// # Versions
//
// Every index and delete action is sent with version_type "external" and
// version = offset+1 of the record's source position (the byte offset of
// a line for a file source), so that:
//
//   - a replay is idempotent: writing a record again finds the document at
//     its version or a newer one, Elasticsearch answers 409
//     version_conflict_engine_exception, and the Sink counts that as
//     success;
//   - a document never goes back to an older value: within a partition
//     offsets increase, and an older record loses to a newer one whatever
//     the order in which concurrent bulk requests land.
//
// With id "key", outputs of one source record share its version: of those
// for the same document in one Write, only the last is sent. Outputs that
// no record caused (a window closed by a processing-time tick) carry no
// position: they take the highest version the task wrote (or opened at),
// with version_type "external_gte", so that they win over the document of
// the record that came last, and are written again after a crash, as the
// connect contract says.
//
// With id "position" every document is written once: its _id names its
// record, and writing it again is a 409. (A "create" action would do as
// much; an external version makes both id kinds one code path and shows
// the offset as the document's _version.) The n-th output of a source
// record (from 0) gets "-<n>" after its position's _id; records without
// a position are rejected, having nothing to name the document after.
//
// # One key in several partitions
//
// Versions of different partitions are not comparable. With id "key", if
// records of one key come from several partitions (or several topics),
// the document keeps the value of the record with the highest offset, not
// the latest: a record from a partition at lower offsets is refused with
// a 409 and, like a replay, counted as already applied. Its update is
// lost, silently. This is what users of kafka-connect-elasticsearch hit
// with its external versions (offsets as versions, "key.ignore=false").
// Partition the source by the document's key (keyBy upstream, or a topic
// keyed by it) so that a key lives in one partition; or use id
// "position", where each record is its own document. version_type
// "external_gte" would not help: it lets the equal version win, not the
// later record.
//
// Elasticsearch forgets a deleted document's version after
// index.gc_deletes (60s by default): a replay of an older write to a key
// deleted longer ago recreates the document until the replay reaches the
// delete again. The index converges once the replay is done.
//
// # Offsets documents
//
// Positions are stored in Config.OffsetsIndex ("runnel-offsets"), one
// task document per task and, for monitoring, one document per input:
//
//	_id "<consumer>/task:<task>"           the truth, and the fence (TaskDoc)
//	{"consumer":"orders-eu","task":0,"generation":3,"owner":"host/4242/9f86d081",
//	 "positions":[{"topic":"orders","partition":0,"next_offset":1042}],
//	 "updated_at":"2026-01-02T03:04:05.123Z"}
//
//	_id "<consumer>/<topic>/<partition>"   a copy, _version next_offset+1 (PartitionDoc)
//	{"consumer":"orders-eu","topic":"orders","partition":0,"next_offset":1042,
//	 "task":0,"generation":3,"updated_at":"2026-01-02T03:04:05.123Z"}
//
// The per-partition documents are written after the task documents, with
// version_type "external_gte", so that they never go back; OpenTask reads
// only the task document: its id is known before the task's inputs are,
// and one _mget finds the positions of all of them.
//
// # Protocol
//
//	OpenTask(t)  _mget the task document; write it back with generation+1,
//	             if_seq_no/if_primary_term of what was read ("create" if
//	             there was none; on a 409, read again); keep the new
//	             seq_no/primary_term (the fence); return its positions
//	Write(t)     build the actions; refuse (RejectedError) the records that
//	             cannot be documents; add the others to the bulk indexer
//	             (refresh=false), which sends them when a buffer reaches
//	             FlushBytes or FlushInterval, Workers requests at once
//	Prepare(cp)  flush the indexer and wait for every document's outcome:
//	             2xx, 409 (and 404 for a delete): done; 429 and 5xx: sent
//	             again with backoff, MaxRetries times; other 4xx: rejected,
//	             with "<type>: <reason>" (RejectedError); a failed request:
//	             an error
//	Commit(cp)   as Prepare (with nothing refused since); then one bulk
//	             request writes the task documents of cp, each with
//	             if_seq_no/if_primary_term of the fence (a 409: ErrFenced),
//	             and another the per-partition documents
//	CloseTask(t) forget t; its documents in flight may land
//	DeletePositions()
//	             refresh and search OffsetsIndex for the consumer's
//	             documents; write each task document holding positions
//	             back without them, with generation+1, if_seq_no/
//	             if_primary_term of what was found (a 409 fails it);
//	             delete the per-partition documents
//
// The client retries a whole bulk request answered 429, 502, 503 or 504
// or failing in transport, MaxRetries times with the same backoff
// (exponential from RetryBackoff, capped at MaxRetryBackoff, jittered).
// Elasticsearch also refuses single documents with 429
// (es_rejected_execution_exception: a full write queue) in a request that
// succeeded: the indexer reports those, and Prepare sends them again.
//
// # Fencing
//
// A task has one owner at a time: OpenTask's conditional write changes the
// task document's seq_no, so the previous owner's next Commit fails with
// ErrFenced, and its positions are not stored. Its data writes are not
// fenced (Elasticsearch has no transactions): they may still land, but
// they are the documents the new owner writes too, with the same
// versions, so the content converges; only the offsets are fenced.
//
// # Reprocessing
//
// DeletePositions (connect.PositionsDeleter), which a reset of the
// pipeline calls, empties the consumer's task documents: the next
// OpenTask reports no positions, and the stage reads its input again from
// where the reset put it. Versions still decide what lands. Records read
// again from the offsets they were first read at carry the versions they
// had: Elasticsearch answers 409 and keeps the document it holds, which
// is right when the pipeline is the same, and wrong when it changed and
// should write something else. After a key_by, the records are read from
// new offsets of the repartition topic, with higher versions, and their
// outputs replace the documents. To have an index rewritten whatever the
// versions, delete it (or write to a new one) before the new run.
//
// # Crashes
//
// A crash after documents were acknowledged and before their positions
// were stored leaves them in the index: the next owner reads the older
// positions and writes them again, which is a 409 for each, or an
// overwrite with the same content. A Commit that failed in transport
// leaves its tasks in doubt (the fence is unknown): Write, Prepare and
// Commit fail for them until OpenTask. Outputs of a replay that differ
// from the first run's (processing-time windows, a changed pipeline) stay
// where the first run wrote them.
package elasticsearch
