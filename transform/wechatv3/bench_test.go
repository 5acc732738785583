package wechatv3

import (
	"testing"
	"time"

	"github.com/tidwall/sjson"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

const benchPayJSON = `{"order_id":"ORDER-20261129-0001","amount":"12.34","currency":"CNY","description":"Latte 大杯","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","client_ip":"203.0.113.7"}`

// BenchmarkPayRoundTrip is the transform work of one merchant pay call:
// Prepare (decode and validate the merchant's JSON, build the JSAPI body,
// sign the Authorization: one RSA signature), then Decode of a signed
// prepay answer prepared outside the loop (verify the Wechatpay-Signature:
// one RSA verification; sign paySign: the second RSA signature; encode the
// wx.requestPayment object).
func BenchmarkPayRoundTrip(b *testing.B) {
	c := must(NewClient(merchantConfig(b)))
	c.Now = transformtest.Clock
	answer := `{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}`
	transformtest.PayRoundTrip(b, c, []byte(benchPayJSON), platformAnswer(b, examplePublicKeyID, transformtest.Pinned, answer), []byte(answer))
}

// sjsonPayBody builds the same JSAPI body with github.com/tidwall/sjson, the
// library the project's design names for nested JSON; BenchmarkPayBody
// compares it with the hand-written appender the client uses.
func sjsonPayBody(c *Client, req *transform.PayRequest, notifyURL, clientIP string) []byte {
	b := []byte(`{}`)
	set := func(path string, v any) { b, _ = sjson.SetBytes(b, path, v) }
	if c.cfg.partner() {
		set("sp_appid", c.cfg.AppID)
		set("sp_mchid", c.cfg.MchID)
		if c.cfg.SubAppID != "" {
			set("sub_appid", c.cfg.SubAppID)
		}
		set("sub_mchid", c.cfg.SubMchID)
	} else {
		set("appid", c.cfg.AppID)
		set("mchid", c.cfg.MchID)
	}
	set("description", req.Description)
	set("out_trade_no", req.OrderID)
	if !req.Expire.IsZero() {
		set("time_expire", req.Expire.In(transform.UTC8).Format(time.RFC3339))
	}
	if req.Attach != "" {
		set("attach", req.Attach)
	}
	set("notify_url", notifyURL)
	set("amount.total", req.Money.Minor)
	set("amount.currency", "CNY")
	switch {
	case !c.cfg.partner():
		set("payer.openid", req.OpenID)
	case c.cfg.SubAppID != "":
		set("payer.sub_openid", req.OpenID)
	default:
		set("payer.sp_openid", req.OpenID)
	}
	if clientIP != "" {
		set("scene_info.payer_client_ip", clientIP)
	}
	return b
}

func benchPayRequest(b *testing.B) *transform.PayRequest {
	req := &transform.PayRequest{OrderID: "ORDER-20261129-0001", Amount: "12.34", Currency: "CNY", Description: "Latte 大杯",
		OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", ClientIP: "203.0.113.7", ExpireAt: "2026-11-29T10:30:00+08:00", Attach: "table 7"}
	return transformtest.Valid(b, req)
}

// BenchmarkPayBody: the JSAPI body by the appender and by sjson; both must
// write the same bytes.
func BenchmarkPayBody(b *testing.B) {
	c := must(NewClient(merchantConfig(b)))
	req := benchPayRequest(b)
	const notify = "https://merchant.example/webhooks/wechat_v3"
	if a, s := c.appendPayBody(nil, req, notify, req.ClientIP), sjsonPayBody(c, req, notify, req.ClientIP); string(a) != string(s) {
		b.Fatalf("the builders disagree:\n%s\n%s", a, s)
	}
	b.Run("appender", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = c.appendPayBody(make([]byte, 0, 512), req, notify, req.ClientIP)
		}
	})
	b.Run("sjson", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = sjsonPayBody(c, req, notify, req.ClientIP)
		}
	})
}
