package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestPooledWebhookUnderConcurrency drives minipay_webhook's pooled
// forward header (the recorder's map and value slices, cleared once the
// notification is answered) and minipay's from many goroutines at once
// through a real Caddy, on routes where reverse_proxy rebuilds the header
// for each try (header_up with a placeholder read from the forwarded
// request), retries a POST on two upstreams (lb_retries, lb_try_duration,
// lb_retry_match, request_buffers: README Placement) and sends Expect: 100-continue (expect_continue_timeout),
// to a merchant backend that by turns answers, answers before reading the
// event, and drops the connection before answering. Every event the
// backend receives must carry exactly its own headers (Minipay-Event-Id
// the body's id, header_up's copy of it the same), never another
// notification's or a pay's; every provider gets its ACK or the failure
// form; the access log shows each request as the provider or merchant
// sent it (its own X-Delivery, none of the forwarded headers). Meant for
// -race:
//
//	go test -race -count=1 ./integration/ -run TestPooledWebhookUnderConcurrency
func TestPooledWebhookUnderConcurrency(t *testing.T) {
	var turn atomic.Int64
	var backendErrs sync.Map // the first wrong request the backend saw, by route
	var delivered atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := r.Header.Get("X-Route")
		mode := turn.Add(1) % 5
		if mode == 4 { // drop the connection before answering: reverse_proxy tries again
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		if mode == 3 { // answer before reading the event (no 100 Continue sent)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		body, err := io.ReadAll(r.Body)
		var ev struct {
			ID      string `json:"id"`
			OrderID string `json:"order_id"`
			Data    map[string]string
		}
		if err != nil || json.Unmarshal(body, &ev) != nil {
			backendErrs.LoadOrStore(route, fmt.Sprintf("unreadable event %q (%v)", body, err))
			return
		}
		ref := strings.TrimPrefix(ev.OrderID, "O-")
		want := map[string]string{
			"Content-Type": "application/json", "Minipay-Event-Id": ev.ID, "Minipay-Provider": "wechat_v2",
			"X-Event": ev.ID, "X-Route": route,
		}
		for k, v := range want {
			if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
				backendErrs.LoadOrStore(route, fmt.Sprintf("%s %q, want %q (event %s)", k, got, v, body))
			}
		}
		if ev.ID != "wechat_v2:42"+ref+":payment.succeeded" || ev.Data["transaction_id"] != "42"+ref {
			backendErrs.LoadOrStore(route, fmt.Sprintf("event %s mixes two notifications", body))
		}
		for _, k := range []string{"X-Delivery", "Wechatpay-Signature", "Authorization", "X-Forwarded-Host"} {
			if v, ok := r.Header[k]; ok {
				backendErrs.LoadOrStore(route, fmt.Sprintf("%s %q reached the merchant", k, v))
			}
		}
		delivered.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(backend.Close)
	wechat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Delivery") != "" || r.Header.Get("Minipay-Event-Id") != "" {
			backendErrs.LoadOrStore("pay", fmt.Sprintf("the provider got %v", r.Header))
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(signedPayAnswer("wx-prepay", apiKey, "MD5"))
	}))
	t.Cleanup(wechat.Close)

	up := strings.TrimPrefix(backend.URL, "http://")
	hook := func(route, proxyOptions string) string {
		return `
	handle /` + route + ` {
		minipay_webhook wechat_v2 {
` + webhookBlock(t, "wechat_v2") + `		}
		reverse_proxy ` + up + ` ` + up + ` {
			header_up X-Route ` + route + `
			header_up X-Event {http.request.header.Minipay-Event-Id}
			` + proxyOptions + `
		}
	}`
	}
	dir := t.TempDir()
	accessLog := filepath.Join(dir, "access.log")
	port := itoa(freePort(t))
	startCaddy(t, globalOptions(filepath.Join(dir, "caddy.log"))+`
:`+port+` {
	log {
		output file `+accessLog+`
		format json
	}
	log_append delivery {http.request.header.X-Delivery}
	log_append event {http.request.header.Minipay-Event-Id}`+hook("retrying", `request_buffers 64k
			lb_policy round_robin
			lb_retries 3
			lb_try_duration 2s
			lb_try_interval 1ms
			lb_retry_match {
				method POST
			}`)+hook("continue", `header_up Expect 100-continue
			transport http {
				expect_continue_timeout 1s
			}`)+`
	handle /pay {
		minipay wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
			notify_url https://merchant.example/webhooks/wechat_v2
			client_ip 127.0.0.1
		}
		reverse_proxy `+strings.TrimPrefix(wechat.URL, "http://")+`
	}
}
`)
	base := "http://localhost:" + port
	var wg sync.WaitGroup
	var acked, refused atomic.Int64
	errs := make(chan string, 64)
	client := &http.Client{}
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				ref := fmt.Sprintf("%d-%d-%s", g, i, strings.Repeat("r", (g*7+i*3)%20))
				var req *http.Request
				if i%3 == 2 { // a pay between the notifications
					req, _ = http.NewRequest(http.MethodPost, base+"/pay", strings.NewReader(`{"order_id":"P`+ref+`","amount":"1.00","currency":"CNY","description":"d","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`))
					req.Header.Set("Content-Type", "application/json")
				} else {
					route := "retrying"
					if (g+i)%2 == 1 {
						route = "continue"
					}
					p := notification(apiKey, wechatv2.SignHMACSHA256, func(p transform.Params) transform.Params {
						return set("transaction_id", "42"+ref)(set("out_trade_no", "O-"+ref)(p))
					})
					req, _ = http.NewRequest(http.MethodPost, base+"/"+route, strings.NewReader(xmlOf(p)))
					req.Header.Set("Content-Type", "text/xml")
				}
				req.Header.Set("X-Delivery", ref)
				res, err := client.Do(req)
				if err != nil {
					errs <- ref + ": " + err.Error()
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				switch {
				case req.URL.Path == "/pay":
					if res.StatusCode != 200 || !strings.Contains(string(body), `"order_id":"P`+ref+`"`) {
						errs <- fmt.Sprintf("pay %s: %d %s", ref, res.StatusCode, body)
						return
					}
				case res.StatusCode == 200 && string(body) == wechatv2.AckBody:
					acked.Add(1)
				case res.StatusCode == http.StatusBadGateway && strings.Contains(string(body), "<return_code><![CDATA[FAIL]]>"):
					refused.Add(1)
				default:
					errs <- fmt.Sprintf("notification %s: %d %s", ref, res.StatusCode, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	backendErrs.Range(func(route, e any) bool {
		t.Errorf("%s: %s", route, e)
		return true
	})
	if acked.Load() == 0 || delivered.Load() == 0 {
		t.Errorf("%d notifications acknowledged, %d delivered: the backend's turns did not all happen", acked.Load(), delivered.Load())
	}

	// The access log is written once each handler returned: its request is
	// Caddy's copy from before the handlers, its log_append fields read the
	// request the handlers had (placeholders): both show the request as the
	// provider or merchant sent it, with its own X-Delivery.
	f, err := os.Open(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Request struct {
				Method, URI string
				Headers     http.Header
			}
			Delivery, Event *string
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		h := line.Request.Headers
		if len(h["X-Delivery"]) != 1 || h["Minipay-Event-Id"] != nil || h["Minipay-Provider"] != nil ||
			line.Request.Method != http.MethodPost || line.Request.URI == "" ||
			line.Delivery == nil || *line.Delivery != h["X-Delivery"][0] || line.Event == nil || *line.Event != "" {
			t.Errorf("access log line %s", sc.Bytes())
		}
		lines++
	}
	if want := 10 * 30; lines != want {
		t.Errorf("%d access log lines, want %d", lines, want)
	}
}
