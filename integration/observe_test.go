package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestCertificateDownloadFailureLogged: in certificate mode, a download of
// the platform certificates that fails is a WARN line saying why (README
// Observability), beside the webhook's own line, which only says the
// notification did not verify.
func TestCertificateDownloadFailureLogged(t *testing.T) {
	wechat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized) // as WeChat answers a merchant whose serial_no it does not know
	}))
	defer wechat.Close()
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("an unverified notification reached the merchant")
	}))
	defer merchant.Close()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(logFile)+":"+port+" {\n\tminipay_webhook wechat_v3 {\n"+
		v3Merchant(t, "\t\tcertificates_url "+wechat.URL+"/v3/certificates\n")+"\t}\n\treverse_proxy "+strings.TrimPrefix(merchant.URL, "http://")+"\n}\n")

	req, _ := http.NewRequest(http.MethodPost, "http://localhost:"+port+"/webhooks/wechat_v3", strings.NewReader(`{"id":"EV-1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Wechatpay-Serial", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
	req.Header.Set("Wechatpay-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("Wechatpay-Nonce", "n0nce")
	req.Header.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(make([]byte, 256)))
	res, err := tc.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("HTTP %d, want 401", res.StatusCode)
	}
	var download, webhook map[string]any
	logs := logText(t, logFile)
	for line := range strings.Lines(logs) {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch l["msg"] {
		case "minipay: platform certificate download failed":
			download = l
		case "minipay webhook":
			webhook = l
		}
	}
	if download == nil || download["level"] != "warn" || download["provider"] != "wechat_v3" ||
		!strings.HasSuffix(str(download["error"]), "could not be downloaded: certificates_url answered HTTP 401") {
		t.Errorf("download line %v", download)
	}
	if webhook == nil || webhook["outcome"] != "unverified" {
		t.Errorf("webhook line %v", webhook)
	}
	if strings.Contains(logs, v3APIv3Key) {
		t.Error("the log holds api_v3_key")
	}
}

// TestAccessLogPlaceholdersSeeTheMerchantRequest: Caddy evaluates a
// log_append placeholder when it writes the access log, after the handlers:
// {http.request.uri} and its parts are the merchant's request then, not
// the provider's (code2Session's query holds the AppSecret; README
// Observability).
func TestAccessLogPlaceholdersSeeTheMerchantRequest(t *testing.T) {
	wechat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("secret") != appSecret {
			t.Errorf("code2Session got %s", r.URL.RawQuery)
		}
		w.Header().Set("Content-Type", "text/plain") // as WeChat labels its JSON
		_, _ = w.Write([]byte(`{"openid":"oLOGv419cwT89c3EhFacTtXD_84","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}`))
	}))
	defer wechat.Close()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(logFile)+":"+port+` {
	log
	handle /wxlogin/* {
		log_append uri {http.request.uri}
		log_append path {http.request.uri.path}
		log_append query {http.request.uri.query}
		log_append method {http.request.method}
		minipay wechat_login {
			app_id `+appID+`
			app_secret `+appSecret+`
		}
		reverse_proxy `+strings.TrimPrefix(wechat.URL, "http://")+`
	}
}
`)
	if r := postJSON(t, tc, "http://localhost:"+port+"/wxlogin/login?trace=1", `{"code":"c0de"}`); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	logs := logText(t, logFile)
	var access map[string]any
	for line := range strings.Lines(logs) {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(str(l["logger"]), "http.log.access") {
			access = l
		}
	}
	if access == nil || access["uri"] != "/wxlogin/login?trace=1" || access["path"] != "/wxlogin/login" ||
		access["query"] != "trace=1" || access["method"] != "POST" {
		t.Errorf("access log line %v, want the merchant's POST /wxlogin/login?trace=1", access)
	}
	if strings.Contains(logs, appSecret) {
		t.Error("the log holds the AppSecret")
	}
}

// TestWebhookAccessLogShowsTheProviderRequest: once the merchant answered,
// the request Caddy's access log reads is the provider's as received (its
// query, its headers), not the event minipay_webhook forwarded.
func TestWebhookAccessLogShowsTheProviderRequest(t *testing.T) {
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Minipay-Event-Id") == "" || r.URL.RawQuery != "" {
			t.Errorf("forwarded %s with %v", r.URL, r.Header)
		}
	}))
	defer merchant.Close()
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(logFile)+":"+port+` {
	log
	handle /webhooks/wechat_v2 {
		log_append uri {http.request.uri}
		log_append content_type {http.request.header.Content-Type}
		minipay_webhook wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
		}
		reverse_proxy `+strings.TrimPrefix(merchant.URL, "http://")+`
	}
}
`)
	res := do(t, tc, http.MethodPost, "http://localhost:"+port+"/webhooks/wechat_v2?from=wechat", "text/xml",
		[]byte(xmlOf(notification(apiKey, wechatv2.SignMD5, nil))))
	if res.status != 200 || string(res.body) != wechatACK {
		t.Fatalf("HTTP %d %s", res.status, res.body)
	}
	var access map[string]any
	for line := range strings.Lines(logText(t, logFile)) {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(str(l["logger"]), "http.log.access") {
			access = l
		}
	}
	request, _ := access["request"].(map[string]any)
	headers, _ := request["headers"].(map[string]any)
	if access["uri"] != "/webhooks/wechat_v2?from=wechat" || access["content_type"] != "text/xml" ||
		request["uri"] != "/webhooks/wechat_v2?from=wechat" || headers["Minipay-Event-Id"] != nil {
		t.Errorf("access log line %v, want the provider's request", access)
	}
}
