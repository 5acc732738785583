package integration

import (
	"cmp"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// independentWeChatV2 is a WeChat Pay v2 server written from WeChat's pages
// alone (encoding/xml, crypto/md5, crypto/hmac; none of the plugin's code):
// it checks the request's signature under the sign_type it names and
// answers by the out_trade_no or out_refund_no it is sent:
// E_<err_code>-… a signed result_code FAIL with that err_code; F<i>-… a
// return_code FAIL with the i-th return_msg; Q<trade_state>-… an orderquery
// in that state; refundquery lists four refunds of order O1 (O1-R0 … O1-R3)
// in every refund_status.
func independentWeChatV2(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := v2RequestFields(body)
		if err != nil {
			http.Error(w, "bad xml", http.StatusBadRequest)
			return
		}
		st := cmp.Or(req["sign_type"], "MD5")
		if v2DocSign(req, st) != req["sign"] {
			_, _ = w.Write([]byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>`))
			return
		}
		key := cmp.Or(req["out_trade_no"], req["out_refund_no"])
		scenario, _, _ := strings.Cut(key, "-")
		if i, ok := strings.CutPrefix(scenario, "F"); ok {
			n, _ := strconv.Atoi(i)
			fmt.Fprintf(w, `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[%s]]></return_msg></xml>`,
				strings.ReplaceAll(transformtest.WeChatV2ReturnMsgs[n], "]]>", "]]]]><![CDATA[>"))
			return
		}
		a := map[string]string{"return_code": "SUCCESS", "return_msg": "OK", "appid": req["appid"], "mch_id": req["mch_id"],
			"sub_appid": req["sub_appid"], "sub_mch_id": req["sub_mch_id"], "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "result_code": "SUCCESS"}
		switch code, isErr := strings.CutPrefix(scenario, "E_"); {
		case isErr:
			a["result_code"], a["err_code"], a["err_code_des"] = "FAIL", code, "说明 "+code+" <&> ]]>"
		case r.URL.Path == "/pay/unifiedorder":
			a["prepay_id"], a["trade_type"] = "wx201411101639507cbf6ffd8b0779950874", "JSAPI"
		case r.URL.Path == "/pay/orderquery":
			state := strings.TrimPrefix(scenario, "Q")
			a["out_trade_no"], a["trade_state"], a["trade_state_desc"], a["attach"] = key, state, "说明", "门店 <A&B> ]]>"
			if state == "SUCCESS" || state == "REFUND" {
				for k, v := range map[string]string{"openid": "o1", "is_subscribe": "N", "trade_type": "JSAPI", "bank_type": "CMC",
					"total_fee": "1001", "fee_type": "CNY", "cash_fee": "900", "coupon_fee": "101", "coupon_count": "1",
					"coupon_type_0": "CASH", "coupon_id_0": "10000", "coupon_fee_0": "101",
					"transaction_id": "1008450740201411110005820873", "time_end": "20141111170043"} {
					a[k] = v
				}
			}
		case r.URL.Path == "/secapi/pay/refund":
			for k, v := range map[string]string{"transaction_id": "1008450740201411110005820873", "out_trade_no": req["out_trade_no"],
				"out_refund_no": req["out_refund_no"], "refund_id": "2008450740201411110000174436", "refund_fee": req["refund_fee"],
				"total_fee": req["total_fee"], "cash_fee": req["total_fee"], "cash_refund_fee": req["refund_fee"]} {
				a[k] = v
			}
		case r.URL.Path == "/pay/refundquery":
			a["transaction_id"], a["out_trade_no"], a["total_fee"], a["cash_fee"], a["refund_count"] = "1008450740201411110005820873", "O1", "1001", "1001", "4"
			for n, status := range v2RefundStatuses {
				i := strconv.Itoa(n)
				for k, v := range map[string]string{"out_refund_no_": "O1-R" + i, "refund_id_": "200" + i, "refund_channel_": "ORIGINAL",
					"refund_fee_": strconv.Itoa(100 + n), "settlement_refund_fee_": strconv.Itoa(90 + n), "refund_status_": status,
					"refund_account_": "REFUND_SOURCE_RECHARGE_FUNDS", "refund_recv_accout_": "支付用户的零钱",
					"refund_success_time_": "2016-07-25 15:26:26"} {
					a[k+i] = v
				}
			}
		}
		a["sign"] = v2DocSign(a, st)
		_, _ = w.Write(v2AnswerXML(a))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// v2AnswerXML writes a's non-empty fields as WeChat's <xml> document, with
// encoding/xml's escaping.
func v2AnswerXML(a map[string]string) []byte {
	var out strings.Builder
	out.WriteString("<xml>\n")
	for k, v := range a {
		if v != "" {
			out.WriteString("<" + k + ">")
			_ = xml.EscapeText(&out, []byte(v))
			out.WriteString("</" + k + ">\n")
		}
	}
	out.WriteString("</xml>")
	return []byte(out.String())
}

// v2RefundStatuses are refundquery's documented refund_status_$n values.
var v2RefundStatuses = []string{"SUCCESS", "PROCESSING", "REFUNDCLOSE", "CHANGE"}

// v2RequestFields reads a WeChat Pay v2 request's <xml> fields with
// encoding/xml alone.
func v2RequestFields(body []byte) (map[string]string, error) {
	var doc struct {
		Fields []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, f := range doc.Fields {
		m[f.XMLName.Local] = f.Value
	}
	return m, nil
}

// v2DocSign is WeChat's v2 signature as its signature page states it,
// under the harness's apiKey.
func v2DocSign(p map[string]string, signType string) string { return v2DocSignKey(p, apiKey, signType) }

// v2DocSignKey is v2DocSign under key.
func v2DocSignKey(p map[string]string, key, signType string) string {
	var names []string
	for k, v := range p {
		if v != "" && k != "sign" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var s strings.Builder
	for _, k := range names {
		s.WriteString(k + "=" + p[k] + "&")
	}
	return v2Digest(s.String()+"key="+key, key, signType)
}

// v2Digest hashes a signed string as the signature page says: MD5, or
// HMAC-SHA256 keyed with the API key, upper-case hex.
func v2Digest(msg, key, signType string) string {
	if signType == "HMAC-SHA256" {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(msg))
		return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
	}
	sum := md5.Sum([]byte(msg))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// TestWechatV2IndependentServerAnswers: through a real Caddy, for a direct
// merchant in MD5 and HMAC-SHA256 and a service provider (sub_app_id,
// sub_mch_id) in HMAC-SHA256, an independent WeChat's answers become README
// Merchant API's JSON: every err_code WeChat documents for each operation a
// 422 provider_rejected with its code and err_code_des, every return_code
// FAIL a 502 upstream_error FAIL with its return_msg, every trade_state its
// status (amount and paid_at only for a paid order; ACCEPT, 已接收，等待扣款,
// pending; an undocumented state a 502 naming it), the refund, and refund_query picking each of four
// refunds in every refund_status.
func TestWechatV2IndependentServerAnswers(t *testing.T) {
	fake := independentWeChatV2(t)
	merchant := itoa(freePort(t))
	upstream := strings.TrimPrefix(fake.URL, "http://")
	tc := startCaddy(t, globalOptions(t.TempDir()+"/caddy.log")+`
:`+merchant+` {`+v2MerchantRoutes(upstream)+`
}
`)
	base := "http://localhost:" + merchant
	bodies := map[string]func(id string) string{
		"pay": func(id string) string {
			return `{"order_id":"` + id + `","amount":"10.01","currency":"CNY","description":"拿铁","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
		},
		"query": func(id string) string { return `{"order_id":"` + id + `"}` },
		"close": func(id string) string { return `{"order_id":"` + id + `"}` },
		"refund": func(id string) string {
			return `{"order_id":"` + id + `","refund_id":"` + id + `-R1","amount":"1.00","currency":"CNY","total_amount":"10.01"}`
		},
		"refund_query": func(id string) string { return `{"refund_id":"` + id + `"}` },
	}
	for _, mode := range []string{"/md5", "/hmac", "/sp"} {
		t.Run(mode, func(t *testing.T) {
			call := func(op, body string) response { return postJSON(t, tc, base+mode+"/"+op, body) }
			wantError := func(what string, r response, status int, code, providerCode, providerMessage string) {
				t.Helper()
				if r.status != status {
					t.Errorf("%s: %d %s, want %d", what, r.status, r.body, status)
					return
				}
				e := r.errorOf(t)
				if e["code"] != code || e["provider_code"] != providerCode || str(e["provider_message"]) != providerMessage {
					t.Errorf("%s: %s, want %s %s %q", what, r.body, code, providerCode, providerMessage)
				}
			}
			for op, codes := range transformtest.WeChatV2ErrCodes {
				for _, code := range codes {
					r := call(op, bodies[op]("E_"+code+"-1"))
					wantError(op+" "+code, r, 422, "provider_rejected", code, "说明 "+code+" <&> ]]>")
				}
				for i, msg := range transformtest.WeChatV2ReturnMsgs {
					wantError(op+" return_msg "+msg, call(op, bodies[op]("F"+strconv.Itoa(i)+"-1")), 502, "upstream_error", "FAIL", msg)
				}
			}

			exact := func(what string, r response, want string) {
				t.Helper()
				var got, w map[string]any
				if r.status != 200 || json.Unmarshal(r.body, &got) != nil || json.Unmarshal([]byte(want), &w) != nil || fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("%s: %d %s\nwant %s", what, r.status, r.body, want)
				}
			}
			paid := `"provider_order_id":"1008450740201411110005820873","amount":"10.01","currency":"CNY","paid_at":"2014-11-11T17:00:43+08:00"`
			unpaid := `"provider_order_id":"","amount":"","currency":""`
			for state, want := range map[string]string{"SUCCESS": `"succeeded",` + paid, "REFUND": `"refunded",` + paid,
				"NOTPAY": `"pending",` + unpaid, "USERPAYING": `"pending",` + unpaid, "CLOSED": `"cancelled",` + unpaid,
				"REVOKED": `"cancelled",` + unpaid, "PAYERROR": `"failed",` + unpaid, "ACCEPT": `"pending",` + unpaid} {
				id := "Q" + state + "-1"
				exact("query "+state, call("query", bodies["query"](id)),
					`{"provider":"wechat_v2","order_id":"`+id+`","status":`+want+`,"provider_status":"`+state+`"}`)
			}
			wantError("query PROCESSING", call("query", bodies["query"]("QPROCESSING-1")), 502, "upstream_error", "PROCESSING", "说明")
			exact("close", call("close", bodies["close"]("C-1")), `{"provider":"wechat_v2","order_id":"C-1","status":"cancelled"}`)
			exact("refund", call("refund", bodies["refund"]("O1")), `{"provider":"wechat_v2","order_id":"O1","refund_id":"O1-R1",`+
				`"provider_refund_id":"2008450740201411110000174436","status":"pending","amount":"1.00","currency":"CNY"}`)
			for n, status := range v2RefundStatuses {
				want := map[string]string{"SUCCESS": "succeeded", "PROCESSING": "pending", "REFUNDCLOSE": "failed", "CHANGE": "failed"}[status]
				exact("refund_query "+status, call("refund_query", fmt.Sprintf(`{"refund_id":"O1-R%d","order_id":"O1"}`, n)),
					fmt.Sprintf(`{"provider":"wechat_v2","order_id":"O1","refund_id":"O1-R%d","provider_refund_id":"200%d","status":"%s",`+
						`"amount":"1.%02d","currency":"CNY","provider_status":"%s"}`, n, n, want, n, status))
			}
			if r := call("pay", bodies["pay"]("P-1")); r.status != 200 || !strings.Contains(string(r.body), `"package":"prepay_id=wx201411101639507cbf6ffd8b0779950874"`) {
				t.Errorf("pay: %d %s", r.status, r.body)
			}
		})
	}
}

// v2MerchantRoutes is three minipay wechat_v2 routes to upstream: /md5 (a
// direct merchant, MD5), /hmac (HMAC-SHA256) and /sp (a service provider
// with sub_app_id, HMAC-SHA256).
func v2MerchantRoutes(upstream string) string {
	route := func(path, extra string) string {
		return `
	handle ` + path + `/* {
		minipay wechat_v2 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + apiKey + `
			notify_url https://merchant.example/webhooks/wechat_v2
			client_ip 127.0.0.1` + extra + `
		}
		reverse_proxy ` + upstream + `
	}`
	}
	return route("/md5", "") + route("/hmac", "\n\t\t\tsign_type HMAC-SHA256") +
		route("/sp", "\n\t\t\tsign_type HMAC-SHA256\n\t\t\tsub_app_id wxd678efh567hg6787\n\t\t\tsub_mch_id 1900000110")
}
