package transform

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strconv"
	"testing"
)

// flattenByDecoder is FlattenJSON as it was written over encoding/json's
// Decoder.Token, until a scan with the flat JSON readers replaced it
// (Token made an error value for every value inside an object, and a
// string for every name and value: five allocations a value). It is the
// reference FuzzFlattenJSONAsDecoder holds the scan to.
func flattenByDecoder(doc []byte, maxDepth, maxMembers int) (map[string]string, error) {
	if !ValidJSONText(doc) {
		return nil, ErrNestedJSON
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, ErrNestedJSON
	}
	f := decoderFlattener{dec: dec, maxDepth: maxDepth, values: maxMembers, out: make(map[string]string, 16)}
	if err := f.object(1); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrNestedJSON
	}
	return f.out, nil
}

type decoderFlattener struct {
	dec      *json.Decoder
	maxDepth int
	values   int
	name     []byte
	out      map[string]string
}

func (f *decoderFlattener) object(depth int) error {
	var names nameSet
	for f.dec.More() {
		tok, err := f.dec.Token()
		if err != nil {
			return ErrNestedJSON
		}
		name, _ := tok.(string)
		if !names.add(name) {
			return ErrNestedJSON
		}
		parent := len(f.name)
		if parent+len(name) > MaxFlatName {
			return ErrNestedJSON
		}
		f.name = append(f.name, name...)
		err = f.value(depth)
		f.name = f.name[:parent]
		if err != nil {
			return err
		}
	}
	if _, err := f.dec.Token(); err != nil {
		return ErrNestedJSON
	}
	return nil
}

func (f *decoderFlattener) value(depth int) error {
	if f.values <= 0 || len(f.name) > MaxFlatName {
		return ErrNestedJSON
	}
	f.values--
	tok, err := f.dec.Token()
	if err != nil {
		return ErrNestedJSON
	}
	var v string
	switch t := tok.(type) {
	case json.Delim:
		if depth >= f.maxDepth {
			return ErrNestedJSON
		}
		f.name = append(f.name, '.')
		if t == '{' {
			return f.object(depth + 1)
		}
		parent := len(f.name)
		for i := 0; f.dec.More(); i++ {
			f.name = strconv.AppendInt(f.name[:parent], int64(i), 10)
			if err := f.value(depth + 1); err != nil {
				return err
			}
		}
		if _, err := f.dec.Token(); err != nil {
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
	name := string(f.name)
	if _, dup := f.out[name]; dup {
		return ErrNestedJSON
	}
	f.out[name] = v
	return nil
}

// FuzzFlattenJSONAsDecoder: FlattenJSON accepts exactly what the reading
// over encoding/json's Decoder accepted, with the same leaves, at every
// bound.
func FuzzFlattenJSONAsDecoder(f *testing.F) {
	for _, s := range []string{
		`{"mchid":"1230000109","trade_state_desc":"支付成功","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"currency":"CNY"}}`,
		`{"a":[1,null,{"b":true}],"c":-0.5e+3,"d":null,"e":false}`, `{"a":[],"b":{},"c":[[],{}]}`,
		`{"a":{"b":1},"a.b":2}`, `{"a":1,"a":2}`, `{"a":[[[[[1]]]]]}`, `{} x`, `{"a":1}{}`, `[]`, `"x"`, `{"\u0061":"\ud800"}`,
		`{"a":"\ud83d\ude00\n\"\\\/\b\f\r\t\u00e9"}`, ` { "a" : [ 1 , 2 ] } `, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":truex}`, `{"a":1,}`, `{"a":[1,]}`, `{,"a":1}`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`,
		"{\"a\":\"\x01\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":[1 2]}`, `{"a":1}]`, `{"a":{"b":1}}}`, "{\"a\":1}\n\t ",
	} {
		f.Add([]byte(s), uint8(3), uint8(16))
	}
	f.Fuzz(func(t *testing.T, doc []byte, depth, members uint8) {
		maxDepth, maxMembers := int(depth%8)+1, int(members)
		got, err := FlattenJSON(doc, maxDepth, maxMembers)
		want, wantErr := flattenByDecoder(doc, maxDepth, maxMembers)
		if err != wantErr || !maps.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("%q at depth %d, %d members: %v %v, want %v %v", doc, maxDepth, maxMembers, got, err, want, wantErr)
		}
	})
}

// objectByDecoder reads doc as encoding/json's Decoder reads an object
// member by member (Token for the name, Decode into a json.RawMessage for
// the value, then the closing brace and io.EOF): the reference
// FuzzReadObjectAsDecoder holds ReadObject to.
func objectByDecoder(doc []byte) ([][2]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var members [][2]string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		name, _ := tok.(string)
		members = append(members, [2]string{name, string(raw)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return members, true
}

// FuzzReadObjectAsDecoder: ReadObject reads exactly the objects
// encoding/json's Decoder reads member by member, and gives the same names
// and value texts for a document that is ValidJSONText (its callers'
// precondition: the Decoder reads other text as U+FFFD).
func FuzzReadObjectAsDecoder(f *testing.F) {
	for _, s := range []string{
		`{"notify_type":"refund_success","data":{"uid":39172931,"refund_id":"C34368224017070000","order_amount":"105.00"}}`,
		` { "a" : [ 1 , {"b":null} ] , "c":"\u00e9\"" } `, `{}`, ` {} `, `{} x`, `{"a":1}{}`, `[]`, `"x"`, `{"a":1,}`,
		`{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`, `{"a":01}`, `{"a":tru}`, `{"a":[1,]}`, `{"\u0061":"\ud800"}`, "{\"a\":\"\xff\"}",
		`{"a":1,"a":2}`, `{"a":{"b":1}}}`, "{\"a\":1}\n\t ", `{"a":"\x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var got [][2]string
		read := ReadObject(doc, func(name string, value []byte) bool {
			got = append(got, [2]string{name, string(value)})
			return true
		})
		want, wantRead := objectByDecoder(doc)
		if read != wantRead {
			t.Fatalf("%q: read %v, the Decoder %v", doc, read, wantRead)
		}
		if read && ValidJSONText(doc) && !slices.Equal(got, want) {
			t.Fatalf("%q: members %q, the Decoder's %q", doc, got, want)
		}
	})
}
