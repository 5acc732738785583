package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
)

func init() { caddy.RegisterModule(WechatV3{}) }

// WechatV3 is the minipay.providers.wechat_v3 module: WeChat Pay API v3.
// Its keys are parsed once, when the handler provisions. In a Caddyfile it
// is the provider block of minipay, minipay_webhook or minipay_sandbox;
// which fields each needs is in README "Provider fields":
//
//	minipay wechat_v3 {
//	    app_id               <appid>
//	    mch_id               <mch_id>
//	    serial_no            <merchant certificate serial>
//	    private_key          {file./absolute/path/apiclient_key.pem}
//	    api_v3_key           <32-byte APIv3 key>
//	    public_key           {file./absolute/path/pub_key.pem}
//	    public_key_id        <PUB_KEY_ID_…>
//	    certificates_url     <url of GET /v3/certificates>
//	    platform_certificate {file./absolute/path/platform_cert.pem}
//	    platform_private_key {file./absolute/path/key.pem}   # minipay_sandbox only
//	    notify_url           <url>
//	    client_ip            <ip>
//	    sub_app_id           <appid>
//	    sub_mch_id           <mch_id>
//	}
type WechatV3 struct{ wechatv3.Config }

// CaddyModule returns the Caddy module information.
func (WechatV3) CaddyModule() caddy.ModuleInfo {
	return providerInfo(wechatv3.Name, func() caddy.Module { return new(WechatV3) })
}

// NewClient builds the merchant-facing side.
func (p *WechatV3) NewClient() (transform.Client, error) { return wechatv3.NewClient(p.Config) }

// NewWebhook builds the notification side.
func (p *WechatV3) NewWebhook() (transform.Webhook, error) { return wechatv3.NewWebhook(p.Config) }

// NewSandbox builds the emulated server.
func (p *WechatV3) NewSandbox() (transform.Sandbox, error) { return wechatv3.NewSandbox(p.Config) }

// Interface guards.
var (
	_ provider        = (*WechatV3)(nil)
	_ clientProvider  = (*WechatV3)(nil)
	_ webhookProvider = (*WechatV3)(nil)
	_ sandboxProvider = (*WechatV3)(nil)
	// minipay_sandbox finds the hook by a type assertion, which a changed
	// signature would make fail in silence.
	_ notifyingSandbox = (*wechatv3.Sandbox)(nil)
	// So are the certificate downloads' failure reports (provisionSide),
	// the defaults Check fills (transform.CheckConfig, the admin API) and
	// the clock `caddy minipay verify --at` sets.
	_ certificateDownloader = (*wechatv3.Client)(nil)
	_ certificateDownloader = (*wechatv3.Webhook)(nil)
	_ transform.Checker     = (*WechatV3)(nil)
	// caddy minipay sign finds the request signer so (command_sign.go).
	_ transform.RequestExplainer = (*WechatV3)(nil)
	_ transform.Clocked          = (*wechatv3.Webhook)(nil)
)
