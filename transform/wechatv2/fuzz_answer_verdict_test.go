package wechatv2

import (
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// verdict is `caddy minipay verify`'s verdict on n (caddymodule's explain
// and valid, by the contract transform.AnswerExplainer states): an answer
// ExplainAnswer claims is valid when it returns nil; anything else is
// Explain's, valid when it verifies or is a signed API answer.
func verdict(w *Webhook, n transform.Notification) (bool, transform.Explanation) {
	x := transform.Explanation{Kind: transform.KindNotification}
	if answer, err := w.ExplainAnswer(n, &x); answer {
		return err == nil, x
	}
	_, err := w.Explain(n, &x)
	return err == nil || x.Kind == transform.KindAnswer && errors.Is(err, transform.ErrSignedAnswer), x
}

// FuzzAnswerVerdict: README caddy minipay verify judges a wechat_v2
// return_code SUCCESS answer "as minipay reads an answer": for any answer
// whose fields the fuzzer writes, its return_code SUCCESS or left out
// (with fill numbered fields more, as a refund query listing many refunds
// has), signed with the merchant's key
// under the configured sign type, verify's verdict is valid exactly when
// ReadAnswer gets past the signature and the merchant (it reads the answer,
// or refuses it for its result_code), and the kind is answer.
func FuzzAnswerVerdict(f *testing.F) {
	base := `<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg><appid>` + vecAppID + `</appid><mch_id>` + vecMchID +
		`</mch_id><nonce_str>IITRi8Iabbblz1Jc</nonce_str><result_code>SUCCESS</result_code>`
	f.Add([]byte(base+`<prepay_id>wx201411101639507cbf6ffd8b0779950874</prepay_id><trade_type>JSAPI</trade_type></xml>`), false, uint16(0))
	f.Add([]byte(base+`<trade_state>NOTPAY</trade_state><out_trade_no>O1</out_trade_no><attach>x&amp;cash_fee=1</attach></xml>`), true, uint16(0))
	f.Add([]byte(base+`<out_trade_no>O1</out_trade_no><refund_count>1</refund_count><out_refund_no_0>R1</out_refund_no_0></xml>`), false, uint16(300))
	f.Add([]byte(base+`<trade_state>SUCCESS</trade_state><sign_type>MD5</sign_type></xml>`), true, uint16(0))
	f.Add([]byte(`<xml><return_code>SUCCESS</return_code><appid>other</appid><result_code>FAIL</result_code><err_code>ORDERPAID</err_code></xml>`), false, uint16(0))
	// return_code left out: the route's communication failure, verify's invalid
	f.Add([]byte(`<xml><appid>`+vecAppID+`</appid><mch_id>`+vecMchID+`</mch_id><result_code>SUCCESS</result_code><trade_state>NOTPAY</trade_state><out_trade_no>O1</out_trade_no></xml>`), false, uint16(0))
	clients := map[bool]*Client{false: newClient(f, testConfig(SignMD5)), true: newClient(f, testConfig(SignHMACSHA256))}
	webhooks := map[bool]*Webhook{false: newWebhook(f, testConfig(SignMD5)), true: newWebhook(f, testConfig(SignHMACSHA256))}
	f.Fuzz(func(t *testing.T, doc []byte, hmac bool, fill uint16) {
		root, p, err := transform.ParseFlatXML(doc)
		if err != nil || root != "xml" {
			return
		}
		var fields transform.Params
		for _, kv := range p {
			if kv.Name != "sign" {
				fields = append(fields, kv)
			}
		}
		for i := range int(fill % 4096) {
			fields = append(fields, transform.Param{Name: "coupon_refund_fee_0_" + strconv.Itoa(i), Value: "1"})
		}
		signType := map[bool]string{false: SignMD5, true: SignHMACSHA256}[hmac]
		answer := signedXML(fields, vecAPIKey, signType)
		_, a, err := transform.ParseFlatXMLBounded(answer, MaxAnswerFields)
		if err != nil || a.HasDuplicate() || a.Has("return_code") && a.Get("return_code") != "SUCCESS" || isPaymentNotice(a) || a.Has("req_info") ||
			len(answer) > transform.MaxAnswer {
			return // not an answer the route gets as far as its signature, or a notification's shape
		}
		_, rerr := clients[hmac].ReadAnswer(http.StatusOK, answer)
		var e *transform.Error
		if rerr != nil && !errors.As(rerr, &e) {
			t.Fatalf("ReadAnswer: %v", rerr)
		}
		routeReads := rerr == nil || e.Code == transform.CodeProviderRejected
		valid, x := verdict(webhooks[hmac], transform.Notification{Header: http.Header{}, Body: answer})
		if valid != routeReads {
			t.Fatalf("verify says valid=%v (kind %s), the route %v: %.600q", valid, x.Kind, rerr, answer)
		}
		if x.Kind != transform.KindAnswer {
			t.Fatalf("an answer explained as %s: %.600q", x.Kind, answer)
		}
	})
}
