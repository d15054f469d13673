package engine

import (
	"encoding/json"
	"sort"
)

// endQueue is a min-heap of window ends with a sequence number to break
// ties in arrival order, so that results come out in a deterministic order.
type endQueue[T any] []endItem[T]

type endItem[T any] struct {
	end, seq int64
	v        T
}

func (q endQueue[T]) less(i, j int) bool {
	return q[i].end < q[j].end || (q[i].end == q[j].end && q[i].seq < q[j].seq)
}

func (q *endQueue[T]) push(it endItem[T]) {
	*q = append(*q, it)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *endQueue[T]) pop() endItem[T] {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// sessionWindows keeps, per key, its open sessions sorted by start.
type sessionWindows[K comparable, V, A, R any] struct {
	windowBase[K, V, A, R]
	byKey map[K][]*session[A]
	queue endQueue[sessionRef[K, A]]
	seq   int64
}

type session[A any] struct {
	start, end int64 // end = last record + gap
	acc        A
	seq        int64 // of the queue entry that is current
	dead       bool
}

type sessionRef[K comparable, A any] struct {
	key K
	s   *session[A]
}

func (w *sessionWindows[K, V, A, R]) Collect(r *Record[K, V]) {
	w.pos = &r.Pos
	defer w.clearPos()
	ts, gap := r.Time, w.spec.Gap
	start, end := ts, ts+gap
	sessions := w.byKey[r.Key]
	// The sessions the record touches: [start, end) overlaps [s.start, s.end).
	var first, last = -1, -1
	for i, s := range sessions {
		if s.start < end && start < s.end {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 && w.closed(end) {
		w.lateRecord(r)
		w.observe(r)
		return
	}
	acc := w.agg.Init()
	if first >= 0 {
		acc = sessions[first].acc
		start = min(start, sessions[first].start)
		end = max(end, sessions[last].end)
		for _, s := range sessions[first+1 : last+1] {
			acc = w.agg.Merge(acc, s.acc)
		}
		for _, s := range sessions[first : last+1] {
			s.dead = true
		}
	}
	acc = w.agg.Add(acc, r.Value)
	s := &session[A]{start: start, end: end, acc: acc}
	if first >= 0 {
		sessions = append(sessions[:first], append([]*session[A]{s}, sessions[last+1:]...)...)
	} else {
		i := sort.Search(len(sessions), func(i int) bool { return sessions[i].start > start })
		sessions = append(sessions, nil)
		copy(sessions[i+1:], sessions[i:])
		sessions[i] = s
	}
	w.byKey[r.Key] = sessions
	w.enqueue(r.Key, s)
	if w.spec.Emit == EmitUpdate {
		w.emit(r.Key, s.start, s.end, s.acc)
	}
	w.observe(r)
}

func (w *sessionWindows[K, V, A, R]) enqueue(k K, s *session[A]) {
	w.seq++
	s.seq = w.seq
	w.queue.push(endItem[sessionRef[K, A]]{s.end, w.seq, sessionRef[K, A]{k, s}})
}

func (w *sessionWindows[K, V, A, R]) observe(r *Record[K, V]) {
	w.observeRecord(r)
	w.fire()
}

func (w *sessionWindows[K, V, A, R]) fire() {
	for len(w.queue) > 0 && w.closed(w.queue[0].end) {
		it := w.queue.pop()
		s := it.v.s
		if s.dead || s.seq != it.seq {
			continue
		}
		s.dead = true
		if w.spec.Emit == EmitFinal {
			w.emit(it.v.key, s.start, s.end, s.acc)
		}
		ss := w.byKey[it.v.key]
		for i := range ss {
			if ss[i] == s {
				ss = append(ss[:i], ss[i+1:]...)
				break
			}
		}
		if len(ss) == 0 {
			delete(w.byKey, it.v.key)
		} else {
			w.byKey[it.v.key] = ss
		}
	}
}

func (w *sessionWindows[K, V, A, R]) tick(now int64) {
	w.pos = nil
	w.wm.tick(now)
	w.fire()
}

// closeAll closes every open session: the watermark goes to the end of
// the last one plus the grace, the least that closes them all.
func (w *sessionWindows[K, V, A, R]) closeAll(at *Pos) int {
	n, to := 0, w.wm.current
	for _, ss := range w.byKey {
		n += len(ss)
		for _, s := range ss {
			to = max(to, s.end+w.spec.Grace)
		}
	}
	w.pos = at
	w.wm.settle(to)
	w.fire()
	w.pos = nil
	return n
}

func (w *sessionWindows[K, V, A, R]) openWindows() int {
	n := 0
	for _, ss := range w.byKey {
		n += len(ss)
	}
	return n
}

func (w *sessionWindows[K, V, A, R]) advance(wm int64) {
	w.pos = nil
	if wm > w.wm.current {
		w.wm.current = wm
	}
	w.fire()
}

type sessionState[K comparable, A any] struct {
	Watermarks watermarkState       `json:"watermarks"`
	Sessions   []sessionEntry[K, A] `json:"sessions"`
}

type sessionEntry[K comparable, A any] struct {
	Key   K     `json:"k"`
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Acc   A     `json:"a"`
}

// snapshot lists the open sessions in the order they will close.
func (w *sessionWindows[K, V, A, R]) snapshot() (json.RawMessage, error) {
	live := make([]endItem[sessionRef[K, A]], 0, len(w.queue))
	for _, it := range w.queue {
		if !it.v.s.dead && it.v.s.seq == it.seq {
			live = append(live, it)
		}
	}
	sort.Slice(live, func(i, j int) bool { return endQueue[sessionRef[K, A]](live).less(i, j) })
	s := sessionState[K, A]{Watermarks: w.wm.state(), Sessions: make([]sessionEntry[K, A], 0, len(live))}
	for _, it := range live {
		s.Sessions = append(s.Sessions, sessionEntry[K, A]{it.v.key, it.v.s.start, it.v.s.end, it.v.s.acc})
	}
	return json.Marshal(s)
}

func (w *sessionWindows[K, V, A, R]) restore(b json.RawMessage) error {
	var s sessionState[K, A]
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	w.wm.setState(s.Watermarks)
	w.byKey, w.queue = map[K][]*session[A]{}, nil
	for _, e := range s.Sessions {
		ss := &session[A]{start: e.Start, end: e.End, acc: e.Acc}
		list := append(w.byKey[e.Key], ss)
		sort.Slice(list, func(i, j int) bool { return list[i].start < list[j].start })
		w.byKey[e.Key] = list
		w.enqueue(e.Key, ss)
	}
	return nil
}

func (w *sessionWindows[K, V, A, R]) observeInput(in Input, wm int64) {
	w.pos = nil
	w.wm.observe(in, wm)
	w.fire()
}

func (w *sessionWindows[K, V, A, R]) expect(in Input) { w.wm.expect(in) }

func (w *sessionWindows[K, V, A, R]) idleInput(in Input) {
	w.pos = nil
	w.wm.idleInput(in)
	w.fire()
}
