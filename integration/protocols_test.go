package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"
	"time"
)

// protocolCase is one request of TestMerchantRoutesOverEveryProtocol and
// what answers it.
type protocolCase struct {
	name, method, path, contentType, encoding, body string
	status                                          int
	// the answer: the merchant API's error code ("" for a success), or
	// the webhook failure form's Content-Type
	code, nackType string
}

// protocolCases are answered alike over every protocol, one after the
// other on one connection: errors refused before the body is read (its
// bytes left on the connection for the server to skip), after it, and
// successes.
func protocolCases() []protocolCase {
	pay := `{"order_id":"PROTO-1","amount":"1.00","currency":"CNY","description":"d","openid":"o-protocols"}`
	return []protocolCase{
		{"GET", "GET", "/wechat/pay", "", "", "", 405, "method_not_allowed", ""},
		{"HEAD", "HEAD", "/wechat/pay", "", "", "", 405, "", ""},
		{"OPTIONS", "OPTIONS", "/wechat/pay", "", "", "", 405, "method_not_allowed", ""},
		{"PUT with a body", "PUT", "/wechat/pay", "application/json", "", pay, 405, "method_not_allowed", ""},
		{"text/plain", "POST", "/wechat/pay", "text/plain", "", pay, 415, "unsupported_media_type", ""},
		{"form", "POST", "/wechat/pay", "application/x-www-form-urlencoded", "", "order_id=PROTO-1", 415, "unsupported_media_type", ""},
		{"no Content-Type", "POST", "/wechat/pay", "", "", pay, 415, "unsupported_media_type", ""},
		{"gzip", "POST", "/wechat/pay", "application/json", "gzip", pay, 415, "unsupported_media_type", ""},
		{"unknown operation", "POST", "/wechat/capture", "application/json", "", `{}`, 404, "unknown_operation", ""},
		{"trailing slash", "POST", "/wechat/pay/", "application/json", "", pay, 404, "unknown_operation", ""},
		{"too large", "POST", "/wechat/query", "application/json", "", `{"order_id":"` + strings.Repeat("A", 70<<10) + `"}`, 413, "request_too_large", ""},
		{"empty body", "POST", "/wechat/query", "application/json", "", "", 400, "invalid_request", ""},
		{"null", "POST", "/wechat/query", "application/json", "", "null", 400, "invalid_request", ""},
		{"array", "POST", "/wechat/query", "application/json", "", "[]", 400, "invalid_request", ""},
		{"empty object", "POST", "/wechat/query", "application/json", "", "{}", 400, "invalid_request", ""},
		{"refused by WeChat", "POST", "/wechat/query", "application/json; charset=UTF-8", "", `{"order_id":"PROTO-NONE"}`, 422, "provider_rejected", ""},
		{"pay", "POST", "/wechat/pay?trace=1", "application/json;charset=utf-8", "", pay, 200, "", ""},
		{"webhook method", "GET", "/webhooks/wechat_v2", "", "", "", 405, "", "text/xml; charset=utf-8"},
		{"webhook forged", "POST", "/webhooks/wechat_v2", "text/xml", "", "<xml><return_code>SUCCESS</return_code></xml>", 401, "", "text/xml; charset=utf-8"},
		{"webhook too large", "POST", "/webhooks/cbtis", "application/json", "", strings.Repeat(" ", 70<<10), 413, "", "text/plain; charset=utf-8"},
		{"pay again", "POST", "/wechat/pay", "application/json", "", pay, 200, "", ""},
	}
}

// check compares an answer with what c expects: status, Content-Type,
// a Content-Length equal to the body (none for HEAD), no-store on the
// merchant API, Allow on a 405, the error code, the pay object.
func (c protocolCase) check(t *testing.T, how string, status int, header http.Header, body []byte) {
	t.Helper()
	if status != c.status {
		t.Fatalf("%s %s: %d %s, want %d", how, c.name, status, body, c.status)
	}
	if status == 405 && header.Get("Allow") != "POST" {
		t.Errorf("%s %s: Allow %q", how, c.name, header.Get("Allow"))
	}
	if c.method != "HEAD" && header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("%s %s: Content-Length %q for %d bytes", how, c.name, header.Get("Content-Length"), len(body))
	}
	if c.nackType != "" {
		if ct := header.Get("Content-Type"); ct != c.nackType || len(body) == 0 {
			t.Errorf("%s %s: failure form %q %q, want %q", how, c.name, ct, body, c.nackType)
		}
		return
	}
	if header.Get("Content-Type") != "application/json" || header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s %s: Content-Type %q, Cache-Control %q", how, c.name, header.Get("Content-Type"), header.Get("Cache-Control"))
	}
	for name := range header { // nothing of the provider's answer reaches the merchant
		if strings.HasPrefix(name, "Wechatpay-") || name == "Set-Cookie" || name == "Request-Id" {
			t.Errorf("%s %s: the provider's %s", how, c.name, name)
		}
	}
	if c.method == "HEAD" {
		if len(body) != 0 {
			t.Errorf("%s HEAD: a body %q", how, body)
		}
		return
	}
	r := response{status: status, header: header, body: body}
	if c.code != "" {
		if code := r.errorOf(t)["code"]; code != c.code {
			t.Errorf("%s %s: code %v, want %s: %s", how, c.name, code, c.code, body)
		}
		return
	}
	if a := r.json(t); a["order_id"] != "PROTO-1" || !strings.HasPrefix(str(a["package"]), "prepay_id=") || str(a["paySign"]) == "" {
		t.Errorf("%s %s: %s", how, c.name, body)
	}
}

// TestMerchantRoutesOverEveryProtocol: the merchant API and a webhook route
// of Caddyfile.example answer alike over HTTP/1.1, HTTP/1.0 (keep-alive),
// h2c and HTTP/2 over TLS, every answer framed by its Content-Length and the
// next request served on the same connection, whether the body was read or
// refused unread (README "Merchant API", "Errors", "Webhooks").
func TestMerchantRoutesOverEveryProtocol(t *testing.T) {
	merchant, secure, sandbox := freePort(t), freePort(t), freePort(t)
	config := exampleConfig(t, merchant, sandbox, t.TempDir()+"/caddy.log", storageDir())
	config = strings.Replace(config, "\tskip_install_trust\n", "\tskip_install_trust\n\tlocal_certs\n\tauto_https disable_redirects\n\tservers {\n\t\tprotocols h1 h2 h2c\n\t}\n", 1)
	// The same site over TLS: Caddyfile.example's :8080 block, served at the secure port too.
	config = strings.Replace(config, ":"+itoa(merchant)+" {", ":"+itoa(merchant)+", https://localhost:"+itoa(secure)+" {", 1)
	startCaddy(t, config)
	cases := protocolCases()

	t.Run("HTTP/1.1", func(t *testing.T) {
		h1 := new(http.Protocols)
		h1.SetHTTP1(true)
		tr := &http.Transport{Protocols: h1, MaxConnsPerHost: 1}
		defer tr.CloseIdleConnections()
		clientOver(t, "HTTP/1.1", &http.Client{Transport: tr, Timeout: 20 * time.Second}, "http://localhost:"+itoa(merchant), 1, cases)
	})
	t.Run("h2c", func(t *testing.T) {
		h2c := new(http.Protocols)
		h2c.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: h2c}
		defer tr.CloseIdleConnections()
		clientOver(t, "h2c", &http.Client{Transport: tr, Timeout: 20 * time.Second}, "http://localhost:"+itoa(merchant), 2, cases)
	})
	t.Run("HTTP/2 over TLS", func(t *testing.T) {
		h2 := new(http.Protocols)
		h2.SetHTTP2(true)
		// Caddy's local CA signs the certificate; what is tested here is HTTP/2, not trust.
		tlsConfig := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", NextProtos: []string{"h2"}} //nolint:gosec
		// Caddy obtains the certificate once the configuration runs: wait for it.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			conn, err := tls.Dial("tcp", "localhost:"+itoa(secure), tlsConfig)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no TLS handshake: %v", err)
			}
		}
		tr := &http.Transport{Protocols: h2, TLSClientConfig: tlsConfig}
		defer tr.CloseIdleConnections()
		clientOver(t, "HTTP/2 TLS", &http.Client{Transport: tr, Timeout: 20 * time.Second}, "https://localhost:"+itoa(secure), 2, cases)
	})
	t.Run("HTTP/1.0 keep-alive", func(t *testing.T) {
		conn, err := net.Dial("tcp", "127.0.0.1:"+itoa(merchant))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		for _, c := range cases {
			var head strings.Builder
			head.WriteString(c.method + " " + c.path + " HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n")
			if c.contentType != "" {
				head.WriteString("Content-Type: " + c.contentType + "\r\n")
			}
			if c.encoding != "" {
				head.WriteString("Content-Encoding: " + c.encoding + "\r\n")
			}
			head.WriteString("Content-Length: " + strconv.Itoa(len(c.body)) + "\r\n\r\n" + c.body)
			if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(conn, head.String()); err != nil {
				t.Fatalf("%s: %v (the connection was not kept)", c.name, err)
			}
			res, err := http.ReadResponse(br, &http.Request{Method: c.method})
			if err != nil {
				t.Fatalf("%s: %v (the connection was not kept)", c.name, err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.ProtoMajor != 1 || res.ProtoMinor != 0 || res.Close {
				t.Fatalf("%s: HTTP/%d.%d, Connection: close %v, %v", c.name, res.ProtoMajor, res.ProtoMinor, res.Close, err)
			}
			c.check(t, "HTTP/1.0", res.StatusCode, res.Header, body)
		}
	})
}

// clientOver sends cases through client, in order, and checks that each
// answer came over protocol major version proto on the one connection the
// first request opened.
func clientOver(t *testing.T, how string, client *http.Client, base string, proto int, cases []protocolCase) {
	t.Helper()
	var first net.Conn
	for i, c := range cases {
		var conn net.Conn
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { conn = info.Conn }}
		var body io.Reader
		if c.body != "" {
			body = bytes.NewReader([]byte(c.body)) // with its length: Content-Length, not chunked
		}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), c.method, base+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		if c.encoding != "" {
			req.Header.Set("Content-Encoding", c.encoding)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", how, c.name, err)
		}
		answer, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.ProtoMajor != proto {
			t.Fatalf("%s %s: HTTP/%d, %v", how, c.name, res.ProtoMajor, err)
		}
		c.check(t, how, res.StatusCode, res.Header, answer)
		if i == 0 {
			first = conn
		} else if conn != first {
			t.Fatalf("%s %s: a new connection after %s", how, c.name, cases[i-1].name)
		}
	}
}

// TestNotificationToAnUnroutedPathIsRetried: Caddy answers a request that
// no route of a site handles with an empty 200, which is WeChat Pay v3's
// ACK (and 2C2P's, a bare 200): a notify URL with a typo or a trailing
// slash would lose every notification, acknowledged and never retried, and
// the sandbox would report it acknowledged. Caddyfile.example ends its
// merchant site with a 404 for every other path (README "Webhooks").
func TestNotificationToAnUnroutedPathIsRetried(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base, sb := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	for _, tt := range []struct{ provider, route, pay string }{
		{"wechat_v3", "/wechat_v3/pay", `{"order_id":"UNROUTED-V3","amount":"1.00","currency":"CNY","description":"d","openid":"o-unrouted","notify_url":"` + base + `/webhooks/wechat_v3/"}`},
		{"2c2p", "/2c2p/pay", `{"order_id":"UNROUTED-2C2P","amount":"1.00","currency":"SGD","description":"d","openid":"o-unrouted","notify_url":"` + base + `/webhook/2c2p"}`},
	} {
		if r := postJSON(t, tc, base+tt.route, tt.pay); r.status != 200 {
			t.Fatalf("%s pay: %d %s", tt.provider, r.status, r.body)
		}
		var order struct {
			OrderID string `json:"order_id"`
		}
		if err := json.Unmarshal([]byte(tt.pay), &order); err != nil {
			t.Fatal(err)
		}
		r := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"`+tt.provider+`","order_id":"`+order.OrderID+`","result":"succeeded"}`)
		if res := r.json(t); r.status != 200 || res["delivered"] != true || res["acknowledged"] != false || res["response_status"] != float64(404) {
			t.Errorf("%s notified at an unrouted path: %d %s, want delivered, answered 404, not acknowledged", tt.provider, r.status, r.body)
		}
	}
	for _, method := range []string{"GET", "POST"} {
		if r := do(t, tc, method, base+"/nowhere", "application/json", []byte(`{}`)); r.status != 404 {
			t.Errorf("%s /nowhere: %d %q, want 404", method, r.status, r.body)
		}
	}
}

// TestUnroutedPathKeepsTheConnection: Caddyfile.example's closing 404
// closes the connection of a request sent with Expect (c408479: answered at
// once, its body never asked for) and of no other: a stray request to a path
// no route handles (a scanner, a notify_url with a typo) leaves an HTTP/1.1
// keep-alive connection open and an HTTP/2 one without a GOAWAY, so the
// merchant backend's and the providers' requests on it go on (README
// "Webhooks").
func TestUnroutedPathKeepsTheConnection(t *testing.T) {
	merchant, sandbox := freePort(t), freePort(t)
	config := exampleConfig(t, merchant, sandbox, t.TempDir()+"/caddy.log", storageDir())
	config = strings.Replace(config, "\tskip_install_trust\n", "\tskip_install_trust\n\tservers {\n\t\tprotocols h1 h2c\n\t}\n", 1)
	startCaddy(t, config)
	for _, tt := range []struct {
		how   string
		proto int
		set   func(*http.Protocols)
	}{
		{"HTTP/1.1", 1, func(p *http.Protocols) { p.SetHTTP1(true) }},
		{"h2c", 2, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }},
	} {
		t.Run(tt.how, func(t *testing.T) {
			protocols := new(http.Protocols)
			tt.set(protocols)
			tr := &http.Transport{Protocols: protocols, MaxConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			var conns []net.Conn
			for _, path := range []string{"/nowhere", "/webhooks/wechat_v3/", "/wechat/query"} {
				var conn net.Conn
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { conn = info.Conn }}
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost,
					"http://localhost:"+itoa(merchant)+path, strings.NewReader(`{"order_id":"UNROUTED-1"}`))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if want := map[bool]int{true: 422, false: 404}[path == "/wechat/query"]; res.StatusCode != want || res.ProtoMajor != tt.proto || res.Close {
					t.Fatalf("%s: HTTP/%d %d, Connection: close %v; want %d on an open connection", path, res.ProtoMajor, res.StatusCode, res.Close, want)
				}
				conns = append(conns, conn)
			}
			if conns[1] != conns[0] || conns[2] != conns[0] {
				t.Fatalf("a new connection after a 404 of the closing handle: %v", conns)
			}
		})
	}
}

// TestRouteBodyLimitIsTooLarge: a route may bound bodies below the
// plugin's 64 KiB with Caddy's request_body max_size; a body that passes
// that bound mid-read (chunked, so Caddy cannot refuse it by its length)
// is what it is, too large: 413 request_too_large on the merchant API and
// the failure form with 413 on a webhook, not an unreadable body's 400
// (README "Errors", "Webhooks").
func TestRouteBodyLimitIsTooLarge(t *testing.T) {
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(t.TempDir()+"/caddy.log")+`
:`+port+` {
	request_body {
		max_size 1KB
	}
	handle /wechat/* {
		`+wechatV2Minipay+`
		reverse_proxy 127.0.0.1:9
	}
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
		}
		reverse_proxy 127.0.0.1:9
	}
}
`)
	big := `{"order_id":"` + strings.Repeat("A", 2000) + `"}`
	for _, tt := range []struct {
		path, contentType string
		code, nackType    string
	}{
		{"/wechat/query", "application/json", "request_too_large", ""},
		{"/webhooks/wechat_v2", "text/xml", "", "text/xml; charset=utf-8"},
	} {
		// io.MultiReader hides the length: the body goes chunked.
		req, err := http.NewRequest("POST", "http://localhost:"+port+tt.path, io.MultiReader(strings.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", tt.contentType)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Errorf("%s: %d %s, want 413", tt.path, res.StatusCode, body)
			continue
		}
		if tt.code != "" {
			r := response{status: res.StatusCode, header: res.Header, body: body}
			if e := r.errorOf(t); e["code"] != tt.code || strings.Contains(str(e["message"]), "64 KiB") {
				t.Errorf("%s: %s", tt.path, body)
			}
		} else if ct := res.Header.Get("Content-Type"); ct != tt.nackType {
			t.Errorf("%s: failure form %q %s", tt.path, ct, body)
		}
	}
	// With its length announced, Caddy's request_body refuses it itself, before minipay, with an empty 413.
	if r := do(t, tc, "POST", "http://localhost:"+port+"/wechat/query", "application/json", []byte(big)); r.status != 413 || len(r.body) != 0 {
		t.Errorf("announced length: %d %q, want Caddy's empty 413", r.status, r.body)
	}
}
