package integration

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The example's sandbox-only public test keys (examples/keys).
const (
	v3Serial      = "3775B6A45ACD588826D15E583A95F5DD2F2D3B4A"
	v3PlatformSN  = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
	v3PublicKeyID = "PUB_KEY_ID_0119000001092026112900000000000001"
	v3APIv3Key    = "sandbox-apiv3-key-0123456789abcd"
)

func v3KeyPath(t testing.TB, name string) string {
	p, err := filepath.Abs(filepath.Join("..", "examples", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func v3PrivateKey(t testing.TB, name string) *rsa.PrivateKey {
	return v3PrivateKeyAt(t, v3KeyPath(t, name))
}

// v3PrivateKeyAt reads the PKCS#8 RSA key in the PEM file at path.
func v3PrivateKeyAt(t testing.TB, path string) *rsa.PrivateKey {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// v3Merchant is the merchant block shared by the routes; extra adds the
// verification key source and the rest.
func v3Merchant(t testing.TB, extra string) string {
	return "\t\tapp_id " + appID + "\n\t\tmch_id " + mchID + "\n\t\tserial_no " + v3Serial +
		"\n\t\tprivate_key {file." + v3KeyPath(t, "apiclient_key.pem") + "}\n\t\tapi_v3_key " + v3APIv3Key + "\n" + extra
}

func v3PublicKeyMode(t testing.TB) string {
	return "\t\tpublic_key {file." + v3KeyPath(t, "wechatpay_pub_key.pem") + "}\n\t\tpublic_key_id " + v3PublicKeyID + "\n"
}

// --- independent WeChat-side crypto (crypto/rsa, crypto/cipher directly) ---

// v3Message is what WeChat Pay v3 signs: each line followed by "\n"
// (docs/providers/wechat_v3.md: a request's method, URL, timestamp, nonce
// and body; an answer's or notification's timestamp, nonce and body;
// paySign's appId, timeStamp, nonceStr and package).
func v3Message(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func rsaSign(t testing.TB, key *rsa.PrivateKey, msg string) string {
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func rsaVerify(pub *rsa.PublicKey, msg, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw) == nil
}

func gcmSeal(t testing.TB, key, nonce, ad, plain string) string {
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := cipher.NewGCM(block)
	return base64.StdEncoding.EncodeToString(aead.Seal(nil, []byte(nonce), []byte(plain), []byte(ad)))
}

// wechatHeaders signs body as WeChat does, at ts.
func wechatHeaders(t testing.TB, key *rsa.PrivateKey, serial string, ts int64, body string) http.Header {
	tss, nonce := strconv.FormatInt(ts, 10), "nonce"+strconv.FormatInt(ts%1000, 10)
	return http.Header{"Wechatpay-Serial": {serial}, "Wechatpay-Timestamp": {tss}, "Wechatpay-Nonce": {nonce},
		"Wechatpay-Signature": {rsaSign(t, key, v3Message(tss, nonce, body))}}
}

func newCert(t testing.TB, key *rsa.PrivateKey, serial int64) (*x509.Certificate, string) {
	return newCertBetween(t, key, serial, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// newCertBetween is a self-signed certificate of key valid from notBefore
// to notAfter, and its PEM.
func newCertBetween(t testing.TB, key *rsa.PrivateKey, serial int64, notBefore, notAfter time.Time) (*x509.Certificate, string) {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestWechatV3SandboxKeyModes runs every operation through a real Caddy
// against minipay_sandbox in each key mode (public key, static certificate,
// downloaded certificates, both) and in service-provider mode, with the
// notifications verified by minipay_webhook routes.
func TestWechatV3SandboxKeyModes(t *testing.T) {
	merchant, sandbox := freePort(t), freePort(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	sb := "http://localhost:" + itoa(sandbox)
	cert := "\t\tplatform_certificate {file." + v3KeyPath(t, "wechatpay_platform_cert.pem") + "}\n"
	download := "\t\tcertificates_url " + sb + "/v3/certificates\n"
	partner := "\t\tsub_mch_id 1900000110\n\t\tsub_app_id wx9999999999999999\n"
	modes := map[string]string{
		"pk": v3PublicKeyMode(t), "cert": cert, "dl": download, "mixed": v3PublicKeyMode(t) + download,
		"partner": v3PublicKeyMode(t) + partner,
	}
	var routes strings.Builder
	for name, keys := range modes {
		routes.WriteString("\thandle /" + name + "/* {\n\t\tminipay wechat_v3 {\n" + v3Merchant(t, keys) +
			"\t\tnotify_url http://localhost:" + itoa(merchant) + "/hooks/" + name + "\n\t\t}\n\t\treverse_proxy localhost:" + itoa(sandbox) + "\n\t}\n")
		routes.WriteString("\thandle /hooks/" + name + " {\n\t\tminipay_webhook wechat_v3 {\n" + v3Merchant(t, keys) +
			"\t\t}\n\t\trewrite * /sandbox/merchant/events\n\t\treverse_proxy localhost:" + itoa(sandbox) + "\n\t}\n")
	}
	config := globalOptions(logFile) + ":" + itoa(merchant) + " {\n" + routes.String() + "}\n:" + itoa(sandbox) + " {\n\tbind 127.0.0.1\n\tminipay_sandbox {\n\t\twechat_v3 {\n" +
		v3Merchant(t, "\t\tplatform_private_key {file."+v3KeyPath(t, "wechatpay_platform_key.pem")+"}\n"+cert+"\t\tpublic_key_id "+v3PublicKeyID+"\n"+partner) + "\t\t}\n\t}\n}\n"
	tc := startCaddy(t, config)
	base := "http://localhost:" + itoa(merchant)
	for _, name := range []string{"pk", "cert", "dl", "mixed", "partner"} {
		t.Run(name, func(t *testing.T) {
			order := "V3-ORDER-" + name
			pay := postJSON(t, tc, base+"/"+name+"/pay", `{"order_id":"`+order+`","amount":"12.30","currency":"CNY","description":"Flat white","openid":"o-`+name+`","client_ip":"10.0.0.7"}`)
			p := pay.json(t)
			if pay.status != 200 || p["signType"] != "RSA" || !strings.HasPrefix(str(p["package"]), "prepay_id=") || p["provider"] != "wechat_v3" {
				t.Fatalf("pay: %d %s", pay.status, pay.body)
			}
			payApp := appID
			if name == "partner" {
				payApp = "wx9999999999999999"
			}
			if !rsaVerify(&v3PrivateKey(t, "apiclient_key.pem").PublicKey, v3Message(payApp, str(p["timeStamp"]), str(p["nonceStr"]), str(p["package"])), str(p["paySign"])) {
				t.Fatal("paySign does not verify with the merchant's public key")
			}
			done := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"wechat_v3","order_id":"`+order+`","result":"succeeded"}`)
			if c := done.json(t); done.status != 200 || c["acknowledged"] != true || c["response_status"] != float64(200) || c["response_body"] != nil {
				t.Fatalf("complete: %d %s", done.status, done.body)
			}
			// Completed again: WeChat's retry, the same notification id.
			if again := postJSON(t, tc, sb+"/sandbox/complete", `{"provider":"wechat_v3","order_id":"`+order+`","result":"succeeded"}`); again.json(t)["acknowledged"] != true {
				t.Fatalf("complete again: %d %s", again.status, again.body)
			}
			q := postJSON(t, tc, base+"/"+name+"/query", `{"order_id":"`+order+`"}`).json(t)
			if q["status"] != "succeeded" || q["amount"] != "12.30" || q["currency"] != "CNY" || q["paid_at"] == nil || q["provider_status"] != "SUCCESS" {
				t.Fatalf("query: %v", q)
			}
			rf := postJSON(t, tc, base+"/"+name+"/refund", `{"order_id":"`+order+`","refund_id":"`+order+`-R1","amount":"2.30","currency":"CNY","total_amount":"12.30"}`)
			if r := rf.json(t); rf.status != 200 || r["status"] != "pending" || r["provider_status"] != "PROCESSING" || r["amount"] != "2.30" {
				t.Fatalf("refund: %d %s", rf.status, rf.body)
			}
			rq := postJSON(t, tc, base+"/"+name+"/refund_query", `{"refund_id":"`+order+`-R1","order_id":"`+order+`"}`).json(t)
			if rq["status"] != "succeeded" || rq["provider_status"] != "SUCCESS" {
				t.Fatalf("refund_query: %v", rq)
			}
			if c := postJSON(t, tc, base+"/"+name+"/close", `{"order_id":"`+order+`"}`); c.status != 422 || c.errorOf(t)["provider_code"] != "ORDERPAID" {
				t.Fatalf("close of a paid order: %d %s", c.status, c.body)
			}
			postJSON(t, tc, base+"/"+name+"/pay", `{"order_id":"`+order+`-2","amount":"1","currency":"CNY","description":"d","openid":"o"}`)
			if c := postJSON(t, tc, base+"/"+name+"/close", `{"order_id":"`+order+`-2"}`); c.status != 200 || c.json(t)["status"] != "cancelled" {
				t.Fatalf("close: %d %s", c.status, c.body)
			}
			// Both notifications reached the merchant backend through this
			// mode's webhook route, and the console lists both under the
			// order, the refund's too though the sandbox sent it by itself.
			deadline := time.Now().Add(5 * time.Second)
			for {
				types := map[string]bool{}
				var paidNotifications []string
				events := do(t, tc, "GET", sb+"/sandbox/merchant/events", "", nil).json(t)["events"].([]any)
				for _, e := range events {
					ev := e.(map[string]any)["event"].(map[string]any)
					if ev["order_id"] == order && ev["provider"] == "wechat_v3" {
						types[str(ev["type"])] = true
						if ev["type"] == "payment.succeeded" {
							paidNotifications = append(paidNotifications, str(ev["data"].(map[string]any)["notification_id"]))
						}
					}
				}
				types["payment notified twice under one id"] = len(paidNotifications) == 2 && paidNotifications[0] == paidNotifications[1] && paidNotifications[0] != ""
				list := string(do(t, tc, "GET", sb+"/sandbox/?part=list", "", nil).body)
				for _, result := range []string{"succeeded", "refunded"} {
					types["console "+result] = strings.Contains(list, `data-notification="wechat_v3" data-order-id="`+order+`" data-result="`+result+`" data-acknowledged="true"`)
				}
				if types["payment.succeeded"] && types["refund.succeeded"] && types["console succeeded"] && types["console refunded"] && types["payment notified twice under one id"] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("events and console notifications for %s: %v", order, types)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	if list := string(do(t, tc, "GET", sb+"/sandbox/?part=list", "", nil).body); strings.Contains(list, `data-order-id=""`) {
		t.Fatalf("the console lists a notification without its order: %s", list)
	}
	logs := logText(t, logFile)
	for _, secret := range []string{v3APIv3Key, "BEGIN PRIVATE KEY", "o-pk"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains %q", secret)
		}
	}
}

// fakeWeChatV3 is an independent WeChat Pay v3 server: it checks each
// request's Authorization with the merchant's public key and answers what
// the test scripted, signed (or not) as scripted.
type fakeWeChatV3 struct {
	t        *testing.T
	merchant *rsa.PublicKey
	mu       sync.Mutex
	answer   func(r *http.Request) (status int, body string, header http.Header)
	// certificates: what /v3/certificates serves, signed by certKey as certSerial.
	certs      []string
	certKey    *rsa.PrivateKey
	certSerial string
	downloads  atomic.Int32
	lastSerial string // the Wechatpay-Serial of the last API request
	authFailed atomic.Int32
}

func (f *fakeWeChatV3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	params := v3AuthorizationParams(r)
	msg := v3Message(r.Method, r.RequestURI, params["timestamp"], params["nonce_str"], string(body))
	if params["mchid"] != mchID || params["serial_no"] != v3Serial || !rsaVerify(f.merchant, msg, params["signature"]) || r.Header.Get("User-Agent") == "" {
		f.authFailed.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var status int
	var out string
	var h http.Header
	if r.URL.Path == "/v3/certificates" {
		f.downloads.Add(1)
		status, out = 200, v3CertificatesAnswer(f.t, f.certs)
		h = wechatHeaders(f.t, f.certKey, f.certSerial, time.Now().Unix(), out)
	} else {
		f.lastSerial = r.Header.Get("Wechatpay-Serial")
		status, out, h = f.answer(r)
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	if out != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, out)
}

// v3AuthorizationParams reads the members of a request's WECHATPAY2-SHA256-RSA2048
// Authorization (docs/providers/wechat_v3.md, Request signature).
func v3AuthorizationParams(r *http.Request) map[string]string {
	params := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "WECHATPAY2-SHA256-RSA2048 "), ",") {
		k, v, _ := strings.Cut(kv, "=")
		params[k] = strings.Trim(v, `"`)
	}
	return params
}

// v3CertificatesAnswer is GET /v3/certificates' answer publishing pems,
// each AES-256-GCM under the APIv3 key, serials in upper-case hex.
func v3CertificatesAnswer(t testing.TB, pems []string) string {
	var data []string
	for i, c := range pems {
		cb, _ := pem.Decode([]byte(c))
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		nonce := "certnonce0" + strconv.Itoa(10+i)
		data = append(data, `{"serial_no":"`+strings.ToUpper(cert.SerialNumber.Text(16))+`","effective_time":"2026-01-01T00:00:00+08:00","expire_time":"2030-01-01T00:00:00+08:00","encrypt_certificate":{"algorithm":"AEAD_AES_256_GCM","nonce":"`+nonce+`","associated_data":"certificate","ciphertext":"`+gcmSeal(t, v3APIv3Key, nonce, "certificate", c)+`"}}`)
	}
	return `{"data":[` + strings.Join(data, ",") + `]}`
}

func (f *fakeWeChatV3) script(fn func(r *http.Request) (int, string, http.Header)) {
	f.mu.Lock()
	f.answer = fn
	f.mu.Unlock()
}

// TestWechatV3AgainstFakeWeChat: every error mapping, the 300 s window,
// probe signatures, unsigned answers, unknown serials, and the rotation of
// downloaded certificates, through a real Caddy and an independent server.
func TestWechatV3AgainstFakeWeChat(t *testing.T) {
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	rotA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rotB, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	certA, pemA := newCert(t, rotA, 0x1A2B3C4D5E6F)
	certB, pemB := newCert(t, rotB, 0x6F5E4D3C2B1A)
	serialA, serialB := strings.ToUpper(certA.SerialNumber.Text(16)), strings.ToUpper(certB.SerialNumber.Text(16))
	fake := &fakeWeChatV3{t: t, merchant: &v3PrivateKey(t, "apiclient_key.pem").PublicKey,
		certs: []string{pemA}, certKey: rotA, certSerial: serialA} // B is published after the first download
	srv := httptest.NewServer(fake)
	defer srv.Close()
	upstream := strings.TrimPrefix(srv.URL, "http://")
	merchant := freePort(t)
	config := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + ":" + itoa(merchant) + " {\n" +
		"\thandle /pk/* {\n\t\tminipay wechat_v3 {\n" + v3Merchant(t, v3PublicKeyMode(t)) + "\t\tnotify_url https://m.example/n\n\t\t}\n\t\treverse_proxy " + upstream + "\n\t}\n" +
		"\thandle /dl/* {\n\t\tminipay wechat_v3 {\n" + v3Merchant(t, "\t\tcertificates_url "+srv.URL+"/v3/certificates\n") + "\t\tnotify_url https://m.example/n\n\t\t}\n\t\treverse_proxy " + upstream + "\n\t}\n}\n"
	tc := startCaddy(t, config)
	base := "http://localhost:" + itoa(merchant)
	tx := func(state string) string {
		return `{"appid":"` + appID + `","mchid":"` + mchID + `","out_trade_no":"F1","transaction_id":"4200000001","trade_type":"JSAPI","trade_state":"` + state +
			`","trade_state_desc":"x","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"o"},"amount":{"total":1230,"currency":"CNY"}}`
	}
	signed := func(key *rsa.PrivateKey, serial string, skew time.Duration, status int, body string) func(*http.Request) (int, string, http.Header) {
		return func(*http.Request) (int, string, http.Header) {
			return status, body, wechatHeaders(t, key, serial, time.Now().Add(skew).Unix(), body)
		}
	}
	query := func(route string) response { return postJSON(t, tc, base+"/"+route+"/query", `{"order_id":"F1"}`) }
	// repeated gives answer's header name a second line holding value (its
	// own value again when value is "").
	repeated := func(answer func(*http.Request) (int, string, http.Header), name, value string) func(*http.Request) (int, string, http.Header) {
		return func(r *http.Request) (int, string, http.Header) {
			status, body, h := answer(r)
			if value == "" {
				value = h.Get(name)
			}
			h.Add(name, value)
			return status, body, h
		}
	}

	cases := []struct {
		name       string
		op, req    string
		answer     func(*http.Request) (int, string, http.Header)
		status     int
		code, pcod string
	}{
		{"query", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 200, tx("SUCCESS")), 200, "", ""},
		{"pay", "pay", `{"order_id":"F1","amount":"12.30","currency":"CNY","description":"d","openid":"o"}`, signed(platform, v3PublicKeyID, 0, 200, `{"prepay_id":"wx1"}`), 200, "", ""},
		{"close 204", "close", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 204, ``), 200, "", ""},
		{"refund", "refund", `{"order_id":"F1","refund_id":"R1","amount":"1","currency":"CNY","total_amount":"12.30"}`,
			signed(platform, v3PublicKeyID, 0, 200, `{"refund_id":"5031","out_refund_no":"R1","out_trade_no":"F1","status":"PROCESSING","amount":{"refund":100,"total":1230,"currency":"CNY"}}`), 200, "", ""},
		{"refund_query abnormal", "refund_query", `{"refund_id":"R1"}`,
			signed(platform, v3PublicKeyID, 0, 200, `{"refund_id":"5031","out_refund_no":"R1","out_trade_no":"F1","status":"ABNORMAL","amount":{"refund":100,"total":1230,"currency":"CNY"}}`), 200, "", ""},
		{"close 202 USERPAYING", "close", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 202, `{"code":"USERPAYING","message":"用户支付中，需要输入密码"}`), 422, "provider_rejected", "USERPAYING"},
		{"ORDERPAID", "close", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 403, `{"code":"ORDERPAID","message":"订单已支付"}`), 422, "provider_rejected", "ORDERPAID"},
		{"ORDER_CLOSED", "pay", `{"order_id":"F1","amount":"1","currency":"CNY","description":"d","openid":"o"}`, signed(platform, v3PublicKeyID, 0, 403, `{"code":"ORDER_CLOSED","message":"订单已关闭"}`), 422, "provider_rejected", "ORDER_CLOSED"},
		{"ORDER_NOT_EXIST", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`), 422, "provider_rejected", "ORDER_NOT_EXIST"},
		{"NOT_ENOUGH", "refund", `{"order_id":"F1","refund_id":"R1","amount":"1","currency":"CNY","total_amount":"2"}`, signed(platform, v3PublicKeyID, 0, 403, `{"code":"NOT_ENOUGH","message":"余额不足"}`), 422, "provider_rejected", "NOT_ENOUGH"},
		{"PARAM_ERROR", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 400, `{"code":"PARAM_ERROR","message":"参数错误"}`), 422, "provider_rejected", "PARAM_ERROR"},
		{"RESOURCE_NOT_EXISTS", "refund_query", `{"refund_id":"R1"}`, signed(platform, v3PublicKeyID, 0, 404, `{"code":"RESOURCE_NOT_EXISTS","message":"退款单不存在"}`), 422, "provider_rejected", "RESOURCE_NOT_EXISTS"},
		{"SIGN_ERROR", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 401, `{"code":"SIGN_ERROR","message":"签名错误"}`), 502, "upstream_error", "SIGN_ERROR"},
		{"FREQUENCY_LIMITED", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 429, `{"code":"FREQUENCY_LIMITED","message":"频率超限"}`), 502, "upstream_error", "FREQUENCY_LIMITED"},
		{"SYSTEM_ERROR", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 500, `{"code":"SYSTEM_ERROR","message":"系统错误"}`), 502, "upstream_error", "SYSTEM_ERROR"},
		{"unknown trade_state", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 0, 200, tx("LIMBO")), 502, "upstream_error", "LIMBO"},
		{"another order", "query", `{"order_id":"F2"}`, signed(platform, v3PublicKeyID, 0, 200, tx("SUCCESS")), 502, "upstream_error", ""},
		{"unsigned", "query", `{"order_id":"F1"}`, func(*http.Request) (int, string, http.Header) { return 200, tx("SUCCESS"), nil }, 502, "upstream_signature_invalid", ""},
		{"unsigned error", "query", `{"order_id":"F1"}`, func(*http.Request) (int, string, http.Header) { return 500, `{"code":"SYSTEM_ERROR"}`, nil }, 502, "upstream_signature_invalid", ""},
		{"probe", "query", `{"order_id":"F1"}`, func(r *http.Request) (int, string, http.Header) {
			_, b, h := signed(platform, v3PublicKeyID, 0, 200, tx("SUCCESS"))(r)
			h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
			return 200, b, h
		}, 502, "upstream_signature_invalid", ""},
		{"skew -301 s", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, -301*time.Second, 200, tx("SUCCESS")), 502, "upstream_signature_invalid", ""},
		{"skew +301 s", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, 301*time.Second, 200, tx("SUCCESS")), 502, "upstream_signature_invalid", ""},
		{"skew -250 s", "query", `{"order_id":"F1"}`, signed(platform, v3PublicKeyID, -250*time.Second, 200, tx("SUCCESS")), 200, "", ""},
		{"another key", "query", `{"order_id":"F1"}`, signed(rotA, v3PublicKeyID, 0, 200, tx("SUCCESS")), 502, "upstream_signature_invalid", ""},
		{"certificate serial in public-key mode", "query", `{"order_id":"F1"}`, signed(platform, v3PlatformSN, 0, 200, tx("SUCCESS")), 502, "upstream_signature_invalid", ""},
		// A signed header on two lines, the valid one first (the line Go's
		// Header.Get reads): README "Webhooks" step 1's rule, which answers
		// follow too (README "WeChat Pay API v3": each on one line).
		{"Wechatpay-Signature twice", "query", `{"order_id":"F1"}`, repeated(signed(platform, v3PublicKeyID, 0, 200, tx("SUCCESS")), "Wechatpay-Signature", "AAAA"), 502, "upstream_signature_invalid", ""},
		{"Wechatpay-Serial twice", "query", `{"order_id":"F1"}`, repeated(signed(platform, v3PublicKeyID, 0, 200, tx("SUCCESS")), "Wechatpay-Serial", v3PlatformSN), 502, "upstream_signature_invalid", ""},
		{"Wechatpay-Nonce twice, the same value", "query", `{"order_id":"F1"}`, repeated(signed(platform, v3PublicKeyID, 0, 200, tx("SUCCESS")), "Wechatpay-Nonce", ""), 502, "upstream_signature_invalid", ""},
		{"Wechatpay-Timestamp twice, a refusal", "close", `{"order_id":"F1"}`, repeated(signed(platform, v3PublicKeyID, 0, 403, `{"code":"ORDERPAID","message":"订单已支付"}`), "Wechatpay-Timestamp", "1"), 502, "upstream_signature_invalid", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake.script(c.answer)
			res := postJSON(t, tc, base+"/pk/"+c.op, c.req)
			if res.status != c.status {
				t.Fatalf("%d %s, want %d", res.status, res.body, c.status)
			}
			if c.code != "" {
				e := res.errorOf(t)
				if e["code"] != c.code || str(e["provider_code"]) != c.pcod {
					t.Fatalf("error %s, want %s %s", res.body, c.code, c.pcod)
				}
			}
			fake.mu.Lock()
			sent := fake.lastSerial
			fake.mu.Unlock()
			if sent != v3PublicKeyID {
				t.Fatalf("public-key mode sent Wechatpay-Serial %q", sent)
			}
		})
	}

	// Certificate mode: the first answer triggers one download; WeChat
	// then publishes B and signs with it at once: B is downloaded at once
	// (the first download does not start the once-a-minute limit) and both
	// serials verify (a rotation in progress); an unknown serial is refused
	// without hammering the download (at most once a minute).
	t.Run("rotation", func(t *testing.T) {
		fake.script(signed(rotA, serialA, 0, 200, tx("SUCCESS")))
		if r := query("dl"); r.status != 200 || fake.downloads.Load() != 1 {
			t.Fatalf("signed by A: %d %s, %d downloads", r.status, r.body, fake.downloads.Load())
		}
		if fake.lastSerial != "" {
			t.Fatalf("certificate mode sent Wechatpay-Serial %q", fake.lastSerial)
		}
		fake.mu.Lock()
		fake.certs = []string{pemA, pemB}
		fake.mu.Unlock()
		fake.script(signed(rotB, serialB, 0, 200, tx("SUCCESS")))
		if r := query("dl"); r.status != 200 || fake.downloads.Load() != 2 {
			t.Fatalf("signed by B: %d %s, %d downloads", r.status, r.body, fake.downloads.Load())
		}
		fake.script(signed(rotA, serialA, 0, 200, tx("SUCCESS")))
		if r := query("dl"); r.status != 200 {
			t.Fatalf("signed by A after the rotation began: %d %s", r.status, r.body)
		}
		rotC, _ := rsa.GenerateKey(rand.Reader, 2048)
		for i := 0; i < 3; i++ {
			fake.script(signed(rotC, "7777777777", 0, 200, tx("SUCCESS")))
			if r := query("dl"); r.status != 502 || r.errorOf(t)["code"] != "upstream_signature_invalid" {
				t.Fatalf("unknown serial: %d %s", r.status, r.body)
			}
		}
		if n := fake.downloads.Load(); n != 2 {
			t.Fatalf("%d downloads, want 2 (unknown serials are rate-limited)", n)
		}
		fake.script(signed(rotA, serialA, -301*time.Second, 200, tx("SUCCESS")))
		if r := query("dl"); r.status != 502 || r.errorOf(t)["code"] != "upstream_signature_invalid" {
			t.Fatalf("skewed in certificate mode: %d %s", r.status, r.body)
		}
	})
	if n := fake.authFailed.Load(); n != 0 {
		t.Fatalf("%d requests carried an Authorization the merchant's key did not make", n)
	}
}

// TestWechatV3WebhookOutcomes sends WeChat's notifications, built here with
// crypto/rsa and AES-GCM, through minipay_webhook to a merchant backend.
func TestWechatV3WebhookOutcomes(t *testing.T) {
	var merchantStatus atomic.Int32
	merchantStatus.Store(200)
	var got struct {
		sync.Mutex
		events []map[string]any
		ids    []string
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev map[string]any
		_ = json.Unmarshal(b, &ev)
		got.Lock()
		got.events = append(got.events, ev)
		got.ids = append(got.ids, r.Header.Get("Minipay-Event-Id"))
		got.Unlock()
		w.WriteHeader(int(merchantStatus.Load()))
	}))
	defer backend.Close()
	port := freePort(t)
	config := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + ":" + itoa(port) + " {\n\thandle /hook {\n\t\tminipay_webhook wechat_v3 {\n" +
		v3Merchant(t, v3PublicKeyMode(t)) + "\t\t}\n\t\treverse_proxy " + strings.TrimPrefix(backend.URL, "http://") + "\n\t}\n}\n"
	tc := startCaddy(t, config)
	url := "http://localhost:" + itoa(port) + "/hook"
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")

	notification := func(eventType, resource, key string) string {
		nonce := "abcdefghijkl"
		return `{"id":"EV-` + eventType + `","create_time":"2026-11-29T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"` + eventType +
			`","summary":"s","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + gcmSeal(t, key, nonce, "transaction", resource) +
			`","associated_data":"transaction","nonce":"` + nonce + `"}}`
	}
	tx := `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"W1","transaction_id":"4200009","trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","amount":{"total":1230,"currency":"CNY"},"payer":{"openid":"o"}}`
	refund := `{"mchid":"` + mchID + `","out_trade_no":"W1","transaction_id":"4200009","out_refund_no":"W1-R1","refund_id":"5039","refund_status":"ABNORMAL","amount":{"total":1230,"refund":230,"payer_total":1230,"payer_refund":230}}`
	send := func(body string, h http.Header) response {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := tc.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{status: res.StatusCode, header: res.Header, body: b}
	}
	now := time.Now().Unix()
	good := notification("TRANSACTION.SUCCESS", tx, v3APIv3Key)
	cases := []struct {
		name     string
		body     string
		header   http.Header
		merchant int
		status   int
		typ      string // the forwarded event's type; "" = nothing forwarded
	}{
		{"payment", good, wechatHeaders(t, platform, v3PublicKeyID, now, good), 200, 200, "payment.succeeded"},
		{"refund abnormal", notification("REFUND.ABNORMAL", refund, v3APIv3Key), nil, 200, 200, "refund.failed"},
		// a signed kind the resource's own state contradicts: never terminal
		{"TRANSACTION.SUCCESS, trade_state NOTPAY", notification("TRANSACTION.SUCCESS", strings.Replace(tx, `"trade_state":"SUCCESS"`, `"trade_state":"NOTPAY"`, 1), v3APIv3Key), nil, 200, 200, "unknown"},
		{"TRANSACTION.SUCCESS, trade_state success (case)", notification("TRANSACTION.SUCCESS", strings.Replace(tx, `"trade_state":"SUCCESS"`, `"trade_state":"success"`, 1), v3APIv3Key), nil, 200, 200, "unknown"},
		{"REFUND.SUCCESS, refund_status PROCESSING", notification("REFUND.SUCCESS", strings.Replace(refund, "ABNORMAL", "PROCESSING", 1), v3APIv3Key), nil, 200, 200, "unknown"},
		{"REFUND.CLOSED, refund_status SUCCESS", notification("REFUND.CLOSED", strings.Replace(refund, "ABNORMAL", "SUCCESS", 1), v3APIv3Key), nil, 200, 200, "unknown"},
		{"other kind", notification("PAYSCORE.USER_OPEN_SERVICE", `{"mchid":"`+mchID+`","appid":"`+appID+`"}`, v3APIv3Key), nil, 200, 200, "unknown"},
		{"merchant fails", good, wechatHeaders(t, platform, v3PublicKeyID, now, good), 500, 502, "payment.succeeded"},
		{"tampered", strings.Replace(good, `"summary":"s"`, `"summary":"t"`, 1), wechatHeaders(t, platform, v3PublicKeyID, now, good), 200, 401, ""},
		{"unsigned", good, http.Header{}, 200, 401, ""},
		{"probe", good, func() http.Header {
			h := wechatHeaders(t, platform, v3PublicKeyID, now, good)
			h.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
			return h
		}(), 200, 401, ""},
		{"signature type RSA", good, func() http.Header {
			h := wechatHeaders(t, platform, v3PublicKeyID, now, good)
			h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
			return h
		}(), 200, 200, "payment.succeeded"},
		{"signature type SM2", good, func() http.Header {
			h := wechatHeaders(t, platform, v3PublicKeyID, now, good)
			h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3")
			return h
		}(), 200, 401, ""},
		// Longer than any key's signature: decoding it panicked, and the
		// provider got a dropped connection instead of the failure form.
		{"a 2 KiB signature", good, func() http.Header {
			h := wechatHeaders(t, platform, v3PublicKeyID, now, good)
			h.Set("Wechatpay-Signature", strings.Repeat("A", 2048))
			return h
		}(), 200, 401, ""},
		// Read as its Content-Encoding says: gzip declared, none applied.
		{"declared gzip, sent plain", good, func() http.Header {
			h := wechatHeaders(t, platform, v3PublicKeyID, now, good)
			h.Set("Content-Encoding", "gzip")
			return h
		}(), 200, 401, ""},
		// Written by other code than WeChat's: the signature covers the bytes as sent.
		{"header names in lower case", good, func() http.Header {
			h := http.Header{}
			for k, v := range wechatHeaders(t, platform, v3PublicKeyID, now, good) {
				h[strings.ToLower(k)] = v // sent as written: Go's client does not canonicalize a key set directly
			}
			return h
		}(), 200, 200, "payment.succeeded"},
		{"envelope pretty-printed with CR LF, members reordered and added", "{\r\n  \"resource\" : " + good[strings.Index(good, `{"original_type"`):len(good)-1] +
			",\r\n  \"summary\" : \"\\u652f\\u4ed8\\u6210\\u529f\",\r\n  \"event_type\" : \"TRANSACTION.SUCCESS\",\r\n  \"id\" : \"EV-2\",\r\n  \"zz_new\" : {\"a\": [1, null]}\r\n}\r\n",
			nil, 200, 200, "payment.succeeded"},
		{"resource pretty-printed with escapes, promotion_detail, scene_info and new members", notification("TRANSACTION.SUCCESS",
			"{\n  \"trade_state\": \"SUCCESS\",\n  \"mchid\": \""+mchID+"\",\n  \"appid\": \""+appID+"\",\n  \"out_trade_no\": \"W1\",\n  \"transaction_id\": \"4200009\",\n"+
				"  \"trade_state_desc\": \"\\u652f\\u4ed8\\u6210\\u529f\",\n  \"amount\": {\"total\": 1230, \"currency\": \"CNY\", \"payer_total\": 1229},\n  "+
				manyGoods(1)+",\n  \"scene_info\": {\"device_id\": \"013467007045764\"},\n  \"zz_new\": {\"b\": true}\n}", v3APIv3Key),
			nil, 200, 200, "payment.succeeded"},
		{"signed 290 s ago", good, wechatHeaders(t, platform, v3PublicKeyID, now-290, good), 200, 200, "payment.succeeded"},
		{"signed 310 s ago", good, wechatHeaders(t, platform, v3PublicKeyID, now-310, good), 200, 401, ""},
		{"replayed 10 minutes later", good, wechatHeaders(t, platform, v3PublicKeyID, now-600, good), 200, 401, ""},
		{"unknown serial", good, wechatHeaders(t, platform, "PUB_KEY_ID_OTHER", now, good), 200, 401, ""},
		{"another merchant", notification("TRANSACTION.SUCCESS", strings.Replace(tx, mchID, "1900000999", 1), v3APIv3Key), nil, 200, 401, ""},
		{"another api_v3_key", notification("TRANSACTION.SUCCESS", tx, strings.Repeat("x", 32)), nil, 200, 401, ""},
		// A member per field of each discounted goods: 400 goods, some
		// 2 000 members in 50 KiB, were refused (401) by a 256-member cap.
		{"payment of 400 discounted goods", notification("TRANSACTION.SUCCESS", strings.Replace(tx, `"payer":`, manyGoods(400)+`,"payer":`, 1), v3APIv3Key), nil, 200, 200, "payment.succeeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got.Lock()
			got.events, got.ids = nil, nil
			got.Unlock()
			merchantStatus.Store(int32(c.merchant))
			h := c.header
			if h == nil {
				h = wechatHeaders(t, platform, v3PublicKeyID, now, c.body)
			}
			res := send(c.body, h)
			if res.status != c.status {
				t.Fatalf("%d %s, want %d", res.status, res.body, c.status)
			}
			if c.status == 200 && len(res.body) != 0 {
				t.Fatalf("the ACK has a body: %q", res.body)
			}
			if c.status != 200 {
				var nack map[string]string
				if err := json.Unmarshal(res.body, &nack); err != nil || nack["code"] != "FAIL" || nack["message"] == "" {
					t.Fatalf("failure form %q", res.body)
				}
			}
			got.Lock()
			defer got.Unlock()
			if c.typ == "" {
				if len(got.events) != 0 {
					t.Fatalf("forwarded %v", got.events)
				}
				return
			}
			if len(got.events) != 1 || got.events[0]["type"] != c.typ || got.ids[0] != got.events[0]["id"] {
				t.Fatalf("forwarded %v %v", got.ids, got.events)
			}
			if data := got.events[0]["data"].(map[string]any); data["event_type"] == nil || data["notification_id"] == nil || data["ciphertext"] != nil ||
				strings.Contains(c.body, "goods_detail") && data["promotion_detail.0.goods_detail.399.goods_id"] != "G399" {
				t.Fatalf("data %v", data)
			}
		})
	}
	if r := do(t, tc, http.MethodGet, url, "", nil); r.status != 405 {
		t.Fatalf("GET: %d", r.status)
	}
	big := strings.Repeat(" ", 70<<10) + good
	if r := send(big, wechatHeaders(t, platform, v3PublicKeyID, now, big)); r.status != 413 {
		t.Fatalf("a body over 64 KiB: %d", r.status)
	}
}

// manyGoods is a transaction's promotion_detail member: one single-goods
// coupon listing n goods, as WeChat's payment notification does.
func manyGoods(n int) string {
	goods := make([]string, n)
	for i := range goods {
		goods[i] = `{"goods_id":"G` + itoa(i) + `","quantity":1,"unit_price":100,"discount_amount":1,"goods_remark":"r"}`
	}
	return `"promotion_detail":[{"coupon_id":"109519","name":"单品惠","scope":"SINGLE","type":"DISCOUNT","amount":` + itoa(n) +
		`,"wechatpay_contribute":0,"merchant_contribute":` + itoa(n) + `,"other_contribute":0,"currency":"CNY","goods_detail":[` + strings.Join(goods, ",") + `]}]`
}

// TestWechatV3ExpiredCertificate: a static platform_certificate past its
// not_after still loads (a public key beside it may be what verifies), but
// the load warns naming its serial, and an answer it signs is refused; a
// valid one beside it neither warns nor is refused.
func TestWechatV3ExpiredCertificate(t *testing.T) {
	key := v3PrivateKey(t, "wechatpay_platform_key.pem")
	certFile := func(serial int64, notAfter time.Time) string {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: notAfter.AddDate(-1, 0, 0), NotAfter: notAfter}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "cert.pem")
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	expired, valid := certFile(0x7E01, time.Now().Add(-time.Hour)), certFile(0x7E02, time.Now().AddDate(1, 0, 0))
	tx := `{"appid":"` + appID + `","mchid":"` + mchID + `","out_trade_no":"X1","transaction_id":"4200000001","trade_state":"NOTPAY","trade_state_desc":"x","amount":{"total":1,"currency":"CNY"}}`
	var serial atomic.Value
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range wechatHeaders(t, key, serial.Load().(string), time.Now().Unix(), tx) {
			w.Header()[k] = v
		}
		_, _ = io.WriteString(w, tx)
	}))
	defer upstream.Close()
	port := freePort(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	route := func(name, cert string) string {
		return "\thandle /" + name + "/* {\n\t\tminipay wechat_v3 {\n" + v3Merchant(t, "\t\tplatform_certificate {file."+cert+"}\n") +
			"\t\tnotify_url https://m.example/n\n\t\t}\n\t\treverse_proxy " + strings.TrimPrefix(upstream.URL, "http://") + "\n\t}\n"
	}
	tc := startCaddy(t, globalOptions(logFile)+":"+itoa(port)+" {\n"+route("expired", expired)+route("valid", valid)+"}\n")
	base := "http://localhost:" + itoa(port)
	logs := logText(t, logFile)
	mustContain(t, logs, `"id":"7E01"`, "the load warns of the expired certificate")
	if strings.Contains(logs, `"id":"7E02"`) {
		t.Fatalf("the load warns of the valid certificate: %s", logs)
	}
	for _, c := range []struct {
		route, serial string
		status        int
	}{{"expired", "7E01", 502}, {"valid", "7E02", 200}} {
		serial.Store(c.serial)
		if r := postJSON(t, tc, base+"/"+c.route+"/query", `{"order_id":"X1"}`); r.status != c.status {
			t.Fatalf("%s: %d %s, want %d", c.route, r.status, r.body, c.status)
		}
	}
}
