package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
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

// AnswerCode reads an answer's code with JSONScalar, where a number equal
// to zero however written (0.0, -0, 0e0: a serializer's float) is "0", the
// success of CBTIS and Latipay (README CBTIS, Latipay): the code is its
// value, not its spelling. A string keeps its text ("0.0" is not "0").
func AnswerCode(raw []byte) (string, bool) {
	s, ok := JSONScalar(raw)
	if ok && s != "" && raw[0] != '"' && zeroNumber(s) {
		return "0", true
	}
	return s, ok
}

// zeroNumber reports whether a JSON number's digits are all zeros (its
// exponent cannot make it anything else; 1e-400 is not zero).
func zeroNumber(n string) bool {
	mantissa, _, _ := strings.Cut(strings.TrimPrefix(strings.ToLower(n), "-"), "e")
	return strings.Trim(mantissa, "0.") == ""
}

// JSONCode is a struct member read with AnswerCode.
type JSONCode string

// UnmarshalJSON implements json.Unmarshaler.
func (c *JSONCode) UnmarshalJSON(b []byte) error {
	s, ok := AnswerCode(b)
	if !ok {
		return errNotScalar
	}
	*c = JSONCode(s)
	return nil
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
