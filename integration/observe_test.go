package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
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

// readmeLogFilter is the body of the log block README Observability shows
// for keeping code2Session's AppSecret out of Caddy's lines (the caddyfile
// block holding "replace secret REDACTED"), for a test to load as a user
// copies it into a logger of its own.
func readmeLogFilter(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	at := strings.Index(text, "replace secret REDACTED")
	start := strings.LastIndex(text[:max(at, 0)], "```caddyfile\n")
	end := strings.Index(text[max(at, 0):], "```")
	if at < 0 || start < 0 || end < 0 {
		t.Fatal("README.md shows no filter for the AppSecret")
	}
	var body []string
	inLog := false
	for line := range strings.Lines(text[start+len("```caddyfile\n") : at+end]) {
		line = strings.TrimPrefix(strings.TrimRight(line, "\n"), "  ") // the list item's indent
		switch {
		case line == "\tlog {":
			inLog = true
		case line == "\t}":
			inLog = false
		case inLog:
			body = append(body, line)
		}
	}
	if len(body) == 0 {
		t.Fatal("README.md's filter block has no log block")
	}
	return strings.Join(body, "\n")
}

// TestUpstreamRewriteShowsTheAppSecret: a wechat_login route that rewrites
// its upstream URI (reverse_proxy's rewrite subdirective, or a rewrite
// between minipay and reverse_proxy in a route) makes Caddy's own lines
// show code2Session's URL, AppSecret included: upstream roundtrip and
// rewrite's line at DEBUG, aborting with incomplete response at WARN; so
// does, on any route, a redirect quoting that URL (an http:// upstream
// sending the client to https://), in the Location upstream roundtrip
// prints at DEBUG. The filter encoder README Observability gives, loaded as
// README shows it, removes it from every one of them; the same log
// unfiltered holds it (else README's warning is stale). Caddy's GET
// /config/ shows the secret's placeholder (README Admin API).
func TestUpstreamRewriteShowsTheAppSecret(t *testing.T) {
	wechat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimPrefix(r.URL.Path, "/gateway") != "/sns/jscode2session" || r.URL.Query().Get("secret") != appSecret {
			t.Errorf("code2Session got %s", r.URL.RequestURI())
		}
		if r.URL.Query().Get("js_code") == "redirect" { // as a host asked over http:// answers
			w.Header().Set("Location", "https://api.weixin.qq.com"+r.URL.RequestURI())
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		if r.URL.Query().Get("js_code") == "cut" { // a Content-Length the body never reaches
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"openid":`))
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		_, _ = w.Write([]byte(`{"openid":"oLOGv419cwT89c3EhFacTtXD_84","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}`))
	}))
	defer wechat.Close()
	// From a placeholder, as README Secrets asks: a literal one is in
	// Caddy's DEBUG line "adjusted config", which no filter reaches.
	t.Setenv("MINIPAY_REWRITE_SECRET", appSecret)
	dir := t.TempDir()
	filtered, plain := filepath.Join(dir, "filtered.log"), filepath.Join(dir, "plain.log")
	upstream := strings.TrimPrefix(wechat.URL, "http://")
	port := itoa(freePort(t))
	tc := startCaddy(t, `{
	skip_install_trust
	admin `+adminAddr+`
	storage file_system `+storageDir()+`
	grace_period 1ns
	log {
		output file `+filtered+`
`+readmeLogFilter(t)+`
		level DEBUG
	}
	log plain {
		output file `+plain+`
		format json
		level DEBUG
	}
}
:`+port+` {
	handle /subdirective/* {
		minipay wechat_login {
			app_id `+appID+`
			app_secret {env.MINIPAY_REWRITE_SECRET}
		}
		reverse_proxy `+upstream+` {
			rewrite /gateway{uri}
		}
	}
	route /between/* {
		minipay wechat_login {
			app_id `+appID+`
			app_secret {env.MINIPAY_REWRITE_SECRET}
		}
		rewrite * /gateway{uri}
		reverse_proxy `+upstream+`
	}
	handle /plain/* {
		minipay wechat_login {
			app_id `+appID+`
			app_secret {env.MINIPAY_REWRITE_SECRET}
		}
		reverse_proxy `+upstream+`
	}
}
`)
	for _, route := range []string{"subdirective", "between"} {
		for code, status := range map[string]int{"c0de": 200, "cut": 502} {
			if r := postJSON(t, tc, "http://localhost:"+port+"/"+route+"/login", `{"code":"`+code+`"}`); r.status != status {
				t.Fatalf("%s %s: %d %s", route, code, r.status, r.body)
			}
		}
	}
	if r := postJSON(t, tc, "http://localhost:"+port+"/plain/login", `{"code":"redirect"}`); r.status != http.StatusBadGateway ||
		!strings.Contains(string(r.body), `"the provider answered HTTP 301"`) {
		t.Fatalf("a redirect: %d %s", r.status, r.body)
	}
	// README Admin API: Caddy's GET /config/ shows the placeholder, not its value.
	if config := string(do(t, tc, http.MethodGet, "http://"+adminAddr+"/config/", "", nil).body); strings.Contains(config, appSecret) ||
		!strings.Contains(config, "{env.MINIPAY_REWRITE_SECRET}") {
		t.Errorf("GET /config/: %s", config)
	}
	for file, holds := range map[string]bool{filtered: false, plain: true} {
		logs := logText(t, file)
		if !strings.Contains(logs, `"msg":"aborting with incomplete response"`) || !strings.Contains(logs, `"msg":"rewrote request"`) ||
			!strings.Contains(logs, `"Location":["https://api.weixin.qq.com/sns/jscode2session?`) {
			t.Fatalf("%s: Caddy's lines are missing:\n%s", filepath.Base(file), logs)
		}
		if got := strings.Contains(logs, appSecret); got != holds {
			t.Errorf("%s holds the AppSecret: %v, want %v", filepath.Base(file), got, holds)
		}
	}
}
