package integration

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type adminProvider struct {
	Handler  string            `json:"handler"`
	Provider string            `json:"provider"`
	Config   map[string]any    `json:"config"`
	Keys     []json.RawMessage `json:"keys"`
	Token    string            `json:"token_expires_at"`
}

func adminProviders(t *testing.T) ([]adminProvider, string) {
	t.Helper()
	res, err := http.Get("http://" + adminAddr + "/minipay/providers")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var list []adminProvider
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &list) != nil {
		t.Fatalf("GET /minipay/providers: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	return list, string(body)
}

// findAdmin is the entry of list for handler and provider.
func findAdmin(t *testing.T, list []adminProvider, handler, provider string) adminProvider {
	t.Helper()
	for _, p := range list {
		if p.Handler == handler && p.Provider == provider {
			return p
		}
	}
	t.Fatalf("no %s %s", handler, provider)
	return adminProvider{}
}

// TestAdminProviders reads GET /minipay/providers of a Caddy running
// Caddyfile.example: every provider route is listed with its non-secret
// fields, no secret appears at all (not even its field name), and the CBTIS
// client shows its token's expiry once it holds one.
func TestAdminProviders(t *testing.T) {
	tc, merchant, _, _ := startExample(t)
	list, body := adminProviders(t)
	var got []string
	for _, p := range list {
		got = append(got, p.Handler+" "+p.Provider)
		if p.Keys == nil {
			t.Errorf("%s %s: keys is not an array", p.Handler, p.Provider)
		}
	}
	want := []string{ // by handler, then provider
		"minipay 2c2p", "minipay cbtis", "minipay latipay", "minipay wechat_login", "minipay wechat_v2", "minipay wechat_v3",
		"minipay_webhook 2c2p", "minipay_webhook cbtis", "minipay_webhook latipay", "minipay_webhook wechat_v2", "minipay_webhook wechat_v3",
		"minipay_sandbox 2c2p", "minipay_sandbox cbtis", "minipay_sandbox latipay", "minipay_sandbox wechat_login", "minipay_sandbox wechat_v2",
		"minipay_sandbox wechat_v3",
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("providers:\n got %v\nwant %v", got, want)
	}
	// Caddyfile.example's secrets, literally, and the names of secret fields.
	for _, secret := range []string{
		"8934e7d15453e97507ef794cf7b0519d", "5f5e2c8d4b7a4e0f9c1d3b6a8e2f4c7d", "7jYcp4FxFdf0",
		"lp-sandbox-3f9a1c7e5b2d4086", "cs_sandbox_4b7e1d9a2c6f8e3b5a7d9c1e3f5a7b9d", "6d0e8fa7b10c40c3a48c0c2be41cb178",
		"sandbox-apiv3-key-0123456789abcd", "PRIVATE KEY",
		`"api_key"`, `"app_secret"`, `"secret_key"`, `"client_secret"`, `"private_key"`, `"api_v3_key"`, `"platform_private_key"`,
	} {
		if strings.Contains(body, secret) {
			t.Errorf("GET /minipay/providers shows %s", secret)
		}
	}
	find := func(list []adminProvider, handler, provider string) adminProvider {
		return findAdmin(t, list, handler, provider)
	}
	v2 := find(list, "minipay", "wechat_v2").Config
	if v2["app_id"] != appID || v2["mch_id"] != mchID || v2["sign_type"] != "HMAC-SHA256" || v2["client_ip"] != "127.0.0.1" ||
		!strings.HasSuffix(str(v2["notify_url"]), "/webhooks/wechat_v2") {
		t.Errorf("wechat_v2 config %v", v2)
	}
	if c := find(list, "minipay", "cbtis").Config; c["uid"] != "39172931" || c["sub_app_id"] != "wx7bc98d929da735fe" || !strings.HasSuffix(str(c["token_url"]), "/mch-api/v1/auth") {
		t.Errorf("cbtis config %v", c)
	}
	// The view shows the values in effect: an optional field left out of
	// the configuration appears with its default.
	for _, d := range []struct{ handler, provider, field, want string }{
		{"minipay", "cbtis", "signature_header", "Signature"},
		{"minipay_webhook", "cbtis", "signature_header", "Signature"},
		{"minipay", "2c2p", "version", "9.9"},
		{"minipay", "2c2p", "payment_path", "/2C2PFrontEnd/SecurePayment/Payment.aspx"},
		{"minipay", "latipay", "refund_path", "/refund"},
	} {
		if got := find(list, d.handler, d.provider).Config[d.field]; got != d.want {
			t.Errorf("%s %s: %s = %v, want the default %q", d.handler, d.provider, d.field, got, d.want)
		}
	}
	// wechat_v3 names its keys by public identity: the merchant
	// certificate's serial, the WeChat Pay public key id, and the sandbox's
	// platform certificate with its expiry.
	keysOf := func(p adminProvider) string {
		var parts []string
		for _, k := range p.Keys {
			var v map[string]string
			_ = json.Unmarshal(k, &v)
			parts = append(parts, v["kind"]+"="+v["id"])
			if _, err := time.Parse(time.RFC3339, v["not_after"]); v["kind"] == "platform_certificate" && err != nil {
				t.Errorf("%s %s: certificate %s without a not_after: %s", p.Handler, p.Provider, v["id"], k)
			}
		}
		return strings.Join(parts, ",")
	}
	const merchantSerial, publicKeyID = "merchant_certificate=3775B6A45ACD588826D15E583A95F5DD2F2D3B4A", "wechatpay_public_key=PUB_KEY_ID_0119000001092026112900000000000001"
	if k := keysOf(find(list, "minipay", "wechat_v3")); !strings.HasPrefix(k, merchantSerial+","+publicKeyID) {
		t.Errorf("minipay wechat_v3 keys: %s", k)
	}
	if k := keysOf(find(list, "minipay_webhook", "wechat_v3")); !strings.Contains(k, publicKeyID) {
		t.Errorf("minipay_webhook wechat_v3 keys: %s", k)
	}
	if k := keysOf(find(list, "minipay_sandbox", "wechat_v3")); !strings.HasPrefix(k, "platform_certificate=") || !strings.Contains(k, publicKeyID) {
		t.Errorf("minipay_sandbox wechat_v3 keys: %s", k)
	}
	if tok := find(list, "minipay", "cbtis").Token; tok != "" {
		t.Errorf("a token expiry before any token: %s", tok)
	}

	before := time.Now()
	if res := postJSON(t, tc, "http://localhost:"+itoa(merchant)+"/cbtis/pay",
		`{"order_id":"ADM-1","amount":"1.00","currency":"HKD","description":"d","openid":"o"}`); res.status != 200 {
		t.Fatalf("cbtis pay: %d %s", res.status, res.body)
	}
	list, _ = adminProviders(t)
	tok := find(list, "minipay", "cbtis").Token
	exp, err := time.Parse(time.RFC3339, tok)
	// the sandbox issues one-hour tokens
	if err != nil || exp.Before(before.Add(time.Hour-2*time.Second)) || exp.After(time.Now().Add(time.Hour+time.Second)) {
		t.Fatalf("token_expires_at %q (%v)", tok, err)
	}

	if res, err := http.Post("http://"+adminAddr+"/minipay/providers", "application/json", nil); err != nil || res.StatusCode != 405 || res.Header.Get("Allow") != "GET" {
		t.Fatalf("POST /minipay/providers: %v %v", res, err)
	}
}

// A configuration that is unloaded (here: replaced) leaves the list.
func TestAdminProvidersFollowReloads(t *testing.T) {
	startCaddy(t, globalOptions(t.TempDir()+"/log")+`
:`+itoa(freePort(t))+` {
	minipay_sandbox {
		latipay {
			user_id U1
			wallet_id W1
			api_key k
			app_id wx1
			currency NZD
		}
	}
}
`)
	list, body := adminProviders(t)
	if len(list) != 1 || list[0].Handler != "minipay_sandbox" || list[0].Provider != "latipay" || list[0].Config["wallet_id"] != "W1" {
		t.Fatalf("after the first load: %s", body)
	}
	// A configuration that fails to load (its second provider lacks a
	// field) lists nothing, and the running one stays listed.
	loader := adminLoader{client: &http.Client{Timeout: loadTimeout}}
	if err := loader.load(globalOptions(t.TempDir()+"/log") + `
:` + itoa(freePort(t)) + ` {
	minipay_sandbox {
		latipay {
			user_id U2
			wallet_id W2
			api_key k
			app_id wx1
			currency NZD
		}
		cbtis {
			uid 1
		}
	}
}
`); err == nil {
		t.Fatal("a configuration without cbtis's client_secret loaded")
	}
	if list, body := adminProviders(t); len(list) != 1 || list[0].Config["wallet_id"] != "W1" {
		t.Fatalf("after a failed load: %s", body)
	}
	startCaddy(t, globalOptions(t.TempDir()+"/log")+":"+itoa(freePort(t))+" {\n\trespond ok\n}\n")
	if list, body := adminProviders(t); len(list) != 0 {
		t.Fatalf("after a reload without minipay: %s", body)
	}
}

// In certificate mode (certificates_url) the platform certificates are
// downloaded when first needed, not at load: GET /minipay/providers lists
// the merchant certificate only, then, once a pay (minipay) and its
// notification (minipay_webhook) made each route download, the sandbox's
// platform certificate with its serial and expiry as the PEM file says.
func TestAdminProvidersDownloadedCertificates(t *testing.T) {
	certPEM, err := os.ReadFile(v3KeyPath(t, "wechatpay_platform_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block in the platform certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	platform := fmt.Sprintf(`{"id":"%X","kind":"platform_certificate","not_after":"%s"}`, cert.SerialNumber, cert.NotAfter.UTC().Format(time.RFC3339))
	const merchantCert = `{"id":"` + v3Serial + `","kind":"merchant_certificate"}`

	merchant, sandbox := freePort(t), freePort(t)
	download := "\t\tcertificates_url http://localhost:" + itoa(sandbox) + "/v3/certificates\n"
	config := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + ":" + itoa(merchant) + " {\n" +
		"\thandle /v3/* {\n\t\tminipay wechat_v3 {\n" + v3Merchant(t, download) + "\t\tnotify_url http://localhost:" + itoa(merchant) + "/hooks/v3\n\t\t}\n" +
		"\t\treverse_proxy localhost:" + itoa(sandbox) + "\n\t}\n" +
		"\thandle /hooks/v3 {\n\t\tminipay_webhook wechat_v3 {\n" + v3Merchant(t, download) + "\t\t}\n" +
		"\t\trewrite * /sandbox/merchant/events\n\t\treverse_proxy localhost:" + itoa(sandbox) + "\n\t}\n}\n" +
		":" + itoa(sandbox) + " {\n\tbind 127.0.0.1\n\tminipay_sandbox {\n\t\twechat_v3 {\n" +
		v3Merchant(t, "\t\tplatform_private_key {file."+v3KeyPath(t, "wechatpay_platform_key.pem")+"}\n\t\tplatform_certificate {file."+v3KeyPath(t, "wechatpay_platform_cert.pem")+"}\n") +
		"\t\t}\n\t}\n}\n"
	tc := startCaddy(t, config)
	keys := func(handler string) string {
		t.Helper()
		list, _ := adminProviders(t)
		var parts []string
		for _, k := range findAdmin(t, list, handler, "wechat_v3").Keys {
			parts = append(parts, string(k))
		}
		return strings.Join(parts, ",")
	}
	for _, handler := range []string{"minipay", "minipay_webhook"} {
		if got := keys(handler); got != merchantCert {
			t.Errorf("%s before any download: keys %s, want %s", handler, got, merchantCert)
		}
	}
	if res := postJSON(t, tc, "http://localhost:"+itoa(merchant)+"/v3/pay",
		`{"order_id":"ADM-DL-1","amount":"1.00","currency":"CNY","description":"d","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`); res.status != 200 {
		t.Fatalf("pay: %d %s", res.status, res.body)
	}
	if got, want := keys("minipay"), merchantCert+","+platform; got != want {
		t.Errorf("minipay after the pay: keys %s, want %s", got, want)
	}
	if res := postJSON(t, tc, "http://localhost:"+itoa(sandbox)+"/sandbox/complete",
		`{"provider":"wechat_v3","order_id":"ADM-DL-1","result":"succeeded"}`); res.status != 200 || res.json(t)["acknowledged"] != true {
		t.Fatalf("complete: %d %s", res.status, res.body)
	}
	if got, want := keys("minipay_webhook"), merchantCert+","+platform; got != want {
		t.Errorf("minipay_webhook after the notification: keys %s, want %s", got, want)
	}
}

// Several merchants of one provider, each on its own routes, secrets from
// {env.*} and {file.*}: GET /minipay/providers lists each route's provider
// with its own resolved configuration, in load order within a handler and
// provider, and no secret value or secret field name; every method but GET
// is a 405 naming GET; a configuration without minipay lists [] exactly
// (README "Admin API").
func TestAdminProvidersSeveralMerchants(t *testing.T) {
	dir := t.TempDir()
	const keyA, keyB, appSecret = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2", "5f5e2c8d4b7a4e0f9c1d3b6a8e2f4c7d"
	t.Setenv("MINIPAY_TEST_ADMIN_KEY_A", keyA)
	t.Setenv("MINIPAY_TEST_ADMIN_MCH_B", "2000000002")
	if err := os.WriteFile(filepath.Join(dir, "key_b"), []byte(keyB), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MINIPAY_TEST_ADMIN_APP_SECRET", appSecret)
	startCaddy(t, globalOptions(dir+"/log")+`
:`+itoa(freePort(t))+` {
	handle /a/* {
		minipay wechat_v2 {
			app_id wx1111111111111111
			mch_id 1000000001
			api_key {env.MINIPAY_TEST_ADMIN_KEY_A}
		}
		respond 502
	}
	handle /b/* {
		minipay wechat_v2 {
			app_id wx2222222222222222
			mch_id {env.MINIPAY_TEST_ADMIN_MCH_B}
			api_key {file.`+dir+`/key_b}
			sign_type HMAC-SHA256
		}
		respond 502
	}
	handle /hooks/b {
		minipay_webhook wechat_v2 {
			app_id wx2222222222222222
			mch_id 2000000002
			api_key {file.`+dir+`/key_b}
			sign_type HMAC-SHA256
		}
		respond 200
	}
	handle /login/* {
		minipay wechat_login {
			app_id wx1111111111111111
			app_secret {env.MINIPAY_TEST_ADMIN_APP_SECRET}
		}
		respond 502
	}
}
`)
	list, body := adminProviders(t)
	type entry struct{ handler, provider, appID, mchID, signType string }
	want := []entry{
		{"minipay", "wechat_login", "wx1111111111111111", "<nil>", "<nil>"},
		{"minipay", "wechat_v2", "wx1111111111111111", "1000000001", "MD5"},
		{"minipay", "wechat_v2", "wx2222222222222222", "2000000002", "HMAC-SHA256"},
		{"minipay_webhook", "wechat_v2", "wx2222222222222222", "2000000002", "HMAC-SHA256"},
	}
	if len(list) != len(want) {
		t.Fatalf("%d providers listed, want %d: %s", len(list), len(want), body)
	}
	for i, p := range list {
		got := entry{p.Handler, p.Provider, fmt.Sprint(p.Config["app_id"]), fmt.Sprint(p.Config["mch_id"]), fmt.Sprint(p.Config["sign_type"])}
		if got != want[i] || len(p.Keys) != 0 {
			t.Errorf("entry %d: %+v keys %s, want %+v and no keys", i, got, p.Keys, want[i])
		}
	}
	for _, secret := range []string{keyA, keyB, appSecret, "api_key", "app_secret", "MINIPAY_TEST_ADMIN"} {
		if strings.Contains(body, secret) {
			t.Errorf("GET /minipay/providers shows %s: %s", secret, body)
		}
	}
	for _, method := range []string{http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		req, _ := http.NewRequest(method, "http://"+adminAddr+"/minipay/providers", strings.NewReader("[]"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != http.MethodGet || strings.Contains(string(b), "wx1111111111111111") {
			t.Errorf("%s: %d Allow %q %s", method, res.StatusCode, res.Header.Get("Allow"), b)
		}
	}
	startCaddy(t, globalOptions(dir+"/log")+":"+itoa(freePort(t))+" {\n\trespond ok\n}\n")
	if _, body := adminProviders(t); body != "[]\n" {
		t.Fatalf("without minipay: %q, want [] and a line break", body)
	}
}
