package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxlogin"
)

func init() { caddy.RegisterModule(WechatLogin{}) }

// WechatLogin is the minipay.providers.wechat_login module: code2Session.
// In a Caddyfile it is the provider block of minipay or minipay_sandbox
// (it sends no notifications, so it has no minipay_webhook side):
//
//	minipay wechat_login {
//	    app_id             <appid>
//	    app_secret         <AppSecret>
//	    expose_session_key true|false
//	}
type WechatLogin struct{ wxlogin.Config }

// CaddyModule returns the Caddy module information.
func (WechatLogin) CaddyModule() caddy.ModuleInfo {
	return providerInfo(wxlogin.Name, func() caddy.Module { return new(WechatLogin) })
}

// NewClient builds the merchant-facing side.
func (p *WechatLogin) NewClient() (transform.Client, error) { return wxlogin.NewClient(p.Config) }

// NewSandbox builds the emulated server.
func (p *WechatLogin) NewSandbox() (transform.Sandbox, error) { return wxlogin.NewSandbox(p.Config) }

// Interface guards.
var (
	_ provider        = (*WechatLogin)(nil)
	_ clientProvider  = (*WechatLogin)(nil)
	_ sandboxProvider = (*WechatLogin)(nil)
)
