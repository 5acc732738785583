//go:build !race

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// mixTimeout is the fault-mix routes' response_header_timeout; the
// "slow" and "hang" faults wait until Caddy gives up.
const mixTimeout = 2 * time.Second

// mixOperation is one merchant API call of one provider.
type mixOperation struct{ provider, op, body string }

// mixOperations is every operation of every provider (README Merchant API's
// table), each with a valid request.
func mixOperations() []mixOperation {
	pay := func(currency string) string {
		return `{"order_id":"MIX-1","amount":"12.30","currency":"` + currency + `","description":"d","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","notify_url":"https://m.example/n"}`
	}
	const (
		query       = `{"order_id":"MIX-1"}`
		refundQuery = `{"order_id":"MIX-1","refund_id":"MIX-R1"}`
	)
	refund := func(currency, extra string) string {
		return `{"order_id":"MIX-1","refund_id":"MIX-R1","amount":"1.00","currency":"` + currency + `"` + extra + `}`
	}
	return []mixOperation{
		{"wechat_v2", "pay", pay("CNY")}, {"wechat_v2", "query", query}, {"wechat_v2", "close", query},
		{"wechat_v2", "refund", refund("CNY", `,"total_amount":"12.30"`)}, {"wechat_v2", "refund_query", refundQuery},
		{"wechat_v3", "pay", pay("CNY")}, {"wechat_v3", "query", query}, {"wechat_v3", "close", query},
		{"wechat_v3", "refund", refund("CNY", `,"total_amount":"12.30"`)}, {"wechat_v3", "refund_query", refundQuery},
		{"2c2p", "pay", pay("SGD")},
		{"latipay", "pay", pay("NZD")}, {"latipay", "query", query}, {"latipay", "refund", refund("NZD", `,"provider_order_id":"L-1"`)},
		{"cbtis", "pay", pay("HKD")}, {"cbtis", "query", query},
		{"wechat_login", "login", `{"code":"c0de"}`},
	}
}

// mixProviderBlock is the minipay block of provider; tokenURL is CBTIS's.
func mixProviderBlock(t *testing.T, provider, tokenURL string) string {
	switch provider {
	case "wechat_v2":
		return "app_id " + appID + "\n mch_id " + mchID + "\n api_key " + apiKey + "\n client_ip 127.0.0.1\n"
	case "wechat_v3":
		return v3Merchant(t, v3PublicKeyMode(t))
	case "2c2p":
		return "merchant_id " + twoc2pMerchant + "\n secret_key " + twoc2pKey + "\n app_id " + appID + "\n"
	case "latipay":
		return "user_id " + latipayUserID + "\n wallet_id " + latipayWalletID + "\n api_key " + latipayAPIKey + "\n app_id " + latipayAppID + "\n currency NZD\n"
	case "cbtis":
		return "uid " + cbtisUID + "\n client_secret " + cbtisSecret + "\n sub_app_id " + cbtisSubAppID + "\n token_url " + tokenURL + "\n"
	case "wechat_login":
		return "app_id " + appID + "\n app_secret " + appSecret + "\n"
	}
	panic(provider)
}

// mixUpstreamFaults are what the upstream does (by the X-Fault header its
// route adds) and the README Errors codes each may be answered with.
var mixUpstreamFaults = map[string][]string{
	"reset":     {"502 " + transform.CodeUpstreamError},
	"slow":      {"504 " + transform.CodeUpstreamTimeout},
	"garbage":   {"502 " + transform.CodeUpstreamError, "502 " + transform.CodeSignatureInvalid},
	"http503":   {"502 " + transform.CodeUpstreamError, "502 " + transform.CodeSignatureInvalid},
	"truncated": {"502 " + transform.CodeUpstreamError},
}

// mixTokenFaults are what a CBTIS token endpoint does (by its URL's
// query); README CBTIS: every token failure is a 502 upstream_error.
var mixTokenFaults = []string{"reset", "slow", "garbage", "http503", "truncated", "notoken"}

// mixWebhookFaults are what the merchant backend does (by X-Fault) and the
// provider's answer: 200 the ACK, else the failure form with the status.
var mixWebhookFaults = map[string]int{"ack": 200, "backend500": 502, "hang": 504, "backendreset": 502}

// misbehave does fault to the request.
func misbehave(w http.ResponseWriter, r *http.Request, fault string) {
	switch fault {
	case "reset", "backendreset":
		resetConn(w)
	case "slow", "hang":
		wait(r, 6*mixTimeout) // the token fetch's own timeout is 10 s
		http.Error(w, "late", http.StatusServiceUnavailable)
	case "garbage":
		_, _ = w.Write([]byte("\x00\xff<<not xml {nor json"))
	case "http503":
		http.Error(w, "busy", http.StatusServiceUnavailable)
	case "backend500":
		http.Error(w, "database down", http.StatusInternalServerError)
	case "truncated":
		hijacked(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\":0,")
	case "notoken":
		_, _ = w.Write([]byte(`{"expires_in":3600}`))
	case "ack":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unknown fault "+fault, http.StatusTeapot)
	}
}

// mixCall is one request of the mix and the answers it may get.
type mixCall struct {
	name, url, contentType, body string
	// long: answered only after the token fetch's own 10 s timeout; run
	// once, beside the load.
	long bool
	// want lists "status code" for the merchant API; for a webhook, the
	// status (200: the ACK) and the provider's forms.
	want    []string
	webhook *webhookProvider
	status  []int
}

// TestFaultsOnEveryRoute is the fault soak beyond wechat_v2's pay: every
// operation of every provider (login included) against an upstream that
// resets, hangs past the timeout, answers garbage, a 503 or a truncated
// body; CBTIS against a token endpoint that does the same or answers no
// token; every provider's webhook against a merchant backend that stores,
// fails, hangs or resets, with dedupe off and on (on a failing backend
// never an ACK). All at once, from 32 clients for three windows (MINIPAY_
// MIX_WINDOW, 3 s by default; the hung token endpoint's calls, which wait
// for the fetch's own 10 s timeout, run once beside them): every answer is a documented one, never a
// 500; goroutines go back to their count before the load, the heap does not
// grow window after window, the log holds no panic.
func TestFaultsOnEveryRoute(t *testing.T) {
	const workers = 32
	window := 3 * time.Second
	if w, err := time.ParseDuration(os.Getenv("MINIPAY_MIX_WINDOW")); err == nil && w > 0 {
		window = w
	}
	var upstreamHits atomic.Int64
	up := byFault(t, func(w http.ResponseWriter, r *http.Request) {
		upstreamHits.Add(1)
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		if strings.HasSuffix(r.URL.Path, "/token") {
			if f := r.URL.Query().Get("fault"); f != "" {
				misbehave(w, r, f)
				return
			}
			_, _ = w.Write([]byte(`{"access_token":"tok-mix","expires_in":3600}`))
			return
		}
		misbehave(w, r, r.Header.Get("X-Fault"))
	})
	backend := byFault(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Minipay-Event-Id") == "" {
			http.Error(w, "not an event", http.StatusTeapot)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		misbehave(w, r, r.Header.Get("X-Fault"))
	})
	upHost, backendHost := strings.TrimPrefix(up.URL, "http://"), strings.TrimPrefix(backend.URL, "http://")
	transport := func(fault string) string {
		return "\t\t\theader_up X-Fault " + fault + "\n\t\t\ttransport http {\n\t\t\t\tresponse_header_timeout " + mixTimeout.String() + "\n\t\t\t}\n"
	}
	var (
		routes strings.Builder
		calls  []mixCall
	)
	base := "http://127.0.0.1:" + itoa(freePort(t))
	ops := mixOperations()
	providersSeen := map[string]bool{}
	for fault, want := range mixUpstreamFaults {
		for _, o := range ops {
			prefix := "/" + fault + "/" + o.provider
			if !providersSeen[prefix] {
				providersSeen[prefix] = true
				fmt.Fprintf(&routes, "\thandle %s/* {\n\t\tminipay %s {\n%s\t\t}\n\t\treverse_proxy %s {\n%s\t\t}\n\t}\n",
					prefix, o.provider, mixProviderBlock(t, o.provider, up.URL+"/token"), upHost, transport(fault))
			}
			calls = append(calls, mixCall{name: fault + " " + o.provider + " " + o.op, url: base + prefix + "/" + o.op,
				contentType: "application/json", body: o.body, want: want})
		}
	}
	for _, fault := range mixTokenFaults {
		prefix := "/token-" + fault + "/cbtis"
		fmt.Fprintf(&routes, "\thandle %s/* {\n\t\tminipay cbtis {\n%s\t\t}\n\t\treverse_proxy %s {\n%s\t\t}\n\t}\n",
			prefix, mixProviderBlock(t, "cbtis", up.URL+"/token?fault="+fault), upHost, transport("ok"))
		for _, o := range ops {
			if o.provider == "cbtis" {
				calls = append(calls, mixCall{name: "token " + fault + " cbtis " + o.op, url: base + prefix + "/" + o.op,
					contentType: "application/json", body: o.body, want: []string{"502 " + transform.CodeUpstreamError}, long: fault == "slow"})
			}
		}
	}
	providers := webhookProviders(t)
	for _, dedupe := range []string{"", "1h"} {
		for fault, status := range mixWebhookFaults {
			if dedupe != "" && fault == "ack" {
				continue // an acknowledged event would be a duplicate on every route of its merchant
			}
			for i := range providers {
				p := &providers[i]
				path := "/wh" + dedupe + "/" + fault + "/" + p.name
				var block strings.Builder
				fmt.Fprintf(&block, "%s", webhookBlock(t, p.name))
				if dedupe != "" {
					block.WriteString("\t\t\tdedupe " + dedupe + "\n")
				}
				fmt.Fprintf(&routes, "\thandle %s {\n\t\tminipay_webhook %s {\n%s\t\t}\n\t\treverse_proxy %s {\n%s\t\t}\n\t}\n",
					path, p.name, block.String(), backendHost, transport(fault))
				statuses := []int{status}
				if dedupe != "" {
					statuses = append(statuses, http.StatusServiceUnavailable) // a copy waiting on another's delivery
				}
				calls = append(calls, mixCall{name: "webhook" + dedupe + " " + fault + " " + p.name, url: base + path,
					contentType: p.contentType, webhook: p, status: statuses})
			}
		}
	}
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	tc := startCaddy(t, globalOptions(logFile)+":"+port+" {\n"+routes.String()+"}\n")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}

	// sent counts the requests that got an answer, by kind, for the
	// accounting at the end: one log line and one metric count each.
	var sentAPI, sentWebhooks, late atomic.Int64
	exchange := func(c mixCall) string {
		body := c.body
		header := http.Header{}
		if c.webhook != nil {
			var h http.Header
			body, h = c.webhook.notification()
			for k, v := range h {
				header[k] = v
			}
		}
		req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", c.contentType)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return c.name + ": " + err.Error()
		}
		// The timeout's answer to an exchange that took at least the
		// timeout is the right one whatever the fault: a machine stalled by
		// other work (two cores shared in CI) makes a few (TestFaultSoak).
		timedOut := func() bool {
			if res.StatusCode != http.StatusGatewayTimeout || time.Since(start) < mixTimeout {
				return false
			}
			late.Add(1)
			return true
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return c.name + ": " + err.Error()
		}
		if c.webhook != nil {
			sentWebhooks.Add(1)
			switch {
			case !slices.Contains(c.status, res.StatusCode) && !timedOut():
				return fmt.Sprintf("%s: HTTP %d, want one of %v: %.200s", c.name, res.StatusCode, c.status, got)
			case res.StatusCode == 200 && !bytes.Equal(got, []byte(c.webhook.ack)):
				return fmt.Sprintf("%s: 200 %q, not the ACK", c.name, got)
			case res.StatusCode != 200 && !c.webhook.failForm(string(got)):
				return fmt.Sprintf("%s: %d %q, not the failure form", c.name, res.StatusCode, got)
			}
			return ""
		}
		sentAPI.Add(1)
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(got, &e) != nil || res.Header.Get("Content-Type") != "application/json" || e.Error.Message == "" {
			return fmt.Sprintf("%s: HTTP %d, not a JSON error: %.200s", c.name, res.StatusCode, got)
		}
		if answer := strconv.Itoa(res.StatusCode) + " " + e.Error.Code; !slices.Contains(c.want, answer) &&
			!(e.Error.Code == transform.CodeUpstreamTimeout && timedOut()) {
			return fmt.Sprintf("%s: %s, want one of %v: %.300s", c.name, answer, c.want, got)
		}
		return ""
	}

	// Each call once, all at once: a wrong answer is reported plainly.
	var (
		mu       sync.Mutex
		failures []string
	)
	fail := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		if msg != "" && len(failures) < 30 {
			failures = append(failures, msg)
		}
	}
	var wg sync.WaitGroup
	var quick, long []mixCall
	for _, c := range calls {
		if c.long {
			long = append(long, c)
		} else {
			quick = append(quick, c)
		}
	}
	for _, c := range quick {
		wg.Go(func() { fail(exchange(c)) })
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d wrong answers before the load:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	baseline := goroutineCount(client, up, backend)

	var (
		gate sync.RWMutex
		next atomic.Int64
	)
	ctx, stop := context.WithCancel(context.Background())
	for _, c := range long {
		wg.Go(func() { fail(exchange(c)) })
	}
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				gate.RLock()
				fail(exchange(quick[int(next.Add(1))%len(quick)]))
				gate.RUnlock()
			}
		})
	}
	var heap []uint64
	for range 3 {
		time.Sleep(window)
		gate.Lock()
		heap = append(heap, measureMemory(t).heap)
		gate.Unlock()
	}
	stop()
	wg.Wait()
	t.Logf("%d calls over %d routes (%d late: the timeout's 504 after at least %s); heap by window %v", next.Load(), len(calls), late.Load(), mixTimeout, heap)
	if len(failures) > 0 {
		t.Errorf("%d or more wrong answers under load, the first ones:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	if late.Load() > next.Load()/20 {
		t.Errorf("%d of %d calls late: the machine is too busy for this test to say anything", late.Load(), next.Load())
	}
	if next.Load() < int64(len(quick)) {
		t.Errorf("only %d calls in %s: not every route ran under load", next.Load(), 3*window)
	}
	if grows(heap, 4<<20) {
		t.Errorf("the live heap grows from window to window: %v", heap)
	}
	goroutinesBack(t, baseline, "the load", client, up, backend)
	// Nothing lost: one log line and one count per request.
	logs := logText(t, logFile)
	var logAPI, logWebhooks int64
	for line := range strings.Lines(logs) {
		switch {
		case strings.Contains(line, `"msg":"minipay"`):
			logAPI++
		case strings.Contains(line, `"msg":"minipay webhook"`):
			logWebhooks++
		}
	}
	var metricAPI, metricWebhooks float64
	for name, v := range minipaySeries(t, tc) {
		switch {
		case strings.HasPrefix(name, "caddy_minipay_requests_total"):
			metricAPI += v
		case strings.HasPrefix(name, "caddy_minipay_webhooks_total"):
			metricWebhooks += v
		}
	}
	if logAPI != sentAPI.Load() || logWebhooks != sentWebhooks.Load() {
		t.Errorf("%d minipay and %d webhook log lines for %d and %d requests", logAPI, logWebhooks, sentAPI.Load(), sentWebhooks.Load())
	}
	if int64(metricAPI) != sentAPI.Load() || int64(metricWebhooks) != sentWebhooks.Load() {
		t.Errorf("metrics count %v merchant calls and %v webhooks for %d and %d requests", metricAPI, metricWebhooks, sentAPI.Load(), sentWebhooks.Load())
	}
	for _, bad := range []string{"panic", `"status":500`, apiKey, cbtisSecret, url.QueryEscape(cbtisSecret), appSecret, "tok-mix"} {
		if i := strings.Index(logs, bad); i >= 0 {
			t.Errorf("the log has %q: %.500s", bad, logs[max(0, i-200):])
		}
	}
}
