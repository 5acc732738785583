package transform

import (
	"encoding/json"
	"errors"
	"testing"
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
