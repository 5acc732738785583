package cbtis

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// topLevelByDecoder is topLevel as it read the notification through
// encoding/json's Decoder (Token, then Decode into a json.RawMessage, for
// every member) until transform.ReadObject replaced it: the reference
// FuzzTopLevelAsDecoder holds it to.
func topLevelByDecoder(body []byte) (kind string, named bool, data json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false, nil, transform.ErrMalformed
	}
	var seenKind, seenData bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false, nil, transform.ErrMalformed
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", false, nil, transform.ErrMalformed
		}
		switch name, _ := tok.(string); name {
		case "notify_type":
			if seenKind {
				return "", false, nil, transform.ErrMalformed
			}
			seenKind = true
			kind, _ = jsonText(raw)
			named = string(bytes.TrimSpace(raw)) != "null"
		case "data":
			if seenData {
				return "", false, nil, transform.ErrMalformed
			}
			seenData, data = true, raw
		}
	}
	if _, err := dec.Token(); err != nil {
		return "", false, nil, transform.ErrMalformed
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", false, nil, transform.ErrMalformed
	}
	return kind, named, data, nil
}

// FuzzTopLevelAsDecoder: topLevel reads every notification Event reads
// (ValidJSONText) as the Decoder-based reading did: the same notify_type,
// whether it is named, the same data text, the same refusals.
func FuzzTopLevelAsDecoder(f *testing.F) {
	for _, s := range []string{vecBody, paymentBody,
		`{"notify_type":"payment_failed","data":{"order_id":"C2","x":{"y":[1,null]},"n":1e3}}`,
		` { "notify_type" : null , "data" : null } `, `{"notify_type":{"a": [1, 2]},"x":1,"x":2}`, `{"notify_type":1,"notify_type":2}`,
		`{"data":{},"data":{}}`, `{"notify\u005ftype":"refund_success"}`, `{} x`, `{"a":1}{}`, `[]`, `{"a":1,}`, `{"notify_type":tru}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !transform.ValidJSONText(body) { // Event refuses it first
			return
		}
		kind, named, data, err := topLevel(body)
		wantKind, wantNamed, wantData, wantErr := topLevelByDecoder(body)
		if kind != wantKind || named != wantNamed || string(data) != string(wantData) || (data == nil) != (wantData == nil) || err != wantErr {
			t.Fatalf("%q: %q %v %q %v, want %q %v %q %v", body, kind, named, data, err, wantKind, wantNamed, wantData, wantErr)
		}
	})
}
