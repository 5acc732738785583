package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
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
// maxDepth levels and maxMembers leaves; a repeated member is refused
// (two values for one name would make the event ambiguous). A document
// that is not ValidJSONText is refused.
func FlattenJSON(doc []byte, maxDepth, maxMembers int) (map[string]string, error) {
	if !ValidJSONText(doc) {
		return nil, ErrNestedJSON
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	out := make(map[string]string, 16)
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, ErrNestedJSON
	}
	if err := flattenObject(dec, "", 1, maxDepth, maxMembers, out); err != nil {
		return nil, err
	}
	// Only the end of the input may follow the object: io.EOF, not any
	// error (a Token error is exactly what trailing garbage gives).
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrNestedJSON
	}
	return out, nil
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

// flattenObject reads the members after an opening brace up to its closing one.
// A member name given twice in one object is refused whatever its values
// (null, {} and [] leave no leaf, and two objects would merge their leaves):
// the leaves alone cannot tell it.
func flattenObject(dec *json.Decoder, prefix string, depth, maxDepth, maxMembers int, out map[string]string) error {
	var few [8]string // the usual object; a larger one is checked with a map
	var names []string
	var many map[string]struct{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ErrNestedJSON
		}
		name, _ := tok.(string)
		if many != nil {
			if _, dup := many[name]; dup {
				return ErrNestedJSON
			}
			many[name] = struct{}{}
		} else {
			if slices.Contains(names, name) {
				return ErrNestedJSON
			}
			if names == nil {
				names = few[:0]
			}
			if names = append(names, name); len(names) == len(few) {
				many = make(map[string]struct{}, 2*len(few))
				for _, n := range names {
					many[n] = struct{}{}
				}
			}
		}
		if err := flattenValue(dec, prefix+name, depth, maxDepth, maxMembers, out); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return ErrNestedJSON
	}
	return nil
}

func flattenValue(dec *json.Decoder, name string, depth, maxDepth, maxMembers int, out map[string]string) error {
	tok, err := dec.Token()
	if err != nil {
		return ErrNestedJSON
	}
	var v string
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return ErrNestedJSON
		}
		if t == '{' {
			return flattenObject(dec, name+".", depth+1, maxDepth, maxMembers, out)
		}
		for i := 0; dec.More(); i++ {
			if err := flattenValue(dec, name+"."+strconv.Itoa(i), depth+1, maxDepth, maxMembers, out); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return ErrNestedJSON
		}
		return nil
	case string:
		v = t
	case json.Number:
		v = t.String()
	case bool:
		v = strconv.FormatBool(t)
	case nil:
		return nil
	}
	if _, dup := out[name]; dup || len(out) >= maxMembers {
		return ErrNestedJSON
	}
	out[name] = v
	return nil
}
