package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestWechatV2SignedDocumentsOfAnotherKind: WeChat Pay v2 signs minipay's
// requests, WeChat's answers and its notifications with the one API key,
// in one sorted k=v form where a value may hold '&'. Through a real Caddy
// and a WeChat written here: a pay whose attach (the merchant's text, often
// its customer's) holds "&out_trade_no=VICTIM&…&trade_state=SUCCESS&zz=1"
// signs a request that whoever sees it can answer minipay's query for
// VICTIM with, cut at its '&' (the request's own fields after attach run
// on into zz): on the old code the merchant was told VICTIM was paid
// 1000.00 CNY, now it gets 502 upstream_signature_invalid. A captured paid
// notification answered to a close, whose genuine answer names no order,
// read as cancelled; now it is 502 upstream_error.
func TestWechatV2SignedDocumentsOfAnotherKind(t *testing.T) {
	const attach = "x&out_trade_no=VICTIM&result_code=SUCCESS&return_code=SUCCESS&total_fee=100000&trade_state=SUCCESS&zz=1"
	var mu sync.Mutex
	var pay map[string]string // the last unifiedorder request
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := v2RequestFields(body)
		if err != nil {
			http.Error(w, "bad xml", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/pay/unifiedorder":
			pay = req
			a := map[string]string{"return_code": "SUCCESS", "return_msg": "OK", "appid": appID, "mch_id": mchID,
				"nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "result_code": "SUCCESS",
				"prepay_id": "wx201411101639507cbf6ffd8b0779950874", "trade_type": "JSAPI"}
			a["sign"] = v2DocSign(a, "MD5")
			_, _ = w.Write(v2AnswerXML(a))
		case "/pay/orderquery": // the pay request, read up to zz, signed as it was
			var names []string
			for k, v := range pay {
				if v != "" && k != "sign" {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			var pairs []string
			for _, k := range names {
				pairs = append(pairs, k+"="+pay[k])
			}
			head, zz, _ := strings.Cut(strings.Join(pairs, "&"), "&zz=")
			forged := map[string]string{"zz": zz, "sign": pay["sign"]}
			for _, kv := range strings.Split(head, "&") {
				k, v, _ := strings.Cut(kv, "=")
				forged[k] = v
			}
			_, _ = w.Write(v2AnswerXML(forged))
		case "/pay/closeorder": // a paid notification of the order, WeChat's own
			n := map[string]string{"return_code": "SUCCESS", "appid": appID, "mch_id": mchID, "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c",
				"result_code": "SUCCESS", "openid": "oUpF8uMEb4qRXf22hE3X68TekukE", "trade_type": "JSAPI", "bank_type": "CMC",
				"total_fee": "1", "cash_fee": "1", "transaction_id": "1004400740201409030005092168", "out_trade_no": req["out_trade_no"],
				"time_end": "20140903131540"}
			n["sign"] = v2DocSign(n, "MD5")
			_, _ = w.Write(v2AnswerXML(n))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(fake.Close)
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(t.TempDir()+"/caddy.log")+`
:`+port+` {`+v2MerchantRoutes(strings.TrimPrefix(fake.URL, "http://"))+`
}
`)
	base := "http://localhost:" + port + "/md5/"

	if r := postJSON(t, tc, base+"pay", `{"order_id":"O-1","amount":"1.00","currency":"CNY","description":"Goods",`+
		`"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","attach":"`+attach+`"}`); r.status != 200 {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	for _, tt := range []struct{ op, order, code string }{
		{"query", "VICTIM", "upstream_signature_invalid"},
		{"close", "O-1", "upstream_error"},
	} {
		r := postJSON(t, tc, base+tt.op, `{"order_id":"`+tt.order+`"}`)
		if r.status != 502 || r.errorOf(t)["code"] != tt.code {
			t.Errorf("%s %s: %d %s, want 502 %s", tt.op, tt.order, r.status, r.body, tt.code)
		}
	}
}
