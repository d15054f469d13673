// Package log is the storage of one partition of runnel's broker: an
// append-only sequence of Kafka RecordBatch v2 batches (see package batch),
// split into segments, with sparse indexes, a recovery checkpoint,
// retention and compaction. It knows nothing about the wire protocol.
//
// # Layout
//
// A partition directory, "<data-dir>/<topic>-<partition>/", holds:
//
//	00000000000000000000.log        batches, stored as received
//	00000000000000000000.index      offset -> file position, sparse
//	00000000000000000000.timeindex  timestamp -> offset, sparse
//	00000000000000000000.txnindex   aborted transactions whose marker is here
//	00000000000000000000.snapshot   producer state at this offset
//	00000000000000052143.log        the next segment: named by its base offset
//	...                             (20 digits, zero-padded, as Kafka does)
//	checkpoint                      recovery point and log start offset
//
// The producer state (idempotent and transactional producers: sequence
// numbers, epochs, open transactions) and the .txnindex and .snapshot
// formats are described in producers.go.
//
// # The .log file
//
// A segment's .log file is the concatenation of batches exactly as Kafka
// writes them, so a Read hands the stored bytes to a consumer without
// re-encoding:
//
//	+-------------------------------+-------------------------------+----
//	| batch: baseOffset int64,      | batch: baseOffset = previous  |
//	| length int32, ... (61 bytes   | lastOffset + 1 (or more after |
//	| of header), records           | compaction)                   | ...
//	+-------------------------------+-------------------------------+----
//
// Append checks each batch (length, magic 2, CRC-32C, header ranges),
// rewrites its baseOffset (not covered by the CRC) to the next offset of the
// log, and writes all batches of the call with one write. Compressed
// batches stay compressed.
//
// # The .index file
//
// Eight bytes per entry, big-endian, one entry each time IndexIntervalBytes
// (index.interval.bytes, 4 KiB) of log have been written since the last one:
//
//	+-----------------------+-----------------------+
//	| relativeOffset uint32 | position uint32       |
//	| (baseOffset - segment | (byte offset of the   |
//	|  base offset)         |  batch in .log)       |
//	+-----------------------+-----------------------+
//
// Both columns grow strictly. To find an offset: binary search the segment
// by base offset, binary search the index for the last entry at or below
// the offset, then read batch headers forward from its position (at most
// about 4 KiB of them).
//
// # The .timeindex file
//
// Twelve bytes per entry, big-endian, written with an index entry when the
// largest timestamp seen in the segment has grown, and once more when the
// segment stops being active:
//
//	+-----------------------+-----------------------+
//	| timestamp int64 (ms)  | relativeOffset uint32 |
//	+-----------------------+-----------------------+
//
// An entry (T, R) means every record up to relative offset R has a
// timestamp of at most T, so a search for the first record at or after time
// t starts after the last entry with T < t. The last entry holds the
// segment's largest timestamp, which retention.ms compares with the clock.
//
// # The checkpoint file
//
//	 0        4         6        8                 16                24
//	+--------+---------+--------+-----------------+-----------------+
//	| "RNCP" | version | flags  | recoveryPoint   | logStartOffset  |
//	|        | uint16=1| uint16 | int64           | int64           |
//	+--------+---------+--------+-----------------+-----------------+
//	 24                32                40               44
//	+-----------------+-----------------+----------------+
//	| logEndOffset    | activeSize      | CRC-32C of     |
//	| int64           | int64           | bytes 0..39    |
//	+-----------------+-----------------+----------------+
//
// flags bit 0 is "clean": set by Close after everything was fsynced, and
// cleared by Open before anything is written. It is replaced atomically
// (temp file, fsync, rename, fsync of the directory).
//
// # Durability
//
// The default policy (flush.messages=1) is durable: Append returns after the
// batch is fsynced (fdatasync of the .log). Appenders that wait at the same
// time share one fsync (group commit): the first becomes the syncer, and
// everyone who wrote before its fsync started is released by it. Readers
// see only fsynced records: the high watermark is the fsynced end, so a
// consumer can never observe a record that a crash could take back. With
// flush.messages=N>1 an append returns without waiting unless N records
// are unflushed, flush.ms bounds their age (Tick), and readers see records
// as soon as they are written.
//
// Index entries are kept in memory and written to their files when a
// segment rolls and at Close; after a crash they are rebuilt from the log.
//
// # Recovery
//
// The recovery point is the base offset of the active segment: everything
// before it (logs and indexes) was fsynced when the segment rolled. Open
// trusts the segments below it and loads their indexes, checking that each
// index is well formed (a size that is a multiple of its entry, growing
// entries, positions inside the log); a missing or damaged index is rebuilt
// by reading its segment. After a clean Close the active segment is trusted
// as well, so a restart reads no log data at all: opening costs one stat and
// two index reads per segment, whatever the log's size.
//
// After a crash, the segments from the recovery point on are validated
// batch by batch: length, magic, CRC and offsets that only grow. At the
// first torn or corrupt batch the segment is truncated, later segments are
// deleted, and the loss (file, position, bytes, first lost offset, reason)
// is reported in RecoveryReport and logged. An acknowledged batch was
// fsynced before its acknowledgment, so recovery only ever removes data
// whose append had not returned.
//
// # Retention and compaction
//
// EnforceRetention deletes whole segments from the oldest: past
// retention.ms by their largest timestamp, while the log stays above
// retention.bytes without them, or wholly below the log start offset (which
// DeleteRecords advances). Compact keeps the newest record per key in the
// segments before the active one; see Compact for the file protocol. Both
// are called by the owner of the log (the broker's store runs them in the
// background); neither blocks appends except for swapping a pointer.
package log
