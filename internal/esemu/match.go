package esemu

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Binding a parsed query to one index's mapping gives a matcher.

// matcher tells whether a document matches, and its score.
type matcher func(d *doc) (bool, float64)

// binder binds queries to one index.
type binder struct {
	ix  *index
	now time.Time
}

func (b *binder) errShard(cause *esError) *esError {
	e := newErr(http.StatusBadRequest, "query_shard_exception", "failed to create query: %s", cause.reason)
	e.meta = obj{{"index_uuid", b.ix.uuid}, {"index", b.ix.name}}
	e.cause = cause
	return e
}

func matchNone(*doc) (bool, float64) { return false, 0 }

// num is a number of a numeric or date field: a long when isInt, else a
// double.
type num struct {
	isInt bool
	i     int64
	f     float64
}

func (n num) float() float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}

func cmpNum(a, b num) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	x, y := a.float(), b.float()
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// docNums are the values of a numeric, boolean or date field in a document.
func docNums(m *mapping, d *doc, path string) []num {
	vals := sourceValues(d.tree(), path, nil)
	out := make([]num, 0, len(vals))
	for _, v := range vals {
		if n, ok := fieldNum(m, v); ok {
			out = append(out, n)
		}
	}
	return out
}

// fieldNum is the number a field indexes for the source value v.
func fieldNum(m *mapping, v *value) (num, bool) {
	switch m.class {
	case cLong:
		if v.kind != kNum && v.kind != kStr {
			return num{}, false
		}
		n, ok, _ := toLong(v)
		return num{isInt: true, i: n}, ok
	case cDouble:
		if v.kind != kNum && v.kind != kStr {
			return num{}, false
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
		if err != nil {
			return num{}, false
		}
		if m.typ == "float" || m.typ == "half_float" {
			f = float64(float32(f))
		}
		return num{f: f}, true
	case cBool:
		b, ok := boolValue(v)
		if !ok {
			return num{}, false
		}
		if b {
			return num{isInt: true, i: 1}, true
		}
		return num{isInt: true}, true
	case cDate:
		ms, ok := parseDateValue(m, v)
		return num{isInt: true, i: ms}, ok
	}
	return num{}, false
}

// docStrings are the terms a keyword-like field indexes for a document.
func docStrings(m *mapping, d *doc, path string) []string {
	vals := sourceValues(d.tree(), path, nil)
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !isScalar(v) {
			continue
		}
		s := scalarText(v)
		if m.ignoreAbove > 0 && keywordLen(s) > m.ignoreAbove {
			continue
		}
		out = append(out, s)
	}
	return out
}

// docTokens are the terms a text field indexes for a document.
func docTokens(d *doc, path string) []string {
	var out []string
	for _, v := range sourceValues(d.tree(), path, nil) {
		if isScalar(v) {
			out = append(out, analyze(scalarText(v))...)
		}
	}
	return out
}

// queryNum parses the value of a term-level query on a numeric, boolean
// or date field; a nil num with no error means the query matches nothing
// (a long field asked for a value with a fraction).
func (b *binder) queryNum(m *mapping, v *value, roundUp bool) (*num, *esError) {
	s := scalarText(v)
	switch m.class {
	case cLong, cDouble:
		if v.kind == kBool {
			return nil, b.errShard(newErr(http.StatusBadRequest, "illegal_argument_exception", "Can't parse number from [%s]", s))
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil && !isRangeErr(err) {
			return nil, b.errShard(newErr(http.StatusBadRequest, "number_format_exception", "For input string: \"%s\"", s))
		}
		if m.class == cLong {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return &num{isInt: true, i: n}, nil
			}
			return &num{f: f}, nil
		}
		if m.typ == "float" || m.typ == "half_float" {
			f = float64(float32(f))
		}
		return &num{f: f}, nil
	case cBool:
		bv, ok := boolValue(v)
		if !ok {
			return nil, b.errShard(newErr(http.StatusBadRequest, "illegal_argument_exception", "Can't parse boolean value [%s], expected [true] or [false]", s))
		}
		if bv {
			return &num{isInt: true, i: 1}, nil
		}
		return &num{isInt: true}, nil
	case cDate:
		if v.kind == kNum {
			f, _ := strconv.ParseFloat(s, 64)
			return &num{isInt: true, i: int64(f)}, nil
		}
		ms, ok := parseDateMath(m, s, roundUp, b.now)
		if !ok {
			cause := newErr(http.StatusBadRequest, "parse_exception", "failed to parse date field [%s] with format [%s]", s, dateFormatName(m))
			return nil, b.errShard(cause)
		}
		return &num{isInt: true, i: ms}, nil
	}
	return nil, nil
}

func isNumeric(m *mapping) bool {
	return m.class == cLong || m.class == cDouble || m.class == cBool || m.class == cDate
}

// bind compiles q for the index.
func (b *binder) bind(q query) (matcher, *esError) {
	switch q := q.(type) {
	case qMatchAll:
		return func(*doc) (bool, float64) { return true, q.boost }, nil
	case qMatchNone:
		return matchNone, nil
	case qTerm:
		return b.bindTerms(q.field, []*value{q.val}, q.ci, q.boost)
	case qTerms:
		return b.bindTerms(q.field, q.vals, false, q.boost)
	case qRange:
		return b.bindRange(q)
	case qExists:
		return b.bindExists(q)
	case qIDs:
		return func(d *doc) (bool, float64) { return q.ids[d.id], q.boost }, nil
	case qBool:
		return b.bindBool(q)
	case qMatch:
		return b.bindMatch(q)
	case qPrefix:
		return b.bindPattern(q.field, q.boost, q.ci, func(s, p string) bool { return strings.HasPrefix(s, p) }, q.prefix)
	case qWildcard:
		return b.bindPattern(q.field, q.boost, q.ci, func(s, p string) bool { return wildcardMatch(p, s, true) }, q.pattern)
	case qConstantScore:
		m, e := b.bind(q.filter)
		if e != nil {
			return nil, e
		}
		return func(d *doc) (bool, float64) {
			ok, _ := m(d)
			return ok, q.boost
		}, nil
	}
	return matchNone, nil
}

// metaStrings are the values of the _id and _index metadata fields.
func (b *binder) metaStrings(ref fieldRef, d *doc) []string {
	if ref.meta == "_id" {
		return []string{d.id}
	}
	return []string{b.ix.name}
}

func (b *binder) bindTerms(field string, vals []*value, ci bool, boost float64) (matcher, *esError) {
	ref := b.ix.resolveField(field)
	if ref.meta != "" {
		want := map[string]bool{}
		for _, v := range vals {
			want[scalarText(v)] = true
		}
		return func(d *doc) (bool, float64) {
			for _, s := range b.metaStrings(ref, d) {
				if want[s] || (ci && anyEqualFold(want, s)) {
					return true, boost
				}
			}
			return false, 0
		}, nil
	}
	m := ref.m
	if m == nil || m.class == cObject {
		return matchNone, nil
	}
	if isNumeric(m) {
		var nums []num
		for _, v := range vals {
			n, e := b.queryNum(m, v, false)
			if e != nil {
				return nil, e
			}
			if n != nil && !(m.class == cLong && !n.isInt && n.f != math.Trunc(n.f)) {
				nums = append(nums, *n)
			}
		}
		return func(d *doc) (bool, float64) {
			for _, dn := range docNums(m, d, ref.srcPath) {
				for _, qn := range nums {
					if cmpNum(dn, qn) == 0 {
						return true, boost
					}
				}
			}
			return false, 0
		}, nil
	}
	want := map[string]bool{}
	for _, v := range vals {
		want[scalarText(v)] = true
	}
	if m.class == cText {
		return func(d *doc) (bool, float64) {
			for _, t := range docTokens(d, ref.srcPath) {
				if want[t] || (ci && anyEqualFold(want, t)) {
					return true, boost
				}
			}
			return false, 0
		}, nil
	}
	return func(d *doc) (bool, float64) {
		for _, s := range docStrings(m, d, ref.srcPath) {
			if want[s] || (ci && anyEqualFold(want, s)) {
				return true, boost
			}
		}
		return false, 0
	}, nil
}

func anyEqualFold(set map[string]bool, s string) bool {
	for k := range set {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

func (b *binder) bindPattern(field string, boost float64, ci bool, match func(s, p string) bool, pattern string) (matcher, *esError) {
	ref := b.ix.resolveField(field)
	if ci {
		pattern = strings.ToLower(pattern)
	}
	test := func(s string) bool {
		if ci {
			s = strings.ToLower(s)
		}
		return match(s, pattern)
	}
	if ref.meta != "" {
		return func(d *doc) (bool, float64) {
			for _, s := range b.metaStrings(ref, d) {
				if test(s) {
					return true, boost
				}
			}
			return false, 0
		}, nil
	}
	m := ref.m
	switch {
	case m == nil || m.class == cObject:
		return matchNone, nil
	case isNumeric(m):
		return nil, b.errShard(errIllegalArgument("Can only use prefix and wildcard queries on keyword and text fields - not on [%s] which is of type [%s]", field, m.typ))
	case m.class == cText:
		return func(d *doc) (bool, float64) {
			for _, t := range docTokens(d, ref.srcPath) {
				if test(t) {
					return true, boost
				}
			}
			return false, 0
		}, nil
	}
	return func(d *doc) (bool, float64) {
		for _, s := range docStrings(m, d, ref.srcPath) {
			if test(s) {
				return true, boost
			}
		}
		return false, 0
	}, nil
}

func (b *binder) bindRange(q qRange) (matcher, *esError) {
	ref := b.ix.resolveField(q.field)
	if ref.meta != "" {
		return nil, b.errShard(errIllegalArgument("Field [%s] of type [%s] does not support range queries", q.field, ref.meta))
	}
	m := ref.m
	if m == nil || m.class == cObject {
		return matchNone, nil
	}
	if isNumeric(m) {
		mm := m
		if q.format != "" && m.class == cDate {
			c := *m
			c.format = q.format
			mm = &c
		}
		type bound struct {
			n         *num
			inclusive bool
		}
		var lo, hi *bound
		for _, bd := range []struct {
			v         *value
			lower     bool
			inclusive bool
		}{{q.gt, true, false}, {q.gte, true, true}, {q.lt, false, false}, {q.lte, false, true}} {
			if bd.v == nil {
				continue
			}
			// gt and lte round up (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/query-dsl-range-query.html#range-query-date-math-rounding)
			roundUp := (bd.lower && !bd.inclusive) || (!bd.lower && bd.inclusive)
			n, e := b.queryNum(mm, bd.v, roundUp)
			if e != nil {
				return nil, e
			}
			if bd.lower {
				lo = &bound{n, bd.inclusive}
			} else {
				hi = &bound{n, bd.inclusive}
			}
		}
		return func(d *doc) (bool, float64) {
			for _, dn := range docNums(m, d, ref.srcPath) {
				if lo != nil && lo.n != nil {
					c := cmpNum(dn, *lo.n)
					if c < 0 || (c == 0 && !lo.inclusive) {
						continue
					}
				}
				if hi != nil && hi.n != nil {
					c := cmpNum(dn, *hi.n)
					if c > 0 || (c == 0 && !hi.inclusive) {
						continue
					}
				}
				return true, q.boost
			}
			return false, 0
		}, nil
	}
	inRange := func(s string) bool {
		if q.gt != nil && !(s > scalarText(q.gt)) {
			return false
		}
		if q.gte != nil && !(s >= scalarText(q.gte)) {
			return false
		}
		if q.lt != nil && !(s < scalarText(q.lt)) {
			return false
		}
		if q.lte != nil && !(s <= scalarText(q.lte)) {
			return false
		}
		return true
	}
	values := func(d *doc) []string { return docStrings(m, d, ref.srcPath) }
	if m.class == cText {
		values = func(d *doc) []string { return docTokens(d, ref.srcPath) }
	}
	return func(d *doc) (bool, float64) {
		for _, s := range values(d) {
			if inRange(s) {
				return true, q.boost
			}
		}
		return false, 0
	}, nil
}

func (b *binder) bindExists(q qExists) (matcher, *esError) {
	ref := b.ix.resolveField(q.field)
	if ref.meta != "" {
		return func(*doc) (bool, float64) { return true, q.boost }, nil
	}
	m := ref.m
	if m == nil {
		return matchNone, nil
	}
	return func(d *doc) (bool, float64) {
		for _, v := range sourceValues(d.tree(), ref.srcPath, nil) {
			switch {
			case m.class == cObject:
				if hasLeaf(v) {
					return true, q.boost
				}
			case !isScalar(v):
			case m.class == cKeyword || m.class == cOpaque:
				if m.ignoreAbove == 0 || keywordLen(scalarText(v)) <= m.ignoreAbove {
					return true, q.boost
				}
			case isNumeric(m):
				if _, ok := fieldNum(m, v); ok {
					return true, q.boost
				}
			default:
				return true, q.boost
			}
		}
		return false, 0
	}, nil
}

// hasLeaf reports whether an object holds a non-null value somewhere.
func hasLeaf(v *value) bool {
	switch v.kind {
	case kNull:
		return false
	case kObj:
		for i := range v.obj {
			if hasLeaf(&v.obj[i].val) {
				return true
			}
		}
		return false
	case kArr:
		for i := range v.arr {
			if hasLeaf(&v.arr[i]) {
				return true
			}
		}
		return false
	}
	return true
}

// minShouldMatch resolves a minimum_should_match ("2", "-1", "75%") for n
// optional clauses.
func minShouldMatch(spec string, n int) int {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return 0
	}
	pct := strings.HasSuffix(spec, "%")
	x, err := strconv.Atoi(strings.TrimSuffix(spec, "%"))
	if err != nil {
		return 0
	}
	var k int
	if pct {
		k = n * x / 100
		if x < 0 {
			k = n + n*x/100
		}
	} else {
		k = x
		if x < 0 {
			k = n + x
		}
	}
	if k < 0 {
		k = 0
	}
	return k
}

func (b *binder) bindAll(qs []query) ([]matcher, *esError) {
	out := make([]matcher, 0, len(qs))
	for _, q := range qs {
		m, e := b.bind(q)
		if e != nil {
			return nil, e
		}
		out = append(out, m)
	}
	return out, nil
}

func (b *binder) bindBool(q qBool) (matcher, *esError) {
	must, e := b.bindAll(q.must)
	if e != nil {
		return nil, e
	}
	filter, e := b.bindAll(q.filter)
	if e != nil {
		return nil, e
	}
	should, e := b.bindAll(q.should)
	if e != nil {
		return nil, e
	}
	mustNot, e := b.bindAll(q.mustNot)
	if e != nil {
		return nil, e
	}
	msm := minShouldMatch(q.msm, len(should))
	if q.msm == "" && len(must) == 0 && len(filter) == 0 && len(should) > 0 {
		msm = 1
	}
	return func(d *doc) (bool, float64) {
		score := 0.0
		for _, m := range must {
			ok, s := m(d)
			if !ok {
				return false, 0
			}
			score += s
		}
		for _, m := range filter {
			if ok, _ := m(d); !ok {
				return false, 0
			}
		}
		for _, m := range mustNot {
			if ok, _ := m(d); ok {
				return false, 0
			}
		}
		matched := 0
		for _, m := range should {
			if ok, s := m(d); ok {
				matched++
				score += s
			}
		}
		if matched < msm {
			return false, 0
		}
		return true, score * q.boost
	}, nil
}

func (b *binder) bindMatch(q qMatch) (matcher, *esError) {
	ref := b.ix.resolveField(q.field)
	if ref.meta != "" || (ref.m != nil && ref.m.class != cText) {
		// A match on a non-text field is a term query.
		return b.bindTerms(q.field, []*value{q.text}, false, q.boost)
	}
	if ref.m == nil {
		return matchNone, nil
	}
	toks := analyze(scalarText(q.text))
	if len(toks) == 0 {
		return matchNone, nil
	}
	need := 1
	if q.and {
		need = len(toks)
	}
	if q.msm != "" {
		need = minShouldMatch(q.msm, len(toks))
		if need < 1 {
			need = 1
		}
	}
	return func(d *doc) (bool, float64) {
		have := map[string]bool{}
		for _, t := range docTokens(d, ref.srcPath) {
			have[t] = true
		}
		n := 0
		for _, t := range toks {
			if have[t] {
				n++
			}
		}
		if n < need {
			return false, 0
		}
		return true, float64(n) * q.boost
	}, nil
}
