package esemu

import (
	"net/http"
	"strings"
)

// sourceFilter is a _source parameter: whether to return the source, and
// which parts of it (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/search-fields.html#source-filtering).
type sourceFilter struct {
	fetch    bool
	includes []string
	excludes []string
}

// sourceFromParams reads the _source, _source_includes and
// _source_excludes query parameters; nil when none is given.
func sourceFromParams(rq *request) *sourceFilter {
	src, hasSrc := rq.param("_source")
	inc, hasInc := rq.param("_source_includes")
	exc, hasExc := rq.param("_source_excludes")
	if !hasSrc && !hasInc && !hasExc {
		return nil
	}
	f := &sourceFilter{fetch: true}
	switch {
	case !hasSrc, src == "" || src == "true":
	case src == "false":
		f.fetch = false
	default:
		f.includes = splitList(src)
	}
	if hasInc {
		f.includes = append(f.includes, splitList(inc)...)
	}
	if hasExc {
		f.excludes = splitList(exc)
	}
	if len(f.includes) > 0 || len(f.excludes) > 0 {
		f.fetch = true
	}
	return f
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSourceFilterValue reads a _source given in a body: true/false, a
// pattern, a list of patterns, or {"includes":[...],"excludes":[...]}.
func parseSourceFilterValue(v *value) (*sourceFilter, *esError) {
	f := &sourceFilter{fetch: true}
	strs := func(v *value) ([]string, bool) {
		switch v.kind {
		case kStr:
			return []string{v.s}, true
		case kArr:
			out := make([]string, 0, len(v.arr))
			for i := range v.arr {
				if v.arr[i].kind != kStr {
					return nil, false
				}
				out = append(out, v.arr[i].s)
			}
			return out, true
		}
		return nil, false
	}
	switch v.kind {
	case kBool:
		f.fetch = v.b
	case kStr, kArr:
		l, ok := strs(v)
		if !ok {
			return nil, newErr(http.StatusBadRequest, "parsing_exception", "Unknown key for a %s in [_source].", tokenName(v))
		}
		f.includes = l
	case kObj:
		for i := range v.obj {
			mb := &v.obj[i]
			l, ok := strs(&mb.val)
			if !ok {
				return nil, newErr(http.StatusBadRequest, "parsing_exception", "Unknown key for a %s in [%s].", tokenName(&mb.val), mb.key)
			}
			switch mb.key {
			case "includes", "include":
				f.includes = l
			case "excludes", "exclude":
				f.excludes = l
			default:
				return nil, newErr(http.StatusBadRequest, "parsing_exception", "Unknown key for a %s in [%s].", tokenName(&mb.val), mb.key)
			}
		}
	default:
		return nil, newErr(http.StatusBadRequest, "parsing_exception", "Expected one of [VALUE_BOOLEAN, VALUE_STRING, START_ARRAY, START_OBJECT] but found [%s]", tokenName(v))
	}
	return f, nil
}

// apply returns the (filtered) source of d to put in a response, or nil
// when the source is not to be returned.
func (f *sourceFilter) apply(d *doc) any {
	if f != nil && !f.fetch {
		return nil
	}
	if f == nil || (len(f.includes) == 0 && len(f.excludes) == 0) {
		return raw(d.source)
	}
	out := filterObject(d.tree(), "", f.includes, f.excludes)
	return &out
}

// filterObject keeps the members of v whose path matches an include (or
// is under one), and drops those that match an exclude.
func filterObject(v *value, prefix string, inc, exc []string) value {
	out := value{kind: kObj, obj: []member{}}
	for i := range v.obj {
		mb := &v.obj[i]
		p := mb.key
		if prefix != "" {
			p = prefix + "." + mb.key
		}
		if matchAnyPattern(exc, p) {
			continue
		}
		included := len(inc) == 0 || matchAnyPattern(inc, p)
		switch {
		case included && len(exc) == 0:
			out.obj = append(out.obj, member{key: mb.key, val: mb.val})
		case included:
			out.obj = append(out.obj, member{key: mb.key, val: filterNested(&mb.val, p, nil, exc)})
		case mightIncludeBelow(inc, p):
			fv := filterNested(&mb.val, p, inc, exc)
			if !isEmptyContainer(&fv) {
				out.obj = append(out.obj, member{key: mb.key, val: fv})
			}
		}
	}
	return out
}

func filterNested(v *value, p string, inc, exc []string) value {
	switch v.kind {
	case kObj:
		return filterObject(v, p, inc, exc)
	case kArr:
		out := value{kind: kArr, arr: []value{}}
		for i := range v.arr {
			e := &v.arr[i]
			switch e.kind {
			case kObj, kArr:
				fe := filterNested(e, p, inc, exc)
				if !isEmptyContainer(&fe) || len(inc) == 0 {
					out.arr = append(out.arr, fe)
				}
			default:
				if len(inc) == 0 {
					out.arr = append(out.arr, *e)
				}
			}
		}
		return out
	}
	if len(inc) == 0 {
		return *v
	}
	return value{kind: kObj, obj: []member{}}
}

func isEmptyContainer(v *value) bool {
	return (v.kind == kObj && len(v.obj) == 0) || (v.kind == kArr && len(v.arr) == 0)
}

// mightIncludeBelow reports whether an include pattern may match a path
// under p.
func mightIncludeBelow(inc []string, p string) bool {
	for _, pat := range inc {
		if strings.HasPrefix(pat, p+".") || strings.Contains(pat, "*") {
			return true
		}
	}
	return false
}

func matchAnyPattern(patterns []string, s string) bool {
	for _, p := range patterns {
		if simpleMatch(p, s) {
			return true
		}
	}
	return false
}

// simpleMatch matches s against a pattern where '*' matches any run of
// characters (Regex.simpleMatch).
func simpleMatch(pattern, s string) bool {
	return wildcardMatch(pattern, s, false)
}

// wildcardMatch matches s against pattern, where '*' matches any run of
// bytes and, when question is set, '?' any one character.
func wildcardMatch(pattern, s string, question bool) bool {
	p, t, star, mark := 0, 0, -1, 0
	for t < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, t
			p++
		case p < len(pattern) && (pattern[p] == s[t] || (question && pattern[p] == '?')):
			p++
			t++
		case star >= 0:
			p = star + 1
			mark++
			t = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
