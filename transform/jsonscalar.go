package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// JSONScalar is the text of a JSON string, or of a JSON number exactly as
// written (120.00 stays "120.00", which a signature over the text needs);
// absent and null are "". Objects, arrays and booleans are not scalars
// (false). raw is one valid JSON value, as a decoder hands it over.
func JSONScalar(raw []byte) (string, bool) {
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", true
	case raw[0] == '"':
		if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) { // nothing to unescape or replace
			return string(raw[1 : len(raw)-1]), true
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		return string(raw), true
	}
	return "", false
}

// JSONText is a struct member read with JSONScalar: providers write some
// fields (timeStamp, ids, amounts) as strings or as numbers.
type JSONText string

// UnmarshalJSON implements json.Unmarshaler.
func (t *JSONText) UnmarshalJSON(b []byte) error {
	s, ok := JSONScalar(b)
	if !ok {
		return errNotScalar
	}
	*t = JSONText(s)
	return nil
}

var errNotScalar = errors.New("transform: not a JSON string or number")
