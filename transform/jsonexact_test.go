package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
)

// TestUnmarshalExact: names read exactly (a case variant, Unicode folding
// included, is an unknown member, as Python's json.loads and JSON.parse read
// it), a name given twice refused at any depth, everything else
// json.Unmarshal's.
func TestUnmarshalExact(t *testing.T) {
	type inner struct {
		Total *int64 `json:"total"`
	}
	type answer struct {
		PrepayID string   `json:"prepay_id"`
		Code     JSONCode `json:"code"`
		Amount   *inner   `json:"amount"`
		List     []inner  `json:"list"`
		Key      string   `json:"key"`
		Untagged string
	}
	tests := []struct {
		doc  string
		want string // prepay_id, or "refused"
	}{
		{`{"prepay_id":"a"}`, "a"},
		{`{"Prepay_Id":"x"}`, ""},
		{`{"PREPAY_ID":"x"}`, ""},
		{`{"prepay_id":"a","PREPAY_ID":"b"}`, "a"}, // encoding/json: b
		{`{"PREPAY_ID":"b","prepay_id":"a"}`, "a"},
		{`{"pre\u0070ay_id":"a"}`, "a"}, // an escape is the same name
		{`{"pre\u0050ay_id":"x"}`, ""},  // ... and a variant too
		{`{ "prepay_id" : "a" , "Prepay_id" : "b" }`, "a"},
		{`{"prepay_id":"a","prepay_id":"b"}`, "refused"},
		{`{"prepay_id":"a","amount":{"total":1,"total":2}}`, "refused"},
		{`{"list":[{"total":1},{"total":1,"total":2}]}`, "refused"},
		{`{"x":{"a":1},"y":{"a":1}}`, ""}, // one name in two objects is no repeat
	}
	for _, tt := range tests {
		var a answer
		err := UnmarshalExact([]byte(tt.doc), &a)
		if tt.want == "refused" {
			if !errors.Is(err, ErrDuplicateMember) || !errors.Is(err, ErrNestedJSON) {
				t.Errorf("%s: %v, want ErrDuplicateMember", tt.doc, err)
			}
			continue
		}
		if err != nil || a.PrepayID != tt.want {
			t.Errorf("%s: %q %v, want %q", tt.doc, a.PrepayID, err, tt.want)
		}
	}

	// Nested names and numbers: the variant is skipped, the rest read.
	var a answer
	if err := UnmarshalExact([]byte(`{"amount":{"TOTAL":5},"list":[{"total":7},{"Total":9}],"code":0.0,"untagged":"u"}`), &a); err != nil {
		t.Fatal(err)
	}
	if a.Amount == nil || a.Amount.Total != nil || len(a.List) != 2 || *a.List[0].Total != 7 || a.List[1].Total != nil || a.Code != "0" || a.Untagged != "" {
		t.Errorf("read %+v", a)
	}

	// Unicode folding: encoding/json reads the Kelvin sign (U+212A) as k.
	a = answer{}
	if err := UnmarshalExact([]byte("{\"\u212aey\":\"x\",\"prepay_id\":\"a\"}"), &a); err != nil || a.Key != "" || a.PrepayID != "a" {
		t.Errorf("Kelvin-sign key: %+v %v", a, err)
	}

	// Text that is not UTF-8, or a \u escape of half a surrogate pair, in a
	// value as in a name: encoding/json reads U+FFFD, which the provider
	// never sent, and Python's json refuses the bytes (or keeps the half
	// pair): refused, as a notification is (ValidJSONText).
	for _, doc := range []string{
		"{\"prepay_id\":\"a\xffb\"}", "{\"prepay_id\":\"\xc0\xae\"}", "{\"amount\":{\"total\":1},\"x\":[\"\xed\xa0\x80\"]}",
		`{"prepay_id":"a\ud800b"}`, `{"prepay_id":"\udc00"}`, `{"prepay_id":"\ud800\u0041"}`, `{"x":{"y":"\ud83d"}}`,
		"{\"\xff\":1}", `{"\ud800":1}`,
	} {
		var a answer
		if err := UnmarshalExact([]byte(doc), &a); !errors.Is(err, ErrNestedJSON) || errors.Is(err, ErrDuplicateMember) {
			t.Errorf("%q: %+v %v, want ErrNestedJSON", doc, a, err)
		}
	}
	for _, doc := range []string{`{"prepay_id":"\ud83d\ude00\\ud800"}`, "{\"prepay_id\":\"\u00e9\xc3\xa9\"}"} { // a pair; an escaped backslash; UTF-8
		if err := UnmarshalExact([]byte(doc), &answer{}); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}

	// A json.RawMessage holds the member as renamed, and is read again
	// (CBTIS's envelope data): case variants of one name in one object stay
	// two names there, not one given twice.
	var env struct {
		Code JSONCode        `json:"code"`
		Data json.RawMessage `json:"data"`
	}
	if err := UnmarshalExact([]byte(`{"code":0,"data":{"Code":1,"CODE":2,"DATA":{"Data":3,"DaTa":4},"x":5}}`), &env); err != nil {
		t.Fatal(err)
	}
	var data map[string]json.RawMessage
	if err := UnmarshalExact(env.Data, &data); err != nil || len(data) != 4 || string(data["x"]) != "5" {
		t.Errorf("data read again: %v %s", err, env.Data)
	}
	// ... nor one the object holds itself (~~~0 here, written plainly or
	// escaped), which a strict reader takes as it is.
	for _, doc := range []string{`{"code":0,"data":{"Code":1,"~~~0":2}}`, `{"code":0,"data":{"~~~0":2,"CODE":1,"\u007e~~1":3,"~~~2":4}}`} {
		env.Data, data = nil, nil
		if err := UnmarshalExact([]byte(doc), &env); err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		if err := UnmarshalExact(env.Data, &data); err != nil || string(data["~~~0"]) != "2" || len(data) != strings.Count(doc, ":")-2 {
			t.Errorf("%s: data read again: %v %s", doc, err, env.Data)
		}
	}

	// ... nor one its own object holds where the object around it has
	// variants and a name written so too (~~~1 here, where the outer CODE
	// is ~~~0): each object numbers its own variants only.
	env.Data, data = nil, nil
	if err := UnmarshalExact([]byte(`{"~":0,"CODE":5,"data":{"Code":1,"~~~1":2}}`), &env); err != nil {
		t.Error(err)
	} else if err := UnmarshalExact(env.Data, &data); err != nil || len(data) != 2 || string(data["~~~1"]) != "2" {
		t.Errorf("nested in an object with variants: data read again: %v %s", err, env.Data)
	}

	// One-byte variants: ~ for the first, then longer names (~1, ~2).
	var short struct {
		A int             `json:"a"`
		B int             `json:"b"`
		D json.RawMessage `json:"d"`
	}
	if err := UnmarshalExact([]byte(`{"a":5,"d":{"A":1,"B":2,"~":3}}`), &short); err != nil || short.A != 5 || string(short.D) != `{"~1":1,"~2":2,"~":3}` {
		t.Errorf("one-byte variants: %+v %s %v", short, short.D, err)
	}

	// A map reads exact names already; a repeat is refused.
	var m map[string]json.RawMessage
	if err := UnmarshalExact([]byte(`{"code":0,"code":1}`), &m); !errors.Is(err, ErrDuplicateMember) {
		t.Errorf("map with a repeated code: %v", err)
	}

	// json.Unmarshal's errors and verdicts otherwise.
	for _, doc := range []string{``, `{`, `{"prepay_id":1}`, `[]`, `{"a":1} x`, `{"a":1}{}`} {
		var a answer
		got, want := UnmarshalExact([]byte(doc), &a), json.Unmarshal([]byte(doc), &answer{})
		if got == nil || want == nil || got.Error() != want.Error() {
			t.Errorf("%q: %v, json.Unmarshal %v", doc, got, want)
		}
	}
	if err := UnmarshalExact([]byte(`null`), &a); err != nil {
		t.Errorf("null: %v", err)
	}
}

// TestUnmarshalExactFoldsAsEncodingJSON: every name encoding/json takes
// for a field's (each letter swapped for every rune of its Unicode fold
// orbit: K for k, ſ for s, as SimpleFold makes them) is skipped, and a
// name it does not take (the dotless ı, İ: no simple fold of i) is left
// to it alike; nesting is followed as deep as encoding/json reads it.
func TestUnmarshalExactFoldsAsEncodingJSON(t *testing.T) {
	type target struct {
		Key      string `json:"key"`
		Sign     string `json:"sign"`
		PrepayID string `json:"prepay_id"`
	}
	checked := 0
	for _, field := range []string{"key", "sign", "prepay_id"} {
		for i, c := range field {
			for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
				name := field[:i] + string(r) + field[i+1:]
				doc := []byte(`{"` + name + `":"x"}`)
				var lenient, exact target
				if err := json.Unmarshal(doc, &lenient); err != nil || lenient == (target{}) {
					t.Fatalf("%s: encoding/json does not take it (%v)", name, err)
				}
				if err := UnmarshalExact(doc, &exact); err != nil || exact != (target{}) {
					t.Errorf("%s: read %+v %v, want an unknown member", name, exact, err)
				}
				checked++
			}
		}
	}
	if checked != 17 { // one other case per letter, two for k (K, K) and s (S, ſ)
		t.Fatalf("%d variants, want 17", checked)
	}
	for _, name := range []string{"s\u0131gn", "S\u0130GN", "\u0131d"} {
		doc := []byte(`{"` + name + `":"x"}`)
		var lenient, exact target
		errL, errE := json.Unmarshal(doc, &lenient), UnmarshalExact(doc, &exact)
		if errL != nil || errE != nil || lenient != exact {
			t.Errorf("%s: %+v %v, encoding/json %+v %v", name, exact, errE, lenient, errL)
		}
	}
	for _, depth := range []int{9999, 10000, 10001} { // encoding/json's maxNestingDepth is 10000
		for _, doc := range []string{
			strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth),
			strings.Repeat("[", depth) + strings.Repeat("]", depth),
			`{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + "}",
		} {
			var exact, lenient any
			errE, errL := UnmarshalExact([]byte(doc), &exact), json.Unmarshal([]byte(doc), &lenient)
			if (errE == nil) != (errL == nil) || errE != nil && errE.Error() != errL.Error() {
				t.Errorf("%d deep (%.8s…): %v, encoding/json %v", depth, doc, errE, errL)
			}
		}
	}
}

// exactTarget is FuzzUnmarshalExact's document type.
type exactTarget struct {
	PrepayID string   `json:"prepay_id"`
	Code     JSONCode `json:"code"`
	Amount   *struct {
		Total *int64 `json:"total"`
	} `json:"amount"`
}

// FuzzUnmarshalExact holds UnmarshalExact to a reading made another way:
// a name given twice in any object (encoding/json's tokens) is
// ErrDuplicateMember; otherwise the fields are what exact names read
// (encoding/json into maps, whose keys match exactly), and it fails where
// that reading fails; a document that is not JSON gets json.Unmarshal's
// error.
func FuzzUnmarshalExact(f *testing.F) {
	for _, s := range []string{
		`{"prepay_id":"a"}`, `{"Prepay_Id":"x"}`, `{"prepay_id":"a","PREPAY_ID":"b"}`, `{"prepay_id":"a","prepay_id":"b"}`,
		`{"amount":{"total":1,"Total":2},"code":0.0}`, `{"amount":{"total":1,"total":2}}`, `{"x":[{"a":1},{"a":1,"a":2}]}`,
		`{"pre\u0070ay_id":"a","prepay\u005fid":"b"}`, "{\"\u212aey\":1,\"prepay_id\":\"\\\"\"}", `{"a":"\ud800"}`, `{"\ud800":1,"\ud801":2}`,
		"{\"\xff\":1,\"\xfe\":2}", `[{"a":1,"a":2}]`, `null`, `{"amount":null,"code":"1"}`, `{"code":{}}`, `{} x`, `{"a":tru}`, `{"a":1e5,"b":-0.5E+3}`,
		`{"code":{"Code":1,"~~~0":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var got exactTarget
		err := UnmarshalExact(doc, &got)
		if !json.Valid(doc) {
			if want := json.Unmarshal(doc, &exactTarget{}); err == nil || want == nil || err.Error() != want.Error() {
				t.Fatalf("%q: %v, json.Unmarshal %v", doc, err, want)
			}
			return
		}
		if !ValidJSONText(doc) { // text encoding/json reads as U+FFFD: refused
			if !errors.Is(err, ErrNestedJSON) || errors.Is(err, ErrDuplicateMember) && !repeatsAName(doc) {
				t.Fatalf("%q: %v, want ErrNestedJSON", doc, err)
			}
			return
		}
		if repeatsAName(doc) {
			if err != ErrDuplicateMember {
				t.Fatalf("%q repeats a name: %v", doc, err)
			}
			return
		}
		want, ok := readExactly(doc)
		if (err == nil) != ok {
			t.Fatalf("%q: %v, the exact reading ok=%v", doc, err, ok)
		}
		if ok && (got.PrepayID != want.PrepayID || got.Code != want.Code || (got.Amount == nil) != (want.Amount == nil) ||
			got.Amount != nil && (got.Amount.Total == nil) != (want.Amount.Total == nil) ||
			got.Amount != nil && got.Amount.Total != nil && *got.Amount.Total != *want.Amount.Total) {
			t.Fatalf("%q: read %+v, exactly %+v", doc, got, want)
		}
	})
}

// repeatsAName walks doc's tokens for a name given twice in one object.
func repeatsAName(doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type level struct {
		object   bool
		names    map[string]bool
		expectKV bool // the next token of an object is a name
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKV {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name := tok.(string)
			if top.names[name] {
				return true
			}
			top.names[name], top.expectKV = true, false
			continue
		}
		if top != nil && top.object {
			top.expectKV = true // this token is the member's value
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{object: true, names: map[string]bool{}, expectKV: true})
		case json.Delim('['):
			stack = append(stack, &level{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// readExactly reads doc as exact names do: encoding/json into maps.
func readExactly(doc []byte) (want exactTarget, ok bool) {
	if string(bytes.TrimSpace(doc)) == "null" {
		return want, true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(doc, &m) != nil {
		return want, false
	}
	if raw, has := m["prepay_id"]; has && json.Unmarshal(raw, &want.PrepayID) != nil {
		return want, false
	}
	if raw, has := m["code"]; has && json.Unmarshal(raw, &want.Code) != nil {
		return want, false
	}
	if raw, has := m["amount"]; has && string(raw) != "null" {
		var am map[string]json.RawMessage
		if json.Unmarshal(raw, &am) != nil {
			return want, false
		}
		want.Amount = &struct {
			Total *int64 `json:"total"`
		}{}
		if r, has := am["total"]; has && json.Unmarshal(r, &want.Amount.Total) != nil {
			return want, false
		}
	}
	return want, true
}
