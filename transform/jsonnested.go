package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// ErrNestedJSON is a document FlattenJSON refuses: not one JSON object, too
// deep, too many members, or a member given twice.
var ErrNestedJSON = errors.New("transform: not a flat-enough JSON object")

// FlattenJSON reads one JSON object into strings, a nested member's name
// joined to its parent's with a dot (amount.total) and an array element's
// with its index (promotion_detail.0.amount), as events carry a provider's
// nested payload. Numbers keep their literal text, true and false are
// spelled so, null members are left out. The work is bounded: at most
// maxDepth levels and maxMembers leaves; a repeated member is refused
// (two values for one name would make the event ambiguous).
func FlattenJSON(doc []byte, maxDepth, maxMembers int) (map[string]string, error) {
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
	if _, err := dec.Token(); err == nil {
		return nil, ErrNestedJSON // data after the object
	}
	return out, nil
}

// flattenObject reads the members after an opening brace up to its closing one.
func flattenObject(dec *json.Decoder, prefix string, depth, maxDepth, maxMembers int, out map[string]string) error {
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ErrNestedJSON
		}
		name, _ := tok.(string)
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
