package esemu

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// fieldClass groups the mapping types by how the emulator parses and
// matches their values.
type fieldClass uint8

const (
	cObject  fieldClass = iota // object, nested
	cText                      // text, match_only_text
	cKeyword                   // keyword, constant_keyword, wildcard
	cLong                      // long, integer, short, byte, unsigned_long
	cDouble                    // double, float, half_float, scaled_float
	cBool                      // boolean
	cDate                      // date, date_nanos
	cOpaque                    // any other type: values are stored, not checked, matched as keywords
)

// Mapping limits, at their Elasticsearch defaults.
const (
	totalFieldsLimit   = 1000 // index.mapping.total_fields.limit
	depthLimit         = 20   // index.mapping.depth.limit
	dynamicIgnoreAbove = 256  // ignore_above of the keyword sub-field of a dynamic string
)

var typeClasses = map[string]fieldClass{
	"object": cObject, "nested": cObject,
	"text": cText, "match_only_text": cText,
	"keyword": cKeyword, "constant_keyword": cKeyword, "wildcard": cKeyword,
	"long": cLong, "integer": cLong, "short": cLong, "byte": cLong, "unsigned_long": cLong,
	"double": cDouble, "float": cDouble, "half_float": cDouble, "scaled_float": cDouble,
	"boolean": cBool,
	"date":    cDate, "date_nanos": cDate,
	"ip": cOpaque, "binary": cOpaque, "geo_point": cOpaque, "geo_shape": cOpaque, "flattened": cOpaque,
	"dense_vector": cOpaque, "sparse_vector": cOpaque, "search_as_you_type": cText, "completion": cOpaque,
	"version": cKeyword, "alias": cOpaque, "point": cOpaque, "shape": cOpaque, "token_count": cLong,
	"histogram": cOpaque, "rank_feature": cDouble, "rank_features": cOpaque, "semantic_text": cText,
	"integer_range": cOpaque, "long_range": cOpaque, "float_range": cOpaque, "double_range": cOpaque,
	"date_range": cOpaque, "ip_range": cOpaque, "percolator": cOpaque, "join": cOpaque,
	"aggregate_metric_double": cOpaque, "counted_keyword": cKeyword,
}

// mapping is a field's mapping; the root mapping is an object.
type mapping struct {
	typ         string
	class       fieldClass
	props       map[string]*mapping // object properties
	order       []string            // property names, in the order they were mapped
	fields      map[string]*mapping // multi-fields
	fieldOrder  []string
	ignoreAbove int    // 0: none
	format      string // dates; "" is strict_date_optional_time||epoch_millis
	dynamic     string // objects: "" (inherited), "true", "false", "strict", "runtime"
	disabled    bool   // objects mapped with "enabled": false

	// root only
	dateDetection    bool
	numericDetection bool
}

func newRootMapping() *mapping {
	return &mapping{typ: "object", class: cObject, props: map[string]*mapping{}, dateDetection: true}
}

func newObjectMapping() *mapping {
	return &mapping{typ: "object", class: cObject, props: map[string]*mapping{}}
}

func (m *mapping) addProp(name string, child *mapping) {
	if m.props == nil {
		m.props = map[string]*mapping{}
	}
	if _, ok := m.props[name]; !ok {
		m.order = append(m.order, name)
	}
	m.props[name] = child
}

func (m *mapping) removeProp(name string) {
	delete(m.props, name)
	// Searched from the end: the properties removed are the last added.
	for i := len(m.order) - 1; i >= 0; i-- {
		if m.order[i] == name {
			m.order = append(m.order[:i], m.order[i+1:]...)
			break
		}
	}
}

func (m *mapping) addField(name string, child *mapping) {
	if m.fields == nil {
		m.fields = map[string]*mapping{}
	}
	if _, ok := m.fields[name]; !ok {
		m.fieldOrder = append(m.fieldOrder, name)
	}
	m.fields[name] = child
}

func (m *mapping) clone() *mapping {
	c := *m
	c.props, c.order, c.fields, c.fieldOrder = nil, nil, nil, nil
	for _, n := range m.order {
		c.addProp(n, m.props[n].clone())
	}
	for _, n := range m.fieldOrder {
		c.addField(n, m.fields[n].clone())
	}
	return &c
}

// countFields counts the mappers under m, as index.mapping.total_fields.limit
// does: every object, field and multi-field.
func (m *mapping) countFields() int {
	n := 0
	for _, c := range m.props {
		n += 1 + c.countFields()
	}
	return n + len(m.fields)
}

// dynamicString is the mapping Elasticsearch creates for a new string field:
// text with a keyword sub-field.
func dynamicString() *mapping {
	m := &mapping{typ: "text", class: cText}
	m.addField("keyword", &mapping{typ: "keyword", class: cKeyword, ignoreAbove: dynamicIgnoreAbove})
	return m
}

// rootJSON renders the root mapping as GET _mapping does.
func (m *mapping) rootJSON() obj {
	o := obj{}
	if m.dynamic != "" {
		o = append(o, kv{"dynamic", m.dynamic})
	}
	if !m.dateDetection {
		o = append(o, kv{"date_detection", false})
	}
	if m.numericDetection {
		o = append(o, kv{"numeric_detection", true})
	}
	if len(m.order) > 0 {
		o = append(o, kv{"properties", m.propsJSON()})
	}
	return o
}

func (m *mapping) propsJSON() obj {
	o := make(obj, 0, len(m.order))
	for _, n := range sortedKeys(m.props) {
		o = append(o, kv{n, m.props[n].fieldJSON()})
	}
	return o
}

func (m *mapping) fieldJSON() obj {
	if m.class == cObject {
		o := obj{}
		if m.typ != "object" {
			o = append(o, kv{"type", m.typ})
		}
		if m.dynamic != "" {
			o = append(o, kv{"dynamic", m.dynamic})
		}
		if m.disabled {
			o = append(o, kv{"enabled", false})
		}
		if len(m.order) > 0 {
			o = append(o, kv{"properties", m.propsJSON()})
		}
		return o
	}
	o := obj{{"type", m.typ}}
	if len(m.fieldOrder) > 0 {
		fs := obj{}
		for _, n := range sortedKeys(m.fields) {
			fs = append(fs, kv{n, m.fields[n].fieldJSON()})
		}
		o = append(o, kv{"fields", fs})
	}
	if m.format != "" {
		o = append(o, kv{"format", m.format})
	}
	if m.ignoreAbove > 0 {
		o = append(o, kv{"ignore_above", m.ignoreAbove})
	}
	return o
}

func sortedKeys(m map[string]*mapping) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// putMapping merges an explicit mapping definition into the index's.
func (ix *index) putMapping(def *value) *esError {
	if e := ix.mapping.put(def, ix.name); e != nil {
		return e
	}
	ix.fields = ix.mapping.countFields()
	return nil
}

func errMapperParsing(format string, args ...any) *esError {
	return newErr(http.StatusBadRequest, "mapper_parsing_exception", format, args...)
}

// put merges a root mapping definition ({"properties":..., "dynamic":...})
// into m. Dynamic templates, runtime fields and the like are accepted and
// ignored.
func (m *mapping) put(def *value, indexName string) *esError {
	if def.kind != kObj {
		return errMapperParsing("Failed to parse mapping: Expected a map")
	}
	for i := range def.obj {
		mb := &def.obj[i]
		switch mb.key {
		case "properties":
			if e := m.putProperties("", &mb.val); e != nil {
				return e
			}
		case "dynamic":
			d, e := parseDynamic(&mb.val, "_doc")
			if e != nil {
				return e
			}
			m.dynamic = d
		case "date_detection":
			m.dateDetection = mb.val.kind != kBool || mb.val.b
			if mb.val.kind == kStr {
				m.dateDetection = mb.val.s != "false"
			}
		case "numeric_detection":
			m.numericDetection = (mb.val.kind == kBool && mb.val.b) || (mb.val.kind == kStr && mb.val.s == "true")
		}
	}
	return nil
}

func parseDynamic(v *value, field string) (string, *esError) {
	switch {
	case v.kind == kBool:
		return strconv.FormatBool(v.b), nil
	case v.kind == kStr && (v.s == "true" || v.s == "false" || v.s == "strict" || v.s == "runtime"):
		return v.s, nil
	}
	return "", errMapperParsing("Failed to parse mapping: Could not convert [%s.dynamic] to boolean", field)
}

// putProperties merges a "properties" definition into the object m, whose
// path is prefix.
func (m *mapping) putProperties(prefix string, props *value) *esError {
	if props.kind != kObj {
		return errMapperParsing("Failed to parse mapping: Expected map for property [properties] on field [%s] but got a %s", strings.TrimSuffix(prefix, "."), tokenName(props))
	}
	for i := range props.obj {
		mb := &props.obj[i]
		segs := strings.Split(mb.key, ".")
		parent, p := m, prefix
		for _, seg := range segs[:len(segs)-1] {
			p += seg
			child := parent.props[seg]
			if child == nil {
				child = newObjectMapping()
				parent.addProp(seg, child)
			} else if child.class != cObject {
				return errIllegalArgument("can't merge a non object mapping [%s] with an object mapping", p)
			}
			parent, p = child, p+"."
		}
		name := segs[len(segs)-1]
		full := p + name
		nm, e := parseFieldDef(full, &mb.val)
		if e != nil {
			return e
		}
		if e := parent.mergeProp(name, full, nm); e != nil {
			return e
		}
	}
	return nil
}

// mergeProp adds or merges the mapping nm of the property name of m.
func (m *mapping) mergeProp(name, full string, nm *mapping) *esError {
	old := m.props[name]
	if old == nil {
		m.addProp(name, nm)
		return nil
	}
	if old.typ != nm.typ {
		return errIllegalArgument("mapper [%s] cannot be changed from type [%s] to [%s]", full, old.typ, nm.typ)
	}
	if old.class == cObject {
		for _, n := range nm.order {
			if e := old.mergeProp(n, full+"."+n, nm.props[n]); e != nil {
				return e
			}
		}
		if nm.dynamic != "" {
			old.dynamic = nm.dynamic
		}
		return nil
	}
	for _, n := range nm.fieldOrder {
		if of := old.fields[n]; of != nil && of.typ != nm.fields[n].typ {
			return errIllegalArgument("mapper [%s.%s] cannot be changed from type [%s] to [%s]", full, n, of.typ, nm.fields[n].typ)
		}
		old.addField(n, nm.fields[n])
	}
	old.ignoreAbove = nm.ignoreAbove
	return nil
}

// parseFieldDef parses the definition of the field full.
func parseFieldDef(full string, def *value) (*mapping, *esError) {
	if def.kind != kObj {
		return nil, errMapperParsing("Expected map for property [fields] on field [%s] but got a class java.lang.String", full)
	}
	typ := "object"
	if t, ok := def.get("type"); ok {
		if t.kind != kStr {
			return nil, errMapperParsing("Failed to parse mapping: No type specified for field [%s]", full)
		}
		typ = t.s
	}
	class, ok := typeClasses[typ]
	if !ok {
		return nil, errMapperParsing("Failed to parse mapping: No handler for type [%s] declared on field [%s]", typ, full)
	}
	m := &mapping{typ: typ, class: class}
	for i := range def.obj {
		mb := &def.obj[i]
		switch mb.key {
		case "properties":
			if class != cObject {
				continue
			}
			if e := m.putProperties(full+".", &mb.val); e != nil {
				return nil, e
			}
		case "dynamic":
			if class == cObject {
				d, e := parseDynamic(&mb.val, full)
				if e != nil {
					return nil, e
				}
				m.dynamic = d
			}
		case "enabled":
			if class == cObject && mb.val.kind == kBool && !mb.val.b {
				m.disabled = true
			}
		case "fields":
			if class == cObject || mb.val.kind != kObj {
				continue
			}
			for j := range mb.val.obj {
				sub := &mb.val.obj[j]
				sm, e := parseFieldDef(full+"."+sub.key, &sub.val)
				if e != nil {
					return nil, e
				}
				if sm.class == cObject {
					return nil, errMapperParsing("Failed to parse mapping: Type [%s] cannot be used in multi field", sm.typ)
				}
				m.addField(sub.key, sm)
			}
		case "ignore_above":
			n, err := strconv.Atoi(strings.Trim(appendStr(&mb.val), `"`))
			if err != nil || n < 0 {
				return nil, errMapperParsing("Failed to parse mapping: [ignore_above] must be positive, got [%s]", javaString(&mb.val))
			}
			m.ignoreAbove = n
		case "format":
			if class == cDate && mb.val.kind == kStr {
				m.format = mb.val.s
			}
		}
	}
	if class == cObject && m.props == nil {
		m.props = map[string]*mapping{}
	}
	return m, nil
}

// Metadata fields, which a document's source may not set.
var metadataFields = map[string]bool{
	"_id": true, "_index": true, "_source": true, "_routing": true, "_version": true, "_seq_no": true,
	"_primary_term": true, "_field_names": true, "_ignored": true, "_tier": true, "_doc_count": true,
	"_data_stream_timestamp": true, "_nested_path": true, "_feature": true, "_tsid": true,
	"_ignored_source": true,
}

// docParser checks a document against the index's mapping, the way
// Elasticsearch's DocumentParser does, and adds the dynamic mappings of the
// new fields it holds. When the document is refused its mapping changes
// are undone.
type docParser struct {
	ix        *index
	id        string
	src       []byte
	added     []addedProp
	newFields int // fields the added properties count
}

type addedProp struct {
	parent *mapping
	name   string
}

// parseDocument checks src, parsed as v, for the index; nil means it can be
// indexed (and the mapping holds its fields).
func (ix *index) parseDocument(id string, src []byte, v *value) *esError {
	if v.kind != kObj {
		return errDocParsing(src, v.off, "failed to parse: Malformed content, must start with an object")
	}
	p := &docParser{ix: ix, id: id, src: src}
	e := p.object(ix.mapping, "", v, dynamicOf(ix.mapping, "true"), 0)
	if e == nil {
		ix.fields += p.newFields
	}
	if e != nil {
		for i := len(p.added) - 1; i >= 0; i-- {
			p.added[i].parent.removeProp(p.added[i].name)
		}
	}
	return e
}

func errDocParsing(src []byte, off int, format string, args ...any) *esError {
	l, c := lineCol(src, off)
	return newErr(http.StatusBadRequest, "document_parsing_exception", "[%d:%d] %s", l, c, fmt.Sprintf(format, args...))
}

func dynamicOf(m *mapping, inherited string) string {
	if m.dynamic != "" {
		return m.dynamic
	}
	return inherited
}

// add maps a new field, unless that exceeds the total fields limit.
func (p *docParser) add(parent *mapping, name string, m *mapping, off int) *esError {
	p.newFields += 1 + len(m.fields)
	if p.ix.fields+p.newFields > totalFieldsLimit {
		reason := fmt.Sprintf("Limit of total fields [%d] has been exceeded while adding new fields [%d]", totalFieldsLimit, p.newFields)
		e := errDocParsing(p.src, off, "failed to parse: %s", reason)
		e.cause = errIllegalArgument("%s", reason)
		return e
	}
	parent.addProp(name, m)
	p.added = append(p.added, addedProp{parent, name})
	return nil
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func (p *docParser) errStrict(off int, name, parentPath string) *esError {
	within := parentPath
	if within == "" {
		within = "_doc"
	}
	l, c := lineCol(p.src, off)
	return newErr(http.StatusBadRequest, "strict_dynamic_mapping_exception",
		"[%d:%d] mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed", l, c, name, within)
}

// object parses the members of the object v, mapped by m at path.
func (p *docParser) object(m *mapping, path string, v *value, dyn string, depth int) *esError {
	var oneSeg [1]string
	for i := range v.obj {
		mb := &v.obj[i]
		key := mb.key
		if strings.TrimSpace(key) == "" {
			return errDocParsing(p.src, mb.off, "Field name cannot contain only whitespace: ['%s']", key)
		}
		if path == "" && metadataFields[key] {
			return errDocParsing(p.src, mb.off, "Field [%s] is a metadata field and cannot be added inside a document. Use the index API request parameters.", key)
		}
		segs := oneSeg[:]
		if strings.IndexByte(key, '.') >= 0 {
			segs = strings.Split(key, ".")
		} else {
			segs[0] = key
		}
		parent, parentPath, parentDyn := m, path, dyn
		skip := false
		for j, seg := range segs {
			if seg == "" {
				return errDocParsing(p.src, mb.off, "object field starting or ending with a [.] makes object resolution ambiguous: [%s]", key)
			}
			if j == len(segs)-1 {
				break
			}
			childPath := joinPath(parentPath, seg)
			child := parent.props[seg]
			if child == nil {
				switch parentDyn {
				case "strict":
					return p.errStrict(mb.off, seg, parentPath)
				case "false", "runtime":
					skip = true
				default:
					// An object's depth counts the root: "a" is at depth 2.
					if depth+j+2 > depthLimit {
						return errDocParsing(p.src, mb.off, "Limit of mapping depth [%d] has been exceeded due to object field [%s]", depthLimit, childPath)
					}
					child = newObjectMapping()
					if e := p.add(parent, seg, child, mb.off); e != nil {
						return e
					}
				}
			} else if child.class != cObject {
				if child.class == cOpaque {
					skip = true
				} else {
					return errDocParsing(p.src, mb.off, "Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must be of type object but found [%s].", joinPath(path, key), childPath, child.typ)
				}
			}
			if skip {
				break
			}
			if child.disabled {
				skip = true
				break
			}
			parent, parentPath, parentDyn = child, childPath, dynamicOf(child, parentDyn)
		}
		if skip {
			continue
		}
		name := segs[len(segs)-1]
		if e := p.field(parent, parentPath, name, &mb.val, parentDyn, depth+len(segs)-1); e != nil {
			return e
		}
	}
	return nil
}

// field parses the value v of the field name of the object parent.
func (p *docParser) field(parent *mapping, parentPath, name string, v *value, dyn string, depth int) *esError {
	switch v.kind {
	case kNull:
		return nil
	case kArr:
		for i := range v.arr {
			if e := p.field(parent, parentPath, name, &v.arr[i], dyn, depth); e != nil {
				return e
			}
		}
		return nil
	}
	full := func() string { return joinPath(parentPath, name) }
	m := parent.props[name]
	if m == nil {
		switch dyn {
		case "strict":
			return p.errStrict(v.off, name, parentPath)
		case "false", "runtime":
			return nil
		}
		if v.kind == kObj {
			if depth+2 > depthLimit {
				return errDocParsing(p.src, v.off, "Limit of mapping depth [%d] has been exceeded due to object field [%s]", depthLimit, full())
			}
			m = newObjectMapping()
		} else {
			m = p.dynamicFor(v)
		}
		if e := p.add(parent, name, m, v.off); e != nil {
			return e
		}
	}
	if v.kind == kObj {
		switch m.class {
		case cObject:
			if m.disabled {
				return nil
			}
			return p.object(m, full(), v, dynamicOf(m, dyn), depth+1)
		case cOpaque:
			return nil
		}
		var cause *esError
		l, c := lineCol(p.src, v.off)
		switch m.class {
		case cText, cKeyword, cDate:
			cause = newErr(http.StatusBadRequest, "illegal_state_exception", "Can't get text on a START_OBJECT at %d:%d", l, c)
		case cBool:
			cause = newErr(http.StatusBadRequest, "illegal_argument_exception", "Failed to parse value [%s] as only [true] or [false] are allowed.", javaString(v))
		default:
			cause = newErr(http.StatusBadRequest, "x_content_parse_exception", "[%d:%d] Current token (START_OBJECT) not numeric, can not use numeric value accessors", l, c)
		}
		return p.fieldError(m, full(), v, cause)
	}
	if m.class == cObject {
		return errDocParsing(p.src, v.off, "object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", full(), name)
	}
	if cause := checkScalar(m, v); cause != nil {
		return p.fieldError(m, full(), v, cause)
	}
	return nil
}

func (p *docParser) fieldError(m *mapping, full string, v *value, cause *esError) *esError {
	e := errDocParsing(p.src, v.off, "failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", full, m.typ, p.id, javaString(v))
	e.cause = cause
	return e
}

// dynamicFor is the mapping dynamic mapping creates for a new field holding
// the scalar v (https://www.elastic.co/guide/en/elasticsearch/reference/8.15/dynamic-field-mapping.html).
func (p *docParser) dynamicFor(v *value) *mapping {
	root := p.ix.mapping
	switch v.kind {
	case kBool:
		return &mapping{typ: "boolean", class: cBool}
	case kNum:
		if v.isInt() {
			return &mapping{typ: "long", class: cLong}
		}
		return &mapping{typ: "float", class: cDouble}
	}
	s := v.s
	if root.dateDetection && strings.ContainsAny(s, ":-/") {
		if _, ok := parseStrictDateOptionalTime(s); ok {
			return &mapping{typ: "date", class: cDate}
		}
		if _, ok := parseSlashDate(s); ok {
			return &mapping{typ: "date", class: cDate, format: slashDateFormat}
		}
	}
	if root.numericDetection {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return &mapping{typ: "long", class: cLong}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return &mapping{typ: "float", class: cDouble}
		}
	}
	return dynamicString()
}

var intRanges = map[string][2]int64{
	"integer": {math.MinInt32, math.MaxInt32},
	"short":   {math.MinInt16, math.MaxInt16},
	"byte":    {math.MinInt8, math.MaxInt8},
}

// checkScalar checks that the scalar v can be indexed in a field mapped by
// m, and returns the exception that refuses it (the caused_by of the
// document_parsing_exception) if not.
func checkScalar(m *mapping, v *value) *esError {
	bad := func(format string, args ...any) *esError {
		return newErr(http.StatusBadRequest, "illegal_argument_exception", format, args...)
	}
	switch m.class {
	case cLong:
		switch v.kind {
		case kBool:
			return bad("Current token (%s) not numeric, can not use numeric value accessors", tokenName(v))
		case kStr:
			if strings.TrimSpace(v.s) == "" {
				return nil // an empty string is a null value
			}
		}
		n, ok, why := toLong(v)
		if !ok {
			return bad("%s", why)
		}
		if r, ok := intRanges[m.typ]; ok && (n < r[0] || n > r[1]) {
			article := "a"
			if m.typ == "integer" {
				article = "an"
			}
			return bad("Value [%s] is out of range for %s %s", v.s, article, m.typ)
		}
		if m.typ == "unsigned_long" && n < 0 {
			return bad("Value \"%s\" is out of range for an unsigned long", v.s)
		}
	case cDouble:
		switch v.kind {
		case kBool:
			return bad("Current token (%s) not numeric, can not use numeric value accessors", tokenName(v))
		case kStr:
			if strings.TrimSpace(v.s) == "" {
				return nil
			}
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
		if err != nil && !isRangeErr(err) {
			return bad("For input string: \"%s\"", v.s)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return bad("[%s] supports only finite values, but got [%s]", m.typ, javaString(v))
		}
	case cBool:
		switch {
		case v.kind == kBool:
		case v.kind == kStr && (v.s == "true" || v.s == "false" || v.s == ""):
		default:
			return bad("Failed to parse value [%s] as only [true] or [false] are allowed.", javaString(v))
		}
	case cDate:
		if v.kind == kBool {
			return bad("failed to parse date field [%s] with format [%s]", javaString(v), dateFormatName(m))
		}
		if _, ok := parseDateValue(m, v); !ok {
			return bad("failed to parse date field [%s] with format [%s]", javaString(v), dateFormatName(m))
		}
	}
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// toLong converts a number or numeric string to a long as a long field
// does, truncating a fraction (coerce defaults to true).
func toLong(v *value) (int64, bool, string) {
	s := strings.TrimSpace(v.s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true, ""
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, false, fmt.Sprintf("For input string: \"%s\"", v.s)
	}
	if math.IsNaN(f) || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return 0, false, fmt.Sprintf("Value [%s] is out of range for a long", v.s)
	}
	return int64(f), true, ""
}

// fieldRef is a field a query or a sort names, resolved in one index.
type fieldRef struct {
	name    string
	meta    string   // "_id" or "_index" for those metadata fields
	m       *mapping // nil when unmapped
	srcPath string   // where the values are in the source
}

// resolveField finds the mapping of a field name: a path of objects, then
// a field, then possibly a multi-field ("title.keyword").
func (ix *index) resolveField(name string) fieldRef {
	ref := fieldRef{name: name}
	switch name {
	case "_id", "_index":
		ref.meta = name
		return ref
	}
	m := ix.mapping
	segs := strings.Split(name, ".")
	for i := 0; i < len(segs); i++ {
		// An object property's name may itself hold dots when it was mapped
		// from a dotted key; try the longest match first.
		var child *mapping
		j := len(segs)
		for ; j > i; j-- {
			if c := m.props[strings.Join(segs[i:j], ".")]; c != nil {
				child = c
				break
			}
		}
		if child == nil {
			return ref
		}
		if child.class != cObject && j < len(segs) {
			sub := child.fields[strings.Join(segs[j:], ".")]
			if sub == nil {
				return ref
			}
			ref.m = sub
			ref.srcPath = strings.Join(segs[:j], ".")
			return ref
		}
		m = child
		i = j - 1
	}
	ref.m = m
	ref.srcPath = name
	return ref
}

// sourceValues collects the values at path in the source v, flattening
// arrays, following both nested objects and dotted keys.
func sourceValues(v *value, path string, out []*value) []*value {
	switch v.kind {
	case kArr:
		for i := range v.arr {
			out = sourceValues(&v.arr[i], path, out)
		}
		return out
	case kNull:
		return out
	}
	if path == "" {
		return append(out, v)
	}
	if v.kind != kObj {
		return out
	}
	for i := range v.obj {
		k := v.obj[i].key
		switch {
		case k == path:
			out = sourceValues(&v.obj[i].val, "", out)
		case len(path) > len(k) && path[len(k)] == '.' && path[:len(k)] == k:
			out = sourceValues(&v.obj[i].val, path[len(k)+1:], out)
		}
	}
	return out
}
