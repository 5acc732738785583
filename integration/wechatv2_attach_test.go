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
// as signed. One naming device_info, or a field sorting between attach and
// the field after it (bank_type moved into attach), is refused (401) and
// not forwarded.
func TestWechatV2AttachOfParameters(t *testing.T) {
	base, merchant := trustRoutes(t)
	for _, attach := range []string{
		"shop=1&openid=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		"uid=5&total_fee=100&fee_type=CNY",
		"a=1&sign=x",
		"order=O2&out_trade_no=O2&time_end=20260101000000&trade_type=JSAPI",
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
	for _, tt := range []struct{ attach, drop string }{
		{"x&device_info=D", ""},          // device_info may have begun there
		{"x&bank_type=CFT", "bank_type"}, // a field moved into attach
	} {
		mutate := func(p transform.Params) transform.Params {
			return slices.DeleteFunc(set("attach", tt.attach)(p), func(kv transform.Param) bool { return kv.Name == tt.drop })
		}
		req := notificationRequest(base+"/webhooks/wechat_v2", "text/xml", nil, xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, mutate)))
		if status, _ := send(t, req); status != http.StatusUnauthorized {
			t.Errorf("attach %q: status %d, want 401", tt.attach, status)
		}
		if got := merchant.take(); len(got) != 0 {
			t.Errorf("attach %q: forwarded %+v", tt.attach, got)
		}
	}
}
