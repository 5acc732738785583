package wechatv3

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// notified records what the sandbox sent through Notify.
type notified struct {
	mu     sync.Mutex
	orders []string // the order each notification is about
	out    []*transform.Outbound
}

// take returns the one notification sent since the last take, failing the
// test unless it names orderID.
func (n *notified) take(t *testing.T, orderID string) *transform.Outbound {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.out) != 1 {
		t.Fatalf("%d notifications, want 1", len(n.out))
	}
	if n.orders[0] != orderID {
		t.Fatalf("the notification names order %q, want %q", n.orders[0], orderID)
	}
	o := n.out[0]
	n.orders, n.out = nil, nil
	return o
}

func newSandbox(t *testing.T, edit func(*Config)) (*Sandbox, *notified) {
	cfg := sandboxConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	sb := must(NewSandbox(cfg))
	n := new(notified)
	sb.SetNotify(func(orderID string, out *transform.Outbound, ack func(int, []byte) bool) {
		if !ack(http.StatusOK, nil) || !ack(http.StatusNoContent, nil) || ack(http.StatusInternalServerError, nil) {
			t.Error("the ACK rule is not WeChat's (200 or 204)")
		}
		n.mu.Lock()
		n.orders = append(n.orders, orderID)
		n.out = append(n.out, out)
		n.mu.Unlock()
	})
	return sb, n
}

func decodeMap(t *testing.T, b []byte) map[string]string {
	t.Helper()
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// The whole life of an order through the sandbox, in each key mode and in
// service-provider mode: pay, paySign, query, notification, refund with its
// notification, refund query, close.
func TestSandboxRoundTrip(t *testing.T) {
	modes := []struct {
		name    string
		client  func(*Config, string)
		sandbox func(*Config)
		serial  string // what the sandbox announces
	}{
		{"public key", func(*Config, string) {}, nil, examplePublicKeyID},
		{"static certificate", func(c *Config, _ string) {
			c.PublicKey, c.PublicKeyID, c.PlatformCertificate = "", "", exampleKey(t, "wechatpay_platform_cert.pem")
		}, nil, examplePlatformSN},
		{"downloaded certificates", func(c *Config, url string) {
			c.PublicKey, c.PublicKeyID, c.CertificatesURL = "", "", url+PathCertificates
		}, nil, examplePlatformSN},
		{"mixed", func(c *Config, url string) { c.CertificatesURL = url + PathCertificates }, nil, examplePublicKeyID},
		{"partner, sub_openid", func(c *Config, _ string) { c.SubMchID, c.SubAppID = "1900000110", "wx9999999999999999" },
			func(c *Config) { c.SubMchID, c.SubAppID = "1900000110", "wx9999999999999999" }, examplePublicKeyID},
		{"partner, sp_openid", func(c *Config, _ string) { c.SubMchID = "1900000110" },
			func(c *Config) { c.SubMchID = "1900000110" }, examplePublicKeyID},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			sb, notes := newSandbox(t, m.sandbox)
			srv := sandboxServer(t, sb)
			cfg := merchantConfig(t)
			m.client(&cfg, srv.URL)
			c := must(NewClient(cfg))
			wcfg := cfg
			wh := must(NewWebhook(wcfg))

			pay := must(exchange(t, c, srv, "pay", `{"order_id":"V3-0001","amount":"12.34","currency":"CNY","description":"一杯咖啡","openid":"o-payer","client_ip":"10.1.2.3","expire_at":"2099-01-02T03:04:05Z","attach":"a&b"}`))
			pp := decodeMap(t, pay)
			if pp["signType"] != "RSA" || !strings.HasPrefix(pp["package"], "prepay_id=wx") || pp["provider"] != Name || pp["order_id"] != "V3-0001" {
				t.Fatalf("pay answer %s", pay)
			}
			msg := wxpay.AppendPayMessageRSA(nil, cfg.payAppID(), pp["timeStamp"], pp["nonceStr"], pp["package"])
			if !VerifyMessage(&c.keys.signer.Key.PublicKey, msg, pp["paySign"]) {
				t.Fatal("paySign does not verify with the merchant's key over appId (sub_app_id in partner mode)")
			}

			st := decodeMap(t, must(exchange(t, c, srv, "query", `{"order_id":"V3-0001"}`)))
			if st["status"] != "pending" || st["provider_status"] != "NOTPAY" || st["amount"] != "12.34" || st["currency"] != "CNY" {
				t.Fatalf("query %v", st)
			}

			out, ack, err := sb.Complete("V3-0001", true, time.Now())
			if err != nil || out.Header.Get(HeaderSerial) != m.serial || !ack(http.StatusOK, nil) {
				t.Fatalf("Complete: %v %v", out, err)
			}
			ev := must(wh.Verify(transform.Notification{Header: out.Header, Body: out.Body}))
			if ev.Type != transform.EventPaymentSucceeded || ev.OrderID != "V3-0001" || ev.Amount != "12.34" || ev.Data["attach"] != "a&b" ||
				ev.ID != "wechat_v3:"+ev.ProviderOrderID+":payment.succeeded" || ev.OccurredAt == "" {
				t.Fatalf("event %+v", ev)
			}
			// A partner transaction names the payer under the service
			// provider's appid always (payer.sp_openid, required) and under
			// sub_appid when the order has one, whichever the pay named.
			if cfg.SubMchID != "" {
				sp, sub := ev.Data["payer.sp_openid"], ev.Data["payer.sub_openid"]
				switch {
				case cfg.SubAppID != "" && (sub != "o-payer" || len(sp) != 28 || sp == sub),
					cfg.SubAppID == "" && (sp != "o-payer" || sub != ""):
					t.Fatalf("payer sp_openid %q, sub_openid %q", sp, sub)
				}
			}

			st = decodeMap(t, must(exchange(t, c, srv, "query", `{"order_id":"V3-0001"}`)))
			if st["status"] != "succeeded" || st["paid_at"] == "" || st["provider_order_id"] != ev.ProviderOrderID {
				t.Fatalf("query %v", st)
			}

			_, err = exchange(t, c, srv, "refund", `{"order_id":"V3-0001","refund_id":"V3-0001-R1","amount":"2.34","currency":"CNY"}`)
			if e := transformtest.WantError(t, err, 400, "invalid_request"); e.Field != "total_amount" {
				t.Fatalf("refund without total_amount: %+v", e)
			}
			rf := decodeMap(t, must(exchange(t, c, srv, "refund", `{"order_id":"V3-0001","refund_id":"V3-0001-R1","amount":"2.34","currency":"CNY","total_amount":"12.34","reason":"太烫"}`)))
			if rf["status"] != "pending" || rf["provider_status"] != "PROCESSING" || rf["amount"] != "2.34" || rf["refund_id"] != "V3-0001-R1" || rf["provider_refund_id"] == "" {
				t.Fatalf("refund %v", rf)
			}
			rn := notes.take(t, "V3-0001")
			rev := must(wh.Verify(transform.Notification{Header: rn.Header, Body: rn.Body}))
			if rev.Type != transform.EventRefundSucceeded || rev.RefundID != "V3-0001-R1" || rev.OrderID != "V3-0001" || rev.Amount != "2.34" {
				t.Fatalf("refund event %+v", rev)
			}
			rq := decodeMap(t, must(exchange(t, c, srv, "refund_query", `{"refund_id":"V3-0001-R1","order_id":"V3-0001"}`)))
			if rq["status"] != "succeeded" || rq["provider_status"] != "SUCCESS" || rq["order_id"] != "V3-0001" {
				t.Fatalf("refund_query %v", rq)
			}
			_, err = exchange(t, c, srv, "refund_query", `{"refund_id":"V3-0001-R9"}`)
			if e := transformtest.WantError(t, err, 422, "provider_rejected"); e.ProviderCode != "RESOURCE_NOT_EXISTS" {
				t.Fatalf("unknown refund: %+v", e)
			}

			_, err = exchange(t, c, srv, "close", `{"order_id":"V3-0001"}`)
			if e := transformtest.WantError(t, err, 422, "provider_rejected"); e.ProviderCode != "ORDERPAID" {
				t.Fatalf("close of a paid order: %+v", e)
			}
			must(exchange(t, c, srv, "pay", `{"order_id":"V3-0002","amount":"1","currency":"CNY","description":"d","openid":"o"}`))
			cl := decodeMap(t, must(exchange(t, c, srv, "close", `{"order_id":"V3-0002"}`)))
			if cl["status"] != "cancelled" {
				t.Fatalf("close %v", cl)
			}
			_, err = exchange(t, c, srv, "pay", `{"order_id":"V3-0002","amount":"1","currency":"CNY","description":"d","openid":"o"}`)
			if e := transformtest.WantError(t, err, 422, "provider_rejected"); e.ProviderCode != "ORDER_CLOSED" {
				t.Fatalf("pay of a closed order: %+v", e)
			}
		})
	}
}

// A refund made through the API is notified by the sandbox itself; the
// notification must name the refunded order's out_trade_no, also when the
// refund named the order by its transaction_id alone (the console lists it
// under that order).
func TestSandboxRefundNotificationNamesOrder(t *testing.T) {
	partner := func(c *Config) { c.SubMchID, c.SubAppID = "1900000110", "wx9999999999999999" }
	tests := []struct {
		name  string
		edit  func(*Config) // both sides
		order string
		refer func(transactionID string) string // how the refund names the order
	}{
		{"out_trade_no", nil, "RN-0001", func(string) string { return `"out_trade_no":"RN-0001"` }},
		{"transaction_id", nil, "RN-0002", func(tx string) string { return `"transaction_id":"` + tx + `"` }},
		{"partner, transaction_id", partner, "RN-0003", func(tx string) string { return `"sub_mchid":"1900000110","transaction_id":"` + tx + `"` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, notes := newSandbox(t, tt.edit)
			srv := sandboxServer(t, sb)
			cfg := merchantConfig(t)
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			c := must(NewClient(cfg))
			must(exchange(t, c, srv, "pay", `{"order_id":"`+tt.order+`","amount":"5.00","currency":"CNY","description":"d","openid":"o"}`))
			if _, _, err := sb.Complete(tt.order, true, time.Now()); err != nil {
				t.Fatal(err)
			}
			tx := decodeMap(t, must(exchange(t, c, srv, "query", `{"order_id":"`+tt.order+`"}`)))["provider_order_id"]
			if tx == "" {
				t.Fatal("the paid order has no transaction_id")
			}
			body := `{` + tt.refer(tx) + `,"out_refund_no":"` + tt.order + `-R1","amount":{"refund":100,"total":500,"currency":"CNY"}}`
			call := must(c.call(http.MethodPost, PathRefunds, "", []byte(body), "", func(_ int, answer []byte) ([]byte, error) { return answer, nil }))
			var answer struct {
				OutTradeNo string `json:"out_trade_no"`
				Status     string `json:"status"`
			}
			if raw := must(send(t, srv, call)); json.Unmarshal(raw, &answer) != nil || answer.OutTradeNo != tt.order || answer.Status != "PROCESSING" {
				t.Fatalf("refund answer %s", raw)
			}
			notes.take(t, tt.order)
		})
	}
}

// A refund WeChat refuses, refused with its status and code (退款申请,
// docs/providers/wechat_v3.md "Errors"): the order named by neither
// transaction_id nor out_trade_no is a missing parameter (400 PARAM_ERROR),
// not an unknown order; an order or transaction no one paid is 404
// RESOURCE_NOT_EXISTS.
func TestSandboxRefundRefusals(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	must(exchange(t, c, srv, "pay", `{"order_id":"RF-0001","amount":"5.00","currency":"CNY","description":"d","openid":"o"}`))
	if _, _, err := sb.Complete("RF-0001", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	const amount = `"amount":{"refund":100,"total":500,"currency":"CNY"}`
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"neither order id", `{"out_refund_no":"RF-0001-R1",` + amount + `}`, 400, "PARAM_ERROR"},
		{"empty order ids", `{"transaction_id":"","out_trade_no":"","out_refund_no":"RF-0001-R1",` + amount + `}`, 400, "PARAM_ERROR"},
		{"unknown out_trade_no", `{"out_trade_no":"RF-0009","out_refund_no":"RF-0009-R1",` + amount + `}`, 404, "RESOURCE_NOT_EXISTS"},
		{"unknown transaction_id", `{"transaction_id":"4200000000202612070000000000","out_refund_no":"RF-0009-R2",` + amount + `}`, 404, "RESOURCE_NOT_EXISTS"},
		{"over the total", `{"out_trade_no":"RF-0001","out_refund_no":"RF-0001-R2","amount":{"refund":501,"total":500,"currency":"CNY"}}`, 400, "INVALID_REQUEST"},
		// reason is at most 80 characters (README Merchant API): 81 letters are refused, as WeChat does
		{"reason of 81 characters", `{"out_trade_no":"RF-0001","out_refund_no":"RF-0001-R3","reason":"` + strings.Repeat("r", 81) + `",` + amount + `}`, 400, "PARAM_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := signedAnswer(t, c, srv, http.MethodPost, PathRefunds, "", tt.body)
			var answer struct{ Code, Message string }
			if json.Unmarshal(raw, &answer) != nil || status != tt.wantStatus || answer.Code != tt.wantCode || answer.Message == "" {
				t.Fatalf("%d %s, want %d %s", status, raw, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

// TestSandboxParallelPays: 100 pays at once, direct and as a partner, each
// settled as soon as it is made while the console lists the orders (go
// test -race finds order state touched outside the lock).
func TestSandboxParallelPays(t *testing.T) {
	partner := func(c *Config) { c.SubMchID, c.SubAppID = "1900000110", "wx9999999999999999" }
	for _, tt := range []struct {
		name string
		edit func(*Config)
	}{{"direct", nil}, {"partner", partner}} {
		t.Run(tt.name, func(t *testing.T) {
			sb, _ := newSandbox(t, tt.edit)
			cfg := merchantConfig(t)
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			transformtest.ParallelPays(t, sb, must(NewClient(cfg)), 100, func(i int) (string, []byte) {
				id := "PARTNER-" + strconv.Itoa(i)
				return id, []byte(`{"order_id":"` + id + `","amount":"1.00","currency":"CNY","description":"d","openid":"o"}`)
			})
		})
	}
}

// TestSandboxBoundsTheBody: the sandbox reads at most 64 KiB of a request,
// as every other sandbox does, also when it is used without Caddy (whose
// adapter bounds the body too): a longer one is a 413 PARAM_ERROR before
// any other check.
func TestSandboxBoundsTheBody(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	for _, size := range []int{64<<10 + 1, 1 << 20} {
		r := httptest.NewRequest(http.MethodPost, PathJSAPI, strings.NewReader(strings.Repeat("x", size)))
		w := httptest.NewRecorder()
		sb.ServeHTTP(w, r)
		if m := decodeMap(t, w.Body.Bytes()); w.Code != http.StatusRequestEntityTooLarge || m["code"] != "PARAM_ERROR" {
			t.Fatalf("%d bytes: %d %s", size, w.Code, w.Body)
		}
	}
}

// TestSandboxPayAgain: an out_trade_no paid for again with the same
// request gets the same prepay_id (WeChat's idempotent retry); with another
// amount, description or payer it is OUT_TRADE_NO_USED, as a prepay is
// bound to its payer.
func TestSandboxPayAgain(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	const first = `{"order_id":"PA-0001","amount":"5.00","currency":"CNY","description":"d","openid":"o1"}`
	prepay := decodeMap(t, must(exchange(t, c, srv, "pay", first)))["package"]
	tests := []struct {
		name, body, wantCode string
	}{
		{"the same request", first, ""},
		{"another amount", strings.Replace(first, "5.00", "5.01", 1), "OUT_TRADE_NO_USED"},
		{"another description", strings.Replace(first, `"d"`, `"e"`, 1), "OUT_TRADE_NO_USED"},
		{"another payer", strings.Replace(first, `"o1"`, `"o2"`, 1), "OUT_TRADE_NO_USED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := exchange(t, c, srv, "pay", tt.body)
			if tt.wantCode == "" {
				if err != nil || decodeMap(t, b)["package"] != prepay {
					t.Fatalf("%s %v, want package %s", b, err, prepay)
				}
				return
			}
			if e := transformtest.WantError(t, err, 422, "provider_rejected"); e.ProviderCode != tt.wantCode {
				t.Fatalf("provider_code %q, want %s", e.ProviderCode, tt.wantCode)
			}
		})
	}
	// A failed payment is paid again under a new out_trade_no (WeChat's
	// 关闭订单 page: 商户订单支付失败需要生成新单号重新发起支付): the same request
	// for a PAYERROR order is OUT_TRADE_NO_USED, never its prepay again.
	if _, _, err := sb.Complete("PA-0001", false, transformtest.Pinned); !errors.Is(err, transform.ErrNotNotified) {
		t.Fatalf("Complete failed: %v", err)
	}
	_, err := exchange(t, c, srv, "pay", first)
	if e := transformtest.WantError(t, err, 422, "provider_rejected"); e.ProviderCode != "OUT_TRADE_NO_USED" {
		t.Fatalf("pay again of the failed order: provider_code %q, want OUT_TRADE_NO_USED", e.ProviderCode)
	}
}

// TestSandboxPayAmountRange: amount.total is WeChat's int
// (docs/providers/wechat_v3.md "Operations"): 2147483647 fen is taken, one
// more is WeChat's 400 PARAM_ERROR, as is zero.
func TestSandboxPayAmountRange(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	for i, tt := range []struct {
		total, wantCode string
		wantStatus      int
	}{
		{"2147483647", "", 200},
		{"2147483648", "PARAM_ERROR", 400},
		{"999999999999", "PARAM_ERROR", 400},
		{"0", "PARAM_ERROR", 400},
	} {
		status, raw, ok := sandboxPay(t, c, srv, "AMT-000"+strconv.Itoa(i), `"amount":{"total":`+tt.total+`,"currency":"CNY"}`, tt.wantStatus, tt.wantCode)
		if !ok {
			t.Errorf("amount.total %s: %d %s, want %d %s", tt.total, status, raw, tt.wantStatus, tt.wantCode)
		}
	}
}

// TestSandboxPayTimeExpire: time_expire is RFC 3339 (docs/providers/wechat_v3.md
// "Operations"), read as RFC 3339 allows it, not as Go's time.Parse also
// reads it (a comma before the fraction, a one-digit hour, an offset of
// +24:00): those are WeChat's 400 PARAM_ERROR, as is a time too soon.
func TestSandboxPayTimeExpire(t *testing.T) {
	sb, _ := newSandbox(t, nil)
	srv := sandboxServer(t, sb)
	c := must(NewClient(merchantConfig(t)))
	for i, tt := range []struct {
		timeExpire, wantCode string
		wantStatus           int
	}{
		{"2099-12-31T23:59:59+08:00", "", 200},
		{"2099-12-31T23:59:59.5Z", "", 200},
		{"2099-12-31T23:59:59,5+08:00", "PARAM_ERROR", 400},
		{"2099-12-31T3:59:59+08:00", "PARAM_ERROR", 400},
		{"2099-12-31T23:59:59+24:00", "PARAM_ERROR", 400},
		{"2020-01-01T00:00:00+08:00", "PARAM_ERROR", 400},
	} {
		status, raw, ok := sandboxPay(t, c, srv, "EXP-000"+strconv.Itoa(i),
			`"amount":{"total":100,"currency":"CNY"},"time_expire":"`+tt.timeExpire+`"`, tt.wantStatus, tt.wantCode)
		if !ok {
			t.Errorf("time_expire %s: %d %s, want %d %s", tt.timeExpire, status, raw, tt.wantStatus, tt.wantCode)
		}
	}
}

// sandboxPay sends the sandbox a signed JSAPI pay of order id with members
// added, and tells whether it answered wantStatus with WeChat's wantCode
// (and a prepay_id exactly when wantCode is "").
func sandboxPay(t *testing.T, c *Client, srv *httptest.Server, id, members string, wantStatus int, wantCode string) (int, []byte, bool) {
	body := `{"appid":"wx8888888888888888","mchid":"1900000109","description":"d","out_trade_no":"` + id +
		`","notify_url":"https://merchant.example/n",` + members + `,"payer":{"openid":"o"}}`
	status, raw := signedAnswer(t, c, srv, http.MethodPost, PathJSAPI, "", body)
	var answer struct {
		Code     string `json:"code"`
		PrepayID string `json:"prepay_id"`
	}
	ok := json.Unmarshal(raw, &answer) == nil && status == wantStatus && answer.Code == wantCode && (wantCode == "") == (answer.PrepayID != "")
	return status, raw, ok
}
