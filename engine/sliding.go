package engine

import (
	"encoding/json"
	"sort"
)

// slidingWindows keeps, per key, the values of the span that open windows
// and future records can still need, and the ends of its open windows.
type slidingWindows[K comparable, V, A, R any] struct {
	windowBase[K, V, A, R]
	byKey      map[K]*slidingKey[V]
	queue      endQueue[K]
	pendingSet map[slidingID[K]]bool
	seq        int64
}

type slidingKey[V any] struct {
	vals []timedValue[V] // sorted by time
	ends []int64         // of the key's open windows, sorted
}

type timedValue[V any] struct {
	T int64 `json:"t"`
	V V     `json:"v"`
}

type slidingID[K comparable] struct {
	key K
	end int64
}

func (w *slidingWindows[K, V, A, R]) Collect(r *Record[K, V]) {
	w.pos = &r.Pos
	defer w.clearPos()
	ts, size := r.Time, w.spec.Size
	sk := w.byKey[r.Key]
	ownOpen := !w.closed(ts + 1)
	inOpen := false
	if sk != nil {
		// An open window [end-size, end) holds ts when ts < end <= ts+size.
		i := sort.Search(len(sk.ends), func(i int) bool { return sk.ends[i] > ts })
		inOpen = i < len(sk.ends) && sk.ends[i] <= ts+size
	}
	if !ownOpen && !inOpen {
		w.lateRecord(r)
		w.observe(r)
		return
	}
	if sk == nil {
		sk = &slidingKey[V]{}
		w.byKey[r.Key] = sk
	}
	i := sort.Search(len(sk.vals), func(i int) bool { return sk.vals[i].T > ts })
	sk.vals = append(sk.vals, timedValue[V]{})
	copy(sk.vals[i+1:], sk.vals[i:])
	sk.vals[i] = timedValue[V]{ts, r.Value}
	if ownOpen {
		w.open(r.Key, sk, ts+1)
	}
	if w.spec.Emit == EmitUpdate {
		for _, end := range sk.ends {
			if end > ts && end <= ts+size {
				w.emit(r.Key, end-size, end, w.aggregate(sk, end))
			}
		}
	}
	w.observe(r)
}

func (w *slidingWindows[K, V, A, R]) open(k K, sk *slidingKey[V], end int64) {
	id := slidingID[K]{k, end}
	if w.pendingSet[id] {
		return
	}
	w.pendingSet[id] = true
	j := sort.Search(len(sk.ends), func(i int) bool { return sk.ends[i] > end })
	sk.ends = append(sk.ends, 0)
	copy(sk.ends[j+1:], sk.ends[j:])
	sk.ends[j] = end
	w.seq++
	w.queue.push(endItem[K]{end, w.seq, k})
}

func (w *slidingWindows[K, V, A, R]) aggregate(sk *slidingKey[V], end int64) A {
	acc := w.agg.Init()
	start := end - w.spec.Size
	i := sort.Search(len(sk.vals), func(i int) bool { return sk.vals[i].T >= start })
	for ; i < len(sk.vals) && sk.vals[i].T < end; i++ {
		acc = w.agg.Add(acc, sk.vals[i].V)
	}
	return acc
}

func (w *slidingWindows[K, V, A, R]) observe(r *Record[K, V]) {
	w.observeRecord(r)
	w.fire()
}

func (w *slidingWindows[K, V, A, R]) fire() {
	for len(w.queue) > 0 && w.closed(w.queue[0].end) {
		it := w.queue.pop()
		k, end := it.v, it.end
		delete(w.pendingSet, slidingID[K]{k, end})
		sk := w.byKey[k]
		if w.spec.Emit == EmitFinal {
			w.emit(k, end-w.spec.Size, end, w.aggregate(sk, end))
		}
		sk.ends = sk.ends[1:] // windows of a key close in order of end
		w.prune(k, sk)
	}
}

// prune drops values no open window and no future record can need: a
// record that is not late is at or after the watermark minus the grace,
// and its window reaches back Size-1 from it.
func (w *slidingWindows[K, V, A, R]) prune(k K, sk *slidingKey[V]) {
	keep := w.wm.current - w.spec.Grace - w.spec.Size + 1
	if len(sk.ends) > 0 {
		keep = min(keep, sk.ends[0]-w.spec.Size)
	}
	i := sort.Search(len(sk.vals), func(i int) bool { return sk.vals[i].T >= keep })
	sk.vals = sk.vals[i:]
	if len(sk.vals) == 0 && len(sk.ends) == 0 {
		delete(w.byKey, k)
	}
}

func (w *slidingWindows[K, V, A, R]) tick(now int64) {
	w.pos = nil
	w.wm.tick(now)
	w.fire()
}

// closeAll fires every open window: the watermark goes to the end of the
// last one plus the grace, the least that closes them all. The values a
// later record's window may reach back to stay (prune).
func (w *slidingWindows[K, V, A, R]) closeAll(at *Pos) int {
	to := w.wm.current
	for _, it := range w.queue {
		to = max(to, it.end+w.spec.Grace)
	}
	n := len(w.pendingSet)
	w.pos = at
	w.wm.settle(to)
	w.fire()
	w.pos = nil
	return n
}

func (w *slidingWindows[K, V, A, R]) openWindows() int { return len(w.pendingSet) }

func (w *slidingWindows[K, V, A, R]) advance(wm int64) {
	w.pos = nil
	if wm > w.wm.current {
		w.wm.current = wm
	}
	w.fire()
}

type slidingState[K comparable, V any] struct {
	Watermarks watermarkState        `json:"watermarks"`
	Pending    []slidingPending[K]   `json:"pending"`
	Values     []slidingValues[K, V] `json:"values"`
}

type slidingPending[K comparable] struct {
	Key K     `json:"k"`
	End int64 `json:"end"`
}

type slidingValues[K comparable, V any] struct {
	Key    K               `json:"k"`
	Values []timedValue[V] `json:"vals"`
}

func (w *slidingWindows[K, V, A, R]) snapshot() (json.RawMessage, error) {
	q := append(endQueue[K](nil), w.queue...)
	sort.Slice(q, func(i, j int) bool { return q.less(i, j) })
	s := slidingState[K, V]{Watermarks: w.wm.state()}
	seen := map[K]bool{}
	add := func(k K) {
		if !seen[k] {
			seen[k] = true
			s.Values = append(s.Values, slidingValues[K, V]{k, w.byKey[k].vals})
		}
	}
	for _, it := range q {
		s.Pending = append(s.Pending, slidingPending[K]{it.v, it.end})
		add(it.v)
	}
	// Keys without open windows keep values for future records; their
	// order does not matter to the output, but the snapshot is sorted so
	// that it is deterministic.
	var rest []slidingValues[K, V]
	for k, sk := range w.byKey {
		if !seen[k] {
			rest = append(rest, slidingValues[K, V]{k, sk.vals})
		}
	}
	sort.Slice(rest, func(i, j int) bool {
		a, _ := json.Marshal(rest[i].Key)
		b, _ := json.Marshal(rest[j].Key)
		return string(a) < string(b)
	})
	s.Values = append(s.Values, rest...)
	return json.Marshal(s)
}

func (w *slidingWindows[K, V, A, R]) restore(b json.RawMessage) error {
	var s slidingState[K, V]
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	w.wm.setState(s.Watermarks)
	w.byKey, w.queue, w.pendingSet = map[K]*slidingKey[V]{}, nil, map[slidingID[K]]bool{}
	for _, v := range s.Values {
		w.byKey[v.Key] = &slidingKey[V]{vals: v.Values}
	}
	for _, p := range s.Pending {
		sk := w.byKey[p.Key]
		if sk == nil {
			sk = &slidingKey[V]{}
			w.byKey[p.Key] = sk
		}
		w.open(p.Key, sk, p.End)
	}
	return nil
}

func (w *slidingWindows[K, V, A, R]) observeInput(in Input, wm int64) {
	w.pos = nil
	w.wm.observe(in, wm)
	w.fire()
}

func (w *slidingWindows[K, V, A, R]) expect(in Input) { w.wm.expect(in) }

func (w *slidingWindows[K, V, A, R]) idleInput(in Input) {
	w.pos = nil
	w.wm.idleInput(in)
	w.fire()
}
