package twoc2p

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// refVerified tells, with the standard library only, whether an envelope's
// text carries a payload signed with key.
func refVerified(text []byte, key string) bool {
	env, err := refOpen(string(text))
	return err == nil && env.Payload != "" && strings.EqualFold(env.Signature, refSign(env.Payload, key))
}

// FuzzOpen: Open never panics and never verifies without the key: whenever
// it succeeds, the standard library finds a payload the key signed, and the
// same text fails under another key.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(demoApproved))
	f.Add([]byte(demoDeclined))
	f.Add([]byte(refSeal(RootResponse, answerXML(), demoSecretKey)))
	f.Add([]byte(refSeal(RootResponse, answerXML(), otherKey)))
	f.Add([]byte(b64("<PaymentResponse><payload><![CDATA[" + b64(answerXML()) + "]]></payload><signature>" +
		strings.ToLower(refSign(b64(answerXML()), demoSecretKey)) + "</signature></PaymentResponse>")))
	f.Add([]byte(b64(`<!DOCTYPE x [<!ENTITY a "b">]><PaymentResponse/>`)))
	f.Add([]byte("PFBheW1lbnRSZXNwb25zZT4="))
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := Open(text, RootResponse, demoSecretKey)
		if err != nil {
			if p != nil {
				t.Fatal("fields with an error")
			}
			return
		}
		if !refVerified(text, demoSecretKey) {
			t.Fatalf("verified an envelope the key did not sign: %q", text)
		}
		if _, err := Open(text, RootResponse, otherKey); err == nil {
			t.Fatalf("verified under two keys: %q", text)
		}
	})
}

// FuzzWebhookVerify: Verify never panics; it accepts only a notification
// whose envelope the key signed and whose merchantID is the configured one.
func FuzzWebhookVerify(f *testing.F) {
	f.Add(form(FieldResponse, demoApproved), true, false)
	f.Add([]byte(demoDeclined), false, false)
	f.Add(form(FieldResponse, refSeal(RootResponse, notificationXML(), demoSecretKey)), true, false)
	f.Add(form(FieldResponse, refSeal(RootResponse, notificationXML("merchantID", "JT02"), demoSecretKey)), true, false)
	f.Add([]byte(FieldResponse+"="+refSeal(RootResponse, notificationXML("respCode", "001", "status", ""), demoSecretKey)), false, false)
	f.Add(gzipped([]byte(demoApproved)), false, false)
	f.Add(gzipped([]byte(demoApproved)), false, true)
	f.Add([]byte("paymentResponse=%ZZ"), true, false)
	f.Add(multipartForm(FieldResponse, demoApproved), true, false)
	f.Add(multipartForm("a", "1", FieldResponse, demoApproved), true, false)
	w := newWebhook(f, testConfig())
	f.Fuzz(func(t *testing.T, body []byte, isForm, gzipEncoded bool) {
		h := http.Header{}
		switch {
		case isForm && bytes.HasPrefix(body, []byte("--"+testBoundary)):
			h.Set("Content-Type", multipartHeader.Get("Content-Type"))
		case isForm:
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if gzipEncoded {
			h.Set("Content-Encoding", "gzip")
		}
		ev, err := w.Verify(transform.Notification{Header: h, Body: body})
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			return
		}
		if gzipEncoded {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("accepted a broken gzip body: %q", body)
			}
			if body, err = io.ReadAll(zr); err != nil || len(body) > MaxNotification {
				t.Fatalf("accepted a gzip body that inflates badly or past 64 KiB: %v", err)
			}
		}
		text, err := EnvelopeText(body, h.Get("Content-Type"), FieldResponse)
		if err != nil || !refVerified(text, demoSecretKey) {
			t.Fatalf("accepted a notification the key did not sign: %q", body)
		}
		if ev.Data["merchantID"] != demoMerchantID || ev.Provider != Name || !strings.HasPrefix(ev.ID, "2c2p:") || !strings.HasSuffix(ev.ID, ":"+ev.Type) {
			t.Fatalf("event %+v", ev)
		}
	})
}

// FuzzReadAnswer: ReadAnswer never panics; every failure is a 422 or 502
// *transform.Error, and it succeeds only for a 2xx respCode 32 answer the
// key signed.
func FuzzReadAnswer(f *testing.F) {
	f.Add(200, []byte(refSeal(RootResponse, answerXML(), demoSecretKey)))
	f.Add(200, gzipped([]byte(refSeal(RootResponse, answerXML(), demoSecretKey))))
	f.Add(200, []byte(demoApproved))
	f.Add(200, []byte(demoDeclined))
	f.Add(500, []byte(demoApproved))
	f.Add(200, []byte("<html>error</html>"))
	c := newClient(f, testConfig())
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		a, err := c.ReadAnswer(status, nil, body)
		if err != nil {
			var e *transform.Error
			if !errors.As(err, &e) || (e.Status != 502 && e.Status != 422) || a != nil {
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		inflated, _ := InflateAnswer(body)
		text, _ := EnvelopeText(inflated, "", FieldResponse)
		if status < 200 || status > 299 || a.Get("respCode") != "32" || !refVerified(text, demoSecretKey) {
			t.Fatalf("accepted HTTP %d %q", status, body)
		}
	})
}

// FuzzParsePayload: any inner document, signed or not, never panics.
func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(answerXML()))
	f.Add([]byte(`<PaymentResponse><a><b><c><d>x</d></c></b></a></PaymentResponse>`))
	f.Add([]byte(`<PaymentResponse><x:a xmlns:x="u">1</x:a><![CDATA[t]]></PaymentResponse>`))
	f.Fuzz(func(t *testing.T, inner []byte) {
		p, err := ParsePayload(inner, RootResponse)
		if err == nil && len(p) > len(inner) {
			t.Fatalf("%d fields from %d bytes", len(p), len(inner))
		}
	})
}
