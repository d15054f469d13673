package elasticsearch

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// maxOpenAttempts bounds the read-and-bump rounds of OpenTask when other
// Sinks keep opening the same task.
const maxOpenAttempts = 5

// TaskDoc is the task document of OffsetsIndex, _id
// "<consumer>/task:<task>": the positions of the task's last commit, and
// the fence.
type TaskDoc struct {
	Consumer string `json:"consumer"`
	Task     int32  `json:"task"`
	// Generation is incremented by every OpenTask.
	Generation int64 `json:"generation"`
	// Owner names the process that opened the task last
	// ("<host>/<pid>/<random>").
	Owner     string     `json:"owner"`
	Positions []Position `json:"positions"`
	UpdatedAt string     `json:"updated_at"`
}

// Position is the position of one input of a task in a TaskDoc.
type Position struct {
	Topic      string `json:"topic"`
	Partition  int32  `json:"partition"`
	NextOffset int64  `json:"next_offset"`
}

// PartitionDoc is the per-partition document of OffsetsIndex, _id
// "<consumer>/<topic>/<partition>": a copy of one position of a TaskDoc,
// for monitoring, written after it. Its external _version is
// NextOffset+1: it never goes back.
type PartitionDoc struct {
	Consumer   string `json:"consumer"`
	Topic      string `json:"topic"`
	Partition  int32  `json:"partition"`
	NextOffset int64  `json:"next_offset"`
	Task       int32  `json:"task"`
	Generation int64  `json:"generation"`
	UpdatedAt  string `json:"updated_at"`
}

// TaskDocID returns the _id of the task document of task for consumer.
func TaskDocID(consumer string, task connect.TaskID) string {
	return consumer + "/task:" + strconv.Itoa(int(task))
}

// PartitionDocID returns the _id of the per-partition document of in for
// consumer.
func PartitionDocID(consumer string, in engine.Input) string {
	return consumer + "/" + in.Stream + "/" + strconv.Itoa(int(in.Partition))
}

// fence is what a commit of a task must find in its task document.
type fence struct {
	seqNo, primaryTerm int64
	generation         int64
}

func newOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
}

func encodePositions(p engine.Positions) []Position {
	ps := make([]Position, 0, len(p))
	for in, next := range p {
		ps = append(ps, Position{Topic: in.Stream, Partition: in.Partition, NextOffset: next})
	}
	slices.SortFunc(ps, func(a, b Position) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return ps
}

func decodePositions(ps []Position) engine.Positions {
	if len(ps) == 0 {
		return nil
	}
	p := make(engine.Positions, len(ps))
	for _, x := range ps {
		p[engine.Input{Stream: x.Topic, Partition: x.Partition}] = x.NextOffset
	}
	return p
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// openTaskDoc reads the task document and writes it back with the next
// generation, conditionally on what it read: the Sink that opened the
// task before fails its next commit.
func (s *Sink) openTaskDoc(ctx context.Context, id connect.TaskID) (engine.Positions, fence, error) {
	docID := TaskDocID(s.cfg.Consumer, id)
	for range maxOpenAttempts {
		doc, f, found, err := s.readTaskDoc(ctx, docID)
		if err != nil {
			return nil, fence{}, fmt.Errorf("elasticsearch sink: task %d: reading %s/%s: %w", id, s.cfg.OffsetsIndex, docID, err)
		}
		doc.Consumer, doc.Task, doc.Owner, doc.UpdatedAt = s.cfg.Consumer, id, s.owner, now()
		doc.Generation++
		op := bulkOp{action: actionCreate, id: docID, doc: doc}
		if found {
			op.action, op.cas, op.seqNo, op.primaryTerm = actionIndex, true, f.seqNo, f.primaryTerm
		}
		res, err := s.bulk(ctx, []bulkOp{op})
		if err != nil {
			return nil, fence{}, fmt.Errorf("elasticsearch sink: task %d: writing %s/%s: %w", id, s.cfg.OffsetsIndex, docID, err)
		}
		switch r := res[0]; {
		case r.ok():
			return decodePositions(doc.Positions), fence{r.SeqNo, r.PrimaryTerm, doc.Generation}, nil
		case r.Status == 409:
			continue // another Sink opened it meanwhile: read again
		default:
			return nil, fence{}, fmt.Errorf("elasticsearch sink: task %d: writing %s/%s: %w", id, s.cfg.OffsetsIndex, docID, r.itemError())
		}
	}
	return nil, fence{}, fmt.Errorf("elasticsearch sink: task %d: %s/%s changed %d times while opening it: %w", id, s.cfg.OffsetsIndex, docID, maxOpenAttempts, ErrFenced)
}

// readTaskDoc reads a task document, with the sequence number and
// primary term to write it back conditionally.
func (s *Sink) readTaskDoc(ctx context.Context, docID string) (TaskDoc, fence, bool, error) {
	var doc TaskDoc
	body, err := json.Marshal(map[string][]string{"ids": {docID}})
	if err != nil {
		return doc, fence{}, false, err
	}
	res, err := esapi.MgetRequest{Index: s.cfg.OffsetsIndex, Body: bytes.NewReader(body)}.Do(ctx, s.client)
	if err != nil {
		return doc, fence{}, false, err
	}
	defer res.Body.Close()
	if res.StatusCode == 404 { // no index yet
		io.Copy(io.Discard, res.Body)
		return doc, fence{}, false, nil
	}
	if res.IsError() {
		return doc, fence{}, false, errors.New(res.String())
	}
	var resp struct {
		Docs []struct {
			Found       bool            `json:"found"`
			SeqNo       *int64          `json:"_seq_no"`
			PrimaryTerm *int64          `json:"_primary_term"`
			Source      json.RawMessage `json:"_source"`
			Error       *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		} `json:"docs"`
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return doc, fence{}, false, fmt.Errorf("_mget response: %w", err)
	}
	if len(resp.Docs) != 1 {
		return doc, fence{}, false, fmt.Errorf("_mget response has %d docs, want 1", len(resp.Docs))
	}
	d := resp.Docs[0]
	switch {
	case d.Error != nil && d.Error.Type == "index_not_found_exception":
		return doc, fence{}, false, nil
	case d.Error != nil:
		return doc, fence{}, false, fmt.Errorf("%s: %s", d.Error.Type, d.Error.Reason)
	case !d.Found:
		return doc, fence{}, false, nil
	case d.SeqNo == nil || d.PrimaryTerm == nil:
		return doc, fence{}, false, errors.New("_mget response has no _seq_no or _primary_term")
	}
	if err := json.Unmarshal(d.Source, &doc); err != nil {
		return doc, fence{}, false, fmt.Errorf("task document: %w", err)
	}
	return doc, fence{seqNo: *d.SeqNo, primaryTerm: *d.PrimaryTerm, generation: doc.Generation}, true, nil
}

// commit stores the positions of the tasks of plan: their task documents,
// conditionally on their fences, in one bulk request, then the
// per-partition documents of those that succeeded in another.
// REQUIRES: s.mu.
func (s *Sink) commit(ctx context.Context, plan []*task, cp connect.Checkpoint) error {
	if len(plan) == 0 {
		return nil
	}
	at := now()
	ops := make([]bulkOp, len(plan))
	docs := make([]TaskDoc, len(plan))
	for i, t := range plan {
		docs[i] = TaskDoc{
			Consumer:   s.cfg.Consumer,
			Task:       t.id,
			Generation: t.fence.generation,
			Owner:      s.owner,
			Positions:  encodePositions(cp[t.id]),
			UpdatedAt:  at,
		}
		ops[i] = bulkOp{action: actionIndex, id: TaskDocID(s.cfg.Consumer, t.id), cas: true, seqNo: t.fence.seqNo, primaryTerm: t.fence.primaryTerm, doc: &docs[i]}
	}
	res, err := s.bulk(ctx, ops)
	if err != nil {
		// Whether the documents were written is unknown: so is the
		// fence to write them again with.
		for _, t := range plan {
			t.doubt = err
		}
		return fmt.Errorf("elasticsearch sink: committing: %w", err)
	}
	var errs []error
	var parts []bulkOp
	for i, t := range plan {
		switch r := res[i]; {
		case r.ok():
			t.fence.seqNo, t.fence.primaryTerm = r.SeqNo, r.PrimaryTerm
			t.pos, t.dirty = cp[t.id].Clone(), false
			for _, p := range docs[i].Positions {
				in := engine.Input{Stream: p.Topic, Partition: p.Partition}
				parts = append(parts, bulkOp{
					action:  actionIndex,
					id:      PartitionDocID(s.cfg.Consumer, in),
					version: p.NextOffset + 1,
					vtype:   versionExternalGTE,
					doc: &PartitionDoc{
						Consumer: s.cfg.Consumer, Topic: p.Topic, Partition: p.Partition, NextOffset: p.NextOffset,
						Task: t.id, Generation: t.fence.generation, UpdatedAt: at,
					},
				})
			}
		case r.Status == 409:
			t.fenced = true
			errs = append(errs, fmt.Errorf("elasticsearch sink: task %d: %w", t.id, ErrFenced))
		default:
			errs = append(errs, fmt.Errorf("elasticsearch sink: task %d: writing its task document: %w", t.id, r.itemError()))
		}
	}
	if len(parts) > 0 {
		res, err := s.bulk(ctx, parts)
		if err != nil {
			errs = append(errs, fmt.Errorf("elasticsearch sink: positions committed, but not the per-partition documents: %w", err))
		}
		for i, r := range res {
			if !r.ok() && r.Status != 409 { // 409: a newer one is there
				errs = append(errs, fmt.Errorf("elasticsearch sink: positions committed, but not the per-partition document %s: %w", parts[i].id, r.itemError()))
			}
		}
	}
	return errors.Join(errs...)
}

// bulkOp is an action of a bulk request on OffsetsIndex.
type bulkOp struct {
	action             string
	id                 string
	cas                bool // if_seq_no and if_primary_term
	seqNo, primaryTerm int64
	version            int64 // with vtype
	vtype              string
	doc                any // nil for a delete
}

// bulkResult is the outcome of a bulkOp.
type bulkResult struct {
	Status      int    `json:"status"`
	SeqNo       int64  `json:"_seq_no"`
	PrimaryTerm int64  `json:"_primary_term"`
	Result      string `json:"result"`
	Error       struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

func (r *bulkResult) ok() bool { return r.Status >= 200 && r.Status < 300 && r.Error.Type == "" }

func (r *bulkResult) itemError() error {
	return &ItemError{Status: r.Status, Type: r.Error.Type, Reason: r.Error.Reason}
}

// bulk runs ops in a bulk request, sending again with backoff those
// refused with 429 or 5xx, at most MaxRetries times, and returns their
// outcomes in order. The client retries the whole request on 429, 5xx
// and transport errors; an error means the outcome is unknown.
func (s *Sink) bulk(ctx context.Context, ops []bulkOp) ([]bulkResult, error) {
	results := make([]bulkResult, len(ops))
	todo := make([]int, len(ops))
	for i := range todo {
		todo[i] = i
	}
	var buf bytes.Buffer
	for attempt := 0; ; attempt++ {
		buf.Reset()
		for _, i := range todo {
			if err := ops[i].encode(&buf, s.cfg.OffsetsIndex); err != nil {
				return nil, err
			}
		}
		res, err := esapi.BulkRequest{Body: bytes.NewReader(buf.Bytes()), Refresh: "false"}.Do(ctx, s.client)
		if err != nil {
			return nil, err
		}
		var resp struct {
			Items []map[string]bulkResult `json:"items"`
		}
		if res.IsError() {
			res.Body.Close()
			return nil, errors.New(res.String())
		}
		err = json.NewDecoder(res.Body).Decode(&resp)
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("bulk response: %w", err)
		}
		if len(resp.Items) != len(todo) {
			return nil, fmt.Errorf("bulk response has %d items for %d actions", len(resp.Items), len(todo))
		}
		again := todo[:0]
		for k, i := range todo {
			for _, r := range resp.Items[k] {
				results[i] = r
			}
			if r := results[i]; (r.Status == 429 || r.Status >= 500) && attempt < s.cfg.MaxRetries {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			return results, nil
		}
		todo = again
		tm := time.NewTimer(s.backoff(attempt + 1))
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil, ctx.Err()
		case <-tm.C:
		}
	}
}

// encode appends the action and source lines of op to buf.
func (op *bulkOp) encode(buf *bytes.Buffer, index string) error {
	type meta struct {
		Index         string `json:"_index"`
		ID            string `json:"_id"`
		IfSeqNo       *int64 `json:"if_seq_no,omitempty"`
		IfPrimaryTerm *int64 `json:"if_primary_term,omitempty"`
		Version       *int64 `json:"version,omitempty"`
		VersionType   string `json:"version_type,omitempty"`
	}
	m := meta{Index: index, ID: op.id}
	if op.cas {
		m.IfSeqNo, m.IfPrimaryTerm = &op.seqNo, &op.primaryTerm
	}
	if op.vtype != "" {
		m.Version, m.VersionType = &op.version, op.vtype
	}
	line, err := json.Marshal(map[string]meta{op.action: m})
	if err != nil {
		return err
	}
	buf.Write(line)
	buf.WriteByte('\n')
	if op.doc == nil { // a delete
		return nil
	}
	if line, err = json.Marshal(op.doc); err != nil {
		return err
	}
	buf.Write(line)
	buf.WriteByte('\n')
	return nil
}
