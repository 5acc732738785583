package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUpstreamRefusalStatusesAlike: README Errors, one rule for every
// provider whose error answers carry a business code (WeChat v3, Latipay,
// CBTIS), driven through a real Caddy against one independent server that
// answers each provider's query with its own error form under every HTTP
// status: a 4xx with a code is the provider's refusal (422), but a 401 (the
// provider did not take our credentials) and a 429 (the rate is at fault);
// those, a 3xx and a 5xx are a 502 upstream_error keeping the code.
func TestUpstreamRefusalStatusesAlike(t *testing.T) {
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	// The provider's error form, each provider's own spelling of a business
	// refusal (none of them one that blames the configuration).
	forms := map[string]string{
		"wechat_v3": `{"code":"PARAM_ERROR","message":"参数错误"}`,
		"latipay":   `{"code":207,"message":"Param is wrong"}`,
		"cbtis":     `{"code":40002,"message":"invalid parameter"}`,
	}
	codes := map[string]string{"wechat_v3": "PARAM_ERROR", "latipay": "207", "cbtis": "40002"}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/mch-api/v1/auth" {
			_, _ = io.WriteString(w, `{"access_token":"tok-statuses","expires_in":3600}`)
			return
		}
		// The order id names the status to answer: ST-<status>.
		var provider, order string
		switch {
		case strings.HasPrefix(r.URL.Path, "/v3/"):
			provider, order = "wechat_v3", path.Base(r.URL.Path)
		case strings.HasPrefix(r.URL.Path, "/v2/transaction/"):
			provider, order = "latipay", path.Base(r.URL.Path)
		case r.URL.Path == "/mch-api/v1/pa/payment_intents/query":
			var q struct {
				MerchantOrderID string `json:"merchant_order_id"`
			}
			_ = json.Unmarshal(body, &q)
			provider, order = "cbtis", q.MerchantOrderID
		}
		status, err := strconv.Atoi(strings.TrimPrefix(order, "ST-"))
		if provider == "" || err != nil {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		out := forms[provider]
		if provider == "wechat_v3" { // WeChat signs every answer, error answers included
			for k, v := range wechatHeaders(t, platform, v3PublicKeyID, time.Now().Unix(), out) {
				w.Header()[k] = v
			}
		}
		if status/100 == 3 {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(fake.Close)
	upstream := strings.TrimPrefix(fake.URL, "http://")
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {
	handle /wechat_v3/* {
		minipay wechat_v3 {
`+v3Merchant(t, v3PublicKeyMode(t))+`
		}
		reverse_proxy `+upstream+`
	}`+latipayRoute("/latipay", fake.URL, latipayAPIKey)+`
	handle /cbtis/* {
		minipay cbtis {`+cbtisBlock(fake.URL+"/mch-api/v1/auth")+`
		}
		reverse_proxy `+upstream+`
	}
}
`)
	tests := []struct {
		status int
		want   string // HTTP status and error code
	}{
		{301, "502 upstream_error"},
		{302, "502 upstream_error"},
		{400, "422 provider_rejected"},
		{401, "502 upstream_error"},
		{403, "422 provider_rejected"},
		{404, "422 provider_rejected"},
		{409, "422 provider_rejected"},
		{429, "502 upstream_error"},
		{500, "502 upstream_error"},
		{503, "502 upstream_error"},
	}
	for _, tt := range tests {
		for _, provider := range []string{"wechat_v3", "latipay", "cbtis"} {
			where := provider + " HTTP " + strconv.Itoa(tt.status)
			res := postJSON(t, tc, "http://localhost:"+port+"/"+provider+"/query", `{"order_id":"ST-`+strconv.Itoa(tt.status)+`"}`)
			e := res.errorOf(t)
			if got := strconv.Itoa(res.status) + " " + str(e["code"]); got != tt.want || res.header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %s, want %s: %s", where, got, tt.want, res.body)
				continue
			}
			// The provider's code is kept whatever the mapping (a 401 is
			// retried with a fresh token by CBTIS, and its second one says so).
			if tt.status != 401 && str(e["provider_code"]) != codes[provider] {
				t.Errorf("%s: provider_code %v, want %s: %s", where, e["provider_code"], codes[provider], res.body)
			}
			if _, has := e["field"]; has {
				t.Errorf("%s: an upstream answer names a field: %s", where, res.body)
			}
		}
	}
}
