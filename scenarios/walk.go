package scenarios

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The walk checks a tree against the Go type it will be decoded into, the way
// encoding/json will read it, and reports each unknown field and each value
// of the wrong type at its own field path and line, all of them at once.
// encoding/json alone would stop at the first and name no line. It also
// records the line of every field path, for validation errors.

type walker struct {
	file     string
	lines    map[string]int
	problems []Problem
}

func (w *walker) problem(t *tree, line int, p *field.Path, format string, args ...any) {
	if line == 0 {
		line = t.line
	}
	w.problems = append(w.problems, Problem{File: w.file, Line: line, Field: pathString(p), Message: fmt.Sprintf(format, args...)})
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	durationType    = reflect.TypeFor[metav1.Duration]()
)

func (w *walker) walk(t *tree, typ reflect.Type, p *field.Path) {
	w.lines[pathString(p)] = t.line
	if t.kind == treeNull {
		// Only a list item or the document can be null here: toJSON drops
		// null fields. encoding/json leaves the zero value, except that it
		// hands null to a custom UnmarshalJSON, which may refuse it.
		if typ.Kind() != reflect.Pointer && reflect.PointerTo(typ).Implements(unmarshalerType) {
			w.custom(t, typ, p)
		}
		return
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}

	if typ == durationType {
		w.duration(t, p)
		return
	}
	if reflect.PointerTo(typ).Implements(unmarshalerType) {
		w.custom(t, typ, p)
		return
	}

	switch typ.Kind() {
	case reflect.Struct:
		if t.kind != treeMapping {
			w.problem(t, 0, p, "must be a mapping of fields, not %s", t.describe())
			return
		}
		fields := jsonFields(typ)
		for i, key := range t.keys {
			fp := p.Child(key)
			f, ok := fields.byName[key]
			if !ok {
				w.problem(t.values[i], t.keyLines[i], fp, "unknown field%s", didYouMean(key, fields.names))
				continue
			}
			if t.values[i].kind != treeNull { // null is unset, like a missing field
				w.walk(t.values[i], f.typ, fp)
			}
			// A field is where its key is written, not its value.
			w.lines[fp.String()] = t.keyLines[i]
		}
	case reflect.Map:
		if t.kind != treeMapping {
			w.problem(t, 0, p, "must be a mapping, not %s", t.describe())
			return
		}
		for i, key := range t.keys {
			kp := p.Key(key)
			if t.values[i].kind != treeNull {
				w.walk(t.values[i], typ.Elem(), kp)
			}
			w.lines[kp.String()] = t.keyLines[i]
		}
	case reflect.Slice, reflect.Array:
		if t.kind != treeSequence {
			w.problem(t, 0, p, "must be a list, not %s", t.describe())
			return
		}
		for i, it := range t.items {
			w.walk(it, typ.Elem(), p.Index(i))
		}
	case reflect.Interface:
		// Anything goes.
	case reflect.String:
		if _, ok := t.scalar.(string); !ok {
			hint := ""
			if t.kind == treeScalar {
				hint = fmt.Sprintf(`; quote it: "%v"`, t.scalar)
			}
			w.problem(t, 0, p, "must be a string, not %s%s", t.describe(), hint)
		}
	case reflect.Bool:
		if _, ok := t.scalar.(bool); !ok {
			w.problem(t, 0, p, "must be true or false, not %s", t.describe())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := t.scalar.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 64)
		switch {
		case ok && err != nil && isHugeInteger(n):
			w.problem(t, 0, p, "%s is out of range", n)
		case !ok || (err != nil && !isRangeErr(err)):
			w.problem(t, 0, p, "must be a whole number, not %s", t.describe())
		case err != nil || reflect.New(typ).Elem().OverflowInt(i):
			w.problem(t, 0, p, "%s is out of range", n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := t.scalar.(json.Number)
		if ok && strings.HasPrefix(string(n), "-") {
			w.problem(t, 0, p, "must be 0 or more, not %s", n)
			return
		}
		u, err := strconv.ParseUint(string(n), 10, 64)
		switch {
		case ok && err != nil && isHugeInteger(n):
			w.problem(t, 0, p, "%s is out of range", n)
		case !ok || (err != nil && !isRangeErr(err)):
			w.problem(t, 0, p, "must be a whole number, not %s", t.describe())
		case err != nil || reflect.New(typ).Elem().OverflowUint(u):
			w.problem(t, 0, p, "%s is out of range", n)
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := t.scalar.(json.Number); !ok {
			w.problem(t, 0, p, "must be a number, not %s", t.describe())
		}
	default:
		w.problem(t, 0, p, "cannot be set from YAML")
	}
}

// pathString is p.String(), with "" for the document itself (a nil path).
func pathString(p *field.Path) string {
	if p == nil {
		return ""
	}
	return p.String()
}

// isHugeInteger tells a whole number too large for int64, which YAML resolves
// to a float, from a number with a fraction.
func isHugeInteger(n json.Number) bool {
	f, err := strconv.ParseFloat(string(n), 64)
	return err == nil && f == math.Trunc(f) && math.Abs(f) >= math.MaxInt64
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// duration checks a metav1.Duration, whose own error says nothing of the
// unit people most often forget.
func (w *walker) duration(t *tree, p *field.Path) {
	switch v := t.scalar.(type) {
	case string:
		if _, err := time.ParseDuration(v); err != nil {
			w.problem(t, 0, p, "%q is not a duration: write a number and a unit, like 100ms, 30s, 5m or 1h30m", v)
		}
	case json.Number:
		w.problem(t, 0, p, "%s has no unit: write a duration like %ss, %sms or %sm", v, v, v, v)
	default:
		w.problem(t, 0, p, "must be a duration like 100ms, 30s or 5m, not %s", t.describe())
	}
}

// custom checks a type with its own UnmarshalJSON by running it.
func (w *walker) custom(t *tree, typ reflect.Type, p *field.Path) {
	data, err := json.Marshal(t.toJSON())
	if err == nil {
		err = json.Unmarshal(data, reflect.New(typ).Interface())
	}
	if err != nil {
		w.problem(t, 0, p, "%v", err)
	}
}

type jsonField struct {
	typ reflect.Type
}

type fieldSet struct {
	byName map[string]jsonField
	names  []string
}

var fieldCache sync.Map // reflect.Type -> *fieldSet

// jsonFields returns the fields encoding/json decodes into typ, with fields
// of embedded structs without a name promoted, as encoding/json does.
func jsonFields(typ reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(typ); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]jsonField{}}
	collectFields(typ, fs)
	slices.Sort(fs.names)
	fieldCache.Store(typ, fs)
	return fs
}

func collectFields(typ reflect.Type, fs *fieldSet) {
	// Named fields first: a field of the struct itself wins over a promoted
	// one of the same name, as in encoding/json.
	var embedded []reflect.Type
	for i := range typ.NumField() {
		sf := typ.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fs.add(name, sf.Type)
	}
	for _, et := range embedded {
		collectFields(et, fs)
	}
}

func (fs *fieldSet) add(name string, typ reflect.Type) {
	if _, dup := fs.byName[name]; dup {
		return
	}
	fs.byName[name] = jsonField{typ: typ}
	fs.names = append(fs.names, name)
}
