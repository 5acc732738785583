package cbtis

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestDecodeReadsExactNames: an answer is read by its members' exact
// names, as a strict reader (Python's json, JSON.parse) reads it: a name
// differing only in case is not the field, a name given twice is a
// malformed answer (502 upstream_error), where encoding/json took the
// variant or the last value.
func TestDecodeReadsExactNames(t *testing.T) {
	const queryReq = `{"order_id":"P9297895081903"}`
	query := `{"code":0,"data":{"order_id":"C1","merchant_order_id":"P9297895081903","status":"SUCCEEDED","amount":"1.00","currency":"HKD"}}`
	cases := []struct {
		name, op string
		status   int
		body     string
		want     string // a part of the answer, or "502 <message>"
	}{
		{"code in capitals", "pay", 200, strings.Replace(createAnswer, `"code":0`, `"CODE":0`, 1), "502 the provider's answer has no code"},
		{"code twice", "pay", 200, strings.Replace(createAnswer, `"code":0`, `"code":40002,"code":0`, 1), "502 the provider's answer gives a member twice"},
		{"data in another case", "pay", 200, strings.Replace(createAnswer, `"data":{"order_id"`, `"Data":{"order_id"`, 1), "502 the provider's answer has no data object"},
		{"timeStamp in another case", "pay", 200, strings.Replace(createAnswer, `"timeStamp"`, `"TimeStamp"`, 1), "502 the provider's next_action.data lacks a wx.requestPayment field"},
		{"paySign twice", "pay", 200, strings.Replace(createAnswer, `"paySign":`, `"paySign":"forged","paySign":`, 1), "502 the provider's answer gives a member twice"},
		{"paySign in capitals after it", "pay", 200, strings.Replace(createAnswer, `"signType":"RSA"`, `"signType":"RSA","PAYSIGN":"forged"`, 1), `"paySign":"Rm9vQmFyU2lnbmF0dXJlQmFzZTY0PT0="`},
		{"merchant_order_id in capitals after it", "query", 200, strings.Replace(query, `"status"`, `"MERCHANT_ORDER_ID":"OTHER","status"`, 1), `"status":"succeeded"`},
		{"status twice", "query", 200, strings.Replace(query, `"status":"SUCCEEDED"`, `"status":"PENDING","status":"SUCCEEDED"`, 1), "502 the provider's answer gives a member twice"},
		{"status in another case", "query", 200, strings.Replace(query, `"status"`, `"Status"`, 1), "502 the provider's answer has no status"},
		// data is read again from the envelope: two variants of the
		// envelope's names in it are two unknown members, not one twice.
		{"Code and CODE in data", "query", 200, strings.Replace(query, `"status"`, `"Code":1,"CODE":2,"status"`, 1), `"status":"succeeded"`},
		{"HTTP 500, code in another case", "pay", 500, `{"Code":50000,"message":"internal"}`, "502 the provider answered HTTP 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := payJSON
			if tc.op == "query" {
				req = queryReq
			}
			out, err := preparedCall(t, tc.op, req).Decode(tc.status, nil, []byte(tc.body))
			if msg, isErr := strings.CutPrefix(tc.want, "502 "); isErr {
				if e := wantError(t, err, 502, transform.CodeUpstreamError); e.Message != msg || e.ProviderCode != "" {
					t.Fatalf("message %q provider_code %q, want %q", e.Message, e.ProviderCode, msg)
				}
				return
			}
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("answer %s, %v; want %s", out, err, tc.want)
			}
		})
	}
	// A second 401's code is "code".
	_, err := preparedCall(t, "pay", payJSON).Decode(401, nil, []byte(`{"Code":40100,"message":"invalid token"}`))
	if e := wantError(t, transform.RetryFinal(err), 502, transform.CodeUpstreamError); e.ProviderCode != "" || e.ProviderMessage != "invalid token" {
		t.Fatalf("a second 401 with Code: provider_code %q provider_message %q", e.ProviderCode, e.ProviderMessage)
	}
}

// TestTokenAnswerReadsExactNames: the token endpoint's answer and a token
// stored by another instance are read by their exact names, once.
func TestTokenAnswerReadsExactNames(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"access_token in capitals", `{"ACCESS_TOKEN":"t","expires_in":60}`, "502 the token endpoint's answer has no usable access_token"},
		{"access_token twice", `{"access_token":"a","access_token":"b","expires_in":60}`, "502 the token endpoint's answer gives a member twice"},
		{"code in another case", `{"Code":10001,"access_token":"t"}`, "t"},
		{"access_token in capitals after it", `{"access_token":"t","Access_Token":"u"}`, "t"},
		{"data.access_token in another case", `{"code":0,"data":{"Access_Token":"t"}}`, "502 the token endpoint's answer has no usable access_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.set(func(ts *tokenServer) {
				ts.answer = func(w http.ResponseWriter) bool { _, _ = w.Write([]byte(tc.body)); return true }
			})
			tok, err := newTestClient(t, testConfig(ts.URL()), nil).tokens.Token(context.Background())
			if msg, isErr := strings.CutPrefix(tc.want, "502 "); isErr {
				if e := wantError(t, err, 502, transform.CodeUpstreamError); e.Message != msg {
					t.Fatalf("message %q, want %q", e.Message, msg)
				}
				return
			}
			if err != nil || tok != tc.want {
				t.Fatalf("token %q %v, want %q", tok, err, tc.want)
			}
		})
	}
	for _, stored := range []string{`{"Access_Token":"seeded"}`, `{"access_token":"tok-0","access_token":"seeded"}`} {
		ts := newTokenServer(t)
		store := transformtest.NewMemStore()
		c := instances(t, 1, ts.URL(), store, nil)[0]
		if err := store.Store(context.Background(), c.tokens.key, []byte(stored)); err != nil {
			t.Fatal(err)
		}
		if got := token(t, c); got != "tok-1" {
			t.Errorf("stored %s: token %q, want a fresh tok-1", stored, got)
		}
	}
	// A failure stored by another instance is read so too.
	src := newTestClient(t, testConfig("http://127.0.0.1:9/auth"), nil).tokens
	store := transformtest.NewMemStore()
	_ = store.Store(context.Background(), src.failed, []byte(`{"message":"refused","Message":"x"}`))
	if err := src.failedMeanwhile(context.Background(), store, ""); err == nil || !strings.HasSuffix(err.Error(), ": refused (another instance's fetch)") {
		t.Errorf("a stored failure with Message after message: %v", err)
	}
	_ = store.Store(context.Background(), src.failed, []byte(`{"Message":"refused"}`))
	if err := src.failedMeanwhile(context.Background(), store, ""); err != nil {
		t.Errorf("a stored failure with only Message: %v", err)
	}
}
