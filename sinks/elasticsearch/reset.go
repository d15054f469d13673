package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

var _ connect.PositionsDeleter = (*Sink)(nil)

// maxOffsetsDocs is the most offsets documents of a consumer that
// StoredPositions and DeletePositions handle: one search's result window.
const maxOffsetsDocs = 10000

// offsetsDoc is an offsets document of the Sink's consumer found by a
// search: a task document (task set) or a per-partition one.
type offsetsDoc struct {
	id    string
	task  *TaskDoc
	fence fence
}

// offsetsDocs refreshes OffsetsIndex and returns the consumer's task
// documents and per-partition documents, sorted by _id; none when the
// index does not exist.
func (s *Sink) offsetsDocs(ctx context.Context) ([]offsetsDoc, error) {
	yes := true
	res, err := esapi.IndicesRefreshRequest{Index: []string{s.cfg.OffsetsIndex}, IgnoreUnavailable: &yes}.Do(ctx, s.client)
	if err != nil {
		return nil, fmt.Errorf("refreshing %s: %w", s.cfg.OffsetsIndex, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode == 404 {
		return nil, nil
	}
	if res.IsError() {
		return nil, fmt.Errorf("refreshing %s: %s", s.cfg.OffsetsIndex, res.String())
	}
	// The consumer is a text field with a keyword sub-field under dynamic
	// mapping, or a keyword: either term finds it, and each hit's
	// consumer is checked below.
	query := map[string]any{
		"size":             maxOffsetsDocs,
		"track_total_hits": true,
		"query": map[string]any{"bool": map[string]any{
			"should": []any{
				map[string]any{"term": map[string]any{"consumer.keyword": s.cfg.Consumer}},
				map[string]any{"term": map[string]any{"consumer": s.cfg.Consumer}},
			},
			"minimum_should_match": 1,
		}},
	}
	body, err := json.Marshal(query)
	if err != nil {
		return nil, err
	}
	res, err = esapi.SearchRequest{Index: []string{s.cfg.OffsetsIndex}, Body: bytes.NewReader(body), SeqNoPrimaryTerm: &yes}.Do(ctx, s.client)
	if err != nil {
		return nil, fmt.Errorf("searching %s: %w", s.cfg.OffsetsIndex, err)
	}
	defer res.Body.Close()
	if res.StatusCode == 404 {
		io.Copy(io.Discard, res.Body)
		return nil, nil
	}
	if res.IsError() {
		return nil, fmt.Errorf("searching %s: %s", s.cfg.OffsetsIndex, res.String())
	}
	var resp struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
			Hits []struct {
				ID          string          `json:"_id"`
				SeqNo       int64           `json:"_seq_no"`
				PrimaryTerm int64           `json:"_primary_term"`
				Source      json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return nil, fmt.Errorf("search response: %w", err)
	}
	if n := resp.Hits.Total.Value; n > len(resp.Hits.Hits) {
		return nil, fmt.Errorf("%s holds %d offsets documents that may be of consumer %q, more than the %d handled", s.cfg.OffsetsIndex, n, s.cfg.Consumer, maxOffsetsDocs)
	}
	var out []offsetsDoc
	taskPrefix := s.cfg.Consumer + "/task:"
	for _, h := range resp.Hits.Hits {
		var who struct {
			Consumer string `json:"consumer"`
		}
		if err := json.Unmarshal(h.Source, &who); err != nil || who.Consumer != s.cfg.Consumer || !strings.HasPrefix(h.ID, s.cfg.Consumer+"/") {
			continue
		}
		d := offsetsDoc{id: h.ID, fence: fence{seqNo: h.SeqNo, primaryTerm: h.PrimaryTerm}}
		if strings.HasPrefix(h.ID, taskPrefix) {
			var td TaskDoc
			if err := json.Unmarshal(h.Source, &td); err != nil {
				return nil, fmt.Errorf("%s/%s: %w", s.cfg.OffsetsIndex, h.ID, err)
			}
			if h.ID != TaskDocID(s.cfg.Consumer, td.Task) {
				continue
			}
			d.task, d.fence.generation = &td, td.Generation
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b offsetsDoc) int { return strings.Compare(a.id, b.id) })
	return out, nil
}

// StoredPositions implements connect.PositionsDeleter: the positions of
// the consumer's task documents that hold some. It refreshes
// OffsetsIndex (to search it) and changes nothing else.
func (s *Sink) StoredPositions(ctx context.Context) (map[connect.TaskID]engine.Positions, error) {
	docs, err := s.offsetsDocs(ctx)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch sink: reading the positions of consumer %q: %w", s.cfg.Consumer, err)
	}
	out := map[connect.TaskID]engine.Positions{}
	for _, d := range docs {
		if d.task != nil {
			if pos := decodePositions(d.task.Positions); pos != nil {
				out[d.task.Task] = pos
			}
		}
	}
	return out, nil
}

// DeletePositions implements connect.PositionsDeleter. Each task
// document of the consumer that holds positions is written back without
// them and with the next generation, conditionally on what was found
// (if_seq_no and if_primary_term), as OpenTask does: a Sink that still
// has the task open fails its next Commit with ErrFenced, and a 409 (the
// document changed since: a process runs the pipeline) fails
// DeletePositions. The per-partition documents are deleted. Their
// external versions never go back, so one reappears once a commit passes
// the offset it had; until then (or until Elasticsearch forgets the
// deleted version, after index.gc_deletes, 60s by default) the position
// it monitors is missing rather than wrong. The documents indexed from
// records stay.
func (s *Sink) DeletePositions(ctx context.Context) error {
	docs, err := s.offsetsDocs(ctx)
	if err != nil {
		return fmt.Errorf("elasticsearch sink: deleting the positions of consumer %q: %w", s.cfg.Consumer, err)
	}
	var ops []bulkOp
	at := now()
	for _, d := range docs {
		switch {
		case d.task == nil:
			ops = append(ops, bulkOp{action: actionDelete, id: d.id})
		case len(d.task.Positions) > 0:
			doc := *d.task
			doc.Generation++
			doc.Owner, doc.Positions, doc.UpdatedAt = s.owner, []Position{}, at
			ops = append(ops, bulkOp{action: actionIndex, id: d.id, cas: true, seqNo: d.fence.seqNo, primaryTerm: d.fence.primaryTerm, doc: &doc})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	res, err := s.bulk(ctx, ops)
	if err != nil {
		return fmt.Errorf("elasticsearch sink: deleting the positions of consumer %q: %w", s.cfg.Consumer, err)
	}
	var errs []error
	for i, r := range res {
		switch {
		case r.ok(), ops[i].action == actionDelete && r.Status == 404:
		case r.Status == 409:
			errs = append(errs, fmt.Errorf("%s/%s changed while its positions were deleted (a process runs the pipeline?): %w", s.cfg.OffsetsIndex, ops[i].id, ErrFenced))
		default:
			errs = append(errs, fmt.Errorf("%s/%s: %w", s.cfg.OffsetsIndex, ops[i].id, r.itemError()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("elasticsearch sink: deleting the positions of consumer %q: %w", s.cfg.Consumer, err)
	}
	return nil
}
