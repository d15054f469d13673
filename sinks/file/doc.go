// Package file is the file sink of runnel: it writes records to part files
// in a directory, exactly once. The positions a part file covers are
// stored in its name, so that renaming the finished file into place
// commits its records and its positions in one atomic step.
//
// # Files
//
// For Prefix "part", Format "jsonl" and task 0 (seq: 10 digits):
//
//	<Dir>/
//	  .part-0-0000000007.jsonl.inprogress      being written: task 0, seq 7
//	  part-0-0000000005-p01d0m8b....jsonl      committed: task 0, seq 5; the
//	                                           positions are in the token
//	  part-0-0000000006-h9f86d081....jsonl     committed: positions too long for
//	                                           a name are in _positions/<hash>.json
//	  _positions/9f86d081884c7d659a2feaa0c55ad015.json
//	  _committed/part-1-0000000004-p01d0m8c... a commit of task 1 with no new
//	                                           records: an empty marker file
//
// A name's parts are the prefix, the task, the seq and the token:
//
//	<prefix>-<task>-<seq>-<token>.<ext>    part file (ext: jsonl or csv)
//	_committed/<prefix>-<task>-<seq>-<token>   marker
//	.<prefix>-<task>-<seq>.<ext>.inprogress    in-progress file
//
// Every commit of a task takes the next seq, whether it renames a part file
// or writes a marker. (A task with nothing written and positions unchanged
// since its last commit has nothing to commit: Commit skips it, so an idle
// pipeline does not write a marker at every checkpoint.) A task's last commit is the part file or marker with
// the highest seq, and its token holds the task's positions.
//
// # Tokens
//
// An inline token is "p" followed by the positions, sorted by stream then
// partition, encoded as below and written in lower-case base32hex
// (0-9a-v) without padding:
//
//	| count uvarint | count × ( | len uvarint | stream (len bytes) | partition zigzag varint | next zigzag varint | ) |
//
// When the part file's name would be longer than 200 bytes, the token is
// "h" followed by the first 32 hex digits of the SHA-256 of that encoding,
// and the positions are written first, atomically, to
// _positions/<those 32 digits>.json:
//
//	{"encoded":"<base32hex of the encoding>","positions":[{"stream":"...","partition":0,"next":12},...]}
//
// The "encoded" field is what is read back (it survives stream names that
// are not UTF-8); the list is for people. Reading checks the hash.
//
// # Protocol
//
//	OpenTask(t)  scan Dir and _committed: seq(t) = highest seq of t's part
//	             files and markers; positions = its token's (nil if none,
//	             or if the token holds no positions);
//	             delete t's in-progress files; fsync Dir and _committed;
//	             delete t's older markers
//	Write(t)     append to .<prefix>-<t>-<seq(t)+1>.<ext>.inprogress,
//	             created on the first record (CSV: with the header row)
//	Commit(cp)   for each task t of cp:
//	               with an in-progress file: flush, fsync, [write the
//	               _positions sidecar], rename it to <prefix>-<t>-<seq>-<token>.<ext>
//	               without: create _committed/<prefix>-<t>-<seq>-<token>
//	             fsync Dir (and _committed); seq(t) = seq; delete t's
//	             older markers
//	CloseTask(t) delete t's in-progress file
//	DeletePositions()
//	             for each task t whose last commit holds positions: create
//	             _committed/<prefix>-<t>-<seq(t)+1>-<token of no positions>;
//	             fsync _committed; delete t's older markers
//
// A kill -9 at any point leaves every commit either done (the rename or
// marker creation was made durable by the directory fsync before Commit
// returned) or not (the in-progress file is deleted by the next OpenTask,
// and the records are read again from the positions of the last commit).
// Recovery relies on one process at a time owning a task.
//
// A failed Commit leaves its tasks in doubt: Write and Commit fail for them
// until OpenTask is called again, which reads the truth from the disk.
//
// Files in _positions are never deleted by the sink, even once no part
// file or marker refers to them (several processes may share Dir, and a
// sidecar is written before the file naming it); nor are the temporary
// files ("_positions/.*.tmp") a crash may leave there. They are small and
// may be removed by hand when no process writes to Dir.
//
// # Formats
//
//	jsonl  each record's value on one line; a value holding "\n" fails
//	       Write, which then writes none of its records
//	csv    a header row of Columns, then a row per record, whose value
//	       must be a JSON object: strings are written as they are,
//	       numbers and booleans as their JSON text, objects and arrays as
//	       compact JSON, null and missing fields as empty fields
//
// # Reprocessing
//
// DeletePositions (connect.PositionsDeleter), which a reset of the
// pipeline calls, makes every task's last commit one without positions:
// the next OpenTask reports none, and the stage reads its input again
// from where the reset put it. The part files already committed stay
// where they are, and the new ones are written beside them with the seqs
// that follow (a reader of Dir sees the old output and the new); delete
// the old ones yourself if the new are to replace them.
//
// ReadCommitted lists the committed part files of every task of a Dir,
// LastCommit and DecodePositions read positions back: tools and crash
// tests use them.
package file
