package caddymodule

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// verifyLineKeys are the keys `caddy minipay verify` prints, in order.
var verifyLineKeys = []string{"provider", "kind", "sign_type", "string_to_sign", "expected", "received", "verdict"}

// FuzzVerifyCommand: `caddy minipay verify` reads any input for any
// provider without panicking, exits 0, 1 or 2, prints only its seven
// "key: value" lines (newlines in values escaped), and its verdict is the
// webhook's: valid exactly when Verify accepts a notification, or when an
// API answer verifies (which the webhook refuses).
func FuzzVerifyCommand(f *testing.F) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		f.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	if err != nil {
		f.Fatal(err)
	}
	const at = "1795917606" // --at: the same verdict whenever the target runs
	providers := []struct {
		name string
		sets []string
		hdr  func(sig string) []string
	}{
		{"wechat_v2", []string{"app_id=wx8888888888888888", "mch_id=1900000109", "api_key=8934e7d15453e97507ef794cf7b0519d", "sign_type=HMAC-SHA256"}, nil},
		{"cbtis", []string{"api_key=6d0e8fa7b10c40c3a48c0c2be41cb178"}, func(sig string) []string { return []string{"Signature: " + sig} }},
		{"latipay", []string{"api_key=111222333", "currency=NZD"}, nil},
		{"2c2p", []string{"merchant_id=JT01", "secret_key=7jYcp4FxFdf0"}, nil},
		{"wechat_v3", []string{"app_id=wx8888888888888888", "mch_id=1900000109", "api_v3_key=sandbox-apiv3-key-0123456789abcd",
			"public_key=" + string(pub), "public_key_id=PUB_KEY_ID_0119000001092026112900000000000001"},
			func(sig string) []string {
				return []string{"Wechatpay-Serial: PUB_KEY_ID_0119000001092026112900000000000001", "Wechatpay-Timestamp: " + at,
					"Wechatpay-Nonce: n0nce", "Wechatpay-Signature: " + sig}
			}},
	}
	f.Add(uint8(0), v2, "")
	f.Add(uint8(0), []byte(v2FailAnswer), "")
	f.Add(uint8(1), []byte(cbtisBody), cbtisSig)
	f.Add(uint8(1), []byte(cbtisCreateAnswer), cbtisCreateAnswerSig)
	f.Add(uint8(2), []byte(latipayBody), "")
	f.Add(uint8(2), []byte(latipayAnswer), "")
	f.Add(uint8(3), []byte(twoc2pEnvelope), "")
	f.Add(uint8(4), []byte(`{"id":"EV-1","resource":{}}`), "x")
	f.Add(uint8(4), []byte{}, "")
	webhooks := make([]transform.Explainer, len(providers))
	for i, p := range providers {
		if webhooks[i], err = explainerFor(p.name, p.sets); err != nil {
			f.Fatal(err)
		}
		if c, ok := webhooks[i].(transform.Clocked); ok {
			c.SetClock(func() time.Time { return time.Unix(1795917606, 0) })
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte, sig string) {
		i := int(which) % len(providers)
		p := providers[i]
		args := []string{"verify", "--provider", p.name, "--at", at, "--file", "-"}
		for _, s := range p.sets {
			args = append(args, "--set", s)
		}
		n := transform.Notification{Header: http.Header{}, Body: body}
		if p.hdr != nil {
			for _, h := range p.hdr(sig) {
				args = append(args, "--header", h)
				k, v, _ := strings.Cut(h, ":")
				n.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		var out, errOut bytes.Buffer
		code := runMinipay(args, bytes.NewReader(body), &out, &errOut)
		if code == exitUsage {
			if out.Len() != 0 {
				t.Fatalf("usage exit with output %q", out.String())
			}
			return
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		k := 0
		for _, l := range lines {
			for k < len(verifyLineKeys) && !strings.HasPrefix(l, verifyLineKeys[k]+": ") {
				k++
			}
			if k == len(verifyLineKeys) {
				t.Fatalf("unexpected line %q in %q", l, out.String())
			}
			k++
		}
		valid := strings.HasSuffix(out.String(), "verdict: valid\n")
		if code != exitValid && code != exitInvalid || valid != (code == exitValid) {
			t.Fatalf("exit %d with %q", code, out.String())
		}
		// An answer is judged by ExplainAnswer where the provider has one, and
		// the webhook never forwards it; a notification's verdict is Verify's.
		_, err := webhooks[i].Explain(n, nil)
		if strings.Contains(out.String(), "\nkind: answer\n") {
			if err == nil {
				t.Fatalf("%s: the webhook accepts what verify calls an answer: %q", p.name, body)
			}
			if ae, ok := webhooks[i].(transform.AnswerExplainer); ok {
				if isAnswer, aerr := ae.ExplainAnswer(n, nil); isAnswer {
					err = aerr
				}
			}
			if errors.Is(err, transform.ErrSignedAnswer) {
				err = nil
			}
		}
		if valid != (err == nil) {
			t.Fatalf("%s: verdict valid=%v, the webhook's %v: %q", p.name, valid, err, body)
		}
	})
}
