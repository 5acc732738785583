package wechatpay

import (
	"testing"
	"time"

	"github.com/tidwall/sjson"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
)

// sjsonPayBody builds the JSAPI body of a direct (not service-provider)
// merchant with github.com/tidwall/sjson, the library the project's design
// names for nested JSON; BenchmarkPayBody compares it with the plugin's
// hand-written appender (wechatv3.Client.AppendPayBody).
func sjsonPayBody(cfg wechatv3.Config, req *transform.PayRequest, notifyURL, clientIP string) []byte {
	b := []byte(`{}`)
	set := func(path string, v any) { b, _ = sjson.SetBytes(b, path, v) }
	set("appid", cfg.AppID)
	set("mchid", cfg.MchID)
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
	set("payer.openid", req.OpenID)
	if clientIP != "" {
		set("scene_info.payer_client_ip", clientIP)
	}
	return b
}

// BenchmarkPayBody: the JSAPI body by the plugin's appender and by sjson;
// both must write the same bytes.
func BenchmarkPayBody(b *testing.B) {
	key, err := readKey("apiclient_key.pem")
	if err != nil {
		b.Fatal(err)
	}
	pub, err := readKey("wechatpay_pub_key.pem")
	if err != nil {
		b.Fatal(err)
	}
	cfg := wechatv3.Config{AppID: appID, MchID: mchID, SerialNo: merchantSerial, PrivateKey: key, PublicKey: pub, PublicKeyID: publicKeyID}
	c, err := wechatv3.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	req := &transform.PayRequest{OrderID: "ORDER-20261129-0001", Amount: "12.34", Currency: "CNY", Description: "Latte 大杯",
		OpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", ClientIP: "203.0.113.7", ExpireAt: "2026-11-29T10:30:00+08:00", Attach: "table 7"}
	if err := req.Validate(); err != nil {
		b.Fatal(err)
	}
	const notify = "https://merchant.example/webhooks/wechat_v3"
	if a, s := c.AppendPayBody(nil, req, notify, req.ClientIP), sjsonPayBody(cfg, req, notify, req.ClientIP); string(a) != string(s) {
		b.Fatalf("the builders disagree:\n%s\n%s", a, s)
	}
	b.Run("appender", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = c.AppendPayBody(make([]byte, 0, 512), req, notify, req.ClientIP)
		}
	})
	b.Run("sjson", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = sjsonPayBody(cfg, req, notify, req.ClientIP)
		}
	})
}
