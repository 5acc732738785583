package integration

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// closingUpstream is a raw HTTP/1.1 server (over TLS when tls is set)
// that closes its first connection, unanswered, once it has read that
// connection's second request: a keep-alive connection the server closes
// just as reverse_proxy reuses it. Every other request gets answer's reply.
// It counts the connections, the requests and those that carried an
// idempotency header on the wire, and keeps each request's Idempotency-Key
// in order ("" for none).
type closingUpstream struct {
	addr                     string
	conns, requests, idemKey atomic.Int64
	mu                       sync.Mutex
	keys                     []string
}

// serveConns accepts connections on a new loopback listener until the test
// ends and hands each to handle with its number (from 1); it returns the
// listener's address. The cleanup closes every connection: reverse_proxy
// keeps an idle one for minutes.
func serveConns(t *testing.T, handle func(c net.Conn, n int64)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := int64(1); ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c, n)
			}()
		}
	}()
	return ln.Addr().String()
}

func newClosingUpstream(t *testing.T, answer func(body []byte) string) *closingUpstream {
	t.Helper()
	return newClosingUpstreamTLS(t, nil, answer)
}

func newClosingUpstreamTLS(t *testing.T, cfg *tls.Config, answer func(body []byte) string) *closingUpstream {
	t.Helper()
	u := &closingUpstream{}
	u.addr = serveConns(t, func(c net.Conn, n int64) {
		if cfg != nil {
			c = tls.Server(c, cfg)
		}
		u.conns.Add(1)
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			u.requests.Add(1)
			u.mu.Lock()
			u.keys = append(u.keys, req.Header.Get("Idempotency-Key"))
			u.mu.Unlock()
			if _, ok := req.Header["Idempotency-Key"]; ok {
				u.idemKey.Add(1)
			} else if _, ok := req.Header["X-Idempotency-Key"]; ok {
				u.idemKey.Add(1)
			}
			if n == 1 && i == 1 { // the first connection's second request: closed unanswered
				return
			}
			if _, err := io.WriteString(c, answer(body)); err != nil {
				return
			}
		}
	})
	return u
}

// check compares the counts with what the test expects, for calls minipay
// does not send again: none carries an idempotency header.
func (u *closingUpstream) check(t *testing.T, requests, conns int64) {
	t.Helper()
	u.checkCounts(t, requests, conns)
	if got := u.idemKey.Load(); got != 0 {
		t.Errorf("%d requests carried an Idempotency-Key header on the wire; only WeChat's calls are marked", got)
	}
}

func (u *closingUpstream) checkCounts(t *testing.T, requests, conns int64) {
	t.Helper()
	if got := u.requests.Load(); got != requests {
		t.Errorf("the upstream got %d requests, want %d", got, requests)
	}
	if got := u.conns.Load(); got != conns {
		t.Errorf("reverse_proxy opened %d connections, want %d", got, conns)
	}
}

// httpAnswer is an HTTP/1.1 answer with a Content-Length.
func httpAnswer(status, contentType, body string) string {
	h := "HTTP/1.1 " + status + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	if contentType != "" {
		h += "Content-Type: " + contentType + "\r\n"
	}
	return h + "\r\n" + body
}

// nonIdempotentRoutes is a site on port with a Latipay route to latipay
// and a wechat_v2 webhook route to merchant, each through reverse_proxy
// with the given options block ("" for none).
func nonIdempotentRoutes(port, latipay, merchant, proxyOptions string) string {
	return `
:` + port + ` {
	handle /latipay/* {
		minipay latipay {
			user_id ` + latipayUserID + `
			wallet_id ` + latipayWalletID + `
			app_id ` + latipayAppID + `
			currency NZD
			api_key ` + latipayAPIKey + `
		}
		reverse_proxy ` + latipay + proxyOptions + `
	}
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + apiKey + `
		}
		reverse_proxy ` + merchant + proxyOptions + `
	}
}
`
}

// TestProviderClosesReusedConnection: a provider closes a keep-alive
// connection just as reverse_proxy reuses it (the request arrives, no byte
// of an answer leaves). WeChat keys every call by the merchant's numbers
// (docs/providers/wechat_v2.md "Sending a call again"), so Go's transport
// sends the call again on a fresh connection and the merchant gets the
// answer, not a 502; the call sent again carries the same Idempotency-Key,
// each call its own. Also when reverse_proxy has header operations, which
// rebuild the request's header map for each attempt: a header_up, or an
// HTTPS upstream (Caddy's transport then sets Host itself), the case of
// every production WeChat route. README "Under faults and reloads".
func TestProviderClosesReusedConnection(t *testing.T) {
	s := httptest.NewUnstartedServer(nil)
	s.StartTLS()
	serverTLS := s.TLS.Clone()
	s.Close()
	for _, tc := range []struct {
		name    string
		tls     *tls.Config
		options string
	}{
		{"plain", nil, ""},
		{"header_up", nil, " {\n\t\theader_up X-Probe 1\n\t}"},
		{"https upstream", serverTLS, " {\n\t\ttransport http {\n\t\t\ttls_insecure_skip_verify\n\t\t}\n\t}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upstream := newClosingUpstreamTLS(t, tc.tls, func(body []byte) string {
				_, p, err := transform.ParseFlatXML(body)
				if err != nil || !wxpay.Verify(p, apiKey, p.Get("sign_type")) {
					return httpAnswer("400 Bad Request", "", "")
				}
				return httpAnswer("200 OK", "text/xml", string(signedPayAnswer("wx"+p.Get("out_trade_no"), apiKey, "MD5")))
			})
			addr := upstream.addr
			if tc.tls != nil {
				addr = "https://" + addr
			}
			port := itoa(freePort(t))
			caddy := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+`
:`+port+` {
	route /wechat/* {
		`+wechatV2Minipay+`
		reverse_proxy `+addr+tc.options+`
	}
}
`)
			for _, orderID := range []string{"KA-1", "KA-2", "KA-3"} {
				res := postJSON(t, caddy, "http://localhost:"+port+"/wechat/pay",
					`{"order_id":"`+orderID+`","amount":"1.00","currency":"CNY","description":"d","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
				if res.status != http.StatusOK || str(res.json(t)["package"]) != "prepay_id=wx"+orderID {
					t.Fatalf("pay %s: HTTP %d %s", orderID, res.status, res.body)
				}
			}
			upstream.checkCounts(t, 4, 2) // KA-2 twice: on the closed connection, then on a new one
			upstream.mu.Lock()
			keys := upstream.keys
			upstream.mu.Unlock()
			if len(keys) == 4 && (keys[0] == "" || keys[1] == "" || keys[3] == "" || keys[1] != keys[2] ||
				keys[0] == keys[1] || keys[1] == keys[3] || keys[0] == keys[3]) {
				t.Errorf("Idempotency-Key of KA-1, KA-2 twice, KA-3: %q; want one of its own for each call, the same when sent again", keys)
			}
		})
	}
}

// TestNonIdempotentCallsNotSentAgain: what WeChat's calls may do, no other
// call may. A Latipay refund (no merchant number keys it) whose reused
// connection the provider closes after reading it is sent once and is a
// 502; a verified notification that minipay_webhook forwards to a merchant
// backend that closes the reused connection after reading it is forwarded
// once and answered with the provider's failure form, so that the provider
// (not Go's transport) sends it again. README "Under faults and reloads".
func TestNonIdempotentCallsNotSentAgain(t *testing.T) {
	latipay := newClosingUpstream(t, func([]byte) string {
		return httpAnswer("200 OK", "application/json", `{"code":0,"message":"SUCCESS"}`)
	})
	merchant := newClosingUpstream(t, func([]byte) string { return httpAnswer("200 OK", "", "") })
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+nonIdempotentRoutes(port, latipay.addr, merchant.addr, ""))
	wantRefund := []int{http.StatusOK, http.StatusBadGateway, http.StatusOK}
	for i, want := range wantRefund {
		res := postJSON(t, tc, "http://localhost:"+port+"/latipay/refund",
			`{"order_id":"LP-KA","refund_id":"R`+itoa(i)+`","amount":"1.00","currency":"NZD","provider_order_id":"LP-KA-1"}`)
		if res.status != want {
			t.Fatalf("refund %d: HTTP %d %s, want %d", i, res.status, res.body, want)
		}
	}
	latipay.check(t, 3, 2) // the second refund once, on the closed connection

	for i, want := range []int{http.StatusOK, http.StatusInternalServerError, http.StatusOK} {
		n := notification(apiKey, wechatv2.SignMD5, set("transaction_id", "42000001232026112200000000"+itoa(i)))
		res := do(t, tc, http.MethodPost, "http://localhost:"+port+"/webhooks/wechat_v2", "text/xml", []byte(xmlOf(n)))
		if res.status/100 != want/100 || (want == http.StatusOK) != strings.Contains(string(res.body), "SUCCESS") {
			t.Fatalf("notification %d: HTTP %d %s, want %d", i, res.status, res.body, want)
		}
	}
	merchant.check(t, 3, 2) // the second event once, on the closed connection
}

// resettingH2C is a raw HTTP/2 (h2c, prior knowledge) server that resets
// its first stream with PROTOCOL_ERROR once it has read the whole request,
// and answers every other one 500 with no body. It counts the requests
// (streams) it read to their end.
type resettingH2C struct {
	addr     string
	requests atomic.Int64
}

func newResettingH2C(t *testing.T) *resettingH2C {
	t.Helper()
	s := &resettingH2C{}
	// frame writes one HTTP/2 frame (RFC 9113 §4.1).
	frame := func(c net.Conn, typ, flags byte, stream uint32, payload []byte) error {
		h := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags,
			byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
		_, err := c.Write(append(h, payload...))
		return err
	}
	const (
		typeData, typeHeaders, typeRSTStream, typeSettings = 0x0, 0x1, 0x3, 0x4
		flagEndStream, flagAck, flagEndHeaders             = 0x1, 0x1, 0x4
	)
	s.addr = serveConns(t, func(c net.Conn, _ int64) {
		br := bufio.NewReader(c)
		if _, err := io.ReadFull(br, make([]byte, len(http2Preface))); err != nil || frame(c, typeSettings, 0, 0, nil) != nil {
			return
		}
		for {
			var h [9]byte
			if _, err := io.ReadFull(br, h[:]); err != nil {
				return
			}
			payload := make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
			if _, err := io.ReadFull(br, payload); err != nil {
				return
			}
			typ, flags, stream := h[3], h[4], uint32(h[5]&0x7f)<<24|uint32(h[6])<<16|uint32(h[7])<<8|uint32(h[8])
			var err error
			switch {
			case typ == typeSettings && flags&flagAck == 0:
				err = frame(c, typeSettings, flagAck, 0, nil)
			case (typ == typeData || typ == typeHeaders) && flags&flagEndStream != 0:
				if s.requests.Add(1) == 1 {
					err = frame(c, typeRSTStream, 0, stream, []byte{0, 0, 0, 1}) // PROTOCOL_ERROR
				} else {
					err = frame(c, typeHeaders, flagEndHeaders|flagEndStream, stream, []byte{0x8e}) // :status 500 (HPACK static index 14)
				}
			}
			if err != nil {
				return
			}
		}
	})
	return s
}

const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// TestNonIdempotentCallsNotSentAgainOverHTTP2: every body minipay sends
// can be read again (GetBody), which lets an HTTP/2 transport send a request
// again when the upstream refused its stream unprocessed; an upstream that
// resets a stream with PROTOCOL_ERROR after reading the whole request may
// have acted on it, and the x/net/http2 Caddy configures does not send it
// again (net/http's own bundled copy would). A Latipay refund and a
// forwarded webhook event (neither idempotent) reach such an upstream once:
// a 502, and the provider's failure form. README "Under faults and reloads".
func TestNonIdempotentCallsNotSentAgainOverHTTP2(t *testing.T) {
	latipay, merchant := newResettingH2C(t), newResettingH2C(t)
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+
		nonIdempotentRoutes(port, latipay.addr, merchant.addr, " {\n\t\t\ttransport http {\n\t\t\t\tversions h2c\n\t\t\t}\n\t\t}"))
	res := postJSON(t, tc, "http://localhost:"+port+"/latipay/refund",
		`{"order_id":"LP-H2","refund_id":"R1","amount":"1.00","currency":"NZD","provider_order_id":"LP-H2-1"}`)
	if res.status != http.StatusBadGateway {
		t.Errorf("refund: HTTP %d %s, want 502", res.status, res.body)
	}
	if got := latipay.requests.Load(); got != 1 {
		t.Errorf("the Latipay refund reached the provider %d times, want once", got)
	}

	res = do(t, tc, http.MethodPost, "http://localhost:"+port+"/webhooks/wechat_v2", "text/xml", []byte(xmlOf(notification(apiKey, wechatv2.SignMD5, nil))))
	if res.status/100 != 5 || strings.Contains(string(res.body), "SUCCESS") {
		t.Errorf("notification: HTTP %d %s, want the failure form with a 5xx", res.status, res.body)
	}
	if got := merchant.requests.Load(); got != 1 {
		t.Errorf("the event reached the merchant backend %d times, want once", got)
	}
}
