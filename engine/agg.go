package engine

import "cmp"

// Agg is an aggregation: Init makes an empty accumulator, Add folds a
// value into it, Merge combines two (session windows merge when a record
// bridges them; required there), Result reads the outcome. Accumulators
// are snapshotted as JSON, so their state must be in exported fields (or
// be a plain value).
type Agg[V, A, R any] struct {
	Init   func() A
	Add    func(A, V) A
	Merge  func(A, A) A
	Result func(A) R
}

// Number is what Sum and Avg add up.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

func identity[T any](v T) T { return v }

// Count counts records.
func Count[V any]() Agg[V, int64, int64] {
	return Agg[V, int64, int64]{
		Init:   func() int64 { return 0 },
		Add:    func(n int64, _ V) int64 { return n + 1 },
		Merge:  func(a, b int64) int64 { return a + b },
		Result: identity[int64],
	}
}

// Sum adds up f of each record.
func Sum[V any, N Number](f func(V) N) Agg[V, N, N] {
	return Agg[V, N, N]{
		Init:   func() N { return 0 },
		Add:    func(s N, v V) N { return s + f(v) },
		Merge:  func(a, b N) N { return a + b },
		Result: identity[N],
	}
}

// Optional is an optional value: an accumulator of Min, Max and Reduce, empty
// until the first record.
type Optional[T any] struct {
	Set bool `json:"set"`
	V   T    `json:"v"`
}

// Min keeps the smallest f of the records.
func Min[V any, N cmp.Ordered](f func(V) N) Agg[V, Optional[N], N] {
	return extreme(f, func(a, b N) bool { return a < b })
}

// Max keeps the largest f of the records.
func Max[V any, N cmp.Ordered](f func(V) N) Agg[V, Optional[N], N] {
	return extreme(f, func(a, b N) bool { return a > b })
}

func extreme[V any, N cmp.Ordered](f func(V) N, better func(a, b N) bool) Agg[V, Optional[N], N] {
	merge := func(a, b Optional[N]) Optional[N] {
		if !a.Set || (b.Set && better(b.V, a.V)) {
			return b
		}
		return a
	}
	return Agg[V, Optional[N], N]{
		Init:   func() Optional[N] { return Optional[N]{} },
		Add:    func(a Optional[N], v V) Optional[N] { return merge(a, Optional[N]{true, f(v)}) },
		Merge:  merge,
		Result: func(a Optional[N]) N { return a.V },
	}
}

// AvgAcc is Avg's accumulator.
type AvgAcc struct {
	Sum   float64 `json:"sum"`
	Count int64   `json:"count"`
}

// Avg averages f of the records.
func Avg[V any, N Number](f func(V) N) Agg[V, AvgAcc, float64] {
	return Agg[V, AvgAcc, float64]{
		Init:  func() AvgAcc { return AvgAcc{} },
		Add:   func(a AvgAcc, v V) AvgAcc { return AvgAcc{a.Sum + float64(f(v)), a.Count + 1} },
		Merge: func(a, b AvgAcc) AvgAcc { return AvgAcc{a.Sum + b.Sum, a.Count + b.Count} },
		Result: func(a AvgAcc) float64 {
			if a.Count == 0 {
				return 0
			}
			return a.Sum / float64(a.Count)
		},
	}
}

// CountDistinct counts the distinct f of the records, exactly: the
// accumulator holds the set.
func CountDistinct[V any, D comparable](f func(V) D) Agg[V, map[D]struct{}, int64] {
	return Agg[V, map[D]struct{}, int64]{
		Init: func() map[D]struct{} { return map[D]struct{}{} },
		Add: func(s map[D]struct{}, v V) map[D]struct{} {
			s[f(v)] = struct{}{}
			return s
		},
		Merge: func(a, b map[D]struct{}) map[D]struct{} {
			for k := range b {
				a[k] = struct{}{}
			}
			return a
		},
		Result: func(s map[D]struct{}) int64 { return int64(len(s)) },
	}
}

// Reduce combines the values of the records pairwise with f.
func Reduce[V any](f func(a, b V) V) Agg[V, Optional[V], V] {
	merge := func(a, b Optional[V]) Optional[V] {
		switch {
		case !a.Set:
			return b
		case !b.Set:
			return a
		}
		return Optional[V]{true, f(a.V, b.V)}
	}
	return Agg[V, Optional[V], V]{
		Init:   func() Optional[V] { return Optional[V]{} },
		Add:    func(a Optional[V], v V) Optional[V] { return merge(a, Optional[V]{true, v}) },
		Merge:  merge,
		Result: func(a Optional[V]) V { return a.V },
	}
}
