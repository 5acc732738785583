package transform

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
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
// field's only in case is skipped as an unknown member. A document that is
// not ValidJSONText (bytes that are not UTF-8, or a \u escape of half a
// surrogate pair, in a name or a value), which encoding/json reads with
// U+FFFD, text the provider never sent, and a strict reader refuses or
// reads otherwise, is ErrNestedJSON, as a notification is. Types,
// numbers and every other error are json.Unmarshal's, which also judges a
// document that is not JSON. The walk is jsonflat's (readJSONString) and
// allocates one copy of the document for the usual answer.
func UnmarshalExact(doc []byte, v any) error {
	x := exactCheck{names: jsonNames(reflect.TypeOf(v))}
	x.tildeField = slices.ContainsFunc(x.names, tildeName)
	s := string(doc) // one copy, as decodeFlatJSON's: names are substrings of it
	next, err := x.value(s, 0, 0)
	if err == nil && (skipJSONSpace(s, next) != len(s) || !ValidJSONText(doc)) {
		err = errNotFollowed
	}
	switch {
	case err != nil && !json.Valid(doc):
		// not JSON: json.Unmarshal says why
	case err == errNotFollowed:
		return ErrNestedJSON // valid JSON the walk refuses: text that is not UTF-8
	case err != nil:
		return err
	case len(x.variants) != 0:
		doc = x.renamed(doc)
	}
	return json.Unmarshal(doc, v)
}

// errNotFollowed is a document UnmarshalExact's walk cannot follow: not
// JSON, or text that is not UTF-8.
var errNotFollowed = errors.New("transform: not JSON the walk follows")

// maxExactDepth is encoding/json's own bound on nesting.
const maxExactDepth = 10000

// exactCheck collects, during UnmarshalExact's walk, the members whose name
// encoding/json would take for one of names though it is not written so.
type exactCheck struct {
	names      []string
	tildeField bool     // one of names is written as renamed writes one
	variants   [][3]int // the byte range of each such name, quotes included, and its number in its object
}

// value walks the JSON value at s[i:] (after white space) and returns the
// index after it. Only what the walk needs is checked: json.Valid and
// json.Unmarshal judge the rest.
func (x *exactCheck) value(s string, i, depth int) (int, error) {
	i = skipJSONSpace(s, i)
	if i >= len(s) {
		return 0, errNotFollowed
	}
	switch c := s[i]; {
	case c == '{' || c == '[':
		if depth >= maxExactDepth {
			return 0, errNotFollowed
		}
		if c == '{' {
			return x.object(s, i+1, depth+1)
		}
		if i = skipJSONSpace(s, i+1); i < len(s) && s[i] == ']' {
			return i + 1, nil
		}
		for {
			next, err := x.value(s, i, depth+1)
			if err != nil {
				return 0, err
			}
			switch i = skipJSONSpace(s, next); {
			case i < len(s) && s[i] == ']':
				return i + 1, nil
			case i >= len(s) || s[i] != ',':
				return 0, errNotFollowed
			}
			i++
		}
	case c == '"': // skipped, not unescaped: a value's text does not matter here
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errNotFollowed
	}
	j := i // a number, true, false or null
	for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'E') {
		j++
	}
	if j == i {
		return 0, errNotFollowed
	}
	return j, nil
}

// object walks the members after an opening brace, refusing a name given
// twice and noting the names that are case variants of x.names.
func (x *exactCheck) object(s string, i, depth int) (int, error) {
	var names nameSet
	// This object's variants, by their index in x.variants: a nested
	// object's come between them, and are its own to renumber.
	var ownBuf [4]int
	own, tilde := ownBuf[:0], x.tildeField
	if i = skipJSONSpace(s, i); i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, errNotFollowed
		}
		name, j, plain, ok := readJSONString(s, i) // the kit's: escapes read as encoding/json reads them
		if !ok || !plain && !utf8.ValidString(name) {
			return 0, errNotFollowed
		}
		if !names.add(name) {
			return 0, ErrDuplicateMember
		}
		tilde = tilde || tildeName(name)
		if x.variant(name) {
			x.variants = append(x.variants, [3]int{i, j, len(own)})
			own = append(own, len(x.variants)-1)
		}
		if i = skipJSONSpace(s, j); i >= len(s) || s[i] != ':' {
			return 0, errNotFollowed
		}
		next, err := x.value(s, i+1, depth)
		if err != nil {
			return 0, err
		}
		switch i = skipJSONSpace(s, next); {
		case i < len(s) && s[i] == '}':
			if tilde && len(own) != 0 {
				x.renumber(own, &names)
			}
			return i + 1, nil
		case i >= len(s) || s[i] != ',':
			return 0, errNotFollowed
		}
		i = skipJSONSpace(s, i+1)
	}
}

// variant tells whether encoding/json would take name for one of x.names
// it is not.
func (x *exactCheck) variant(name string) bool {
	variant := false
	for _, n := range x.names {
		if n == name {
			return false
		}
		variant = variant || strings.EqualFold(n, name)
	}
	return variant
}

// renumber numbers an object's variants, own (indexes in x.variants: they
// are numbered in order when it holds no name written as renamed writes
// one), so that none is renamed to a name the object holds or a field's:
// {"Code":1,"~~~0":2} is {"~~~1":1,"~~~0":2}, two names in a
// json.RawMessage read again, where ~~~0 twice would be one given twice.
// Only the object's own: a nested object's, renumbered again by the names
// of the object around it, could take a name its own object holds, and a
// document nested deep cost the square of its depth. Rare, so it may
// allocate.
func (x *exactCheck) renumber(own []int, names *nameSet) {
	k := 0
	for _, v := range own {
		r := x.variants[v]
		for {
			name := string(appendRenamed(nil, r[1]-r[0]-2, k))
			if !names.has(name) && !slices.Contains(x.names, name) {
				break
			}
			k++
		}
		x.variants[v][2] = k
		k++
	}
}

// tildeName tells whether name is written only with '~' and digits, as
// renamed writes one.
func tildeName(name string) bool {
	return name != "" && strings.Trim(name, "~0123456789") == ""
}

// appendRenamed appends the name renamed gives a variant n bytes long
// numbered k in its object: '~' then k, padded with '~' to n bytes; no
// number for 0 in one byte ("A" for a field "a" is ~); longer than n when
// k does not fit. Two numbers are two names, and no field's name is
// written so (no letters), unless renumber found it.
func appendRenamed(dst []byte, n, k int) []byte {
	if k == 0 && n == 1 {
		return append(dst, '~')
	}
	d := strconv.Itoa(k)
	for range max(n-len(d), 1) {
		dst = append(dst, '~')
	}
	return append(dst, d...)
}

// renamed is a copy of doc with every variant name renamed (appendRenamed)
// to '~' then its number in its object, which no field's name holds: the
// document stays valid JSON, and encoding/json skips the member as it
// skips any unknown. The number keeps two variants of one object two names
// in a json.RawMessage read again (Code and CODE in CBTIS's data: ~~~0 and
// ~~~1, not ~~~~ twice), and renumber keeps them apart from the object's
// other names.
func (x *exactCheck) renamed(doc []byte) []byte {
	size := len(doc)
	for _, r := range x.variants {
		n := r[1] - r[0] - 2 // inside the quotes
		if d := len(strconv.Itoa(r[2])); r[2] != 0 && d >= n {
			size += d + 1 - n // longer: see appendRenamed
		}
	}
	out, last := make([]byte, 0, size), 0
	for _, r := range x.variants {
		out = append(out, doc[last:r[0]+1]...)
		out = appendRenamed(out, r[1]-r[0]-2, r[2])
		last = r[1] - 1
	}
	return append(out, doc[last:]...)
}

var jsonNamesOf sync.Map // reflect.Type → []string

// jsonNames lists the member names encoding/json reads into t: every
// field's, at every level of nesting (through pointers, slices, arrays and
// maps). A type that reads itself (json.Unmarshaler: JSONText, time.Time)
// adds none. The levels are not told apart: a member at any depth that is
// a case variant of a field's name at another is hidden too, which only
// matters for a map's keys (none of the types read so has a key of that
// kind: header names, merchant tags), a json.RawMessage read again (by
// other names, which renamed keeps apart) or a member not read at all.
// The other way, a member named exactly as a field at one level is kept at
// every level, where encoding/json takes it for a field it is a case
// variant of ("Code" read as code where a nested type has a field Code): no
// type read so has two field names that differ only in case (checked on 7
// December 2026 for every provider's and caddymodule's; keep it so).
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
