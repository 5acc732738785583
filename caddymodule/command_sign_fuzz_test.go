package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/latipay"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// FuzzSignCommandAgreesWithRequests: `caddy minipay sign` (README caddy
// minipay verify, sign) given a request minipay itself sent, for any pay or
// refund the fuzzer writes (wechat_v2 with MD5 or HMAC-SHA256, latipay),
// with only the key set, prints the very signature the request carries: the
// command explains the merchant's calls by the rule they are signed with.
func FuzzSignCommandAgreesWithRequests(f *testing.F) {
	f.Add(uint8(0), false, "DEMO-1001", "12.34", "Latte", "x&attach=1", "")
	f.Add(uint8(1), false, "DEMO-1001", "0.01", "拿铁 <b>", "a]]>b", "")
	f.Add(uint8(1), true, "DEMO-1001", "2.00", "", "", "R1")
	f.Add(uint8(2), false, "LATI-1001", "12.30", "Flat white", "", "")
	f.Add(uint8(2), true, "LATI-1001", "1.5", "", "", "2017232323345678")
	const v2Key, latipayKey = "8934e7d15453e97507ef794cf7b0519d", "111222333"
	v2 := map[bool]transform.Client{}
	for hmac, signType := range map[bool]string{false: wechatv2.SignMD5, true: wechatv2.SignHMACSHA256} {
		c, err := wechatv2.NewClient(wechatv2.Config{AppID: "wx8888888888888888", MchID: "1900000109", APIKey: v2Key, SignType: signType,
			NotifyURL: "https://m.example/n", ClientIP: "203.0.113.7"})
		if err != nil {
			f.Fatal(err)
		}
		v2[hmac] = c
	}
	lp, err := latipay.NewClient(latipay.Config{UserID: "U000334333", WalletID: "W00000001", APIKey: latipayKey, AppID: "wx721398712681232",
		Currency: "NZD", NotifyURL: "https://m.example/n"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, refund bool, orderID, amount, description, attach, refundID string) {
		provider, key, client := "wechat_v2", v2Key, v2[which%3 == 1]
		currency := "CNY"
		if which%3 == 2 {
			provider, key, client, currency = "latipay", latipayKey, transform.Client(lp), "NZD"
		}
		req := map[string]string{"order_id": orderID, "amount": amount, "currency": currency}
		op := transform.OpPay
		if refund {
			op = transform.OpRefund
			req["refund_id"], req["reason"] = refundID, description
			if provider == "latipay" {
				req["provider_order_id"] = refundID
			}
		} else {
			req["description"], req["attach"], req["openid"] = description, attach, "os7xVv419cwT89c3EhFacTtXD_84"
		}
		for k, v := range req {
			if v == "" {
				delete(req, k)
			}
		}
		body, _ := json.Marshal(req)
		call, err := client.Prepare(context.Background(), op, body)
		if err != nil {
			return
		}
		var sent string
		if provider == "wechat_v2" {
			_, p, err := transform.ParseFlatXML(call.Body)
			if err != nil {
				t.Fatalf("minipay sent %q: %v", call.Body, err)
			}
			sent = p.Get("sign")
		} else {
			var m map[string]any
			if json.Unmarshal(call.Body, &m) != nil {
				t.Fatalf("minipay sent %q", call.Body)
			}
			sent, _ = m["signature"].(string)
		}
		var out, errOut bytes.Buffer
		code := runMinipay([]string{"sign", "--provider", provider, "--set", "api_key=" + key, "--file", "-"}, bytes.NewReader(call.Body), &out, &errOut)
		if code != exitValid || !strings.Contains(out.String(), "\nsignature: ") {
			t.Fatalf("sign on minipay's %s request %q: exit %d %q %q", provider, call.Body, code, out.String(), errOut.String())
		}
		printed := strings.TrimSuffix(out.String()[strings.Index(out.String(), "\nsignature: ")+len("\nsignature: "):], "\n")
		if !strings.EqualFold(printed, sent) || sent == "" {
			t.Fatalf("sign prints %s, minipay's %s request %q carries %q:\n%s", printed, provider, call.Body, sent, out.String())
		}
	})
}
