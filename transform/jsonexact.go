package transform

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
)

// ErrDuplicateMember is UnmarshalExact's refusal of a document that gives
// one member name twice in an object.
var ErrDuplicateMember = fmt.Errorf("%w: a member name is given twice", ErrNestedJSON)

// UnmarshalExact is json.Unmarshal as a strict reader (Python's json, a
// JavaScript client) reads a provider's document, the way FlattenJSON and
// the merchant requests are read: a member name given twice in any object
// is refused (ErrDuplicateMember: encoding/json keeps the last value, and a
// signature covers both), and a member is read into a field only by its
// exact name (encoding/json also takes "Prepay_Id" or "PREPAY_ID" for
// prepay_id, Unicode case folding included): a name that differs from a
// field's only in case is skipped as an unknown member. Types, numbers and
// every other error are json.Unmarshal's; a document that is no JSON object
// is json.Unmarshal's to refuse (or, null, to leave v as it is).
func UnmarshalExact(doc []byte, v any) error {
	x := exactCheck{names: jsonNames(reflect.TypeOf(v))}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	// No bound but encoding/json's own (10000 levels); the caller bounds the body.
	f := flattener{dec: dec, maxDepth: 10000, values: len(doc), exact: &x}
	if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
		err = f.object(1)
		if errors.Is(err, ErrDuplicateMember) {
			return ErrDuplicateMember
		}
		if _, end := dec.Token(); err == nil && end == io.EOF && len(x.variants) != 0 {
			doc = x.renamed(doc)
		}
	}
	return json.Unmarshal(doc, v)
}

// exactCheck collects, during UnmarshalExact's walk, the members whose name
// encoding/json would take for one of names though it is not written so.
type exactCheck struct {
	names    []string
	variants [][2]int64 // the byte range of each such name, quotes included
}

// member checks the name read from doc[start:end] (the separator before
// it, white space and the quoted name).
func (x *exactCheck) member(name string, start, end int64) {
	variant := false
	for _, n := range x.names {
		if n == name {
			return
		}
		variant = variant || strings.EqualFold(n, name)
	}
	if variant {
		x.variants = append(x.variants, [2]int64{start, end})
	}
}

// renamed is a copy of doc with every variant name's characters replaced by
// '~', which no field's name holds: the document stays valid JSON of the
// same length, and encoding/json skips the member as it skips any unknown.
func (x *exactCheck) renamed(doc []byte) []byte {
	out := bytes.Clone(doc)
	for _, r := range x.variants {
		quoted := out[r[0]:r[1]]
		open := bytes.IndexByte(quoted, '"')
		for i := open + 1; i < len(quoted)-1; i++ {
			quoted[i] = '~'
		}
	}
	return out
}

var jsonNamesOf sync.Map // reflect.Type → []string

// jsonNames lists the member names encoding/json reads into t: every
// field's, at every level of nesting (through pointers, slices, arrays and
// maps). A type that reads itself (json.Unmarshaler: JSONText, time.Time)
// adds none.
func jsonNames(t reflect.Type) []string {
	if names, ok := jsonNamesOf.Load(t); ok {
		return names.([]string)
	}
	var names []string
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] || reflect.PointerTo(t).Implements(unmarshalerType) {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" || !sf.IsExported() && !sf.Anonymous {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" { // its fields are promoted
				walk(sf.Type)
				continue
			}
			names = append(names, cmp.Or(name, sf.Name))
			walk(sf.Type)
		}
	}
	walk(t)
	jsonNamesOf.Store(t, names)
	return names
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
