package wechatv2

import (
	"encoding/json"
	"math/big"
	"net/http"
	"testing"

	"github.com/bojanz/currency"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzQueryStatus: an orderquery answer whose fields the fuzzer writes,
// signed with the merchant's key, reads as a status object only with what
// its signed fields hold (README Merchant API, status object;
// docs/providers/wechat_v2.md trade_state): the order asked about, which
// the answer's out_trade_no names; its transaction_id and trade_state; the
// status trade_state maps to; for a paid (or refunded) order the amount
// total_fee writes in fee_type's minor units (CNY when absent) and a
// paid_at only then.
func FuzzQueryStatus(f *testing.F) {
	base := `<xml><return_code>SUCCESS</return_code><appid>` + vecAppID + `</appid><mch_id>` + vecMchID + `</mch_id>` +
		`<nonce_str>IITRi8Iabbblz1Jc</nonce_str><result_code>SUCCESS</result_code><out_trade_no>O1</out_trade_no>`
	f.Add([]byte(base + `<trade_state>SUCCESS</trade_state><transaction_id>1008450740201411110005820873</transaction_id><total_fee>1</total_fee><time_end>20141111170043</time_end></xml>`))
	f.Add([]byte(base + `<trade_state>REFUND</trade_state><total_fee>12345</total_fee><fee_type>JPY</fee_type></xml>`))
	f.Add([]byte(base + `<trade_state>NOTPAY</trade_state><total_fee>1</total_fee><time_end>20141111170043</time_end></xml>`))
	f.Add([]byte(base + `<trade_state>PAYERROR</trade_state><fee_type>USD</fee_type></xml>`))
	f.Add([]byte(base + `<trade_state>SUCCESS</trade_state><total_fee>007</total_fee><fee_type>BHD</fee_type></xml>`))
	states := map[string]string{"SUCCESS": transform.StatusSucceeded, "REFUND": transform.StatusRefunded, "NOTPAY": transform.StatusPending,
		"USERPAYING": transform.StatusPending, "ACCEPT": transform.StatusPending, "CLOSED": transform.StatusCancelled,
		"REVOKED": transform.StatusCancelled, "PAYERROR": transform.StatusFailed}
	call, err := newClient(f, testConfig("")).Prepare(f.Context(), transform.OpQuery, []byte(`{"order_id":"O1"}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		answer := resigned(doc, vecAPIKey, SignMD5)
		if answer == nil {
			return
		}
		out, err := call.Decode(http.StatusOK, nil, answer)
		if err != nil {
			return // FuzzSignedAnswer holds refusals to their documented form
		}
		_, a, _ := transform.ParseFlatXML(answer)
		var st transform.PaymentStatus // its json tags are the status object's names
		if json.Unmarshal(out, &st) != nil {
			t.Fatalf("%q read as %s", answer, out)
		}
		if st.OrderID != "O1" || a.Get("out_trade_no") != "O1" || st.ProviderOrderID != a.Get("transaction_id") ||
			st.ProviderStatus != a.Get("trade_state") || st.Status != states[a.Get("trade_state")] || st.Status == "" {
			t.Fatalf("%q read as %s", answer, out)
		}
		paid := st.Status == transform.StatusSucceeded || st.Status == transform.StatusRefunded
		if !paid || a.Get("total_fee") == "" {
			if st.Amount != "" || st.Currency != "" || !paid && st.PaidAt != "" {
				t.Fatalf("%q (unpaid, or no total_fee) read with an amount or a payment time: %s", answer, out)
			}
			return
		}
		code := a.Get("fee_type")
		if code == "" {
			code = "CNY"
		}
		digits, _ := currency.GetDigits(code)
		minor, ok := new(big.Rat).SetString(st.Amount)
		total, _ := new(big.Rat).SetString(a.Get("total_fee"))
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
		if !ok || total == nil || st.Currency != code || minor.Mul(minor, scale).Cmp(total) != 0 {
			t.Fatalf("%q read as %s: total_fee %s %s", answer, out, a.Get("total_fee"), code)
		}
	})
}
