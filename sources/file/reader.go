package file

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/runnel-io/runnel/engine"
)

// readBufferSize is the size of a file's read buffer.
const readBufferSize = 64 << 10

// input is one file the source knows of.
type input struct {
	path string // identity: cleaned absolute path
	in   engine.Input
	hdrs []engine.Header // shared by the file's records

	f  *os.File // nil until the file is first read, and after it is done
	fi os.FileInfo
	r  *bufio.Reader
	cr countingReader

	pos     int64  // where reading resumes: after the last whole line taken
	size    int64  // last size seen
	partial []byte // bytes of a line whose end has not been read yet

	header     []string // CSV column names, once read
	headerRead bool

	done bool // bounded mode: read to the end and closed
	gone bool // follow mode: deleted or replaced; drain, then drop
}

// countingReader counts the bytes read from a file.
type countingReader struct {
	f *os.File
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n += int64(n)
	return n, err
}

func newInput(path string, start int64) *input {
	return &input{
		path: path,
		in:   engine.Input{Stream: path, Partition: 0},
		hdrs: []engine.Header{{Key: HeaderFile, Value: []byte(path)}},
		pos:  start,
		size: start,
	}
}

// read is how many bytes have been read from the file: pos plus what is
// buffered or held as a partial line.
func (f *input) read() int64 {
	if f.f == nil {
		return f.pos
	}
	return f.cr.n
}

// truncatedError reports a file shorter than what was read of it.
func truncatedError(path string, pos, size int64) error {
	return fmt.Errorf("file source: %s: truncated below position %d (size now %d)", path, pos, size)
}

// open opens the file and positions it at f.pos. For a CSV file with a
// header resuming past it, the header is read from the start first.
func (f *input) open(csvHeader bool, maxLine int) error {
	h, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("file source: %w", err)
	}
	fi, err := h.Stat()
	if err == nil && fi.Size() < f.pos {
		err = truncatedError(f.path, f.pos, fi.Size())
	}
	if err == nil && f.pos > 0 {
		_, err = h.Seek(f.pos, io.SeekStart)
	}
	if err == nil && csvHeader && !f.headerRead && f.pos > 0 {
		err = f.readHeaderAt0(h, maxLine)
	}
	if err != nil {
		h.Close()
		return err
	}
	f.f, f.fi = h, fi
	f.cr = countingReader{f: h, n: f.pos}
	if f.r == nil {
		f.r = bufio.NewReaderSize(&f.cr, readBufferSize)
	} else {
		f.r.Reset(&f.cr)
	}
	f.partial = f.partial[:0]
	f.size = max(f.size, fi.Size())
	return nil
}

// readHeaderAt0 reads the CSV header of a file resumed past it: the first
// non-blank line before f.pos.
func (f *input) readHeaderAt0(h *os.File, maxLine int) error {
	r := bufio.NewReader(io.NewSectionReader(h, 0, f.pos))
	var off int64
	for {
		line, err := readFullLine(r, maxLine+1)
		if err != nil || !bytes.HasSuffix(line, []byte{'\n'}) {
			if err == nil || errors.Is(err, io.EOF) {
				return fmt.Errorf("file source: %s: no CSV header before resume position %d", f.path, f.pos)
			}
			return fmt.Errorf("file source: %s: reading the CSV header: %w", f.path, err)
		}
		start := off
		off += int64(len(line))
		if line = trimEOL(line); start == 0 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if len(line) == 0 {
			continue
		}
		cols, err := parseCSVLine(line)
		if err != nil {
			return fmt.Errorf("file source: %s: offset %d: CSV header: %w", f.path, start, err)
		}
		return f.setHeader(cols, start)
	}
}

// readFullLine reads up to and including '\n', or to EOF, at most limit
// bytes; it returns errLineTooLong beyond.
func readFullLine(r *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) > limit {
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, err
		}
	}
}

var errLineTooLong = errors.New("line too long")

// close releases the file handle; the input keeps its position.
func (f *input) close() error {
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	f.r.Reset(nil)
	f.partial = f.partial[:0]
	return err
}

// nextLine returns the next whole line, with its "\n", and the offset it
// starts at; ok is false at the end of the data read so far. With final a
// last line without "\n" is returned at the end too. The line is valid
// until the next call.
func (f *input) nextLine(final bool, maxLine int) (line []byte, start int64, ok bool, err error) {
	for {
		chunk, err := f.r.ReadSlice('\n')
		if n := len(f.partial) + len(chunk); n > maxLine && (err != nil || n-1 > maxLine) {
			return nil, f.pos, false, fmt.Errorf("file source: %s: offset %d: line longer than %d bytes", f.path, f.pos, maxLine)
		}
		switch {
		case err == nil:
			if len(f.partial) > 0 {
				f.partial = append(f.partial, chunk...)
				chunk = f.partial
				f.partial = f.partial[:0]
			}
			start = f.pos
			f.pos += int64(len(chunk))
			return chunk, start, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			f.partial = append(f.partial, chunk...)
		case errors.Is(err, io.EOF):
			f.partial = append(f.partial, chunk...)
			if !final || len(f.partial) == 0 {
				return nil, f.pos, false, nil
			}
			line = f.partial
			f.partial = f.partial[:0]
			start = f.pos
			f.pos += int64(len(line))
			return line, start, true, nil
		default:
			return nil, f.pos, false, fmt.Errorf("file source: %s: %w", f.path, err)
		}
	}
}

// trimEOL drops a trailing "\n" or "\r\n".
func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line
}
