package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// wireRecorder keeps the last request body each path received, then hands
// the request on to the independent server behind it.
type wireRecorder struct {
	next http.Handler
	mu   sync.Mutex
	last map[string][]byte
}

func (r *wireRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.last[req.URL.Path] = body
	r.mu.Unlock()
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.next.ServeHTTP(w, req)
}

func (r *wireRecorder) take(path string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.last[path]
	delete(r.last, path)
	return b
}

// v2Fields is v2RequestFields for a request the upstream must have received.
func v2Fields(t *testing.T, body []byte) map[string]string {
	t.Helper()
	m, err := v2RequestFields(body)
	if err != nil {
		t.Fatalf("the upstream received no XML: %v (%q)", err, body)
	}
	return m
}

// TestMoneyAndTimeOnTheWire: what WeChat and CBTIS receive for the merchant's
// decimal amount and RFC 3339 expire_at, through a real Caddy, read by
// independent servers (encoding/xml, encoding/json): total_fee and
// refund_fee in the currency's minor units as an integer, fee_type and
// refund_fee_type the ISO 4217 code (exponents 0, 2 and 3), v3's
// amount.total and amount.refund as JSON integers in fen, and
// time_expire in Beijing time (UTC+8): yyyyMMddHHmmss for v2, RFC 3339
// with +08:00 for v3, whatever offset expire_at was written in (the
// wrong time zone is a pitfall docs/providers/wechat_v2.md names). The
// answers come back in the same decimal form (README Merchant API, Money).
func TestMoneyAndTimeOnTheWire(t *testing.T) {
	v2 := &wireRecorder{next: independentWeChatV2(t).Config.Handler, last: map[string][]byte{}}
	v2srv := httptest.NewServer(v2)
	defer v2srv.Close()

	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	fake := &fakeWeChatV3{t: t, merchant: &v3PrivateKey(t, "apiclient_key.pem").PublicKey}
	v3 := &wireRecorder{next: fake, last: map[string][]byte{}}
	v3srv := httptest.NewServer(v3)
	defer v3srv.Close()
	fake.script(func(r *http.Request) (int, string, http.Header) {
		out := `{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}`
		if r.URL.Path == "/v3/refund/domestic/refunds" {
			var req struct {
				OutTradeNo  string `json:"out_trade_no"`
				OutRefundNo string `json:"out_refund_no"`
				Amount      struct {
					Refund, Total json.Number
				} `json:"amount"`
			}
			v3.mu.Lock()
			_ = json.Unmarshal(v3.last[r.URL.Path], &req)
			v3.mu.Unlock()
			out = `{"refund_id":"50300908092021","out_refund_no":"` + req.OutRefundNo + `","out_trade_no":"` + req.OutTradeNo +
				`","status":"PROCESSING","amount":{"refund":` + req.Amount.Refund.String() + `,"total":` + req.Amount.Total.String() + `,"currency":"CNY"}}`
		}
		return http.StatusOK, out, wechatHeaders(t, platform, v3PublicKeyID, time.Now().Unix(), out)
	})

	cb := newFakeCBTIS(t, 3600)

	merchant := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+merchant+` {
	handle /v2/* {
		`+wechatV2Minipay+`
		reverse_proxy `+strings.TrimPrefix(v2srv.URL, "http://")+`
	}
	handle /v3/* {
		minipay wechat_v3 {
`+v3Merchant(t, v3PublicKeyMode(t))+`		notify_url https://merchant.example/webhooks/wechat_v3
		}
		reverse_proxy `+strings.TrimPrefix(v3srv.URL, "http://")+`
	}
	handle /cbtis/* {
		minipay cbtis {`+cbtisBlock(cb.srv.URL+"/mch-api/v1/auth")+`
		}
		reverse_proxy `+cb.hostPort()+`
	}
}
`)
	base := "http://localhost:" + merchant
	pay := func(id, amount, currency, expireAt string) string {
		b := `{"order_id":"` + id + `","amount":"` + amount + `","currency":"` + currency + `","description":"d","openid":"o1"`
		if expireAt != "" {
			b += `,"expire_at":"` + expireAt + `"`
		}
		return b + "}"
	}

	t.Run("wechat_v2 pay", func(t *testing.T) {
		for _, tt := range []struct {
			amount, currency, expireAt string
			totalFee, timeExpire       string
		}{
			{"12.34", "CNY", "", "1234", ""},
			{"0.01", "CNY", "", "1", ""},
			{"12.3", "CNY", "", "1230", ""},
			{"21474836.47", "CNY", "", "2147483647", ""},
			{"2147483647", "JPY", "", "2147483647", ""},
			{"100", "JPY", "", "100", ""},
			{"1.5", "KWD", "", "1500", ""},
			{"0.001", "BHD", "", "1", ""},
			{"12.30", "USD", "2099-06-30T23:59:59-05:00", "1230", "20990701125959"},
			{"1", "CNY", "2099-12-31T16:30:00Z", "100", "21000101003000"},
			{"1", "CNY", "2099-01-01T07:59:59.999+00:00", "100", "20990101155959"},
			{"1", "CNY", "2099-03-01t00:00:00+08:00", "100", "20990301000000"},
			{"1", "CNY", "2099-03-01T00:00:00+14:00", "100", "20990228180000"},
		} {
			r := postJSON(t, tc, base+"/v2/pay", pay("M2P", tt.amount, tt.currency, tt.expireAt))
			got := v2Fields(t, v2.take("/pay/unifiedorder"))
			if r.status != 200 || got["total_fee"] != tt.totalFee || got["fee_type"] != tt.currency || got["time_expire"] != tt.timeExpire {
				t.Errorf("%s %s expire_at %q: %d %s; WeChat received total_fee %q fee_type %q time_expire %q, want %s %s %q",
					tt.amount, tt.currency, tt.expireAt, r.status, r.body, got["total_fee"], got["fee_type"], got["time_expire"],
					tt.totalFee, tt.currency, tt.timeExpire)
			}
		}
	})

	t.Run("wechat_v2 refund", func(t *testing.T) {
		for _, tt := range []struct {
			amount, total, currency string
			refundFee, totalFee     string
		}{
			{"2.5", "10", "CNY", "250", "1000"},
			{"10.00", "10.00", "CNY", "1000", "1000"},
			{"40", "100", "JPY", "40", "100"},
			{"0.125", "1.5", "KWD", "125", "1500"},
		} {
			r := postJSON(t, tc, base+"/v2/refund", `{"order_id":"M2R","refund_id":"M2R-1","amount":"`+tt.amount+
				`","total_amount":"`+tt.total+`","currency":"`+tt.currency+`"}`)
			got := v2Fields(t, v2.take("/secapi/pay/refund"))
			if got["refund_fee"] != tt.refundFee || got["total_fee"] != tt.totalFee || got["refund_fee_type"] != tt.currency {
				t.Errorf("refund %s of %s %s: WeChat received refund_fee %q total_fee %q refund_fee_type %q, want %s %s %s",
					tt.amount, tt.total, tt.currency, got["refund_fee"], got["total_fee"], got["refund_fee_type"], tt.refundFee, tt.totalFee, tt.currency)
			}
			// the answer's amount has exactly the currency's decimals
			want := map[string]string{"CNY": "2.50", "JPY": "40", "KWD": "0.125"}[tt.currency]
			if tt.amount == "10.00" {
				want = "10.00"
			}
			if a := r.json(t); r.status != 200 || a["amount"] != want || a["currency"] != tt.currency {
				t.Errorf("refund %s %s: %d %s, want amount %s", tt.amount, tt.currency, r.status, r.body, want)
			}
		}
	})

	v3Body := func(t *testing.T, path string) map[string]any {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(v3.take(path)))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("the upstream received no JSON at %s: %v", path, err)
		}
		return m
	}
	member := func(m map[string]any, obj, name string) string {
		o, _ := m[obj].(map[string]any)
		switch v := o[name].(type) {
		case json.Number:
			return "number " + v.String()
		case string:
			return "string " + v
		}
		return "absent"
	}

	t.Run("wechat_v3 pay", func(t *testing.T) {
		for _, tt := range []struct {
			amount, expireAt, total, timeExpire string
		}{
			{"12.34", "", "number 1234", ""},
			{"0.01", "", "number 1", ""},
			{"21474836.47", "", "number 2147483647", ""},
			{"1", "2099-06-30T23:59:59-05:00", "number 100", "2099-07-01T12:59:59+08:00"},
			{"1", "2099-12-31T16:30:00.5Z", "number 100", "2100-01-01T00:30:00+08:00"},
			{"1", "2099-03-01T00:00:00+08:00", "number 100", "2099-03-01T00:00:00+08:00"},
		} {
			r := postJSON(t, tc, base+"/v3/pay", pay("M3P", tt.amount, "CNY", tt.expireAt))
			got := v3Body(t, "/v3/pay/transactions/jsapi")
			te, _ := got["time_expire"].(string)
			if r.status != 200 || member(got, "amount", "total") != tt.total || member(got, "amount", "currency") != "string CNY" || te != tt.timeExpire {
				t.Errorf("%s expire_at %q: %d %s; WeChat received amount.total %s, amount.currency %s, time_expire %q; want %s, string CNY, %q",
					tt.amount, tt.expireAt, r.status, r.body, member(got, "amount", "total"), member(got, "amount", "currency"), te, tt.total, tt.timeExpire)
			}
		}
	})

	t.Run("wechat_v3 refund", func(t *testing.T) {
		for _, tt := range []struct {
			amount, total, refund, totalFen, answer string
		}{
			{"2.5", "10", "number 250", "number 1000", "2.50"},
			{"0.01", "0.01", "number 1", "number 1", "0.01"},
			{"21474836.47", "21474836.47", "number 2147483647", "number 2147483647", "21474836.47"},
		} {
			r := postJSON(t, tc, base+"/v3/refund", `{"order_id":"M3R","refund_id":"M3R-1","amount":"`+tt.amount+
				`","total_amount":"`+tt.total+`","currency":"CNY"}`)
			got := v3Body(t, "/v3/refund/domestic/refunds")
			if member(got, "amount", "refund") != tt.refund || member(got, "amount", "total") != tt.totalFen || member(got, "amount", "currency") != "string CNY" {
				t.Errorf("refund %s of %s: WeChat received amount %v", tt.amount, tt.total, got["amount"])
			}
			if a := r.json(t); r.status != 200 || a["amount"] != tt.answer || a["currency"] != "CNY" {
				t.Errorf("refund %s: %d %s, want amount %s", tt.amount, r.status, r.body, tt.answer)
			}
		}
	})

	// WeChat's amount fields are Int (docs/providers/wechat_v2.md "unifiedorder
	// fields"): past 2147483647 minor units, which the merchant API's twelve
	// digits allow, the request is a 400 naming the field and WeChat
	// receives nothing.
	t.Run("wechat past Int", func(t *testing.T) {
		for _, tt := range []struct{ path, upstream, body, field string }{
			{"/v2/pay", "/pay/unifiedorder", pay("M2X", "21474836.48", "CNY", ""), "amount"},
			{"/v2/pay", "/pay/unifiedorder", pay("M2X", "2147483648", "JPY", ""), "amount"},
			{"/v2/pay", "/pay/unifiedorder", pay("M2X", "9999999999.99", "CNY", ""), "amount"},
			{"/v2/refund", "/secapi/pay/refund", `{"order_id":"M2X","refund_id":"M2X-1","amount":"2147483.648","currency":"KWD"}`, "amount"},
			{"/v2/refund", "/secapi/pay/refund", `{"order_id":"M2X","refund_id":"M2X-1","amount":"1","total_amount":"21474836.48","currency":"CNY"}`, "total_amount"},
			{"/v3/pay", "/v3/pay/transactions/jsapi", pay("M3X", "21474836.48", "CNY", ""), "amount"},
			{"/v3/refund", "/v3/refund/domestic/refunds", `{"order_id":"M3X","refund_id":"M3X-1","amount":"21474836.48","total_amount":"21474836.48","currency":"CNY"}`, "amount"},
			{"/v3/refund", "/v3/refund/domestic/refunds", `{"order_id":"M3X","refund_id":"M3X-1","amount":"1","total_amount":"9999999999.99","currency":"CNY"}`, "total_amount"},
		} {
			r := postJSON(t, tc, base+tt.path, tt.body)
			if e := r.errorOf(t); r.status != 400 || e["code"] != "invalid_request" || e["field"] != tt.field {
				t.Errorf("%s %s: %d %s, want a 400 naming %s", tt.path, tt.body, r.status, r.body, tt.field)
			}
			rec := v2
			if strings.HasPrefix(tt.path, "/v3/") {
				rec = v3
			}
			if sent := rec.take(tt.upstream); sent != nil {
				t.Errorf("%s %s: WeChat received %s", tt.path, tt.body, sent)
			}
		}
	})

	// CBTIS takes a decimal string in major units: the merchant's amount
	// with exactly the currency's decimals (docs/providers/cbtis.md).
	t.Run("cbtis pay", func(t *testing.T) {
		for _, tt := range []struct{ amount, currency, sent string }{
			{"1", "HKD", "1.00"}, {"12.3", "HKD", "12.30"}, {"100", "JPY", "100"}, {"1.5", "KWD", "1.500"},
			{"0.001", "BHD", "0.001"}, {"9999999999.99", "USD", "9999999999.99"},
		} {
			r := postJSON(t, tc, base+"/cbtis/pay", pay("M4P", tt.amount, tt.currency, ""))
			cb.mu.Lock()
			var got map[string]any
			if n := len(cb.bodies); n > 0 {
				got = cb.bodies[n-1]
			}
			cb.bodies = nil
			cb.mu.Unlock()
			if r.status != 200 || got["amount"] != tt.sent || got["currency"] != tt.currency {
				t.Errorf("%s %s: %d %s; CBTIS received amount %#v currency %#v, want %q %s",
					tt.amount, tt.currency, r.status, r.body, got["amount"], got["currency"], tt.sent, tt.currency)
			}
		}
	})
}

// TestAmountsBackInEveryExponent: an order in a currency with 0, 2 or 3
// decimals (ISO 4217: JPY, CNY, KWD, BHD) comes back from each sandbox
// flow in the same decimal form, exactly the currency's decimals: the
// webhook's event (wechat_v2's total_fee and fee_type, 2C2P's 12-digit amt
// and numeric currencyCode, CBTIS's decimal order_amount), the query's
// status object, and wechat_v2's refund and refund_query objects (README
// Merchant API, Money; Webhooks, Event).
func TestAmountsBackInEveryExponent(t *testing.T) {
	merchant := newMerchantBackend(t)
	port, sandbox := itoa(freePort(t)), itoa(freePort(t))
	backend := strings.TrimPrefix(merchant.srv.URL, "http://")
	twoc2p := `
			merchant_id ` + twoc2pMerchant + `
			secret_key ` + twoc2pKey + `
			app_id ` + appID
	cbtis := `
			uid ` + cbtisUID + `
			client_secret ` + cbtisSecret + `
			sub_app_id ` + cbtisSubAppID
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {
	handle /wechat_v2/* {
		minipay wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
			notify_url http://localhost:`+port+`/webhooks/wechat_v2
			client_ip 127.0.0.1
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
		}
		reverse_proxy `+backend+`
	}
	handle /2c2p/* {
		minipay 2c2p {`+twoc2p+`
			notify_url http://localhost:`+port+`/webhooks/2c2p
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /webhooks/2c2p {
		minipay_webhook 2c2p {
			merchant_id `+twoc2pMerchant+`
			secret_key `+twoc2pKey+`
		}
		reverse_proxy `+backend+`
	}
	handle /cbtis/* {
		minipay cbtis {`+cbtis+`
			token_url http://127.0.0.1:`+sandbox+`/mch-api/v1/auth
			notify_url http://localhost:`+port+`/webhooks/cbtis
		}
		reverse_proxy 127.0.0.1:`+sandbox+`
	}
	handle /webhooks/cbtis {
		minipay_webhook cbtis {
			api_key `+cbtisAPIKey+`
		}
		reverse_proxy `+backend+`
	}
}

:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
		}
		2c2p {`+twoc2p+`
		}
		cbtis {`+cbtis+`
			api_key `+cbtisAPIKey+`
		}
	}
}
`)
	base := "http://localhost:" + port
	for i, tt := range []struct {
		provider, currency, amount, want string
		refund, refundWant               string // wechat_v2 only
	}{
		{"wechat_v2", "CNY", "0.01", "0.01", "0.01", "0.01"},
		{"wechat_v2", "CNY", "12.3", "12.30", "2", "2.00"},
		{"wechat_v2", "JPY", "100", "100", "40", "40"},
		{"wechat_v2", "KWD", "1.5", "1.500", "0.25", "0.250"},
		{"2c2p", "SGD", "12.3", "12.30", "", ""},
		{"2c2p", "JPY", "100", "100", "", ""},
		{"2c2p", "BHD", "0.001", "0.001", "", ""},
		{"2c2p", "KWD", "999999999.999", "999999999.999", "", ""},
		{"cbtis", "HKD", "1", "1.00", "", ""},
		{"cbtis", "JPY", "105", "105", "", ""},
		{"cbtis", "KWD", "1.5", "1.500", "", ""},
	} {
		t.Run(tt.provider+"_"+tt.currency+"_"+tt.amount, func(t *testing.T) {
			order := "AMT-" + itoa(i) + "-" + tt.provider // within 2C2P's 20 characters (README "2C2P")
			route := base + "/" + tt.provider
			pay := postJSON(t, tc, route+"/pay", `{"order_id":"`+order+`","amount":"`+tt.amount+`","currency":"`+tt.currency+
				`","description":"d","openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U"}`)
			if pay.status != 200 {
				t.Fatalf("pay: %d %s", pay.status, pay.body)
			}
			c := postJSON(t, tc, "http://localhost:"+sandbox+"/sandbox/complete", `{"provider":"`+tt.provider+`","order_id":"`+order+`","result":"succeeded"}`)
			if c.json(t)["acknowledged"] != true {
				t.Fatalf("complete: %s", c.body)
			}
			got := merchant.take()
			if len(got) != 1 || got[0].event["type"] != "payment.succeeded" || got[0].event["amount"] != tt.want || got[0].event["currency"] != tt.currency {
				t.Fatalf("events %+v, want one payment.succeeded of %s %s", got, tt.want, tt.currency)
			}
			if tt.provider == "2c2p" { // no query operation
				return
			}
			if q := postJSON(t, tc, route+"/query", `{"order_id":"`+order+`"}`).json(t); q["status"] != "succeeded" || q["amount"] != tt.want || q["currency"] != tt.currency {
				t.Fatalf("query: %v, want %s %s", q, tt.want, tt.currency)
			}
			if tt.refund == "" {
				return
			}
			refund := `{"order_id":"` + order + `","refund_id":"` + order + `-R","amount":"` + tt.refund + `","total_amount":"` + tt.amount + `","currency":"` + tt.currency + `"}`
			if r := postJSON(t, tc, route+"/refund", refund).json(t); r["amount"] != tt.refundWant || r["currency"] != tt.currency {
				t.Fatalf("refund: %v, want %s %s", r, tt.refundWant, tt.currency)
			}
			if r := postJSON(t, tc, route+"/refund_query", `{"order_id":"`+order+`","refund_id":"`+order+`-R"}`).json(t); r["amount"] != tt.refundWant || r["currency"] != tt.currency {
				t.Fatalf("refund_query: %v, want %s %s", r, tt.refundWant, tt.currency)
			}
		})
	}
}
