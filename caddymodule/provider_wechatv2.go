package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

func init() { caddy.RegisterModule(WechatV2{}) }

// WechatV2 is the minipay.providers.wechat_v2 module: WeChat Pay API v2.
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
)
