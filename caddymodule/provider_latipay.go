package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/latipay"
)

func init() { caddy.RegisterModule(Latipay{}) }

// Latipay is the minipay.providers.latipay module: Latipay v2 WeChat mini
// app payments.
type Latipay struct{ latipay.Config }

// CaddyModule returns the Caddy module information.
func (Latipay) CaddyModule() caddy.ModuleInfo {
	return providerInfo(latipay.Name, func() caddy.Module { return new(Latipay) })
}

// NewClient builds the merchant-facing side.
func (p *Latipay) NewClient() (transform.Client, error) { return latipay.NewClient(p.Config) }

// NewWebhook builds the notification side.
func (p *Latipay) NewWebhook() (transform.Webhook, error) { return latipay.NewWebhook(p.Config) }

// NewSandbox builds the emulated server.
func (p *Latipay) NewSandbox() (transform.Sandbox, error) { return latipay.NewSandbox(p.Config) }

// Interface guards.
var (
	_ provider        = (*Latipay)(nil)
	_ clientProvider  = (*Latipay)(nil)
	_ webhookProvider = (*Latipay)(nil)
	_ sandboxProvider = (*Latipay)(nil)
)
