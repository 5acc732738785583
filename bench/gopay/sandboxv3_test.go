package gopay

import (
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-pay/crypto/xpem"
	wechatv3 "github.com/go-pay/gopay/wechat/v3"
)

// The WeChat Pay v3 merchant of Caddyfile.example, with the repository's
// public sandbox keys (examples/keys).
const (
	v3APIKey      = "sandbox-apiv3-key-0123456789abcd"
	v3PublicKeyID = "PUB_KEY_ID_0119000001092026112900000000000001"
)

// exampleKey is the absolute path of one of examples/keys.
func exampleKey(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// v3Notification is one notification as gopay's v3 parser read it.
type v3Notification struct {
	req *wechatv3.V3NotifyReq
	err error
}

// TestGopayV3ParsesSandboxNotifications: gopay's WeChat Pay v3 notification
// handling (V3ParseNotify, VerifySignByPKMap, DecryptPayCipherText,
// DecryptRefundCipherText) accepts what minipay_sandbox sends: the payment
// notification of /sandbox/complete and the refund notification a refund
// through the merchant API brings, each signed under the key the merchant
// asked for (public-key mode), and refuses them under another key.
func TestGopayV3ParsesSandboxNotifications(t *testing.T) {
	pubPEM, err := os.ReadFile(exampleKey(t, "wechatpay_pub_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	platform, err := xpem.DecodePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan v3Notification, 4)
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := wechatv3.V3ParseNotify(r)
		got <- v3Notification{req, err}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(notify.Close)

	sandbox, merchantPort := testportFree(t), testportFree(t)
	sbx := "http://localhost:" + strconv.Itoa(sandbox)
	merchantBlock := `
			app_id wx8888888888888888
			mch_id 1900000109
			serial_no 3775B6A45ACD588826D15E583A95F5DD2F2D3B4A
			private_key {file.` + exampleKey(t, "apiclient_key.pem") + `}
			api_v3_key ` + v3APIKey + `
			public_key_id ` + v3PublicKeyID
	startCaddy(t, `
:`+strconv.Itoa(merchantPort)+` {
	minipay wechat_v3 {`+merchantBlock+`
		public_key {file.`+exampleKey(t, "wechatpay_pub_key.pem")+`}
	}
	reverse_proxy localhost:`+strconv.Itoa(sandbox)+`
}
:`+strconv.Itoa(sandbox)+` {
	minipay_sandbox {
		wechat_v3 {`+merchantBlock+`
			platform_private_key {file.`+exampleKey(t, "wechatpay_platform_key.pem")+`}
		}
	}
}
`)
	merchant := "http://localhost:" + strconv.Itoa(merchantPort)
	orderID := gopayOrderID("GV3")
	if status, body := postJSON(t, merchant+"/wechat_v3/pay", `{"order_id":"`+orderID+`","amount":"12.30","currency":"CNY","description":"Latte","openid":"`+openID+`","notify_url":"`+notify.URL+`"}`); status != 200 {
		t.Fatalf("pay: %d %s", status, body)
	}
	complete(t, sbx, orderID, "succeeded", "wechat_v3")
	n := nextV3(t, got)
	if err := n.req.VerifySignByPKMap(map[string]*rsa.PublicKey{v3PublicKeyID: platform}); err != nil {
		t.Fatalf("gopay refuses the payment notification's signature: %v", err)
	}
	if err := n.req.VerifySignByPKMap(map[string]*rsa.PublicKey{"another": platform}); err == nil {
		t.Error("gopay accepts the notification under a key id it does not know")
	}
	paid, err := n.req.DecryptPayCipherText(v3APIKey)
	if err != nil || n.req.EventType != "TRANSACTION.SUCCESS" || paid.OutTradeNo != orderID || paid.TradeState != "SUCCESS" ||
		paid.Amount.Total != 1230 || paid.Amount.Currency != "CNY" || paid.Payer.Openid != openID || paid.Mchid != "1900000109" {
		t.Fatalf("payment notification %+v: %+v %v", n.req, paid, err)
	}

	if status, body := postJSON(t, merchant+"/wechat_v3/refund", `{"order_id":"`+orderID+`","refund_id":"`+orderID+`R1","amount":"2.30","currency":"CNY","total_amount":"12.30"}`); status != 200 {
		t.Fatalf("refund: %d %s", status, body)
	}
	n = nextV3(t, got)
	if err := n.req.VerifySignByPKMap(map[string]*rsa.PublicKey{v3PublicKeyID: platform}); err != nil {
		t.Fatalf("gopay refuses the refund notification's signature: %v", err)
	}
	refund, err := n.req.DecryptRefundCipherText(v3APIKey)
	if err != nil || n.req.EventType != "REFUND.SUCCESS" || refund.OutTradeNo != orderID || refund.OutRefundNo != orderID+"R1" ||
		refund.RefundStatus != "SUCCESS" || refund.Amount.Refund != 230 || refund.Amount.Total != 1230 || refund.TransactionId != paid.TransactionId {
		t.Fatalf("refund notification %+v: %+v %v", n.req, refund, err)
	}
}

func nextV3(t *testing.T, got chan v3Notification) v3Notification {
	t.Helper()
	select {
	case n := <-got:
		if n.err != nil {
			t.Fatalf("gopay V3ParseNotify: %v", n.err)
		}
		return n
	case <-time.After(15 * time.Second):
		t.Fatal("no notification arrived within 15 s")
		return v3Notification{}
	}
}

// postJSON posts body to url and returns the status and the answer.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
