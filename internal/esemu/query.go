package esemu

import (
	"net/http"
	"strconv"
	"strings"
)

// The query DSL: parsed from JSON into a query (independent of any index),
// then bound to each index's mapping into a matcher.

type query interface{ isQuery() }

type (
	qMatchAll  struct{ boost float64 }
	qMatchNone struct{}
	qTerm      struct {
		field string
		val   *value
		ci    bool
		boost float64
	}
	qTerms struct {
		field string
		vals  []*value
		boost float64
	}
	qRange struct {
		field                      string
		gt, gte, lt, lte           *value
		format                     string
		boost                      float64
		includeLower, includeUpper bool
	}
	qExists struct {
		field string
		boost float64
	}
	qIDs struct {
		ids   map[string]bool
		boost float64
	}
	qBool struct {
		must, filter, should, mustNot []query
		msm                           string
		boost                         float64
	}
	qMatch struct {
		field string
		text  *value
		and   bool
		msm   string
		boost float64
	}
	qPrefix struct {
		field, prefix string
		ci            bool
		boost         float64
	}
	qWildcard struct {
		field, pattern string
		ci             bool
		boost          float64
	}
	qConstantScore struct {
		filter query
		boost  float64
	}
)

func (qMatchAll) isQuery()      {}
func (qMatchNone) isQuery()     {}
func (qTerm) isQuery()          {}
func (qTerms) isQuery()         {}
func (qRange) isQuery()         {}
func (qExists) isQuery()        {}
func (qIDs) isQuery()           {}
func (qBool) isQuery()          {}
func (qMatch) isQuery()         {}
func (qPrefix) isQuery()        {}
func (qWildcard) isQuery()      {}
func (qConstantScore) isQuery() {}

// notEmulatedQueries are queries of the DSL the emulator does not have.
var notEmulatedQueries = map[string]bool{
	"query_string": true, "simple_query_string": true, "match_phrase": true, "match_phrase_prefix": true,
	"multi_match": true, "match_bool_prefix": true, "combined_fields": true, "nested": true, "has_child": true,
	"has_parent": true, "parent_id": true, "fuzzy": true, "regexp": true, "script": true, "script_score": true,
	"function_score": true, "dis_max": true, "boosting": true, "more_like_this": true, "geo_bounding_box": true,
	"geo_distance": true, "geo_shape": true, "geo_polygon": true, "geo_grid": true, "shape": true,
	"percolate": true, "distance_feature": true, "rank_feature": true, "pinned": true, "span_term": true,
	"span_near": true, "span_or": true, "span_not": true, "span_first": true, "span_multi": true,
	"span_containing": true, "span_within": true, "field_masking_span": true, "intervals": true, "wrapper": true,
	"terms_set": true, "knn": true, "text_expansion": true, "weighted_tokens": true, "sparse_vector": true,
	"semantic": true, "rule": true,
}

// qparser parses the query DSL of a request body, for positioned errors.
type qparser struct{ data []byte }

func (p *qparser) errf(off int, format string, args ...any) *esError {
	return errParsing(p.data, off, format, args...)
}

// parse parses a query clause: {"<type>": {...}}.
func (p *qparser) parse(v *value) (query, *esError) {
	if v.kind != kObj {
		return nil, p.errf(v.off, "[_na] query malformed, must start with start_object")
	}
	if len(v.obj) == 0 {
		l, c := lineCol(p.data, v.off)
		return nil, p.errf(v.off, "query malformed, empty clause found at [%d:%d]", l, c)
	}
	name := v.obj[0].key
	if len(v.obj) > 1 {
		return nil, p.errf(v.obj[1].off, "[%s] malformed query, expected [END_OBJECT] but found [FIELD_NAME]", name)
	}
	body := &v.obj[0].val
	switch name {
	case "match_all":
		b, e := p.onlyBoost(name, body)
		return qMatchAll{boost: b}, e
	case "match_none":
		_, e := p.onlyBoost(name, body)
		return qMatchNone{}, e
	case "term":
		return p.term(body)
	case "terms":
		return p.terms(body)
	case "range":
		return p.rangeQ(body)
	case "exists":
		return p.exists(body)
	case "ids":
		return p.ids(body)
	case "bool":
		return p.boolQ(body)
	case "match":
		return p.match(body)
	case "prefix", "wildcard":
		return p.prefixOrWildcard(name, body)
	case "constant_score":
		return p.constantScore(body)
	}
	if notEmulatedQueries[name] {
		return nil, errNotEmulated("the [" + name + "] query")
	}
	e := p.errf(v.obj[0].off, "unknown query [%s]", name)
	l, c := lineCol(p.data, v.obj[0].off)
	e.cause = newErr(http.StatusBadRequest, "named_object_not_found_exception", "[%d:%d] unknown field [%s]", l, c, name)
	return nil, e
}

func (p *qparser) number(name, key string, v *value) (float64, *esError) {
	if v.kind == kNum || v.kind == kStr {
		if f, err := strconv.ParseFloat(v.s, 64); err == nil {
			return f, nil
		}
	}
	return 0, p.errf(v.off, "[%s] query does not support [%s]", name, key)
}

// onlyBoost parses a body that may hold only boost and _name.
func (p *qparser) onlyBoost(name string, body *value) (float64, *esError) {
	if body.kind != kObj {
		return 0, p.errf(body.off, "[%s] query malformed, no start_object after query name", name)
	}
	boost := 1.0
	for i := range body.obj {
		mb := &body.obj[i]
		switch mb.key {
		case "boost":
			b, e := p.number(name, mb.key, &mb.val)
			if e != nil {
				return 0, e
			}
			boost = b
		case "_name":
		default:
			return 0, p.errf(mb.off, "[%s] query does not support [%s]", name, mb.key)
		}
	}
	return boost, nil
}

// singleField reads the {"<field>": ...} body of a term-level query.
func (p *qparser) singleField(name string, body *value) (*member, *esError) {
	if body.kind != kObj {
		return nil, p.errf(body.off, "[%s] query malformed, no start_object after query name", name)
	}
	var field *member
	for i := range body.obj {
		mb := &body.obj[i]
		if mb.key == "boost" || mb.key == "_name" {
			continue
		}
		if field != nil {
			return nil, p.errf(mb.off, "[%s] query doesn't support multiple fields, found [%s] and [%s]", name, field.key, mb.key)
		}
		field = mb
	}
	if field == nil {
		return nil, errIllegalArgument("field name is null or empty")
	}
	return field, nil
}

func isScalar(v *value) bool { return v.kind == kStr || v.kind == kNum || v.kind == kBool }

func (p *qparser) term(body *value) (query, *esError) {
	f, e := p.singleField("term", body)
	if e != nil {
		return nil, e
	}
	q := qTerm{field: f.key, boost: 1}
	switch {
	case isScalar(&f.val):
		q.val = &f.val
	case f.val.kind == kObj:
		for i := range f.val.obj {
			mb := &f.val.obj[i]
			switch mb.key {
			case "value":
				if !isScalar(&mb.val) {
					return nil, p.errf(mb.val.off, "[term] query does not support array of values")
				}
				q.val = &mb.val
			case "boost":
				if q.boost, e = p.number("term", mb.key, &mb.val); e != nil {
					return nil, e
				}
			case "case_insensitive":
				b, ok := boolValue(&mb.val)
				if !ok {
					return nil, p.errf(mb.val.off, "[term] query does not support [%s]", mb.key)
				}
				q.ci = b
			case "_name":
			default:
				return nil, p.errf(mb.off, "[term] query does not support [%s]", mb.key)
			}
		}
		if q.val == nil {
			return nil, errIllegalArgument("value cannot be null")
		}
	case f.val.kind == kArr:
		return nil, p.errf(f.val.off, "[term] query does not support array of values")
	default:
		return nil, errIllegalArgument("value cannot be null")
	}
	return q, nil
}

func (p *qparser) terms(body *value) (query, *esError) {
	f, e := p.singleField("terms", body)
	if e != nil {
		return nil, e
	}
	q := qTerms{field: f.key, boost: 1}
	if b, ok := body.get("boost"); ok {
		if q.boost, e = p.number("terms", "boost", b); e != nil {
			return nil, e
		}
	}
	switch f.val.kind {
	case kArr:
		for i := range f.val.arr {
			v := &f.val.arr[i]
			if !isScalar(v) {
				return nil, errIllegalArgument("No value specified for terms query")
			}
			q.vals = append(q.vals, v)
		}
	case kObj:
		return nil, errNotEmulated("the terms lookup of the [terms] query")
	default:
		return nil, p.errf(f.val.off, "[terms] query does not support [%s]", f.key)
	}
	return q, nil
}

func (p *qparser) rangeQ(body *value) (query, *esError) {
	f, e := p.singleField("range", body)
	if e != nil {
		return nil, e
	}
	if f.val.kind != kObj {
		return nil, p.errf(f.val.off, "[range] query malformed, after field missing start object")
	}
	q := qRange{field: f.key, boost: 1, includeLower: true, includeUpper: true}
	var from, to *value
	for i := range f.val.obj {
		mb := &f.val.obj[i]
		v := &mb.val
		if v.kind == kNull {
			continue
		}
		switch mb.key {
		case "gt":
			q.gt = v
		case "gte":
			q.gte = v
		case "lt":
			q.lt = v
		case "lte":
			q.lte = v
		case "from":
			from = v
		case "to":
			to = v
		case "include_lower", "include_upper":
			b, ok := boolValue(v)
			if !ok {
				return nil, p.errf(v.off, "[range] query does not support [%s]", mb.key)
			}
			if mb.key == "include_lower" {
				q.includeLower = b
			} else {
				q.includeUpper = b
			}
		case "format":
			q.format = scalarText(v)
		case "boost":
			if q.boost, e = p.number("range", mb.key, v); e != nil {
				return nil, e
			}
		case "time_zone":
			if s := scalarText(v); s != "Z" && s != "UTC" && s != "+00:00" && s != "GMT" {
				return nil, errNotEmulated("the time_zone of the [range] query")
			}
		case "relation", "_name":
		default:
			return nil, p.errf(mb.off, "[range] query does not support [%s]", mb.key)
		}
		if (mb.key == "gt" || mb.key == "gte" || mb.key == "lt" || mb.key == "lte" || mb.key == "from" || mb.key == "to") && !isScalar(v) {
			return nil, p.errf(v.off, "[range] query does not support [%s]", mb.key)
		}
	}
	if from != nil {
		if q.includeLower {
			q.gte = from
		} else {
			q.gt = from
		}
	}
	if to != nil {
		if q.includeUpper {
			q.lte = to
		} else {
			q.lt = to
		}
	}
	return q, nil
}

func (p *qparser) exists(body *value) (query, *esError) {
	if body.kind != kObj {
		return nil, p.errf(body.off, "[exists] query malformed, no start_object after query name")
	}
	q := qExists{boost: 1}
	for i := range body.obj {
		mb := &body.obj[i]
		switch mb.key {
		case "field":
			if mb.val.kind != kStr {
				return nil, p.errf(mb.val.off, "[exists] query does not support [field]")
			}
			q.field = mb.val.s
		case "boost":
			var e *esError
			if q.boost, e = p.number("exists", mb.key, &mb.val); e != nil {
				return nil, e
			}
		case "_name":
		default:
			return nil, p.errf(mb.off, "[exists] query does not support [%s]", mb.key)
		}
	}
	if q.field == "" {
		return nil, p.errf(body.off, "[exists] must be provided with a [field]")
	}
	return q, nil
}

func (p *qparser) ids(body *value) (query, *esError) {
	if body.kind != kObj {
		return nil, p.errf(body.off, "[ids] query malformed, no start_object after query name")
	}
	q := qIDs{ids: map[string]bool{}, boost: 1}
	for i := range body.obj {
		mb := &body.obj[i]
		switch mb.key {
		case "values":
			if mb.val.kind != kArr {
				return nil, p.errf(mb.val.off, "[ids] query does not support [values]")
			}
			for j := range mb.val.arr {
				v := &mb.val.arr[j]
				if v.kind != kStr && v.kind != kNum {
					return nil, p.errf(v.off, "[ids] query does not support [values]")
				}
				q.ids[v.s] = true
			}
		case "boost":
			var e *esError
			if q.boost, e = p.number("ids", mb.key, &mb.val); e != nil {
				return nil, e
			}
		case "_name", "type", "types":
		default:
			return nil, p.errf(mb.off, "[ids] query does not support [%s]", mb.key)
		}
	}
	return q, nil
}

func (p *qparser) clauses(v *value) ([]query, *esError) {
	switch v.kind {
	case kObj:
		q, e := p.parse(v)
		if e != nil {
			return nil, e
		}
		return []query{q}, nil
	case kArr:
		out := make([]query, 0, len(v.arr))
		for i := range v.arr {
			q, e := p.parse(&v.arr[i])
			if e != nil {
				return nil, e
			}
			out = append(out, q)
		}
		return out, nil
	}
	return nil, p.errf(v.off, "[bool] query does not support [%s]", tokenName(v))
}

func (p *qparser) boolQ(body *value) (query, *esError) {
	if body.kind != kObj {
		return nil, p.errf(body.off, "[bool] query malformed, no start_object after query name")
	}
	q := qBool{boost: 1}
	for i := range body.obj {
		mb := &body.obj[i]
		var e *esError
		var cs []query
		switch mb.key {
		case "must", "filter", "should", "must_not", "mustNot":
			if cs, e = p.clauses(&mb.val); e != nil {
				return nil, e
			}
		}
		switch mb.key {
		case "must":
			q.must = append(q.must, cs...)
		case "filter":
			q.filter = append(q.filter, cs...)
		case "should":
			q.should = append(q.should, cs...)
		case "must_not", "mustNot":
			q.mustNot = append(q.mustNot, cs...)
		case "minimum_should_match":
			if !isScalar(&mb.val) {
				return nil, p.errf(mb.val.off, "[bool] query does not support [%s]", mb.key)
			}
			q.msm = scalarText(&mb.val)
		case "boost":
			if q.boost, e = p.number("bool", mb.key, &mb.val); e != nil {
				return nil, e
			}
		case "_name", "adjust_pure_negative":
		default:
			return nil, p.errf(mb.off, "[bool] query does not support [%s]", mb.key)
		}
	}
	return q, nil
}

func (p *qparser) match(body *value) (query, *esError) {
	f, e := p.singleField("match", body)
	if e != nil {
		return nil, e
	}
	q := qMatch{field: f.key, boost: 1}
	switch {
	case isScalar(&f.val):
		q.text = &f.val
	case f.val.kind == kObj:
		for i := range f.val.obj {
			mb := &f.val.obj[i]
			switch mb.key {
			case "query":
				if !isScalar(&mb.val) {
					return nil, p.errf(mb.val.off, "[match] unknown token [%s] after [query]", tokenName(&mb.val))
				}
				q.text = &mb.val
			case "operator":
				switch strings.ToLower(scalarText(&mb.val)) {
				case "and":
					q.and = true
				case "or":
				default:
					return nil, errIllegalArgument("No enum constant org.elasticsearch.index.query.Operator.%s", strings.ToUpper(scalarText(&mb.val)))
				}
			case "minimum_should_match":
				q.msm = scalarText(&mb.val)
			case "boost":
				if q.boost, e = p.number("match", mb.key, &mb.val); e != nil {
					return nil, e
				}
			case "fuzziness":
				return nil, errNotEmulated("the fuzziness of the [match] query")
			case "analyzer", "lenient", "zero_terms_query", "_name", "auto_generate_synonyms_phrase_query",
				"fuzzy_transpositions", "max_expansions", "prefix_length", "fuzzy_rewrite", "cutoff_frequency":
			default:
				return nil, p.errf(mb.off, "[match] query does not support [%s]", mb.key)
			}
		}
		if q.text == nil {
			return nil, p.errf(f.val.off, "No text specified for text query")
		}
	default:
		return nil, p.errf(f.val.off, "[match] unknown token [%s] after [%s]", tokenName(&f.val), f.key)
	}
	return q, nil
}

func (p *qparser) prefixOrWildcard(name string, body *value) (query, *esError) {
	f, e := p.singleField(name, body)
	if e != nil {
		return nil, e
	}
	var val string
	var found bool
	ci := false
	boost := 1.0
	switch {
	case f.val.kind == kStr:
		val, found = f.val.s, true
	case f.val.kind == kObj:
		for i := range f.val.obj {
			mb := &f.val.obj[i]
			switch mb.key {
			case "value", "wildcard":
				val, found = scalarText(&mb.val), true
			case "case_insensitive":
				ci, _ = boolValue(&mb.val)
			case "boost":
				if boost, e = p.number(name, mb.key, &mb.val); e != nil {
					return nil, e
				}
			case "rewrite", "_name":
			default:
				return nil, p.errf(mb.off, "[%s] query does not support [%s]", name, mb.key)
			}
		}
	}
	if !found {
		return nil, p.errf(f.val.off, "[%s] query does not support [%s]", name, tokenName(&f.val))
	}
	if name == "prefix" {
		return qPrefix{field: f.key, prefix: val, ci: ci, boost: boost}, nil
	}
	return qWildcard{field: f.key, pattern: val, ci: ci, boost: boost}, nil
}

func (p *qparser) constantScore(body *value) (query, *esError) {
	if body.kind != kObj {
		return nil, p.errf(body.off, "[constant_score] query malformed, no start_object after query name")
	}
	q := qConstantScore{boost: 1}
	for i := range body.obj {
		mb := &body.obj[i]
		var e *esError
		switch mb.key {
		case "filter":
			if q.filter, e = p.parse(&mb.val); e != nil {
				return nil, e
			}
		case "boost":
			if q.boost, e = p.number("constant_score", mb.key, &mb.val); e != nil {
				return nil, e
			}
		case "_name":
		default:
			return nil, p.errf(mb.off, "[constant_score] query does not support [%s]", mb.key)
		}
	}
	if q.filter == nil {
		return nil, p.errf(body.off, "[constant_score] requires a 'filter' element")
	}
	return q, nil
}
