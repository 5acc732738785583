package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// flattenByUnmarshal is FlattenJSON's contract computed from encoding/json's
// own reading, independent of both the scan and the Token reading it
// replaced: the document decoded whole (json.Unmarshal's rules, UseNumber,
// so a number is its literal text), a member given twice in one object
// found by a Decoder walk, and the bounds counted on the decoded tree: at
// most maxMembers values below the root (containers and nulls counted),
// containers at most maxDepth levels deep (the root object the first), no
// value's dotted name longer than MaxFlatName, no two leaves of one name.
func flattenByUnmarshal(doc []byte, maxDepth, maxMembers int) (map[string]string, error) {
	if !ValidJSONText(doc) || !json.Valid(doc) || repeatsName(doc) {
		return nil, ErrNestedJSON
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, ErrNestedJSON
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, ErrNestedJSON
	}
	out := map[string]string{}
	values := 0
	var walk func(name string, v any, depth int) bool
	walk = func(name string, v any, depth int) bool {
		if values++; values > maxMembers || len(name) > MaxFlatName {
			return false
		}
		var leaf string
		switch t := v.(type) {
		case map[string]any:
			if depth >= maxDepth {
				return false
			}
			for k, c := range t {
				if !walk(name+"."+k, c, depth+1) {
					return false
				}
			}
			return true
		case []any:
			if depth >= maxDepth {
				return false
			}
			for i, c := range t {
				if !walk(name+"."+strconv.Itoa(i), c, depth+1) {
					return false
				}
			}
			return true
		case nil:
			return true
		case string:
			leaf = t
		case json.Number:
			leaf = t.String()
		case bool:
			leaf = strconv.FormatBool(t)
		default:
			panic(fmt.Sprintf("%T", v))
		}
		if _, dup := out[name]; dup {
			return false
		}
		out[name] = leaf
		return true
	}
	for k, c := range root {
		if !walk(k, c, 1) {
			return nil, ErrNestedJSON
		}
	}
	return out, nil
}

// repeatsName tells whether an object of doc (valid JSON) names a member
// twice, names compared as encoding/json's Decoder reads them.
func repeatsName(doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var value func() bool
	value = func() bool {
		tok, err := dec.Token()
		if err != nil {
			panic(err)
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				name, _ := dec.Token()
				if seen[name.(string)] || value() {
					return true
				}
				seen[name.(string)] = true
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if value() {
					return true
				}
			}
			_, _ = dec.Token()
		}
		return false
	}
	return value()
}

// flattenReferenceSeeds are FlattenJSON's hard cases: numbers as written,
// nested arrays, names given twice (as written and through an escape),
// dotted names meeting a nested one, depth and member counts at their
// bounds, white space, escapes in names.
var flattenReferenceSeeds = []string{
	`{"a":-0,"b":1E+400,"c":1.50e-07,"d":123456789012345678901234567890,"e":-1.0E-0,"f":0.000}`,
	`{"a":[[1,2],[3,[4,[]]],[{}],[[null]]]}`, `{"a":[[[[[[[1]]]]]]]}`, `{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}`,
	`{"a":1,"\u0061":2}`, `{"a":{"x":1,"y":2,"x":3}}`, `{"a\u002eb":1,"a":{"b":2}}`, `{"a":[null,{"0":1}],"a.1.0":2}`,
	`{"a":{"b":null},"a.b":1}`, `{"a":{"b":{}},"a.b":1}`, `{"a.0":1,"a":["x"]}`, `{"a":{"":{"":1}},"a..":2}`,
	`{"":{"":[]}}`, `{"":""}`, "\r\n\t {\r\n\t \"a\"\r\n\t :\r\n\t [\r\n\t 1\r\n\t ,\r\n\t {\"b\" : true } ] \r\n\t }\r\n\t ",
	`{"a\"b":{"\\":1},"\/":"\/","\u00e9\ud83d\ude00":"\u2028\u2029","\b\f\n\r\t":"\u0000"}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"a":10}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":{"k":[1,2,3,4,5,6]}}`,
	`{"` + strings.Repeat("n", MaxFlatName) + `":1}`, `{"` + strings.Repeat("n", MaxFlatName) + `":{}}`,
	`{"` + strings.Repeat("n", MaxFlatName-1) + `":[1]}`, `{"` + strings.Repeat("n", MaxFlatName-2) + `":[1]}`,
	`{"` + strings.Repeat("n", MaxFlatName+1) + `":null}`, `{"a":"` + strings.Repeat("\\u00e9", 300) + `"}`,
	`{"a":true,"b":false,"c":null,"d":"true"}`, `{"a":1}x`, `{"a":1}{}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `[{"a":1}]`,
}

// FuzzFlattenJSONAsUnmarshal: FlattenJSON gives exactly the leaves and the
// verdict flattenByUnmarshal computes from encoding/json's reading, at every
// bound.
func FuzzFlattenJSONAsUnmarshal(f *testing.F) {
	for _, s := range flattenReferenceSeeds {
		for _, b := range [][2]uint8{{0, 0}, {1, 5}, {2, 9}, {3, 16}, {7, 255}} {
			f.Add([]byte(s), b[0], b[1])
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte, depth, members uint8) {
		maxDepth, maxMembers := int(depth%8)+1, int(members)
		got, err := FlattenJSON(doc, maxDepth, maxMembers)
		want, wantErr := flattenByUnmarshal(doc, maxDepth, maxMembers)
		if err != wantErr || !maps.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("%q at depth %d, %d members:\n got %q %v\nwant %q %v", doc, maxDepth, maxMembers, got, err, want, wantErr)
		}
	})
}

// TestFlattenJSONAsUnmarshalAtDepth: the seeds hold at the depths and
// member counts a provider uses and at a deep bound.
func TestFlattenJSONAsUnmarshalAtDepth(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 99) + `[1,"x",{"b":null}]` + strings.Repeat(`}`, 99)
	for _, s := range append(flattenReferenceSeeds, deep) {
		for _, b := range [][2]int{{4, 64}, {8, 256}, {100, 1000}, {101, 1000}, {100, 102}, {100, 101}} {
			got, err := FlattenJSON([]byte(s), b[0], b[1])
			want, wantErr := flattenByUnmarshal([]byte(s), b[0], b[1])
			if err != wantErr || !maps.Equal(got, want) {
				t.Errorf("%.80q at depth %d, %d members:\n got %q %v\nwant %q %v", s, b[0], b[1], got, err, want, wantErr)
			}
		}
	}
}

// eventReadBack is an event as encoding/json reads the JSON AppendJSON
// wrote: every member, and whether refund_id and data were there.
type eventReadBack struct {
	ID              string             `json:"id"`
	Provider        string             `json:"provider"`
	Type            string             `json:"type"`
	OrderID         string             `json:"order_id"`
	ProviderOrderID string             `json:"provider_order_id"`
	RefundID        *string            `json:"refund_id"`
	Amount          string             `json:"amount"`
	Currency        string             `json:"currency"`
	OccurredAt      string             `json:"occurred_at"`
	Data            *map[string]string `json:"data"`
}

// TestEventAppendJSONAsEncoder: for every combination of Event's fields
// present or absent (data nil, empty, or of many members, one named ""), for refund
// and other events, and for the strings that need escaping (every control
// character, DEL, U+2028, U+2029, <>&, quotes and backslashes, invalid
// UTF-8 of every kind, a string of 28 KB), AppendJSON is byte-equal to
// encoding/json's encoding (HTML escaping off), and text that is UTF-8 reads
// back through encoding/json to exactly the event's values.
func TestEventAppendJSONAsEncoder(t *testing.T) {
	var controls strings.Builder
	for c := range 0x20 {
		controls.WriteByte(byte(c))
	}
	controls.WriteString("\x7f\"\\/<>&\u2028\u2029\u0085\ufeff\U0001f600")
	texts := []string{
		"", "plain", controls.String(), "<script>&amp;</script>", "中文 支付成功", strings.Repeat("é\u2028\\\"", 1<<12),
		"\xff", "a\xc3", "\xc3\x28", "\xe2\x80", "\xe2\x80\xa8\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xf8\x88\x80\x80\x80",
	}
	many := map[string]string{"": ""}
	for i := range 40 {
		many[fmt.Sprintf("m%02d\u2028%c", 39-i, 'a'+i%26)] = strings.Repeat("v", i)
	}
	for _, typ := range []string{EventPaymentSucceeded, EventRefundFailed} {
		for mask := range 1 << 5 {
			for _, data := range []map[string]string{nil, {}, many} {
				for ti, text := range texts {
					if ti > 2 && mask != 0 && mask != 1<<5-1 { // past the first three texts: all fields or only the required
						continue
					}
					opt := func(bit int) string {
						if mask&(1<<bit) == 0 {
							return ""
						}
						return text
					}
					e := Event{ID: "p:" + text + ":" + typ, Provider: text, Type: typ, OrderID: text, ProviderOrderID: opt(0),
						RefundID: opt(1), Amount: opt(2), Currency: opt(3), OccurredAt: opt(4), Data: data}
					if ti > 0 && data != nil {
						e.Data = maps.Clone(data)
						e.Data[text] = text
						e.Data["k"+text] = "v" + text
					}
					got := e.AppendJSON([]byte("prefix"))
					if !bytes.HasPrefix(got, []byte("prefix")) {
						t.Fatalf("AppendJSON lost dst's bytes: %.40q", got)
					}
					got = got[len("prefix"):]
					if want := marshalEventByEncoder(t, e); string(got) != want {
						t.Fatalf("type %s, fields %05b, text %d:\n got %.300q\nwant %.300q", typ, mask, ti, got, want)
					}
					if !json.Valid(got) || !utf8.Valid(got) {
						t.Fatalf("not valid JSON: %.300q", got)
					}
					if ti < 6 {
						eventReadsBack(t, got, &e)
					}
				}
			}
		}
	}
}

// eventReadsBack: doc, e's JSON, reads back through encoding/json to
// exactly e's values (e's text is UTF-8).
func eventReadsBack(t *testing.T, doc []byte, e *Event) {
	t.Helper()
	var back eventReadBack
	if err := json.Unmarshal(doc, &back); err != nil {
		t.Fatalf("%v: %.300q", err, doc)
	}
	refund := e.RefundID != "" || e.Type == EventRefundSucceeded || e.Type == EventRefundFailed
	if back.ID != e.ID || back.Provider != e.Provider || back.Type != e.Type || back.OrderID != e.OrderID ||
		back.ProviderOrderID != e.ProviderOrderID || back.Amount != e.Amount || back.Currency != e.Currency ||
		back.OccurredAt != e.OccurredAt || (back.RefundID != nil) != refund || refund && *back.RefundID != e.RefundID ||
		(back.Data == nil) != (e.Data == nil) || e.Data != nil && !maps.Equal(*back.Data, e.Data) {
		t.Fatalf("%.300q reads back as %+v", doc, back)
	}
}
