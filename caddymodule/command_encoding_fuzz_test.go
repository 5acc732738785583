package caddymodule

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzVerifyCommandEncoded: `caddy minipay verify` given a notification
// with any Content-Encoding and Content-Type header (--header), its body
// gzip-compressed or not, judges it as the webhook judges the same request
// (README caddy minipay verify: a --header Content-Encoding is honoured as
// the webhook honours it): valid exactly when Verify accepts it.
func FuzzVerifyCommandEncoded(f *testing.F) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), v2, true, "gzip", "")
	f.Add(uint8(1), []byte(cbtisBody), true, "x-gzip, identity", "application/json")
	f.Add(uint8(1), []byte(cbtisBody), false, "gzip", "")
	f.Add(uint8(2), []byte(latipayBody), true, "GZIP", "application/x-www-form-urlencoded")
	f.Add(uint8(3), []byte(twoc2pEnvelope), true, "gzip,gzip", "text/plain")
	f.Add(uint8(3), []byte("--b\r\nContent-Disposition: form-data; name=\"paymentResponse\"\r\n\r\n"+twoc2pEnvelope+"\r\n--b--\r\n"), false, "", "multipart/form-data; boundary=b")
	f.Add(uint8(2), []byte(latipayBody), false, "br", "")
	providers := fuzzProviders(f)
	webhooks := fuzzWebhooks(f, providers)
	f.Fuzz(func(t *testing.T, which uint8, content []byte, compress bool, contentEncoding, contentType string) {
		if strings.ContainsAny(contentEncoding+contentType, "\r\n\x00") {
			return // not a header value
		}
		i := int(which) % len(providers)
		p := providers[i]
		body := content
		if compress {
			body = transformtest.Gzip(content)
		}
		var headers []string
		if p.hdr != nil {
			// the signature of the content, as the fuzz target's vectors carry it
			headers = p.hdr(map[string]string{"cbtis": cbtisSig, "wechat_v3": "x"}[p.name])
		}
		if contentEncoding != "" {
			headers = append(headers, "Content-Encoding: "+contentEncoding)
		}
		if contentType != "" {
			headers = append(headers, "Content-Type: "+contentType)
		}
		args, n := verifyRequest(p, headers, body)
		var out, errOut bytes.Buffer
		code := runMinipay(args, bytes.NewReader(body), &out, &errOut)
		if code == exitUsage {
			return // a header verify cannot take, or an input it names another command for
		}
		valid := strings.HasSuffix(out.String(), "verdict: valid\n")
		if code != exitValid && code != exitInvalid || valid != (code == exitValid) {
			t.Fatalf("exit %d with %q", code, out.String())
		}
		ev, err := webhooks[i].Explain(n, nil)
		if strings.Contains(out.String(), "\nkind: answer\n") {
			return // an API answer: FuzzVerifyCommand judges those
		}
		if valid != (err == nil) {
			t.Fatalf("%s: verdict valid=%v, the webhook's %v (event %v): Content-Encoding %q, Content-Type %q, gzip %v\n%s",
				p.name, valid, err, ev != nil, contentEncoding, contentType, compress, out.String())
		}
	})
}
