package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	ErrClosed = errors.New("file source: closed")
	// ErrNotOpen is returned by Poll before Open.
	ErrNotOpen = errors.New("file source: not open")
)

// Source reads files line by line; see the package doc. Create it with
// New.
type Source struct {
	cfg       Config
	csvHeader bool
	maxLine   int // MaxLineBytes; lowered by tests
	dec       *decoder
	exclude   map[string]bool // the offsets file and its temporary file

	a        connect.Assignments
	opened   bool
	closed   bool
	assigned bool
	err      error            // sticky: every later Poll returns it
	start    map[string]int64 // where a file not yet known resumes, by path

	files     []*input // bounded: in reading order; follow: sorted by path
	byPath    map[string]*input
	cur       int       // bounded: index in files of the file being read
	reglobbed bool      // bounded: the final glob was done
	ended     bool      // bounded: everything was read
	rr        int       // follow: where the next round-robin pass starts
	lastScan  time.Time // follow: when files were last globbed and sized

	lag atomic.Int64 // bytes not yet read; -1 before Open

	offMu   sync.Mutex
	offsets engine.Positions // what OffsetsFile holds; REQUIRES: offMu
}

var _ connect.Source = (*Source)(nil)

// New returns a Source for cfg, after validating it. It touches no file:
// Open does.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Source{
		cfg:       cfg,
		csvHeader: cfg.Format == FormatCSV && *cfg.CSVHeader,
		maxLine:   MaxLineBytes,
		exclude:   map[string]bool{},
		start:     map[string]int64{},
		byPath:    map[string]*input{},
		offsets:   engine.Positions{},
	}
	s.dec = newDecoder(cfg.Format, s.csvHeader)
	s.lag.Store(-1)
	if cfg.OffsetsFile != "" {
		abs, err := filepath.Abs(cfg.OffsetsFile)
		if err != nil {
			return nil, fmt.Errorf("file source: %s: %w", fieldOffsetsFile, err)
		}
		s.cfg.OffsetsFile = abs
		s.exclude[abs] = true
		s.exclude[abs+tmpSuffix] = true
	}
	return s, nil
}

// Open loads OffsetsFile and globs the paths. Task 0 is assigned, and
// reading starts, on the first Poll. In bounded mode a literal path that
// does not exist is an error.
func (s *Source) Open(ctx context.Context, a connect.Assignments) error {
	switch {
	case s.closed:
		return ErrClosed
	case s.opened:
		return errors.New("file source: already open")
	case a == nil:
		return errors.New("file source: Open needs Assignments")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.cfg.OffsetsFile != "" {
		p, err := readOffsets(s.cfg.OffsetsFile)
		if err != nil {
			return err
		}
		s.offsets = p
		for in, next := range p {
			if in.Partition == 0 {
				s.start[in.Stream] = next
			}
		}
	}
	found, err := s.glob(!s.cfg.Follow)
	if err != nil {
		return err
	}
	s.addFiles(found)
	s.a, s.opened = a, true
	s.updateLag()
	return nil
}

// Poll returns the next records of task 0, at most MaxBatch, in one
// Batch. On the first call it asks the Assignments for the positions to
// resume from. A following source waits, polling every PollInterval, until
// there are records or ctx ends; a bounded one returns
// connect.ErrEndOfInput once everything was read. An error reading or
// parsing a file (it names the file and offset) is returned after the
// records read before it, and by every later call.
func (s *Source) Poll(ctx context.Context) ([]connect.Batch, error) {
	switch {
	case s.closed:
		return nil, ErrClosed
	case !s.opened:
		return nil, ErrNotOpen
	case s.err != nil:
		return nil, s.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.assigned {
		if err := s.assign(ctx); err != nil {
			return nil, err
		}
	}
	if s.ended {
		return nil, connect.ErrEndOfInput
	}
	var recs []*connect.Record
	var err error
	if s.cfg.Follow {
		recs, err = s.pollFollow(ctx)
	} else {
		recs, err = s.pollBounded(ctx)
	}
	s.updateLag()
	if err != nil && err != ctx.Err() {
		s.err = err // the line in error was consumed: never go past it
	}
	switch {
	case len(recs) > 0:
		return []connect.Batch{{Task: 0, Records: recs}}, nil
	case err != nil:
		return nil, err
	case s.ended:
		return nil, connect.ErrEndOfInput
	}
	return nil, nil
}

// assign asks for task 0 and applies the positions returned.
func (s *Source) assign(ctx context.Context) error {
	pos, err := s.a.Assigned(ctx, []connect.TaskID{0})
	if err != nil {
		return fmt.Errorf("file source: assigning task 0: %w", err)
	}
	for in, next := range pos[0] {
		if in.Partition == 0 {
			s.start[in.Stream] = next
		}
	}
	for _, f := range s.files { // none is open yet
		f.pos = s.start[f.path]
		f.size = max(f.size, f.pos)
	}
	s.assigned = true
	return nil
}

// pollBounded reads the files one after the other.
func (s *Source) pollBounded(ctx context.Context) ([]*connect.Record, error) {
	var recs []*connect.Record
	for len(recs) < s.cfg.MaxBatch {
		if err := ctx.Err(); err != nil {
			return recs, err
		}
		if s.cur == len(s.files) {
			if s.reglobbed {
				s.ended = true
				return recs, nil
			}
			s.reglobbed = true
			found, err := s.glob(false)
			if err != nil {
				return recs, err
			}
			s.addFiles(found)
			continue
		}
		f := s.files[s.cur]
		if f.f == nil {
			if err := f.open(s.csvHeader, s.maxLine); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					return recs, err
				}
				f.done, s.cur = true, s.cur+1 // deleted since it was found
				continue
			}
		}
		var atEnd bool
		var err error
		recs, atEnd, err = s.readFile(ctx, f, recs, s.cfg.MaxBatch, true)
		if err != nil {
			return recs, err
		}
		if atEnd {
			f.size = f.pos
			f.done, s.cur = true, s.cur+1
			if err := f.close(); err != nil {
				return recs, fmt.Errorf("file source: %s: %w", f.path, err)
			}
		}
	}
	return recs, nil
}

// pollFollow reads the files round-robin, waiting for data when there is
// none.
func (s *Source) pollFollow(ctx context.Context) ([]*connect.Record, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if s.lastScan.IsZero() || time.Since(s.lastScan) >= s.cfg.PollInterval {
			if err := s.rescan(); err != nil {
				return nil, err
			}
			s.lastScan = time.Now()
		}
		recs, err := s.readRoundRobin(ctx)
		if len(recs) > 0 || err != nil {
			return recs, err
		}
		s.updateLag()
		if timer == nil {
			timer = time.NewTimer(s.cfg.PollInterval)
		} else {
			timer.Reset(s.cfg.PollInterval)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// readRoundRobin reads up to MaxBatch records, taking at most a fair share
// from each file per pass, starting one file further on every call.
func (s *Source) readRoundRobin(ctx context.Context) ([]*connect.Record, error) {
	n := len(s.files)
	if n == 0 {
		return nil, nil
	}
	limit := s.cfg.MaxBatch
	quota := max(1, limit/n)
	first := s.rr % n
	s.rr = first + 1
	var recs []*connect.Record
	var err error
	defer s.dropDrained()
	for progress := true; progress && len(recs) < limit; {
		progress = false
		for i := 0; i < n && len(recs) < limit; i++ {
			if err := ctx.Err(); err != nil {
				return recs, err
			}
			f := s.files[(first+i)%n]
			if f.done {
				continue
			}
			if f.f == nil {
				if err := f.open(s.csvHeader, s.maxLine); err != nil {
					if !errors.Is(err, fs.ErrNotExist) {
						return recs, err
					}
					f.done = true // deleted since it was found
					continue
				}
			}
			before := f.pos
			var atEnd bool
			recs, atEnd, err = s.readFile(ctx, f, recs, min(limit, len(recs)+quota), f.gone)
			if err != nil {
				return recs, err
			}
			if f.pos != before {
				progress = true
			}
			if atEnd && f.gone {
				f.done = true
			}
		}
	}
	return recs, nil
}

// dropDrained forgets the files read to their end after they were deleted
// or replaced; one appearing again under the same path resumes at the
// position reached.
func (s *Source) dropDrained() {
	s.files = slices.DeleteFunc(s.files, func(f *input) bool {
		if !f.done {
			return false
		}
		f.close()
		s.start[f.path] = f.pos
		delete(s.byPath, f.path)
		return true
	})
}

// rescan checks the size and identity of every known file and adds the
// files newly matching the paths (follow mode).
func (s *Source) rescan() error {
	for _, f := range s.files {
		if f.gone {
			continue
		}
		fi, err := os.Stat(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			f.gone = true
			f.done = f.f == nil
			continue
		case err != nil:
			return fmt.Errorf("file source: %w", err)
		case f.f != nil && !os.SameFile(f.fi, fi):
			f.gone = true // replaced: drain the old one, then take the new
			continue
		case fi.Size() < f.read():
			return truncatedError(f.path, f.read(), fi.Size())
		}
		f.size = fi.Size()
	}
	s.dropDrained()
	found, err := s.glob(false)
	if err != nil {
		return err
	}
	s.addFiles(found)
	return nil
}

// readFile appends to recs the records of f's next lines, until recs
// holds limit records or f's data runs out (atEnd). With final, a last
// line without "\n" is a record too.
func (s *Source) readFile(ctx context.Context, f *input, recs []*connect.Record, limit int, final bool) (_ []*connect.Record, atEnd bool, _ error) {
	now := time.Now().UnixMilli()
	for i := 1; len(recs) < limit; i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return recs, false, nil // the caller returns ctx's error
		}
		line, start, ok, err := f.nextLine(final, s.maxLine)
		if err != nil {
			return recs, false, err
		}
		if !ok {
			f.size = max(f.size, f.read())
			return recs, true, nil
		}
		v, isRec, err := s.dec.value(f, trimEOL(line), start)
		if err != nil {
			return recs, false, err
		}
		if !isRec {
			continue
		}
		recs = append(recs, &connect.Record{
			Value:   v,
			Time:    now,
			Headers: []engine.Header{f.hdrs[0]},
			Pos:     engine.Pos{Input: f.in, Offset: start, Next: f.pos},
		})
	}
	f.size = max(f.size, f.read())
	return recs, false, nil
}

// found is a file matched by the paths.
type found struct {
	path string // cleaned absolute path
	size int64
}

// glob returns the regular files the paths match, sorted by path. With
// strict a literal path that does not exist is an error.
func (s *Source) glob(strict bool) ([]found, error) {
	seen := map[string]bool{}
	var out []found
	add := func(name string, fi os.FileInfo) error {
		abs, err := filepath.Abs(name)
		if err != nil {
			return fmt.Errorf("file source: %w", err)
		}
		if !seen[abs] && !s.exclude[abs] {
			seen[abs] = true
			out = append(out, found{path: abs, size: fi.Size()})
		}
		return nil
	}
	for _, p := range s.cfg.Paths {
		matches := []string{p}
		if hasMeta(p) {
			m, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("file source: %s: %q: %w", fieldPaths, p, err)
			}
			matches = m
		}
		for _, m := range matches {
			fi, err := os.Stat(m)
			switch {
			case errors.Is(err, fs.ErrNotExist) && !(strict && !hasMeta(p)):
				continue
			case err != nil:
				return nil, fmt.Errorf("file source: %w", err)
			case fi.Mode().IsRegular():
				if err := add(m, fi); err != nil {
					return nil, err
				}
			case fi.IsDir():
				entries, err := os.ReadDir(m)
				if err != nil {
					return nil, fmt.Errorf("file source: %w", err)
				}
				for _, e := range entries {
					name := filepath.Join(m, e.Name())
					efi, err := os.Stat(name) // follows symbolic links
					if errors.Is(err, fs.ErrNotExist) {
						continue
					}
					if err != nil {
						return nil, fmt.Errorf("file source: %w", err)
					}
					if efi.Mode().IsRegular() {
						if err := add(name, efi); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b found) int { return strings.Compare(a.path, b.path) })
	return out, nil
}

// hasMeta reports whether p holds filepath.Match syntax.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// addFiles adds the files not known yet. In follow mode s.files stays
// sorted; in bounded mode new files go after the known ones, which are
// being read in order.
func (s *Source) addFiles(found []found) {
	added := false
	for _, fd := range found {
		if s.byPath[fd.path] != nil {
			continue
		}
		f := newInput(fd.path, s.start[fd.path])
		f.size = max(fd.size, f.pos)
		s.byPath[fd.path] = f
		s.files = append(s.files, f)
		added = true
	}
	if added && s.cfg.Follow {
		slices.SortFunc(s.files, func(a, b *input) int { return strings.Compare(a.path, b.path) })
	}
}

// updateLag recomputes the bytes known and not read.
func (s *Source) updateLag() {
	var lag int64
	for _, f := range s.files {
		if !f.done {
			lag += max(0, f.size-f.pos)
		}
	}
	s.lag.Store(lag)
}

// Lag returns, for task 0, the bytes of the known files not read yet, as
// of the last Poll (-1 before Open). It is safe to call concurrently with
// Poll.
func (s *Source) Lag() map[connect.TaskID]int64 {
	return map[connect.TaskID]int64{0: s.lag.Load()}
}

// Commit stores the positions of task 0 in OffsetsFile, atomically; it
// does nothing without OffsetsFile. Inputs absent from cp keep their
// stored positions. It is safe to call concurrently with Poll.
func (s *Source) Commit(ctx context.Context, cp connect.Checkpoint) error {
	p, ok := cp[0]
	if s.cfg.OffsetsFile == "" || !ok {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.offMu.Lock()
	defer s.offMu.Unlock()
	merged := s.offsets.Clone()
	for in, next := range p {
		merged[in] = next
	}
	if merged.Equal(s.offsets) {
		return nil
	}
	if err := writeOffsets(s.cfg.OffsetsFile, merged); err != nil {
		return err
	}
	s.offsets = merged
	return nil
}

// Close releases the open files. Poll fails with ErrClosed afterwards.
// Close is idempotent.
func (s *Source) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, f := range s.files {
		if err := f.close(); err != nil {
			errs = append(errs, fmt.Errorf("file source: %s: %w", f.path, err))
		}
	}
	return errors.Join(errs...)
}
