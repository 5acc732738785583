package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/twoc2p"
)

func init() { caddy.RegisterModule(TwoC2P{}) }

// TwoC2P is the minipay.providers.2c2p module: 2C2P SecurePay 9.9, WeChat
// Mini Program payments (WCMINI). In a Caddyfile it is the provider block
// of minipay, minipay_webhook or minipay_sandbox; the fields and when each
// is required are in README "2C2P":
//
//	minipay 2c2p {
//	    merchant_id  <merchant id>
//	    secret_key   <secret key>
//	    app_id       <mini program appid>
//	    version      <envelope version>
//	    pan_country  <ISO 3166-1 alpha-2>
//	    payment_path <path>
//	    notify_url   <url>
//	}
type TwoC2P struct{ twoc2p.Config }

// CaddyModule returns the Caddy module information.
func (TwoC2P) CaddyModule() caddy.ModuleInfo {
	return providerInfo(twoc2p.Name, func() caddy.Module { return new(TwoC2P) })
}

// NewClient builds the merchant-facing side.
func (p *TwoC2P) NewClient() (transform.Client, error) { return twoc2p.NewClient(p.Config) }

// NewWebhook builds the notification side.
func (p *TwoC2P) NewWebhook() (transform.Webhook, error) { return twoc2p.NewWebhook(p.Config) }

// NewSandbox builds the emulated server.
func (p *TwoC2P) NewSandbox() (transform.Sandbox, error) { return twoc2p.NewSandbox(p.Config) }

// Interface guards.
var (
	_ provider        = (*TwoC2P)(nil)
	_ clientProvider  = (*TwoC2P)(nil)
	_ webhookProvider = (*TwoC2P)(nil)
	_ sandboxProvider = (*TwoC2P)(nil)
	// Found by a type assertion (transform.CheckConfig, the admin API),
	// which a changed signature would make fail in silence.
	_ transform.Checker = (*TwoC2P)(nil)
	// caddy minipay sign finds the request signer so (command_sign.go).
	_ transform.RequestExplainer = (*TwoC2P)(nil)
)
