package wechatv2

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzRefundQueryAnswer: a refundquery answer whose fields the fuzzer
// writes, signed with the merchant's key, is a 422/502 *transform.Error, a
// 400 naming order_id when the refund is of another order than the one
// asked (README "Errors"), or the refund object: valid JSON holding exactly the documented members, all
// strings, read from the one refund_$n entry whose out_refund_no_$n is the
// refund asked about (the first such), of the order asked about.
func FuzzRefundQueryAnswer(f *testing.F) {
	// TestRefundQuery's answers (WeChat's 查询退款 example, chapter 9_5).
	base := `<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg><appid>` + vecAppID + `</appid><mch_id>` + vecMchID +
		`</mch_id><nonce_str>TeqClE3i0mvn3DrK</nonce_str><result_code>SUCCESS</result_code><out_trade_no>1415757673</out_trade_no>` +
		`<transaction_id>1008450740201411110005820873</transaction_id>`
	entry := func(n int, refundNo, id, fee, status string) string {
		s := strconv.Itoa(n)
		return `<out_refund_no_` + s + `>` + refundNo + `</out_refund_no_` + s + `><refund_id_` + s + `>` + id + `</refund_id_` + s +
			`><refund_fee_` + s + `>` + fee + `</refund_fee_` + s + `><refund_status_` + s + `>` + status + `</refund_status_` + s + `>`
	}
	for _, status := range []string{"SUCCESS", "PROCESSING", "REFUNDCLOSE", "CHANGE", "NEWSTATE"} {
		f.Add([]byte(base+`<refund_count>1</refund_count>`+entry(0, "1415701182", "2008450740201411110000174436", "1", status)+`</xml>`), false)
	}
	f.Add([]byte(base+`<refund_count>2</refund_count>`+entry(0, "OTHER", "1", "5", "SUCCESS")+entry(1, "1415701182", "2", "250", "PROCESSING")+`</xml>`), true)
	f.Add([]byte(base+`<fee_type>HKD</fee_type>`+entry(0, "1415701182", "2", "250", "SUCCESS")+`</xml>`), false)
	// The same refund listed twice, and an entry past the 64 read.
	f.Add([]byte(base+entry(0, "1415701182", "A", "1", "SUCCESS")+entry(1, "1415701182", "B", "2", "CHANGE")+`</xml>`), false)
	f.Add([]byte(base+entry(64, "1415701182", "A", "1", "SUCCESS")+`</xml>`), true)
	f.Add([]byte(base+entry(0, "1415701182", "A", "1.5", "SUCCESS")+`</xml>`), false)
	f.Add([]byte(strings.Replace(base, "1415757673", "1415757674", 1)+entry(0, "1415701182", "A", "1", "SUCCESS")+`</xml>`), true)
	c := newClient(f, testConfig(""))
	const refundID, orderID = "1415701182", "1415757673"
	calls := map[bool]*transform.Call{}
	for withOrder, body := range map[bool]string{
		true:  `{"refund_id":"` + refundID + `","order_id":"` + orderID + `"}`,
		false: `{"refund_id":"` + refundID + `"}`,
	} {
		call, err := c.Prepare(f.Context(), transform.OpRefundQuery, []byte(body))
		if err != nil {
			f.Fatal(err)
		}
		calls[withOrder] = call
	}
	f.Fuzz(func(t *testing.T, doc []byte, withOrder bool) {
		answer := resigned(doc, vecAPIKey, SignMD5)
		if answer == nil {
			return
		}
		out, err := calls[withOrder].Decode(http.StatusOK, nil, answer)
		_, a, perr := transform.ParseFlatXML(answer)
		if err != nil {
			asked := ""
			if withOrder {
				asked = orderID
			}
			transformtest.WantRefundQueryError(t, err, out, asked, a.Get("out_trade_no"))
			return
		}
		if perr != nil {
			t.Fatalf("read %q, which does not parse", answer)
		}
		var got map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		if err := dec.Decode(&got); err != nil || dec.More() {
			t.Fatalf("%q read as invalid JSON %q", answer, out)
		}
		for _, member := range []string{"provider", "order_id", "refund_id", "provider_refund_id", "status", "amount", "currency", "provider_status"} {
			if _, ok := got[member].(string); !ok {
				t.Fatalf("%s has no string %s", out, member)
			}
		}
		if len(got) != 8 {
			t.Fatalf("%s has members beyond the refund object's", out)
		}
		n := -1
		for i := 0; i < maxRefundsListed && n < 0; i++ {
			if a.Has("out_refund_no_"+strconv.Itoa(i)) && a.Get("out_refund_no_"+strconv.Itoa(i)) == refundID {
				n = i
			}
		}
		if n < 0 {
			t.Fatalf("%q lists no out_refund_no_$n %s, read as %s", answer, refundID, out)
		}
		s := "_" + strconv.Itoa(n)
		want := map[string]string{
			"provider": Name, "refund_id": refundID, "order_id": a.Get("out_trade_no"),
			"provider_refund_id": a.Get("refund_id" + s), "provider_status": a.Get("refund_status" + s),
			"status": refundStates[a.Get("refund_status"+s)],
		}
		if withOrder {
			want["order_id"] = orderID
		}
		m, ok := transform.MoneyFromMinorText(a.Get("refund_fee"+s), feeType(a))
		if !ok {
			t.Fatalf("%q: refund_fee%s %q read as %s", answer, s, a.Get("refund_fee"+s), out)
		}
		want["amount"], want["currency"] = m.String(), m.Currency
		for k, v := range want {
			if got[k] != v || v == "" && k != "provider_refund_id" && k != "order_id" {
				t.Fatalf("%q: %s = %q, want %q (entry %d)", answer, k, got[k], v, n)
			}
		}
	})
}
