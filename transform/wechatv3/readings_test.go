package wechatv3

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestSignedMessageReadings: WeChat signs TIMESTAMP\nNONCE\nBODY\n, so a
// nonce (or a timestamp) holding a line break would move the start of the
// body. Every reading of a genuine notification's message, cut at any two of
// its line breaks, goes through the real Verify with the genuine signature:
// only the genuine one is accepted, the body pretty-printed (a line break
// between every member) or compact: the timestamp is digits only, and what
// follows a line break inside one JSON object is never a whole one. Through
// Caddy no header value holds a line break anyway: Go's HTTP/1 server folds
// a continuation line into a space and refuses a bare CR or LF (400), and
// its HTTP/2 and quic-go's HTTP/3 refuse a field value holding one.
func TestSignedMessageReadings(t *testing.T) {
	sb := must(NewSandbox(sandboxConfig(t)))
	sb.Now = transformtest.Clock
	w := must(NewWebhook(merchantConfig(t)))
	w.Now = transformtest.Clock
	sign := newPlatformSigner(t)
	const tx = `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"ORDER1","transaction_id":"4200001","trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"o"},"amount":{"total":1234,"currency":"CNY"}}`
	out := must(sb.Notification("https://m.example/n", examplePublicKeyID, EventTransactionSuccess, "支付成功", "transaction", []byte(tx)))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out.Body, "", "  "); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"compact": out.Body, "pretty-printed": pretty.Bytes()} {
		h := sign.sign(body)
		msg := AppendAnswerMessage(nil, h.Get(HeaderTimestamp), h.Get(HeaderNonce), body)
		var breaks []int
		for i, c := range msg[:len(msg)-1] {
			if c == '\n' {
				breaks = append(breaks, i)
			}
		}
		readings, accepted := 0, 0
		for i, p := range breaks {
			for _, q := range breaks[i+1:] {
				ts, nonce, b := string(msg[:p]), string(msg[p+1:q]), msg[q+1:len(msg)-1]
				rh := http.Header{HeaderSerial: {examplePublicKeyID}, HeaderSignature: {h.Get(HeaderSignature)},
					HeaderTimestamp: {ts}, HeaderNonce: {nonce}}
				readings++
				ev, err := w.Verify(transform.Notification{Header: rh, Body: b})
				if err != nil {
					continue
				}
				accepted++
				if ts != h.Get(HeaderTimestamp) || nonce != h.Get(HeaderNonce) || !bytes.Equal(b, body) || ev.OrderID != "ORDER1" {
					t.Errorf("%s: the reading timestamp %q, nonce %q, body %q is accepted: %+v", name, ts, nonce, b, ev)
				}
			}
		}
		if accepted != 1 {
			t.Errorf("%s: %d of %d readings accepted, want the genuine one only", name, accepted, readings)
		}
		t.Logf("%s: %d readings, %d accepted", name, readings, accepted)
	}
}
