// Package gopay holds github.com/go-pay/gopay, a widely used Go SDK, against
// caddy-minipay's wechat_v2: gopay judges every signature we produce and
// signs documents we must accept (judge_test.go), and the pay transform is
// compared with the same work done through gopay (the benchmarks below, and
// TestRoundTripRatio for the 0.15× rule of README's "Benchmark" section). It is a separate module
// so that gopay never enters the plugin's go.mod; CI runs its tests:
//
//	cd bench/gopay && go test -count=1 -v ./...
//	cd bench/gopay && go test -run '^$' -bench . -benchmem -count 5
package gopay

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"strconv"
	"testing"
	"time"

	"github.com/go-pay/gopay"
	"github.com/go-pay/gopay/wechat"
	"github.com/go-pay/util"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

const (
	appID   = "wx8888888888888888"
	mchID   = "1900000109"
	apiKey  = "8934e7d15453e97507ef794cf7b0519d"
	payJSON = `{"order_id":"O20261122001","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","client_ip":"203.0.113.7","notify_url":"https://merchant.example/webhooks/wechat_v2"}`
)

func answer(signType string) []byte {
	p := transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"},
		{Name: "appid", Value: appID}, {Name: "mch_id", Value: mchID},
		{Name: "nonce_str", Value: "IITRi8Iabbblz1Jc"}, {Name: "result_code", Value: "SUCCESS"},
		{Name: "prepay_id", Value: "wx201411101639507cbf6ffd8b0779950874"}, {Name: "trade_type", Value: "JSAPI"},
	}
	p = append(p, transform.Param{Name: "sign", Value: wxpay.Sign(p, apiKey, signType)})
	return transform.AppendFlatXML(nil, "xml", p)
}

// signTypes are wechat_v2's two sign types, both measured and judged.
var signTypes = []string{wechatv2.SignMD5, wechatv2.SignHMACSHA256}

func BenchmarkMinipay(b *testing.B) {
	for _, st := range signTypes {
		b.Run(st, minipayRoundTrip(st))
	}
}

// minipayRoundTrip is one merchant pay through caddy-minipay's transform:
// Prepare (decode the JSON, build and sign unifiedorder, XML), then Decode
// (parse and verify the answer, sign paySign, encode the JSON answer).
func minipayRoundTrip(signType string) func(*testing.B) {
	return func(b *testing.B) {
		c, err := wechatv2.NewClient(wechatv2.Config{AppID: appID, MchID: mchID, APIKey: apiKey, SignType: signType})
		if err != nil {
			b.Fatal(err)
		}
		ans := answer(signType)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			call, err := c.Prepare(context.Background(), "pay", []byte(payJSON))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := call.Decode(200, nil, ans); err != nil {
				b.Fatal(err)
			}
		}
	}
}

type payReq struct {
	OrderID     string `json:"order_id"`
	Amount      string `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description"`
	OpenID      string `json:"openid"`
	ClientIP    string `json:"client_ip"`
	NotifyURL   string `json:"notify_url"`
}

type payAnswer struct {
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
	OrderID   string `json:"order_id"`
}

func BenchmarkGopay(b *testing.B) {
	for _, st := range signTypes {
		b.Run(st, gopayRoundTrip(st))
	}
}

// gopayRoundTrip is the same work done the way a merchant does it with
// go-pay/gopay v1.5.101: decode the JSON, build + sign + XML the
// unifiedorder BodyMap, unmarshal and verify the answer, sign the mini
// program payment, encode the answer.
func gopayRoundTrip(st string) func(*testing.B) {
	return func(b *testing.B) {
		ans := answer(st)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var req payReq
			if err := json.Unmarshal([]byte(payJSON), &req); err != nil {
				b.Fatal(err)
			}
			bm := make(gopay.BodyMap)
			bm.Set("appid", appID).Set("mch_id", mchID).Set("nonce_str", util.RandomString(32)).
				Set("sign_type", st).Set("body", req.Description).Set("out_trade_no", req.OrderID).
				Set("total_fee", 1234).Set("fee_type", req.Currency).Set("spbill_create_ip", req.ClientIP).
				Set("notify_url", req.NotifyURL).Set("trade_type", "JSAPI").Set("openid", req.OpenID)
			bm.Set("sign", wechat.GetReleaseSign(apiKey, st, bm))
			if wechat.GenerateXml(bm) == "" {
				b.Fatal("no xml")
			}
			var resp wechat.UnifiedOrderResponse
			if err := xml.Unmarshal(ans, &resp); err != nil {
				b.Fatal(err)
			}
			if ok, err := wechat.VerifySign(apiKey, st, &resp); !ok || err != nil {
				b.Fatal("verify", err)
			}
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			nonce := util.RandomString(32)
			pkg := "prepay_id=" + resp.PrepayId
			out := payAnswer{ts, nonce, pkg, st, wechat.GetMiniPaySign(appID, nonce, pkg, st, ts, apiKey), req.OrderID}
			if _, err := json.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	}
}
