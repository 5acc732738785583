package transform

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeFlatJSON(t *testing.T) {
	tests := []struct {
		name, body string
		field      string // the field the 400 names; "" for a body-level error
		ok         bool
		wantAttach string
	}{
		{"plain", `{"order_id":"O1","attach":"a"}`, "", true, "a"},
		{"spaces and null", " {\n\t\"order_id\" : \"O1\" , \"attach\" : null } ", "", true, ""},
		{"escaped backspace", `{"order_id":"O1","attach":"\"\\\/\b\t\n"}`, "attach", false, ""}, // \b is a control character
		{"unicode escapes", `{"order_id":"O1","attach":"\u4e2d\ud83d\ude00 \/"}`, "", true, "中😀 /"},
		{"empty object", `{}`, "", true, ""},
		{"case differs", `{"ORDER_ID":"O1"}`, "ORDER_ID", false, ""},
		{"unknown", `{"order_id":"O1","tip":"1"}`, "tip", false, ""},
		{"empty name", `{"order_id":"O1","":"1"}`, "", false, ""},
		{"twice", `{"order_id":"O1","order_id":"O2"}`, "order_id", false, ""},
		{"number", `{"order_id":1}`, "order_id", false, ""},
		{"bool", `{"attach":true}`, "attach", false, ""},
		{"object", `{"attach":{}}`, "attach", false, ""},
		{"raw control character", "{\"attach\":\"a\x01b\"}", "", false, ""},
		{"escaped control character", `{"attach":"a\u0001b"}`, "attach", false, ""},
		// printable ASCII without escapes skips the UTF-8 and character checks: the edges of that range
		{"raw DEL", "{\"attach\":\"a\x7fb\"}", "attach", false, ""},
		{"escaped DEL", `{"attach":"a\u007fb"}`, "attach", false, ""},
		{"raw tilde and space", `{"attach":"~ a"}`, "", true, "~ a"},
		{"raw non-ASCII", "{\"attach\":\"\xe4\xb8\xad\"}", "", true, "中"},
		{"invalid UTF-8 in a value", "{\"attach\":\"\xff\"}", "attach", false, ""},
		{"invalid UTF-8 after an escape", "{\"attach\":\"\\n\xc3\x28\"}", "attach", false, ""},
		{"invalid UTF-8 in a name", "{\"att\xffach\":\"a\"}", "", false, ""},
		// XML 1.0 (§2.2) cannot carry U+FFFE and U+FFFF: WeChat v2 and 2C2P would get a broken document
		{"noncharacter U+FFFE", `{"attach":"a\ufffe"}`, "attach", false, ""},
		{"noncharacter U+FFFF raw", "{\"description\":\"a\xef\xbf\xbf\"}", "description", false, ""},
		{"U+FFFD is a character", `{"attach":"\ufffd"}`, "", true, "\ufffd"},
		// half a surrogate pair is no character: encoding/json reads U+FFFD, which the merchant never
		// wrote (Python's json.dumps writes a byte that is not UTF-8 as \udcXX)
		{"lone high surrogate", `{"description":"d\ud800"}`, "description", false, ""},
		{"lone low surrogate", `{"attach":"\udcff"}`, "attach", false, ""},
		{"high surrogate before another escape", `{"attach":"\ud83d\u0041"}`, "attach", false, ""},
		{"high surrogate before a high one", `{"attach":"\ud83d\ud83d\ude00"}`, "attach", false, ""},
		{"reversed pair", `{"attach":"\ude00\ud83d"}`, "attach", false, ""},
		// C1 controls (U+0080 to U+009F) are control characters too; U+00A0 is not
		{"escaped C1 NEL", `{"attach":"a\u0085"}`, "attach", false, ""},
		{"raw C1 U+009F", "{\"payer_name\":\"a\xc2\x9f\"}", "payer_name", false, ""},
		{"raw C1 U+0080", "{\"attach\":\"\xc2\x80\"}", "attach", false, ""},
		{"no-break space is a character", `{"attach":"a\u00a0\u00ff"}`, "", true, "a\u00a0\u00ff"},
		{"U+EFBF is a character", `{"attach":"\uefbf"}`, "", true, "\uefbf"},
		{"trailing", `{"order_id":"O1"} x`, "", false, ""},
		{"two objects", `{}{}`, "", false, ""},
		{"array", `[]`, "", false, ""},
		{"byte order mark", "\ufeff{\"order_id\":\"O1\"}", "", false, ""},
		{"empty", ``, "", false, ""},
		{"unterminated", `{"order_id":"O1"`, "", false, ""},
		{"missing colon", `{"order_id" "O1"}`, "", false, ""},
		{"trailing comma", `{"order_id":"O1",}`, "", false, ""},
		{"bad escape", `{"attach":"\x"}`, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p PayRequest
			err := DecodeJSON([]byte(tt.body), &p)
			if tt.ok {
				if err != nil || p.Attach != tt.wantAttach {
					t.Fatalf("err %v, attach %q, want %q", err, p.Attach, tt.wantAttach)
				}
				return
			}
			e, isErr := err.(*Error)
			if !isErr || e.Status != 400 || e.Code != CodeInvalidRequest || e.Field != tt.field {
				t.Fatalf("err %#v, want a 400 naming %q", err, tt.field)
			}
			// A body-level refusal says what is wrong with the body.
			if want, said := map[string]string{"array": "must be a JSON object", "empty": "is empty", "trailing": "after the JSON object",
				"byte order mark": "byte order mark", "empty name": `a member named ""`}[tt.name], e.Message; want != "" && !strings.Contains(said, want) {
				t.Fatalf("message %q, want it to say %q", said, want)
			}
		})
	}
}

// FuzzDecodeFlatJSON: whatever the strict decoder accepts, encoding/json
// accepts too and reads the same values.
func FuzzDecodeFlatJSON(f *testing.F) {
	for _, s := range []string{
		`{"order_id":"O1","amount":"12.34","currency":"CNY","description":"Latte","openid":"o"}`,
		`{"attach":"\u4e2d\ud83d\ude00\"\\"}`, `{"attach":null}`, `{}`, ` { "order_id" : "x" } `,
		`{"attach":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ours PayRequest
		if l := ours.jsonFields(); decodeFlatJSON(body, l.fields[:l.n]) != nil {
			return
		}
		var std PayRequest
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("accepted what encoding/json refuses (%v): %q", err, body)
		}
		if ours != std {
			t.Fatalf("values differ for %q:\n ours %+v\n std  %+v", body, ours, std)
		}
	})
}

// FuzzAppendJSON: the hand-written pay answer is byte-equal to encoding/json's
// (HTML escaping off) for any field values.
func FuzzAppendJSON(f *testing.F) {
	f.Add("1490840662", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "prepay_id=wx1", "MD5", "22D9B4E5", "O1", "")
	f.Add("\x00\"\\\u2028<>&", "\xff\xfe", "\u4e2d", "\t\n\r", "\u2029", "o", "p")
	f.Fuzz(func(t *testing.T, ts, nonce, pkg, signType, paySign, orderID, providerOrderID string) {
		p := PaymentParams{TimeStamp: ts, NonceStr: nonce, Package: pkg, SignType: signType, PaySign: paySign,
			Provider: "wechat_v2", OrderID: orderID, ProviderOrderID: providerOrderID}
		if got, want := string(p.AppendJSON(nil)), stdJSON(t, p); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// stdJSON is encoding/json's encoding of v with HTML escaping off, as
// Marshal writes it: what a hand-written AppendJSON must equal.
func stdJSON(t *testing.T, v any) string {
	var std bytes.Buffer
	enc := json.NewEncoder(&std)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(std.String(), "\n")
}

// TestJSONFieldListsAreComplete guards the hand-counted n of each request
// type's field list: every entry below n is bound, none past it.
func TestJSONFieldListsAreComplete(t *testing.T) {
	for _, f := range []flatJSON{new(PayRequest), new(OrderRequest), new(RefundRequest), new(RefundQueryRequest), new(LoginRequest)} {
		l := f.jsonFields()
		for i, field := range l.fields {
			if bound := field.Name != "" && field.Value != nil; bound != (i < l.n) {
				t.Errorf("%T: field %d (%q) bound=%v with n=%d", f, i, field.Name, bound, l.n)
			}
		}
	}
}

// BenchmarkDecodePayRequest is the merchant's pay body of the load
// benchmark, decoded as every pay decodes it.
func BenchmarkDecodePayRequest(b *testing.B) {
	body := []byte(`{"order_id":"LOAD-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
	b.ReportAllocs()
	for b.Loop() {
		var req PayRequest
		if err := DecodeJSON(body, &req); err != nil {
			b.Fatal(err)
		}
	}
}
