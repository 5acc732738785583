package transform

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNestedJSON is a document FlattenJSON refuses: not one JSON object (or
// not ValidJSONText), too deep, too many members, or a member given twice.
var ErrNestedJSON = errors.New("transform: not a flat-enough JSON object")

// FlattenJSON reads one JSON object into strings, a nested member's name
// joined to its parent's with a dot (amount.total) and an array element's
// with its index (promotion_detail.0.amount), as events carry a provider's
// nested payload. Numbers keep their literal text, true and false are
// spelled so, null members are left out. The work is bounded: at most
// maxDepth levels, maxMembers values, every member and array element
// counted (an object, an array or a null as well as a leaf), so a body of
// thousands of nulls or empty arrays stops at the bound as a body of leaves
// does, and names of at most MaxFlatName bytes; a repeated member is refused (two values for one name would make the
// event ambiguous). A document that is not ValidJSONText is refused.
func FlattenJSON(doc []byte, maxDepth, maxMembers int) (map[string]string, error) {
	if !ValidJSONText(doc) {
		return nil, ErrNestedJSON
	}
	// One copy: the values written without escapes are substrings of it.
	s := string(doc)
	i := skipJSONSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return nil, ErrNestedJSON
	}
	var name [64]byte // the usual path's room, on the stack
	f := flattener{s: s, maxDepth: maxDepth, values: maxMembers, name: name[:0], out: make(map[string]string, 16)}
	i, err := f.object(i+1, 1)
	// Only white space may follow the object.
	if err != nil || skipJSONSpace(s, i) != len(s) {
		return nil, ErrNestedJSON
	}
	return f.out, nil
}

// MaxFlatName bounds a flattened name (amount.total) in bytes: the name of
// every value below a member repeats the member's, so a long one would be
// copied once per value (maxMembers times the document's size), where no
// provider's path is longer than about 50 bytes.
const MaxFlatName = 1 << 10

// flattener is FlattenJSON's state: a scan of s with the kit's JSON
// readers (flat JSON's, which read as encoding/json's scanner does), where
// encoding/json's Decoder.Token made an error value for every value it
// read inside an object and a string for every name and value. The name of
// the value being read is built in one buffer, a member's name appended
// and cut off again, and copied into a string only for a leaf: a long name
// is not copied again for every value below it (a member named by 30 KiB
// holding thousands of nulls cost hundreds of megabytes when each value's
// name was its parent's joined to its own).
type flattener struct {
	s        string
	maxDepth int
	values   int    // values that may still be read
	name     []byte // the path of the value being read
	out      map[string]string
}

// ValidJSONText tells whether doc is UTF-8 whose \u escapes each stand for
// a character: encoding/json reads a byte that is not UTF-8, and an escape
// of half a surrogate pair ("\ud800" alone, or followed by anything but the
// low half), as U+FFFD. A signed document read so would give an event text
// its sender never wrote, and two documents differing only there would read
// the same. A malformed escape is false too (no decoder takes it).
func ValidJSONText(doc []byte) bool {
	if !utf8.Valid(doc) {
		return false
	}
	for i := bytes.IndexByte(doc, '\\'); i >= 0 && i < len(doc); i++ {
		if doc[i] != '\\' {
			continue
		}
		if i+1 < len(doc) && doc[i+1] != 'u' {
			i++ // a one-character escape, such as \\ before a u
			continue
		}
		r, ok := escapedUnit(doc, i)
		switch {
		case !ok:
			return false
		case r >= 0xDC00 && r <= 0xDFFF: // a low half with no high half before it
			return false
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := escapedUnit(doc, i+6)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return false
			}
			i += 11
		default:
			i += 5
		}
	}
	return true
}

// escapedUnit reads the UTF-16 unit of the \uXXXX escape at doc[i:].
func escapedUnit(doc []byte, i int) (rune, bool) {
	if i+6 > len(doc) || doc[i] != '\\' || doc[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(doc[i+2:i+6]), 16, 16)
	return rune(n), err == nil
}

// object reads the members after an opening brace at s[i-1] up to its
// closing one, and returns the index after it. A member name given twice in
// one object is refused whatever its values (null, {} and [] leave no leaf,
// and two objects would merge their leaves): the leaves alone cannot tell it.
func (f *flattener) object(i, depth int) (int, error) {
	s := f.s
	var names nameSet
	if i = skipJSONSpace(s, i); i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, ErrNestedJSON
		}
		name, j, _, ok := readJSONString(s, i)
		if !ok || !names.add(name) {
			return 0, ErrNestedJSON
		}
		parent := len(f.name)
		if parent+len(name) > MaxFlatName { // refused before it is copied
			return 0, ErrNestedJSON
		}
		if i = skipJSONSpace(s, j); i >= len(s) || s[i] != ':' {
			return 0, ErrNestedJSON
		}
		f.name = append(f.name, name...)
		leaf := "" // the value's name when it is a leaf: a top-level member's own
		if parent == 0 {
			leaf = name
		}
		var err error
		i, err = f.value(skipJSONSpace(s, i+1), depth, leaf)
		f.name = f.name[:parent]
		if err != nil {
			return 0, err
		}
		switch i = skipJSONSpace(s, i); {
		case i < len(s) && s[i] == '}':
			return i + 1, nil
		case i >= len(s) || s[i] != ',':
			return 0, ErrNestedJSON
		}
		i = skipJSONSpace(s, i+1)
	}
}

// nameSet is the member names of one object read so far, to refuse one
// given twice: the usual object's in an array, a larger one's in a map.
type nameSet struct {
	few  [8]string
	n    int
	many map[string]struct{}
}

// has tells whether name was added.
func (s *nameSet) has(name string) bool {
	if s.many != nil {
		_, ok := s.many[name]
		return ok
	}
	return slices.Contains(s.few[:s.n], name)
}

// add adds name; false when it was there already.
func (s *nameSet) add(name string) bool {
	if s.many != nil {
		if _, dup := s.many[name]; dup {
			return false
		}
		s.many[name] = struct{}{}
		return true
	}
	if slices.Contains(s.few[:s.n], name) {
		return false
	}
	if s.n < len(s.few) {
		s.few[s.n], s.n = name, s.n+1
		return true
	}
	s.many = make(map[string]struct{}, 2*len(s.few))
	for _, n := range s.few {
		s.many[n] = struct{}{}
	}
	s.many[name] = struct{}{}
	return true
}

// value reads the value at s[i], named f.name, counting it against
// f.values, and returns the index after it. leaf is f.name as a string
// when the caller holds it, else "".
func (f *flattener) value(i, depth int, leaf string) (int, error) {
	if f.values <= 0 || len(f.name) > MaxFlatName || i >= len(f.s) {
		return 0, ErrNestedJSON
	}
	f.values--
	s := f.s
	var v string
	ok := true
	switch c := s[i]; c {
	case '{', '[':
		if depth >= f.maxDepth {
			return 0, ErrNestedJSON
		}
		f.name = append(f.name, '.')
		if c == '{' {
			return f.object(i+1, depth+1)
		}
		parent := len(f.name)
		if i = skipJSONSpace(s, i+1); i < len(s) && s[i] == ']' {
			return i + 1, nil
		}
		for n := 0; ; n++ {
			f.name = strconv.AppendInt(f.name[:parent], int64(n), 10)
			var err error
			if i, err = f.value(i, depth+1, ""); err != nil {
				return 0, err
			}
			switch i = skipJSONSpace(s, i); {
			case i < len(s) && s[i] == ']':
				return i + 1, nil
			case i >= len(s) || s[i] != ',':
				return 0, ErrNestedJSON
			}
			i = skipJSONSpace(s, i+1)
		}
	case '"':
		v, i, _, ok = readJSONString(s, i)
	case 't', 'f':
		v = "false"
		if c == 't' {
			v = "true"
		}
		ok = strings.HasPrefix(s[i:], v)
		i += len(v)
	case 'n':
		if !strings.HasPrefix(s[i:], "null") {
			return 0, ErrNestedJSON
		}
		return i + 4, nil
	default:
		j, number := skipJSONNumber(s, i)
		if !number {
			return 0, ErrNestedJSON
		}
		v, i = s[i:j], j
	}
	if !ok {
		return 0, ErrNestedJSON
	}
	if leaf == "" {
		leaf = string(f.name)
	}
	if _, dup := f.out[leaf]; dup {
		return 0, ErrNestedJSON
	}
	f.out[leaf] = v
	return i, nil
}

// ReadObject reads doc, one JSON object with only white space after it,
// as encoding/json's Decoder reads it member by member (Token for the
// name, then Decode into a json.RawMessage), without a value or an error
// made for each: member gets each member's name (its escapes read) and
// its value's text as written, a slice of doc, in document order, and
// stops the reading by returning false. ReadObject reports whether doc was
// read to its end. Names are not checked to be UTF-8, nor values read
// beyond their syntax: the caller checks doc (ValidJSONText) and reads
// what it uses.
func ReadObject(doc []byte, member func(name string, value []byte) bool) bool {
	s := string(doc) // one copy: the names written without escapes are substrings of it
	i := skipJSONSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	if i = skipJSONSpace(s, i+1); i < len(s) && s[i] == '}' {
		return skipJSONSpace(s, i+1) == len(s)
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return false
		}
		name, j, _, ok := readJSONString(s, i)
		if !ok {
			return false
		}
		if i = skipJSONSpace(s, j); i >= len(s) || s[i] != ':' {
			return false
		}
		start := skipJSONSpace(s, i+1)
		end, ok := skipJSONValue(s, start)
		if !ok || !member(name, doc[start:end]) {
			return false
		}
		switch i = skipJSONSpace(s, end); {
		case i < len(s) && s[i] == '}':
			return skipJSONSpace(s, i+1) == len(s)
		case i >= len(s) || s[i] != ',':
			return false
		}
		i = skipJSONSpace(s, i+1)
	}
}
