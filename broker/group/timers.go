package group

import (
	"container/heap"
	"time"
)

// The Core has no goroutines and no real timers: a deadline is an entry in
// a heap, and Advance fires the entries that are due. A group or member
// remembers the sequence number of its live entry of each kind; replacing
// or cancelling a deadline only changes that number, and an entry whose
// number is no longer remembered is dropped when it comes up (lazy
// deletion). Entries fire in (deadline, sequence) order, so a run is
// reproducible.

type timerKind uint8

const (
	// timerSession: a member's session (or new-member join) deadline.
	timerSession timerKind = iota
	// timerPending: a pending member (MEMBER_ID_REQUIRED) that never
	// came back.
	timerPending
	// timerJoin: the end of the join phase (rebalance timeout, or the
	// initial rebalance delay of an empty group).
	timerJoin
	// timerSync: members that did not send SyncGroup in time.
	timerSync
)

type timer struct {
	at     time.Time
	seq    uint64
	kind   timerKind
	g      *group
	member string // timerSession, timerPending
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// schedule adds a deadline d from now and returns its sequence number,
// which the owner stores to keep the entry live.
func (c *Core) schedule(kind timerKind, g *group, member string, d time.Duration) uint64 {
	c.timerSeq++
	heap.Push(&c.timers, &timer{at: c.now.Add(d), seq: c.timerSeq, kind: kind, g: g, member: member})
	return c.timerSeq
}

// NextDeadline is the earliest pending deadline, which may turn out to be
// stale; ok is false when there is none. The driver sleeps until then and
// calls Advance.
func (c *Core) NextDeadline() (t time.Time, ok bool) {
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].at, true
}

// fireDue runs every deadline at or before now.
func (c *Core) fireDue() {
	for len(c.timers) > 0 && !c.timers[0].at.After(c.now) {
		t := heap.Pop(&c.timers).(*timer)
		if c.shutdown || t.g.dead {
			continue
		}
		switch t.kind {
		case timerSession:
			if m := t.g.members[t.member]; m != nil && m.timer == t.seq {
				m.timer = 0
				c.onSessionExpired(t.g, m)
			}
		case timerPending:
			if p := t.g.pending[t.member]; p != nil && p.timer == t.seq {
				c.onPendingExpired(t.g, t.member)
			}
		case timerJoin:
			if t.g.joinTimer == t.seq {
				t.g.joinTimer = 0
				c.onJoinDeadline(t.g)
			}
		case timerSync:
			if t.g.syncTimer == t.seq {
				t.g.syncTimer = 0
				c.onSyncDeadline(t.g)
			}
		}
	}
}
