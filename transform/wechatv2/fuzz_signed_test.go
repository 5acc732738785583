package wechatv2

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// resigned is doc's fields signed by refSign under key (any sign it had
// replaced), written as WeChat writes them; nil when doc is no flat <xml>.
func resigned(doc []byte, key, signType string) []byte {
	root, p, err := transform.ParseFlatXML(doc)
	if err != nil || root != "xml" {
		return nil
	}
	var q transform.Params
	for _, kv := range p {
		if kv.Name != "sign" {
			q = append(q, kv)
		}
	}
	return signedXML(q, key, signType)
}

// FuzzSignedAnswer: an answer whose fields the fuzzer writes, signed with
// the merchant's key, is for every operation its JSON result or a 422/502
// *transform.Error with bounded provider text; a one-byte change to the
// signed answer never reads as a different result.
func FuzzSignedAnswer(f *testing.F) {
	// docs/providers/wechat_v2.md's answers (unifiedorder, orderquery, closeorder, refund).
	base := `<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg><appid>` + vecAppID + `</appid><mch_id>` + vecMchID +
		`</mch_id><nonce_str>IITRi8Iabbblz1Jc</nonce_str><result_code>SUCCESS</result_code>`
	f.Add(uint8(0), []byte(base+`<prepay_id>wx201411101639507cbf6ffd8b0779950874</prepay_id><trade_type>JSAPI</trade_type></xml>`), uint16(3))
	f.Add(uint8(1), []byte(base+`<trade_state>SUCCESS</trade_state><out_trade_no>O1</out_trade_no><transaction_id>1008450740201411110005820873</transaction_id><total_fee>1</total_fee><fee_type>CNY</fee_type><time_end>20141111170043</time_end></xml>`), uint16(9))
	f.Add(uint8(1), []byte(base+`<trade_state>NOTPAY</trade_state><out_trade_no>O1</out_trade_no></xml>`), uint16(9))
	f.Add(uint8(2), []byte(base+`</xml>`), uint16(0))
	f.Add(uint8(3), []byte(base+`<out_trade_no>O1</out_trade_no><out_refund_no>R1</out_refund_no><refund_id>2008450740201411110000174436</refund_id><refund_fee>1</refund_fee><total_fee>1</total_fee></xml>`), uint16(1))
	f.Add(uint8(3), []byte(strings.Replace(base, "<result_code>SUCCESS", "<result_code>FAIL", 1)+`<err_code>ORDERPAID</err_code><err_code_des>`+strings.Repeat("已支付", 60)+`</err_code_des></xml>`), uint16(1))
	c := newClient(f, testConfig(""))
	ops := []struct{ op, body string }{
		{transform.OpPay, `{"order_id":"O1","amount":"0.01","currency":"CNY","description":"Latte","openid":"` + openID + `"}`},
		{transform.OpQuery, `{"order_id":"O1"}`},
		{transform.OpClose, `{"order_id":"O1"}`},
		{transform.OpRefund, `{"order_id":"O1","refund_id":"R1","amount":"0.01","currency":"CNY"}`},
	}
	calls := make([]*transform.Call, len(ops))
	for i, o := range ops {
		call, err := c.Prepare(f.Context(), o.op, []byte(o.body))
		if err != nil {
			f.Fatal(err)
		}
		calls[i] = call
	}
	f.Fuzz(func(t *testing.T, op uint8, doc []byte, at uint16) {
		answer := resigned(doc, vecAPIKey, SignMD5)
		if answer == nil {
			return
		}
		call := calls[int(op)%len(calls)]
		out, err := call.Decode(http.StatusOK, nil, answer)
		if err != nil {
			transformtest.WantAnswerError(t, err, out)
		} else if !json.Valid(out) {
			t.Fatalf("%q read as %q", answer, out)
		}
		bad := transformtest.Flipped(answer, at, byte(at>>8))
		if out2, err2 := call.Decode(http.StatusOK, nil, bad); err2 == nil && !bytes.Equal(out2, out) {
			t.Fatalf("a changed byte read as another result: %q -> %s (was %s, %v)", bad, out2, out, err)
		}
	})
}

// FuzzRefundNotification: a refund notification whose req_info encrypts
// what the fuzzer writes under the merchant's refund key is an event made of
// the decrypted fields only, or a documented refusal; req_info round-trips
// through EncryptRefundInfo and DecryptRefundInfo.
func FuzzRefundNotification(f *testing.F) {
	// The decrypted req_info of the example on WeChat's 退款结果通知 (refund
	// notification) page, listed in docs/providers/wechat_v2.md "Sources".
	f.Add([]byte(`<root><out_refund_no><![CDATA[131811191610442717309]]></out_refund_no><out_trade_no><![CDATA[71106718111915575302817]]></out_trade_no><refund_account><![CDATA[REFUND_SOURCE_RECHARGE_FUNDS]]></refund_account><refund_fee><![CDATA[3960]]></refund_fee><refund_id><![CDATA[50000408942018111907145868882]]></refund_id><refund_recv_accout><![CDATA[支付用户零钱]]></refund_recv_accout><refund_request_source><![CDATA[API]]></refund_request_source><refund_status><![CDATA[SUCCESS]]></refund_status><settlement_refund_fee><![CDATA[3960]]></settlement_refund_fee><settlement_total_fee><![CDATA[3960]]></settlement_total_fee><success_time><![CDATA[2018-11-19 16:24:13]]></success_time><total_fee><![CDATA[3960]]></total_fee><transaction_id><![CDATA[4200000215201811190261405420]]></transaction_id></root>`), "")
	f.Add([]byte(`<root><out_refund_no>R1</out_refund_no><refund_status>CHANGE</refund_status><refund_status>SUCCESS</refund_status></root>`), "")
	f.Add([]byte(`<root><out_refund_no>R1</out_refund_no><refund_status>X</refund_status><refund_fee>99999999999999</refund_fee></root>`), "<x>")
	f.Add([]byte{}, "")
	w := newWebhook(f, testConfig(""))
	key := RefundKey(vecAPIKey)
	f.Fuzz(func(t *testing.T, inner []byte, extra string) {
		reqInfo, err := EncryptRefundInfo(inner, key)
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := DecryptRefundInfo(reqInfo, key); err != nil || !bytes.Equal(plain, inner) {
			t.Fatalf("req_info round trip: %q %v", plain, err)
		}
		outer := transform.Params{{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID},
			{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "n"}, {Name: "req_info", Value: reqInfo}}
		if transform.ValidXMLText(extra) {
			outer = append(outer, transform.Param{Name: "refund_fee", Value: extra})
		}
		ev, err := w.Verify(transform.Notification{Body: transform.AppendFlatXML(nil, "xml", outer)})
		if err != nil {
			if ev != nil || !errors.Is(err, ErrRefundDecrypt) && !errors.Is(err, transform.ErrMalformed) {
				t.Fatalf("%v, event %v", err, ev)
			}
			return
		}
		root, p, perr := transform.ParseFlatXML(inner)
		if perr != nil || root != "root" {
			t.Fatalf("accepted req_info %q", inner)
		}
		for k, v := range ev.Data {
			if v == "" || p.Get(k) != v {
				t.Fatalf("data[%s] = %q is not from req_info", k, v)
			}
		}
		// refund_id on refund events only (README Webhooks); data names the refund in any case
		wantRefundID := p.Get("out_refund_no")
		if ev.Type == transform.EventUnknown {
			wantRefundID = ""
		}
		if ev.RefundID != wantRefundID || ev.Data["out_refund_no"] == "" || (ev.Amount == "") != (ev.Currency == "") ||
			!strings.HasPrefix(ev.ID, "wechat_v2:") || !strings.HasSuffix(ev.ID, ":"+ev.Type) || !json.Valid(transform.Marshal(ev)) {
			t.Fatalf("event %+v", ev)
		}
	})
}

// FuzzDecryptRefundInfo: any req_info text decrypts or is refused with
// ErrRefundDecrypt, never panics, and never yields more bytes than it
// carried.
func FuzzDecryptRefundInfo(f *testing.F) {
	enc, _ := EncryptRefundInfo([]byte("<root><out_refund_no>R1</out_refund_no></root>"), RefundKey(vecAPIKey))
	f.Add(enc)
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==")
	f.Add("")
	key := RefundKey(vecAPIKey)
	f.Fuzz(func(t *testing.T, reqInfo string) {
		plain, err := DecryptRefundInfo(reqInfo, key)
		if err != nil {
			if err != ErrRefundDecrypt || plain != nil {
				t.Fatalf("%q: %v", plain, err)
			}
			return
		}
		if len(plain) >= len(reqInfo) {
			t.Fatalf("%d bytes from %d", len(plain), len(reqInfo))
		}
		again, err := EncryptRefundInfo(plain, key)
		if back, err2 := DecryptRefundInfo(again, key); err != nil || err2 != nil || !bytes.Equal(back, plain) {
			t.Fatalf("%q does not round-trip: %q %v %v", plain, back, err, err2)
		}
	})
}

// FuzzSandboxRequest: the WeChat Pay v2 sandbox answers any signed request
// (fields from the fuzzer) on any of its paths with a flat <xml> document,
// never a 5xx.
func FuzzSandboxRequest(f *testing.F) {
	base := `<xml><appid>` + vecAppID + `</appid><mch_id>` + vecMchID + `</mch_id><nonce_str>n0nce</nonce_str>`
	f.Add(uint8(0), []byte(base+`<body>Latte</body><out_trade_no>O1</out_trade_no><total_fee>1</total_fee><spbill_create_ip>`+clientIP+`</spbill_create_ip><notify_url>`+notifyURL+`</notify_url><trade_type>JSAPI</trade_type><openid>`+openID+`</openid></xml>`), false)
	f.Add(uint8(1), []byte(base+`<out_trade_no>O1</out_trade_no></xml>`), false)
	f.Add(uint8(2), []byte(base+`<out_trade_no>O1</out_trade_no></xml>`), true)
	f.Add(uint8(3), []byte(base+`<out_trade_no>O1</out_trade_no><out_refund_no>R1</out_refund_no><total_fee>1</total_fee><refund_fee>1</refund_fee></xml>`), false)
	f.Add(uint8(3), []byte(base+`<total_fee>-1</total_fee><refund_fee>99999999999999999999</refund_fee></xml>`), false)
	s := newSandbox(f, testConfig(""))
	paths := []string{PathUnifiedOrder, PathOrderQuery, PathCloseOrder, PathRefund}
	f.Fuzz(func(t *testing.T, path uint8, doc []byte, hmacSigned bool) {
		signType := SignMD5
		if hmacSigned {
			signType = SignHMACSHA256
		}
		body := resigned(doc, vecAPIKey, signType)
		if body == nil {
			body = doc // unsigned: the communication failure
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, paths[int(path)%len(paths)], bytes.NewReader(body)))
		root, _, err := transform.ParseFlatXML(w.Body.Bytes())
		if w.Code >= 500 || err != nil || root != "xml" {
			t.Fatalf("%q: %d %q", body, w.Code, w.Body)
		}
	})
}
