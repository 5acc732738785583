package caddymodule

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
	"github.com/minipay/caddy-minipay/transform/wxlogin"
)

// A provider is a guest module in the minipay.providers namespace: a
// transform configuration plus the constructors of the sides it has. Adding
// a provider means a transform sub-package, a wrapper type like the ones
// below, and one line in init (modules.go).
type provider interface {
	caddy.Module
	transform.Config
}

type clientProvider interface {
	NewClient() (transform.Client, error)
}

type webhookProvider interface {
	NewWebhook() (transform.Webhook, error)
}

type sandboxProvider interface {
	NewSandbox() (transform.Sandbox, error)
}

func providerInfo(name string, newFn func() caddy.Module) caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: caddy.ModuleID("minipay.providers." + name), New: newFn}
}

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

// WechatLogin is the minipay.providers.wechat_login module: code2Session.
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
	_ provider        = (*WechatV2)(nil)
	_ clientProvider  = (*WechatV2)(nil)
	_ webhookProvider = (*WechatV2)(nil)
	_ sandboxProvider = (*WechatV2)(nil)
	_ provider        = (*WechatLogin)(nil)
	_ clientProvider  = (*WechatLogin)(nil)
	_ sandboxProvider = (*WechatLogin)(nil)
)

// resolveProvider turns a loaded guest module into a provider with every
// field's placeholders ({env.*}, {file.*}) resolved, and fails naming the
// provider and the field when one that role needs is empty. The values are
// never part of an error.
func resolveProvider(mod any, role transform.Role) (provider, error) {
	p, ok := mod.(provider)
	if !ok {
		return nil, fmt.Errorf("minipay: module %T is not a minipay provider", mod)
	}
	repl := caddy.NewReplacer()
	for _, f := range p.ConfigFields() {
		*f.Value = repl.ReplaceKnown(*f.Value, "")
		if *f.Value == "" && f.RequiredFor(role) {
			return nil, fmt.Errorf("minipay: provider %s: field %s is required and empty (after resolving placeholders)", p.ProviderName(), f.Name)
		}
	}
	return p, nil
}

// providerName reads the inline "name" key, for error messages before the
// module is loaded.
func providerName(raw json.RawMessage) string {
	var v struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.Name
}
