package datagen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/connect"
	"github.com/runnel-io/runnel/engine"
)

// Errors of a Source used out of order.
var (
	// ErrClosed is returned by Open and Poll after Close.
	ErrClosed = errors.New("datagen source: closed")
	// ErrNotOpen is returned by Poll before Open.
	ErrNotOpen = errors.New("datagen source: not open")
)

// bytesPerRecord is the space reserved per record in a batch's buffer;
// records are shorter, bar the longest orders.
const bytesPerRecord = 144

// Source generates the records of a preset; see the package doc. Create it
// with New.
type Source struct {
	cfg  Config
	gen  *generator
	in   engine.Input
	pace pacer

	a        connect.Assignments
	opened   bool
	closed   bool
	assigned bool
	now      func() time.Time // the clock that picks a default Start
	stored   int64            // the position in OffsetsFile at Open; -1: none
	// storedIn is the input whose position OffsetsFile holds.
	storedIn engine.Input
	next     int64 // the index of the next record
	end      int64 // the index at which the run ends; -1: unbounded

	lag atomic.Int64 // records left to generate; -1 when unbounded

	offMu     sync.Mutex
	committed int64 // what OffsetsFile holds, -1 unknown; REQUIRES: offMu
}

var (
	_ connect.Source = (*Source)(nil)
	_ connect.Ender  = (*Source)(nil)
)

// New returns a Source for cfg, after validating it. It touches no file:
// Open does.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Source{
		cfg:       cfg,
		now:       time.Now,
		pace:      newPacer(cfg.Rate),
		stored:    -1,
		end:       -1,
		committed: -1,
	}
	if cfg.Start != "" {
		s.in = inputOf(cfg.Preset, cfg.Start)
	}
	if cfg.OffsetsFile != "" {
		abs, err := filepath.Abs(cfg.OffsetsFile)
		if err != nil {
			return nil, fmt.Errorf("datagen source: %s: %w", fieldOffsetsFile, err)
		}
		s.cfg.OffsetsFile = abs
	}
	if cfg.Count > 0 {
		s.lag.Store(cfg.Count)
	} else {
		s.lag.Store(-1)
	}
	return s, nil
}

// Input returns the input of the records of a source whose Start is
// set: {Stream: "datagen:<preset>@<start>", Partition: 0}. Positions of
// task 0 are keyed by it. With the default Start the input is known once
// the source resumed (the first Poll): the start is the one of the
// position it resumed at, or the time of that Poll.
func (s *Source) Input() engine.Input {
	s.offMu.Lock()
	defer s.offMu.Unlock()
	return s.in
}

// inputOf is the input of the records of preset from start (RFC 3339).
func inputOf(preset, start string) engine.Input {
	return engine.Input{Stream: streamPrefix(preset) + "@" + start}
}

func streamPrefix(preset string) string { return "datagen:" + preset }

// StartOf returns the start that the input of a datagen position
// carries: "datagen:<preset>@<start>", or LegacyStart for a position
// stored without one ("datagen:<preset>"). ok is false when in is not
// the input of preset.
func StartOf(preset string, in engine.Input) (start string, ok bool) {
	rest, found := strings.CutPrefix(in.Stream, streamPrefix(preset))
	switch {
	case !found || in.Partition != 0:
		return "", false
	case rest == "":
		return LegacyStart, true
	case strings.HasPrefix(rest, "@"):
		if _, err := time.Parse(time.RFC3339, rest[1:]); err == nil {
			return rest[1:], true
		}
	}
	return "", false
}

// Open reads OffsetsFile, if set: a file that is corrupt or holds the
// position of another preset is an error naming it. Task 0 is assigned,
// and generation starts, on the first Poll.
func (s *Source) Open(ctx context.Context, a connect.Assignments) error {
	switch {
	case s.closed:
		return ErrClosed
	case s.opened:
		return errors.New("datagen source: already open")
	case a == nil:
		return errors.New("datagen source: Open needs Assignments")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.cfg.OffsetsFile != "" {
		in, next, ok, err := readOffsets(s.cfg.OffsetsFile, s.cfg.Preset)
		if err != nil {
			return err
		}
		if ok {
			s.stored, s.storedIn = next, in
			s.offMu.Lock()
			s.committed = next
			s.offMu.Unlock()
		}
	}
	s.a, s.opened = a, true
	return nil
}

// Poll returns the next records, at most MaxBatch, in one Batch of task 0.
// On the first call it asks the Assignments for the position of Input to
// resume from; without one it resumes at OffsetsFile's, else at record 0.
// With Count set it returns connect.ErrEndOfInput once Count records were
// returned. With Rate set it waits until a record is due, and returns
// ctx's error when ctx ends first. The records and their bytes are never
// written to again: a sink may keep them.
func (s *Source) Poll(ctx context.Context) ([]connect.Batch, error) {
	switch {
	case s.closed:
		return nil, ErrClosed
	case !s.opened:
		return nil, ErrNotOpen
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.assigned {
		if err := s.assign(ctx); err != nil {
			return nil, err
		}
	}
	n := s.cfg.MaxBatch
	if s.end >= 0 {
		if s.next >= s.end {
			return nil, connect.ErrEndOfInput
		}
		n = int(min(int64(n), s.end-s.next))
	}
	if s.cfg.Rate > 0 {
		var err error
		if n, err = s.pace.take(ctx, n); err != nil {
			return nil, err
		}
	}
	recs := s.generate(n)
	if s.end >= 0 {
		s.lag.Store(s.end - s.next)
	}
	return []connect.Batch{{Task: 0, Records: recs}}, nil
}

// assign asks for task 0 and resumes at the position returned: of the
// input of Start when it is set; else of the datagen input of the preset
// the Assignments or OffsetsFile hold, whose start it takes; else at
// record 0, from Start or the time now.
func (s *Source) assign(ctx context.Context) error {
	pos, err := s.a.Assigned(ctx, []connect.TaskID{0})
	if err != nil {
		return fmt.Errorf("datagen source: assigning task 0: %w", err)
	}
	var in engine.Input
	var next int64
	found := false
	pick := func(stored engine.Input, off int64) {
		start, ok := StartOf(s.cfg.Preset, stored)
		if !ok || found || (s.cfg.Start != "" && start != s.cfg.Start) {
			return
		}
		// A position stored without its start (LegacyStart) keeps its
		// input.
		in, next, found = stored, off, true
	}
	for _, in := range slices.SortedFunc(maps.Keys(pos[0]), func(a, b engine.Input) int { return strings.Compare(a.Stream, b.Stream) }) {
		pick(in, pos[0][in])
	}
	if s.stored >= 0 {
		pick(s.storedIn, s.stored)
	}
	if !found {
		start := s.cfg.Start
		if start == "" {
			start = s.now().UTC().Truncate(time.Second).Format(time.RFC3339)
		}
		in = inputOf(s.cfg.Preset, start)
	}
	if next < 0 {
		return fmt.Errorf("datagen source: assigned position %d of %s is negative", next, in.Stream)
	}
	s.offMu.Lock()
	s.in = in
	s.offMu.Unlock()
	start, _ := StartOf(s.cfg.Preset, in)
	cfg := s.cfg
	cfg.Start = start
	s.gen = newGenerator(cfg)
	s.next = next
	if s.cfg.Count > 0 {
		s.end = math.MaxInt64
		if next <= math.MaxInt64-s.cfg.Count {
			s.end = next + s.cfg.Count
		}
	}
	s.assigned = true
	return nil
}

// generate returns the next n records and moves past them. They share one
// buffer, which is never appended to again.
func (s *Source) generate(n int) []*connect.Record {
	recs := make([]connect.Record, n)
	out := make([]*connect.Record, n)
	buf := make([]byte, 0, n*bytesPerRecord)
	for k := range recs {
		i := s.next + int64(k)
		start := len(buf)
		var keyLen int
		var ts int64
		buf, keyLen, ts = s.gen.appendRecord(buf, i)
		rec := buf[start:len(buf):len(buf)]
		recs[k] = connect.Record{
			Key:   rec[:keyLen:keyLen],
			Value: rec[keyLen:],
			Time:  ts,
			Pos:   engine.Pos{Input: s.in, Offset: i, Next: i + 1},
		}
		out[k] = &recs[k]
	}
	s.next += int64(n)
	return out
}

// AtEnd implements connect.Ender: with Count set, task 0 has generated
// its Count records (the last Poll returned the last of them). It is
// called between Polls.
func (s *Source) AtEnd(task connect.TaskID) bool {
	return task == 0 && s.assigned && s.end >= 0 && s.next >= s.end
}

// Lag returns, for task 0, how many of the Count records are left to
// generate (Count before the first Poll); -1 when Count is 0 (unbounded).
// It is safe to call concurrently with Poll.
func (s *Source) Lag() map[connect.TaskID]int64 {
	return map[connect.TaskID]int64{0: s.lag.Load()}
}

// Commit stores the position of Input in task 0 of cp in OffsetsFile,
// atomically, when it differs from the stored one; it does nothing
// without OffsetsFile or without that position. It is safe to call
// concurrently with Poll.
func (s *Source) Commit(ctx context.Context, cp connect.Checkpoint) error {
	in := s.Input()
	next, ok := cp[0][in]
	if s.cfg.OffsetsFile == "" || !ok || in.Stream == "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if next < 0 {
		return fmt.Errorf("datagen source: committed position %d of %s is negative", next, in.Stream)
	}
	s.offMu.Lock()
	defer s.offMu.Unlock()
	if next == s.committed {
		return nil
	}
	if err := writeOffsets(s.cfg.OffsetsFile, s.cfg.Preset, in, next); err != nil {
		return err
	}
	s.committed = next
	return nil
}

// Close ends the source: Open and Poll fail with ErrClosed afterwards.
// It holds nothing to release. Close is idempotent.
func (s *Source) Close(context.Context) error {
	s.closed = true
	return nil
}
