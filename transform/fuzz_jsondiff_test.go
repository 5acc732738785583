package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// jsonDiffSeeds are the inputs FuzzUnmarshalExactDifferential and
// FuzzDecodeJSONDifferential start from: numbers, escapes, white space,
// null in every position, empty strings, trailing data, depth.
var jsonDiffSeeds = []string{
	`{"s":"a","i":-12,"u":255,"f":1.5e-3,"b":true,"t":120.00,"code":"0","n":1E+2,"l":[{"s":"x","x":["y",null]}],"o":{"s":""},"a":[1,2],"e":"emb","Untagged":"u"}`,
	`{"s":"\u00e9\ud83d\ude00\/\\\"\b\f\n\r\t","t":"\u4e2d"}`, `{"S":"x","I":1,"UNTAGGED":"v","untagged":"w","\u0073":"esc"}`,
	`{"s":null,"p":null,"i":null,"l":null,"o":null,"a":null,"t":null,"code":null,"n":null}`, `null`, ` null `, `{}`, `[]`, `""`, `0`,
	`{"s":""}`, `{"":""}`, `{"s":"a"} `, `{"s":"a"} x`, `{"s":"a"}{}`, `{"s":"a",}`, "\t{\r\n\"s\" :\n\"a\" }\r\n",
	`{"i":9223372036854775807}`, `{"i":9223372036854775808}`, `{"u":256}`, `{"f":1e400}`, `{"f":-0}`, `{"n":-0.0e-0}`,
	`{"i":1.0}`, `{"i":1e2}`, `{"t":1e999999}`, `{"i":01}`, `{"i":-}`, `{"f":.5}`, `{"code":0.0}`, `{"code":-0e5}`,
	`{"s":"a","s":"b"}`, `{"l":[{"s":1,"s":1}]}`, `{"s":"\ud800"}`, `{"s":"\udc00\ud800"}`, "{\"s\":\"\xff\"}", "{\"\xc0\xae\":1}",
	`{"a":[1,2,3]}`, `{"a":[1]}`, `{"l":[[]]}`, `{"o":[]}`, `{"b":"true"}`, `{"s":1}`, `{"s":{"s":"x"}}`,
	"\ufeff{}", `{"x":{"y":{"z":[[[[[[[[[[1]]]]]]]]]]}}}`, `{"~":1,"S":2,"~~0":3}`, `{"o":{"S":1,"~":2,"s":"in"},"S":3}`,
	`{"s":"\u0000\u001f\u007f\u0080\u009f\ufffe\uffff"}`, `{"order_id":"O1","amount":"1.00","currency":"CNY"}`,
}

// diffTarget is FuzzUnmarshalExactDifferential's document type: the kinds
// the provider answer types hold (strings, numbers, JSONText, JSONCode,
// pointers, slices, arrays, nested and embedded structs), no two of its
// names case variants of each other at any level.
type diffTarget struct {
	S        string      `json:"s"`
	P        *string     `json:"p"`
	I        int64       `json:"i"`
	U        uint8       `json:"u"`
	F        float64     `json:"f"`
	B        bool        `json:"b"`
	T        JSONText    `json:"t"`
	C        JSONCode    `json:"code"`
	N        json.Number `json:"n"`
	L        []diffInner `json:"l"`
	O        *diffInner  `json:"o"`
	A        [2]int      `json:"a"`
	Untagged string
	diffEmbedded
}

type diffInner struct {
	S string   `json:"s"`
	X []string `json:"x"`
}

type diffEmbedded struct {
	E string `json:"e"`
}

// diffNames are diffTarget's member names at every level, written out.
var diffNames = map[string]bool{"s": true, "p": true, "i": true, "u": true, "f": true, "b": true, "t": true, "code": true,
	"n": true, "l": true, "o": true, "a": true, "Untagged": true, "e": true, "x": true}

// exactOnly keeps, in every object of v (encoding/json's generic value),
// only the members named exactly as a field of diffTarget: encoding/json
// then reads into diffTarget what a reader of exact names reads, whatever
// its case folding, since every other name is no field's.
func exactOnly(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !diffNames[k] {
				delete(x, k)
				continue
			}
			x[k] = exactOnly(e)
		}
	case []any:
		for i, e := range x {
			x[i] = exactOnly(e)
		}
	}
	return v
}

// FuzzUnmarshalExactDifferential holds UnmarshalExact to encoding/json
// both ways. Into map[string]any, []any, any and json.RawMessage (exact
// names already): accepted iff encoding/json accepts with every object's
// names unique and the text ValidJSONText, and then the same value. Into
// diffTarget: what encoding/json reads of the document with every member
// that is no field's exact name taken out, accepted iff that is and the
// names are unique and the text valid. A refusal encoding/json does not
// make is one of the documented ones (ErrDuplicateMember, ErrNestedJSON).
func FuzzUnmarshalExactDifferential(f *testing.F) {
	for _, s := range jsonDiffSeeds {
		f.Add([]byte(s))
	}
	for _, depth := range []int{100, 10000, 10001} {
		f.Add([]byte(strings.Repeat(`{"o":`, depth) + "null" + strings.Repeat("}", depth)))
		f.Add([]byte(strings.Repeat("[", depth) + strings.Repeat("]", depth)))
	}
	f.Add([]byte(`{"n":1` + strings.Repeat("0", 400) + `,"f":0.` + strings.Repeat("0", 400) + `1}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		strict := json.Valid(doc) && !repeatsAName(doc) && ValidJSONText(doc)
		documented := func(err error) {
			t.Helper()
			switch {
			case !json.Valid(doc):
			case err == ErrDuplicateMember && repeatsAName(doc):
			case err == ErrNestedJSON && !ValidJSONText(doc):
			default:
				t.Fatalf("%q: refused (%v) where encoding/json reads it", doc, err)
			}
		}
		generic := func(exact, lenient any) {
			t.Helper()
			errE := UnmarshalExact(doc, exact)
			errL := json.Unmarshal(doc, lenient)
			switch {
			case errE == nil && errL != nil:
				t.Fatalf("%q into %T: accepted, encoding/json %v", doc, exact, errL)
			case errE == nil && !reflect.DeepEqual(exact, lenient):
				t.Fatalf("%q into %T: read %#v, encoding/json %#v", doc, exact, exact, lenient)
			case errE == nil && !strict:
				t.Fatalf("%q into %T: accepted, though not unique names and valid text", doc, exact)
			case errE != nil && errL == nil:
				documented(errE)
			case errE != nil && strict && errE.Error() != errL.Error(): // a type error: encoding/json's own
				t.Fatalf("%q into %T: %v, encoding/json %v", doc, exact, errE, errL)
			}
		}
		generic(new(map[string]any), new(map[string]any))
		generic(new([]any), new([]any))
		generic(new(any), new(any))
		generic(new(json.RawMessage), new(json.RawMessage))

		var got diffTarget
		errE := UnmarshalExact(doc, &got)
		if !strict {
			if errE == nil {
				t.Fatalf("%q: accepted, though not unique names and valid text", doc)
			}
			documented(errE)
			return
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: json.Valid, yet %v", doc, err)
		}
		exact, err := json.Marshal(exactOnly(v))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		var want diffTarget
		errW := json.Unmarshal(exact, &want)
		switch {
		case (errE == nil) != (errW == nil):
			t.Fatalf("%q: %v, encoding/json of its exact names (%s) %v", doc, errE, exact, errW)
		case errE == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("%q: read %+v, encoding/json of its exact names %+v", doc, got, want)
		}
	})
}

// requestTypes are the merchant request types by FuzzDecodeJSONDifferential's
// op byte.
var requestTypes = []func() flatJSON{
	func() flatJSON { return new(PayRequest) }, func() flatJSON { return new(OrderRequest) },
	func() flatJSON { return new(RefundRequest) }, func() flatJSON { return new(RefundQueryRequest) },
	func() flatJSON { return new(LoginRequest) },
}

// FuzzDecodeJSONDifferential holds the merchant requests' reader
// (DecodeJSON) to encoding/json both ways: a body it accepts,
// encoding/json reads into the request type (unknown members disallowed,
// nothing after the object) the same way; and a body encoding/json reads
// so is accepted with the same values when it is what README "Merchant
// API" asks: one JSON object (no byte order mark), each member a field's
// exact name once, each value a string or null, the text ValidJSONText,
// and no value holding a control character (C0 but tab and newline, DEL,
// C1) or U+FFFE, U+FFFF.
func FuzzDecodeJSONDifferential(f *testing.F) {
	for i, s := range jsonDiffSeeds {
		f.Add(uint8(i), []byte(s))
	}
	for i, s := range []string{
		`{"order_id":"O1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`,
		`{"order_id":"O1"}`, `{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"CNY","total_amount":"12.34","reason":"broken"}`,
		`{"refund_id":"R1","order_id":"O1"}`, `{"code":"0a3Bc"}`, `{"order_id":"O\u0031\t\n","attach":"\u00e9\/"}`,
		`{"order_id":null}`, `{"ORDER_ID":"O1"}`, `{"order_id":"a","order_id":"b"}`, `{"order_id":"\u0085"}`, `{"order_id":"\r"}`,
		`{"order_id":1}`, `{"order_id":"O1"} `, `{"order_id":"O1"}x`, ` {"order_id" : "O1" , "amount" : null } `, `{"\u006frder_id":"O1"}`,
	} {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		newReq := requestTypes[int(op)%len(requestTypes)]
		got, want := newReq(), newReq()
		err := DecodeJSON(body, got)
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Status != 400 || e.Code != CodeInvalidRequest) {
			t.Fatalf("%q: %v, want a 400 invalid_request", body, err)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		errL := dec.Decode(want)
		if errL == nil {
			if _, end := dec.Token(); end != io.EOF {
				errL = errors.New("data after the value")
			}
		}
		if err == nil {
			if errL != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: read %+v, encoding/json %+v %v", body, got, want, errL)
			}
		}
		asked := errL == nil && askedRequest(body, got)
		if asked && err != nil {
			t.Fatalf("%q: refused (%v), a request README Merchant API takes", body, err)
		}
		if !asked && err == nil {
			t.Fatalf("%q: accepted (%+v), a request README Merchant API refuses", body, got)
		}
	})
}

// askedRequest tells whether body, which encoding/json reads into req's
// type, is what README "Merchant API" asks, read here with encoding/json's
// tokens: an object (not null) whose names are req's fields exactly, each
// once, with string or null values, ValidJSONText, the values free of
// control characters and U+FFFE, U+FFFF; no byte order mark.
func askedRequest(body []byte, req flatJSON) bool {
	if !ValidJSONText(body) {
		return false
	}
	l := req.jsonFields()
	fields := map[string]bool{}
	for _, f := range l.fields[:l.n] {
		fields[f.Name] = true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name := tok.(string)
		if !fields[name] || seen[name] {
			return false
		}
		seen[name] = true
		if tok, err = dec.Token(); err != nil {
			return false
		}
		switch v := tok.(type) {
		case nil:
		case string:
			for _, r := range v {
				if r < 0x20 && r != '\t' && r != '\n' || r >= 0x7f && r <= 0x9f || r == 0xfffe || r == 0xffff {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}
