package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const (
	topicsFile    = "topics.json"
	topicsVersion = 1
)

// topicsDoc is the content of topics.json (see the package doc).
type topicsDoc struct {
	Version int          `json:"version"`
	Topics  []topicEntry `json:"topics"`
}

// topicEntry is one topic in topics.json. Configs holds only the configs
// set on the topic; defaults are not written.
type topicEntry struct {
	Name       string            `json:"name"`
	ID         UUID              `json:"id"`
	Partitions int               `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// marshalTopics encodes topics.json: entries sorted by name, config keys
// sorted (encoding/json sorts map keys), two-space indent, final newline.
func marshalTopics(topics map[string]*topic) []byte {
	doc := topicsDoc{Version: topicsVersion, Topics: []topicEntry{}}
	for _, t := range topics {
		doc.Topics = append(doc.Topics, topicEntry{Name: t.name, ID: t.id, Partitions: len(t.logs), Configs: t.configs})
	}
	slices.SortFunc(doc.Topics, func(a, b topicEntry) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // strings, ints and UUIDs always encode
	}
	return append(b, '\n')
}

// readTopics reads and checks topics.json. Any problem is a *CorruptError:
// the store does not open on a metadata file it cannot trust.
func readTopics(dir string) ([]topicEntry, error) {
	path := filepath.Join(dir, topicsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseTopics(path, data)
}

// parseTopics decodes topics.json token by token so that every problem can
// be reported with its line: a syntax error at its byte, anything else at
// the start of the topic entry (or top-level key) it is in.
func parseTopics(path string, data []byte) ([]topicEntry, error) {
	// Syntax first: json.Unmarshal reports the byte of a syntax error,
	// which a Decoder does not do reliably.
	var syn *json.SyntaxError
	if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &syn) {
		if syn.Offset >= int64(len(data)) {
			return nil, corruptf(path, lineAt(data, syn.Offset), "the file ends in the middle of the JSON document (truncated?)")
		}
		return nil, corruptf(path, lineAt(data, syn.Offset-1), "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// fail reports err, found in the JSON value that starts at base.
	fail := func(err error, base int64) error {
		return corruptf(path, lineAt(data, base), "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	expect := func(want json.Delim) error {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return fail(err, 0)
		}
		if tok != want {
			return corruptf(path, lineAt(data, off), "found %v where %q was expected", tok, want)
		}
		return nil
	}

	var doc topicsDoc
	var lines []int // of each entry of doc.Topics
	haveVersion := false
	if err := expect('{'); err != nil {
		return nil, err
	}
	for dec.More() {
		keyOff := skipSpace(data, dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(err, 0)
		}
		switch tok {
		case "version":
			if err := dec.Decode(&doc.Version); err != nil {
				return nil, fail(err, keyOff)
			}
			haveVersion = true
		case "topics":
			if err := expect('['); err != nil {
				return nil, err
			}
			for dec.More() {
				start := skipSpace(data, dec.InputOffset())
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return nil, fail(err, start) // the offsets of a Decode count from the value
				}
				var e topicEntry
				ed := json.NewDecoder(bytes.NewReader(raw))
				ed.DisallowUnknownFields()
				if err := ed.Decode(&e); err != nil {
					return nil, fail(err, start)
				}
				doc.Topics = append(doc.Topics, e)
				lines = append(lines, lineAt(data, start))
			}
			if err := expect(']'); err != nil {
				return nil, err
			}
		default:
			return nil, corruptf(path, lineAt(data, keyOff), "unknown field %q", tok)
		}
	}
	if err := expect('}'); err != nil {
		return nil, err
	}
	if off := dec.InputOffset(); len(bytes.TrimSpace(data[off:])) > 0 {
		return nil, corruptf(path, lineAt(data, skipSpace(data, off)), "unexpected data after the JSON document")
	}
	if !haveVersion || doc.Version != topicsVersion {
		return nil, corruptf(path, findLine(data, `"version"`), "version %d: this runnel reads version %d only", doc.Version, topicsVersion)
	}
	names := map[string]bool{}
	ids := map[UUID]string{}
	for i, e := range doc.Topics {
		line := lines[i]
		bad := func(format string, args ...any) error {
			return corruptf(path, line, "topic %q: %s", e.Name, fmt.Sprintf(format, args...))
		}
		if err := ValidateTopicName(e.Name); err != nil {
			return nil, bad("%v", err)
		}
		if names[e.Name] {
			return nil, bad("listed twice")
		}
		names[e.Name] = true
		if e.ID.IsZero() {
			return nil, bad("no id")
		}
		if other, dup := ids[e.ID]; dup {
			return nil, bad("id %s is also the id of topic %q", e.ID, other)
		}
		ids[e.ID] = e.Name
		if e.Partitions < 1 || e.Partitions > MaxPartitions {
			return nil, bad("%d partitions: want 1 to %d", e.Partitions, MaxPartitions)
		}
		if problems := configProblems(e.Configs); len(problems) > 0 {
			return nil, bad("configs: %s", strings.Join(problems, "; "))
		}
	}
	return doc.Topics, nil
}

// lineAt is the 1-based line of byte offset off in data.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// skipSpace is the offset of the first byte at or after off that is not
// white space, ',' or ':': the start of the next JSON value or key.
func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	return off
}

// findLine is the line of the first occurrence of needle, 0 when absent.
func findLine(data []byte, needle string) int {
	i := bytes.Index(data, []byte(needle))
	if i < 0 {
		return 0
	}
	return lineAt(data, int64(i))
}
