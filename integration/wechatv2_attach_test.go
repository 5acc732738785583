package integration

import (
	"net/http"
	"slices"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestWechatV2AttachOfParameters: README What the merchant can trust
// (wechat_v2): a merchant's attach of its own key=value parameters reaches
// it, through a real Caddy, also when a parameter is named as one of
// WeChat's fields sorting past bank_type (openid=, total_fee=, sign=),
// which no other reading of the signed string can make a field: WeChat's
// notification of such an order is acknowledged and forwarded with attach
// as signed. A field sorting between attach and the field after it
// (bank_type moved into attach), or a device_info read as beginning inside
// attach (right after it, or after a field cut from it), is refused (401)
// and not forwarded.
func TestWechatV2AttachOfParameters(t *testing.T) {
	base, merchant := trustRoutes(t)
	for _, attach := range []string{
		"shop=1&openid=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		"uid=5&total_fee=100&fee_type=CNY",
		"a=1&sign=x",
		"order=O2&out_trade_no=O2&time_end=20260101000000&trade_type=JSAPI",
		"src=mp&device_info=iPhone",
		"src=mp&cash_fee=1&device_info=iPhone",
	} {
		req := notificationRequest(base+"/webhooks/wechat_v2", "text/xml", nil,
			xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("attach", attach))))
		if status, answer := send(t, req); status != http.StatusOK || string(answer) != wechatv2.AckBody {
			t.Errorf("attach %q: %d %q, want 200 and the ACK", attach, status, answer)
			continue
		}
		got := merchant.take()
		if len(got) != 1 {
			t.Errorf("attach %q: %d deliveries, want 1", attach, len(got))
			continue
		}
		if data, _ := got[0].event["data"].(map[string]any); data["attach"] != attach || data["openid"] != "oUpF8uMEb4qRXf22hE3X68TekukE" {
			t.Errorf("attach %q: data %v", attach, data)
		}
	}
	// Refused: bank_type moved into attach, and a forgery of the genuine
	// "src=mp&device_info=iPhone": attach cut before device_info, which
	// runs on over bank_type and cash_fee (the same signed string).
	moved := notification(apiKey, wechatv2.SignHMACSHA256, func(p transform.Params) transform.Params {
		return slices.DeleteFunc(set("attach", "x&bank_type=CFT")(p), func(kv transform.Param) bool { return kv.Name == "bank_type" })
	})
	genuine := notification(apiKey, wechatv2.SignHMACSHA256, set("attach", "src=mp&device_info=iPhone"))
	forged := slices.DeleteFunc(set("device_info", "iPhone&bank_type=CFT&cash_fee=1234")(set("attach", "src=mp")(slices.Clone(genuine))),
		func(kv transform.Param) bool { return kv.Name == "bank_type" || kv.Name == "cash_fee" })
	// The genuine "src=mp&cash_fee=1&device_info=iPhone" cut before cash_fee,
	// which becomes a field of 1, and device_info running on as above.
	genuineCash := notification(apiKey, wechatv2.SignHMACSHA256, set("attach", "src=mp&cash_fee=1&device_info=iPhone"))
	forgedCash := set("cash_fee", "1")(slices.DeleteFunc(set("device_info", "iPhone&bank_type=CFT&cash_fee=1234")(set("attach", "src=mp")(slices.Clone(genuineCash))),
		func(kv transform.Param) bool { return kv.Name == "bank_type" || kv.Name == "cash_fee" }))
	for name, p := range map[string]transform.Params{"bank_type moved into attach": moved, "device_info running on from attach": forged,
		"cash_fee and device_info from attach": forgedCash} {
		req := notificationRequest(base+"/webhooks/wechat_v2", "text/xml", nil, xmlOf(p))
		if status, _ := send(t, req); status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, status)
		}
		if got := merchant.take(); len(got) != 0 {
			t.Errorf("%s: forwarded %+v", name, got)
		}
	}
}
