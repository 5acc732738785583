package wechatpay

import (
	"context"
	"net/http"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/partnerpayments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
)

// The sub-merchant of service-provider mode (test values); the service
// provider is appID / mchID.
const (
	subMchID   = "1900000109"
	subAppID   = "wx8888888888888888"
	subOpenID  = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o_sub"
	partnerFee = 250
)

// publicKeyClient is the SDK in public-key mode, its validation on, talking
// to env's sandbox, and a notify URL its notify.Handler serves.
func publicKeyClient(t *testing.T, k keys, env sandboxEnv) (*core.Client, *notifyServer) {
	client, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(mchID, merchantSerial, k.merchant, publicKeyID, k.platformPublic),
		option.WithHTTPClient(sandboxClient(env.sandbox)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := notify.NewRSANotifyHandler(apiV3Key, verifiers.NewSHA256WithRSAPubkeyVerifier(publicKeyID, *k.platformPublic))
	if err != nil {
		t.Fatal(err)
	}
	return client, newNotifyServer(t, h)
}

// TestSDKPartnerAgainstSandbox is the order life of TestSDKAgainstSandbox in
// service-provider mode (public-key mode), with the SDK's partnerpayments
// service: partner paths, sp_/sub_ identities, a sub_openid payer, and a
// paySign over sub_appid.
func TestSDKPartnerAgainstSandbox(t *testing.T) {
	k := loadKeys(t)
	env := startSandbox(t, `
			sub_mch_id `+subMchID+`
			sub_app_id `+subAppID)
	ctx := context.Background()
	client, notifier := publicKeyClient(t, k, env)
	pay := jsapi.JsapiApiService{Client: client}
	refunds := refunddomestic.RefundsApiService{Client: client}

	orderID := newOrderID("SP")
	prepay, res, err := pay.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
		SpAppid: core.String(appID), SpMchid: core.String(mchID),
		SubAppid: core.String(subAppID), SubMchid: core.String(subMchID),
		Description: core.String("Latte"), OutTradeNo: core.String(orderID),
		NotifyUrl: core.String(notifier.srv.URL + "/pay"),
		Amount:    &jsapi.Amount{Total: core.Int64(partnerFee), Currency: core.String("CNY")},
		Payer:     &jsapi.Payer{SubOpenid: core.String(subOpenID)},
	}, subAppID)
	if err != nil {
		t.Fatalf("partner PrepayWithRequestPayment: %v", err)
	}
	wantSignedUnder(t, res, publicKeyID)
	if *prepay.Package != "prepay_id="+*prepay.PrepayId || *prepay.Appid != subAppID {
		t.Fatalf("partner prepay answer %s", prepay)
	}

	query := jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(orderID), SpMchid: core.String(mchID), SubMchid: core.String(subMchID)}
	tx, res, err := pay.QueryOrderByOutTradeNo(ctx, query)
	if err != nil {
		t.Fatalf("partner QueryOrderByOutTradeNo: %v", err)
	}
	wantSignedUnder(t, res, publicKeyID)
	if *tx.OutTradeNo != orderID || *tx.SpMchid != mchID || *tx.SubMchid != subMchID || *tx.TradeState != "NOTPAY" || *tx.Amount.Total != partnerFee {
		t.Fatalf("partner query before payment: %s", tx)
	}

	complete := env.complete(t, orderID, "succeeded")
	n := notifier.next(t)
	if n.err != nil {
		t.Fatalf("notify.Handler refused the sandbox's partner payment notification: %v", n.err)
	}
	if complete["acknowledged"] != true {
		t.Fatalf("the sandbox did not see the ACK: %v", complete)
	}
	got := n.partner
	if n.request.EventType != "TRANSACTION.SUCCESS" || *got.OutTradeNo != orderID || *got.SpMchid != mchID || *got.SubMchid != subMchID ||
		*got.SpAppid != appID || *got.SubAppid != subAppID || *got.Payer.SubOpenid != subOpenID || *got.TradeState != "SUCCESS" || *got.Amount.Total != partnerFee {
		t.Fatalf("partner payment notification: %s", got)
	}
	byID, res, err := pay.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: got.TransactionId, SpMchid: core.String(mchID), SubMchid: core.String(subMchID)})
	if err != nil {
		t.Fatalf("partner QueryOrderById: %v", err)
	}
	wantSignedUnder(t, res, publicKeyID)
	if *byID.OutTradeNo != orderID || *byID.SubMchid != subMchID || *byID.TradeState != "SUCCESS" || *byID.TransactionId != *got.TransactionId {
		t.Fatalf("partner query by transaction_id: %s", byID)
	}

	refundID := newOrderID("SR")
	refund, res, err := refunds.Create(ctx, refunddomestic.CreateRequest{
		SubMchid: core.String(subMchID), OutTradeNo: core.String(orderID), OutRefundNo: core.String(refundID),
		NotifyUrl: core.String(notifier.srv.URL + "/refund"),
		Amount:    &refunddomestic.AmountReq{Refund: core.Int64(partnerFee), Total: core.Int64(partnerFee), Currency: core.String("CNY")},
	})
	if err != nil {
		t.Fatalf("partner refunddomestic Create: %v", err)
	}
	wantSignedUnder(t, res, publicKeyID)
	queried, res, err := refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(refundID), SubMchid: core.String(subMchID)})
	if err != nil {
		t.Fatalf("partner refunddomestic QueryByOutRefundNo: %v", err)
	}
	wantSignedUnder(t, res, publicKeyID)
	if *queried.RefundId != *refund.RefundId || *queried.Amount.Refund != partnerFee {
		t.Fatalf("partner refund query %s", queried)
	}
	n = notifier.next(t)
	if n.err != nil {
		t.Fatalf("notify.Handler refused the sandbox's partner refund notification: %v", n.err)
	}
	if r := n.refund; n.request.EventType != "REFUND.SUCCESS" || r.OutRefundNo != refundID || r.SpMchID != mchID || r.SubMchID != subMchID ||
		r.RefundStatus != refunddomestic.STATUS_SUCCESS || r.Amount.Refund != partnerFee {
		t.Fatalf("partner refund notification %+v: %+v", n.request, r)
	}

	other := newOrderID("SPC")
	if _, _, err := pay.Prepay(ctx, jsapi.PrepayRequest{
		SpAppid: core.String(appID), SpMchid: core.String(mchID), SubMchid: core.String(subMchID),
		Description: core.String("to be closed"), OutTradeNo: core.String(other), NotifyUrl: core.String(notifier.srv.URL + "/pay"),
		Amount: &jsapi.Amount{Total: core.Int64(1)}, Payer: &jsapi.Payer{SpOpenid: core.String(openID)},
	}); err != nil {
		t.Fatalf("partner Prepay (sp_openid): %v", err)
	}
	res, err = pay.CloseOrder(ctx, jsapi.CloseOrderRequest{OutTradeNo: core.String(other), SpMchid: core.String(mchID), SubMchid: core.String(subMchID)})
	if err != nil {
		t.Fatalf("partner CloseOrder: %v", err)
	}
	if res.Response.StatusCode != http.StatusNoContent {
		t.Fatalf("partner CloseOrder answered %d, want 204", res.Response.StatusCode)
	}
	wantSignedUnder(t, res, publicKeyID)
}
