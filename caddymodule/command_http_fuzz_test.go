package caddymodule

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// httpMessageSeeds are every provider's signed notification written as
// the HTTP request it came in: Content-Length or chunked framing, CRLF or
// LF line ends, an Expect: 100-continue header.
func httpMessageSeeds(tb testing.TB) (which []uint8, messages [][]byte) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		tb.Fatal(err)
	}
	v3, v3head := v3NotificationAt(tb, fuzzAt)
	providers := fuzzProviders(tb)
	bodies := [][]byte{v2, []byte(cbtisBody), []byte(latipayBody), []byte(twoc2pEnvelope), v3}
	heads := [][]string{nil, {"Signature: " + cbtisSig}, nil, nil, v3head}
	for i, p := range providers {
		head := "POST /webhooks/" + p.name + " HTTP/1.1\r\nHost: merchant.example\r\n"
		for _, h := range heads[i] {
			head += h + "\r\n"
		}
		body := bodies[i]
		which = append(which, uint8(i), uint8(i), uint8(i))
		messages = append(messages,
			[]byte(head+"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+string(body)),
			[]byte(strings.ReplaceAll(head+"Expect: 100-continue\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n", "\r\n", "\n")+string(body)),
			[]byte(head+"Transfer-Encoding: chunked\r\n\r\n"+strconv.FormatInt(int64(len(body)/2), 16)+"\r\n"+string(body[:len(body)/2])+"\r\n"+
				strconv.FormatInt(int64(len(body)-len(body)/2), 16)+";x=1\r\n"+string(body[len(body)/2:])+"\r\n0\r\n\r\n"))
	}
	return which, messages
}

// FuzzVerifyHTTPMessage: `caddy minipay verify` given a notification saved
// as the whole HTTP request it came in (README "caddy minipay verify")
// gives the verdict minipay_webhook gives the same request read by
// net/http, as Caddy's server reads it: valid exactly when the handler
// forwards it. Requests Go's server refuses before any handler runs (no
// Host, a header field value with a control character, a body whose
// framing does not read), and ones without Content-Length or chunked
// framing (no body for the server; the rest of the file for verify) are
// left out; so are signed API answers, which verify calls valid and the
// webhook never forwards. Nothing printed holds a configured key.
func FuzzVerifyHTTPMessage(f *testing.F) {
	which, messages := httpMessageSeeds(f)
	for i := range messages {
		f.Add(which[i], messages[i])
	}
	providers := fuzzProviders(f)
	webhooks := fuzzWebhooks(f, providers)
	handlers := fuzzWebhookHandlers(f, providers, webhooks)
	var keys []string
	for _, p := range providers {
		for _, s := range p.sets {
			if k, v, _ := strings.Cut(s, "="); k == "api_key" || k == "secret_key" || k == "api_v3_key" {
				keys = append(keys, v)
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, message []byte) {
		i := int(which) % len(providers)
		p := providers[i]
		args := []string{"verify", "--provider", p.name, "--at", fuzzAt, "--file", "-"}
		for _, s := range p.sets {
			args = append(args, "--set", s)
		}
		var out, errOut bytes.Buffer
		code := runMinipay(args, bytes.NewReader(message), &out, &errOut)
		for _, k := range keys {
			if strings.Contains(out.String()+errOut.String(), k) {
				t.Fatalf("%s: key %q printed:\n%s%s", p.name, k, out.String(), errOut.String())
			}
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(message)))
		if err != nil || r.Method != http.MethodPost || r.ProtoAtLeast(1, 1) && r.Host == "" ||
			r.Header.Get("Content-Length") == "" && len(r.TransferEncoding) == 0 {
			return
		}
		for _, vs := range r.Header {
			for _, v := range vs {
				if strings.ContainsFunc(v, func(c rune) bool { return c < ' ' && c != '\t' || c == 0x7f }) {
					return
				}
			}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil || len(body) > maxBody {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.RemoteAddr = "192.0.2.1:1234"
		forwarded := false
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			forwarded = true
			w.WriteHeader(http.StatusOK)
			return nil
		})
		w := httptest.NewRecorder()
		if err := handlers[i].ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		if code == exitUsage || strings.Contains(out.String(), "\nkind: answer\n") {
			if forwarded {
				t.Fatalf("%s: the webhook forwards what verify refuses to read (exit %d, %q %q): %q", p.name, code, out.String(), errOut.String(), message)
			}
			return
		}
		if valid := code == exitValid; valid != forwarded {
			t.Fatalf("%s: verify says valid=%v, the webhook forwarded=%v (%d %q)\n%s%s\nmessage %q",
				p.name, valid, forwarded, w.Code, w.Body, out.String(), errOut.String(), message)
		}
	})
}
