package wechatpay

import (
	"context"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
)

// TestSDKRefundByTransactionID has the SDK, its validation on, use the
// members of the refund call a merchant may add beside the ones the plugin
// sends (退款申请): a refund named by WeChat's transaction_id alone, with
// funds_account, amount.from, goods_detail and a reason in Chinese with
// characters JSON escapes; the order is queried by transaction_id and by
// out_trade_no (查询订单), which must agree; the refund's answer, its query
// and its REFUND.SUCCESS notification name the merchant's out_trade_no.
func TestSDKRefundByTransactionID(t *testing.T) {
	k := loadKeys(t)
	env := startSandbox(t)
	ctx := context.Background()
	client, notifier := publicKeyClient(t, k, env)
	pay := jsapi.JsapiApiService{Client: client}
	refunds := refunddomestic.RefundsApiService{Client: client}

	orderID := newOrderID("TXR")
	if _, _, err := pay.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
		Appid: core.String(appID), Mchid: core.String(mchID), Description: core.String(`公仔 "限量" <款> & 礼盒\/`),
		OutTradeNo: core.String(orderID), NotifyUrl: core.String(notifier.srv.URL + "/pay"),
		Amount: &jsapi.Amount{Total: core.Int64(300), Currency: core.String("CNY")}, Payer: &jsapi.Payer{Openid: core.String(openID)},
	}); err != nil {
		t.Fatalf("PrepayWithRequestPayment: %v", err)
	}
	env.complete(t, orderID, "succeeded")
	if n := notifier.next(t); n.err != nil {
		t.Fatalf("payment notification: %v", n.err)
	}

	byNo, _, err := pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(orderID), Mchid: core.String(mchID)})
	if err != nil {
		t.Fatalf("QueryOrderByOutTradeNo: %v", err)
	}
	byID, _, err := pay.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: byNo.TransactionId, Mchid: core.String(mchID)})
	if err != nil {
		t.Fatalf("QueryOrderById: %v", err)
	}
	if byID.String() != byNo.String() || *byID.TradeState != "SUCCESS" || *byID.Amount.Total != 300 {
		t.Fatalf("the two queries disagree:\nby id %s\nby no %s", byID, byNo)
	}

	refundID := newOrderID("TXR") + "@r|1"
	reason := `商品已售完 "缺货" <退> & \ 退款`
	refund, _, err := refunds.Create(ctx, refunddomestic.CreateRequest{
		TransactionId: byNo.TransactionId, OutRefundNo: core.String(refundID), Reason: core.String(reason),
		NotifyUrl:    core.String(notifier.srv.URL + "/refund"),
		FundsAccount: refunddomestic.REQFUNDSACCOUNT_AVAILABLE.Ptr(),
		Amount: &refunddomestic.AmountReq{Refund: core.Int64(120), Total: core.Int64(300), Currency: core.String("CNY"),
			From: []refunddomestic.FundsFromItem{{Account: refunddomestic.ACCOUNT_AVAILABLE.Ptr(), Amount: core.Int64(120)}}},
		GoodsDetail: []refunddomestic.GoodsDetail{{MerchantGoodsId: core.String("SKU-1"), GoodsName: core.String("公仔"),
			UnitPrice: core.Int64(150), RefundAmount: core.Int64(120), RefundQuantity: core.Int64(1)}},
	})
	if err != nil {
		t.Fatalf("refunddomestic Create by transaction_id: %v", err)
	}
	if *refund.OutTradeNo != orderID || *refund.TransactionId != *byNo.TransactionId || *refund.OutRefundNo != refundID ||
		*refund.Amount.Refund != 120 || *refund.Amount.Total != 300 || refund.FundsAccount == nil || *refund.FundsAccount != refunddomestic.FUNDSACCOUNT_AVAILABLE {
		t.Fatalf("refund answer %s", refund)
	}
	n := notifier.next(t)
	if n.err != nil || n.request.EventType != "REFUND.SUCCESS" || n.refund.OutTradeNo != orderID || n.refund.OutRefundNo != refundID ||
		n.refund.TransactionID != *byNo.TransactionId || n.refund.Amount.Refund != 120 || n.refund.Amount.Total != 300 {
		t.Fatalf("refund notification %+v %+v: %v", n.request, n.refund, n.err)
	}
	queried, _, err := refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(refundID)})
	if err != nil {
		t.Fatalf("QueryByOutRefundNo: %v", err)
	}
	if *queried.RefundId != *refund.RefundId || *queried.OutTradeNo != orderID || *queried.Status != refunddomestic.STATUS_SUCCESS {
		t.Fatalf("refund query %s", queried)
	}
	tx, _, err := pay.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: byNo.TransactionId, Mchid: core.String(mchID)})
	if err != nil || *tx.TradeState != "REFUND" {
		t.Fatalf("query by transaction_id after the refund: %v %v", tx, err)
	}
}
