package wechatv3

import (
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/bojanz/currency"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzQueryStatus: a transaction object the fuzzer writes, signed by the
// platform key, reads as a status object only with what it holds (README
// wechat_v3; docs/providers/wechat_v3.md trade_state): the order asked
// about, which its out_trade_no names, for this mchid and appid; its
// transaction_id and trade_state; the status trade_state maps to; the
// amount amount.total writes in amount.currency's minor units (CNY when
// absent), none without amount.total; success_time as paid_at only for a
// paid or refunded order. Documents WeChat never writes (a name given
// twice, or in another case than WeChat's) are left out.
func FuzzQueryStatus(f *testing.F) {
	const head = `{"appid":"wx8888888888888888","mchid":"1900000109","out_trade_no":"ORDER1","transaction_id":"4200001",`
	f.Add([]byte(head + `"trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","amount":{"total":100,"currency":"CNY"}}`))
	f.Add([]byte(head + `"trade_state":"REFUND","amount":{"total":12345,"currency":"JPY"}}`))
	f.Add([]byte(head + `"trade_state":"NOTPAY","success_time":"2026-11-29T10:00:05+08:00","amount":{"total":0}}`))
	f.Add([]byte(head + `"trade_state":"CLOSED","amount":{"total":null}}`))
	f.Add([]byte(head + `"trade_state":"SUCCESS","Amount":{"total":1},"amount":{"total":100}}`))
	states := map[string]string{"SUCCESS": transform.StatusSucceeded, "REFUND": transform.StatusRefunded, "NOTPAY": transform.StatusPending,
		"USERPAYING": transform.StatusPending, "CLOSED": transform.StatusCancelled, "REVOKED": transform.StatusCancelled,
		"PAYERROR": transform.StatusFailed}
	names := []string{"appid", "mchid", "sp_appid", "sp_mchid", "sub_appid", "sub_mchid", "out_trade_no", "transaction_id", "trade_state",
		"trade_state_desc", "success_time", "amount", "amount.total", "amount.currency"}
	c := must(NewClient(merchantConfig(f)))
	c.Now = transformtest.Clock
	sign := newPlatformSigner(f)
	call := must(c.Prepare(f.Context(), transform.OpQuery, []byte(`{"order_id":"ORDER1"}`)))
	f.Fuzz(func(t *testing.T, answer []byte) {
		flat, ok := singleReading(answer, names)
		if !ok {
			return
		}
		out, err := call.Decode(http.StatusOK, sign.sign(answer), answer)
		if err != nil {
			return // FuzzSignedAnswer holds refusals to their documented form
		}
		var st transform.PaymentStatus // its json tags are the status object's names
		if json.Unmarshal(out, &st) != nil || st.OrderID != "ORDER1" || flat["out_trade_no"] != "ORDER1" || flat["mchid"] != "1900000109" ||
			flat["appid"] != "wx8888888888888888" || st.ProviderOrderID != flat["transaction_id"] || st.ProviderStatus != flat["trade_state"] ||
			st.Status != states[flat["trade_state"]] || st.Status == "" {
			t.Fatalf("%q read as %s", answer, out)
		}
		paid := st.Status == transform.StatusSucceeded || st.Status == transform.StatusRefunded
		if st.PaidAt != "" && (!paid || st.PaidAt != flat["success_time"]) {
			t.Fatalf("%q read with paid_at: %s", answer, out)
		}
		total, hasTotal := flat["amount.total"]
		if !hasTotal {
			if st.Amount != "" || st.Currency != "" {
				t.Fatalf("%q, without amount.total, read with an amount: %s", answer, out)
			}
			return
		}
		code := flat["amount.currency"]
		if code == "" {
			code = "CNY"
		}
		digits, _ := currency.GetDigits(code)
		amount, ok := new(big.Rat).SetString(st.Amount)
		want, _ := new(big.Rat).SetString(total)
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
		if !ok || want == nil || st.Currency != code || amount.Mul(amount, scale).Cmp(want) != 0 {
			t.Fatalf("%q read as %s: amount.total %s %s", answer, out, total, code)
		}
	})
}

// FuzzRefundResult: a refund object the fuzzer writes, signed by the
// platform key, answering a refund or a refund_query, reads as the refund
// object only with what it holds (README wechat_v3, Merchant API): the
// refund asked about, which its out_refund_no names; the order asked about
// (out_trade_no; any, for a refund_query without order_id); refund_id;
// status and its mapping; amount.refund in amount.currency's minor units
// (CNY when absent). Objects WeChat never writes (a name given twice, in
// another case than WeChat's, or dotted) are left out.
func FuzzRefundResult(f *testing.F) {
	const refund = `{"refund_id":"50300","out_refund_no":"R1","transaction_id":"4200001","out_trade_no":"ORDER1","status":"SUCCESS","amount":{"refund":100,"currency":"CNY"}}`
	f.Add(uint8(0), []byte(refund))
	f.Add(uint8(1), []byte(strings.Replace(refund, `"ORDER1"`, `"ORDER2"`, 1)))
	f.Add(uint8(2), []byte(strings.Replace(refund, `"ORDER1"`, `"ORDER2"`, 1)))
	f.Add(uint8(0), []byte(`{"out_refund_no":"R1","out_trade_no":"ORDER1","status":"ABNORMAL","amount":{"refund":7}}`))
	f.Add(uint8(2), []byte(`{"out_refund_no":"R1","status":"PROCESSING","amount":{"refund":1,"currency":"JPY"}}`))
	states := map[string]string{"SUCCESS": transform.StatusSucceeded, "PROCESSING": transform.StatusPending,
		"CLOSED": transform.StatusFailed, "ABNORMAL": transform.StatusFailed}
	names := []string{"refund_id", "out_refund_no", "transaction_id", "out_trade_no", "status", "amount", "amount.refund", "amount.currency"}
	c := must(NewClient(merchantConfig(f)))
	c.Now = transformtest.Clock
	sign := newPlatformSigner(f)
	asked := []struct{ op, body, order string }{
		{transform.OpRefund, `{"order_id":"ORDER1","refund_id":"R1","amount":"1.00","total_amount":"1.00","currency":"CNY"}`, "ORDER1"},
		{transform.OpRefundQuery, `{"refund_id":"R1","order_id":"ORDER1"}`, "ORDER1"},
		{transform.OpRefundQuery, `{"refund_id":"R1"}`, ""},
	}
	calls := make([]*transform.Call, len(asked))
	for i, a := range asked {
		calls[i] = must(c.Prepare(f.Context(), a.op, []byte(a.body)))
	}
	f.Fuzz(func(t *testing.T, which uint8, answer []byte) {
		flat, ok := singleReading(answer, names)
		if !ok {
			return
		}
		a := asked[int(which)%len(asked)]
		out, err := calls[int(which)%len(asked)].Decode(http.StatusOK, sign.sign(answer), answer)
		if err != nil {
			return // FuzzSignedAnswer holds refusals to their documented form
		}
		var r transform.RefundResult // its json tags are the refund object's names
		if json.Unmarshal(out, &r) != nil || r.RefundID != "R1" || flat["out_refund_no"] != "R1" || r.OrderID != flat["out_trade_no"] ||
			a.order != "" && r.OrderID != a.order || r.ProviderRefundID != flat["refund_id"] || r.ProviderStatus != flat["status"] ||
			r.Status != states[flat["status"]] || r.Status == "" {
			t.Fatalf("%s %q read as %s", a.op, answer, out)
		}
		code := flat["amount.currency"]
		if code == "" {
			code = "CNY"
		}
		digits, _ := currency.GetDigits(code)
		amount, ok := new(big.Rat).SetString(r.Amount)
		want, _ := new(big.Rat).SetString(flat["amount.refund"])
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
		if !ok || want == nil || r.Currency != code || amount.Mul(amount, scale).Cmp(want) != 0 {
			t.Fatalf("%s %q read as %s: amount.refund %s %s", a.op, answer, out, flat["amount.refund"], code)
		}
	})
}

// singleReading is answer's members by their dotted names (FlattenJSON),
// when the document reads one way only and as WeChat writes its objects:
// no name given twice, none dotted (it would read like a nested one), and
// none of names nor amount's members in another case (encoding/json, which
// the answers are decoded with, matches a name in any case).
func singleReading(answer []byte, names []string) (map[string]string, bool) {
	flat, err := transform.FlattenJSON(answer, 8, 4096)
	if err != nil {
		return nil, false
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(answer, &top)
	for name := range top {
		if strings.Contains(name, ".") {
			return nil, false
		}
	}
	for name := range flat {
		for _, n := range names {
			if strings.EqualFold(name, n) && name != n || strings.HasPrefix(strings.ToLower(name), "amount.") && !strings.HasPrefix(name, "amount.") {
				return nil, false
			}
		}
	}
	return flat, true
}
