package gopay

// go-pay/gopay's own WeChat Pay v2 client (wechat.Client, IsProd with its
// BaseURL on the sandbox) is the merchant here, against minipay_sandbox in
// a real Caddy: every answer it gets is verified with gopay's VerifySign,
// both as the BodyMap of the answer and as the typed response a gopay user
// holds, and the sandbox's notifications are read by gopay's
// ParseNotifyToBodyMap / ParseRefundNotify at the order's notify URL.

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/wechat"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/minipay/caddy-minipay"
	"github.com/minipay/caddy-minipay/internal/testport"
)

// sandboxAdmin is this test process's Caddy admin endpoint, so that
// concurrent test processes each drive their own Caddy.
var sandboxAdmin = func() int {
	port, err := testport.Pick()
	if err != nil {
		panic(err)
	}
	return port
}()

// startSandboxes runs one minipay_sandbox site per merchant of merchants()
// in an in-process Caddy and returns their base URLs, by merchant name.
func startSandboxes(t *testing.T) map[string]string {
	t.Helper()
	bases := map[string]string{}
	var sites strings.Builder
	for _, m := range merchants() {
		port := testportFree(t)
		bases[m.name] = "http://localhost:" + strconv.Itoa(port)
		sites.WriteString(":" + strconv.Itoa(port) + " {\n\tminipay_sandbox {\n\t\twechat_v2 {\n" +
			"\t\t\tapp_id " + m.cfg.AppID + "\n\t\t\tmch_id " + m.cfg.MchID + "\n\t\t\tapi_key " + m.cfg.APIKey +
			"\n\t\t\tsign_type " + m.cfg.SignType + "\n")
		if m.cfg.SubMchID != "" {
			sites.WriteString("\t\t\tsub_mch_id " + m.cfg.SubMchID + "\n")
		}
		if m.cfg.SubAppID != "" {
			sites.WriteString("\t\t\tsub_app_id " + m.cfg.SubAppID + "\n")
		}
		sites.WriteString("\t\t}\n\t}\n}\n")
	}
	startCaddy(t, sites.String())
	return bases
}

// testportFree is a loopback port no other server of this process was given.
func testportFree(t *testing.T) int { return testport.Free(t) }

// TestMain removes the configurations' storage once Caddy has stopped
// (testport.StorageDir says why it is not under t.TempDir).
func TestMain(m *testing.M) {
	code := m.Run()
	testport.RemoveStorage()
	os.Exit(code)
}

// startCaddy loads the Caddyfile sites into the in-process Caddy.
func startCaddy(t *testing.T, sites string) {
	t.Helper()
	// A load may take longer than caddytest's own 5 s under -race on a loaded
	// machine (integration's TestStartCaddyWaitsForASlowLoad).
	testport.NeverSkipped(t) // caddytest skips when it cannot start Caddy
	tc := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: sandboxAdmin, TestRequestTimeout: 20 * time.Second, LoadRequestTimeout: time.Minute})
	tc.InitServer(`{
	skip_install_trust
	admin localhost:`+strconv.Itoa(sandboxAdmin)+`
	grace_period 1ns
	storage file_system `+testport.StorageDir()+`
	log {
		output file `+filepath.Join(t.TempDir(), "caddy.log")+`
	}
}
`+sites, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	// the servers of the configuration replaced must be gone before the
	// test's requests (and the next load) reach them (testport.Settled)
	if err := testport.Settled("localhost:" + strconv.Itoa(sandboxAdmin)); err != nil {
		t.Fatal(err)
	}
}

// notifyURL is a merchant's notify URL served with gopay's parsers: it
// answers gopay's ACK and hands every notification, as gopay read it, to
// the test.
type notifyURL struct {
	srv *httptest.Server
	got chan gopay.BodyMap
}

func newNotifyURL(t *testing.T) *notifyURL {
	n := &notifyURL{got: make(chan gopay.BodyMap, 8)}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bm, err := wechat.ParseNotifyToBodyMap(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n.got <- bm
		_, _ = io.WriteString(w, (&wechat.NotifyResponse{ReturnCode: gopay.SUCCESS, ReturnMsg: gopay.OK}).ToXmlString())
	}))
	t.Cleanup(n.srv.Close)
	return n
}

func (n *notifyURL) next(t *testing.T) gopay.BodyMap {
	t.Helper()
	select {
	case bm := <-n.got:
		return bm
	case <-time.After(15 * time.Second):
		t.Fatal("no notification arrived within 15 s")
		return nil
	}
}

// complete asks the sandbox to settle (or refund) an order of provider
// and returns its report.
func complete(t *testing.T, base, orderID, result, provider string) map[string]any {
	t.Helper()
	res, err := http.Post(base+"/sandbox/complete", "application/json",
		strings.NewReader(`{"provider":"`+provider+`","order_id":"`+orderID+`","result":"`+result+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var report map[string]any
	if err := json.NewDecoder(res.Body).Decode(&report); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/sandbox/complete %s: %d %v %v", result, res.StatusCode, report, err)
	}
	return report
}

// gopayClient is m as a gopay user configures it, pointed at base.
func (m merchant) gopayClient(base, key string) *wechat.Client {
	c := wechat.NewClient(m.cfg.AppID, m.cfg.MchID, key, true)
	c.BaseURL = base
	return c
}

// request is a gopay BodyMap carrying m's sign type and sub-merchant, and
// kv (name, value pairs).
func (m merchant) request(kv ...any) gopay.BodyMap {
	bm := make(gopay.BodyMap).Set("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS").Set("sign_type", m.cfg.SignType)
	if m.cfg.SubMchID != "" {
		bm.Set("sub_mch_id", m.cfg.SubMchID)
	}
	if m.cfg.SubAppID != "" {
		bm.Set("sub_appid", m.cfg.SubAppID)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		bm.Set(kv[i].(string), kv[i+1])
	}
	return bm
}

// unifiedOrder is an unifiedorder as gopay's examples write it: no
// fee_type (WeChat's default is CNY).
func (m merchant) unifiedOrder(orderID string, fee int, notify string) gopay.BodyMap {
	bm := m.request("body", "拿铁 & <cake>", "out_trade_no", orderID, "total_fee", fee, "spbill_create_ip", "203.0.113.7",
		"notify_url", notify, "trade_type", "JSAPI", "attach", "a=1&b=<2>")
	if m.cfg.SubAppID != "" {
		return bm.Set("sub_openid", openID)
	}
	return bm.Set("openid", openID)
}

// signed checks, with gopay's VerifySign, an answer both as the typed
// response a gopay user verifies and, when given, as its full BodyMap.
func (m merchant) signed(t *testing.T, what string, typed any, bm gopay.BodyMap) {
	t.Helper()
	if ok, err := wechat.VerifySign(apiKey, m.cfg.SignType, typed); !ok || err != nil {
		t.Errorf("%s: gopay VerifySign refuses the typed answer %+v (%v)", what, typed, err)
	}
	if bm != nil && !gopayVerifies(t, m.cfg.SignType, bm) {
		t.Errorf("%s: gopay VerifySign refuses the answer %v", what, bm)
	}
}

var gopayOrderSeq atomic.Int64

func gopayOrderID(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano()%1e12, 10) + strconv.FormatInt(gopayOrderSeq.Add(1), 10)
}

// TestGopayClientAgainstSandbox runs gopay's WeChat Pay v2 client through a
// merchant's whole order life against minipay_sandbox, in both sign types,
// direct and service-provider mode: pay, query (by out_trade_no, then by
// transaction_id), the payment notification, refunds (by out_trade_no and
// by transaction_id), refund queries by each of WeChat's four ids, the
// refund notification (to the refund's notify_url), close, and WeChat's
// refusals, every answer verified by gopay.
func TestGopayClientAgainstSandbox(t *testing.T) {
	bases := startSandboxes(t)
	for _, m := range merchants() {
		t.Run(m.name, func(t *testing.T) {
			ctx := context.Background()
			base := bases[m.name]
			c := m.gopayClient(base, apiKey)
			payNotify, refundNotify := newNotifyURL(t), newNotifyURL(t)
			orderID := gopayOrderID("GP")

			uo, err := c.UnifiedOrder(ctx, m.unifiedOrder(orderID, 1234, payNotify.srv.URL))
			if err != nil || uo.ReturnCode != "SUCCESS" || uo.ResultCode != "SUCCESS" || !strings.HasPrefix(uo.PrepayId, "wx") || uo.TradeType != "JSAPI" {
				t.Fatalf("UnifiedOrder: %+v %v", uo, err)
			}
			m.signed(t, "unifiedorder", uo, nil)
			if uo.SubMchId != m.cfg.SubMchID {
				t.Errorf("unifiedorder sub_mch_id %q, want %q", uo.SubMchId, m.cfg.SubMchID)
			}

			q, qbm, err := c.QueryOrder(ctx, m.request("out_trade_no", orderID))
			// unpaid: only out_trade_no (and attach) beside trade_state, as WeChat's orderquery page says
			if err != nil || q.ResultCode != "SUCCESS" || q.TradeState != "NOTPAY" || q.OutTradeNo != orderID || q.TotalFee != "" || q.FeeType != "" {
				t.Fatalf("QueryOrder before payment: %+v %v", q, err)
			}
			m.signed(t, "orderquery", q, qbm)

			// The payer pays: gopay reads and verifies the notification, and
			// the sandbox sees gopay's ACK as WeChat's.
			report := complete(t, base, orderID, "succeeded", "wechat_v2")
			n := payNotify.next(t)
			if !gopayVerifies(t, m.cfg.SignType, n) {
				t.Errorf("gopay VerifySign refuses the payment notification %v", n)
			}
			for k, v := range map[string]string{"return_code": "SUCCESS", "result_code": "SUCCESS", "out_trade_no": orderID,
				"total_fee": "1234", "cash_fee": "1234", "fee_type": "CNY", "attach": "a=1&b=<2>", "appid": m.cfg.AppID,
				"mch_id": m.cfg.MchID, "sub_mch_id": m.cfg.SubMchID, "trade_type": "JSAPI"} {
				if g := n.GetString(k); g != v {
					t.Errorf("payment notification %s = %q, want %q", k, g, v)
				}
			}
			if report["delivered"] != true || report["acknowledged"] != true {
				t.Errorf("/sandbox/complete report %v: gopay's ACK not seen", report)
			}
			txID := n.GetString("transaction_id")

			q, qbm, err = c.QueryOrder(ctx, m.request("transaction_id", txID))
			if err != nil || q.ResultCode != "SUCCESS" || q.TradeState != "SUCCESS" || q.OutTradeNo != orderID ||
				q.TransactionId != txID || q.TimeEnd == "" || q.FeeType != "CNY" {
				t.Fatalf("QueryOrder by transaction_id after payment: %+v %v", q, err)
			}
			m.signed(t, "orderquery by transaction_id", q, qbm)

			// Two partial refunds, one per way of naming the order; the first
			// asks for its notification at a notify_url of its own.
			r1, r2 := orderID+"R1", orderID+"R2"
			rf, rbm, err := c.Refund(ctx, m.request("out_trade_no", orderID, "out_refund_no", r1, "total_fee", 1234,
				"refund_fee", 100, "notify_url", refundNotify.srv.URL))
			if err != nil || rf.ResultCode != "SUCCESS" || rf.OutRefundNo != r1 || rf.RefundFee != "100" || rf.TransactionId != txID || rf.RefundId == "" {
				t.Fatalf("Refund: %+v %v", rf, err)
			}
			m.signed(t, "refund", rf, rbm)
			rf2, rbm, err := c.Refund(ctx, m.request("transaction_id", txID, "out_refund_no", r2, "total_fee", 1234, "refund_fee", 200))
			if err != nil || rf2.ResultCode != "SUCCESS" || rf2.OutTradeNo != orderID || rf2.RefundFee != "200" {
				t.Fatalf("Refund by transaction_id: %+v %v", rf2, err)
			}
			m.signed(t, "refund by transaction_id", rf2, rbm)

			for _, by := range []struct {
				field, value string
				count        string
			}{{"out_refund_no", r1, "1"}, {"refund_id", rf.RefundId, "1"}, {"out_trade_no", orderID, "2"}, {"transaction_id", txID, "2"}} {
				rq, rqbm, err := c.QueryRefund(ctx, m.request(by.field, by.value))
				if err != nil || rq.ResultCode != "SUCCESS" || rq.RefundCount != by.count || rq.OutTradeNo != orderID ||
					rq.OutRefundNo0 != r1 || rq.RefundFee0 != "100" || rq.RefundStatus0 != "PROCESSING" || rq.RefundId0 != rf.RefundId {
					t.Fatalf("QueryRefund by %s: %+v %v", by.field, rq, err)
				}
				if by.count == "2" && (rq.OutRefundNo1 != r2 || rq.RefundFee1 != "200" || rq.RefundFee != "300") {
					t.Errorf("QueryRefund by %s: second refund %+v", by.field, rq)
				}
				m.signed(t, "refundquery by "+by.field, rq, rqbm)
			}

			// The refund notification: gopay decrypts req_info with the API key.
			report = complete(t, base, orderID, "refunded", "wechat_v2")
			rn := refundNotify.next(t)
			info, err := wechat.DecryptRefundNotifyReqInfo(rn.GetString("req_info"), apiKey)
			if err != nil || info.OutRefundNo != r1 || info.OutTradeNo != orderID || info.RefundFee != "100" || info.RefundStatus != "SUCCESS" ||
				rn.GetString("appid") != m.cfg.AppID || rn.GetString("mch_id") != m.cfg.MchID || rn.GetString("sub_mch_id") != m.cfg.SubMchID {
				t.Fatalf("refund notification %v: %+v %v", rn, info, err)
			}
			if report["acknowledged"] != true {
				t.Errorf("/sandbox/complete refunded report %v", report)
			}
			// Every field of WeChat's documented plaintext, as gopay's typed
			// RefundNotify reads it.
			if _, err := time.ParseInLocation("2006-01-02 15:04:05", info.SuccessTime, time.FixedZone("CST", 8*3600)); err != nil ||
				info.TransactionId != txID || info.RefundId != rf.RefundId || info.TotalFee != "1234" || info.SettlementRefundFee != "100" ||
				info.RefundRecvAccout == "" || info.RefundAccount == "" || info.RefundRequestSource == "" {
				t.Errorf("refund notification plaintext %+v", info)
			}
			// The refunded order: trade_state REFUND (转入退款), paid fields kept.
			if q, qbm, err := c.QueryOrder(ctx, m.request("out_trade_no", orderID)); err != nil || q.TradeState != "REFUND" ||
				q.TransactionId != txID || q.TotalFee != "1234" || q.TimeEnd == "" {
				t.Errorf("QueryOrder after refunds: %+v %v", q, err)
			} else {
				m.signed(t, "orderquery of a refunded order", q, qbm)
			}

			// WeChat's refusals, signed like its other answers.
			refusals := []struct {
				name, code string
				call       func() (any, gopay.BodyMap, error)
			}{
				{"close of a paid order", "ORDERPAID", func() (any, gopay.BodyMap, error) {
					r, err := c.CloseOrder(ctx, m.request("out_trade_no", orderID))
					return r, nil, err
				}},
				{"unifiedorder of a paid order", "ORDERPAID", func() (any, gopay.BodyMap, error) {
					r, err := c.UnifiedOrder(ctx, m.unifiedOrder(orderID, 1234, payNotify.srv.URL))
					return r, nil, err
				}},
				{"refund above what remains", "INVALID_REQUEST", func() (any, gopay.BodyMap, error) {
					return c.Refund(ctx, m.request("out_trade_no", orderID, "out_refund_no", orderID+"R3", "total_fee", 1234, "refund_fee", 935))
				}},
				{"refund id again with another amount", "REFUND_FEE_MISMATCH", func() (any, gopay.BodyMap, error) {
					return c.Refund(ctx, m.request("out_trade_no", orderID, "out_refund_no", r1, "total_fee", 1234, "refund_fee", 101))
				}},
				{"refund with another total", "REFUND_FEE_MISMATCH", func() (any, gopay.BodyMap, error) {
					return c.Refund(ctx, m.request("out_trade_no", orderID, "out_refund_no", orderID+"R4", "total_fee", 1235, "refund_fee", 1))
				}},
				{"query of an unknown order", "ORDERNOTEXIST", func() (any, gopay.BodyMap, error) {
					return c.QueryOrder(ctx, m.request("out_trade_no", orderID+"X"))
				}},
				{"refund query of an unknown refund", "REFUNDNOTEXIST", func() (any, gopay.BodyMap, error) {
					return c.QueryRefund(ctx, m.request("out_refund_no", orderID+"RX"))
				}},
				{"another merchant's appid", "APPID_MCHID_NOT_MATCH", func() (any, gopay.BodyMap, error) {
					return c.QueryOrder(ctx, m.request("appid", "wx0000000000000000", "out_trade_no", orderID))
				}},
			}
			for _, r := range refusals {
				typed, bm, err := r.call()
				if err != nil {
					t.Errorf("%s: %v", r.name, err)
					continue
				}
				var got struct {
					ReturnCode string `json:"return_code"`
					ResultCode string `json:"result_code"`
					ErrCode    string `json:"err_code"`
				}
				raw, _ := json.Marshal(typed)
				_ = json.Unmarshal(raw, &got)
				if got.ReturnCode != "SUCCESS" || got.ResultCode != "FAIL" || got.ErrCode != r.code {
					t.Errorf("%s: %+v, want result_code FAIL, err_code %s", r.name, typed, r.code)
				}
				m.signed(t, r.name, typed, bm)
			}

			// Another order: its id again with another amount, a refund before
			// payment, close, close again.
			other := gopayOrderID("GPC")
			if uo, err := c.UnifiedOrder(ctx, m.unifiedOrder(other, 1, payNotify.srv.URL)); err != nil || uo.ResultCode != "SUCCESS" {
				t.Fatalf("UnifiedOrder: %+v %v", uo, err)
			}
			if uo, err := c.UnifiedOrder(ctx, m.unifiedOrder(other, 2, payNotify.srv.URL)); err != nil || uo.ErrCode != "INVALID_REQUEST" {
				t.Errorf("UnifiedOrder of a used out_trade_no with another total_fee: %+v %v", uo, err)
			} else {
				m.signed(t, "used out_trade_no", uo, nil)
			}
			if rf, _, err := c.Refund(ctx, m.request("out_trade_no", other, "out_refund_no", other+"R", "total_fee", 1, "refund_fee", 1)); err != nil || rf.ResultCode != "FAIL" {
				t.Errorf("Refund of an unpaid order: %+v %v", rf, err)
			}
			// A payment that failed: the notification says FAIL, orderquery PAYERROR.
			failed := gopayOrderID("GPF")
			if uo, err := c.UnifiedOrder(ctx, m.unifiedOrder(failed, 5, payNotify.srv.URL)); err != nil || uo.ResultCode != "SUCCESS" {
				t.Fatalf("UnifiedOrder: %+v %v", uo, err)
			}
			complete(t, base, failed, "failed", "wechat_v2")
			if fn := payNotify.next(t); fn.GetString("result_code") != "FAIL" || fn.GetString("out_trade_no") != failed || !gopayVerifies(t, m.cfg.SignType, fn) {
				t.Errorf("failed payment's notification %v", fn)
			}
			if q, qbm, err := c.QueryOrder(ctx, m.request("out_trade_no", failed)); err != nil || q.TradeState != "PAYERROR" {
				t.Errorf("QueryOrder of a failed payment: %+v %v", q, err)
			} else {
				m.signed(t, "orderquery PAYERROR", q, qbm)
			}
			// closeorder's answer carries result_msg, which WeChat's closeorder
			// page lists (业务结果描述, required; WxJava's WxPayOrderCloseResult
			// reads it) and gopay's CloseOrderResponse has no field for: its
			// typed answer drops a signed field and cannot verify (the
			// facts' pitfall, a typed struct that drops fields), so the answer
			// is taken raw through gopay and verified as its BodyMap.
			raw, err := c.PostWeChatAPISelf(ctx, m.request("out_trade_no", other), "/pay/closeorder", nil)
			cl := make(gopay.BodyMap)
			if err == nil {
				err = xml.Unmarshal(raw, &cl)
			}
			if err != nil || cl.GetString("result_code") != "SUCCESS" || cl.GetString("result_msg") != "OK" {
				t.Fatalf("closeorder: %s %v", raw, err)
			}
			if !gopayVerifies(t, m.cfg.SignType, cl) {
				t.Errorf("closeorder: gopay VerifySign refuses the answer %v", cl)
			}
			if q, _, err := c.QueryOrder(ctx, m.request("out_trade_no", other)); err != nil || q.TradeState != "CLOSED" {
				t.Errorf("QueryOrder after close: %+v %v", q, err)
			}
			if cl, err := c.CloseOrder(ctx, m.request("out_trade_no", other)); err != nil || cl.ErrCode != "ORDERCLOSED" {
				t.Errorf("CloseOrder again: %+v %v", cl, err)
			}

			// A client with another key: WeChat's unsigned communication failure.
			wrong := m.gopayClient(base, strings.Repeat("0", 32))
			if q, _, err := wrong.QueryOrder(ctx, m.request("out_trade_no", orderID)); err != nil || q.ReturnCode != "FAIL" || q.ReturnMsg != "签名错误" || q.Sign != "" {
				t.Errorf("QueryOrder signed with another key: %+v %v", q, err)
			}
		})
	}
}
