package twoc2p

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// The length of uniqueTransactionCode is "Character 20" in 2C2P's
// SecurePay manual, in its request table
// (https://s.2c2p.com/securepayment/manual/requestdetail.html) and its
// backend response table
// (https://t.2c2p.com/Manuals/android/reference/backendresponse.html);
// docs/providers/2c2p.md "Field limits". These ids are written out, not
// built from the constant, so a change of the limit fails here.
const (
	orderID20 = "Az09_-*|Az09_-*|0020"             // 20 characters of every kind order_id takes
	orderID21 = "Az09_-*|Az09_-*|00021"            // one more
	orderID32 = "Az09_-*|Az09_-*|Az09_-*|00000032" // the merchant API's longest order_id
)

// TestPayOrderIDFitsUniqueTransactionCode: an order_id of up to 20
// characters is sent as uniqueTransactionCode as it is; a longer one, which
// the merchant API's rule of 32 lets through, is a 400 naming order_id
// before any call, where it was sent to 2C2P.
func TestPayOrderIDFitsUniqueTransactionCode(t *testing.T) {
	c := newClient(t, testConfig())
	body := func(id string) string {
		return `{"order_id":"` + id + `","amount":"1.00","currency":"SGD","description":"x","openid":"` + testOpenID + `"}`
	}
	for _, id := range []string{"1", "ORDER-1", orderID20} {
		call, err := c.Prepare(context.Background(), "pay", []byte(body(id)))
		if err != nil {
			t.Fatalf("%s (%d characters): %v", id, len(id), err)
		}
		if sent, inner := decodeSent(t, call.Body); sent.UniqueTransactionCode != id || call.OrderID != id {
			t.Fatalf("%s: sent %q, call for %q: %s", id, sent.UniqueTransactionCode, call.OrderID, inner)
		}
	}
	for _, id := range []string{orderID21, orderID32} {
		call, err := c.Prepare(context.Background(), "pay", []byte(body(id)))
		e := wantError(t, err, 400, "invalid_request")
		transformtest.NothingToSend(t, call)
		if e.Field != "order_id" || !strings.Contains(e.Message, "20 characters") || !strings.Contains(e.Message, "uniqueTransactionCode") {
			t.Fatalf("%s (%d characters): call %v, error %+v", id, len(id), call, e)
		}
	}
}

// TestPayDescriptionCountsBytes: 2C2P's desc has no length this project
// could confirm (docs/providers/2c2p.md "Field limits"), so the merchant
// API's own rule holds: at most 127 bytes of UTF-8, counted in bytes, not
// characters (README "Merchant API"). 42 CJK characters (126 bytes) and one
// more ASCII byte are sent byte for byte; one more byte is a 400 naming
// description, though it is only 44 characters.
func TestPayDescriptionCountsBytes(t *testing.T) {
	c := newClient(t, testConfig())
	cjk42 := strings.Repeat("茶", 42) // 3 bytes each in UTF-8
	tests := []struct {
		name, desc string
		ok         bool
	}{
		{"42 CJK characters, 126 bytes", cjk42, true},
		{"43 characters, 127 bytes", cjk42 + "a", true},
		{"44 characters, 128 bytes", cjk42 + "ab", false},
		{"43 CJK characters, 129 bytes", cjk42 + "茶", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"order_id":"ORDER-1","amount":"1.00","currency":"SGD","description":"` + tt.desc + `","openid":"` + testOpenID + `"}`
			call, err := c.Prepare(context.Background(), "pay", []byte(body))
			if !tt.ok {
				if e := wantError(t, err, 400, "invalid_request"); e.Field != "description" || !strings.Contains(e.Message, "127 bytes") {
					t.Fatalf("error %+v", e)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sent, inner := decodeSent(t, call.Body)
			if sent.Desc != tt.desc || !strings.Contains(inner, "<desc>"+tt.desc+"</desc>") {
				t.Fatalf("desc %q, want %q", sent.Desc, tt.desc)
			}
		})
	}
}

// TestSandboxUniqueTransactionCodeLength: the sandbox refuses what 2C2P's
// table refuses, the way it refuses any field (respCode 99, status F), and
// takes 20 characters (its notification then names them, through the
// webhook); a route whose own rule it does not run (a client of
// another version, a request written by hand) meets 2C2P's limit there.
func TestSandboxUniqueTransactionCodeLength(t *testing.T) {
	s := newSandbox(t, testConfig())
	c := newClient(t, testConfig())
	a := answerOf(t, post(t, s, payCall(t, c, strings.Replace(sandboxPay, "SB-1", orderID20, 1)), false))
	if a.Get("respCode") != RespPrepay || a.Get("uniqueTransactionCode") != orderID20 {
		t.Fatalf("20 characters: %v", a.Map())
	}
	// and its notification names it, through the webhook
	out, _, err := s.Complete(orderID20, true, transformtest.Pinned)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := newWebhook(t, testConfig()).Verify(transform.Notification{Header: http.Header{"Content-Type": {out.ContentType}}, Body: out.Body})
	if err != nil || ev.Type != transform.EventPaymentSucceeded || ev.OrderID != orderID20 || ev.Data["uniqueTransactionCode"] != orderID20 {
		t.Fatalf("20 characters, notified: %+v, %v", ev, err)
	}
	for _, id := range []string{orderID21, orderID32} {
		payload := "<PaymentRequest><timeStamp>221126100000</timeStamp><merchantID>JT01</merchantID><uniqueTransactionCode>" + id +
			"</uniqueTransactionCode><desc>x</desc><amt>000000000100</amt><currencyCode>702</currencyCode><paymentChannel>WCMINI</paymentChannel>" +
			"<miniProgramData><wechat><appID>" + testAppID + "</appID><openID>" + testOpenID + "</openID></wechat></miniProgramData></PaymentRequest>"
		call := payCall(t, c, sandboxPay)
		call.Body = form(FieldRequest, refSeal(RootRequest, payload, demoSecretKey))
		rec := post(t, s, call, false)
		a := answerOf(t, rec)
		if a.Get("respCode") != RespFailed || a.Get("status") != "F" || a.Get("failReason") != "Invalid uniqueTransactionCode." || a.Get("uniqueTransactionCode") != id {
			t.Fatalf("%d characters: %v", len(id), a.Map())
		}
		if _, ok := s.orders[id]; ok {
			t.Fatalf("%d characters: the order was kept", len(id))
		}
	}
}
