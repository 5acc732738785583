package wechatpay

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/services/partnerpayments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
)

// notification is one notification as the SDK's notify.Handler parsed it.
type notification struct {
	request     *notify.Request
	transaction payments.Transaction        // for TRANSACTION.*
	partner     partnerpayments.Transaction // for TRANSACTION.* in service-provider mode
	refund      refundNotification          // for REFUND.*
	serial      string                      // the Wechatpay-Serial it was signed under
	err         error                       // ParseNotifyRequest's error, if it refused
}

// refundNotification is the decrypted resource of a REFUND.* notification
// (the SDK has no model of its own for it; field names as WeChat documents
// them, 退款结果通知).
type refundNotification struct {
	MchID               string                `json:"mchid"`
	SpMchID             string                `json:"sp_mchid"`
	SubMchID            string                `json:"sub_mchid"`
	OutTradeNo          string                `json:"out_trade_no"`
	TransactionID       string                `json:"transaction_id"`
	OutRefundNo         string                `json:"out_refund_no"`
	RefundID            string                `json:"refund_id"`
	RefundStatus        refunddomestic.Status `json:"refund_status"`
	SuccessTime         *time.Time            `json:"success_time"`
	UserReceivedAccount string                `json:"user_received_account"`
	Amount              struct {
		Total       int64 `json:"total"`
		Refund      int64 `json:"refund"`
		PayerTotal  int64 `json:"payer_total"`
		PayerRefund int64 `json:"payer_refund"`
	} `json:"amount"`
}

// notifyServer is a merchant's notify URL served by the SDK's notify.Handler:
// it answers 200 with an empty body to a notification the handler accepts
// and 500 {"code":"FAIL",…} otherwise, as WeChat expects, and hands every
// parsed notification to the test.
type notifyServer struct {
	srv *httptest.Server
	got chan notification
}

func newNotifyServer(t *testing.T, h *notify.Handler) *notifyServer {
	n := &notifyServer{got: make(chan notification, 16)}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var raw map[string]any
		got := notification{serial: r.Header.Get("Wechatpay-Serial")}
		got.request, got.err = h.ParseNotifyRequest(r.Context(), r, &raw)
		if got.err == nil {
			// Decode the plaintext again into the typed model of its kind.
			switch got.request.Resource.OriginalType {
			case "refund":
				got.err = decode(got.request.Resource.Plaintext, &got.refund)
			default:
				if got.err = decode(got.request.Resource.Plaintext, &got.transaction); got.err == nil {
					got.err = decode(got.request.Resource.Plaintext, &got.partner)
				}
			}
		}
		n.got <- got
		if got.err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"code":"FAIL","message":"refused"}`))
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(n.srv.Close)
	return n
}

// next waits for the next notification.
func (n *notifyServer) next(t *testing.T) notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case got := <-n.got:
		return got
	case <-ctx.Done():
		t.Fatal("no notification arrived within 15 s")
		return notification{}
	}
}

// decode reads a decrypted resource into the SDK's typed model, as a
// merchant using the SDK would.
func decode(plaintext string, v any) error { return json.Unmarshal([]byte(plaintext), v) }
