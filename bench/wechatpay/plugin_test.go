package wechatpay

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// recorded is one request the plugin sent towards WeChat, and the SDK's
// verdict on the answer it got.
type recorded struct {
	method, requestURI string
	header             http.Header
	body               []byte
	status             int   // the answer's status
	answerErr          error // the SDK's response validator on the answer
}

// recorder stands between the plugin and the sandbox: it keeps a copy of
// every request, passes it on unchanged, and has the SDK's response
// validator judge every answer the sandbox signs (refusals and the 204 of
// close included) before passing it back unchanged.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*recorded
}

func newRecorder(t *testing.T, sandbox string, validator *validators.WechatPayResponseValidator) *recorder {
	u, err := url.Parse(sandbox)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(res *http.Response) error {
		r := res.Request.Context().Value(recordedKey{}).(*recorded)
		err := validator.Validate(res.Request.Context(), res) // restores the body it reads
		rec.mu.Lock()
		r.status, r.answerErr = res.StatusCode, err
		rec.mu.Unlock()
		return nil
	}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		one := &recorded{method: r.Method, requestURI: r.RequestURI, header: r.Header.Clone(), body: body}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, one)
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), recordedKey{}, one)))
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

type recordedKey struct{}

// since returns the requests recorded after the first n.
func (rec *recorder) since(n int) []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make([]recorded, 0, len(rec.reqs)-n)
	for _, r := range rec.reqs[n:] {
		out = append(out, *r)
	}
	return out
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// authorization matches the header the SDK itself writes
// (consts.HeaderAuthorizationFormat).
var authorization = regexp.MustCompile(`^WECHATPAY2-SHA256-RSA2048 mchid="([^"]*)",nonce_str="([^"]*)",timestamp="([0-9]+)",serial_no="([^"]*)",signature="([^"]*)"$`)

// pluginRoute is one way a merchant configures `minipay wechat_v3`.
type pluginRoute struct {
	name string
	// fields are the route's lines beside app_id, mch_id, serial_no and
	// notify_url; {recorder} is the recorder's base URL.
	fields string
	// payAppID is the appId paySign must cover: the mini program's.
	payAppID string
	// serialHeader is the Wechatpay-Serial every request must carry ("":
	// none, certificate mode).
	serialHeader string
	// partner: the order is the sandbox's sub-merchant's.
	partner bool
	// downloads: the route fetches /v3/certificates itself (certificate mode).
	downloads bool
}

// pkcs1Key writes the merchant key as PKCS#1 ("RSA PRIVATE KEY"), the other
// form private_key accepts.
func pkcs1Key(t *testing.T, k keys) string {
	p := filepath.Join(t.TempDir(), "apiclient_key_pkcs1.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.merchant)})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSDKJudgesPluginOutput has WeChat's official SDK judge everything a
// `minipay wechat_v3` route and the sandbox behind it produce, for every way
// a merchant configures the route (public key with a PKCS#8 or a PKCS#1
// merchant key, downloaded platform certificates, a static certificate, the
// public key and downloads together, service provider with and without
// sub_app_id) and order and refund ids that must be escaped in a
// path (`*` in order ids; `|`, `*`, `@` in refund ids, which WeChat's v3
// rules allow there and not in out_trade_no):
//   - the SDK's verifier accepts the Authorization of every request the
//     plugin sends (pay, query, close, refund, refund_query and its own
//     signed GET /v3/certificates), written exactly as the SDK writes it
//     and signed over the bytes sent (the request target as sent);
//   - the SDK's response validator accepts every answer the sandbox signs;
//   - the SDK's verifier accepts the paySign handed to wx.requestPayment,
//     over the mini program's appId (sub_app_id for a sub_openid payer);
//   - the SDK's notify.Handler accepts the sandbox's notifications: the
//     payment, the refund made through the plugin, and the refund of what
//     remains that /sandbox/complete "refunded" sends.
func TestSDKJudgesPluginOutput(t *testing.T) {
	k := loadKeys(t)
	sandboxPort, merchantPort := freePort(t), freePort(t)
	sandbox := "http://localhost:" + strconv.Itoa(sandboxPort)
	combined := verifiers.NewSHA256WithRSACombinedVerifier(
		core.NewCertificateMapWithList([]*x509.Certificate{k.platformCert}), publicKeyID, *k.platformPublic)
	rec := newRecorder(t, sandbox, validators.NewWechatPayResponseValidator(combined))
	h, err := notify.NewRSANotifyHandler(apiV3Key, combined)
	if err != nil {
		t.Fatal(err)
	}
	notifier := newNotifyServer(t, h)
	publicKey := "\t\t\tpublic_key {file." + keyPath(t, "wechatpay_pub_key.pem") + "}\n\t\t\tpublic_key_id " + publicKeyID + "\n"
	pkcs8 := "\t\t\tprivate_key {file." + keyPath(t, "apiclient_key.pem") + "}\n"
	sub := "\t\t\tsub_mch_id " + subMchID + "\n"
	routes := []pluginRoute{
		{name: "public key", fields: pkcs8 + publicKey, payAppID: appID, serialHeader: publicKeyID},
		{name: "public key, PKCS#1 merchant key", fields: "\t\t\tprivate_key {file." + pkcs1Key(t, k) + "}\n" + publicKey, payAppID: appID, serialHeader: publicKeyID},
		{name: "downloaded certificates", fields: pkcs8 + "\t\t\tapi_v3_key " + apiV3Key + "\n\t\t\tcertificates_url {recorder}/v3/certificates\n",
			payAppID: appID, downloads: true},
		{name: "static certificate", fields: pkcs8 + "\t\t\tplatform_certificate {file." + keyPath(t, "wechatpay_platform_cert.pem") + "}\n", payAppID: appID},
		// The switch-over: both sources; requests ask for the public key.
		{name: "public key and downloaded certificates", fields: pkcs8 + publicKey + "\t\t\tapi_v3_key " + apiV3Key + "\n\t\t\tcertificates_url {recorder}/v3/certificates\n",
			payAppID: appID, serialHeader: publicKeyID},
		{name: "service provider, sub_app_id", fields: pkcs8 + publicKey + sub + "\t\t\tsub_app_id " + subAppID + "\n",
			payAppID: subAppID, serialHeader: publicKeyID, partner: true},
		{name: "service provider, sp_openid", fields: pkcs8 + publicKey + sub, payAppID: appID, serialHeader: publicKeyID, partner: true},
	}
	var site strings.Builder
	for i, r := range routes {
		fmt.Fprintf(&site, "\thandle /r%d/* {\n\t\tminipay wechat_v3 {\n\t\t\tapp_id %s\n\t\t\tmch_id %s\n\t\t\tserial_no %s\n\t\t\tnotify_url %s\n%s\t\t}\n\t\treverse_proxy %s\n\t}\n",
			i, appID, mchID, merchantSerial, notifier.srv.URL+"/r"+strconv.Itoa(i), strings.ReplaceAll(r.fields, "{recorder}", rec.srv.URL), rec.srv.URL)
	}
	startCaddy(t, `
:`+strconv.Itoa(sandboxPort)+` {
	minipay_sandbox {`+wechatV3Sandbox(t, `
			sub_mch_id `+subMchID+`
			sub_app_id `+subAppID)+`
	}
}
:`+strconv.Itoa(merchantPort)+` {
`+site.String()+`}
`)
	merchantVerifier := verifiers.NewSHA256WithRSAPubkeyVerifier(merchantSerial, *k.merchantPublic)
	ctx := context.Background()
	for i, route := range routes {
		t.Run(route.name, func(t *testing.T) {
			merchant := "http://localhost:" + strconv.Itoa(merchantPort) + "/r" + strconv.Itoa(i) + "/"
			start := rec.count()
			mustPost := func(op, body string) map[string]any {
				t.Helper()
				status, answer := post(t, merchant+op, body)
				if status != http.StatusOK {
					t.Fatalf("%s: %d %s", op, status, answer)
				}
				return object(t, answer)
			}
			wantNotification := func(what, eventType, outTradeNo string) {
				t.Helper()
				n := notifier.next(t)
				if n.err != nil {
					t.Fatalf("notify.Handler refused the sandbox's %s notification: %v", what, n.err)
				}
				var tradeNo, mch string
				switch {
				case eventType != "TRANSACTION.SUCCESS":
					tradeNo, mch = n.refund.OutTradeNo, cmp.Or(n.refund.MchID, n.refund.SpMchID)
				case route.partner:
					tradeNo, mch = deref(n.partner.OutTradeNo), deref(n.partner.SpMchid)
				default:
					tradeNo, mch = deref(n.transaction.OutTradeNo), deref(n.transaction.Mchid)
				}
				if n.request.EventType != eventType || tradeNo != outTradeNo || mch != mchID {
					t.Fatalf("%s notification %+v: %s", what, n.request, n.request.Resource.Plaintext)
				}
			}

			orderID := newOrderID("MP*") + "*"
			pay := mustPost("pay", `{"order_id":"`+orderID+`","amount":"1.00","currency":"CNY","description":"Latte","openid":"`+openID+`","client_ip":"203.0.113.7"}`)
			message := fmt.Sprintf("%s\n%s\n%s\n%s\n", route.payAppID, pay["timeStamp"], pay["nonceStr"], pay["package"])
			if pay["signType"] != "RSA" {
				t.Fatalf("pay answer %v", pay)
			}
			// The rest of what the SDK's PrepayWithRequestPayment hands to
			// wx.requestPayment: every value a string, timeStamp in Unix
			// seconds, nonceStr of utils.NonceLength characters of
			// utils.NonceSymbols, package prepay_id=<the sandbox's prepay id>.
			for k, v := range pay {
				if _, ok := v.(string); !ok {
					t.Fatalf("pay answer %s is %T, not a string: %v", k, v, pay)
				}
			}
			ts, err := strconv.ParseInt(pay["timeStamp"].(string), 10, 64)
			nonce := pay["nonceStr"].(string)
			if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute || len(nonce) != utils.NonceLength ||
				strings.Trim(nonce, utils.NonceSymbols) != "" || !strings.HasPrefix(pay["package"].(string), "prepay_id=wx") {
				t.Fatalf("pay answer %v is not what the SDK hands to wx.requestPayment", pay)
			}
			if err := merchantVerifier.Verify(ctx, merchantSerial, message, fmt.Sprint(pay["paySign"])); err != nil {
				t.Fatalf("the SDK's verifier refuses the plugin's paySign over %q: %v", message, err)
			}
			if q := mustPost("query", `{"order_id":"`+orderID+`"}`); q["status"] != "pending" || q["provider_status"] != "NOTPAY" {
				t.Fatalf("query before payment: %v", q)
			}
			if c := (sandboxEnv{sandbox: sandbox}).complete(t, orderID, "succeeded"); c["acknowledged"] != true {
				t.Fatalf("complete: %v", c)
			}
			wantNotification("payment", "TRANSACTION.SUCCESS", orderID)
			refundID := newOrderID("MR@") + "|*"
			if r := mustPost("refund", `{"order_id":"`+orderID+`","refund_id":"`+refundID+`","amount":"0.40","currency":"CNY","total_amount":"1.00","reason":"out of stock"}`); r["refund_id"] != refundID {
				t.Fatalf("refund: %v", r)
			}
			wantNotification("refund", "REFUND.SUCCESS", orderID)
			if r := mustPost("refund_query", `{"refund_id":"`+refundID+`","order_id":"`+orderID+`"}`); r["status"] != "succeeded" {
				t.Fatalf("refund_query: %v", r)
			}
			if c := (sandboxEnv{sandbox: sandbox}).complete(t, orderID, "refunded"); c["acknowledged"] != true {
				t.Fatalf("complete refunded: %v", c)
			}
			wantNotification("remaining refund", "REFUND.SUCCESS", orderID)
			if q := mustPost("query", `{"order_id":"`+orderID+`"}`); q["status"] != "refunded" {
				t.Fatalf("query after the refunds: %v", q)
			}
			closed := newOrderID("MC*") + "_"
			mustPost("pay", `{"order_id":"`+closed+`","amount":"0.01","currency":"CNY","description":"to close","openid":"`+openID+`"}`)
			if c := mustPost("close", `{"order_id":"`+closed+`"}`); c["status"] != "cancelled" {
				t.Fatalf("close: %v", c)
			}
			if status, answer := post(t, merchant+"close", `{"order_id":"`+orderID+`"}`); status != http.StatusUnprocessableEntity {
				t.Fatalf("close of a refunded order: %d %s", status, answer)
			}

			sent := rec.since(start)
			ops := map[string]int{}
			for _, r := range sent {
				op := r.method + " " + opOf(r.requestURI)
				ops[op]++
				m := authorization.FindStringSubmatch(r.header.Get("Authorization"))
				if m == nil {
					t.Fatalf("%s: Authorization %q is not the SDK's form", op, r.header.Get("Authorization"))
				}
				mch, nonce, ts, serial, signature := m[1], m[2], m[3], m[4], m[5]
				tsn, _ := strconv.ParseInt(ts, 10, 64)
				if mch != mchID || serial != merchantSerial {
					t.Fatalf("%s: Authorization names mchid %q serial %q", op, mch, serial)
				}
				if again := fmt.Sprintf(consts.HeaderAuthorizationFormat, "WECHATPAY2-SHA256-RSA2048", mch, nonce, tsn, serial, signature); again != r.header.Get("Authorization") {
					t.Fatalf("%s: Authorization %q, the SDK's format gives %q", op, r.header.Get("Authorization"), again)
				}
				message := fmt.Sprintf(consts.SignatureMessageFormat, r.method, r.requestURI, tsn, nonce, r.body)
				if err := merchantVerifier.Verify(ctx, merchantSerial, message, signature); err != nil {
					t.Fatalf("%s: the SDK's verifier refuses the plugin's Authorization over %q: %v", op, message, err)
				}
				if r.header.Get("User-Agent") == "" || r.header.Get("Accept") != "application/json" {
					t.Fatalf("%s: headers %v", op, r.header)
				}
				// The download is the plugin's own call: it names no key
				// (certificate mode has none to name).
				if want := route.serialHeader; r.header.Get("Wechatpay-Serial") != want && opOf(r.requestURI) != "/v3/certificates" {
					t.Fatalf("%s: Wechatpay-Serial %q, want %q", op, r.header.Get("Wechatpay-Serial"), want)
				}
				if r.answerErr != nil {
					t.Fatalf("%s → %d: the SDK's response validator refuses the sandbox's answer: %v", op, r.status, r.answerErr)
				}
			}
			want := map[string]int{"POST jsapi": 2, "GET out-trade-no": 2, "POST close": 2, "POST refunds": 1, "GET refunds": 1}
			if route.downloads {
				want["GET /v3/certificates"] = 1
			}
			if !maps.Equal(ops, want) {
				t.Fatalf("requests sent: %v, want %v", ops, want)
			}
		})
	}
}

// opOf names a request by its target: the last path element before any id.
func opOf(requestURI string) string {
	p, _, _ := strings.Cut(requestURI, "?")
	switch {
	case p == "/v3/certificates":
		return p
	case strings.HasSuffix(p, "/close"):
		return "close"
	case strings.HasSuffix(p, "/jsapi"):
		return "jsapi"
	case strings.Contains(p, "/out-trade-no/"):
		return "out-trade-no"
	case strings.HasPrefix(p, "/v3/refund/domestic/refunds"):
		return "refunds"
	}
	return p
}

// deref is the value of an SDK model's optional field, "" when absent.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
