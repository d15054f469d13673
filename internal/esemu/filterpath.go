package esemu

import "strings"

// filterPath applies the filter_path response parameter
// (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/common-options.html#common-options-response-filtering)
// to an encoded response: comma-separated dotted paths where '*' matches
// within a name and '**' any number of names, the paths starting with '-'
// excluding. A response nothing matches becomes {}.
func filterPath(out []byte, spec string) []byte {
	v, err := parseJSON(out)
	if err != nil {
		return out
	}
	var inc, exc [][]string
	for _, p := range strings.Split(spec, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.HasPrefix(p, "-") {
			exc = append(exc, strings.Split(p[1:], "."))
		} else {
			inc = append(inc, strings.Split(p, "."))
		}
	}
	if len(inc) > 0 {
		f, ok := includePaths(&v, inc)
		if !ok || f.kind != kObj {
			f = value{kind: kObj, obj: []member{}}
		}
		v = f
	}
	if len(exc) > 0 {
		v = excludePaths(&v, exc)
	}
	return appendValue(nil, &v)
}

// advance returns what remains of each path once the name key is consumed.
func advance(paths [][]string, key string) [][]string {
	var out [][]string
	for _, p := range paths {
		if len(p) == 0 {
			continue
		}
		if p[0] == "**" {
			out = append(out, p) // ** consumes key and stays
			out = append(out, advance([][]string{p[1:]}, key)...)
			if len(p) == 1 {
				out = append(out, nil)
			}
			continue
		}
		if simpleMatch(p[0], key) {
			out = append(out, p[1:])
		}
	}
	return out
}

func anyDone(paths [][]string) bool {
	for _, p := range paths {
		if len(p) == 0 {
			return true
		}
	}
	return false
}

func includePaths(v *value, paths [][]string) (value, bool) {
	if anyDone(paths) {
		return *v, true
	}
	switch v.kind {
	case kObj:
		out := value{kind: kObj, obj: []member{}}
		for i := range v.obj {
			next := advance(paths, v.obj[i].key)
			if len(next) == 0 {
				continue
			}
			if f, ok := includePaths(&v.obj[i].val, next); ok {
				out.obj = append(out.obj, member{key: v.obj[i].key, val: f})
			}
		}
		return out, len(out.obj) > 0
	case kArr:
		out := value{kind: kArr, arr: []value{}}
		for i := range v.arr {
			if f, ok := includePaths(&v.arr[i], paths); ok {
				out.arr = append(out.arr, f)
			}
		}
		return out, len(out.arr) > 0
	}
	return value{}, false
}

func excludePaths(v *value, paths [][]string) value {
	switch v.kind {
	case kObj:
		out := value{kind: kObj, obj: []member{}}
		for i := range v.obj {
			next := advance(paths, v.obj[i].key)
			if anyDone(next) {
				continue
			}
			val := v.obj[i].val
			if len(next) > 0 {
				val = excludePaths(&val, next)
			}
			out.obj = append(out.obj, member{key: v.obj[i].key, val: val})
		}
		return out
	case kArr:
		out := value{kind: kArr, arr: make([]value, 0, len(v.arr))}
		for i := range v.arr {
			out.arr = append(out.arr, excludePaths(&v.arr[i], paths))
		}
		return out
	}
	return *v
}
