package file

import (
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Directory and file name parts; see the package doc.
const (
	committedDir     = "_committed"
	positionsDir     = "_positions"
	inProgressSuffix = ".inprogress"
	seqDigits        = 10
	maxNameLen       = 200 // longer part names store positions in _positions
	hashLen          = 32  // hex digits of a sidecar's hash
	tokenInline      = 'p'
	tokenHashed      = 'h'
)

// b32 is base32hex in lower case without padding: file-name safe, and
// sorted like the bytes it encodes.
var b32 = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// errBadName marks a name that is not one of the sink's.
var errBadName = errors.New("not a file sink name")

// name is a parsed part file, marker or in-progress file name.
type name struct {
	prefix string
	task   connect.TaskID
	seq    uint64
	token  string // "" for an in-progress file
	ext    string // "" for a marker
}

func (n name) part() string {
	return fmt.Sprintf("%s-%d-%0*d-%s.%s", n.prefix, n.task, seqDigits, n.seq, n.token, n.ext)
}

func (n name) marker() string {
	return fmt.Sprintf("%s-%d-%0*d-%s", n.prefix, n.task, seqDigits, n.seq, n.token)
}

func (n name) inProgress() string {
	return fmt.Sprintf(".%s-%d-%0*d.%s%s", n.prefix, n.task, seqDigits, n.seq, n.ext, inProgressSuffix)
}

// knownExt reports whether ext is the extension of a format.
func knownExt(ext string) bool { return ext == FormatJSONL || ext == FormatCSV }

// parseName parses the base name of a part file, a marker or an
// in-progress file.
func parseName(s string) (name, error) {
	var n name
	if rest, ok := strings.CutPrefix(s, "."); ok {
		// .<prefix>-<task>-<seq>.<ext>.inprogress
		rest, ok = strings.CutSuffix(rest, inProgressSuffix)
		if !ok {
			return n, errBadName
		}
		i := strings.LastIndexByte(rest, '.')
		if i < 0 || !knownExt(rest[i+1:]) {
			return n, errBadName
		}
		n.ext, rest = rest[i+1:], rest[:i]
		return n, n.parseFields(rest, false)
	}
	rest := s
	if i := strings.LastIndexByte(s, '.'); i >= 0 && knownExt(s[i+1:]) {
		n.ext, rest = s[i+1:], s[:i]
	}
	return n, n.parseFields(rest, true)
}

// parseFields parses "<prefix>-<task>-<seq>" and, withToken, "-<token>".
func (n *name) parseFields(s string, withToken bool) error {
	cut := func() (string, bool) {
		i := strings.LastIndexByte(s, '-')
		if i < 0 {
			return "", false
		}
		f := s[i+1:]
		s = s[:i]
		return f, true
	}
	if withToken {
		tok, ok := cut()
		if !ok || !validToken(tok) {
			return errBadName
		}
		n.token = tok
	}
	seq, ok := cut()
	if !ok || len(seq) < seqDigits || !allDigits(seq) {
		return errBadName
	}
	task, ok := cut()
	if !ok || task == "" || !allDigits(task) || (len(task) > 1 && task[0] == '0') {
		return errBadName
	}
	t, err := strconv.ParseInt(task, 10, 32)
	if err != nil {
		return errBadName
	}
	n.seq, err = strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return errBadName
	}
	if !validPrefix(s) {
		return errBadName
	}
	n.task, n.prefix = connect.TaskID(t), s
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validToken(tok string) bool {
	if len(tok) < 2 {
		return false
	}
	body := tok[1:]
	switch tok[0] {
	case tokenInline:
		for i := 0; i < len(body); i++ {
			if c := body[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'v') {
				return false
			}
		}
		return true
	case tokenHashed:
		if len(body) != hashLen {
			return false
		}
		for i := 0; i < len(body); i++ {
			if c := body[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	return false
}

// sortedInputs returns p's inputs sorted by stream then partition.
func sortedInputs(p engine.Positions) []engine.Input {
	ins := make([]engine.Input, 0, len(p))
	for in := range p {
		ins = append(ins, in)
	}
	slices.SortFunc(ins, func(a, b engine.Input) int {
		if c := strings.Compare(a.Stream, b.Stream); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	return ins
}

// encodePositions encodes p deterministically; see the package doc.
func encodePositions(p engine.Positions) []byte {
	ins := sortedInputs(p)
	b := binary.AppendUvarint(nil, uint64(len(ins)))
	for _, in := range ins {
		b = binary.AppendUvarint(b, uint64(len(in.Stream)))
		b = append(b, in.Stream...)
		b = binary.AppendVarint(b, int64(in.Partition))
		b = binary.AppendVarint(b, p[in])
	}
	return b
}

// decodeReader reads the encoding of positions; the first error sticks,
// and reading past the end is an error, never a panic.
type decodeReader struct {
	b   []byte
	err error
}

func (r *decodeReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decodeReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decodeReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("short input")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// decodePositions decodes what encodePositions encoded.
func decodePositions(b []byte) (engine.Positions, error) {
	r := decodeReader{b: b}
	count := r.uvarint()
	if r.err == nil && count > uint64(len(r.b))/3 { // an entry takes 3 bytes at least
		return nil, fmt.Errorf("count %d too large for %d bytes", count, len(b))
	}
	p := make(engine.Positions, count)
	for i := uint64(0); i < count && r.err == nil; i++ {
		stream := r.bytes(r.uvarint())
		part := r.varint()
		next := r.varint()
		if r.err != nil {
			break
		}
		if part < math.MinInt32 || part > math.MaxInt32 {
			return nil, fmt.Errorf("partition %d out of range", part)
		}
		in := engine.Input{Stream: string(stream), Partition: int32(part)}
		if _, dup := p[in]; dup {
			return nil, fmt.Errorf("input %s[%d] twice", in.Stream, in.Partition)
		}
		p[in] = next
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return p, nil
}

// hashOf names the sidecar of an encoding.
func hashOf(enc []byte) string {
	sum := sha256.Sum256(enc)
	return hex.EncodeToString(sum[:])[:hashLen]
}

// sidecarJSON is the content of a _positions file.
type sidecarJSON struct {
	Encoded   string           `json:"encoded"`
	Positions []sidecarPosJSON `json:"positions"`
}

type sidecarPosJSON struct {
	Stream    string `json:"stream"`
	Partition int32  `json:"partition"`
	Next      int64  `json:"next"`
}

func sidecarContent(p engine.Positions, enc []byte) []byte {
	sc := sidecarJSON{Encoded: b32.EncodeToString(enc), Positions: []sidecarPosJSON{}}
	for _, in := range sortedInputs(p) {
		sc.Positions = append(sc.Positions, sidecarPosJSON{Stream: in.Stream, Partition: in.Partition, Next: p[in]})
	}
	b, _ := json.Marshal(sc) // plain data: cannot fail
	return append(b, '\n')
}

// decodeToken returns the positions of a token, reading its sidecar in
// dir/_positions if it is hashed.
func decodeToken(dir, tok string) (engine.Positions, error) {
	if !validToken(tok) {
		return nil, fmt.Errorf("file sink: bad token %q", tok)
	}
	if tok[0] == tokenInline {
		enc, err := b32.DecodeString(tok[1:])
		if err != nil {
			return nil, fmt.Errorf("file sink: token %q: %w", tok, err)
		}
		p, err := decodePositions(enc)
		if err != nil {
			return nil, fmt.Errorf("file sink: token %q: %w", tok, err)
		}
		return p, nil
	}
	path := filepath.Join(dir, positionsDir, tok[1:]+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("file sink: positions of token %q: %w", tok, err)
	}
	var sc sidecarJSON
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("file sink: %s: %w", path, err)
	}
	enc, err := b32.DecodeString(sc.Encoded)
	if err != nil {
		return nil, fmt.Errorf("file sink: %s: encoded: %w", path, err)
	}
	if h := hashOf(enc); h != tok[1:] {
		return nil, fmt.Errorf("file sink: %s: corrupt: content hashes to %s", path, h)
	}
	p, err := decodePositions(enc)
	if err != nil {
		return nil, fmt.Errorf("file sink: %s: %w", path, err)
	}
	return p, nil
}
