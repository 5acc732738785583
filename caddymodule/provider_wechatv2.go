package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

func init() { caddy.RegisterModule(WechatV2{}) }

// WechatV2 is the minipay.providers.wechat_v2 module: WeChat Pay API v2.
// In a Caddyfile it is the provider block of minipay, minipay_webhook or
// minipay_sandbox; the fields and when each is required are in README
// "Provider fields":
//
//	minipay wechat_v2 {
//	    app_id     <appid>
//	    mch_id     <mch_id>
//	    api_key    <32-byte APIv2 key>
//	    sign_type  MD5|HMAC-SHA256
//	    notify_url <url>
//	    client_ip  <ip>
//	    sub_app_id <appid>
//	    sub_mch_id <mch_id>
//	}
type WechatV2 struct{ wechatv2.Config }

// CaddyModule returns the Caddy module information.
func (WechatV2) CaddyModule() caddy.ModuleInfo {
	return providerInfo(wechatv2.Name, func() caddy.Module { return new(WechatV2) })
}

// NewClient builds the merchant-facing side.
func (p *WechatV2) NewClient() (transform.Client, error) { return wechatv2.NewClient(p.Config) }

// NewWebhook builds the notification side.
func (p *WechatV2) NewWebhook() (transform.Webhook, error) { return wechatv2.NewWebhook(p.Config) }

// NewSandbox builds the emulated server.
func (p *WechatV2) NewSandbox() (transform.Sandbox, error) { return wechatv2.NewSandbox(p.Config) }

// Interface guards.
var (
	_ provider        = (*WechatV2)(nil)
	_ clientProvider  = (*WechatV2)(nil)
	_ webhookProvider = (*WechatV2)(nil)
	_ sandboxProvider = (*WechatV2)(nil)
	// Found by a type assertion (transform.CheckConfig, the admin API),
	// which a changed signature would make fail in silence.
	_ transform.Checker = (*WechatV2)(nil)
	// caddy minipay sign finds the request signer so (command_sign.go).
	_ transform.RequestExplainer = (*WechatV2)(nil)
)
