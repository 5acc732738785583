package wechatpay

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/downloader"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
)

// sdkMode is one way a merchant configures the SDK's key material.
type sdkMode struct {
	name string
	// options builds the SDK client's auth options (the HTTP client is added by the test).
	options func(t *testing.T, k keys, httpClient *http.Client) []core.ClientOption
	// serial is the Wechatpay-Serial the sandbox must sign its answers under.
	serial string
}

var sdkModes = []sdkMode{
	{
		name: "public key",
		options: func(_ *testing.T, k keys, _ *http.Client) []core.ClientOption {
			return []core.ClientOption{option.WithWechatPayPublicKeyAuthCipher(mchID, merchantSerial, k.merchant, publicKeyID, k.platformPublic)}
		},
		serial: publicKeyID,
	},
	{
		name: "platform certificate",
		options: func(_ *testing.T, k keys, _ *http.Client) []core.ClientOption {
			return []core.ClientOption{option.WithWechatPayAuthCipher(mchID, merchantSerial, k.merchant, []*x509.Certificate{k.platformCert})}
		},
		serial: platformSerial,
	},
	{
		// The SDK downloads the platform certificates from /v3/certificates
		// itself and decrypts them with the APIv3 key.
		name: "downloaded platform certificate",
		options: func(t *testing.T, k keys, httpClient *http.Client) []core.ClientOption {
			ctx := context.Background()
			dl, err := core.NewClient(ctx, option.WithMerchantCredential(mchID, merchantSerial, k.merchant),
				option.WithoutValidator(), option.WithHTTPClient(httpClient))
			if err != nil {
				t.Fatal(err)
			}
			mgr := downloader.NewCertificateDownloaderMgr(ctx)
			t.Cleanup(mgr.Stop)
			if err := mgr.RegisterDownloaderWithClient(ctx, dl, mchID, apiV3Key); err != nil {
				t.Fatalf("the SDK could not download the sandbox's certificates: %v", err)
			}
			if got := mgr.GetNewestCertificateSerial(ctx, mchID); got != platformSerial {
				t.Fatalf("downloaded certificate serial %q, want %q", got, platformSerial)
			}
			return []core.ClientOption{option.WithWechatPayAutoAuthCipherUsingDownloaderMgr(mchID, merchantSerial, k.merchant, mgr)}
		},
		serial: platformSerial,
	},
}

// orderSeq makes every order id of a test process unique.
var orderSeq atomic.Int64

func newOrderID(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano()%1e12, 10) + strconv.FormatInt(orderSeq.Add(1), 10)
}

// TestSDKAgainstSandbox runs WeChat's official SDK, with its own answer
// validation on, through a merchant's whole order life against
// minipay_sandbox: pay (with the wx.requestPayment parameters), query,
// payment notification through the SDK's notify.Handler, refund, refund
// query, refund notification, close — in every key mode.
func TestSDKAgainstSandbox(t *testing.T) {
	k := loadKeys(t)
	env := startSandbox(t)
	for _, mode := range sdkModes {
		t.Run(mode.name, func(t *testing.T) {
			httpClient := sandboxClient(env.sandbox)
			opts := append(mode.options(t, k, httpClient), option.WithHTTPClient(httpClient))
			client, err := core.NewClient(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			// Notifications carry no request to choose a key: accept either,
			// with the verifier the SDK offers for the switch-over.
			h, err := notify.NewRSANotifyHandler(apiV3Key, verifiers.NewSHA256WithRSACombinedVerifier(
				core.NewCertificateMapWithList([]*x509.Certificate{k.platformCert}), publicKeyID, *k.platformPublic))
			if err != nil {
				t.Fatal(err)
			}
			orderFlow(t, env, client, mode.serial, newNotifyServer(t, h))
		})
	}
}

func orderFlow(t *testing.T, env sandboxEnv, client *core.Client, serial string, notifier *notifyServer) {
	ctx := context.Background()
	pay := jsapi.JsapiApiService{Client: client}
	refunds := refunddomestic.RefundsApiService{Client: client}
	orderID := newOrderID("SDK")

	// Pay: the SDK signs the request, validates the signed answer and
	// builds wx.requestPayment's parameters.
	prepay, res, err := pay.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
		Appid:       core.String(appID),
		Mchid:       core.String(mchID),
		Description: core.String("Image形象店-深圳腾大-QQ公仔"),
		OutTradeNo:  core.String(orderID),
		TimeExpire:  core.Time(time.Now().Add(30 * time.Minute)),
		Attach:      core.String("sdk-proof"),
		NotifyUrl:   core.String(notifier.srv.URL + "/pay"),
		Amount:      &jsapi.Amount{Total: core.Int64(100), Currency: core.String("CNY")},
		Payer:       &jsapi.Payer{Openid: core.String(openID)},
		SceneInfo:   &jsapi.SceneInfo{PayerClientIp: core.String("203.0.113.7")},
	})
	if err != nil {
		t.Fatalf("PrepayWithRequestPayment: %v", err)
	}
	wantSignedUnder(t, res, serial)
	if !strings.HasPrefix(*prepay.PrepayId, "wx") || *prepay.Package != "prepay_id="+*prepay.PrepayId || *prepay.SignType != "RSA" {
		t.Fatalf("prepay answer %s", prepay)
	}

	// Query: NOTPAY until the payer pays.
	tx, res, err := pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(orderID), Mchid: core.String(mchID)})
	if err != nil {
		t.Fatalf("QueryOrderByOutTradeNo: %v", err)
	}
	wantSignedUnder(t, res, serial)
	if *tx.OutTradeNo != orderID || *tx.Mchid != mchID || *tx.Appid != appID || *tx.TradeState != "NOTPAY" || *tx.Amount.Total != 100 {
		t.Fatalf("query before payment: %s", tx)
	}

	// The payer pays: the sandbox notifies, the SDK's notify.Handler
	// verifies and decrypts, and the sandbox sees WeChat's ACK.
	complete := env.complete(t, orderID, "succeeded")
	n := notifier.next(t)
	if n.err != nil {
		t.Fatalf("notify.Handler refused the sandbox's payment notification: %v", n.err)
	}
	if n.serial != serial {
		t.Fatalf("payment notification signed under %q, want %q (the key the order was placed under)", n.serial, serial)
	}
	if complete["acknowledged"] != true {
		t.Fatalf("the sandbox did not see the ACK of a notification the SDK accepted: %v", complete)
	}
	got := n.transaction
	if n.request.EventType != "TRANSACTION.SUCCESS" || n.request.ResourceType != "encrypt-resource" ||
		*got.OutTradeNo != orderID || *got.Mchid != mchID || *got.Appid != appID || *got.TradeState != "SUCCESS" ||
		*got.Amount.Total != 100 || *got.Amount.Currency != "CNY" || *got.Payer.Openid != openID || *got.TransactionId == "" {
		t.Fatalf("payment notification %+v: %s", n.request, got)
	}

	tx, res, err = pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(orderID), Mchid: core.String(mchID)})
	if err != nil {
		t.Fatalf("QueryOrderByOutTradeNo after payment: %v", err)
	}
	wantSignedUnder(t, res, serial)
	if *tx.TradeState != "SUCCESS" || *tx.TransactionId != *got.TransactionId || tx.SuccessTime == nil || *tx.SuccessTime == "" {
		t.Fatalf("query after payment: %s", tx)
	}

	// Refund part of it, then query the refund.
	refundID := newOrderID("R")
	refund, res, err := refunds.Create(ctx, refunddomestic.CreateRequest{
		OutTradeNo:  core.String(orderID),
		OutRefundNo: core.String(refundID),
		Reason:      core.String("out of stock"),
		NotifyUrl:   core.String(notifier.srv.URL + "/refund"),
		Amount:      &refunddomestic.AmountReq{Refund: core.Int64(40), Total: core.Int64(100), Currency: core.String("CNY")},
	})
	if err != nil {
		t.Fatalf("refunddomestic Create: %v", err)
	}
	wantSignedUnder(t, res, serial)
	if *refund.OutRefundNo != refundID || *refund.OutTradeNo != orderID || *refund.RefundId == "" ||
		*refund.Amount.Refund != 40 || *refund.Amount.Total != 100 || refund.CreateTime == nil {
		t.Fatalf("refund answer %s", refund)
	}
	queried, res, err := refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(refundID)})
	if err != nil {
		t.Fatalf("refunddomestic QueryByOutRefundNo: %v", err)
	}
	wantSignedUnder(t, res, serial)
	if *queried.RefundId != *refund.RefundId || *queried.OutTradeNo != orderID || *queried.Amount.Refund != 40 {
		t.Fatalf("refund query %s", queried)
	}

	// The refund's notification.
	n = notifier.next(t)
	if n.err != nil {
		t.Fatalf("notify.Handler refused the sandbox's refund notification: %v", n.err)
	}
	if n.serial != serial {
		t.Fatalf("refund notification signed under %q, want %q", n.serial, serial)
	}
	r := n.refund
	if n.request.EventType != "REFUND.SUCCESS" || r.OutRefundNo != refundID || r.OutTradeNo != orderID || r.RefundID != *refund.RefundId ||
		r.MchID != mchID || r.RefundStatus != refunddomestic.STATUS_SUCCESS || r.Amount.Refund != 40 || r.Amount.Total != 100 {
		t.Fatalf("refund notification %+v: %+v", n.request, r)
	}

	// Close another order: a 204 whose empty body is signed too.
	other := newOrderID("SDKC")
	if _, _, err := pay.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
		Appid: core.String(appID), Mchid: core.String(mchID), Description: core.String("to be closed"),
		OutTradeNo: core.String(other), NotifyUrl: core.String(notifier.srv.URL + "/pay"),
		Amount: &jsapi.Amount{Total: core.Int64(1)}, Payer: &jsapi.Payer{Openid: core.String(openID)},
	}); err != nil {
		t.Fatalf("PrepayWithRequestPayment: %v", err)
	}
	res, err = pay.CloseOrder(ctx, jsapi.CloseOrderRequest{OutTradeNo: core.String(other), Mchid: core.String(mchID)})
	if err != nil {
		t.Fatalf("CloseOrder: %v", err)
	}
	if res.Response.StatusCode != http.StatusNoContent {
		t.Fatalf("CloseOrder answered %d, want 204", res.Response.StatusCode)
	}
	wantSignedUnder(t, res, serial)
	tx, _, err = pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(other), Mchid: core.String(mchID)})
	if err != nil || *tx.TradeState != "CLOSED" {
		t.Fatalf("query after close: %v %v", tx, err)
	}

	// WeChat's refusals reach the SDK as its APIError.
	_, _, err = pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String("NOSUCHORDER"), Mchid: core.String(mchID)})
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Code != "ORDER_NOT_EXIST" {
		t.Fatalf("query of an unknown order: %v", err)
	}
}

// wantSignedUnder checks that an answer the SDK accepted was signed under
// the key the SDK asked for.
func wantSignedUnder(t *testing.T, res *core.APIResult, serial string) {
	t.Helper()
	if got := res.Response.Header.Get("Wechatpay-Serial"); got != serial {
		t.Fatalf("answer signed under %q, want %q", got, serial)
	}
	if got := res.Request.Header.Get("Wechatpay-Serial"); got != serial {
		t.Fatalf("the SDK asked for %q, want %q", got, serial)
	}
}

// TestSDKValidationIsOn shows the proof above means something: an SDK that
// trusts a different key (the merchant's own) refuses the sandbox's
// answers.
func TestSDKValidationIsOn(t *testing.T) {
	k := loadKeys(t)
	env := startSandbox(t)
	for name, opt := range map[string]core.ClientOption{
		"public key":           option.WithWechatPayPublicKeyAuthCipher(mchID, merchantSerial, k.merchant, publicKeyID, k.merchantPublic),
		"platform certificate": option.WithWechatPayAuthCipher(mchID, merchantSerial, k.merchant, []*x509.Certificate{selfSigned(t, k.merchant, k.platformCert)}),
	} {
		t.Run(name, func(t *testing.T) {
			client, err := core.NewClient(context.Background(), opt, option.WithHTTPClient(sandboxClient(env.sandbox)))
			if err != nil {
				t.Fatal(err)
			}
			pay := jsapi.JsapiApiService{Client: client}
			_, _, err = pay.Prepay(context.Background(), jsapi.PrepayRequest{
				Appid: core.String(appID), Mchid: core.String(mchID), Description: core.String("x"),
				OutTradeNo: core.String(newOrderID("BAD")), NotifyUrl: core.String("https://merchant.example/notify"),
				Amount: &jsapi.Amount{Total: core.Int64(1)}, Payer: &jsapi.Payer{Openid: core.String(openID)},
			})
			if err == nil || !strings.Contains(err.Error(), "verify") {
				t.Fatalf("an SDK trusting the wrong key accepted the answer (err %v)", err)
			}
		})
	}
}
