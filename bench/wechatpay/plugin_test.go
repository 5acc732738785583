package wechatpay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
)

// recorded is one request the plugin sent towards WeChat.
type recorded struct {
	method, requestURI string
	header             http.Header
	body               []byte
}

// recorder stands between the plugin's reverse_proxy and the sandbox: it
// keeps a copy of every request and passes it on unchanged.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newRecorder(t *testing.T, sandbox string) *recorder {
	u, err := url.Parse(sandbox)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{method: r.Method, requestURI: r.RequestURI, header: r.Header.Clone(), body: body})
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) last(t *testing.T) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("the plugin sent nothing upstream")
	}
	return rec.reqs[len(rec.reqs)-1]
}

// authorization matches the header the SDK itself writes
// (consts.HeaderAuthorizationFormat).
var authorization = regexp.MustCompile(`^WECHATPAY2-SHA256-RSA2048 mchid="([^"]*)",nonce_str="([^"]*)",timestamp="([0-9]+)",serial_no="([^"]*)",signature="([^"]*)"$`)

// TestSDKVerifiesPluginOutput has the SDK's verifier check what a
// `minipay wechat_v3` route produces: the Authorization of every request it
// sends WeChat (written exactly as the SDK writes it, and signed over the
// bytes sent) and the paySign it hands to wx.requestPayment.
func TestSDKVerifiesPluginOutput(t *testing.T) {
	k := loadKeys(t)
	sandboxPort, merchantPort := freePort(t), freePort(t)
	sandbox := "http://localhost:" + strconv.Itoa(sandboxPort)
	rec := newRecorder(t, sandbox)
	notifier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(notifier.Close)
	startCaddy(t, `
:`+strconv.Itoa(sandboxPort)+` {
	minipay_sandbox {`+wechatV3Sandbox(t)+`
	}
}
:`+strconv.Itoa(merchantPort)+` {
	handle /wechatv3/* {
		minipay wechat_v3 {
			app_id `+appID+`
			mch_id `+mchID+`
			serial_no `+merchantSerial+`
			private_key {file.`+keyPath(t, "apiclient_key.pem")+`}
			public_key {file.`+keyPath(t, "wechatpay_pub_key.pem")+`}
			public_key_id `+publicKeyID+`
			notify_url `+notifier.URL+`
		}
		reverse_proxy `+rec.srv.URL+`
	}
}
`)
	merchant := "http://localhost:" + strconv.Itoa(merchantPort) + "/wechatv3/"
	// The merchant's public key, as the SDK's verifier holds a key: the
	// key id is only the verifier's label here.
	merchantVerifier := verifiers.NewSHA256WithRSAPubkeyVerifier(merchantSerial, *k.merchantPublic)
	ctx := context.Background()
	checkAuthorization := func(t *testing.T, op string) {
		t.Helper()
		r := rec.last(t)
		m := authorization.FindStringSubmatch(r.header.Get("Authorization"))
		if m == nil {
			t.Fatalf("%s: Authorization %q is not the SDK's form", op, r.header.Get("Authorization"))
		}
		mch, nonce, ts, serial, signature := m[1], m[2], m[3], m[4], m[5]
		tsn, _ := strconv.ParseInt(ts, 10, 64)
		if mch != mchID || serial != merchantSerial {
			t.Fatalf("%s: Authorization names mchid %q serial %q", op, mch, serial)
		}
		// Re-written with the SDK's own format string, it is the same header.
		if again := fmt.Sprintf(consts.HeaderAuthorizationFormat, "WECHATPAY2-SHA256-RSA2048", mch, nonce, tsn, serial, signature); again != r.header.Get("Authorization") {
			t.Fatalf("%s: Authorization %q, the SDK's format gives %q", op, r.header.Get("Authorization"), again)
		}
		message := fmt.Sprintf(consts.SignatureMessageFormat, r.method, r.requestURI, tsn, nonce, r.body)
		if err := merchantVerifier.Verify(ctx, merchantSerial, message, signature); err != nil {
			t.Fatalf("%s: the SDK's verifier refuses the plugin's Authorization over %q: %v", op, message, err)
		}
		if r.header.Get("Wechatpay-Serial") != publicKeyID || r.header.Get("User-Agent") == "" {
			t.Fatalf("%s: headers %v", op, r.header)
		}
	}

	orderID := newOrderID("MP")
	status, body := post(t, merchant+"pay", `{"order_id":"`+orderID+`","amount":"1.00","currency":"CNY","description":"Latte","openid":"`+openID+`","client_ip":"203.0.113.7"}`)
	if status != http.StatusOK {
		t.Fatalf("pay: %d %s", status, body)
	}
	checkAuthorization(t, "pay")
	pay := object(t, body)
	paySign, _ := pay["paySign"].(string)
	message := fmt.Sprintf("%s\n%s\n%s\n%s\n", appID, pay["timeStamp"], pay["nonceStr"], pay["package"])
	if pay["signType"] != "RSA" {
		t.Fatalf("pay answer %s", body)
	}
	if err := merchantVerifier.Verify(ctx, merchantSerial, message, paySign); err != nil {
		t.Fatalf("the SDK's verifier refuses the plugin's paySign over %q: %v", message, err)
	}

	for _, op := range []struct{ name, body string }{
		{"query", `{"order_id":"` + orderID + `"}`},
		{"close", `{"order_id":"` + orderID + `"}`},
	} {
		if status, body := post(t, merchant+op.name, op.body); status != http.StatusOK {
			t.Fatalf("%s: %d %s", op.name, status, body)
		}
		checkAuthorization(t, op.name)
	}

	paid := newOrderID("MP")
	if status, body := post(t, merchant+"pay", `{"order_id":"`+paid+`","amount":"1.00","currency":"CNY","description":"Latte","openid":"`+openID+`"}`); status != http.StatusOK {
		t.Fatalf("pay: %d %s", status, body)
	}
	if status, body := post(t, sandbox+"/sandbox/complete", `{"provider":"wechat_v3","order_id":"`+paid+`","result":"succeeded"}`); status != http.StatusOK {
		t.Fatalf("complete: %d %s", status, body)
	}
	refundID := newOrderID("MR")
	for _, op := range []struct{ name, body string }{
		{"refund", `{"order_id":"` + paid + `","refund_id":"` + refundID + `","amount":"0.40","currency":"CNY","total_amount":"1.00","reason":"out of stock"}`},
		{"refund_query", `{"refund_id":"` + refundID + `"}`},
	} {
		if status, body := post(t, merchant+op.name, op.body); status != http.StatusOK {
			t.Fatalf("%s: %d %s", op.name, status, body)
		}
		checkAuthorization(t, op.name)
	}
}
