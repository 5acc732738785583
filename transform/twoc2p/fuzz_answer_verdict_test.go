package twoc2p

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzAnswerVerdict: README caddy minipay verify judges 2C2P's pay answer
// as the demo server sends it (gzip-compressed, no Content-Encoding) as
// the route reads it: for any inner document the fuzzer writes, sealed
// with the key (refSeal), compressed so, optionally as the
// paymentResponse form field, verify's verdict is valid exactly when
// ReadAnswer gets past the signature and the merchantID (it reads the
// answer, or refuses its respCode), and the kind is answer.
func FuzzAnswerVerdict(f *testing.F) {
	f.Add([]byte(answerXML()), false)
	f.Add([]byte(answerXML("respCode", "99", "failReason", "Duplicate")), true)
	f.Add([]byte(answerXML("merchantID", "JT02")), false)
	f.Add([]byte(answerXML(without("merchantID")...)), false)
	f.Add([]byte(answerXML(without("respCode")...)), true)
	f.Add([]byte(`<PaymentResponse/>`), false)
	c := newClient(f, testConfig())
	w := newWebhook(f, testConfig())
	f.Fuzz(func(t *testing.T, inner []byte, form bool) {
		envelope := refSeal(RootResponse, string(inner), demoSecretKey)
		if form {
			envelope = FieldResponse + "=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(envelope)
		}
		answer := gzipped([]byte(envelope))
		_, rerr := c.ReadAnswer(http.StatusOK, http.Header{}, answer)
		var e *transform.Error
		if rerr != nil && !errors.As(rerr, &e) {
			t.Fatalf("ReadAnswer: %v", rerr)
		}
		routeReads := rerr == nil || e.Code == transform.CodeProviderRejected || strings.Contains(e.Message, "no respCode")
		x := transform.Explanation{Kind: transform.KindNotification}
		n := transform.Notification{Header: http.Header{}, Body: answer}
		answered, verr := w.ExplainAnswer(n, &x)
		if !answered {
			_, verr = w.Explain(n, &x)
		}
		valid := verr == nil || x.Kind == transform.KindAnswer && errors.Is(verr, transform.ErrSignedAnswer)
		if valid != routeReads || x.Kind != transform.KindAnswer {
			t.Fatalf("verify says valid=%v (kind %s, %v), the route %v: %q", valid, x.Kind, verr, rerr, envelope)
		}
	})
}
