package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestWebhookSameNotificationAtOnce: README Clusters (Webhook
// de-duplication), on one Caddy and for every provider: a provider that
// sends one notification 20 times at once to a route with dedupe gets its
// ACK byte for byte on each of the 20 when the merchant answers within the
// 3 s lock wait, and the merchant receives the event once (19 duplicate
// log lines). A merchant slower than the wait: the copy holding the lock
// gets the ACK, those that waited the whole 3 s the failure form with 503,
// and still one delivery. A merchant failing (500): no request is acknowledged, each gets
// the failure form, and the provider's retry afterwards is forwarded again.
func TestWebhookSameNotificationAtOnce(t *testing.T) {
	var delay atomic.Int64
	var status atomic.Int32
	status.Store(200)
	var mu sync.Mutex
	received := map[string]int{} // Minipay-Event-Id → deliveries
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		received[r.Header.Get("Minipay-Event-Id")]++
		mu.Unlock()
		time.Sleep(time.Duration(delay.Load()))
		w.WriteHeader(int(status.Load()))
	}))
	defer backend.Close()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	// The merchant may take longer than the lock wait (3 s) to answer.
	routes := strings.ReplaceAll(allWebhookRoutes(t, "/burst", strings.TrimPrefix(backend.URL, "http://")),
		"response_header_timeout "+answerTimeout.String(), "response_header_timeout 10s")
	for _, p := range []string{"wechat_v2", "wechat_v3", "latipay", "cbtis", "2c2p"} {
		routes = strings.Replace(routes, "minipay_webhook "+p+" {\n", "minipay_webhook "+p+" {\n\t\t\tdedupe 1h\n", 1)
	}
	if n := strings.Count(routes, "dedupe 1h"); n != 5 {
		t.Fatalf("%d routes with dedupe, want 5:\n%s", n, routes)
	}
	startCaddy(t, globalOptions(logFile)+":"+port+" {\n"+routes+"}\n")
	base := "http://localhost:" + port + "/burst/"

	// Each run's references are new: the storage outlives this test.
	run := strconv.FormatInt(time.Now().UnixNano(), 10)
	fail := map[string]func(string) bool{}
	for _, p := range webhookProviders(t) {
		fail[p.name] = p.failForm
	}
	notify := func(provider, ref string) (body string, header http.Header, ack string) {
		switch provider {
		case "wechat_v2":
			return xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("transaction_id", "42"+ref))), http.Header{"Content-Type": {"text/xml"}}, wechatv2.AckBody
		case "wechat_v3":
			tx := `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"W1","transaction_id":"42` + ref + `","trade_state":"SUCCESS","amount":{"total":1230,"currency":"CNY"}}`
			body := `{"id":"EV-` + ref + `","create_time":"2026-11-29T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"s",` +
				`"resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + gcmSeal(t, v3APIv3Key, "abcdefghijkl", "transaction", tx) +
				`","associated_data":"transaction","nonce":"abcdefghijkl"}}`
			h := wechatHeaders(t, v3PrivateKey(t, "wechatpay_platform_key.pem"), v3PublicKeyID, time.Now().Unix(), body)
			h.Set("Content-Type", "application/json")
			return body, h, ""
		case "latipay":
			return latipayForm(latipayAPIKey, func(v url.Values) { v.Set("merchant_reference", "LP-"+ref) }),
				http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, "sent"
		case "cbtis":
			body := `{"notify_type":"payment_success","data":{"order_id":"C` + ref + `","merchant_order_id":"CB-77","order_amount":"12.30","order_currency":"HKD"}}`
			return body, http.Header{"Content-Type": {"application/json"}, "Signature": {cbtisSign([]byte(body), cbtisAPIKey)}}, "success"
		default: // 2c2p
			return "paymentResponse=" + url.QueryEscape(twoc2pSeal(twoc2pAnswer("T-1", "000000001234", "00", "A", "32"+ref), twoc2pKey)),
				http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, ""
		}
	}
	// burst sends one notification of each provider 20 times at once (the
	// five providers at the same time) and returns every answer's status
	// and body, by provider.
	type answer struct {
		status int
		body   string
	}
	const copies = 20
	burst := func(t *testing.T, ref string) (map[string][]answer, map[string]string) {
		answers, acks := map[string][]answer{}, map[string]string{}
		var wg sync.WaitGroup
		var amu sync.Mutex
		for provider := range fail {
			body, header, ack := notify(provider, ref)
			acks[provider] = ack
			for range copies {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, base+provider, strings.NewReader(body))
					req.Header = header.Clone()
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					got, _ := io.ReadAll(res.Body)
					res.Body.Close()
					amu.Lock()
					answers[provider] = append(answers[provider], answer{res.StatusCode, string(got)})
					amu.Unlock()
				})
			}
		}
		wg.Wait()
		return answers, acks
	}
	deliveries := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for id, c := range received {
			n += c
			delete(received, id)
		}
		return n
	}
	// count tells the answers that are the ACK and those that are the
	// failure form with one of failStatus; any other is an error.
	count := func(answers []answer, ack string, failForm func(string) bool, failStatus ...int) (acked, failed int) {
		for _, a := range answers {
			switch {
			case a.status == 200 && a.body == ack:
				acked++
			case slices.Contains(failStatus, a.status) && failForm(a.body):
				failed++
			default:
				t.Errorf("answer %d %q", a.status, a.body)
			}
		}
		return acked, failed
	}

	t.Run("merchant within the wait: 20 ACKs, one delivery", func(t *testing.T) {
		delay.Store(int64(300 * time.Millisecond))
		answers, acks := burst(t, run+"1")
		for provider, got := range answers {
			if acked, _ := count(got, acks[provider], fail[provider]); acked != copies {
				t.Errorf("%s: %d of %d answers are the ACK", provider, acked, copies)
			}
		}
		if n := deliveries(); n != len(fail) {
			t.Errorf("%d deliveries, want one per provider: %d", n, len(fail))
		}
		if n := strings.Count(logText(t, logFile), `"outcome":"duplicate"`); n != len(fail)*(copies-1) {
			t.Errorf("%d duplicate log lines, want %d", n, len(fail)*(copies-1))
		}
	})

	// The copies that waited the full 3 s before the merchant's answer get
	// the failure form (a copy started late on a busy machine may see the
	// acknowledgement instead, a duplicate).
	t.Run("merchant slower than the wait: ACK or 503, one delivery", func(t *testing.T) {
		delay.Store(int64(4500 * time.Millisecond))
		defer delay.Store(0)
		answers, acks := burst(t, run+"2")
		for provider, got := range answers {
			if acked, failed := count(got, acks[provider], fail[provider], http.StatusServiceUnavailable); acked == 0 || failed == 0 || acked+failed != copies {
				t.Errorf("%s: %d ACKs and %d failure forms with 503 of %d answers", provider, acked, failed, copies)
			}
		}
		// The reason names no other instance: there is one.
		for _, a := range answers["cbtis"] {
			if a.status == http.StatusServiceUnavailable && a.body != "fail: event being delivered by another request" {
				t.Errorf("cbtis 503: %q", a.body)
			}
		}
		if n := deliveries(); n != len(fail) {
			t.Errorf("%d deliveries, want one per provider: %d", n, len(fail))
		}
	})

	t.Run("merchant failing: no ACK, the retry is forwarded", func(t *testing.T) {
		status.Store(500)
		answers, acks := burst(t, run+"3")
		for provider, got := range answers {
			// 503 for a copy that waited past 3 s while the others, one by
			// one, held the lock
			if acked, _ := count(got, acks[provider], fail[provider], http.StatusBadGateway, http.StatusServiceUnavailable); acked != 0 {
				t.Errorf("%s: %d ACKs while the merchant failed", provider, acked)
			}
		}
		failedDeliveries := deliveries()
		if failedDeliveries < len(fail) {
			t.Errorf("%d deliveries, want at least one per provider", failedDeliveries)
		}
		status.Store(200)
		for provider := range fail {
			body, header, ack := notify(provider, run+"3")
			req, _ := http.NewRequest(http.MethodPost, base+provider, strings.NewReader(body))
			req.Header = header
			if code, got := send(t, req); code != 200 || string(got) != ack {
				t.Errorf("%s retry: %d %q, want the ACK", provider, code, got)
			}
		}
		if n := deliveries(); n != len(fail) {
			t.Errorf("%d deliveries of the retries, want one per provider: %d", n, len(fail))
		}
	})
}
