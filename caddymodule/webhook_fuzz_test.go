package caddymodule

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzWebhookFraming: a CBTIS notification, valid or with one byte changed,
// sent to minipay_webhook at any request target, with or without a
// Content-Length (chunked, trailers), gzip-compressed or not under any
// Content-Encoding, with any extra header: the merchant gets the event
// exactly when the webhook's Verify accepts the notification as received,
// and then only the event (README Webhooks): POST, the path with no dot
// segment or empty one and no query, Content-Type and the two Minipay-*
// headers alone, the body with its Content-Length and no framing of the
// provider's. A refused notification reaches nobody; either way, the
// request is the provider's again once the handler returns (Caddy's access
// log reads it).
func FuzzWebhookFraming(f *testing.F) {
	f.Add("/webhooks/cbtis?token=x", false, false, "", "X-Trailer", "Cookie", "a=b", uint16(0))
	f.Add("/webhooks/cbtis", true, true, "gzip", "X-Trailer", "Minipay-Event-Id", "forged", uint16(0))
	f.Add("/admin/x/../../webhooks/cbtis", true, false, "identity", "", "Minipay_Event_Id", "forged", uint16(0))
	f.Add("//webhooks/%2e%2e/cbtis/.", false, true, "x-gzip, identity", "Signature", "Host", "evil", uint16(0))
	f.Add("/webhooks/cbtis", true, true, "gzip, gzip", "", "Content-Length", "1", uint16(0))
	f.Add("/webhooks/cbtis", false, false, "br", "", "Transfer-Encoding", "chunked", uint16(0))
	f.Add("/webhooks/cbtis", false, false, "", "", "", "", uint16(77<<8|5))
	providers := fuzzProviders(f)
	const cbtis = 1
	webhook := fuzzWebhooks(f, providers)[cbtis]
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	h := &Webhook{providerHandler: providerHandler{name: "cbtis", logger: zap.NewNop(), metrics: m}, webhook: webhook.(transform.Webhook)}
	f.Fuzz(func(t *testing.T, target string, chunked, compress bool, contentEncoding, trailer, extraName, extraValue string, flip uint16) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		content := []byte(cbtisBody)
		if flip != 0 {
			content = transformtest.Flipped(content, flip, byte(flip>>8))
		}
		body := content
		if compress {
			body = transformtest.Gzip(content)
		}
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.URL, r.RequestURI = u, target
		r.Header = http.Header{"Signature": {cbtisSig}}
		if strings.EqualFold(extraName, "Signature") || strings.EqualFold(extraName, "Content-Encoding") {
			extraName = ""
		}
		putBack := frameRequest(r, contentEncoding, trailer, extraName, extraValue, chunked)
		received := r.Clone(r.Context())

		var forwarded *http.Request
		var event []byte
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			forwarded = r.Clone(r.Context())
			event, _ = io.ReadAll(r.Body)
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		ev, verr := webhook.Explain(transform.Notification{Header: received.Header, Body: body}, nil)
		if verr != nil {
			if forwarded != nil || w.Code != http.StatusUnauthorized {
				t.Fatalf("refused (%v) but %d, forwarded %v", verr, w.Code, forwarded != nil)
			}
		} else {
			if forwarded == nil || w.Code != http.StatusOK || !bytes.Equal(event, transform.Marshal(ev)) {
				t.Fatalf("verified but %d, forwarded %q", w.Code, event)
			}
			// What reverse_proxy sends is RequestURI's path: no query, no
			// dot segment, no empty segment but a final one.
			sent, err := url.ParseRequestURI(forwarded.RequestURI)
			if forwarded.Method != http.MethodPost || err != nil || strings.Contains(forwarded.RequestURI, "?") || forwarded.Host != "" ||
				sent.Path != forwarded.URL.Path || strings.HasPrefix(u.Path, "/") && !cleanSegments(sent.Path) {
				t.Fatalf("forwarded %s %q (path %q, query %q), host %q, from %q", forwarded.Method, forwarded.RequestURI,
					forwarded.URL.Path, forwarded.URL.RawQuery, forwarded.Host, target)
			}
			wantHeader := []string{"Content-Type", "Minipay-Event-Id", "Minipay-Provider", "X-Forwarded-Host"}
			if keys := slices.Sorted(maps.Keys(forwarded.Header)); !slices.Equal(keys, wantHeader) || forwarded.Header["X-Forwarded-Host"] != nil ||
				forwarded.Header.Get("Minipay-Event-Id") != ev.ID || forwarded.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("forwarded headers %v", forwarded.Header)
			}
			if forwarded.ContentLength != int64(len(event)) || forwarded.TransferEncoding != nil || forwarded.Trailer != nil {
				t.Fatalf("forwarded framing: length %d for %d bytes, transfer encoding %v, trailer %v",
					forwarded.ContentLength, len(event), forwarded.TransferEncoding, forwarded.Trailer)
			}
		}
		putBack(t)
	})
}

// cleanSegments tells an absolute path of no "." or ".." segment and no
// empty one but the last.
func cleanSegments(p string) bool {
	segments := strings.Split(p, "/")
	for i, seg := range segments[1:] {
		if seg == "." || seg == ".." || seg == "" && i != len(segments)-2 {
			return false
		}
	}
	return strings.HasPrefix(p, "/")
}

// frameRequest gives r, the sender's request, a Content-Encoding, a
// trailer, one more header and chunked framing (each when set), and returns
// the check that r is that request again once a handler returned: method,
// target, Host, headers, framing and body, and no GetBody; its Trailer is
// the sender's, or none once the request was sent on (not put back:
// TestHandlerLeavesTrailerToTheTransport).
func frameRequest(r *http.Request, contentEncoding, trailer, extraName, extraValue string, chunked bool) func(*testing.T) {
	if contentEncoding != "" {
		r.Header.Set("Content-Encoding", contentEncoding)
	}
	if extraName != "" {
		r.Header.Add(extraName, extraValue)
	}
	if chunked {
		r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
	}
	if trailer != "" {
		r.Trailer = http.Header{trailer: {"sender's trailer"}}
	}
	received, body := r.Clone(r.Context()), r.Body
	equal := func(a, b http.Header) bool { return maps.EqualFunc(a, b, slices.Equal) }
	return func(t *testing.T) {
		t.Helper()
		if r.Method != received.Method || r.RequestURI != received.RequestURI || r.URL.String() != received.URL.String() || r.Host != received.Host ||
			!equal(r.Header, received.Header) || r.Trailer != nil && !equal(r.Trailer, received.Trailer) || r.ContentLength != received.ContentLength ||
			!slices.Equal(r.TransferEncoding, received.TransferEncoding) || r.Body != body || r.GetBody != nil {
			t.Fatalf("the sender's request is not put back: %s %q %v length %d %v", r.Method, r.RequestURI, r.Header, r.ContentLength, r.TransferEncoding)
		}
	}
}
