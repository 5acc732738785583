package caddymodule

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
)

func init() { caddy.RegisterModule(CBTIS{}) }

// CBTIS is the minipay.providers.cbtis module: CBTIS payment intents (WeChat
// mini program flow). Each minipay handler builds its own client, with its
// own copy of the access token; the clients of one token_url and uid fetch
// the token once between them through Caddy's storage (cbtis.Client.ShareState).
// In a Caddyfile it is the provider block of minipay, minipay_webhook or
// minipay_sandbox; the fields and when each is required are in README "CBTIS":
//
//	minipay cbtis {
//	    uid              <uid>
//	    client_secret    <OAuth client secret>
//	    sub_app_id       <mini program appid>
//	    token_url        https://<host>/mch-api/v1/auth
//	    api_key          <notification key>
//	    notify_url       <url>
//	    signature_header <header name>
//	}
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
