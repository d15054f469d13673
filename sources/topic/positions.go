package topic

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/runnel-io/runnel/engine"
)

// refreshInterval is how often the source lists the ends of its
// partitions, for Lag.
const refreshInterval = time.Second

// waitWarn is how long a bounded source waits for its partitions before
// it says that it is waiting, and then again every waitWarn.
const waitWarn = 15 * time.Second

// part is where the source is in an assigned partition, and where the
// partition ends. Offsets are -1 when not known yet.
type part struct {
	// next is the offset of the next record to read: where reading starts
	// (from Assignments, or the group), then after the last record read
	// (transaction markers included).
	next int64
	// exact says next is an offset the source was told or read, not one
	// resolved from the reset policy: records between it and what comes
	// next were skipped if they are missing.
	exact bool
	// listed: the partition's start and end were listed since it was
	// assigned (the first listing checks next against the log start).
	listed bool
	// end is the last known end (last stable offset).
	end int64
	// stopAt is, in a bounded run, the end to read up to: the end when
	// the partition was assigned, or when the run was bounded.
	stopAt int64
	// from is the number of the last listing that started before the
	// partition was assigned or the run bounded: only a later one may
	// set listed and stopAt (an earlier one may answer after StopAtEnd,
	// with an end from before the stage upstream finished).
	from int64
}

// own records that the source was assigned in, starting at off (a
// relative offset, below 0, when not known).
//
// REQUIRES: s.mu
func (s *Source) own(in engine.Input, off int64) {
	p := &part{next: -1, end: -1, stopAt: -1, from: s.listings}
	if off >= 0 {
		p.next, p.exact = off, true
	}
	s.parts[in] = p
}

// kickLocked makes the refresher list the ends now.
//
// REQUIRES: s.mu
func (s *Source) kickLocked() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Source) startRefresher() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopRef = cancel
	s.refWG.Add(1)
	go func() {
		defer s.refWG.Done()
		t := time.NewTicker(refreshInterval)
		defer t.Stop()
		var failingSince, warned time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-s.kick:
			}
			err := s.refresh(ctx)
			switch {
			case err == nil || ctx.Err() != nil:
				failingSince = time.Time{}
			case failingSince.IsZero():
				failingSince = time.Now()
				fallthrough
			default:
				// Lag is unknown meanwhile, and a bounded run cannot end:
				// say so when it lasts.
				if time.Since(failingSince) >= waitWarn && time.Since(warned) >= waitWarn {
					s.log.Warn("cannot list the ends of the partitions", "topics", s.cfg.Topics, "for", time.Since(failingSince).Round(time.Second), "err", err)
					warned = time.Now()
				} else {
					s.log.Debug("listing the ends of the partitions", "err", err)
				}
			}
		}
	}()
}

func (s *Source) stopRefresher() {
	if s.stopRef != nil {
		s.stopRef()
		s.refWG.Wait()
	}
}

// refresh lists the start and end offsets of the assigned partitions'
// topics and updates the parts.
func (s *Source) refresh(ctx context.Context) error {
	s.mu.Lock()
	n := len(s.parts)
	s.listings++
	listing := s.listings
	s.mu.Unlock()
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(s.cl)
	ends, err := adm.ListCommittedOffsets(ctx, s.cfg.Topics...)
	if err != nil {
		return err
	}
	starts, err := adm.ListStartOffsets(ctx, s.cfg.Topics...)
	if err != nil {
		return err
	}
	if s.testHookListed != nil {
		s.testHookListed()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for in, p := range s.parts {
		e, ok := ends.Lookup(in.Stream, in.Partition)
		st, ok2 := starts.Lookup(in.Stream, in.Partition)
		if !ok || !ok2 || e.Err != nil || st.Err != nil {
			continue
		}
		p.end = max(p.end, e.Offset)
		if listing <= p.from {
			continue // started before the part was assigned or bounded
		}
		if s.bounded && p.stopAt < 0 {
			p.stopAt = e.Offset
		}
		if p.listed {
			continue
		}
		p.listed = true
		switch {
		case p.next < 0 && s.cfg.StartAt == "latest":
			p.next = e.Offset
		case p.next < 0:
			p.next = st.Offset
		case p.exact && p.next < st.Offset:
			// Nothing below the log start can be fetched any more: what
			// lies between is gone, and the client goes on where the
			// reset policy says: the log start, or with start_at latest
			// the end (skipping the records between too).
			to := st.Offset
			if s.cfg.StartAt == "latest" {
				to = max(e.Offset, to)
			}
			s.skip(in, p.next, to, st.Offset)
			p.next = to
		}
	}
	return nil
}

// fetched updates the part of in after a fetch returned the records
// first to last (offsets, markers included), with the partition's log
// start and last stable offset as the broker answered them. A gap before
// first, below the log start, is records deleted (retention,
// DeleteRecords) before they were read: it is logged and counted.
//
// REQUIRES: s.mu
func (s *Source) fetched(in engine.Input, first, last, logStart, lso int64) {
	p := s.parts[in]
	if p == nil {
		return // revoked since
	}
	if n := Deleted(p.next, first, logStart); p.exact && n > 0 {
		s.skip(in, p.next, first, logStart)
	}
	p.next, p.exact = last+1, true
	p.end = max(p.end, lso, p.next)
}

// Deleted returns how many offsets before first, the first offset a
// fetch returned, were deleted before a consumer at next read them: the
// gap between next and first when the partition's log now starts past
// next (retention deleted the segment the consumer was about to read,
// and the client went on at the log start). A gap above the log start
// (aborted transactions, compaction) is no loss: 0.
func Deleted(next, first, logStart int64) int64 {
	if first <= next || logStart <= next {
		return 0
	}
	return first - next
}

// skip logs and counts that offsets from to to-1 of in were not read:
// those below logStart were deleted, those above (with start_at latest)
// skipped by the reset policy.
//
// REQUIRES: s.mu
func (s *Source) skip(in engine.Input, from, to, logStart int64) {
	s.skipped += to - from
	msg := "records were deleted before they were read (retention.ms, retention.bytes or DeleteRecords): skipping them"
	if to > logStart {
		msg = "records were deleted before they were read (retention.ms, retention.bytes or DeleteRecords), and start_at latest skips to the end: skipping them"
	}
	s.log.Warn(msg, "topic", in.Stream, "partition", in.Partition, "skipped", to-from, "from_offset", from, "log_start_offset", logStart,
		"group", s.cfg.Group)
}

// dataLoss logs and counts what the client skipped after the broker lost
// data (an offset out of range it could not place).
func (s *Source) dataLoss(e *kgo.ErrDataLoss) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.ResetTo > e.ConsumedTo {
		s.skipped += e.ResetTo - e.ConsumedTo
	}
	s.log.Warn("the broker lost records", "group", s.cfg.Group, "err", e.Error())
	if p := s.parts[engine.Input{Stream: e.Topic, Partition: e.Partition}]; p != nil {
		p.next, p.exact = e.ResetTo, true
	}
}

// Skipped returns how many offsets of the source's partitions were
// deleted, or lost by the broker, before the source read them. Each such
// gap is also logged at WARN.
func (s *Source) Skipped() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped
}

// atEnd reports, for a bounded source, whether the assigned partitions
// are read to their ends. It waits for the group's assignment, for the
// offsets of the partitions assigned and for their ends to be listed; a
// topic that does not exist is an error.
func (s *Source) atEnd(ctx context.Context) (bool, error) {
	s.mu.Lock()
	bounded, n := s.bounded, s.assignedN
	s.mu.Unlock()
	switch {
	case !bounded:
		return false, nil
	case n < 0:
		return false, s.checkTopics(ctx)
	case n == 0:
		return s.othersHold(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.parts) < s.assignedN {
		return false, nil // the offsets of the assignment are being fetched
	}
	for _, p := range s.parts {
		if p.stopAt < 0 || p.next < 0 || p.next < p.stopAt {
			return false, nil
		}
	}
	return true, nil
}

// othersHold reports whether the partitions of the source's topics are
// all assigned to other members of the group, when the group gave this
// one none: a bounded run is then done here, the others read them. An
// empty assignment can also come of a leader that did not know the
// topics' partitions yet; the group rebalances again, and the source
// waits for that. Checked once per generation.
func (s *Source) othersHold(ctx context.Context) (bool, error) {
	me, gen := s.cl.GroupMetadata()
	s.mu.Lock()
	if s.othersChecked == gen && s.noneWarned {
		s.mu.Unlock()
		return true, nil
	}
	s.mu.Unlock()
	adm := kadm.NewClient(s.cl)
	described, err := adm.DescribeGroups(ctx, s.cfg.Group)
	if err != nil {
		return false, nil // asked again at the next Poll
	}
	td, err := adm.ListTopics(ctx, s.cfg.Topics...)
	if err != nil {
		return false, nil
	}
	held := kadm.TopicsSet{}
	members := 0
	if g, ok := described[s.cfg.Group]; ok {
		for _, m := range g.Members {
			if m.MemberID == me {
				continue
			}
			members++
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, t := range c.Topics {
					held.Add(t.Topic, t.Partitions...)
				}
			}
		}
	}
	for _, t := range s.cfg.Topics {
		d, ok := td[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			return false, nil
		}
		for p := range d.Partitions {
			if !held.Lookup(t, p) {
				return false, nil
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.othersChecked = gen
	if !s.noneWarned {
		s.noneWarned = true
		s.log.Warn("the group gave this process no partition to read: other members of the group read them; this one is done",
			"group", s.cfg.Group, "topics", s.cfg.Topics, "other_members", members)
	}
	return true, nil
}

// checkTopics fails when a topic the source reads does not exist: the
// group would assign nothing, and a bounded run would end having read
// nothing. It also says, every waitWarn, that the group is still
// assigning. Only while the source waits for its first assignment.
func (s *Source) checkTopics(ctx context.Context) error {
	s.mu.Lock()
	checked := s.topicsChecked
	s.topicsChecked = true
	if s.waitingSince.IsZero() {
		s.waitingSince = time.Now()
	}
	if time.Since(s.waitingSince) >= waitWarn {
		s.log.Warn("still waiting for the consumer group to assign the partitions (a member that died holds them until its session times out)",
			"group", s.cfg.Group, "topics", s.cfg.Topics, "waited", time.Since(s.waitingSince).Round(time.Second), "session_timeout", s.cfg.SessionTimeout)
		s.waitingSince = time.Now()
	}
	s.mu.Unlock()
	if checked {
		return nil
	}
	td, err := kadm.NewClient(s.cl).ListTopics(ctx, s.cfg.Topics...)
	if err != nil {
		return nil // the client retries; Poll waits
	}
	var missing []string
	for _, t := range s.cfg.Topics {
		if d, ok := td[t]; !ok || d.Err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("topic source: a bounded run reads to the end of topics that do not exist: %v", missing)
	}
	return nil
}
