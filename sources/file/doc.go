// Package file is the file source of runnel: it reads lines from local
// files, matched by paths, globs and directories, and emits one record per
// line (or per JSON line, or per CSV row).
//
// # Tasks and positions
//
// The source has a single task, 0. Every file is one input:
//
//	engine.Input{Stream: <cleaned absolute path>, Partition: 0}
//
// and a record's position is the byte range of its line:
//
//	Pos.Offset = byte offset at which the line starts
//	Pos.Next   = byte offset just after its "\n" (the file size for a
//	             last line without one, in bounded mode)
//
// On the first Poll the source calls Assignments.Assigned for task 0 and
// resumes every file at the position returned for it. A file without a
// returned position resumes at the offset stored in Config.OffsetsFile,
// if any, and otherwise at 0. A file's identity is its path: a file that
// is replaced under the same path continues at the old file's position.
//
// # Records
//
// Each record has a nil key, the line as its value (without "\n" or
// "\r\n"), the wall-clock time it was read at as its time (Unix ms) and one
// header, "runnel.file" (HeaderFile), holding the file's identity. Header
// values are shared between the records of a file and must not be
// modified.
//
// Formats:
//
//	lines  every line is a record, empty lines too (the default)
//	jsonl  every non-blank line is a record, its bytes kept as they are;
//	       a line that is not valid JSON fails Poll
//	csv    every row is a record whose value is a JSON object
//	       {"<column>": "<text>", ...} in header order; with
//	       CSVHeader false there is no header and the value is a JSON
//	       array of strings. A row must have as many fields as the
//	       header. Rows are read one per line: quoted fields that span
//	       lines are not supported and fail Poll.
//
// A line longer than MaxLineBytes fails Poll with an error naming the file
// and the offset; files are read through a bounded buffer, never whole.
//
// # Bounded and following
//
// Without Config.Follow the source is bounded: it reads the files found at
// Open in sorted path order, each to its end (a last line without "\n" is
// emitted too), globs the paths once more to pick up files created in the
// meantime, reads those, and then Poll returns connect.ErrEndOfInput. A
// literal path (no glob characters) that does not exist fails Open.
//
// With Follow the source never ends. It globs the paths and checks the
// size of every known file every PollInterval, reads files round-robin so
// that one busy file does not starve the others, and holds back a last
// line until its "\n" arrives. A file that becomes shorter than what was
// read of it fails Poll ("truncated below position N"); so does a file
// whose resume position lies beyond its end. A file that is deleted or
// replaced is read to the end through its open handle first (its
// unterminated last line, if any, is then emitted as it is), and a file
// appearing later under the same path resumes at the position reached.
//
// # Commit
//
// Commit writes the positions of task 0 to OffsetsFile, when set, as
// JSON, atomically (temporary file, fsync, rename, fsync of the
// directory):
//
//	{"version":1,"positions":[{"stream":"/abs/path","partition":0,"next":123},...]}
//
// Without OffsetsFile Commit does nothing: the positions live in the
// exactly-once sink, which reports them through Assignments.Assigned.
//
// # Concurrency
//
// Open, Poll and Close must be called from one goroutine at a time. Lag
// and Commit may be called from any goroutine, concurrently with Poll.
package file
