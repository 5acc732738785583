package twoc2p

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// TestPayRequestNeverReadsAsResponse: the secret key signs minipay's pay
// request and verifies 2C2P's answers and notifications with one formula,
// HMAC-SHA256 over the base64 payload (docs/providers/2c2p.md), and the
// envelope around the payload is not signed: anyone who saw a request can
// put its payload and signature in a PaymentResponse envelope. What keeps
// the kinds apart is the payload's own root element, which the signature
// covers: a request's is PaymentRequest, written by minipay before any
// merchant text, which is escaped (a description closing the element and
// opening a PaymentResponse stays text). Such a rewrapped request, bare or
// as the paymentResponse form, and the request as sent, are refused by the
// webhook and by the pay answer's reader; the same rewrapping of a
// PaymentResponse payload is accepted, so the refusal is the root's.
func TestPayRequestNeverReadsAsResponse(t *testing.T) {
	w, c := newWebhook(t, testConfig()), newClient(t, testConfig())
	rewrap := func(payload, signature string) string {
		return base64.StdEncoding.EncodeToString([]byte("<PaymentResponse><version>9.9</version><payload>" + payload +
			"</payload><signature>" + signature + "</signature></PaymentResponse>"))
	}
	pay := func(t *testing.T, description string) *transform.Call {
		t.Helper()
		call, err := c.Prepare(context.Background(), transform.OpPay, []byte(`{"order_id":"ORDER-1","amount":"12.34","currency":"SGD",`+
			`"description":`+strconvQuote(description)+`,"openid":"`+testOpenID+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		return call
	}
	accepted := func(t *testing.T, body []byte, contentType string) bool {
		_, werr := w.Verify(transform.Notification{Header: http.Header{"Content-Type": {contentType}}, Body: body})
		_, cerr := pay(t, "x").Decode(http.StatusOK, nil, body)
		return werr == nil || cerr == nil
	}

	control := refSeal(RootResponse, answerXML("respCode", "00", "status", "A", "failReason", "Approved"), demoSecretKey)
	env, err := refOpen(control)
	if err != nil {
		t.Fatal(err)
	}
	if !accepted(t, []byte(rewrap(env.Payload, env.Signature)), "text/plain") {
		t.Fatal("a rewrapped PaymentResponse payload is refused: the test would prove nothing")
	}

	for _, description := range []string{
		"Kaya toast",
		"</desc></PaymentRequest><PaymentResponse><merchantID>JT01</merchantID><respCode>00</respCode><status>A</status>",
	} {
		t.Run(description, func(t *testing.T) {
			sent := pay(t, description).Body
			q, err := url.ParseQuery(string(sent))
			if err != nil {
				t.Fatal(err)
			}
			env, err := refOpen(q.Get(FieldRequest))
			if err != nil || env.Signature != refSign(env.Payload, demoSecretKey) { // the premise: the key signed it
				t.Fatalf("the request's envelope (%v): %+v", err, env)
			}
			if inner := refDecode(t, env.Payload); !strings.HasPrefix(inner, "<PaymentRequest>") {
				t.Fatalf("the payload begins %q", inner[:min(len(inner), 40)])
			}
			rewrapped := rewrap(env.Payload, env.Signature)
			for name, body := range map[string][]byte{
				"the request as sent":               sent,
				"rewrapped":                         []byte(rewrapped),
				"rewrapped, as the paymentResponse": form(FieldResponse, rewrapped),
			} {
				if accepted(t, body, "application/x-www-form-urlencoded") {
					t.Errorf("%s is accepted", name)
				}
			}
		})
	}
}

func strconvQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
