package twoc2p

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// The sealed fuzz targets seal the fuzzer's inner document with the key
// (refSeal, the reference writer), so that what runs after the signature
// check is explored too.

// FuzzSealedAnswer: a pay answer sealed with the key, its inner document
// the fuzzer's, is the wx.requestPayment JSON or a 422/502 with bounded
// provider text; a one-byte change to the envelope never reads as another
// result.
func FuzzSealedAnswer(f *testing.F) {
	f.Add([]byte(answerXML()), uint16(5))
	f.Add([]byte(answerXML("respCode", "99", "failReason", strings.Repeat("ไม่", 120))), uint16(9))
	f.Add([]byte(answerXML("merchantID", "JT02")), uint16(0))
	f.Add([]byte(answerXML("miniProgramData", `<wechat>{"timeStamp":1,"package":null}</wechat>`)), uint16(0))
	f.Add([]byte(answerXML("miniProgramData", `<wechat>[]</wechat>`)), uint16(0))
	f.Add([]byte(`<PaymentResponse/>`), uint16(0))
	f.Add([]byte(answerXML(without("uniqueTransactionCode")...)), uint16(0))
	c := newClient(f, testConfig())
	call, err := c.Prepare(f.Context(), transform.OpPay, []byte(`{"order_id":"ORDER-1","amount":"12.34","currency":"SGD","description":"Kaya toast","openid":"`+testOpenID+`"}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, inner []byte, at uint16) {
		answer := []byte(refSeal(RootResponse, string(inner), demoSecretKey))
		out, err := call.Decode(http.StatusOK, nil, answer)
		if err != nil {
			if e := transformtest.WantAnswerError(t, err, out); e.Code == transform.CodeSignatureInvalid {
				t.Fatalf("a sealed answer refused as unsigned: %q", inner)
			}
		} else {
			var pp transform.PaymentParams
			if json.Unmarshal(out, &pp) != nil || pp.Package == "" || pp.PaySign == "" || pp.OrderID != "ORDER-1" {
				t.Fatalf("%q read as %s", inner, out)
			}
			// the signature does not bind an answer to its request: the order it names does
			if p, perr := ParsePayload(inner, RootResponse); perr != nil || p.Get("uniqueTransactionCode") != "ORDER-1" {
				t.Fatalf("%q, naming no order or another, read as this order's: %s", inner, out)
			}
		}
		bad := transformtest.Flipped(answer, at, byte(at>>8))
		if out2, err2 := call.Decode(http.StatusOK, nil, bad); err2 == nil && !bytes.Equal(out2, out) {
			t.Fatalf("a changed byte read as another result: %q -> %s (was %s, %v)", bad, out2, out, err)
		}
	})
}

// FuzzSealedNotification: a notification sealed with the key, its inner
// document the fuzzer's, is an event of the configured merchantID made of
// the sealed fields, or refused; its type is terminal only when respCode
// and status agree; a one-byte change never verifies as another event.
func FuzzSealedNotification(f *testing.F) {
	f.Add([]byte(notificationXML()), uint16(5), true)
	f.Add([]byte(notificationXML("respCode", "001", "status", "")), uint16(5), false)
	f.Add([]byte(notificationXML("merchantID", "")), uint16(0), true)
	f.Add([]byte(notificationXML("amt", "-1", "currencyCode", "000")), uint16(0), true)
	f.Add([]byte(notificationXML("uniqueTransactionCode", "-", "tranRef", "-")), uint16(0), true)
	f.Add([]byte(notificationXML("respCode", "99", "status", "A")), uint16(0), true)
	f.Add([]byte(notificationXML("respCode", "00", "status", "F")), uint16(0), false)
	f.Add([]byte(notificationXML("respCode", "32", "status", "F")), uint16(0), false)
	w := newWebhook(f, Config{MerchantID: demoMerchantID, SecretKey: demoSecretKey})
	f.Fuzz(func(t *testing.T, inner []byte, at uint16, isForm bool) {
		text := refSeal(RootResponse, string(inner), demoSecretKey)
		n := transform.Notification{Header: http.Header{}, Body: []byte(text)}
		if isForm {
			n = transform.Notification{Header: formHeader, Body: form(FieldResponse, text)}
		}
		ev, err := w.Verify(n)
		if err == nil {
			p, perr := ParsePayload(inner, RootResponse)
			if perr != nil || ev.Data["merchantID"] != demoMerchantID || ev.Provider != Name || !json.Valid(transform.Marshal(ev)) ||
				ev.OrderID != p.Get("uniqueTransactionCode") || ev.ProviderOrderID != p.Get("tranRef") || ev.OrderID+ev.ProviderOrderID == "" {
				t.Fatalf("event %+v from %q", ev, inner)
			}
			for k, v := range ev.Data {
				if p.Get(k) != v {
					t.Fatalf("data[%s] = %q is not the sealed field", k, v)
				}
			}
			// README 2C2P: a terminal type only when nothing sealed says otherwise.
			resp, status := p.Get("respCode"), p.Get("status")
			succeeded := resp == RespApproved && (status == "A" || status == "")
			failed := (resp == RespFailed || status == "F") && resp != RespApproved && status != "A"
			pending := (resp == RespPending || resp == RespPrepay) && status != "A" && status != "F"
			want := transform.EventUnknown
			switch {
			case succeeded:
				want = transform.EventPaymentSucceeded
			case failed:
				want = transform.EventPaymentFailed
			case pending:
				want = transform.EventPaymentPending
			}
			if ev.Type != want {
				t.Fatalf("respCode %q status %q read as %s, want %s", resp, status, ev.Type, want)
			}
		} else if ev != nil {
			t.Fatal("an event with an error")
		}
		bad := transform.Notification{Header: n.Header, Body: transformtest.Flipped(n.Body, at, byte(at>>8))}
		if ev2, err2 := w.Verify(bad); err2 == nil && (err != nil || ev2.ID != ev.ID || len(ev2.Data) != len(ev.Data)) {
			t.Fatalf("a changed byte verified as another event: %q", bad.Body)
		}
	})
}

// FuzzSandboxRequest: the 2C2P sandbox answers any request (a payment
// request sealed with the key, its inner document the fuzzer's, or any
// body) with an envelope the key signed, HTTP 200 as 2C2P.
func FuzzSandboxRequest(f *testing.F) {
	c := newClient(f, testConfig())
	call, err := c.Prepare(f.Context(), transform.OpPay, []byte(sandboxPay))
	if err != nil {
		f.Fatal(err)
	}
	env, _ := refOpen(strings.TrimPrefix(string(call.Body), FieldRequest+"="))
	f.Add(call.Body, false)
	f.Add([]byte(refDecode(f, env.Payload)), true)
	f.Add([]byte(`<PaymentRequest><merchantID>`+demoMerchantID+`</merchantID><amt>-1</amt></PaymentRequest>`), true)
	f.Add([]byte(`paymentRequest=%zz`), false)
	s := newSandbox(f, testConfig())
	f.Fuzz(func(t *testing.T, body []byte, seal bool) {
		if seal {
			body = form(FieldRequest, refSeal(RootRequest, string(body), demoSecretKey))
		}
		r := httptest.NewRequest(http.MethodPost, DefaultPaymentPath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		env, err := refOpen(w.Body.String())
		if w.Code != http.StatusOK || err != nil || env.Signature != refSign(env.Payload, demoSecretKey) {
			t.Fatalf("%q: %d %q (%v)", body, w.Code, w.Body, err)
		}
	})
}
