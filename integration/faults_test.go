package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// A fault route's timeouts: the one its fault is meant to run into is
// hangTimeout (response_header_timeout for continue_then_hang, read_timeout
// for a stalled body), every other one is patience, so that an answer that
// must come back as it is (a redirect, a closed connection, a 3 MiB body)
// is never cut by a timeout. With 300 ms for all, the test's 55 calls, sent
// at once, under -race on a loaded machine came back 504 upstream_timeout
// or "merchant backend timed out" instead of their 502 or ACK (3 runs in 3,
// still 1 in 5 at 2 s). hangTimeout is 2 s because read_timeout bounds
// each read, the wait for the stalled answer's header too; the faults hang
// until Caddy gives up, all at once, so the test waits for it once.
const (
	hangTimeout = 2 * time.Second
	patience    = 15 * time.Second // under the test client's 20 s
)

// timeouts is the transport block of fault's routes.
func timeouts(fault string) string {
	header, read := patience, patience
	switch fault {
	case "continue_then_hang":
		header = hangTimeout
	case "stalled_body", "stalled_200":
		read = hangTimeout
	}
	return fmt.Sprintf("transport http {\n\t\t\t\tresponse_header_timeout %s\n\t\t\t\tread_timeout %s\n\t\t\t}", header, read)
}

// wait sleeps for d or until the request is given up.
func wait(r *http.Request, d time.Duration) {
	select {
	case <-r.Context().Done():
	case <-time.After(d):
	}
}

// WeChat's FAIL form around its return_msg.
const (
	wechatFailPrefix = `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[`
	wechatFailSuffix = `]]></return_msg></xml>`
)

// hijacked writes raw on the request's connection and closes it.
func hijacked(w http.ResponseWriter, raw string) {
	conn, bufrw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_, _ = bufrw.WriteString(raw)
	_ = bufrw.Flush()
	_ = conn.Close()
}

// stall sends the status and one byte of a body, then waits past the read timeout.
func stall(w http.ResponseWriter, r *http.Request, status int) {
	w.WriteHeader(status)
	_, _ = w.Write([]byte("{"))
	_ = http.NewResponseController(w).Flush()
	wait(r, 2*patience)
}

// faultyUpstream misbehaves in the ways TestFaultSoak's upstream does not,
// as the X-Fault header its route adds says; /token is a working CBTIS
// token endpoint.
func faultyUpstream(t *testing.T) *httptest.Server {
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(make([]byte, 16<<20)) // 16 MiB of zeros in about 16 KiB
	_ = zw.Close()
	return byFault(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/token" {
			_, _ = w.Write([]byte(`{"access_token":"tok-faults-test","expires_in":3600}`))
			return
		}
		switch r.Header.Get("X-Fault") {
		case "stalled_body":
			stall(w, r, http.StatusOK)
		case "gzip_bomb":
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb.Bytes())
		case "unknown_encoding":
			w.Header().Set("Content-Encoding", "br")
			_, _ = w.Write([]byte("xxxx"))
		case "continue_then_hang":
			w.WriteHeader(http.StatusContinue)
			wait(r, 2*patience)
		case "http10_garbage": // close-delimited, no Content-Length
			hijacked(w, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"code\":")
		case "redirect":
			http.Redirect(w, r, "http://example.invalid/", http.StatusFound)
		case "closed":
			hijacked(w, "")
		case "cut_chunked":
			hijacked(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")
		case "switch_101", "switch_101_bare":
			switchProtocols(w, r.Header.Get("X-Fault"))
		default:
			http.Error(w, "unknown fault", http.StatusTeapot)
		}
	})
}

// byFault is a test server of h, closed with the test.
func byFault(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// faultyMerchant is a merchant backend that misbehaves in the ways
// TestFaultSoak's does not, as the X-Fault header its route adds says.
func faultyMerchant(t *testing.T) *httptest.Server {
	return byFault(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Minipay-Event-Id") == "" {
			http.Error(w, "not an event", http.StatusTeapot)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.Header.Get("X-Fault") {
		case "stored_204":
			w.WriteHeader(http.StatusNoContent)
		case "stored_long_body":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 3<<20))
		case "error_long_body":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(bytes.Repeat([]byte("x"), 3<<20))
		case "redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "closed":
			hijacked(w, "")
		case "cut_200":
			hijacked(w, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
		case "stalled_200":
			stall(w, r, http.StatusOK)
		case "continue_then_hang":
			w.WriteHeader(http.StatusContinue)
			wait(r, 2*patience)
		case "switch_101", "switch_101_bare":
			switchProtocols(w, r.Header.Get("X-Fault"))
		default:
			http.Error(w, "unknown fault", http.StatusTeapot)
		}
	})
}

// switchProtocols answers 101 Switching Protocols to a request that asked
// for no upgrade: switch_101 names a protocol (reverse_proxy then writes
// nothing at all), switch_101_bare none (reverse_proxy writes the 101 and
// cannot hijack minipay's recorder).
func switchProtocols(w http.ResponseWriter, fault string) {
	upgrade := "Connection: Upgrade\r\nUpgrade: websocket\r\n"
	if fault == "switch_101_bare" {
		upgrade = ""
	}
	hijacked(w, "HTTP/1.1 101 Switching Protocols\r\n"+upgrade+"\r\n")
}

// TestUpstreamAndMerchantFaults goes beyond TestFaultSoak's mix, for every
// provider: an answer body that stalls past read_timeout, a gzip bomb, an
// unknown Content-Encoding, a 100 Continue then nothing, a close-delimited
// HTTP/1.0 answer, a redirect, a connection closed without an answer, a
// 101 to a call that asked for no upgrade, a chunked body cut short; and a
// merchant backend that redirects, hangs up, cuts or stalls a 2xx, answers
// 100 then nothing, or 101, stores the event with
// a 204 or a 3 MiB body, or fails with a 500 and a 3 MiB body. Each answer
// is README's for its fault (wechat_v3 signs every answer, so an unsigned
// one is upstream_signature_invalid, README wechat_v3), never a 500; Caddy's log, at DEBUG, holds one minipay line
// per call with its order_id (at WARN, a success's at INFO), no panic, no
// secret and no openid; /metrics counts each call once under its outcome,
// with one upstream latency observation per call sent and none for the
// webhooks (README Observability).
func TestUpstreamAndMerchantFaults(t *testing.T) {
	up, merchant := faultyUpstream(t), faultyMerchant(t)
	upHost, merchantHost := strings.TrimPrefix(up.URL, "http://"), strings.TrimPrefix(merchant.URL, "http://")
	const (
		upstreamError = "502 " + transform.CodeUpstreamError
		timeout       = "504 " + transform.CodeUpstreamTimeout
		unsigned      = "502 " + transform.CodeSignatureInvalid
	)
	// What the merchant gets for each fault; v3 differs where it gets an unsigned answer.
	faults := map[string][2]string{
		"stalled_body":       {upstreamError, upstreamError},
		"gzip_bomb":          {upstreamError, upstreamError},
		"unknown_encoding":   {upstreamError, upstreamError},
		"continue_then_hang": {timeout, timeout},
		"http10_garbage":     {upstreamError, unsigned},
		"redirect":           {upstreamError, unsigned},
		"closed":             {upstreamError, upstreamError},
		"cut_chunked":        {upstreamError, upstreamError},
		"switch_101":         {upstreamError, upstreamError},
		"switch_101_bare":    {upstreamError, upstreamError},
	}
	// Secrets from placeholders, as README asks: a literal one is in the
	// configuration Caddy's own DEBUG line "adjusted config" prints.
	env := func(name, value string) string {
		t.Setenv("MINIPAY_FAULTS_"+name, value)
		return "{env.MINIPAY_FAULTS_" + name + "}"
	}
	const openID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	pay := func(currency string) string {
		return `{"order_id":"FAULT-1","amount":"12.30","currency":"` + currency + `","description":"d","openid":"` + openID + `","notify_url":"https://m.example/n"}`
	}
	providers := []struct{ name, op, config, body string }{
		{"wechat_v2", "pay", "app_id " + appID + "\n mch_id " + mchID + "\n api_key " + env("API_KEY", apiKey) + "\n client_ip 127.0.0.1", pay("CNY")},
		{"wechat_v3", "query", strings.Replace(v3Merchant(t, v3PublicKeyMode(t)), v3APIv3Key, env("API_V3_KEY", v3APIv3Key), 1), `{"order_id":"FAULT-1"}`},
		{"wechat_login", "login", "app_id " + appID + "\n app_secret " + env("APP_SECRET", appSecret), `{"code":"c0de"}`},
		{"2c2p", "pay", "merchant_id " + twoc2pMerchant + "\n secret_key " + env("SECRET_KEY", twoc2pKey) + "\n app_id " + appID, pay("SGD")},
		{"latipay", "pay", "user_id " + latipayUserID + "\n wallet_id " + latipayWalletID + "\n api_key " + env("LATIPAY_API_KEY", latipayAPIKey) +
			"\n app_id " + latipayAppID + "\n currency NZD", pay("NZD")},
		{"cbtis", "pay", "uid " + cbtisUID + "\n client_secret " + env("CLIENT_SECRET", cbtisSecret) + "\n sub_app_id " + cbtisSubAppID +
			"\n token_url " + up.URL + "/token", pay("HKD")},
	}
	// The message says what happened: an answer that began and stopped is
	// not a provider that "could not be reached".
	faultMessages := map[string]string{
		"stalled_body": "the provider's answer was cut short",
		"cut_chunked":  "the provider's answer was cut short",
		"closed":       "the provider could not be reached",
		// not "no handler after minipay answered", which sends the
		// operator to the Caddyfile
		"switch_101":      "the provider answered HTTP 101",
		"switch_101_bare": "the provider answered HTTP 101",
	}
	webhookFaults := map[string]string{
		"stored_204": "200 ack", "stored_long_body": "200 ack", "redirect": "502 fail", "closed": "502 fail",
		"cut_200": "502 fail", "stalled_200": "502 fail", "continue_then_hang": "504 fail", "error_long_body": "502 fail",
		"switch_101": "502 fail", "switch_101_bare": "502 fail",
	}
	webhookFaultReasons := map[string]string{
		"cut_200":         "merchant backend's answer was cut short",
		"stalled_200":     "merchant backend's answer was cut short",
		"closed":          "merchant backend unavailable",
		"error_long_body": "merchant backend answered 500",
		"switch_101":      "merchant backend answered 101",
		"switch_101_bare": "merchant backend answered 101",
	}
	var routes strings.Builder
	for fault := range faults {
		for _, p := range providers {
			fmt.Fprintf(&routes, "\thandle /%s/%s/* {\n\t\tminipay %s {\n%s\n\t\t}\n\t\treverse_proxy %s {\n\t\t\theader_up X-Fault %s\n\t\t\t%s\n\t\t}\n\t}\n",
				fault, p.name, p.name, p.config, upHost, fault, timeouts(fault))
		}
	}
	for fault := range webhookFaults {
		fmt.Fprintf(&routes, "\thandle /webhooks/%s {\n\t\tminipay_webhook wechat_v2 {\n app_id %s\n mch_id %s\n api_key %s\n\t\t}\n\t\treverse_proxy %s {\n\t\t\theader_up X-Fault %s\n\t\t\t%s\n\t\t}\n\t}\n",
			fault, appID, mchID, env("API_KEY", apiKey), merchantHost, fault, timeouts(fault))
	}
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	global := strings.Replace(globalOptions(logFile), "format json", "format json\n\t\tlevel DEBUG", 1)
	tc := startCaddy(t, global+":"+port+" {\n"+routes.String()+"}\n")
	base := "http://localhost:" + port

	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	report := func(format string, a ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	for fault, want := range faults {
		for _, p := range providers {
			wg.Go(func() {
				res := postJSON(t, tc, base+"/"+fault+"/"+p.name+"/"+p.op, p.body)
				expected := want[0]
				if p.name == "wechat_v3" {
					expected = want[1]
				}
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(res.body, &e); err != nil || res.header.Get("Content-Type") != "application/json" || e.Error.Message == "" {
					report("%s %s: not a JSON error: %s", fault, p.name, res.body)
				}
				if got := fmt.Sprintf("%d %s", res.status, e.Error.Code); got != expected {
					report("%s %s: %s, want %s: %s", fault, p.name, got, expected, res.body)
				}
				if msg, ok := faultMessages[fault]; ok && e.Error.Message != msg {
					report("%s %s: message %q, want %q", fault, p.name, e.Error.Message, msg)
				}
			})
		}
	}
	n := 0
	for fault, want := range webhookFaults {
		n++
		body := xmlOf(notification(apiKey, wechatv2.SignMD5, set("transaction_id", fmt.Sprintf("42000%023d", n))))
		wg.Go(func() {
			res := do(t, tc, http.MethodPost, base+"/webhooks/"+fault, "text/xml", []byte(body))
			form := "?"
			switch {
			case string(res.body) == wechatACK:
				form = "ack"
			case bytes.HasPrefix(res.body, []byte(wechatFailPrefix)) && bytes.HasSuffix(res.body, []byte(wechatFailSuffix)):
				form = "fail"
			}
			if got := fmt.Sprintf("%d %s", res.status, form); got != want {
				report("webhook %s: %s, want %s: %s", fault, got, want, res.body)
			}
			if reason, ok := webhookFaultReasons[fault]; ok && string(res.body) != wechatFailPrefix+reason+wechatFailSuffix {
				report("webhook %s: %s, want the reason %q", fault, res.body, reason)
			}
		})
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}

	log := logText(t, logFile)
	calls, webhooks := 0, 0
	for line := range strings.Lines(log) {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("not a JSON log line: %s", line)
		}
		switch l["msg"] {
		case "minipay":
			calls++
			if l["operation"] != "login" && l["order_id"] != "FAULT-1" {
				t.Errorf("no order_id: %s", line)
			}
		case "minipay webhook":
			webhooks++
			if l["order_id"] != "ORDER-77" {
				t.Errorf("no order_id: %s", line)
			}
		default:
			continue
		}
		// README Observability: a failure at WARN, a success at INFO.
		if want := map[bool]string{true: "info", false: "warn"}[l["outcome"] == "ok" || l["outcome"] == "acked"]; l["level"] != want {
			t.Errorf("level %v, want %s: %s", l["level"], want, line)
		}
	}
	if calls != len(faults)*len(providers) || webhooks != len(webhookFaults) {
		t.Errorf("%d minipay and %d webhook log lines, want %d and %d", calls, webhooks, len(faults)*len(providers), len(webhookFaults))
	}
	// Each call counted once under its outcome, and one upstream latency
	// observation per call sent (CBTIS's token fetch is none); the
	// webhooks, which ask the merchant backend, feed no upstream series.
	want := map[string]float64{}
	for _, w := range faults {
		for _, p := range providers {
			outcome := strings.Fields(w[0])[1]
			if p.name == "wechat_v3" {
				outcome = strings.Fields(w[1])[1]
			}
			want[`caddy_minipay_requests_total{operation="`+p.op+`",outcome="`+outcome+`",provider="`+p.name+`"}`]++
			want[`caddy_minipay_upstream_duration_seconds_count{operation="`+p.op+`",provider="`+p.name+`"}`]++
		}
	}
	for _, w := range webhookFaults {
		outcome := map[string]string{"ack": "acked", "fail": "merchant_failed"}[strings.Fields(w)[1]]
		want[`caddy_minipay_webhooks_total{outcome="`+outcome+`",provider="wechat_v2"}`]++
	}
	for name, got := range minipaySeries(t, tc) {
		if got != want[name] {
			t.Errorf("%s = %v, want %v", name, got, want[name])
		}
	}
	for _, banned := range []string{"panic", apiKey, appSecret, v3APIv3Key, twoc2pKey, latipayAPIKey, cbtisSecret, "tok-faults-test",
		openID, "oUpF8uMEb4qRXf22hE3X68TekukE"} {
		if strings.Contains(log, banned) {
			i := strings.Index(log, banned)
			t.Errorf("Caddy's log holds %q: …%s…", banned, log[max(0, i-300):i+40])
		}
	}
}
