package spec

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

var durationType = reflect.TypeOf(time.Duration(0))

// FromStruct derives the spec of an Object from a struct type's yaml tags:
// a field named by its tag (or its lower-cased name), skipped with
// `yaml:"-"`, required with `spec:"required"`, its kind from its Go type
// (time.Duration is a Duration). Fields of other types (funcs, channels,
// interfaces) are left out: they are Go-only.
func FromStruct(v any) Field {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	f, ok := fromType(t)
	if !ok || f.Kind != Object {
		panic(fmt.Sprintf("spec: FromStruct of %v, not a struct", t))
	}
	return f
}

func fromType(t reflect.Type) (Field, bool) {
	if t == durationType {
		return Field{Kind: Duration}, true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return fromType(t.Elem())
	case reflect.String:
		return Field{Kind: String}, true
	case reflect.Bool:
		return Field{Kind: Bool}, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Field{Kind: Int}, true
	case reflect.Float32, reflect.Float64:
		return Field{Kind: Float}, true
	case reflect.Slice, reflect.Array:
		e, ok := fromType(t.Elem())
		if !ok {
			return Field{}, false
		}
		return Field{Kind: List, Elem: &e}, true
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return Field{}, false
		}
		e, ok := fromType(t.Elem())
		if !ok {
			return Field{}, false
		}
		return Field{Kind: Map, Elem: &e}, true
	case reflect.Struct:
		f := Field{Kind: Object}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			tag := sf.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			ff, ok := fromType(sf.Type)
			if !ok {
				continue
			}
			if strings.Contains(opts, "inline") && ff.Kind == Object {
				f.Fields = append(f.Fields, ff.Fields...)
				continue
			}
			ff.Name = name
			ff.Required = sf.Tag.Get("spec") == "required"
			f.Fields = append(f.Fields, ff)
		}
		return f, true
	case reflect.Interface:
		return Field{Kind: Any}, true
	}
	return Field{}, false
}
