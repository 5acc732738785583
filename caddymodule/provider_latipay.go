package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/latipay"
)

func init() { caddy.RegisterModule(Latipay{}) }

// Latipay is the minipay.providers.latipay module: Latipay v2 WeChat mini
// app payments. In a Caddyfile it is the provider block of minipay,
// minipay_webhook or minipay_sandbox; the fields and when each is required
// are in README "Latipay":
//
//	minipay latipay {
//	    user_id     <user id>
//	    wallet_id   <wallet id>
//	    api_key     <api key>
//	    app_id      <mini program appid>
//	    currency    <the wallet's ISO 4217 code>
//	    notify_url  <url>
//	    refund_path <path>
//	}
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
	// Found by a type assertion (transform.CheckConfig, the admin API),
	// which a changed signature would make fail in silence.
	_ transform.Checker = (*Latipay)(nil)
	// caddy minipay sign finds the request signer so (command_sign.go).
	_ transform.RequestExplainer = (*Latipay)(nil)
)
