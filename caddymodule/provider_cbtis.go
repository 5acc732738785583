package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
)

func init() { caddy.RegisterModule(CBTIS{}) }

// CBTIS is the minipay.providers.cbtis module: CBTIS payment intents (WeChat
// mini program flow). Each minipay handler builds its own client at
// Provision, so the access-token cache is per provider configuration.
type CBTIS struct{ cbtis.Config }

// CaddyModule returns the Caddy module information.
func (CBTIS) CaddyModule() caddy.ModuleInfo {
	return providerInfo(cbtis.Name, func() caddy.Module { return new(CBTIS) })
}

// NewClient builds the merchant-facing side with its token cache.
func (p *CBTIS) NewClient() (transform.Client, error) { return cbtis.NewClient(p.Config) }

// NewWebhook builds the notification side.
func (p *CBTIS) NewWebhook() (transform.Webhook, error) { return cbtis.NewWebhook(p.Config) }

// NewSandbox builds the emulated server.
func (p *CBTIS) NewSandbox() (transform.Sandbox, error) { return cbtis.NewSandbox(p.Config) }

// Interface guards.
var (
	_ provider        = (*CBTIS)(nil)
	_ clientProvider  = (*CBTIS)(nil)
	_ webhookProvider = (*CBTIS)(nil)
	_ sandboxProvider = (*CBTIS)(nil)
)
