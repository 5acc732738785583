package caddymodule

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// providerHeaders are the only fields a wechat_v2 call carries, with their
// values (README Merchant API: the merchant's headers and Host never reach
// the provider). A nil value is one reverse_proxy and Go's transport leave
// out. Idempotency-Key is the call's own (takeIdempotencyKey).
var providerHeaders = map[string][]string{"Accept": {"*/*"}, "Content-Type": {"text/xml; charset=utf-8"},
	"User-Agent": {"caddy-minipay"}, "X-Forwarded-Host": nil}

// FuzzMerchantFraming: a merchant request for any operation and body, with
// or without a Content-Length (chunked, a trailer), gzip-compressed or not
// under any Content-Encoding, with any extra header: the provider gets a
// request only when the merchant's is valid, and then its own body with its
// Content-Length and none of the merchant's framing, header or Host; once
// the handler returns, the request is the merchant's again (Caddy's access
// log reads it), without the provider body's GetBody.
func FuzzMerchantFraming(f *testing.F) {
	f.Add(uint8(0), []byte(payJSON), false, false, "", "", "Authorization", "Bearer merchant-token")
	f.Add(uint8(0), []byte(payJSON), true, true, "gzip", "X-Trailer", "Cookie", "a=b")
	f.Add(uint8(1), []byte(`{"order_id":"O1"}`), true, false, "identity", "Content-Length", "User-Agent", "merchant/1")
	f.Add(uint8(3), []byte(`{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"CNY"}`), false, true, "x-gzip", "", "Host", "evil.example")
	f.Add(uint8(0), []byte(payJSON), false, false, "br", "", "Content-Type", "text/plain")
	h := newTestHandler(f, io.Discard, zapcore.ErrorLevel)
	ops := []string{"pay", "query", "close", "refund", "refund_query", "nothing"}
	f.Fuzz(func(t *testing.T, op uint8, content []byte, chunked, compress bool, contentEncoding, trailer, extraName, extraValue string) {
		body := content
		if compress {
			body = transformtest.Gzip(content)
		}
		r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/"+ops[int(op)%len(ops)], bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		putBack := frameRequest(r, contentEncoding, trailer, extraName, extraValue, chunked)

		var sent *http.Request
		var sentBody []byte
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			sent = r.Clone(r.Context())
			sentBody, _ = io.ReadAll(r.Body)
			return upstream(signedPayAnswer()).ServeHTTP(w, r)
		})
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		switch {
		case w.Code >= 400 && w.Code <= 499:
			if sent != nil {
				t.Fatalf("refused with %d, yet the provider got %q", w.Code, sentBody)
			}
		case sent == nil:
			t.Fatalf("HTTP %d without a call: %s", w.Code, w.Body)
		default:
			if sent.ContentLength != int64(len(sentBody)) || sent.TransferEncoding != nil || sent.Trailer != nil ||
				!bytes.HasPrefix(sentBody, []byte("<xml>")) || sent.Host != "" {
				t.Fatalf("the provider's request: length %d for %q, transfer encoding %v, trailer %v, host %q",
					sent.ContentLength, sentBody, sent.TransferEncoding, sent.Trailer, sent.Host)
			}
			takeIdempotencyKey(t, sent.Header)
			for k, v := range sent.Header {
				if want, ok := providerHeaders[k]; !ok || !slices.Equal(v, want) || want == nil && v != nil {
					t.Fatalf("the provider's request carries %s: %q (the merchant sent %s: %q)", k, v, extraName, extraValue)
				}
			}
		}
		putBack(t)
	})
}
