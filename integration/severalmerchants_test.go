package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestDedupeMerchantsSharingAKey: README "Several merchants" and
// "Clusters". Two merchants of one provider can hold the same notification
// key: two Latipay wallets with one api_key (the webhook tells them apart
// by the wallet's currency) and two 2C2P
// merchant ids given the same secret key by mistake. Their event ids can
// coincide (Latipay's are the merchant's own order ids, and so are 2C2P's
// without a tranRef). With dedupe on one storage, each merchant's event
// reaches its own backend once, however the other merchant's event with
// that id was acknowledged first, and each merchant's retries are still
// duplicates; each merchant's notification posted to the other's route is
// refused in the provider's failure form and reaches no one.
func TestDedupeMerchantsSharingAKey(t *testing.T) {
	const lpKey, secret = "lp-one-user-two-wallets-7c1e", "shared-2c2p-secret-k3y"
	a, b := newCountingMerchant(t), newCountingMerchant(t)
	route := func(path, provider, lines string, to *countingMerchant) string {
		return `
	handle ` + path + ` {
		minipay_webhook ` + provider + ` {
			dedupe 25h` + lines + `
		}
		reverse_proxy ` + strings.TrimPrefix(to.srv.URL, "http://") + `
	}`
	}
	port := itoa(freePort(t))
	startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {`+
		route("/latipay/nzd", "latipay", "\n\t\t\tapi_key "+lpKey+"\n\t\t\tcurrency NZD", a)+
		route("/latipay/aud", "latipay", "\n\t\t\tapi_key "+lpKey+"\n\t\t\tcurrency AUD", b)+
		route("/2c2p/jt01", "2c2p", "\n\t\t\tmerchant_id JT01\n\t\t\tsecret_key "+secret, a)+
		route("/2c2p/jt02", "2c2p", "\n\t\t\tmerchant_id JT02\n\t\t\tsecret_key "+secret, b)+`
}
`)
	latipay := func(currency string) string {
		v := url.Values{"merchant_reference": {"ORDER-1001"}, "order_id": {"2026120810000001"}, "currency": {currency}, "amount": {"12.30"},
			"payment_method": {"wechat"}, "status": {"paid"}, "pay_time": {"2026-12-08 10:00:00"}}
		v.Set("signature", latipayNotify(lpKey, v))
		return v.Encode()
	}
	twoc2p := func(merchantID string) string { // no tranRef: the event id is the order id's
		inner := strings.Replace(twoc2pAnswer("ORDER-1001", "000000001230", "00", "A", ""), "<merchantID>"+twoc2pMerchant+"<", "<merchantID>"+merchantID+"<", 1)
		return "paymentResponse=" + url.QueryEscape(twoc2pSeal(inner, secret))
	}
	base := "http://localhost:" + port
	post := func(path, body string) (int, string) {
		t.Helper()
		res, err := http.Post(base+path, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, p := range []struct {
		name         string
		id           string
		pathA, pathB string
		bodyA, bodyB string
		ack          string
		foreign      func(status int, body string) bool // the provider's failure form for another merchant's
	}{
		{"latipay, two wallets of one user", "latipay:ORDER-1001:payment.succeeded", "/latipay/nzd", "/latipay/aud", latipay("NZD"), latipay("AUD"), "sent",
			func(status int, body string) bool { return status == 401 && strings.HasPrefix(body, "fail") }},
		{"2c2p, two merchant ids with one secret key", "2c2p:ORDER-1001:payment.succeeded", "/2c2p/jt01", "/2c2p/jt02", twoc2p("JT01"), twoc2p("JT02"), "",
			func(status int, body string) bool { return status == 401 && body != "" }},
	} {
		t.Run(p.name, func(t *testing.T) {
			for _, step := range []struct {
				name   string
				path   string
				body   string
				na, nb int // events with the id each merchant received after the step
			}{
				{"merchant A's event", p.pathA, p.bodyA, 1, 0},
				{"merchant B's event with the same id", p.pathB, p.bodyB, 1, 1},
				{"merchant A's retry", p.pathA, p.bodyA, 1, 1},
				{"merchant B's retry", p.pathB, p.bodyB, 1, 1},
			} {
				if status, body := post(step.path, step.body); status != 200 || body != p.ack {
					t.Fatalf("%s: %d %q, want the provider's ACK %q", step.name, status, body, p.ack)
				}
				if na, nb := a.count(p.id), b.count(p.id); na != step.na || nb != step.nb {
					t.Fatalf("%s: merchant A received the event %d times and B %d, want %d and %d", step.name, na, nb, step.na, step.nb)
				}
			}
			for _, cross := range []struct{ name, path, body string }{
				{"merchant A's notification on B's route", p.pathB, p.bodyA},
				{"merchant B's notification on A's route", p.pathA, p.bodyB},
			} {
				if status, body := post(cross.path, cross.body); !p.foreign(status, body) {
					t.Fatalf("%s: %d %q, want 401 in the provider's failure form", cross.name, status, body)
				}
			}
			if na, nb := a.count(p.id), b.count(p.id); na != 1 || nb != 1 {
				t.Fatalf("after the crossed notifications: merchant A received the event %d times and B %d, want once each", na, nb)
			}
		})
	}
}

// TestSameWebhookPathTwice: README "Several merchants". Two merchants'
// minipay_webhook routes written with the same path are one route to
// Caddy (it merges handle blocks of one matcher, in order), whose first
// block answers every notification: the first merchant's are
// acknowledged, the second's refused (401, WeChat's FAIL form) with the
// log reason that names the mistake, and neither reaches the second
// merchant's backend. Two minipay routes of one path alike: every call is
// the first merchant's (signed with its key, naming its mch_id), the
// second merchant's payments included. The load does not fail.
func TestSameWebhookPathTwice(t *testing.T) {
	a, b := newCountingMerchant(t), newCountingMerchant(t)
	var mchIDs []string
	var mu sync.Mutex
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, p, err := transform.ParseFlatXML(body)
		mu.Lock()
		if err == nil {
			mchIDs = append(mchIDs, p.Get("mch_id"))
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<xml><return_code>FAIL</return_code><return_msg>not this test's concern</return_msg></xml>`)
	}))
	t.Cleanup(upstream.Close)
	pay := func(app, mch, key string) string {
		return `
	handle /pay/* {
		minipay wechat_v2 {
			app_id ` + app + `
			mch_id ` + mch + `
			api_key ` + key + `
			notify_url https://merchant.example/webhooks/wechat_v2
			client_ip 127.0.0.1
		}
		reverse_proxy ` + strings.TrimPrefix(upstream.URL, "http://") + `
	}`
	}
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	port := itoa(freePort(t))
	route := func(app, mch, key, signType string, to *countingMerchant) string {
		return "\n\thandle /webhooks/wechat_v2 {" + v2WebhookRoute(app, mch, key, signType, to) + "\n\t}"
	}
	startCaddy(t, globalOptions(logFile)+`
:`+port+` {`+route(appID, mchID, apiKey, "MD5", a)+route(otherAppID, otherMchID, otherAPIKey, "HMAC-SHA256", b)+
		pay(appID, mchID, apiKey)+pay(otherAppID, otherMchID, otherAPIKey)+`
}
`)
	post := func(body string) (int, string) {
		t.Helper()
		res, err := http.Post("http://localhost:"+port+"/webhooks/wechat_v2", "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out)
	}
	const idA, idB = "wechat_v2:4200000123202611220000000077:payment.succeeded", "wechat_v2:4200000200202612080000000001:payment.succeeded"
	ofB := func(p transform.Params) transform.Params {
		return set("transaction_id", "4200000200202612080000000001")(set("mch_id", otherMchID)(set("appid", otherAppID)(p)))
	}
	if status, body := post(xmlOf(notification(apiKey, wechatv2.SignMD5, nil))); status != 200 || body != wechatv2.AckBody {
		t.Fatalf("the first merchant's notification: %d %q, want the ACK", status, body)
	}
	status, body := post(xmlOf(notification(otherAPIKey, wechatv2.SignHMACSHA256, ofB)))
	if status != 401 || !strings.Contains(body, "<return_code><![CDATA[FAIL]]></return_code>") {
		t.Fatalf("the second merchant's notification: %d %q, want 401 in WeChat's FAIL form", status, body)
	}
	if na, nb, nbA := a.count(idA), b.count(idB), a.count(idB); na != 1 || nb != 0 || nbA != 0 {
		t.Fatalf("the first merchant received its event %d times and the second's %d times, the second merchant %d times; want 1, 0, 0", na, nbA, nb)
	}
	mustContain(t, logText(t, logFile), `"reason":"notification is for another merchant"`, "the refusal's log line")
	for i := range 3 {
		res, err := http.Post("http://localhost:"+port+"/pay/pay", "application/json",
			strings.NewReader(`{"order_id":"DUP-`+itoa(i)+`","amount":"0.01","currency":"CNY","description":"d","openid":"o"}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(mchIDs) != 3 || mchIDs[0] != mchID || mchIDs[1] != mchID || mchIDs[2] != mchID {
		t.Fatalf("the calls of two minipay routes of one path named mch_id %q, want the first merchant's %s thrice", mchIDs, mchID)
	}
}

// TestCBTISRouteGivenAnotherMerchantsUID: README "Several merchants". A
// route given another merchant's uid by mistake, with its own
// client_secret, does not pay with the token that merchant's route
// fetched (its payments would go to that merchant): its own fetch is
// refused, as it would be alone, and that merchant's route goes on with
// its token. The old code paid through it with the other's token.
func TestCBTISRouteGivenAnotherMerchantsUID(t *testing.T) {
	const uid = "1001"
	f := newCBTISTenants(t, map[string]string{uid: "cs-tenant-a-secret"})
	mistaken := strings.Replace(f.route("b", uid), "client_secret cs-tenant-a-secret", "client_secret cs-tenant-b-secret", 1)
	if !strings.Contains(mistaken, "cs-tenant-b-secret") {
		t.Fatal("the mistaken route has merchant A's secret")
	}
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {`+f.route("a", uid)+mistaken+`
}
`)
	base := "http://localhost:" + port
	if r := postJSON(t, tc, base+"/a/pay", cbtisPay("A-1")); r.status != 200 || !strings.Contains(string(r.body), `"provider_order_id":"CA-1"`) {
		t.Fatalf("merchant A's pay: %d %s", r.status, r.body)
	}
	if r := postJSON(t, tc, base+"/b/pay", cbtisPay("B-1")); r.status != 502 || !strings.Contains(string(r.body), `"code":"upstream_error"`) {
		t.Fatalf("the mistaken route's pay: %d %s, want its own fetch refused (502)", r.status, r.body)
	}
	if r := postJSON(t, tc, base+"/a/pay", cbtisPay("A-2")); r.status != 200 {
		t.Fatalf("merchant A's pay after the mistaken route's: %d %s", r.status, r.body)
	}
	if n, m := f.fetchesOf(uid), f.misuses(); n != 2 || m != 0 {
		t.Fatalf("%d fetches for uid %s and %d calls with another uid's token, want 2 (one per client_secret) and 0", n, uid, m)
	}
}

// TestAccessLogNamesTheMerchant: README "Several merchants". The plugin's
// log lines name the provider; each merchant's routes name the merchant
// with log_append, and the site's access log then tells every request of
// one merchant from the other's, a notification refused on the other
// merchant's route included. No log line holds either merchant's key.
func TestAccessLogNamesTheMerchant(t *testing.T) {
	a, b := newCountingMerchant(t), newCountingMerchant(t)
	dir := t.TempDir()
	logFile, accessLog := filepath.Join(dir, "caddy.log"), filepath.Join(dir, "access.log")
	port := itoa(freePort(t))
	shop := func(name, app, mch, key, signType string, to *countingMerchant) string {
		return "\n\thandle_path /" + name + "/* {\n\t\tlog_append merchant " + name +
			"\n\t\thandle /webhooks/wechat_v2 {" + v2WebhookRoute(app, mch, key, signType, to) + "\n\t\t}\n\t}"
	}
	startCaddy(t, globalOptions(logFile)+`
:`+port+` {
	log {
		output file `+accessLog+`
		format json
	}`+shop("shop-a", appID, mchID, apiKey, "MD5", a)+shop("shop-b", otherAppID, otherMchID, otherAPIKey, "HMAC-SHA256", b)+`
}
`)
	ofB := func(p transform.Params) transform.Params {
		return set("transaction_id", "4200000200202612080000000002")(set("mch_id", otherMchID)(set("appid", otherAppID)(p)))
	}
	noteA, noteB := xmlOf(notification(apiKey, wechatv2.SignMD5, nil)), xmlOf(notification(otherAPIKey, wechatv2.SignHMACSHA256, ofB))
	for _, step := range []struct {
		path, body string
		status     int
		merchant   string
	}{
		{"/shop-a/webhooks/wechat_v2", noteA, 200, "shop-a"},
		{"/shop-b/webhooks/wechat_v2", noteB, 200, "shop-b"},
		{"/shop-b/webhooks/wechat_v2", noteA, 401, "shop-b"}, // A's notification on B's route
	} {
		res, err := http.Post("http://localhost:"+port+step.path, "text/xml", strings.NewReader(step.body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != step.status {
			t.Fatalf("%s: %d, want %d", step.path, res.StatusCode, step.status)
		}
	}
	if na, nb := a.count("wechat_v2:4200000123202611220000000077:payment.succeeded"), b.count("wechat_v2:4200000200202612080000000002:payment.succeeded"); na != 1 || nb != 1 {
		t.Fatalf("merchant A received its event %d times and B %d times, want once each", na, nb)
	}
	// The access log is written after the answer: wait for its three lines.
	var lines []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = lines[:0]
		text, _ := os.ReadFile(accessLog)
		for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "handled request" {
				lines = append(lines, entry)
			}
		}
		if len(lines) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := map[string]bool{}
	for _, entry := range lines {
		status, _ := entry["status"].(float64)
		got[strconv.Itoa(int(status))+" "+str(entry["merchant"])] = true
	}
	for _, k := range []string{"200 shop-a", "200 shop-b", "401 shop-b"} {
		if !got[k] {
			t.Errorf("no access log line with status and merchant %q (lines %v)", k, got)
		}
	}
	if len(lines) != 3 {
		t.Errorf("%d access log lines, want 3", len(lines))
	}
	for _, f := range []string{logFile, accessLog} {
		text := logText(t, f)
		for _, secret := range []string{apiKey, otherAPIKey} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a merchant's api_key", filepath.Base(f))
			}
		}
	}
}

// v2WebhookRoute is the body of a handle block of one wechat_v2 merchant's
// minipay_webhook, forwarding to the merchant to.
func v2WebhookRoute(app, mch, key, signType string, to *countingMerchant) string {
	return `
		minipay_webhook wechat_v2 {
			app_id ` + app + `
			mch_id ` + mch + `
			api_key ` + key + `
			sign_type ` + signType + `
		}
		reverse_proxy ` + strings.TrimPrefix(to.srv.URL, "http://")
}

// TestWechatV3MerchantsKeepTheirCertificates: README "Several merchants"
// and "Clusters". Two wechat_v3 merchants in certificate mode on one
// storage, each with its own /v3/certificates publishing its own platform
// certificate (and, by mistake, one api_v3_key and merchant key): each
// route downloads its own merchant's certificates (the other's stored
// download is under the other's mch_id), never trusts the other merchant's
// certificate (a notification of its own signed by it is refused, 401),
// and refuses the other merchant's notification, whoever signed it.
func TestWechatV3MerchantsKeepTheirCertificates(t *testing.T) {
	const mchA, mchB = "1900000781", "1900000782"
	now := time.Now()
	pa, pb := newV3Platform(t, 0x0C0C0C0001, now.Add(-time.Hour), now.AddDate(5, 0, 0)), newV3Platform(t, 0x0C0C0C0002, now.Add(-time.Hour), now.AddDate(5, 0, 0))
	merchantKey := &v3PrivateKey(t, "apiclient_key.pem").PublicKey
	srvA, srvB := &v3CertificateServer{t: t, merchant: merchantKey, mchID: mchA}, &v3CertificateServer{t: t, merchant: merchantKey, mchID: mchB}
	srvA.publish(pa)
	srvB.publish(pb)
	fakeA, fakeB := httptest.NewServer(srvA), httptest.NewServer(srvB)
	t.Cleanup(fakeA.Close)
	t.Cleanup(fakeB.Close)
	a, b := newCountingMerchant(t), newCountingMerchant(t)
	route := func(path, mch, certificates string, to *countingMerchant) string {
		return "\n\thandle " + path + " {\n\t\tminipay_webhook wechat_v3 {\n\t\t\tapp_id " + appID + "\n\t\t\tmch_id " + mch +
			"\n\t\t\tserial_no " + v3Serial + "\n\t\t\tprivate_key {file." + v3KeyPath(t, "apiclient_key.pem") + "}\n\t\t\tapi_v3_key " + v3APIv3Key +
			"\n\t\t\tcertificates_url " + certificates + "/v3/certificates\n\t\t}\n\t\treverse_proxy " + strings.TrimPrefix(to.srv.URL, "http://") + "\n\t}"
	}
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+":"+port+" {"+
		route("/hook/a", mchA, fakeA.URL, a)+route("/hook/b", mchB, fakeB.URL, b)+"\n}\n")
	notify := func(path, mch, txID string, p v3Platform) int {
		tx := `{"appid":"` + appID + `","mchid":"` + mch + `","out_trade_no":"SAME-1","transaction_id":"` + txID + `","trade_type":"JSAPI","trade_state":"SUCCESS",` +
			`"trade_state_desc":"支付成功","success_time":"2026-12-08T10:00:05+08:00","payer":{"openid":"o"},"amount":{"total":1230,"currency":"CNY"}}`
		body := v3Notification(t, "EV-"+txID, "TRANSACTION.SUCCESS", "支付成功", "transaction", tx)
		return do(t, tc, http.MethodPost, "http://localhost:"+port+path, "application/json", []byte(body),
			flatten(wechatHeaders(t, p.key, p.serial, time.Now().Unix(), body))...).status
	}
	for _, step := range []struct {
		name               string
		path, mch, txID    string
		signer             v3Platform
		status             int
		maxDownA, maxDownB int32 // downloads from each merchant's /v3/certificates so far, at most
	}{
		{"merchant A's notification", "/hook/a", mchA, "4200000781000001", pa, 200, 1, 0},
		{"merchant B's notification: B's own download", "/hook/b", mchB, "4200000782000001", pb, 200, 1, 1},
		{"B's notification signed by A's platform certificate", "/hook/b", mchB, "4200000782000002", pa, 401, 1, 2},
		{"A's notification on B's route", "/hook/b", mchA, "4200000781000003", pa, 401, 1, 2},
		{"B's notification on A's route", "/hook/a", mchB, "4200000782000004", pb, 401, 2, 2},
	} {
		if status := notify(step.path, step.mch, step.txID, step.signer); status != step.status {
			t.Fatalf("%s: %d, want %d", step.name, status, step.status)
		}
		if na, nb := srvA.downloads.Load(), srvB.downloads.Load(); na > step.maxDownA || nb > step.maxDownB {
			t.Fatalf("%s: %d downloads from A's /v3/certificates and %d from B's, want at most %d and %d", step.name, na, nb, step.maxDownA, step.maxDownB)
		}
	}
	if na, nb := srvA.downloads.Load(), srvB.downloads.Load(); na < 1 || nb < 1 {
		t.Fatalf("%d downloads from A's and %d from B's: each route must download its own", na, nb)
	}
	if n := srvA.badAuth.Load() + srvB.badAuth.Load(); n != 0 {
		t.Fatalf("%d downloads were refused (another merchant's mchid or signature)", n)
	}
	na1, nb1 := a.count("wechat_v3:4200000781000001:payment.succeeded"), b.count("wechat_v3:4200000782000001:payment.succeeded")
	if na1 != 1 || nb1 != 1 || a.count("wechat_v3:4200000782000004:payment.succeeded") != 0 || b.count("wechat_v3:4200000781000003:payment.succeeded") != 0 ||
		b.count("wechat_v3:4200000782000002:payment.succeeded") != 0 {
		t.Fatalf("events forwarded: A's own %d, B's own %d; the refused ones must reach no one", na1, nb1)
	}
}

// TestSandboxMerchantsKeepTheirOrders: README "Several merchants" and
// "Sandbox". Two wechat_v2 merchants, each with its own sandbox site (a
// sandbox plays one merchant per provider): an order paid through merchant
// A's route cannot be queried, refunded or closed through B's (B's
// sandbox has no such order: 422 ORDERNOTEXIST), and a route of B pointed
// at A's sandbox by mistake is refused there as WeChat refuses a request
// signed with another key (return_code FAIL 签名错误: 502 upstream_error)
// and never reaches A's order; A's order is as A left it.
func TestSandboxMerchantsKeepTheirOrders(t *testing.T) {
	site, sandboxA, sandboxB := itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t))
	merchantA := "\t\t\tapp_id " + appID + "\n\t\t\tmch_id " + mchID + "\n\t\t\tapi_key " + apiKey + "\n"
	merchantB := "\t\t\tapp_id " + otherAppID + "\n\t\t\tmch_id " + otherMchID + "\n\t\t\tapi_key " + otherAPIKey + "\n\t\t\tsign_type HMAC-SHA256\n"
	route := func(prefix, merchant, sandbox string) string {
		return "\n\thandle_path /" + prefix + "/* {\n\t\tminipay wechat_v2 {\n" + merchant + "\t\t\tnotify_url https://merchant.example/" + prefix +
			"\n\t\t\tclient_ip 127.0.0.1\n\t\t}\n\t\treverse_proxy 127.0.0.1:" + sandbox + "\n\t}"
	}
	sandbox := func(port, merchant string) string {
		return "\n:" + port + " {\n\tbind 127.0.0.1\n\tminipay_sandbox wechat_v2 {\n" + merchant + "\t}\n}\n"
	}
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+":"+site+" {"+
		route("a", merchantA, sandboxA)+route("b", merchantB, sandboxB)+route("b-on-a", merchantB, sandboxA)+"\n}\n"+
		sandbox(sandboxA, merchantA)+sandbox(sandboxB, merchantB))
	base := "http://localhost:" + site
	if r := postJSON(t, tc, base+"/a/pay", `{"order_id":"SHOP-A-1","amount":"12.34","currency":"CNY","description":"d","openid":"o"}`); r.status != 200 {
		t.Fatalf("merchant A's pay: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ prefix, op, body, code, providerCode string }{
		{"b", "query", `{"order_id":"SHOP-A-1"}`, "provider_rejected", "ORDERNOTEXIST"},
		{"b", "close", `{"order_id":"SHOP-A-1"}`, "provider_rejected", "ORDERNOTEXIST"},
		{"b", "refund", `{"order_id":"SHOP-A-1","refund_id":"SHOP-A-1-R1","amount":"1.00","total_amount":"12.34","currency":"CNY"}`, "provider_rejected", "ORDERNOTEXIST"},
		{"b-on-a", "query", `{"order_id":"SHOP-A-1"}`, "upstream_error", "FAIL"},
		{"b-on-a", "close", `{"order_id":"SHOP-A-1"}`, "upstream_error", "FAIL"},
		{"b-on-a", "refund", `{"order_id":"SHOP-A-1","refund_id":"SHOP-A-1-R2","amount":"1.00","total_amount":"12.34","currency":"CNY"}`, "upstream_error", "FAIL"},
	} {
		r := postJSON(t, tc, base+"/"+c.prefix+"/"+c.op, c.body)
		if e := r.errorOf(t); r.status < 400 || e["code"] != c.code || e["provider_code"] != c.providerCode {
			t.Fatalf("/%s/%s of merchant A's order: %d %s, want %s %s", c.prefix, c.op, r.status, r.body, c.code, c.providerCode)
		}
		if strings.Contains(string(r.body), "12.34") {
			t.Fatalf("/%s/%s answered merchant A's order: %s", c.prefix, c.op, r.body)
		}
	}
	if r := postJSON(t, tc, base+"/a/query", `{"order_id":"SHOP-A-1"}`); r.status != 200 || r.json(t)["status"] != "pending" {
		t.Fatalf("merchant A's query after B's tries: %d %s, want its order pending as it was", r.status, r.body)
	}
}
