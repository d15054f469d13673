package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/internal/fsutil"
)

// writeBufferSize is the buffer of an in-progress file.
const writeBufferSize = 256 << 10

// ErrClosed is returned by the methods of a closed Sink.
var ErrClosed = errors.New("file sink: closed")

// Sink writes records to part files, exactly once; see the package doc.
// Create it with New. Its methods are safe for concurrent use; they are
// serialised.
type Sink struct {
	cfg Config

	mu struct {
		sync.Mutex
		closed bool
		tasks  map[connect.TaskID]*task
		buf    bytes.Buffer // encoded records of a Write
	}
}

// task is an open task. REQUIRES: Sink.mu for all fields.
type task struct {
	id      connect.TaskID
	seq     uint64           // seq of the last commit, 0 if none
	pos     engine.Positions // positions of the last commit, nil if none
	markers []string         // its markers in _committed
	cur     *part            // in-progress file, nil until the next record
	doubt   error            // a commit failed: OpenTask must read the disk again
}

// part is an in-progress file.
type part struct {
	name    name
	path    string
	f       *os.File
	w       *bufio.Writer
	bytes   int64
	records int64
	closed  bool // f is closed: synced for a commit
}

var (
	_ connect.Sink             = (*Sink)(nil)
	_ connect.Roller           = (*Sink)(nil)
	_ connect.PositionsDeleter = (*Sink)(nil)
)

// New returns a Sink for cfg, after validating it. Dir is created by the
// first OpenTask.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg.withDefaults()}
	s.cfg.Columns = slices.Clone(s.cfg.Columns)
	s.mu.tasks = map[connect.TaskID]*task{}
	return s, nil
}

// Delivery returns connect.ExactlyOnce.
func (s *Sink) Delivery() connect.Delivery { return connect.ExactlyOnce }

// OpenTask creates Dir if needed, deletes the task's in-progress files
// (and the one this Sink had open for it), and returns the positions of
// the task's last commit, nil if it was never committed or its last
// commit holds no positions (DeletePositions').
func (s *Sink) OpenTask(ctx context.Context, id connect.TaskID) (engine.Positions, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if id < 0 {
		return nil, fmt.Errorf("file sink: task %d: negative task", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	if t := s.mu.tasks[id]; t != nil {
		delete(s.mu.tasks, id)
		if err := t.discard(); err != nil {
			return nil, err
		}
	}
	if err := mkdirAll(s.cfg.Dir); err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	tf, err := scanTask(s.cfg.Dir, s.cfg.Prefix, id)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, n := range tf.strays {
		if err := os.Remove(filepath.Join(s.cfg.Dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	// What is visible now is the truth: make it durable before deleting
	// the older markers it supersedes.
	errs = append(errs, fsutil.SyncDir(s.cfg.Dir))
	if len(tf.markers) > 0 {
		errs = append(errs, fsutil.SyncDir(filepath.Join(s.cfg.Dir, committedDir)))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("file sink: task %d: %w", id, err)
	}
	var pos engine.Positions
	if tf.found {
		if pos, err = decodeToken(s.cfg.Dir, tf.last.token); err != nil {
			return nil, fmt.Errorf("%w (task %d, seq %d)", err, id, tf.last.seq)
		}
		if len(pos) == 0 {
			pos = nil // a commit without positions: DeletePositions'
		}
	}
	t := &task{id: id, seq: tf.last.seq, pos: pos}
	if tf.lastMarker {
		t.markers = []string{tf.last.marker()}
	}
	s.removeMarkers(tf.markers, t.markers)
	s.mu.tasks[id] = t
	return pos, nil
}

// removeMarkers deletes the markers of old not in keep, best effort: a
// marker left behind is superseded by any commit with a higher seq.
func (s *Sink) removeMarkers(old, keep []string) {
	for _, m := range old {
		if !slices.Contains(keep, m) {
			os.Remove(filepath.Join(s.cfg.Dir, committedDir, m))
		}
	}
}

// openTask returns an open task not in doubt.
// REQUIRES: s.mu.
func (s *Sink) openTask(id connect.TaskID) (*task, error) {
	if s.mu.closed {
		return nil, ErrClosed
	}
	t := s.mu.tasks[id]
	if t == nil {
		return nil, fmt.Errorf("file sink: task %d is not open", id)
	}
	if t.doubt != nil {
		return nil, fmt.Errorf("file sink: task %d: a failed commit left it in doubt, open it again: %w", id, t.doubt)
	}
	return t, nil
}

// Write appends recs to the task's in-progress file, creating it on the
// first record. A record Format cannot write (a JSONL value with a
// newline, a CSV value that is no JSON object) fails Write, which then
// writes none of recs; the error names the task and the record's source
// position.
func (s *Sink) Write(ctx context.Context, id connect.TaskID, recs []*connect.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.openTask(id)
	if err != nil || len(recs) == 0 {
		return err
	}
	buf := &s.mu.buf
	buf.Reset()
	if err := s.encode(buf, id, recs); err != nil {
		return err
	}
	if t.cur == nil {
		if err := s.create(t); err != nil {
			return err
		}
	}
	if _, err := t.cur.w.Write(buf.Bytes()); err != nil {
		t.doubt = err
		return fmt.Errorf("file sink: task %d: %s: %w", id, t.cur.path, err)
	}
	t.cur.bytes += int64(buf.Len())
	t.cur.records += int64(len(recs))
	if buf.Cap() > 4*writeBufferSize {
		*buf = bytes.Buffer{} // do not keep a huge batch's buffer
	}
	return nil
}

// encode writes recs to buf in the sink's format.
func (s *Sink) encode(buf *bytes.Buffer, id connect.TaskID, recs []*connect.Record) error {
	if s.cfg.Format == FormatJSONL {
		for _, r := range recs {
			if bytes.IndexByte(r.Value, '\n') >= 0 {
				return fmt.Errorf("file sink: task %d: record from %s: value contains a newline", id, posString(r.Pos))
			}
			buf.Write(r.Value)
			buf.WriteByte('\n')
		}
		return nil
	}
	w := csv.NewWriter(buf)
	row := make([]string, len(s.cfg.Columns))
	for _, r := range recs {
		if err := csvRow(row, s.cfg.Columns, r.Value); err != nil {
			return fmt.Errorf("file sink: task %d: record from %s: %w", id, posString(r.Pos), err)
		}
		w.Write(row) // errors stick: checked below
	}
	w.Flush()
	return w.Error()
}

// csvRow fills row with the fields of a JSON object value.
func csvRow(row, columns []string, value []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
		if err == nil {
			err = errors.New("null")
		}
		return fmt.Errorf("value is not a JSON object: %w", err)
	}
	for i, col := range columns {
		raw := obj[col]
		switch {
		case len(raw) == 0 || string(raw) == "null":
			row[i] = ""
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("column %q: %w", col, err)
			}
			row[i] = s
		case raw[0] == '{' || raw[0] == '[':
			var b bytes.Buffer
			if err := json.Compact(&b, raw); err != nil {
				return fmt.Errorf("column %q: %w", col, err)
			}
			row[i] = b.String()
		default: // number, true, false: their JSON text
			row[i] = string(raw)
		}
	}
	return nil
}

func posString(p engine.Pos) string {
	return fmt.Sprintf("%s[%d] offset %d", p.Stream, p.Partition, p.Offset)
}

// create creates the task's in-progress file.
// REQUIRES: s.mu.
func (s *Sink) create(t *task) error {
	n := name{prefix: s.cfg.Prefix, task: t.id, seq: t.seq + 1, ext: s.cfg.Format}
	path := filepath.Join(s.cfg.Dir, n.inProgress())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("file sink: task %d: %w", t.id, err)
	}
	p := &part{name: n, path: path, f: f, w: bufio.NewWriterSize(f, writeBufferSize)}
	if s.cfg.Format == FormatCSV {
		var hdr bytes.Buffer
		w := csv.NewWriter(&hdr)
		w.Write(s.cfg.Columns)
		w.Flush()
		if err := w.Error(); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("file sink: header row: %w", err)
		}
		p.w.Write(hdr.Bytes()) // errors stick in p.w, seen at Flush
		p.bytes = int64(hdr.Len())
	}
	t.cur = p
	return nil
}

// discard closes and deletes the in-progress file, if any.
func (t *task) discard() error {
	p := t.cur
	if p == nil {
		return nil
	}
	t.cur = nil
	var err error
	if !p.closed {
		err = p.f.Close()
	}
	if rerr := os.Remove(p.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("file sink: task %d: discarding %s: %w", t.id, p.path, err)
	}
	return nil
}

// commit is the plan of one task's commit.
type commit struct {
	t       *task
	n       name   // the part file (t.cur != nil) or marker to create
	sidecar []byte // content of _positions/<hash>.json, if the token is hashed
}

// Commit commits every task of cp: see the package doc. The tasks must be
// open. A task with nothing written since its last commit, and the same
// positions, is skipped: there is nothing to make durable. When Commit
// fails, the tasks of cp fail Write and Commit until OpenTask is called
// again.
func (s *Sink) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]connect.TaskID, 0, len(cp))
	for id := range cp {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	plan := make([]commit, 0, len(ids))
	for _, id := range ids {
		t, err := s.openTask(id)
		if err != nil {
			return err
		}
		if t.cur == nil && t.pos != nil && t.pos.Equal(cp[id]) {
			continue
		}
		plan = append(plan, s.plan(t, cp[id]))
	}
	if err := s.apply(plan); err != nil {
		for _, c := range plan {
			c.t.doubt = err
		}
		return err
	}
	for _, c := range plan {
		c.t.seq, c.t.pos = c.n.seq, cp[c.t.id].Clone()
		old := c.t.markers
		c.t.markers = nil
		if c.n.ext == "" {
			c.t.markers = []string{c.n.marker()}
		}
		s.removeMarkers(old, c.t.markers)
	}
	return nil
}

// plan names the part file or marker of a task's commit.
// REQUIRES: s.mu.
func (s *Sink) plan(t *task, pos engine.Positions) commit {
	enc := encodePositions(pos)
	n := name{prefix: s.cfg.Prefix, task: t.id, seq: t.seq + 1, token: string(tokenInline) + b32.EncodeToString(enc), ext: s.cfg.Format}
	c := commit{t: t, n: n}
	if len(n.part()) > maxNameLen {
		c.n.token = string(tokenHashed) + hashOf(enc)
		c.sidecar = sidecarContent(pos, enc)
	}
	if t.cur == nil {
		c.n.ext = "" // a marker
	}
	return c
}

// apply makes a plan durable: in-progress files synced, sidecars written,
// then renames and markers, then the directories synced.
// REQUIRES: s.mu.
func (s *Sink) apply(plan []commit) error {
	var sidecars, markers, renames bool
	for _, c := range plan {
		if p := c.t.cur; p != nil {
			err := p.w.Flush()
			if err == nil {
				err = p.f.Sync()
			}
			if cerr := p.f.Close(); err == nil {
				err = cerr
			}
			p.closed = true
			if err != nil {
				return fmt.Errorf("file sink: task %d: %s: %w", c.t.id, p.path, err)
			}
		}
		if c.sidecar != nil {
			if err := s.writeSidecar(c.n.token[1:], c.sidecar); err != nil {
				return err
			}
			sidecars = true
		}
	}
	if sidecars {
		if err := fsutil.SyncDir(filepath.Join(s.cfg.Dir, positionsDir)); err != nil {
			return fmt.Errorf("file sink: %w", err)
		}
	}
	for _, c := range plan {
		if p := c.t.cur; p != nil {
			if err := os.Rename(p.path, filepath.Join(s.cfg.Dir, c.n.part())); err != nil {
				return fmt.Errorf("file sink: task %d: %w", c.t.id, err)
			}
			c.t.cur = nil
			renames = true
			continue
		}
		if !markers {
			if err := mkdirAll(filepath.Join(s.cfg.Dir, committedDir)); err != nil {
				return fmt.Errorf("file sink: %w", err)
			}
		}
		f, err := os.OpenFile(filepath.Join(s.cfg.Dir, committedDir, c.n.marker()), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err == nil {
			err = f.Close()
		}
		if err != nil {
			return fmt.Errorf("file sink: task %d: marker: %w", c.t.id, err)
		}
		markers = true
	}
	if renames {
		if err := fsutil.SyncDir(s.cfg.Dir); err != nil {
			return fmt.Errorf("file sink: %w", err)
		}
	}
	if markers {
		if err := fsutil.SyncDir(filepath.Join(s.cfg.Dir, committedDir)); err != nil {
			return fmt.Errorf("file sink: %w", err)
		}
	}
	return nil
}

// writeSidecar writes _positions/<hash>.json: temporary file, fsync,
// rename. The caller syncs the directory.
func (s *Sink) writeSidecar(hash string, content []byte) error {
	dir := filepath.Join(s.cfg.Dir, positionsDir)
	if err := mkdirAll(dir); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+hash+".*.tmp")
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, hash+".json"))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("file sink: positions sidecar: %w", err)
	}
	return nil
}

// WantsCommit reports whether the in-progress file of some task reached
// RollBytes or RollRecords.
func (s *Sink) WantsCommit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.mu.tasks {
		p := t.cur
		if p == nil {
			continue
		}
		if (s.cfg.RollBytes > 0 && p.bytes >= s.cfg.RollBytes) || (s.cfg.RollRecords > 0 && p.records >= s.cfg.RollRecords) {
			return true
		}
	}
	return false
}

// CloseTask deletes the task's in-progress file, discarding what was
// written since its last commit, and forgets the task.
func (s *Sink) CloseTask(ctx context.Context, id connect.TaskID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	t := s.mu.tasks[id]
	if t == nil {
		return nil
	}
	delete(s.mu.tasks, id)
	return t.discard()
}

// Close closes every task as CloseTask does. Later calls of the other
// methods return ErrClosed; Close is idempotent.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil
	}
	s.mu.closed = true
	var errs []error
	for id, t := range s.mu.tasks {
		errs = append(errs, t.discard())
		delete(s.mu.tasks, id)
	}
	return errors.Join(errs...)
}

// mkdirAll creates dir and its missing parents, and makes their creation
// durable.
func mkdirAll(dir string) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	if len(missing) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range missing {
		if err := fsutil.SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// StoredPositions implements connect.PositionsDeleter: the positions of
// the last commit of each task of Dir that has some, as OpenTask returns
// them. It reads Dir and changes nothing.
func (s *Sink) StoredPositions(ctx context.Context) (map[connect.TaskID]engine.Positions, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tasks, err := tasksIn(s.cfg.Dir, s.cfg.Prefix)
	if err != nil {
		return nil, err
	}
	out := map[connect.TaskID]engine.Positions{}
	for _, id := range tasks {
		_, pos, err := LastCommit(s.cfg.Dir, s.cfg.Prefix, id)
		if err != nil {
			return nil, fmt.Errorf("file sink: task %d: %w", id, err)
		}
		if pos != nil {
			out[id] = pos
		}
	}
	return out, nil
}

// DeletePositions implements connect.PositionsDeleter: each task of Dir
// whose last commit holds positions gets a commit that holds none, a
// marker with the next seq (_committed/<prefix>-<task>-<seq>-<token of
// no positions>), made durable; the task's older markers are then
// deleted. Part files stay: they are the output. The next run's part
// files of the task take the seqs after the marker's. The Sink must have
// no task open.
func (s *Sink) DeletePositions(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	if len(s.mu.tasks) > 0 {
		return errors.New("file sink: DeletePositions with tasks open")
	}
	tasks, err := tasksIn(s.cfg.Dir, s.cfg.Prefix)
	if err != nil {
		return err
	}
	var plan []commit
	var old []string
	for _, id := range tasks {
		tf, err := scanTask(s.cfg.Dir, s.cfg.Prefix, id)
		if err != nil {
			return err
		}
		if !tf.found {
			continue
		}
		pos, err := decodeToken(s.cfg.Dir, tf.last.token)
		if err != nil {
			return fmt.Errorf("%w (task %d, seq %d)", err, id, tf.last.seq)
		}
		if len(pos) == 0 {
			continue // deleted already
		}
		c := s.plan(&task{id: id, seq: tf.last.seq}, engine.Positions{})
		plan = append(plan, c)
		old = append(old, tf.markers...)
	}
	if err := s.apply(plan); err != nil {
		return err
	}
	s.removeMarkers(old, nil)
	return nil
}
