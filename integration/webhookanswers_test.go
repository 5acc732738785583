package integration

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform/cbtis"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestWebhookMerchantAnswers: for every provider, a verified notification
// gets the provider's ACK byte for byte exactly when the merchant backend
// answered 2xx (README Webhooks, step 4), and the failure form with a 5xx
// otherwise, so that the provider retries (an informational 1xx before the
// answer is not the answer): a redirect (reverse_proxy does
// not follow it, and the event reached no one who stored it), a 4xx, a 5xx
// (502), a backend that does not answer within response_header_timeout
// (504), one that is down (502). None of the backend's headers reaches
// the provider.
func TestWebhookMerchantAnswers(t *testing.T) {
	var answer atomic.Value // func(http.ResponseWriter)
	answer.Store(func(w http.ResponseWriter) { w.WriteHeader(200) })
	var received atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		answer.Load().(func(http.ResponseWriter))(w)
	}))
	defer backend.Close()
	down := "127.0.0.1:" + itoa(freePort(t)) // nothing listens there
	port := itoa(freePort(t))
	startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+":"+port+" {\n"+
		allWebhookRoutes(t, "/up", strings.TrimPrefix(backend.URL, "http://"))+allWebhookRoutes(t, "/down", down)+"}\n")
	base := "http://localhost:" + port
	providers := webhookProviders(t)
	status := func(code int) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			if code/100 == 3 {
				w.Header().Set("Location", "https://elsewhere.example/hook")
			}
			w.Header().Set("Set-Cookie", "backend_session=internal")
			w.Header().Set("X-Backend-Node", "internal-7")
			w.WriteHeader(code)
			_, _ = w.Write([]byte("merchant's own body"))
		}
	}
	merchants := []struct {
		name   string
		prefix string
		answer func(http.ResponseWriter)
		status int // what the provider gets; 200 = the ACK
	}{
		{"200", "/up", status(200), 200},
		{"201", "/up", status(201), 200},
		{"204", "/up", func(w http.ResponseWriter) { w.WriteHeader(204) }, 200},
		{"299", "/up", status(299), 200},
		{"103 Early Hints, then 200", "/up", func(w http.ResponseWriter) { w.WriteHeader(103); status(200)(w) }, 200},
		{"103 Early Hints, then 500", "/up", func(w http.ResponseWriter) { w.WriteHeader(103); status(500)(w) }, 502},
		{"301 redirect", "/up", status(301), 502},
		{"302 redirect", "/up", status(302), 502},
		{"307 redirect", "/up", status(307), 502},
		{"304", "/up", func(w http.ResponseWriter) { w.WriteHeader(304) }, 502},
		{"400", "/up", status(400), 502},
		{"404", "/up", status(404), 502},
		{"500", "/up", status(500), 502},
		{"503", "/up", status(503), 502},
		{"hangs past response_header_timeout", "/up", func(w http.ResponseWriter) { time.Sleep(answerTimeout + time.Second) }, 504},
		{"down", "/down", status(200), 502},
	}
	for _, m := range merchants {
		answer.Store(m.answer)
		for _, p := range providers {
			t.Run(m.name+"/"+p.name, func(t *testing.T) {
				body, header := p.notification()
				req, _ := http.NewRequest(http.MethodPost, base+m.prefix+"/"+p.name, strings.NewReader(body))
				for k, v := range header {
					req.Header[k] = v
				}
				req.Header.Set("Content-Type", p.contentType)
				before := received.Load()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(res.Body)
				res.Body.Close()
				// The provider gets minipay's answer, never the backend's
				// headers (its cookies, its Location, its internal names).
				for _, h := range []string{"Set-Cookie", "X-Backend-Node", "Location"} {
					if v := res.Header.Get(h); v != "" {
						t.Errorf("the provider received %s: %s", h, v)
					}
				}
				if m.prefix == "/up" && received.Load() == before {
					t.Fatal("the merchant backend received nothing")
				}
				if m.status == 200 {
					if res.StatusCode != 200 || !bytes.Equal(got, []byte(p.ack)) {
						t.Fatalf("status %d %q, want 200 and the ACK %q", res.StatusCode, got, p.ack)
					}
					return
				}
				if res.StatusCode != m.status || !p.failForm(string(got)) {
					t.Fatalf("status %d %q, want %d and the failure form", res.StatusCode, got, m.status)
				}
			})
		}
	}
}

// allWebhookRoutes is one minipay_webhook route per provider under prefix
// (prefix/wechat_v2, …), each forwarding to upstream with answerTimeout as
// response_header_timeout.
func allWebhookRoutes(t *testing.T, prefix, upstream string) string {
	route := func(provider, fields string) string {
		return "\thandle " + prefix + "/" + provider + " {\n\t\tminipay_webhook " + provider + " {\n" + fields + "\t\t}\n\t\treverse_proxy " + upstream +
			" {\n\t\t\ttransport http {\n\t\t\t\tresponse_header_timeout " + answerTimeout.String() + "\n\t\t\t}\n\t\t}\n\t}\n"
	}
	var routes strings.Builder
	for _, provider := range []string{"wechat_v2", "wechat_v3", "latipay", "cbtis", "2c2p"} {
		routes.WriteString(route(provider, webhookBlock(t, provider)))
	}
	return routes.String()
}

// webhookProvider is a provider's valid notification (built afresh: v3's
// is signed at the time of the call), its ACK and a check of its failure
// form.
type webhookProvider struct {
	name, contentType string
	notification      func() (string, http.Header)
	ack               string
	failForm          func(body string) bool
}

// webhookProviders are the five providers of allWebhookRoutes.
func webhookProviders(t *testing.T) []webhookProvider {
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	cbtisPaid := `{"notify_type":"payment_success","data":{"order_id":"C1","merchant_order_id":"CB-77","order_amount":"12.30","order_currency":"HKD"}}`
	v3Paid := func() (string, http.Header) {
		tx := `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"W1","transaction_id":"4200009","trade_state":"SUCCESS","amount":{"total":1230,"currency":"CNY"}}`
		body := `{"id":"EV-1","create_time":"2026-11-29T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"s",` +
			`"resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + gcmSeal(t, v3APIv3Key, "abcdefghijkl", "transaction", tx) +
			`","associated_data":"transaction","nonce":"abcdefghijkl"}}`
		return body, wechatHeaders(t, platform, v3PublicKeyID, time.Now().Unix(), body)
	}
	return []webhookProvider{
		{"wechat_v2", "text/xml", func() (string, http.Header) {
			return xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, nil)), nil
		}, wechatv2.AckBody, func(b string) bool {
			return strings.HasPrefix(b, "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[") && strings.HasSuffix(b, "]]></return_msg></xml>")
		}},
		{"wechat_v3", "application/json", v3Paid, "", func(b string) bool {
			return strings.HasPrefix(b, `{"code":"FAIL","message":"`) && strings.HasSuffix(b, `"}`)
		}},
		{"latipay", "application/x-www-form-urlencoded", func() (string, http.Header) { return latipayForm(latipayAPIKey, nil), nil }, "sent",
			func(b string) bool { return strings.HasPrefix(b, "fail: ") }},
		{"cbtis", "application/json", func() (string, http.Header) {
			return cbtisPaid, http.Header{"Signature": {cbtis.Signature([]byte(cbtisPaid), cbtisAPIKey)}}
		}, "success", func(b string) bool { return strings.HasPrefix(b, "fail: ") }},
		{"2c2p", "application/x-www-form-urlencoded", func() (string, http.Header) {
			return "paymentResponse=" + url.QueryEscape(twoc2pDemoApproved), nil
		}, "", func(b string) bool { return b != "" }},
	}
}
