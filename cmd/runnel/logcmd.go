package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/runnel-io/runnel/broker/batch"
)

func newLogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Inspect the files of a partition log",
	}
	cmd.AddCommand(newLogDumpCmd())
	return cmd
}

// dumpOptions are the flags of "runnel log dump".
type dumpOptions struct {
	Records    bool // print every record of every batch
	ValueBytes int  // print at most this many bytes of a key or value
}

func newLogDumpCmd() *cobra.Command {
	opts := dumpOptions{ValueBytes: 80}
	cmd := &cobra.Command{
		Use:   "dump FILE...",
		Short: "Print the batches of .log segments and the entries of .index and .timeindex files",
		Long: `dump prints what a partition log file holds, like Kafka's kafka-dump-log.sh.

For a .log segment it prints one line per record batch: its position in the
file, offsets, record count, compression, timestamps, producer and whether
its CRC is valid; with --records, one line per record too. At the first
batch that is torn or corrupt it prints what is wrong and stops with that
file (and the command exits with status 1).

For a .index file it prints offset -> position entries, for a .timeindex
file timestamp -> offset entries. The index files of the active segment are
written when the segment rolls and when the log is closed, so they can be
empty while a broker runs.`,
		Example: "  runnel log dump data/quickstart-0/00000000000000000000.log --records\n" +
			"  runnel log dump data/quickstart-0/*.index",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("name at least one .log, .index or .timeindex file\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			return dumpFiles(cmd.OutOrStdout(), files, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Records, "records", false, "print every record (offset, timestamp, key, value)")
	cmd.Flags().IntVar(&opts.ValueBytes, "value-bytes", opts.ValueBytes, "print at most this many bytes of each key and value")
	return cmd
}

// errReported means the problem was printed in the dump itself.
var errReported = errors.New("reported in the dump")

// dumpFiles dumps each file in turn; a bad file does not stop the others,
// but makes the result an error.
func dumpFiles(w io.Writer, files []string, opts dumpOptions) error {
	bw := bufio.NewWriter(w)
	var errs []error
	for i, path := range files {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		err := dumpFile(bw, path, opts)
		switch {
		case errors.Is(err, errReported):
			errs = append(errs, fmt.Errorf("%s: stopped at the problem shown above", path))
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d files could not be dumped:", len(errs), len(files))
	for _, err := range errs {
		b.WriteString("\n  " + err.Error())
	}
	return errors.New(b.String())
}

func dumpFile(w io.Writer, path string, opts dumpOptions) error {
	name := filepath.Base(path)
	var dump func(io.Reader, int64) error
	switch {
	case strings.HasSuffix(name, ".log"):
		dump = func(r io.Reader, size int64) error { return dumpSegment(w, r, size, opts) }
	case strings.HasSuffix(name, ".index"):
		dump = func(r io.Reader, size int64) error { return dumpIndex(w, r, size, baseOffsetOf(w, name), false) }
	case strings.HasSuffix(name, ".timeindex"):
		dump = func(r io.Reader, size int64) error { return dumpIndex(w, r, size, baseOffsetOf(w, name), true) }
	default:
		return errors.New("not a file runnel can dump: expected a name ending in .log, .index or .timeindex")
	}
	f, err := os.Open(path)
	if err != nil {
		return unwrapPathError(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return unwrapPathError(err)
	}
	if info.IsDir() {
		return errors.New("is a directory: name the .log, .index or .timeindex files in it")
	}
	fmt.Fprintf(w, "Dumping %s (%d bytes)\n", path, info.Size())
	return dump(f, info.Size())
}

// unwrapPathError drops the path from an *os.PathError: the caller prints
// the path already.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot %s: %w", pe.Op, pe.Err)
	}
	return err
}

// baseOffsetOf parses the base offset from a segment file name
// ("00000000000000052143.index"), which index entries are relative to.
func baseOffsetOf(w io.Writer, name string) int64 {
	digits, _, _ := strings.Cut(name, ".")
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || len(digits) != 20 {
		fmt.Fprintf(w, "(the file name has no base offset: offsets below are relative to the segment)\n")
		return 0
	}
	return n
}

// dumpSegment prints the batches of a .log file, reading it sequentially.
func dumpSegment(w io.Writer, r io.Reader, fileSize int64, opts dumpOptions) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var pos, batches, records int64
	stop := func(format string, args ...any) error {
		fmt.Fprintf(w, "position: %d: %s; stopping here, %d bytes not dumped\n", pos, fmt.Sprintf(format, args...), fileSize-pos)
		return errReported
	}
	for pos < fileSize {
		left := fileSize - pos
		if left < batch.LogOverhead {
			return stop("%d bytes at the end are too few for a batch (a torn write?)", left)
		}
		head, err := br.Peek(batch.LogOverhead)
		if err != nil {
			return stop("read: %v", err)
		}
		n, err := batch.Frame(head, 0)
		if err != nil {
			return stop("bad batch: %v", err)
		}
		if int64(n) > left {
			return stop("the batch claims %d bytes but only %d are left in the file (a torn write?)", n, left)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return stop("read: %v", err)
		}
		h, _, err := batch.Check(buf, 0)
		if err != nil {
			if errors.Is(err, batch.ErrCRC) {
				h, _ = batch.ParseHeader(buf)
				printBatch(w, pos, &h, false)
			}
			return stop("bad batch: %v", err)
		}
		printBatch(w, pos, &h, true)
		if opts.Records {
			recs, err := batch.Records(buf, &h)
			if err != nil {
				return stop("records of the batch do not decode: %v", err)
			}
			for _, rec := range recs {
				ts := h.FirstTimestamp + rec.TimestampDelta
				if h.Attributes&batch.AttrLogAppendTime != 0 {
					ts = h.MaxTimestamp
				}
				fmt.Fprintf(w, "| offset: %d timestamp: %s key: %s value: %s headers: %d\n",
					h.BaseOffset+int64(rec.OffsetDelta), formatMillis(ts),
					truncate(rec.Key, opts.ValueBytes), truncate(rec.Value, opts.ValueBytes), len(rec.Headers))
			}
		}
		batches++
		records += int64(h.RecordCount)
		pos += int64(n)
	}
	fmt.Fprintf(w, "%d %s, %d %s, %d bytes: the whole file is valid\n",
		batches, plural(batches, "batch", "batches"), records, plural(records, "record", "records"), pos)
	return nil
}

// printBatch prints one batch header line, in the spirit of
// kafka-dump-log.sh.
func printBatch(w io.Writer, pos int64, h *batch.Header, crcValid bool) {
	tsType := "CreateTime"
	if h.Attributes&batch.AttrLogAppendTime != 0 {
		tsType = "LogAppendTime"
	}
	fmt.Fprintf(w, "position: %d baseOffset: %d lastOffset: %d count: %d size: %d codec: %s "+
		"firstTimestamp: %s maxTimestamp: %s timestampType: %s "+
		"producerId: %d producerEpoch: %d baseSequence: %d transactional: %t control: %t crc: %08x crcValid: %t\n",
		pos, h.BaseOffset, h.LastOffset(), h.RecordCount, h.Size(), codecName(h.Codec()),
		formatMillis(h.FirstTimestamp), formatMillis(h.MaxTimestamp), tsType,
		h.ProducerID, h.ProducerEpoch, h.BaseSequence, h.IsTransactional(), h.IsControl(), h.CRC, crcValid)
}

// dumpIndex prints the entries of an .index (offset, position; 8 bytes
// each) or .timeindex (timestamp, offset; 12 bytes each) file, both
// big-endian with offsets relative to base. It stops at an entry that
// does not grow, or a partial entry at the end.
func dumpIndex(w io.Writer, r io.Reader, fileSize int64, base int64, timeIndex bool) error {
	entry := int64(8)
	if timeIndex {
		entry = 12
	}
	br := bufio.NewReader(r)
	buf := make([]byte, entry)
	var n int64
	var prevA, prevB int64 = -1 << 62, -1 << 62
	for ; (n+1)*entry <= fileSize; n++ {
		if _, err := io.ReadFull(br, buf); err != nil {
			fmt.Fprintf(w, "entry %d: read: %v\n", n, err)
			return errReported
		}
		var a, b int64 // the two columns, as printed
		if timeIndex {
			a, b = int64(binary.BigEndian.Uint64(buf)), base+int64(binary.BigEndian.Uint32(buf[8:]))
			fmt.Fprintf(w, "timestamp: %s (%d) offset: %d\n", formatMillis(a), a, b)
		} else {
			a, b = base+int64(binary.BigEndian.Uint32(buf)), int64(binary.BigEndian.Uint32(buf[4:]))
			fmt.Fprintf(w, "offset: %d position: %d\n", a, b)
		}
		if a <= prevA || b < prevB || (!timeIndex && b == prevB) {
			fmt.Fprintf(w, "entry %d does not grow from the one before it: the index is corrupt (runnel rebuilds it from the log at the next start)\n", n)
			return errReported
		}
		prevA, prevB = a, b
	}
	if rest := fileSize - n*entry; rest != 0 {
		fmt.Fprintf(w, "%d bytes at the end are a partial entry: the index is corrupt (runnel rebuilds it from the log at the next start)\n", rest)
		return errReported
	}
	fmt.Fprintf(w, "%d %s\n", n, plural(n, "entry", "entries"))
	return nil
}

// formatMillis formats a Kafka timestamp (ms since the epoch; -1 for none).
func formatMillis(ms int64) string {
	if ms < 0 {
		return strconv.FormatInt(ms, 10)
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// truncate renders a key or value for a terminal: null, the text when it is
// printable UTF-8, else Go-quoted, cut after max bytes with the full size.
func truncate(b []byte, max int) string {
	if b == nil {
		return "null"
	}
	cut := b
	if max >= 0 && len(b) > max {
		cut = b[:max]
		for utf8.Valid(b) && !utf8.Valid(cut) { // do not split a rune of a text
			cut = cut[:len(cut)-1]
		}
	}
	s := string(cut)
	if !printable(s) {
		s = strconv.Quote(s)
	}
	if len(cut) < len(b) {
		s += fmt.Sprintf("... (%d bytes)", len(b))
	}
	return s
}

func printable(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
