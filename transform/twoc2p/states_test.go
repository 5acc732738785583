package twoc2p

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// TestDocumentedStates pins every respCode and status 2C2P's pages name
// for WCMINI (docs/providers/2c2p.md: respCode 00, 99, 001, 32; status A,
// F), written from README's 2C2P section, not from the code: what the pay
// answer and the webhook say for each, pairs that contradict themselves,
// values in another case and codes 2C2P does not list (unknown, never a
// terminal state), the amount of a declined payment without a currency,
// and the two documents 2C2P signs alike (a pay answer posted to the
// webhook) telling the same state. 2C2P's WCMINI flow has no query.
func TestDocumentedStates(t *testing.T) {
	c := newClient(t, testConfig())
	w := newWebhook(t, Config{MerchantID: demoMerchantID, SecretKey: demoSecretKey})
	pay := func(kv ...string) string {
		call, err := c.Prepare(context.Background(), "pay",
			[]byte(`{"order_id":"ORDER-1","amount":"12.34","currency":"SGD","description":"Kaya toast","openid":"`+testOpenID+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		out, err := call.Decode(200, nil, []byte(refSeal(RootResponse, answerXML(kv...), demoSecretKey)))
		var e *transform.Error
		if errors.As(err, &e) {
			return strings.TrimSpace(strconv.Itoa(e.Status) + " " + e.Code + " " + e.ProviderCode + " " + e.ProviderMessage)
		}
		if err != nil {
			return "error " + err.Error()
		}
		if !strings.Contains(string(out), `"package":"prepay_id=wx`) {
			return "no wx.requestPayment object: " + string(out)
		}
		return "wx.requestPayment"
	}
	notify := func(inner string) string {
		ev, err := w.Verify(transform.Notification{Header: formHeader, Body: form(FieldResponse, refSeal(RootResponse, inner, demoSecretKey))})
		if err != nil {
			return "error " + err.Error()
		}
		return strings.Join([]string{ev.ID, ev.OrderID, ev.ProviderOrderID, ev.Amount, ev.Currency, ev.OccurredAt}, " ")
	}
	state := func(respCode, status string, kv ...string) string {
		return notify(notificationXML(append([]string{"respCode", respCode, "status", status}, kv...)...))
	}
	const paid = "ORDER-1 3200632 12.34 SGD "
	tests := []struct{ name, got, want string }{
		// the pay answer: 32 is the prepay; any other respCode is 2C2P's refusal
		{"pay 32", pay(), "wx.requestPayment"},
		{"pay 99", pay("respCode", "99", "status", "F", "failReason", "Duplicate unique transaction code.", "miniProgramData", "-"),
			"422 provider_rejected 99 Duplicate unique transaction code."},
		{"pay 00 (a card approval, no prepay)", pay("respCode", "00", "status", "A", "failReason", "Approved", "miniProgramData", "-"),
			"422 provider_rejected 00 Approved"},
		{"pay 001", pay("respCode", "001", "failReason", "Pending", "miniProgramData", "-"), "422 provider_rejected 001 Pending"},

		// notifications: 00 with A (or no status) paid; F or 99 failed; 001 and 32 pending
		{"00 A", state("00", "A"), "2c2p:3200632:payment.succeeded " + paid},
		{"00 without status", state("00", "-"), "2c2p:3200632:payment.succeeded " + paid},
		{"99 F", state("99", "F"), "2c2p:3200632:payment.failed " + paid},
		{"99 without status", state("99", "-"), "2c2p:3200632:payment.failed " + paid},
		{"another code with F", state("05", "F"), "2c2p:3200632:payment.failed " + paid},
		{"001 with F", state("001", "F"), "2c2p:3200632:payment.failed " + paid},
		{"001 without status", state("001", "-"), "2c2p:3200632:payment.pending " + paid},
		{"32 without status", state("32", ""), "2c2p:3200632:payment.pending " + paid},
		{"32 with F", state("32", "F"), "2c2p:3200632:payment.failed " + paid},
		// contradictions and what 2C2P does not list: unknown
		{"00 F", state("00", "F"), "2c2p:3200632:unknown " + paid},
		{"99 A", state("99", "A"), "2c2p:3200632:unknown " + paid},
		{"001 A", state("001", "A"), "2c2p:3200632:unknown " + paid},
		{"32 A", state("32", "A"), "2c2p:3200632:unknown " + paid},
		{"00 with status a (lower case)", state("00", "a"), "2c2p:3200632:unknown " + paid},
		{"99 with status f (lower case)", state("99", "f"), "2c2p:3200632:payment.failed " + paid},
		{"05 without status", state("05", "-"), "2c2p:3200632:unknown " + paid},
		{"000 (another API's success) A", state("000", "A"), "2c2p:3200632:unknown " + paid},
		{"no respCode nor status", state("-", "-"), "2c2p:3200632:unknown " + paid},
		// the amount: amt in the numeric currencyCode's exponent, left out without a known currency
		{"00 A in JPY", state("00", "A", "amt", "000000000100", "currencyCode", "392"), "2c2p:3200632:payment.succeeded ORDER-1 3200632 100 JPY "},
		{"99 F declined, no currency", state("99", "F", "currencyCode", ""), "2c2p:3200632:payment.failed ORDER-1 3200632   "},
		{"99 F declined, no amount", state("99", "F", "amt", "", "currencyCode", ""), "2c2p:3200632:payment.failed ORDER-1 3200632   "},
		{"00 A in an unknown currency", state("00", "A", "currencyCode", "999"), "2c2p:3200632:payment.succeeded ORDER-1 3200632   "},
		// without tranRef the id is the order's
		{"99 F without tranRef", state("99", "F", "tranRef", "-"), "2c2p:ORDER-1:payment.failed ORDER-1  12.34 SGD "},
		// a pay answer (32) sent to the webhook: the same signed envelope, pending
		{"the pay answer as a notification", notify(answerXML()), "2c2p:3200632:payment.pending " + paid},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
	}
}
