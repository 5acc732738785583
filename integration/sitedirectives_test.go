package integration

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// wechatV2AckLiteral is WeChat Pay v2's success ACK as README "Webhooks"
// (and WeChat's notification page) writes it, byte for byte.
const wechatV2AckLiteral = `<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>`

// gunzipped is body as the client reads it: inflated when the answer says
// Content-Encoding gzip, as is otherwise.
func gunzipped(t *testing.T, r response) []byte {
	t.Helper()
	if r.header.Get("Content-Encoding") != "gzip" {
		return r.body
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("Content-Encoding gzip, but the body is no gzip stream: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stallingUpstream reads each request and never answers (until the test
// ends): a provider slower than the route's response_header_timeout.
func stallingUpstream(t *testing.T) string {
	return serveConns(t, func(c net.Conn, _ int64) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			_, _ = io.Copy(io.Discard, c) // until the cleanup closes c
		}
	})
}

// TestSiteDirectivesAroundTheRoutes: the directives a real site puts
// beside minipay, minipay_webhook and minipay_sandbox, as README "Beside
// Caddy's other directives" describes them. encode compresses the plugin's
// answers for a client that asks (the merchant's success and error JSON,
// the webhook's ACK, which inflates to WeChat's ACK byte for byte, the
// console), leaves an ACK as it is under the default minimum_length, and
// does not disturb the plugin's calls to a sandbox site that compresses
// too. handle_errors never sees the plugin's answers (refusals, the 502
// and 504 of a provider refused or too slow, the webhook's failure form),
// only what Caddy's own handlers before it refuse (request_body's 413 for
// a Content-Length over max_size, an error inside the handle block); an
// error at the site level beside the handle block never runs for it; a
// metrics handler in its own handle block answers beside a catch-all one.
func TestSiteDirectivesAroundTheRoutes(t *testing.T) {
	site, plain, sandbox := itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t))
	refused, stalling := itoa(freePort(t)), stallingUpstream(t)
	merchant := "\t\t\tapp_id " + appID + "\n\t\t\tmch_id " + mchID + "\n\t\t\tapi_key " + apiKey + "\n"
	pay := "minipay wechat_v2 {\n" + merchant + "\t\t\tnotify_url http://localhost:" + site + "/webhooks/wechat_v2\n\t\t\tclient_ip 127.0.0.1\n\t\t}"
	webhook := "minipay_webhook wechat_v2 {\n" + merchant + "\t\t}"
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+site+` {
	encode gzip zstd {
		minimum_length 1
	}
	handle_errors {
		respond "handled {err.status_code}"
	}
	error /wechat/sitelevel/* "never runs: handle comes first" 403
	handle /wechat/* {
		error /wechat/blocked/* "guarded" 403
		`+pay+`
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /down/* {
		`+pay+`
		reverse_proxy 127.0.0.1:`+refused+`
	}
	handle /slow/* {
		`+pay+`
		reverse_proxy `+stalling+` {
			transport http {
				response_header_timeout 300ms
			}
		}
	}
	handle /small/* {
		request_body {
			max_size 100
		}
		`+pay+`
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /webhooks/wechat_v2 {
		`+webhook+`
		rewrite * /sandbox/merchant/events
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /webhooks/down {
		`+webhook+`
		reverse_proxy 127.0.0.1:`+refused+`
	}
	handle /metrics {
		metrics
	}
	handle {
		respond 404
	}
}

:`+plain+` {
	encode gzip zstd
	handle /webhooks/wechat_v2 {
		`+webhook+`
		rewrite * /sandbox/merchant/events
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
}

:`+sandbox+` {
	bind 127.0.0.1
	encode gzip zstd {
		minimum_length 1
	}
	minipay_sandbox wechat_v2 {
`+merchant+`	}
}
`)
	base := "http://localhost:" + site
	// Go's client asks for gzip itself (and inflates the answer) unless
	// the request names its own Accept-Encoding.
	gz, identity := []string{"Accept-Encoding", "gzip"}, []string{"Accept-Encoding", "identity"}
	payBody := func(orderID string) []byte {
		return []byte(`{"order_id":"` + orderID + `","amount":"1.00","currency":"CNY","description":"Tea","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
	}
	// sandboxKnows tells whether the sandbox holds orderID, by a query
	// through the guarded route (its own path is not guarded).
	sandboxKnows := func(orderID string) bool {
		t.Helper()
		r := postJSON(t, tc, base+"/wechat/query", `{"order_id":"`+orderID+`"}`)
		if r.status == 422 && r.errorOf(t)["provider_code"] == "ORDERNOTEXIST" {
			return false
		}
		if r.status != 200 {
			t.Fatalf("query %s: %d %s", orderID, r.status, r.body)
		}
		return true
	}

	// The merchant API's answers, compressed for a client that asks, read
	// as README documents them once inflated.
	for _, c := range []struct {
		name, method, path, contentType string
		body                            []byte
		header                          []string
		status                          int
		code                            string // the error code; "" for a pay answer
	}{
		{"pay, gzip", http.MethodPost, "/wechat/pay", "application/json", payBody("SITE-GZ"), gz, 200, ""},
		{"pay, identity", http.MethodPost, "/wechat/pay", "application/json", payBody("SITE-ID"), identity, 200, ""},
		{"pay, zstd asked", http.MethodPost, "/wechat/pay", "application/json", payBody("SITE-ZS"), []string{"Accept-Encoding", "zstd"}, 200, ""},
		{"invalid JSON", http.MethodPost, "/wechat/pay", "application/json", []byte(`{"order_id":`), gz, 400, "invalid_request"},
		{"unknown operation", http.MethodPost, "/wechat/nope", "application/json", payBody("SITE-X"), gz, 404, "unknown_operation"},
		{"GET", http.MethodGet, "/wechat/pay", "", nil, gz, 405, "method_not_allowed"},
		{"text/plain", http.MethodPost, "/wechat/pay", "text/plain", payBody("SITE-X"), gz, 415, "unsupported_media_type"},
		{"provider refuses the connection", http.MethodPost, "/down/pay", "application/json", payBody("SITE-DOWN"), gz, 502, "upstream_error"},
		{"provider too slow", http.MethodPost, "/slow/pay", "application/json", payBody("SITE-SLOW"), gz, 504, "upstream_timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, tc, c.method, base+c.path, c.contentType, c.body, c.header...)
			wantCoding := c.header[1]
			if wantCoding == "identity" {
				wantCoding = ""
			}
			if r.status != c.status || r.header.Get("Content-Encoding") != wantCoding ||
				r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("HTTP %d %v, want %d, Content-Encoding %q, the plugin's JSON headers", r.status, r.header, c.status, wantCoding)
			}
			if wantCoding == "zstd" {
				return // no zstd reader in the standard library: the coding is what is checked
			}
			r.body = gunzipped(t, r)
			if c.code == "" {
				if got := r.json(t); !strings.HasPrefix(str(got["package"]), "prepay_id=") || got["provider"] != "wechat_v2" {
					t.Fatalf("pay answer %s", r.body)
				}
				return
			}
			if got := r.errorOf(t)["code"]; got != c.code {
				t.Fatalf("error %s, want code %s", r.body, c.code)
			}
		})
	}

	// Caddy's own refusals before the plugin are handle_errors' to answer.
	t.Run("request_body over max_size by Content-Length", func(t *testing.T) {
		body := payBody("SITE-SMALL-" + strings.Repeat("X", 10))
		r := do(t, tc, http.MethodPost, base+"/small/pay", "application/json", body)
		if r.status != 413 || string(r.body) != "handled 413" {
			t.Fatalf("HTTP %d %q, want handle_errors' 413", r.status, r.body)
		}
		// Sent chunked, the body passes max_size while the plugin reads it:
		// the plugin's own 413.
		req, _ := http.NewRequest(http.MethodPost, base+"/small/pay", io.MultiReader(bytes.NewReader(body))) // no length: chunked
		req.Header.Set("Content-Type", "application/json")
		chunked := response{}
		chunked.status, chunked.body = send(t, req)
		if chunked.status != 413 || chunked.errorOf(t)["code"] != "request_too_large" {
			t.Fatalf("chunked: HTTP %d %s, want the plugin's 413 request_too_large", chunked.status, chunked.body)
		}
	})
	t.Run("error inside the handle block guards it", func(t *testing.T) {
		r := do(t, tc, http.MethodPost, base+"/wechat/blocked/pay", "application/json", payBody("SITE-BLOCKED"))
		if r.status != 403 || string(r.body) != "handled 403" || sandboxKnows("SITE-BLOCKED") {
			t.Fatalf("HTTP %d %q, want handle_errors' 403 and no order at the provider", r.status, r.body)
		}
	})
	t.Run("error at the site level beside the handle block never runs", func(t *testing.T) {
		r := do(t, tc, http.MethodPost, base+"/wechat/sitelevel/pay", "application/json", payBody("SITE-LEVEL"))
		if r.status != 200 || !sandboxKnows("SITE-LEVEL") {
			t.Fatalf("HTTP %d %s: Caddy ran the site-level error before the handle block; README's guard advice is out of date", r.status, r.body)
		}
	})

	// The webhook's ACK: compressed only for a provider that asks, and
	// then WeChat's ACK once inflated; under the default minimum_length
	// (512 bytes) it goes as it is.
	notify := xmlOf(notification(apiKey, wechatv2.SignMD5, set("out_trade_no", "SITE-GZ")))
	for _, c := range []struct {
		name, url, coding string
		header            []string
		status            int
		ack               bool
	}{
		{"ACK, gzip asked", base + "/webhooks/wechat_v2", "gzip", gz, 200, true},
		{"ACK, identity asked", base + "/webhooks/wechat_v2", "", identity, 200, true},
		{"ACK, default minimum_length", "http://localhost:" + plain + "/webhooks/wechat_v2", "", gz, 200, true},
		{"merchant backend refuses the connection", base + "/webhooks/down", "gzip", gz, 502, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, tc, http.MethodPost, c.url, "text/xml", []byte(notify), c.header...)
			if r.status != c.status || r.header.Get("Content-Encoding") != c.coding {
				t.Fatalf("HTTP %d %v, want %d with Content-Encoding %q", r.status, r.header, c.status, c.coding)
			}
			body := string(gunzipped(t, r))
			if c.ack != (body == wechatV2AckLiteral) || !c.ack && !strings.Contains(body, "<return_code><![CDATA[FAIL]]></return_code>") {
				t.Fatalf("body %q, want WeChat's ACK %v (else the failure form)", body, c.ack)
			}
		})
	}

	// The sandbox's notification reaches the webhook through both encode
	// handlers and gets the exact ACK; the console is compressed too.
	done := postJSON(t, tc, "http://127.0.0.1:"+sandbox+"/sandbox/complete", `{"provider":"wechat_v2","order_id":"SITE-ID","result":"succeeded"}`)
	if c := done.json(t); done.status != 200 || c["acknowledged"] != true || c["response_body"] != wechatV2AckLiteral {
		t.Fatalf("complete: %d %s", done.status, done.body)
	}
	console := do(t, tc, http.MethodGet, "http://127.0.0.1:"+sandbox+"/sandbox/", "", nil, gz...)
	if console.status != 200 || console.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("console: HTTP %d %v", console.status, console.header)
	}
	mustContain(t, string(gunzipped(t, console)), `data-order-id="SITE-ID" data-provider="wechat_v2"`, "console, inflated")

	metrics := do(t, tc, http.MethodGet, base+"/metrics", "", nil)
	mustContain(t, string(metrics.body), `caddy_minipay_requests_total{operation="pay",outcome="ok",provider="wechat_v2"}`, "metrics in its own handle block")
}

// droppingUpstream reads each request whole, counts it, and closes the
// connection unanswered: a provider (or merchant backend) that received a
// call and then failed.
type droppingUpstream struct {
	addr     string
	requests atomic.Int64
}

func newDroppingUpstream(t *testing.T) *droppingUpstream {
	u := &droppingUpstream{}
	u.addr = serveConns(t, func(c net.Conn, _ int64) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err == nil {
			u.requests.Add(1)
		}
	})
	return u
}

// TestProviderFailOver: WeChat's two hosts behind one reverse_proxy (README
// "Beside Caddy's other directives", "Production checklist"). With
// lb_policy first, lb_try_duration and fail_duration, a call whose
// connection the first upstream refused reaches the second whole (the
// sandbox verifies its signature over the body; a v3 call's Authorization
// and Wechatpay-Serial too), and a notification's event reaches the second
// merchant backend. A call the first upstream received is never sent to
// the second (the merchant gets 502, the provider the failure form), but
// for a GET query, which Caddy sends again; the next call goes to the
// second for fail_duration. Without fail_duration, first keeps choosing
// the refusing upstream: no fail-over at all.
func TestProviderFailOver(t *testing.T) {
	site, sandbox := itoa(freePort(t)), itoa(freePort(t))
	refusedA, refusedB, refusedC, refusedD := itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t))
	dropPay, dropV3, dropHook := newDroppingUpstream(t), newDroppingUpstream(t), newDroppingUpstream(t)
	backend := newMerchantBackend(t)
	backendAddr := strings.TrimPrefix(backend.srv.URL, "http://")
	merchant := "\t\t\tapp_id " + appID + "\n\t\t\tmch_id " + mchID + "\n\t\t\tapi_key " + apiKey + "\n"
	v2 := "minipay wechat_v2 {\n" + merchant + "\t\t\tnotify_url http://localhost:" + site + "/n\n\t\t\tclient_ip 127.0.0.1\n\t\t}"
	v3 := "minipay wechat_v3 {\n" + v3Merchant(t, v3PublicKeyMode(t)+"\t\tnotify_url http://localhost:"+site+"/n\n\t\tclient_ip 127.0.0.1\n") + "\t}"
	webhook := "minipay_webhook wechat_v2 {\n" + merchant + "\t\t}"
	failOver := func(first, second string) string {
		return "reverse_proxy " + first + " " + second + " {\n\t\t\tlb_policy first\n\t\t\tlb_try_duration 5s\n\t\t\tfail_duration 30s\n\t\t}"
	}
	sb := "127.0.0.1:" + sandbox
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+site+` {
	handle /refused/* {
		`+v2+`
		`+failOver("127.0.0.1:"+refusedA, sb)+`
	}
	handle /v3refused/* {
		`+v3+`
		`+failOver("127.0.0.1:"+refusedB, sb)+`
	}
	handle /received/* {
		`+v2+`
		`+failOver(dropPay.addr, sb)+`
	}
	handle /v3received/* {
		`+v3+`
		`+failOver(dropV3.addr, sb)+`
	}
	handle /nofailduration/* {
		`+v2+`
		reverse_proxy 127.0.0.1:`+refusedC+` `+sb+` {
			lb_policy first
			lb_try_duration 500ms
		}
	}
	handle /direct/* {
		`+v2+`
		reverse_proxy `+sb+`
	}
	handle /v3direct/* {
		`+v3+`
		reverse_proxy `+sb+`
	}
	handle /webhooks/refused {
		`+webhook+`
		`+failOver("127.0.0.1:"+refusedD, backendAddr)+`
	}
	handle /webhooks/received {
		`+webhook+`
		`+failOver(dropHook.addr, backendAddr)+`
	}
}

:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v2 {
`+merchant+`		}
		wechat_v3 {
`+v3Merchant(t, "\t\tplatform_private_key {file."+v3KeyPath(t, "wechatpay_platform_key.pem")+"}\n\t\tpublic_key_id "+v3PublicKeyID+"\n")+`		}
	}
}
`)
	base := "http://localhost:" + site
	pay := func(route, orderID string) response {
		return postJSON(t, tc, base+route+"/pay", `{"order_id":"`+orderID+`","amount":"1.00","currency":"CNY","description":"Tea","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
	}
	// status is the sandbox's state of orderID ("" when it has no such order).
	status := func(direct, orderID string) string {
		t.Helper()
		r := postJSON(t, tc, base+direct+"/query", `{"order_id":"`+orderID+`"}`)
		if r.status == 422 {
			return ""
		}
		if r.status != 200 {
			t.Fatalf("query %s: %d %s", orderID, r.status, r.body)
		}
		return str(r.json(t)["status"])
	}
	paid := func(t *testing.T, r response, orderID string) {
		t.Helper()
		if r.status != 200 || r.json(t)["order_id"] != orderID || !strings.HasPrefix(str(r.json(t)["package"]), "prepay_id=") {
			t.Fatalf("pay %s: HTTP %d %s, want the second upstream's answer", orderID, r.status, r.body)
		}
	}
	failed := func(t *testing.T, r response, code string) {
		t.Helper()
		if r.status != 502 || r.errorOf(t)["code"] != code {
			t.Fatalf("HTTP %d %s, want 502 %s", r.status, r.body, code)
		}
	}

	t.Run("connection refused: the call goes to the second whole", func(t *testing.T) {
		for _, c := range []struct{ route, direct, orderID string }{
			{"/refused", "/direct", "FAILOVER-V2-1"}, {"/refused", "/direct", "FAILOVER-V2-2"},
			{"/v3refused", "/v3direct", "FAILOVER-V3-1"},
		} {
			paid(t, pay(c.route, c.orderID), c.orderID)
			if got := status(c.direct, c.orderID); got != "pending" {
				t.Fatalf("the sandbox's order %s is %q, want pending", c.orderID, got)
			}
		}
	})
	t.Run("received by the first: never sent to the second", func(t *testing.T) {
		failed(t, pay("/received", "FAILOVER-RECV-1"), "upstream_error")
		if n := dropPay.requests.Load(); n != 1 || status("/direct", "FAILOVER-RECV-1") != "" {
			t.Fatalf("the first upstream got the pay %d times (want 1), and the second must have none", n)
		}
		// The first upstream is down for fail_duration: the next call goes to the second.
		paid(t, pay("/received", "FAILOVER-RECV-2"), "FAILOVER-RECV-2")
		if n := dropPay.requests.Load(); n != 1 {
			t.Fatalf("the first upstream got %d calls, want 1", n)
		}
	})
	t.Run("a GET query received by the first is sent again", func(t *testing.T) {
		paid(t, pay("/v3direct", "FAILOVER-V3-Q"), "FAILOVER-V3-Q")
		if r := postJSON(t, tc, base+"/v3received/query", `{"order_id":"FAILOVER-V3-Q"}`); r.status != 200 || r.json(t)["status"] != "pending" {
			t.Fatalf("query: HTTP %d %s, want the second upstream's answer", r.status, r.body)
		}
		if n := dropV3.requests.Load(); n != 1 {
			t.Fatalf("the first upstream got the query %d times, want 1", n)
		}
	})
	t.Run("without fail_duration, no fail-over", func(t *testing.T) {
		failed(t, pay("/nofailduration", "FAILOVER-NOFD"), "upstream_error")
		if status("/direct", "FAILOVER-NOFD") != "" {
			t.Fatal("the second upstream got the call: Caddy's first policy now fails over without passive health checks; README's advice is out of date")
		}
	})
	t.Run("webhook", func(t *testing.T) {
		notify := func(path, transactionID string) response {
			n := notification(apiKey, wechatv2.SignMD5, set("transaction_id", transactionID))
			return do(t, tc, http.MethodPost, base+path, "text/xml", []byte(xmlOf(n)))
		}
		if r := notify("/webhooks/refused", "4200000123202612070000000101"); r.status != 200 || string(r.body) != wechatV2AckLiteral {
			t.Fatalf("first backend refused: HTTP %d %s, want the ACK", r.status, r.body)
		}
		if got := backend.take(); len(got) != 1 || got[0].event["id"] != "wechat_v2:4200000123202612070000000101:payment.succeeded" {
			t.Fatalf("the second backend got %v, want the event once", got)
		}
		r := notify("/webhooks/received", "4200000123202612070000000102")
		if r.status != 502 || !strings.Contains(string(r.body), "<return_code><![CDATA[FAIL]]></return_code>") {
			t.Fatalf("first backend dropped the event: HTTP %d %s, want the failure form with 502", r.status, r.body)
		}
		if got := backend.take(); len(got) != 0 || dropHook.requests.Load() != 1 {
			t.Fatalf("the event went to the first backend %d times (want 1) and to the second %d (want 0)", dropHook.requests.Load(), len(got))
		}
	})
}
