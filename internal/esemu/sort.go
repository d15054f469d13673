package esemu

import (
	"math"
	"net/http"
	"strings"
)

// sortSpec is one sort criterion.
type sortSpec struct {
	field        string
	desc         bool
	missingFirst bool
	missing      *value // a replacement value for documents without one
	unmappedType string
	mode         string
}

// parseSort parses the sort of a search body: a field name, {"field":
// "asc"|{options}}, or a list of those.
func parseSort(p *qparser, v *value) ([]sortSpec, *esError) {
	var out []sortSpec
	var one func(v *value) *esError
	one = func(v *value) *esError {
		switch v.kind {
		case kStr:
			out = append(out, defaultSort(v.s))
			return nil
		case kObj:
			for i := range v.obj {
				mb := &v.obj[i]
				s := defaultSort(mb.key)
				switch mb.val.kind {
				case kStr:
					if e := s.setOrder(p, &mb.val); e != nil {
						return e
					}
				case kObj:
					for j := range mb.val.obj {
						o := &mb.val.obj[j]
						switch o.key {
						case "order":
							if e := s.setOrder(p, &o.val); e != nil {
								return e
							}
						case "missing":
							switch {
							case o.val.kind == kStr && o.val.s == "_last":
								s.missingFirst = false
							case o.val.kind == kStr && o.val.s == "_first":
								s.missingFirst = true
							case isScalar(&o.val):
								s.missing = &o.val
							}
						case "unmapped_type":
							s.unmappedType = scalarText(&o.val)
						case "mode":
							s.mode = scalarText(&o.val)
						case "numeric_type", "format":
						case "nested", "script", "_geo_distance":
							return errNotEmulated("[" + o.key + "] in a sort")
						default:
							return p.errf(o.off, "[field_sort] unknown field [%s]", o.key)
						}
					}
				default:
					return p.errf(mb.val.off, "[field_sort] unknown token [%s]", tokenName(&mb.val))
				}
				out = append(out, s)
			}
			return nil
		case kArr:
			for i := range v.arr {
				if v.arr[i].kind == kArr {
					return p.errf(v.arr[i].off, "malformed sort format, within the sort array, an object, or an actual string are allowed")
				}
				if e := one(&v.arr[i]); e != nil {
					return e
				}
			}
			return nil
		}
		return p.errf(v.off, "malformed sort format, within the sort array, an object, or an actual string are allowed")
	}
	if e := one(v); e != nil {
		return nil, e
	}
	return out, nil
}

func defaultSort(field string) sortSpec {
	return sortSpec{field: field, desc: field == "_score"}
}

func (s *sortSpec) setOrder(p *qparser, v *value) *esError {
	switch strings.ToLower(scalarText(v)) {
	case "asc":
		s.desc = false
	case "desc":
		s.desc = true
	default:
		return errIllegalArgument("Unknown SortOrder [%s]", scalarText(v))
	}
	return nil
}

// parseSortParam parses the sort query parameter: "f1:desc,f2".
func parseSortParam(s string) ([]sortSpec, *esError) {
	var out []sortSpec
	for _, part := range splitList(s) {
		field, order, hasOrder := strings.Cut(part, ":")
		sp := defaultSort(field)
		if hasOrder {
			switch order {
			case "asc":
				sp.desc = false
			case "desc":
				sp.desc = true
			default:
				return nil, errIllegalArgument("Unknown SortOrder [%s]", order)
			}
		}
		out = append(out, sp)
	}
	return out, nil
}

// sortKey is a document's value for one sort criterion.
type sortKey struct {
	missing bool
	isNum   bool
	n       num
	s       string
}

// sortBinding is a sort criterion bound to one index.
type sortBinding struct {
	spec sortSpec
	kind string // "_score", "_doc", "num", "str"
	m    *mapping
	path string
}

func bindSort(ix *index, specs []sortSpec) ([]sortBinding, *esError) {
	out := make([]sortBinding, 0, len(specs))
	for _, sp := range specs {
		sb := sortBinding{spec: sp}
		switch sp.field {
		case "_score", "_doc":
			sb.kind = sp.field
			out = append(out, sb)
			continue
		case "_id":
			return nil, errIllegalArgument("Fielddata access on the _id field is disallowed, you can re-enable it by updating the dynamic cluster setting: indices.id_field_data.enabled")
		}
		ref := ix.resolveField(sp.field)
		switch {
		case ref.meta == "_index":
			sb.kind = "index"
		case ref.m == nil || ref.m.class == cObject:
			if ref.m == nil && sp.unmappedType != "" {
				sb.kind = "unmapped"
				break
			}
			e := newErr(http.StatusBadRequest, "query_shard_exception", "No mapping found for [%s] in order to sort on", sp.field)
			e.meta = obj{{"index_uuid", ix.uuid}, {"index", ix.name}}
			return nil, e
		case ref.m.class == cText:
			return nil, errIllegalArgument("Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [%s] in order to load field data by uninverting the inverted index. Note that this can use significant memory.", sp.field)
		case isNumeric(ref.m):
			sb.kind, sb.m, sb.path = "num", ref.m, ref.srcPath
		default:
			sb.kind, sb.m, sb.path = "str", ref.m, ref.srcPath
		}
		out = append(out, sb)
	}
	return out, nil
}

// key computes a document's sort key.
func (sb *sortBinding) key(h *hit) sortKey {
	pickMax := sb.spec.desc
	switch sb.spec.mode {
	case "min":
		pickMax = false
	case "max":
		pickMax = true
	}
	switch sb.kind {
	case "_score":
		return sortKey{isNum: true, n: num{f: h.score}}
	case "_doc":
		return sortKey{isNum: true, n: num{isInt: true, i: h.d.seqNo}}
	case "index":
		return sortKey{s: h.ix.name}
	case "unmapped":
		return sortKey{missing: true}
	case "num":
		ns := docNums(sb.m, h.d, sb.path)
		if len(ns) == 0 {
			return sb.missingKey()
		}
		best := ns[0]
		sum := 0.0
		for _, n := range ns {
			sum += n.float()
			if c := cmpNum(n, best); (pickMax && c > 0) || (!pickMax && c < 0) {
				best = n
			}
		}
		switch sb.spec.mode {
		case "sum":
			best = num{f: sum}
		case "avg":
			best = num{f: sum / float64(len(ns))}
		}
		return sortKey{isNum: true, n: best}
	default:
		ss := docStrings(sb.m, h.d, sb.path)
		if len(ss) == 0 {
			return sb.missingKey()
		}
		best := ss[0]
		for _, s := range ss {
			if (pickMax && s > best) || (!pickMax && s < best) {
				best = s
			}
		}
		return sortKey{s: best}
	}
}

func (sb *sortBinding) missingKey() sortKey {
	if sb.spec.missing == nil {
		return sortKey{missing: true}
	}
	if sb.kind == "num" {
		if n, ok := fieldNum(sb.m, sb.spec.missing); ok {
			return sortKey{isNum: true, n: n}
		}
	}
	return sortKey{s: scalarText(sb.spec.missing)}
}

// sortValue is what a hit's "sort" array shows for a key.
func (sb *sortBinding) sortValue(k sortKey) any {
	if k.missing {
		if sb.kind == "num" && sb.m != nil && (sb.m.class == cDouble) {
			if sb.spec.desc != sb.spec.missingFirst {
				return "-Infinity"
			}
			return "Infinity"
		}
		if sb.kind == "num" {
			if sb.spec.desc != sb.spec.missingFirst {
				return int64(math.MinInt64)
			}
			return int64(math.MaxInt64)
		}
		return nil
	}
	switch sb.kind {
	case "_score":
		return k.n.f
	case "_doc":
		return k.n.i
	case "num":
		if sb.m.class == cDouble {
			return k.n.float()
		}
		if k.n.isInt {
			return k.n.i
		}
		return k.n.f
	}
	return k.s
}

// compare orders two keys of one criterion.
func (sb *sortBinding) compare(a, b sortKey) int {
	if a.missing || b.missing {
		switch {
		case a.missing && b.missing:
			return 0
		case a.missing == sb.spec.missingFirst:
			return -1
		default:
			return 1
		}
	}
	c := 0
	if a.isNum && b.isNum {
		c = cmpNum(a.n, b.n)
	} else {
		c = strings.Compare(a.s, b.s)
	}
	if sb.spec.desc {
		c = -c
	}
	return c
}
