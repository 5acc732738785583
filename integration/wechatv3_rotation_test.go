package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// v3Platform is one WeChat platform certificate of a rotation: its key, its
// PEM and its serial as WeChat writes it (upper-case hex).
type v3Platform struct {
	key    *rsa.PrivateKey
	pem    string
	serial string
}

func newV3Platform(t testing.TB, serial int64, notBefore, notAfter time.Time) v3Platform {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, pemText := newCertBetween(t, key, serial, notBefore, notAfter)
	return v3Platform{key: key, pem: pemText, serial: strings.ToUpper(cert.SerialNumber.Text(16))}
}

// v3CertificateServer is WeChat's GET /v3/certificates written from
// docs/providers/wechat_v3.md: it checks the merchant's Authorization,
// answers the published certificates, each AES-256-GCM under the APIv3
// key, and signs the answer with the newest one. It counts downloads.
type v3CertificateServer struct {
	t         testing.TB
	merchant  *rsa.PublicKey
	mchID     string
	mu        sync.Mutex
	published []v3Platform // the last one signs the answer
	// answer, when set, serves the other paths (API calls), signed by
	// the newest published certificate.
	answer    func(r *http.Request) string
	downloads atomic.Int32
	badAuth   atomic.Int32
}

func (s *v3CertificateServer) publish(p ...v3Platform) {
	s.mu.Lock()
	s.published = p
	s.mu.Unlock()
}

func (s *v3CertificateServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	params := v3AuthorizationParams(r)
	reqBody, _ := io.ReadAll(r.Body)
	msg := v3Message(r.Method, r.RequestURI, params["timestamp"], params["nonce_str"], string(reqBody))
	api := r.URL.Path != "/v3/certificates"
	if api && s.answer == nil || !api && r.Method != http.MethodGet || params["mchid"] != s.mchID ||
		!rsaVerify(s.merchant, msg, params["signature"]) || r.Header.Get("User-Agent") == "" {
		s.badAuth.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	published := s.published
	s.mu.Unlock()
	var body string
	if api {
		body = s.answer(r)
	} else {
		s.downloads.Add(1)
		pems := make([]string, len(published))
		for i, p := range published {
			pems[i] = p.pem
		}
		body = v3CertificatesAnswer(s.t, pems)
	}
	signer := published[len(published)-1]
	for k, v := range wechatHeaders(s.t, signer.key, signer.serial, time.Now().Unix(), body) {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, body)
}

// v3Notification seals resource under the APIv3 key into WeChat's
// notification envelope.
func v3Notification(t testing.TB, id, eventType, summary, originalType, resource string) string {
	nonce := "n0tifyn0nce1"
	return `{"id":"` + id + `","create_time":"2026-12-07T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"` + eventType +
		`","summary":"` + summary + `","resource":{"original_type":"` + originalType + `","algorithm":"AEAD_AES_256_GCM","ciphertext":"` +
		gcmSeal(t, v3APIv3Key, nonce, originalType, resource) + `","associated_data":"` + originalType + `","nonce":"` + nonce + `"}}`
}

// TestWechatV3WebhookCertificateRotation drives minipay_webhook routes in
// certificate mode through a real Caddy, against an independent
// /v3/certificates and notifications signed here: a notification signed by
// a certificate WeChat published after the route's first download is
// verified after one more download; two certificates verify at once during
// the rotation; one signed by a published certificate past its not_after,
// and ones naming serials nobody published, are refused (401) without a
// download each (at most one a minute); in the switch-over mode (public key
// and certificates together) a public-key notification needs no download.
func TestWechatV3WebhookCertificateRotation(t *testing.T) {
	const certMch, mixedMch, burstMch = "1900000771", "1900000772", "1900000773"
	now := time.Now()
	old := newV3Platform(t, 0x0A11CE0001, now.AddDate(-5, 0, 0), now.Add(-time.Hour)) // published, expired
	a := newV3Platform(t, 0x0A11CE0002, now.Add(-time.Hour), now.AddDate(5, 0, 0))
	b := newV3Platform(t, 0x0A11CE0003, now.Add(-time.Minute), now.AddDate(5, 0, 0)) // published later
	pubKey := v3PrivateKey(t, "wechatpay_platform_key.pem")
	merchantKey := &v3PrivateKey(t, "apiclient_key.pem").PublicKey

	certSrv := &v3CertificateServer{t: t, merchant: merchantKey, mchID: certMch}
	certSrv.publish(old, a)
	mixedSrv := &v3CertificateServer{t: t, merchant: merchantKey, mchID: mixedMch}
	mixedSrv.publish(a)
	burstSrv := &v3CertificateServer{t: t, merchant: merchantKey, mchID: burstMch}
	burstSrv.publish(old, a)
	certHTTP, mixedHTTP, burstHTTP := httptest.NewServer(certSrv), httptest.NewServer(mixedSrv), httptest.NewServer(burstSrv)
	defer certHTTP.Close()
	defer mixedHTTP.Close()
	defer burstHTTP.Close()

	sink := newEventSink(t)

	route := func(path, mch, keys string) string {
		return "\thandle " + path + " {\n\t\tminipay_webhook wechat_v3 {\n\t\t\tapp_id " + appID + "\n\t\t\tmch_id " + mch +
			"\n\t\t\tserial_no " + v3Serial + "\n\t\t\tprivate_key {file." + v3KeyPath(t, "apiclient_key.pem") + "}\n\t\t\tapi_v3_key " + v3APIv3Key +
			"\n" + keys + "\t\t}\n\t\treverse_proxy " + strings.TrimPrefix(sink.srv.URL, "http://") + "\n\t}\n"
	}
	port := freePort(t)
	config := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + ":" + itoa(port) + " {\n" +
		route("/cert", certMch, "\t\t\tcertificates_url "+certHTTP.URL+"/v3/certificates\n") +
		route("/mixed", mixedMch, "\t\t\tcertificates_url "+mixedHTTP.URL+"/v3/certificates\n\t\t\tpublic_key {file."+
			v3KeyPath(t, "wechatpay_pub_key.pem")+"}\n\t\t\tpublic_key_id "+v3PublicKeyID+"\n") +
		route("/burst", burstMch, "\t\t\tcertificates_url "+burstHTTP.URL+"/v3/certificates\n") + "}\n"
	tc := startCaddy(t, config)
	base := "http://localhost:" + itoa(port)
	if n := certSrv.downloads.Load() + mixedSrv.downloads.Load() + burstSrv.downloads.Load(); n != 0 {
		t.Fatalf("%d downloads at load; the first is due when a key is first needed", n)
	}

	payment := func(mch, txID string) string {
		return `{"mchid":"` + mch + `","appid":"` + appID + `","out_trade_no":"ROT-` + txID + `","transaction_id":"` + txID +
			`","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"","success_time":"2026-12-07T10:00:05+08:00",` +
			`"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":1230,"payer_total":1230,"currency":"CNY","payer_currency":"CNY"}}`
	}
	send := func(path string, signer *rsa.PrivateKey, serial, body string) int {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header = wechatHeaders(t, signer, serial, time.Now().Unix(), body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
		res, err := tc.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode == 200 && len(b) != 0 {
			t.Fatalf("the ACK has a body: %q", b)
		}
		return res.StatusCode
	}
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)

	steps := []struct {
		name      string
		path      string
		signer    *rsa.PrivateKey
		serial    string
		txID      string
		publish   []v3Platform // published before the step, when set
		status    int
		downloads int32 // of the route's server after the step
	}{
		{"signed by A: the first download", "/cert", a.key, a.serial, "4200000771000001", nil, 200, 1},
		{"signed by A again: no download", "/cert", a.key, a.serial, "4200000771000002", nil, 200, 1},
		// WeChat publishes B and signs with it before the route's 12 h refresh.
		{"signed by B, published since: one more download", "/cert", b.key, b.serial, "4200000771000003", []v3Platform{old, a, b}, 200, 2},
		{"signed by B, lower-case serial", "/cert", b.key, strings.ToLower(b.serial), "4200000771000004", nil, 200, 2},
		{"signed by A during the rotation", "/cert", a.key, a.serial, "4200000771000005", nil, 200, 2},
		// Within a minute of the last download: refused without another.
		{"signed by the expired certificate", "/cert", old.key, old.serial, "4200000771000006", nil, 401, 2},
		{"an unknown serial", "/cert", stranger, "7A7A7A7A7A7A", "4200000771000007", nil, 401, 2},
		{"the same unknown serial again", "/cert", stranger, "7A7A7A7A7A7A", "4200000771000008", nil, 401, 2},
		{"A's serial with another key", "/cert", stranger, a.serial, "4200000771000009", nil, 401, 2},
		{"a public key id in certificate mode", "/cert", pubKey, v3PublicKeyID, "4200000771000010", nil, 401, 2},
		{"switch-over: the public key, no download", "/mixed", pubKey, v3PublicKeyID, "4200000772000001", nil, 200, 0},
		{"switch-over: a certificate, one download", "/mixed", a.key, a.serial, "4200000772000002", nil, 200, 1},
		{"switch-over: another public key id", "/mixed", pubKey, "PUB_KEY_ID_0119000001092026112900000000000002", "4200000772000003", nil, 401, 1},
	}
	var accepted []string
	for _, s := range steps {
		if s.publish != nil {
			certSrv.publish(s.publish...)
		}
		mch, srv := certMch, certSrv
		if s.path == "/mixed" {
			mch, srv = mixedMch, mixedSrv
		}
		body := v3Notification(t, "EV-"+s.txID, "TRANSACTION.SUCCESS", "支付成功", "transaction", payment(mch, s.txID))
		if status := send(s.path, s.signer, s.serial, body); status != s.status {
			t.Fatalf("%s: %d, want %d", s.name, status, s.status)
		}
		if n := srv.downloads.Load(); n != s.downloads {
			t.Fatalf("%s: %d downloads, want %d", s.name, n, s.downloads)
		}
		if s.status == 200 {
			accepted = append(accepted, s.txID)
		}
	}

	// WeChat's first notifications after a start, all at once, signed by
	// a certificate of the route's first download, one of them by B,
	// which that download does not hold yet: one download for all of A's,
	// and B's is refused (401, WeChat retries it) without hammering WeChat.
	statuses := make([]int, 9)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			signer := a
			if i == 8 {
				signer = b
			}
			txID := "420000077300000" + strconv.Itoa(i)
			body := v3Notification(t, "EV-"+txID, "TRANSACTION.SUCCESS", "支付成功", "transaction", payment(burstMch, txID))
			statuses[i] = send("/burst", signer.key, signer.serial, body)
		}()
	}
	wg.Wait()
	for i, status := range statuses {
		if want := map[bool]int{true: 401, false: 200}[i == 8]; status != want {
			t.Fatalf("burst notification %d: %d, want %d", i, status, want)
		}
	}
	if n := burstSrv.downloads.Load(); n < 1 || n > 2 {
		t.Fatalf("a burst of 9 notifications made %d downloads, want 1 (2 when B's came after A's download)", n)
	}
	if n := certSrv.badAuth.Load() + mixedSrv.badAuth.Load() + burstSrv.badAuth.Load(); n != 0 {
		t.Fatalf("%d downloads carried an Authorization the merchant's key did not make", n)
	}
	events := sink.take()
	if len(events) != len(accepted)+8 {
		t.Fatalf("%d events forwarded, want %d: %v", len(events), len(accepted)+8, events)
	}
	for i, ev := range events[:len(accepted)] {
		if ev["type"] != "payment.succeeded" || ev["provider_order_id"] != accepted[i] || ev["amount"] != "12.30" ||
			ev["id"] != "wechat_v3:"+accepted[i]+":payment.succeeded" {
			t.Fatalf("event %d: %v, want the payment of %s", i, ev, accepted[i])
		}
	}
}

// TestWechatV3RoutesShareOneDownload: a minipay route and a minipay_webhook
// route of one mch_id in certificate mode share the download through
// Caddy's storage (README "Clusters"): the webhook's first notification
// needs no download of its own after the client's, and when WeChat
// rotates, the certificate the webhook downloaded for a notification
// verifies the client's next answer without another.
func TestWechatV3RoutesShareOneDownload(t *testing.T) {
	const mch = "1900000774"
	now := time.Now()
	a := newV3Platform(t, 0x0B0B0B0001, now.Add(-time.Hour), now.AddDate(5, 0, 0))
	b := newV3Platform(t, 0x0B0B0B0002, now.Add(-time.Minute), now.AddDate(5, 0, 0))
	srv := &v3CertificateServer{t: t, merchant: &v3PrivateKey(t, "apiclient_key.pem").PublicKey, mchID: mch}
	srv.publish(a)
	tx := `{"appid":"` + appID + `","mchid":"` + mch + `","out_trade_no":"SH-1","transaction_id":"4200000774000001","trade_type":"JSAPI","trade_state":"SUCCESS",` +
		`"trade_state_desc":"支付成功","success_time":"2026-12-07T10:00:05+08:00","payer":{"openid":"o"},"amount":{"total":1230,"currency":"CNY"}}`
	srv.answer = func(*http.Request) string { return tx }
	fake := httptest.NewServer(srv)
	defer fake.Close()
	sink := newEventSink(t)
	merchant := "\t\t\tapp_id " + appID + "\n\t\t\tmch_id " + mch + "\n\t\t\tserial_no " + v3Serial + "\n\t\t\tprivate_key {file." +
		v3KeyPath(t, "apiclient_key.pem") + "}\n\t\t\tapi_v3_key " + v3APIv3Key + "\n\t\t\tcertificates_url " + fake.URL + "/v3/certificates\n"
	port := freePort(t)
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+":"+itoa(port)+" {\n"+
		"\thandle /v3/* {\n\t\tminipay wechat_v3 {\n"+merchant+"\t\t\tnotify_url https://m.example/n\n\t\t}\n\t\treverse_proxy "+strings.TrimPrefix(fake.URL, "http://")+"\n\t}\n"+
		"\thandle /hook {\n\t\tminipay_webhook wechat_v3 {\n"+merchant+"\t\t}\n\t\treverse_proxy "+strings.TrimPrefix(sink.srv.URL, "http://")+"\n\t}\n}\n")
	base := "http://localhost:" + itoa(port)
	notify := func(p v3Platform, txID string) int {
		body := v3Notification(t, "EV-"+txID, "TRANSACTION.SUCCESS", "支付成功", "transaction", strings.Replace(tx, "4200000774000001", txID, 1))
		res := do(t, tc, http.MethodPost, base+"/hook", "application/json", []byte(body), flatten(wechatHeaders(t, p.key, p.serial, time.Now().Unix(), body))...)
		return res.status
	}
	query := func() int { return postJSON(t, tc, base+"/v3/query", `{"order_id":"SH-1"}`).status }
	steps := []struct {
		name      string
		run       func() int
		status    int
		downloads int32
	}{
		{"the client's first answer: one download", query, 200, 1},
		{"the webhook's first notification: the stored download", func() int { return notify(a, "4200000774000002") }, 200, 1},
		{"B published, a notification signed by B: the webhook downloads", func() int { srv.publish(a, b); return notify(b, "4200000774000003") }, 200, 2},
		{"the client's answer signed by B: the stored download", query, 200, 2},
	}
	for _, s := range steps {
		if status := s.run(); status != s.status {
			t.Fatalf("%s: %d, want %d", s.name, status, s.status)
		}
		if n := srv.downloads.Load(); n != s.downloads {
			t.Fatalf("%s: %d downloads, want %d", s.name, n, s.downloads)
		}
	}
	if n := srv.badAuth.Load(); n != 0 {
		t.Fatalf("%d requests carried an Authorization the merchant's key did not make", n)
	}
}

// eventSink is a merchant backend that keeps the events it is sent and
// answers 200.
type eventSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []map[string]any
}

func newEventSink(t testing.TB) *eventSink {
	s := &eventSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &ev)
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// take returns the events received since the last take.
func (s *eventSink) take() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.events
	s.events = nil
	return out
}

// flatten writes h as name, value pairs for do.
func flatten(h http.Header) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k, v)
		}
	}
	return out
}

// TestWechatV3PartnerRefundNotifications: a service provider's refund
// notifications (退款结果通知, resource with sp_mchid and sub_mchid, no
// appid), REFUND.SUCCESS, ABNORMAL and CLOSED, through a real Caddy's
// partner minipay_webhook route: each event says which refund of which
// order, its amount, and success_time only where WeChat gives one; a
// direct merchant's refund, or another sub-merchant's, is refused.
func TestWechatV3PartnerRefundNotifications(t *testing.T) {
	sink := newEventSink(t)
	port := freePort(t)
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+":"+itoa(port)+" {\n\thandle /hook {\n\t\tminipay_webhook wechat_v3 {\n"+
		v3Merchant(t, v3PublicKeyMode(t))+"\t\tsub_mch_id 1900000110\n\t\tsub_app_id wx9999999999999999\n\t\t}\n\t\treverse_proxy "+strings.TrimPrefix(sink.srv.URL, "http://")+"\n\t}\n}\n")
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	refund := func(who, status, successTime string) string {
		return `{` + who + `,"out_trade_no":"SP-1","transaction_id":"4200000110202612070000000001","out_refund_no":"SP-1@R|1","refund_id":"50300110202612070000000001",` +
			`"refund_status":"` + status + `",` + successTime + `"user_received_account":"招商银行信用卡0403 \"主卡\"","amount":{"total":1230,"refund":230,"payer_total":1230,"payer_refund":230}}`
	}
	const partner = `"sp_mchid":"` + mchID + `","sub_mchid":"1900000110"`
	const at = `"success_time":"2026-12-07T10:01:05+08:00",`
	cases := []struct {
		name, eventType, resource string
		status                    int
		typ, occurredAt           string
	}{
		{"REFUND.SUCCESS", "REFUND.SUCCESS", refund(partner, "SUCCESS", at), 200, "refund.succeeded", "2026-12-07T10:01:05+08:00"},
		{"REFUND.ABNORMAL", "REFUND.ABNORMAL", refund(partner, "ABNORMAL", ""), 200, "refund.failed", ""},
		{"REFUND.CLOSED", "REFUND.CLOSED", refund(partner, "CLOSED", ""), 200, "refund.failed", ""},
		{"a direct merchant's refund", "REFUND.SUCCESS", refund(`"mchid":"`+mchID+`"`, "SUCCESS", at), 401, "", ""},
		{"another sub-merchant's refund", "REFUND.SUCCESS", refund(`"sp_mchid":"`+mchID+`","sub_mchid":"1900000111"`, "SUCCESS", at), 401, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := v3Notification(t, "EV-"+c.eventType, c.eventType, "退款状态", "refund", c.resource)
			res := do(t, tc, http.MethodPost, "http://localhost:"+itoa(port)+"/hook", "application/json", []byte(body),
				flatten(wechatHeaders(t, platform, v3PublicKeyID, time.Now().Unix(), body))...)
			if res.status != c.status {
				t.Fatalf("%d %s, want %d", res.status, res.body, c.status)
			}
			events := sink.take()
			if want := map[bool]int{true: 0, false: 1}[c.typ == ""]; len(events) != want {
				t.Fatalf("forwarded %v, want %d events", events, want)
			}
			if c.typ == "" {
				return
			}
			ev := events[0]
			data, _ := ev["data"].(map[string]any)
			if ev["type"] != c.typ || ev["id"] != "wechat_v3:50300110202612070000000001:"+c.typ || ev["order_id"] != "SP-1" ||
				ev["refund_id"] != "SP-1@R|1" || ev["provider_order_id"] != "4200000110202612070000000001" ||
				ev["amount"] != "2.30" || ev["currency"] != "CNY" || str(ev["occurred_at"]) != c.occurredAt ||
				data["sub_mchid"] != "1900000110" || data["user_received_account"] != `招商银行信用卡0403 "主卡"` || data["event_type"] != c.eventType {
				t.Fatalf("event %v", ev)
			}
		})
	}
}
