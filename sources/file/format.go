package file

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
)

// utf8BOM may start a CSV file; it is not part of the first column name.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// decoder turns lines into record values for one format. It is used by
// Poll only.
type decoder struct {
	format    string
	csvHeader bool
	buf       bytes.Buffer
	enc       *json.Encoder
}

func newDecoder(format string, csvHeader bool) *decoder {
	d := &decoder{format: format, csvHeader: csvHeader}
	d.enc = json.NewEncoder(&d.buf)
	d.enc.SetEscapeHTML(false)
	return d
}

// value returns the record value of a line of f (without its end of line)
// that starts at offset start, or nil, false for a line that is no record
// (a blank JSON line, a CSV header). The value does not alias line.
func (d *decoder) value(f *input, line []byte, start int64) ([]byte, bool, error) {
	switch d.format {
	case FormatJSONL:
		if len(bytes.TrimSpace(line)) == 0 {
			return nil, false, nil
		}
		if !json.Valid(line) {
			return nil, false, fmt.Errorf("file source: %s: offset %d: invalid JSON line", f.path, start)
		}
		return bytes.Clone(line), true, nil
	case FormatCSV:
		return d.csvValue(f, line, start)
	default:
		v := make([]byte, len(line))
		copy(v, line)
		return v, true, nil
	}
}

func (d *decoder) csvValue(f *input, line []byte, start int64) ([]byte, bool, error) {
	if start == 0 {
		line = bytes.TrimPrefix(line, utf8BOM)
	}
	if len(line) == 0 {
		return nil, false, nil // encoding/csv skips empty lines too
	}
	fields, err := parseCSVLine(line)
	if err != nil {
		return nil, false, fmt.Errorf("file source: %s: offset %d: %w", f.path, start, err)
	}
	if d.csvHeader && !f.headerRead {
		return nil, false, f.setHeader(fields, start)
	}
	d.buf.Reset()
	if !d.csvHeader {
		d.buf.WriteByte('[')
		for i, v := range fields {
			if i > 0 {
				d.buf.WriteByte(',')
			}
			d.str(v)
		}
		d.buf.WriteByte(']')
		return bytes.Clone(d.buf.Bytes()), true, nil
	}
	if len(fields) != len(f.header) {
		return nil, false, fmt.Errorf("file source: %s: offset %d: CSV row has %d fields, the header %d", f.path, start, len(fields), len(f.header))
	}
	d.buf.WriteByte('{')
	for i, v := range fields {
		if i > 0 {
			d.buf.WriteByte(',')
		}
		d.str(f.header[i])
		d.buf.WriteByte(':')
		d.str(v)
	}
	d.buf.WriteByte('}')
	return bytes.Clone(d.buf.Bytes()), true, nil
}

// str appends s to d.buf as a JSON string.
func (d *decoder) str(s string) {
	_ = d.enc.Encode(s) // a string always encodes; Encode adds "\n"
	d.buf.Truncate(d.buf.Len() - 1)
}

// parseCSVLine parses one line (without its end of line) as one CSV
// record.
func parseCSVLine(line []byte) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(line))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV: %w (a row must fit on one line)", err)
	}
	if _, err := r.Read(); err != io.EOF {
		return nil, fmt.Errorf("CSV: quoted field spans lines (a row must fit on one line)")
	}
	return rec, nil
}

// setHeader records the CSV header of f, read at offset start.
func (f *input) setHeader(cols []string, start int64) error {
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c] {
			return fmt.Errorf("file source: %s: offset %d: CSV header names column %q twice", f.path, start, c)
		}
		seen[c] = true
	}
	f.header, f.headerRead = cols, true
	return nil
}
