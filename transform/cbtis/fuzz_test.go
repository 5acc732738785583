package cbtis

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzWebhookVerify: Verify never panics and never accepts a notification
// whose header is not the key's signature of the exact body (checked with
// the independent refSignature); an accepted one yields a well-formed event.
// signed=true signs the fuzzed body, so the JSON normalizer is explored too.
func FuzzWebhookVerify(f *testing.F) {
	f.Add([]byte(vecBody), vecSignature, false)
	f.Add([]byte(vecBody), strings.ToUpper(vecSignature), false)
	f.Add([]byte(paymentBody), "", true)
	f.Add([]byte(`{"notify_type":"payment_failed","data":{"order_id":"C2","x":{"y":[1,null]},"n":1e3}}`), "", true)
	f.Add([]byte(`{"notify_type":7,"data":null}`), "", true)
	f.Add([]byte(`[]`), "", true)
	f.Add([]byte(`{"data":{"order_amount":"0.001","order_currency":"HKD"}}`), "", true)
	f.Add([]byte("not json"), vecSignature, false)
	w := newWebhook(f, Config{APIKey: vecAPIKey, UID: "39172931"})
	f.Fuzz(func(t *testing.T, body []byte, sig string, signed bool) {
		if signed {
			sig = refSignature(body, vecAPIKey)
		}
		ev, err := w.Verify(transform.Notification{Header: http.Header{"Signature": {sig}}, Body: body})
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			if !errors.Is(err, transform.ErrUnsigned) && !errors.Is(err, transform.ErrBadSignature) && !errors.Is(err, transform.ErrMalformed) && !errors.Is(err, transform.ErrForeign) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !strings.EqualFold(strings.TrimSpace(sig), refSignature(body, vecAPIKey)) {
			t.Fatalf("accepted a signature that is not the key's: %q for %q", sig, body)
		}
		if ev.Provider != Name || ev.Data == nil || !strings.HasPrefix(ev.ID, "cbtis:") || !strings.HasSuffix(ev.ID, ":"+ev.Type) {
			t.Fatalf("event %+v", ev)
		}
		if kind, ok := ev.Data["notify_type"]; ev.Type != transform.EventUnknown && (!ok || kind == "") {
			t.Fatal("a mapped event's data lacks its notify_type")
		}
		if uid, ok := ev.Data["uid"]; ok && uid != "39172931" {
			t.Fatalf("accepted a notification for uid %q", uid)
		}
		switch ev.Type {
		case transform.EventPaymentSucceeded, transform.EventRefundSucceeded, transform.EventUnknown:
		default:
			t.Fatalf("type %q", ev.Type)
		}
		if (ev.Amount == "") != (ev.Currency == "") {
			t.Fatalf("amount %q currency %q", ev.Amount, ev.Currency)
		}
		transform.Marshal(ev) // must encode
	})
}

// FuzzReadAnswer: ReadAnswer never panics; it returns a data object only
// for a 2xx answer with code 0, and every failure is a 422 or 502.
func FuzzReadAnswer(f *testing.F) {
	f.Add(200, []byte(createAnswer))
	f.Add(200, []byte(`{"code":"0","data":{}}`))
	f.Add(200, []byte(`{"code":40002,"message":"dup"}`))
	f.Add(500, []byte(`{"code":50000}`))
	f.Add(200, []byte(`{"code":0,"data":[]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		data, err := ReadAnswer(status, body)
		if err != nil {
			var e *transform.Error
			if !errors.As(err, &e) || (e.Status != 502 && e.Status != 422) || data != nil {
				t.Fatalf("ReadAnswer error %v (%T)", err, err)
			}
			return
		}
		if status < 200 || status > 299 || len(data) == 0 || data[0] != '{' {
			t.Fatalf("accepted HTTP %d with data %q", status, data)
		}
		// the pay and query mappers never panic on any data object
		_, _ = PaymentParams("O1", data)
		_, _ = StatusFromQuery("O1", data)
	})
}
