package wechatv3

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// The signed fuzz targets sign what the fuzzer writes with the example
// platform key, so that what runs after the signature check (the envelope,
// the resource, the answers' mappers) is explored too: an unsigned input
// never gets past the RSA check.

// platformSigner signs bodies as WeChat, at the pinned clock.
type platformSigner struct {
	sign func(body []byte) http.Header
}

func newPlatformSigner(t testing.TB) platformSigner {
	key := must(ParsePrivateKey(exampleKey(t, "wechatpay_platform_key.pem")))
	ts := strconv.FormatInt(transformtest.Pinned.Unix(), 10)
	return platformSigner{func(body []byte) http.Header {
		sig := must(SignMessage(key, AppendAnswerMessage(nil, ts, "n0nce", body)))
		return http.Header{HeaderSerial: {examplePublicKeyID}, HeaderTimestamp: {ts}, HeaderNonce: {"n0nce"}, HeaderSignature: {sig}}
	}}
}

// FuzzSignedNotification: a notification the platform key signed, its
// envelope and its (encrypted) resource written by the fuzzer, is an event
// of this merchant or a documented refusal; the event's data is the
// decrypted resource (UTF-8, or refused) plus the envelope's three fields;
// and any one byte changed in the signed body is refused.
func FuzzSignedNotification(f *testing.F) {
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"o"},"amount":{"total":1234,"currency":"CNY"},"promotion_detail":[{"amount":1}]}`
	const refund = `{"mchid":"1900000109","out_trade_no":"ORDER1","transaction_id":"4200001","out_refund_no":"R1","refund_id":"5030001","refund_status":"SUCCESS","amount":{"total":1234,"refund":234,"payer_total":1234,"payer_refund":234}}`
	f.Add(EventTransactionSuccess, "支付成功", []byte(tx), []byte{}, uint16(7))
	f.Add(EventRefundSuccess, "退款成功", []byte(refund), []byte{}, uint16(100))
	f.Add(EventRefundAbnormal, "x", []byte(strings.Replace(refund, "SUCCESS", "ABNORMAL", 1)), []byte{}, uint16(3))
	f.Add(EventTransactionSuccess, "", []byte(`{"mchid":"1900000109","mchid":"1"}`), []byte{}, uint16(0))
	f.Add(EventTransactionSuccess, "", []byte(`{"mchid":"1900000109","amount":{"total":-1}}`), []byte{}, uint16(0))
	f.Add(EventTransactionSuccess, "", []byte("{\"mchid\":\"1900000109\",\"attach\":\"a\xffb\"}"), []byte{}, uint16(0))
	f.Add("", "", []byte{}, []byte(`{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"","nonce":"123456789012"}}`), uint16(0))
	f.Add("", "", []byte{}, []byte(`{"code":"ORDERPAID","message":"x"}`), uint16(0))
	f.Add("", "", []byte{}, []byte(`{"id":"1","id":"2","resource":{},"resource":{}}`), uint16(0))
	sb := must(NewSandbox(sandboxConfig(f)))
	sb.Now = transformtest.Clock
	w := must(NewWebhook(merchantConfig(f)))
	w.Now = transformtest.Clock
	sign := newPlatformSigner(f)
	f.Fuzz(func(t *testing.T, eventType, summary string, resource, raw []byte, at uint16) {
		var n transform.Notification
		if len(raw) > 0 { // the whole envelope is the fuzzer's
			n = transform.Notification{Header: sign.sign(raw), Body: raw}
		} else {
			out, err := sb.Notification("https://m.example/n", examplePublicKeyID, eventType, summary, "transaction", resource)
			if err != nil {
				t.Fatal(err)
			}
			n = transform.Notification{Header: out.Header, Body: out.Body}
		}
		ev, err := w.Verify(n)
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			if !errors.Is(err, transform.ErrMalformed) && !errors.Is(err, transform.ErrForeign) && !errors.Is(err, ErrDecrypt) &&
				!errors.Is(err, transform.ErrSignedAnswer) {
				t.Fatalf("a signed notification refused as %v: %q", err, n.Body)
			}
		} else {
			if ev.Provider != Name || ev.Data["mchid"] != "1900000109" || ev.Data["appid"] != "" && ev.Data["appid"] != "wx8888888888888888" ||
				!strings.HasPrefix(ev.ID, "wechat_v3:") || !strings.HasSuffix(ev.ID, ":"+ev.Type) {
				t.Fatalf("event %+v", ev)
			}
			if (ev.Amount == "") != (ev.Currency == "") || ev.OccurredAt != "" && !validRFC3339(ev.OccurredAt) {
				t.Fatalf("event %+v", ev)
			}
			if _, ok := ev.Data["resource.ciphertext"]; ok {
				t.Fatal("the event carries the ciphertext")
			}
			// README: a resource that is not UTF-8 is refused, not read with
			// U+FFFD in place of its bad bytes (text WeChat never encrypted).
			if len(raw) == 0 && !utf8.Valid(resource) {
				t.Fatalf("a resource that is not UTF-8 was read: %q", resource)
			}
			for k, v := range ev.Data {
				if !utf8.ValidString(k) || !utf8.ValidString(v) {
					t.Fatalf("data %q: %q is not UTF-8", k, v)
				}
			}
			if !json.Valid(transform.Marshal(ev)) {
				t.Fatalf("event %+v does not encode", ev)
			}
		}
		if len(n.Body) > 0 {
			bad := transformtest.Flipped(n.Body, at, byte(at>>8))
			if ev, err := w.Verify(transform.Notification{Header: n.Header, Body: bad}); err == nil || ev != nil {
				t.Fatalf("a changed byte verified: %q", bad)
			}
		}
	})
}

func validRFC3339(s string) bool { _, err := time.Parse(time.RFC3339, s); return err == nil }

// FuzzSignedAnswer: any answer the platform key signed, for any operation
// and status, is either the operation's JSON result or a documented 422 or
// 502 error whose provider text is bounded; any one byte changed in the
// signed answer is a 502 upstream_signature_invalid.
func FuzzSignedAnswer(f *testing.F) {
	// The shapes of docs/providers/wechat_v3.md's answers.
	tx := `{"appid":"wx8888888888888888","mchid":"1900000109","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","amount":{"total":100,"currency":"CNY"}}`
	refund := `{"refund_id":"50300","out_refund_no":"R1","transaction_id":"4200001","out_trade_no":"ORDER1","status":"SUCCESS","amount":{"refund":100,"currency":"CNY"}}`
	f.Add(uint8(0), 200, []byte(`{"prepay_id":"wx201410272009395522657a690389285100"}`), uint16(0))
	f.Add(uint8(1), 200, []byte(tx), uint16(10))
	f.Add(uint8(1), 200, []byte(strings.Replace(tx, `"total":100`, `"total":-1`, 1)), uint16(10))
	f.Add(uint8(2), 204, []byte{}, uint16(0))
	f.Add(uint8(3), 200, []byte(refund), uint16(5))
	f.Add(uint8(4), 200, []byte(refund), uint16(5))
	f.Add(uint8(4), 200, []byte(strings.Replace(refund, `"out_trade_no":"ORDER1"`, `"out_trade_no":"ORDER2"`, 1)), uint16(5))
	f.Add(uint8(0), 403, []byte(`{"code":"ORDERPAID","message":"该订单已支付"}`), uint16(1))
	f.Add(uint8(0), 401, []byte(`{"code":"SIGN_ERROR","message":"签名错误"}`), uint16(1))
	f.Add(uint8(1), 404, []byte(`{"code":"`+strings.Repeat("码", 200)+`","message":"x"}`), uint16(1))
	f.Add(uint8(1), 500, []byte(`<html>`), uint16(1))
	c := must(NewClient(merchantConfig(f)))
	c.Now = transformtest.Clock
	sign := newPlatformSigner(f)
	ops := []struct{ op, body string }{
		{transform.OpPay, `{"order_id":"ORDER1","amount":"1.00","currency":"CNY","description":"Latte","openid":"o"}`},
		{transform.OpQuery, `{"order_id":"ORDER1"}`},
		{transform.OpClose, `{"order_id":"ORDER1"}`},
		{transform.OpRefund, `{"order_id":"ORDER1","refund_id":"R1","amount":"1.00","total_amount":"1.00","currency":"CNY"}`},
		{transform.OpRefundQuery, `{"refund_id":"R1","order_id":"ORDER1"}`},
	}
	calls := make([]*transform.Call, len(ops))
	for i, o := range ops {
		calls[i] = must(c.Prepare(f.Context(), o.op, []byte(o.body)))
	}
	f.Fuzz(func(t *testing.T, op uint8, status int, answer []byte, at uint16) {
		if status < 100 || status > 999 {
			return // net/http delivers no other status
		}
		call := calls[int(op)%len(calls)]
		h := sign.sign(answer)
		out, err := call.Decode(status, h, answer)
		if err != nil {
			// refund_query's order_id is the merchant's to get right (README "Errors")
			var refund struct {
				OutTradeNo string `json:"out_trade_no"`
			}
			var e *transform.Error
			if ops[int(op)%len(ops)].op == transform.OpRefundQuery && json.Unmarshal(answer, &refund) == nil {
				e = transformtest.WantRefundQueryError(t, err, out, "ORDER1", refund.OutTradeNo)
			} else {
				e = transformtest.WantAnswerError(t, err, out)
			}
			if e.Code == transform.CodeSignatureInvalid {
				t.Fatalf("a signed answer refused as unsigned: %q", answer)
			}
		} else if status < 200 || status > 299 || !json.Valid(out) {
			t.Fatalf("HTTP %d read as %q", status, out)
		}
		if len(answer) > 0 {
			bad := transformtest.Flipped(answer, at, byte(at>>8))
			var e *transform.Error
			if _, err := call.Decode(status, h, bad); !errors.As(err, &e) || e.Code != transform.CodeSignatureInvalid {
				t.Fatalf("a changed byte was read: %v, %q", err, bad)
			}
		}
	})
}

// FuzzKeyPEM: the configured key and certificate texts never panic the
// parsers; what ParsePrivateKey accepts signs a message its own public half
// verifies, and what ParseCertificates accepts has a serial.
func FuzzKeyPEM(f *testing.F) {
	for _, name := range []string{"apiclient_key.pem", "wechatpay_pub_key.pem", "wechatpay_platform_cert.pem", "wechatpay_platform_key.pem"} {
		f.Add(exampleKey(f, name))
	}
	f.Add("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	f.Add("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n")
	f.Add(weak512) // parses, and crypto/rsa signs nothing with it
	f.Add("\uFEFF" + exampleKey(f, "apiclient_cert.pem") + "\uFEFF" + exampleKey(f, "apiclient_key.pem"))
	f.Fuzz(func(t *testing.T, text string) {
		if key, err := ParsePrivateKey(text); err == nil {
			sig, err := SignMessage(key, []byte("m"))
			if err != nil || !VerifyMessage(&key.PublicKey, []byte("m"), sig) {
				t.Fatalf("a parsed key does not sign: %v", err)
			}
		}
		_, _ = ParsePublicKey(text)
		if certs, err := ParseCertificates(text); err == nil {
			for _, c := range certs {
				if CertificateSerial(c) == "" {
					t.Fatal("a certificate without a serial")
				}
			}
		}
	})
}

// FuzzSandboxRequest: the WeChat Pay v3 sandbox, for any path, method and
// body (signed by the merchant's key, so that the routes are reached),
// answers a signed JSON document or a signed empty 204, never a 5xx.
func FuzzSandboxRequest(f *testing.F) {
	pay := `{"appid":"wx8888888888888888","mchid":"1900000109","description":"Latte","out_trade_no":"ORDER1","notify_url":"https://m.example/n","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"o"}}`
	f.Add(true, PathJSAPI, []byte(pay))
	f.Add(false, "/v3/pay/transactions/out-trade-no/ORDER1?mchid=1900000109", []byte{})
	f.Add(true, "/v3/pay/transactions/out-trade-no/ORDER1/close", []byte(`{"mchid":"1900000109"}`))
	f.Add(true, PathRefunds, []byte(`{"out_trade_no":"ORDER1","out_refund_no":"R1","amount":{"refund":1,"total":100,"currency":"CNY"}}`))
	f.Add(false, PathRefunds+"/R1", []byte{})
	f.Add(false, PathCertificates, []byte{})
	f.Add(true, PathPartnerJSAPI, []byte(`{"sp_appid":"x","amount":{"total":1e99}}`))
	f.Add(true, "/v3/%zz", []byte(`{`))
	sb := must(NewSandbox(sandboxConfig(f)))
	sb.Now = transformtest.Clock
	sb.SetNotify(func(string, *transform.Outbound, func(int, []byte) bool) {})
	signer := must(NewClient(merchantConfig(f))).keys.signer
	f.Fuzz(func(t *testing.T, post bool, target string, body []byte) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		if !strings.HasPrefix(target, "/v3/") || strings.ContainsAny(target, " \t\r\n#") {
			return // not a request line the sandbox is routed
		}
		r, err := http.NewRequest(method, "http://sandbox.invalid"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		r.RequestURI = target
		auth, err := signer.Authorization(method, target, body, transformtest.Pinned.Unix(), "n0nce")
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", auth)
		r.Header.Set("User-Agent", "fuzz")
		w := httptest.NewRecorder()
		sb.ServeHTTP(w, r)
		if w.Code >= 500 || w.Header().Get(HeaderSignature) == "" {
			t.Fatalf("%s %s %q: %d %s", method, target, body, w.Code, w.Body)
		}
		if w.Code != http.StatusNoContent && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s %q: %d %q", method, target, body, w.Code, w.Body)
		}
	})
}

// FuzzCertificatesAnswer: a /v3/certificates download (its list written by
// the fuzzer, signed by the example platform key under its certificate's
// serial) is read only when every entry decrypts to one certificate of its
// serial and a listed certificate verifies the signature; any one byte
// changed is refused; a stored download (another instance's) never panics.
func FuzzCertificatesAnswer(f *testing.F) {
	sb := must(NewSandbox(sandboxConfig(f)))
	_, real, _ := sb.certificates() // the sandbox's answer: the example platform certificate
	f.Add(real, uint16(9))
	f.Add([]byte(`{"data":[]}`), uint16(0))
	f.Add([]byte(`{"data":[{"serial_no":"`+examplePlatformSN+`","encrypt_certificate":{"algorithm":"AEAD_AES_256_GCM","nonce":"123456789012","ciphertext":"AAAA"}}]}`), uint16(0))
	f.Add(bytes.Repeat([]byte(`{"data":[{},{}]}`), 3), uint16(0))
	certs := must(NewCertificates("https://api.mch.weixin.qq.com"+PathCertificates, nil, []byte(exampleAPIv3Key)))
	key := must(ParsePrivateKey(exampleKey(f, "wechatpay_platform_key.pem")))
	ts := strconv.FormatInt(transformtest.Pinned.Unix(), 10)
	f.Fuzz(func(t *testing.T, body []byte, at uint16) {
		sig := must(SignMessage(key, AppendAnswerMessage(nil, ts, "n", body)))
		h := http.Header{HeaderSerial: {examplePlatformSN}, HeaderTimestamp: {ts}, HeaderNonce: {"n"}, HeaderSignature: {sig}}
		set, err := certs.readAnswer(h, body, transformtest.Pinned)
		if err == nil {
			if len(set.certs) == 0 || len(set.certs) > 32 || set.certs[examplePlatformSN] == nil {
				t.Fatalf("read %d certificates from %q", len(set.certs), body)
			}
			if _, err := certs.readAnswer(h, transformtest.Flipped(body, at, byte(at>>8)), transformtest.Pinned); err == nil {
				t.Fatalf("a changed byte was read")
			}
		} else if set != nil {
			t.Fatal("a set with an error")
		}
		// A stored download keeps the body as a JSON string: UTF-8 only.
		stored, _ := json.Marshal(storedDownload{Fetched: transformtest.Pinned, Header: h, Body: body})
		if s, err := certs.readStored(stored, transformtest.Pinned); utf8.Valid(body) && ((err == nil) != (set != nil) || err == nil && len(s.certs) != len(set.certs)) {
			t.Fatalf("stored %v, fresh %v", err, set != nil)
		}
		_, _ = certs.readStored(body, transformtest.Pinned)
	})
}
