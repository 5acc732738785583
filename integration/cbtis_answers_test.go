package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestCBTISAnswersThroughCaddy: a real Caddy's minipay cbtis route against
// an independent CBTIS that answers what each row says, as README CBTIS
// documents them: the create body byte for byte for currencies of 0, 2 and
// 3 decimals; answers whose code is 0, "0" or 0.0 and whose fields are
// strings or numbers (timeStamp, order_id, amount), with rid; refusals with
// a code on a 200 or a 4xx (422 with provider_code and provider_message);
// a 5xx or a page (502); every documented query status, pay_time in its
// own zone, an undocumented status (502 naming it).
func TestCBTISAnswersThroughCaddy(t *testing.T) {
	var mu sync.Mutex
	var status int
	var answer, created string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mch-api/v1/auth" {
			_, _ = w.Write([]byte(`{"access_token":"tok-answers","expires_in":3600}`))
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok-answers" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		if r.URL.Path == "/mch-api/v1/pa/payment_intents/create" {
			created = string(b)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(fake.Close)
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+port+` {
	handle /cbtis/* {
		minipay cbtis {`+cbtisBlock(fake.URL+"/mch-api/v1/auth")+`
		}
		reverse_proxy `+strings.TrimPrefix(fake.URL, "http://")+`
	}
}
`)
	intent := func(id, fields string) string {
		return `{"code":0,"message":"ok","rid":"3647575c0e1049439e484a231864da2c","data":{"order_id":"C991289984923795789123","merchant_order_id":"` + id + `",` + fields + `}}`
	}
	nextAction := `"next_action":{"type":"call_sdk","data":{"appId":"` + cbtisSubAppID + `","nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","package":"prepay_id=wx201410272009395522657a690389285100","paySign":"oR9d8PuhnIc+YZ8cBHFCwfgpaK9gd7vaRvkYD7rthRAZ/X+QBhcCYL21N7cHCTUxbQ+EAt6Uy+lwSN22f5YZvI45MLko8Pfso0jm46v5hqcVwrk6uddkGuT+Cdvu4WBqDzaDjnNa5UK3GfE1Wfl2gHxIIY5lLdUgWFts17D4WuolLLkiFZV+JSHMvH7eaLdT9N5GBovBwu5yYKUR7skR8Fu+LozcSqQixnlEZUfyE55feLOQTUYzLmR9pNtPbPsu6WVhbNHMS3Ss2+AehHvz+n64GDmXxbX++IOBvm2olHu3PsOUGRwhudhVf7UcGcunXt8cqNjKNqZLhLw4jq/xDg==","signType":"RSA","timeStamp":1414561699}}`
	pmt := func(currency, amount string) string {
		return `{"amount":"` + amount + `","currency":"` + currency + `","merchant_order_id":"ANS-1","payment_method":{"type":"wechat","wechat":{"flow":"mini_program","sub_appid":"` +
			cbtisSubAppID + `","sub_openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U"}},"description":"Tea","notify_url":"https://merchant.example/webhooks/cbtis"}`
	}
	payReq := func(currency, amount string) string {
		return `{"order_id":"ANS-1","amount":"` + amount + `","currency":"` + currency + `","description":"Tea","openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U","attach":"a=1","expire_at":"2999-01-01T00:00:00+08:00"}`
	}
	wxPay := `{"timeStamp":"1414561699","nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","package":"prepay_id=wx201410272009395522657a690389285100","signType":"RSA",` +
		`"paySign":"oR9d8PuhnIc+YZ8cBHFCwfgpaK9gd7vaRvkYD7rthRAZ/X+QBhcCYL21N7cHCTUxbQ+EAt6Uy+lwSN22f5YZvI45MLko8Pfso0jm46v5hqcVwrk6uddkGuT+Cdvu4WBqDzaDjnNa5UK3GfE1Wfl2gHxIIY5lLdUgWFts17D4WuolLLkiFZV+JSHMvH7eaLdT9N5GBovBwu5yYKUR7skR8Fu+LozcSqQixnlEZUfyE55feLOQTUYzLmR9pNtPbPsu6WVhbNHMS3Ss2+AehHvz+n64GDmXxbX++IOBvm2olHu3PsOUGRwhudhVf7UcGcunXt8cqNjKNqZLhLw4jq/xDg==",` +
		`"provider":"cbtis","order_id":"ANS-1","provider_order_id":"C991289984923795789123"}`
	status0 := func(s string) string {
		return `{"provider":"cbtis","order_id":"ANS-1","provider_order_id":"C991289984923795789123",` + s + `}`
	}
	rejected := func(code, msg string) string {
		return `{"error":{"code":"provider_rejected","message":"the provider rejected the request","provider_code":"` + code + `","provider_message":"` + msg + `"}}`
	}
	tests := []struct {
		name, op, request string
		upStatus          int
		upAnswer          string
		wantCreate        string // the create body CBTIS received, byte for byte ("" for query)
		wantStatus        int
		want              string // the merchant's answer as JSON ("" checks only wantCode)
		wantCode          string
	}{
		{"HKD, 2 decimals", "pay", payReq("HKD", "1"), 200, intent("ANS-1", `"amount":"1.00","currency":"HKD","status":"PENDING",`+nextAction), pmt("HKD", "1.00"), 200, wxPay, ""},
		{"JPY, 0 decimals, code \"0\"", "pay", payReq("JPY", "100"), 200, strings.Replace(intent("ANS-1", nextAction), `"code":0`, `"code":"0"`, 1), pmt("JPY", "100"), 200, wxPay, ""},
		{"KWD, 3 decimals, code 0.0", "pay", payReq("KWD", "1.5"), 200, strings.Replace(intent("ANS-1", nextAction), `"code":0`, `"code":0.0`, 1), pmt("KWD", "1.500"), 200, wxPay, ""},
		{"refused on a 200", "pay", payReq("HKD", "1"), 200, `{"code":40002,"message":"duplicate merchant_order_id","rid":"r1"}`, pmt("HKD", "1.00"), 422, rejected("40002", "duplicate merchant_order_id"), ""},
		{"refused on a 400", "pay", payReq("HKD", "1"), 400, `{"code":40001,"message":"invalid amount","rid":"r2"}`, pmt("HKD", "1.00"), 422, rejected("40001", "invalid amount"), ""},
		{"refused on a 404, string code", "query", `{"order_id":"ANS-1"}`, 404, `{"code":"ORDER_NOT_FOUND","message":"order not found"}`, "", 422, rejected("ORDER_NOT_FOUND", "order not found"), ""},
		{"5xx with a code", "pay", payReq("HKD", "1"), 503, `{"code":50300,"message":"busy"}`, pmt("HKD", "1.00"), 502, "", "upstream_error"},
		{"4xx page", "pay", payReq("HKD", "1"), 403, `<html>forbidden</html>`, pmt("HKD", "1.00"), 502, "", "upstream_error"},
		{"next_action of another flow", "pay", payReq("HKD", "1"), 200, intent("ANS-1", `"next_action":{"type":"render_qrcode","qrcode_url":"https://a.payment.link/code"}`), pmt("HKD", "1.00"), 502, "", "upstream_error"},
		{"PENDING, pay_time null", "query", `{"order_id":"ANS-1"}`, 200, intent("ANS-1", `"amount":"50","currency":"HKD","status":"PENDING","pay_time":null`), "", 200,
			status0(`"status":"pending","amount":"50.00","currency":"HKD","provider_status":"PENDING"`), ""},
		{"SUCCEEDED, pay_time +08:00, amount a number", "query", `{"order_id":"ANS-1"}`, 200, intent("ANS-1", `"amount":105,"currency":"HKD","status":"SUCCEEDED","pay_time":"2023-08-31T04:44:05.928696203+08:00"`), "", 200,
			status0(`"status":"succeeded","amount":"105.00","currency":"HKD","paid_at":"2023-08-31T04:44:05.928696203+08:00","provider_status":"SUCCEEDED"`), ""},
		{"SUCCEEDED, pay_time UTC, 3 decimals", "query", `{"order_id":"ANS-1"}`, 200, intent("ANS-1", `"amount":"1.5","currency":"KWD","status":"SUCCEEDED","pay_time":"2023-08-23T18:28:16.511Z"`), "", 200,
			status0(`"status":"succeeded","amount":"1.500","currency":"KWD","paid_at":"2023-08-23T18:28:16.511Z","provider_status":"SUCCEEDED"`), ""},
		{"CANCELLED", "query", `{"order_id":"ANS-1"}`, 200, intent("ANS-1", `"amount":"100","currency":"JPY","status":"CANCELLED"`), "", 200,
			status0(`"status":"cancelled","amount":"100","currency":"JPY","provider_status":"CANCELLED"`), ""},
		{"SUCCEEDED, an amount without its currency", "query", `{"order_id":"ANS-1"}`, 200, intent("ANS-1", `"amount":"105.00","status":"SUCCEEDED","pay_time":"2023-08-23T18:28:16.511Z"`), "", 200,
			status0(`"status":"succeeded","amount":"","currency":"","paid_at":"2023-08-23T18:28:16.511Z","provider_status":"SUCCEEDED"`), ""},
		{"an amount in a currency that does not read", "query", `{"order_id":"ANS-1"}`, 200, intent("ANS-1", `"amount":"105.00","currency":"hkd","status":"SUCCEEDED"`), "", 502, "", "upstream_error"},
		{"undocumented status", "query", `{"order_id":"ANS-1"}`, 200, intent("ANS-1", `"status":"PROCESSING"`), "", 502, "", "upstream_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			status, answer, created = tt.upStatus, tt.upAnswer, ""
			mu.Unlock()
			r := postJSON(t, tc, "http://127.0.0.1:"+port+"/cbtis/"+tt.op, tt.request)
			mu.Lock()
			got := created
			mu.Unlock()
			if got != tt.wantCreate {
				t.Fatalf("create body\n got %s\nwant %s", got, tt.wantCreate)
			}
			if r.status != tt.wantStatus {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.wantStatus)
			}
			if tt.want == "" {
				if r.errorOf(t)["code"] != tt.wantCode {
					t.Fatalf("%s, want code %s", r.body, tt.wantCode)
				}
				return
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if g := r.json(t); !reflect.DeepEqual(g, want) {
				t.Fatalf("answer\n got %s\nwant %s", r.body, tt.want)
			}
		})
	}
}
