package transform

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONField binds a member of a flat JSON object to a string field.
type JSONField struct {
	Name  string  // the member's exact name
	Value *string // receives the member's value
}

// flatJSON is implemented by the merchant request types, whose members are
// all strings: they are read by decodeFlatJSON, which is stricter than
// encoding/json (member names match exactly, not case-insensitively; a member
// given twice is refused) and several times faster on the payment hot path.
type flatJSON interface {
	jsonFields() jsonFieldList
}

// jsonFieldList is a request type's members, returned by value so that the
// list lives on the decoder's stack: the hot path allocates no slice for it.
type jsonFieldList struct {
	fields [12]JSONField
	n      int
}

var (
	errBodyEmpty     = &Error{Status: 400, Code: CodeInvalidRequest, Message: "the body is empty"}
	errBodyNotJSON   = &Error{Status: 400, Code: CodeInvalidRequest, Message: "the body is not valid JSON"}
	errBodyNotObj    = &Error{Status: 400, Code: CodeInvalidRequest, Message: "the body must be a JSON object"}
	errBodyTrailing  = &Error{Status: 400, Code: CodeInvalidRequest, Message: "the body holds data after the JSON object"}
	errBodyEmptyName = &Error{Status: 400, Code: CodeInvalidRequest, Message: `a member named "" is not a known field`}
	// RFC 8259 §8.1: a JSON text is sent without one (an editor saving
	// "UTF-8 with BOM" adds it to a file that curl -d @file sends).
	errBodyBOM = &Error{Status: 400, Code: CodeInvalidRequest, Message: "the body begins with a byte order mark (U+FEFF): send JSON without one"}
)

// DecodeFlatJSON reads body, a JSON object of string members, into fields
// as the merchant API reads its requests (DecodeJSON): /sandbox/complete's
// body is read so, with the same refusals and messages.
func DecodeFlatJSON(body []byte, fields ...JSONField) error {
	return decodeFlatJSON(body, fields)
}

// decodeFlatJSON reads {"name":"value",...} into fields, which start empty.
// null leaves a field empty; any other non-string value, an unknown or
// repeated member, a value that is not UTF-8, and one with control
// characters or the noncharacters U+FFFE and U+FFFF (no provider's XML can
// carry them) are a 400 naming the member.
func decodeFlatJSON(body []byte, fields []JSONField) error {
	_, err := readFlatJSON(body, fields, false)
	return err
}

// readFlatJSON is decodeFlatJSON. On a refusal, when naming and fields bind
// "order_id", it also returns the order the body names for the log line
// (namedOrder): the scan goes on from where it stopped, so that a refused
// body is still read once.
func readFlatJSON(body []byte, fields []JSONField, naming bool) (named string, err error) {
	s := string(body) // one copy; unescaped values are substrings of it
	i := skipJSONSpace(s, 0)
	if i == len(s) {
		return "", errBodyEmpty
	}
	if s[i] != '{' {
		if strings.HasPrefix(s[i:], "\ufeff") {
			return "", errBodyBOM
		}
		return "", errBodyNotObj
	}
	i = skipJSONSpace(s, i+1)
	var seen uint64
	// r says where a refusal leaves the scan, for the named order.
	r := refusal{fields: fields, naming: naming}
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		for {
			if i >= len(s) || s[i] != '"' {
				return "", errBodyNotJSON
			}
			name, j, plain, ok := readJSONString(s, i)
			if !ok {
				return "", errBodyNotJSON
			}
			if !plain && !utf8.ValidString(name) {
				return r.at(s, errBodyNotJSON, j, atColon, seen)
			}
			i = skipJSONSpace(s, j)
			if i >= len(s) || s[i] != ':' {
				return "", errBodyNotJSON
			}
			i = skipJSONSpace(s, i+1)
			k := -1
			for n := range fields {
				if fields[n].Name == name {
					k = n
					break
				}
			}
			if k < 0 {
				if name == "" { // Invalid would write " is not a known field" and no field
					return r.at(s, errBodyEmptyName, i, atValue, seen)
				}
				return r.at(s, unknownMember(name), i, atValue, seen)
			}
			if seen&(1<<k) != 0 {
				return r.at(s, Invalid(name, "is given twice"), i, r.after(k, atValue), seen)
			}
			seen |= 1 << k
			switch {
			case i < len(s) && s[i] == '"':
				v, j, plain, ok := readJSONString(s, i)
				if !ok {
					return "", errBodyNotJSON
				}
				if !plain && !utf8.ValidString(v) {
					return r.at(s, Invalid(name, "is not valid UTF-8"), j, r.after(k, atAfter), seen)
				}
				if !plain && !printable(v) {
					return r.at(s, Invalid(name, "contains a control character or a noncharacter (U+FFFE, U+FFFF)"), j, r.after(k, atAfter), seen)
				}
				*fields[k].Value = v
				i = j
			case len(s)-i >= 4 && s[i:i+4] == "null":
				i += 4
			case i < len(s) && strings.IndexByte("-0123456789tf{[", s[i]) >= 0:
				return r.at(s, Invalid(name, "must be a string"), i, r.after(k, atValue), seen)
			default:
				return "", errBodyNotJSON
			}
			i = skipJSONSpace(s, i)
			if i >= len(s) {
				return r.at(s, errBodyNotJSON, i, atAfter, seen)
			}
			if s[i] == '}' {
				i++
				break
			}
			if s[i] != ',' {
				return r.at(s, errBodyNotJSON, i, atAfter, seen)
			}
			i = skipJSONSpace(s, i+1)
		}
	}
	if skipJSONSpace(s, i) != len(s) {
		return r.at(s, errBodyTrailing, i, atEnd, seen)
	}
	return "", nil
}

// refusal names, for the log line, the order of a body readFlatJSON
// refuses: the merchant API logs it whatever else is wrong (README
// "Observability"), as encoding/json's Decoder reads the object member by
// member (Token, then Decode of each value), so that the body is read once.
type refusal struct {
	fields []JSONField
	naming bool // false: no order is looked for
}

// jsonStep is where namedOrder takes up the scan of a refused object.
type jsonStep int

const (
	atNothing jsonStep = iota // no order is named: the member at fault is order_id
	atColon                   // after a member's name
	atValue                   // at a member's value
	atAfter                   // after a member's value
	atEnd                     // after the object
)

// after is step, or atNothing when the member at fault is order_id: a
// second one, or one whose value is not a string or not an order id,
// names no order.
func (r *refusal) after(k int, step jsonStep) jsonStep {
	if r.fields[k].Name == orderIDField {
		return atNothing
	}
	return step
}

// at returns err and, when naming, the order namedOrder finds taking up the
// scan at s[i], step; seen tells the members read before, as readFlatJSON's
// bits.
func (r *refusal) at(s string, err error, i int, step jsonStep, seen uint64) (string, error) {
	if !r.naming {
		return "", err
	}
	for k, f := range r.fields {
		if f.Name == orderIDField {
			var id string
			ordered := seen&(1<<k) != 0
			if ordered {
				id = *f.Value
			}
			return namedOrder(s, i, step, ordered, id), err
		}
	}
	return "", err
}

// orderIDField is the member naming the merchant's order.
const orderIDField = "order_id"

// namedOrder is the order a refused body names: the value of its
// "order_id" member, that exact name (escapes read) once, with a string
// value, in an object read as encoding/json's Decoder reads it member by
// member to its end (every value JSON, nested at most maxJSONDepth deep;
// the object ends at '}', at ']' or where the body ends after a member,
// and nothing after it is read); "" when there is none. The scan takes up
// at s[i], step; ordered tells whether order_id came before, with value id.
// The caller holds the value to the order id rule.
func namedOrder(s string, i int, step jsonStep, ordered bool, id string) string {
	isOrder := false // the member at hand is order_id; never the one at fault
	for {
		switch step {
		case atColon:
			i = skipJSONSpace(s, i)
			if i >= len(s) || s[i] != ':' {
				return ""
			}
			i, step = i+1, atValue
		case atValue:
			j, ok := skipJSONValue(s, i)
			if !ok {
				return ""
			}
			if isOrder {
				i = skipJSONSpace(s, i)
				if ordered || s[i] != '"' {
					return "" // twice, or not a string (null included: no order id)
				}
				ordered, id = true, jsonStringValue(s[i:j])
			}
			i, step = j, atAfter
		case atAfter:
			i = skipJSONSpace(s, i)
			if i >= len(s) || s[i] == '}' || s[i] == ']' {
				step = atEnd
				continue
			}
			if s[i] != ',' {
				return ""
			}
			i = skipJSONSpace(s, i+1)
			j, ok := skipJSONString(s, i)
			if !ok {
				return ""
			}
			isOrder, i, step = jsonStringValue(s[i:j]) == orderIDField, j, atColon
		case atEnd:
			if !ordered {
				return ""
			}
			return id
		default:
			return ""
		}
	}
}

// jsonStringValue is the value of q, one JSON string that skipJSONString
// read; escapes are read (readJSONString) only when q holds one, a copy of
// q's own length.
func jsonStringValue(q string) string {
	if strings.IndexByte(q, '\\') < 0 {
		return q[1 : len(q)-1]
	}
	v, _, _, _ := readJSONString(q, 0)
	return v
}

// maxJSONDepth is encoding/json's bound on a value's nesting
// (maxNestingDepth): deeper is a syntax error there.
const maxJSONDepth = 10000

// skipJSONValue returns the index after the JSON value at s[i] (after any
// white space), as encoding/json's scanner reads it; false when there is
// none. It allocates nothing: a body of many values costs no more than its
// length.
func skipJSONValue(s string, i int) (int, bool) {
	var objects [maxJSONDepth/64 + 1]uint64 // bit d: the value open at depth d is an object
	depth := 0
	var ok bool
value:
	for {
		i = skipJSONSpace(s, i)
		if i >= len(s) {
			return 0, false
		}
		switch c := s[i]; {
		case c == '{' || c == '[':
			if depth == maxJSONDepth {
				return 0, false
			}
			if c == '{' {
				objects[depth/64] |= 1 << (depth % 64)
			} else {
				objects[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			i = skipJSONSpace(s, i+1)
			if i < len(s) && s[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				i, ok = i+1, true
				depth--
				break
			}
			if c == '{' {
				if i, ok = skipJSONKey(s, i); !ok {
					return 0, false
				}
			}
			continue value
		case c == '"':
			i, ok = skipJSONString(s, i)
		case c == 't':
			i, ok = i+4, strings.HasPrefix(s[i:], "true")
		case c == 'f':
			i, ok = i+5, strings.HasPrefix(s[i:], "false")
		case c == 'n':
			i, ok = i+4, strings.HasPrefix(s[i:], "null")
		default:
			i, ok = skipJSONNumber(s, i)
		}
		if !ok {
			return 0, false
		}
		// After a value: close what it ends, or go on to the next one.
		for depth > 0 {
			i = skipJSONSpace(s, i)
			if i >= len(s) {
				return 0, false
			}
			object := objects[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			switch {
			case s[i] == ',' && object:
				if i, ok = skipJSONKey(s, skipJSONSpace(s, i+1)); !ok {
					return 0, false
				}
				continue value
			case s[i] == ',':
				i++
				continue value
			case object && s[i] == '}', !object && s[i] == ']':
				i++
				depth--
			default:
				return 0, false
			}
		}
		return i, true
	}
}

// skipJSONKey returns the index after an object's member name at s[i] and
// its colon.
func skipJSONKey(s string, i int) (int, bool) {
	i, ok := skipJSONString(s, i)
	if !ok {
		return 0, false
	}
	i = skipJSONSpace(s, i)
	if i >= len(s) || s[i] != ':' {
		return 0, false
	}
	return i + 1, true
}

// skipJSONString returns the index after the JSON string at s[i], its
// escapes checked but not read: raw control characters are refused, any
// other byte is taken, as encoding/json's scanner does.
func skipJSONString(s string, i int) (int, bool) {
	if i >= len(s) || s[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			if j+1 >= len(s) {
				return 0, false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if _, ok := hex4(s, j+2); !ok {
					return 0, false
				}
				j += 5
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

// skipJSONNumber returns the index after the JSON number at s[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipJSONNumber(s string, i int) (int, bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		if i++; i >= len(s) || s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		i = skipDigits(s, i)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		if i++; i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		i = skipDigits(s, i)
	}
	return i, true
}

func skipDigits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

func skipJSONSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// readJSONString reads the string starting at s[i] == '"' and returns its
// value and the index after the closing quote. Raw control characters are
// refused, as RFC 8259 requires; the caller checks that the value is UTF-8,
// so that the error can name the member. plain tells that the value was
// written without escapes and is all printable ASCII (0x20 to 0x7e), which
// needs neither check: the usual merchant request is, and skips two passes.
func readJSONString(s string, i int) (v string, next int, plain, ok bool) {
	start := i + 1
	plain = true
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[start:j], j + 1, plain, true
		case c == '\\':
			v, next, ok = readEscapedJSONString(s, start, j)
			return v, next, false, ok
		case c < 0x20:
			return "", 0, false, false
		case c >= 0x7f:
			plain = false
		}
	}
	return "", 0, false, false
}

func readEscapedJSONString(s string, start, j int) (string, int, bool) {
	// Room for the string's own text, which its value never outgrows (an
	// escape is longer than what it stands for), not for the rest of s:
	// UnmarshalExact reads every member name of a document so.
	end := j
	for end < len(s) && s[end] != '"' {
		if s[end] == '\\' {
			end++
		}
		end++
	}
	b := make([]byte, 0, min(end, len(s))-start)
	b = append(b, s[start:j]...)
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			return string(b), j + 1, true
		case c < 0x20:
			return "", 0, false
		case c != '\\':
			b = append(b, c)
			j++
			continue
		}
		if j+1 >= len(s) {
			return "", 0, false
		}
		switch e := s[j+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(s, j+2)
			if !ok {
				return "", 0, false
			}
			j += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if j+6 <= len(s) && s[j] == '\\' && s[j+1] == 'u' {
					r2, ok = hex4(s, j+2)
				}
				dec := utf16.DecodeRune(r, r2)
				if !ok || dec == utf8.RuneError {
					// Half a pair stands for no character: kept as its
					// three bytes, which are not UTF-8, so the value is
					// refused naming its member where encoding/json would
					// read U+FFFD, text the merchant never wrote (Python's
					// json.dumps writes a byte that is not UTF-8 so).
					b = append(b, 0xed, byte(0x80|r>>6&0x3f), byte(0x80|r&0x3f))
					continue
				}
				r = dec
				j += 6
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", 0, false
		}
		j += 2
	}
	return "", 0, false
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 32)
	return rune(n), err == nil
}

// printable refuses C0 control characters other than tab and newline, DEL,
// the C1 controls U+0080 to U+009F (UTF-8 C2 80 to C2 9F; control
// characters too, as unicode.IsControl says), and U+FFFE and U+FFFF (UTF-8
// EF BF BE, EF BF BF), which XML 1.0 (§2.2) excludes: WeChat v2's and
// 2C2P's documents could not carry them. v is UTF-8.
func printable(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20 && c != '\t' && c != '\n' || c == 0x7f:
			return false
		case c == 0xc2 && i+1 < len(v) && v[i+1] <= 0x9f:
			return false
		case c == 0xef && i+2 < len(v) && v[i+1] == 0xbf && v[i+2] >= 0xbe:
			return false
		}
	}
	return true
}

// shorten is what an error echoes of a name the caller sent: its first 64
// bytes at most, cut at a character boundary (Clip), and "…" when cut.
// unknownMember is the 400 naming a member that is no field of the
// request, its name cut by shorten.
func unknownMember(name string) *Error {
	e := Invalid(shorten(name), "is not a known field")
	e.echo, e.unechoed = name, "a member whose name holds a configured secret is not a known field"
	return e
}

func shorten(name string) string {
	if len(name) > 64 {
		return Clip(name, 64) + "…"
	}
	return name
}

func (p *PayRequest) jsonFields() jsonFieldList {
	return jsonFieldList{n: 11, fields: [12]JSONField{
		{"order_id", &p.OrderID}, {"amount", &p.Amount}, {"currency", &p.Currency},
		{"description", &p.Description}, {"openid", &p.OpenID}, {"client_ip", &p.ClientIP},
		{"notify_url", &p.NotifyURL}, {"expire_at", &p.ExpireAt}, {"attach", &p.Attach},
		{"payer_name", &p.PayerName}, {"country", &p.Country},
	}}
}

func (o *OrderRequest) jsonFields() jsonFieldList {
	return jsonFieldList{n: 1, fields: [12]JSONField{{"order_id", &o.OrderID}}}
}

func (r *RefundRequest) jsonFields() jsonFieldList {
	return jsonFieldList{n: 7, fields: [12]JSONField{
		{"order_id", &r.OrderID}, {"refund_id", &r.RefundID}, {"amount", &r.Amount},
		{"currency", &r.Currency}, {"total_amount", &r.TotalAmount},
		{"provider_order_id", &r.ProviderOrderID}, {"reason", &r.Reason},
	}}
}

func (r *RefundQueryRequest) jsonFields() jsonFieldList {
	return jsonFieldList{n: 2, fields: [12]JSONField{{"refund_id", &r.RefundID}, {"order_id", &r.OrderID}}}
}

func (l *LoginRequest) jsonFields() jsonFieldList {
	return jsonFieldList{n: 1, fields: [12]JSONField{{"code", &l.Code}}}
}
