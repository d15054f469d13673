package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Errors of the Sink.
var (
	// ErrFenced is returned by Commit (wrapped, naming the task) when
	// another Sink opened the task since this one did: its positions are
	// not stored. Write, Prepare and Commit keep returning it for the
	// task until OpenTask is called again.
	ErrFenced = errors.New("elasticsearch sink: fenced: another worker opened the task")
	// ErrClosed is returned by the methods of a closed Sink.
	ErrClosed = errors.New("elasticsearch sink: closed")
)

// Reasons of records rejected at Write (INTERNAL: the text reaches the
// dead-letter headers).
var (
	errNotObject  = errors.New("value is not a JSON object")
	errTombstone  = errors.New("record has no value (a tombstone) and delete_on_tombstone is false")
	errNoKey      = errors.New("record has no key to be the document _id")
	errBadID      = fmt.Errorf("document _id must be at most %d bytes of printable UTF-8", maxIDLen)
	errNoPosition = errors.New("record has no source position to make the document _id of (id: position)")
	errNoTopic    = errors.New("record has no source topic to name its index after (" + TopicPlaceholder + ")")
)

// Bulk actions and version types.
const (
	actionIndex  = "index"
	actionDelete = "delete"
	actionCreate = "create"

	versionExternal    = "external"
	versionExternalGTE = "external_gte"
)

// ItemError is the reason Elasticsearch gave for refusing a document: the
// Reason of a Rejection the Sink returns from Prepare.
type ItemError struct {
	// Status is the HTTP status of the bulk item (400 for a document
	// the mapping refuses).
	Status int
	// Type and Reason are the item's error ("document_parsing_exception").
	Type, Reason string
	// CauseType and CauseReason are its caused_by, if any.
	CauseType, CauseReason string
}

// Error returns "<type>: <reason>", followed by the cause if any.
func (e *ItemError) Error() string {
	msg := e.Type + ": " + e.Reason
	if e.Type == "" {
		msg = fmt.Sprintf("status %d", e.Status)
	}
	if e.CauseType != "" {
		msg += " (caused by " + e.CauseType + ": " + e.CauseReason + ")"
	}
	return msg
}

func itemError(res *bulkItemResult) *ItemError {
	return &ItemError{
		Status:      res.Status,
		Type:        res.Error.Type,
		Reason:      res.Error.Reason,
		CauseType:   res.Error.Cause.Type,
		CauseReason: res.Error.Cause.Reason,
	}
}

// Sink writes records to Elasticsearch, exactly once; see the package doc.
// Create it with New. Its methods are safe for concurrent use; they are
// serialised.
type Sink struct {
	cfg    Config
	client *client
	bi     *indexer
	owner  string // written in the task documents, for people

	mu struct {
		sync.Mutex
		closed  bool
		tasks   map[connect.TaskID]*task
		indexes map[string]string // index of each source stream, for {topic}
		items   []*item           // scratch of Write
	}
}

// task is an open task. Its fields are guarded by Sink.mu, but ack, which
// the indexer's workers update.
type task struct {
	id     connect.TaskID
	pos    engine.Positions // of the last commit, nil if none
	fence  fence            // of the task document this Sink wrote last
	dirty  bool             // written to since the last commit
	hw     int64            // highest version written (or opened)
	run    engine.Pos       // position of the last record written (id: position)
	runN   int              // its ordinal among the records of that position
	fenced bool             // another Sink opened the task: ErrFenced
	doubt  error            // a commit failed in an unknown state

	ack struct {
		sync.Mutex
		inflight int                 // items handed to the indexer, outcome unknown
		retry    []*item             // items refused with 429/5xx, to send again
		rejected []connect.Rejection // Task unset
		err      error               // first item error that is no record's fault
	}
}

// item is a document action of a record. The indexer reads its fields
// but retries and last, which are guarded by t.ack.
type item struct {
	t       *task
	rec     connect.Record // copy kept for a Rejection
	action  string
	index   string
	id      string
	version int64
	vtype   string
	body    []byte // the source, of an index action
	retries int
	last    *ItemError // why it was last refused, for retries
}

var (
	_ connect.Sink     = (*Sink)(nil)
	_ connect.Preparer = (*Sink)(nil)
)

// New returns a Sink for cfg, after validating it. It does not contact the
// cluster: OpenTask does.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg.withDefaults()}
	s.cfg.Addresses = slices.Clone(s.cfg.Addresses)
	cl, err := newClient(s.cfg, s.backoff)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch sink: %w", err)
	}
	s.client = cl
	s.bi = newIndexer(cl, s.cfg, s.settled)
	s.owner = newOwner()
	s.mu.tasks = map[connect.TaskID]*task{}
	s.mu.indexes = map[string]string{}
	return s, nil
}

// Delivery returns connect.ExactlyOnce.
func (s *Sink) Delivery() connect.Delivery { return connect.ExactlyOnce }

// backoff is the wait before retry attempt (1 for the first): exponential,
// capped, with jitter (half fixed, half random). Safe for concurrent use.
func (s *Sink) backoff(attempt int) time.Duration {
	d := s.cfg.RetryBackoff
	for i := 1; i < attempt && d < s.cfg.MaxRetryBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxRetryBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// OpenTask reads the task's document in OffsetsIndex and writes it back
// with the next generation, fencing the Sink that opened the task before;
// it returns the positions of the task's last commit, nil if it was never
// committed. What a previous owner wrote and did not commit stays in the
// indexes (Elasticsearch has no transactions): the records are written
// again from the returned positions, with the same versions.
func (s *Sink) OpenTask(ctx context.Context, id connect.TaskID) (engine.Positions, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if id < 0 {
		return nil, fmt.Errorf("elasticsearch sink: task %d: negative task", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	delete(s.mu.tasks, id) // items in flight for it land, or not: no matter
	pos, f, err := s.openTaskDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	t := &task{id: id, pos: pos, fence: f}
	for _, next := range pos {
		t.hw = max(t.hw, next)
	}
	s.mu.tasks[id] = t
	if pos == nil {
		return nil, nil
	}
	return pos.Clone(), nil
}

// openTask returns an open task that can be written and committed.
// REQUIRES: s.mu.
func (s *Sink) openTask(id connect.TaskID) (*task, error) {
	if s.mu.closed {
		return nil, ErrClosed
	}
	t := s.mu.tasks[id]
	switch {
	case t == nil:
		return nil, fmt.Errorf("elasticsearch sink: task %d is not open", id)
	case t.fenced:
		return nil, fmt.Errorf("elasticsearch sink: task %d: %w", id, ErrFenced)
	case t.doubt != nil:
		return nil, fmt.Errorf("elasticsearch sink: task %d: a failed commit left it in doubt, open it again: %w", id, t.doubt)
	}
	return t, nil
}

// Write hands an action per record to the bulk indexer: index the value,
// or delete on a tombstone. It blocks while the indexer's queues are full.
// The records it cannot write (a value that is no JSON object, no key, an
// invalid index name) are returned in a *connect.RejectedError, the others
// are taken; the cluster's verdict on them comes at Prepare.
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
	t.ack.Lock()
	err = t.ack.err
	t.ack.Unlock()
	if err != nil {
		return err
	}
	t.dirty = true
	var rej []connect.Rejection
	items := s.mu.items[:0]
	for _, r := range recs {
		it, err := s.item(t, r)
		if err != nil {
			c := *r
			rej = append(rej, connect.Rejection{Task: id, Record: &c, Reason: err})
		}
		items = append(items, it)
	}
	if s.cfg.ID == IDKey {
		// Outputs of one source record share its position, hence their
		// version: of those with the same document only the last can
		// land, so only the last is sent.
		for i := 0; i < len(recs); {
			j := i + 1
			for j < len(recs) && recs[j].Pos == recs[i].Pos {
				j++
			}
			if j-i > 1 {
				supersede(items[i:j])
			}
			i = j
		}
	}
	n := 0
	for _, it := range items {
		if it != nil {
			n++
		}
	}
	t.ack.Lock()
	t.ack.inflight += n
	t.ack.Unlock()
	for _, it := range items {
		if it == nil {
			continue
		}
		if err := s.bi.Add(ctx, it); err != nil {
			t.ack.Lock()
			t.ack.inflight -= n
			t.ack.Unlock()
			clear(items)
			return fmt.Errorf("elasticsearch sink: task %d: %w", id, err)
		}
		n--
	}
	clear(items)
	s.mu.items = items[:0]
	if rej != nil {
		return &connect.RejectedError{Rejected: rej}
	}
	return nil
}

// item makes the action of a record, or says why there is none.
// REQUIRES: s.mu.
func (s *Sink) item(t *task, r *connect.Record) (*item, error) {
	it := &item{t: t, rec: *r, action: actionIndex}
	var err error
	if r.Pos.Next == 0 {
		// No position (a window closed by a processing-time tick): it
		// takes the task's highest version, and wins over a document of
		// that version.
		it.version, it.vtype = max(t.hw, 1), versionExternalGTE
	} else {
		it.version, it.vtype = r.Pos.Offset+1, versionExternal
		t.hw = max(t.hw, it.version)
	}
	if s.cfg.ID == IDPosition {
		if r.Pos.Next == 0 {
			return nil, errNoPosition
		}
		// The n-th output (from 0) of a source record has "-<n>" after
		// the first: replays number them alike.
		if t.run == r.Pos {
			t.runN++
		} else {
			t.run, t.runN = r.Pos, 0
		}
		it.id = positionID(r.Pos, t.runN)
	} else {
		if len(r.Key) == 0 {
			return nil, errNoKey
		}
		it.id = string(r.Key)
	}
	if len(it.id) > maxIDLen || !printable(it.id) {
		return nil, errBadID
	}
	if it.index, err = s.index(r); err != nil {
		return nil, err
	}
	if len(r.Value) == 0 {
		if !*s.cfg.DeleteOnTombstone {
			return nil, errTombstone
		}
		it.action = actionDelete
		return it, nil
	}
	body, err := jsonObject(r.Value)
	if err != nil {
		return nil, err
	}
	it.body = body
	return it, nil
}

func posString(p engine.Pos) string {
	return fmt.Sprintf("%s[%d] offset %d", p.Stream, p.Partition, p.Offset)
}

// supersede sets to nil the items of a run of one position that a later
// item of the run writes the same document as.
func supersede(run []*item) {
	type doc struct{ index, id string }
	if len(run) <= 16 {
		for i, it := range run {
			for _, later := range run[i+1:] {
				if it != nil && later != nil && later.id == it.id && later.index == it.index {
					run[i] = nil
					break
				}
			}
		}
		return
	}
	last := make(map[doc]int, len(run))
	for i, it := range run {
		if it != nil {
			last[doc{it.index, it.id}] = i
		}
	}
	for i, it := range run {
		if it != nil && last[doc{it.index, it.id}] != i {
			run[i] = nil
		}
	}
}

// positionID returns "<stream>-<partition>-<offset>", with "-<n>" for n > 0.
func positionID(p engine.Pos, n int) string {
	b := make([]byte, 0, len(p.Stream)+24)
	b = append(b, p.Stream...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(p.Partition), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, p.Offset, 10)
	if n > 0 {
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(b)
}

// index returns the index of a record.
// REQUIRES: s.mu.
func (s *Sink) index(r *connect.Record) (string, error) {
	if s.cfg.IndexFunc != nil {
		name, err := s.cfg.IndexFunc(r)
		if err != nil {
			return "", fmt.Errorf("index: %w", err)
		}
		if err := checkIndex(name); err != nil {
			return "", fmt.Errorf("index %q: %w", name, err)
		}
		return name, nil
	}
	if !strings.Contains(s.cfg.Index, TopicPlaceholder) {
		return s.cfg.Index, nil
	}
	if name, ok := s.mu.indexes[r.Pos.Stream]; ok {
		return name, nil
	}
	if r.Pos.Stream == "" {
		return "", errNoTopic
	}
	name := strings.ReplaceAll(s.cfg.Index, TopicPlaceholder, strings.ToLower(r.Pos.Stream))
	if err := checkIndex(name); err != nil {
		return "", fmt.Errorf("index %q: %w", name, err)
	}
	if len(s.mu.indexes) < 1<<12 {
		s.mu.indexes[r.Pos.Stream] = name
	}
	return name, nil
}

// jsonObject returns v if it looks like a JSON object, compacted if it
// holds a newline (which would end the bulk line). It checks the first
// and last bytes only: the cluster parses the document anyway, and
// refuses invalid JSON with a reason (at Prepare); checking it here took
// more time than the rest of Write.
func jsonObject(v []byte) ([]byte, error) {
	i, j := 0, len(v)
	for i < j && isSpace(v[i]) {
		i++
	}
	for j > i && isSpace(v[j-1]) {
		j--
	}
	if j-i < 2 || v[i] != '{' || v[j-1] != '}' {
		return nil, errNotObject
	}
	if bytes.IndexByte(v, '\n') < 0 {
		return v, nil
	}
	var b bytes.Buffer
	b.Grow(len(v))
	if err := json.Compact(&b, v); err != nil {
		return nil, errNotObject
	}
	return b.Bytes(), nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// printable reports whether s is UTF-8 without control or other
// unprintable characters: the indexer quotes ids and index names with
// strconv.Quote, whose escapes of those are not JSON.
func printable(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// settled records the outcome of an item: res is nil on success, err is
// set when the item has no result (the request failed). Called by the
// indexer's workers.
func (s *Sink) settled(it *item, res *bulkItemResult, err error) {
	t := it.t
	t.ack.Lock()
	defer t.ack.Unlock()
	t.ack.inflight--
	switch {
	case err != nil:
		if t.ack.err == nil {
			t.ack.err = fmt.Errorf("elasticsearch sink: task %d: bulk request: %w", t.id, err)
		}
	case res == nil:
	case res.Status == 409:
		// A version conflict: the document holds this version or a newer
		// one (a replay, or a stale worker's write of the same record).
	case res.Status == 404 && it.action == actionDelete:
		// Nothing to delete (an external version is still recorded).
	case res.Status == 429 || res.Status >= 500:
		it.last = itemError(res)
		t.ack.retry = append(t.ack.retry, it)
	case res.Status == 401 || res.Status == 403 || res.Status == 408:
		// Not the record's fault (credentials, a read-only index).
		if t.ack.err == nil {
			t.ack.err = fmt.Errorf("elasticsearch sink: task %d: document %q in %q: %w", t.id, it.id, it.index, itemError(res))
		}
	default:
		t.ack.rejected = append(t.ack.rejected, connect.Rejection{Record: &it.rec, Reason: itemError(res)})
	}
}

// drain sends every buffered item and waits for their outcome, sending
// the items refused with 429 or 5xx again with backoff, at most
// MaxRetries times each.
// REQUIRES: s.mu.
func (s *Sink) drain(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		if err := s.bi.Flush(ctx); err != nil {
			return fmt.Errorf("elasticsearch sink: flushing: %w", err)
		}
		var retry []*item
		for _, t := range s.mu.tasks {
			t.ack.Lock()
			for _, it := range t.ack.retry {
				if it.retries >= s.cfg.MaxRetries {
					if t.ack.err == nil {
						t.ack.err = fmt.Errorf("elasticsearch sink: task %d: document %q in %q still refused after %d retries: %w", t.id, it.id, it.index, it.retries, it.last)
					}
					continue
				}
				it.retries++
				t.ack.inflight++
				retry = append(retry, it)
			}
			t.ack.retry = nil
			t.ack.Unlock()
		}
		if len(retry) == 0 {
			return nil
		}
		tm := time.NewTimer(s.backoff(attempt))
		select {
		case <-ctx.Done():
			tm.Stop()
			for _, it := range retry {
				it.t.ack.Lock()
				it.t.ack.inflight--
				it.t.ack.retry = append(it.t.ack.retry, it)
				it.t.ack.Unlock()
			}
			return ctx.Err()
		case <-tm.C:
		}
		for i, it := range retry {
			if err := s.bi.Add(ctx, it); err != nil {
				for _, it := range retry[i:] {
					it.t.ack.Lock()
					it.t.ack.inflight--
					it.t.ack.retry = append(it.t.ack.retry, it)
					it.t.ack.Unlock()
				}
				return fmt.Errorf("elasticsearch sink: %w", err)
			}
		}
	}
}

// settle drains the indexer and returns, for each task of cp, what the
// cluster refused and the errors. A task with an error keeps it: the
// outcome of its records is unknown.
// REQUIRES: s.mu.
func (s *Sink) settle(ctx context.Context, cp connect.Checkpoint) ([]*task, []connect.Rejection, error) {
	ids := slices.Sorted(maps.Keys(cp))
	tasks := make([]*task, 0, len(ids))
	for _, id := range ids {
		t, err := s.openTask(id)
		if err != nil {
			return nil, nil, err
		}
		tasks = append(tasks, t)
	}
	if err := s.drain(ctx); err != nil {
		return nil, nil, err
	}
	var errs []error
	var rej []connect.Rejection
	for _, t := range tasks {
		t.ack.Lock()
		if t.ack.err == nil && t.ack.inflight != 0 {
			t.ack.err = fmt.Errorf("elasticsearch sink: task %d: %d documents sent and never acknowledged", t.id, t.ack.inflight)
		}
		if t.ack.err != nil {
			errs = append(errs, t.ack.err)
		}
		for _, x := range t.ack.rejected {
			x.Task = t.id
			rej = append(rej, x)
		}
		t.ack.Unlock()
	}
	return tasks, rej, errors.Join(errs...)
}

// Prepare sends what was written for the tasks of cp and waits for the
// cluster's verdict on every document. It returns a *connect.RejectedError
// with the records refused (a document the mapping refuses: the Reason is
// an *ItemError), or an error when documents could not be written (the
// request failed after retries, a document still refused with 429 after
// MaxRetries retries, no permission): the tasks then fail Prepare and
// Commit until OpenTask.
func (s *Sink) Prepare(ctx context.Context, cp connect.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tasks, rej, err := s.settle(ctx, cp)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		t.ack.Lock()
		t.ack.rejected = nil
		t.ack.Unlock()
	}
	if len(rej) > 0 {
		return &connect.RejectedError{Rejected: rej}
	}
	return nil
}

// Commit waits for the documents of the tasks of cp as Prepare does, then
// stores each task's positions in its task document, provided no other
// Sink opened the task since (else the error wraps ErrFenced), and then
// the per-partition offsets documents (if only those fail, the error says
// the positions are committed). A task with nothing written and the same
// positions since its last commit is skipped. It fails if records were
// refused since Prepare (call Prepare first; they are kept for it). A
// failure to reach the cluster leaves the tasks in doubt: Write, Prepare
// and Commit fail for them until OpenTask.
func (s *Sink) Commit(ctx context.Context, cp connect.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tasks, rej, err := s.settle(ctx, cp)
	if err != nil {
		return err
	}
	if len(rej) > 0 {
		// Not a RejectedError: Commit's errors are no rejections. They
		// are kept for Prepare.
		x := rej[0]
		return fmt.Errorf("elasticsearch sink: committing without Prepare: %d records refused, first: task %d: %s: %v", len(rej), x.Task, posString(x.Record.Pos), x.Reason)
	}
	plan := tasks[:0]
	for _, t := range tasks {
		if t.dirty || !t.pos.Equal(cp[t.id]) {
			plan = append(plan, t)
		}
	}
	return s.commit(ctx, plan, cp)
}

// CloseTask forgets the task: documents already sent may still land,
// which is harmless (they are written again, with the same versions, by
// the next owner).
func (s *Sink) CloseTask(ctx context.Context, id connect.TaskID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	delete(s.mu.tasks, id)
	return nil
}

// Close sends what is buffered (without committing it), waits for it as
// far as ctx allows, and closes the client. Later calls of the other
// methods return ErrClosed; Close is idempotent.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil
	}
	s.mu.closed = true
	clear(s.mu.tasks)
	err := s.bi.Close(ctx)
	if cerr := s.client.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("elasticsearch sink: closing: %w", err)
	}
	return nil
}
