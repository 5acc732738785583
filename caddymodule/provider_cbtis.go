package caddymodule

import (
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

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

// Provision warns when a minipay_webhook's signature_header holds '_' or
// '.': Caddy drops every request header whose name has one unless the
// server's expected_underscore_headers (expected_dot_headers) lists it, so
// each notification would be refused as unsigned (README "CBTIS").
func (p *CBTIS) Provision(ctx caddy.Context) error {
	if !strings.ContainsAny(p.SignatureHeader, "_.") {
		return nil
	}
	for _, m := range ctx.Modules() {
		if _, ok := m.(*Webhook); ok {
			ctx.Logger().Warn("minipay_webhook cbtis: Caddy drops request headers whose name holds '_' or '.' unless the server's "+
				"expected_underscore_headers (or expected_dot_headers) lists them; list signature_header there, "+
				"or every notification is refused as unsigned", zap.String("signature_header", p.SignatureHeader))
			return nil
		}
	}
	return nil
}

// NewClient builds the merchant-facing side with its token cache.
func (p *CBTIS) NewClient() (transform.Client, error) { return cbtis.NewClient(p.Config) }

// NewWebhook builds the notification side.
func (p *CBTIS) NewWebhook() (transform.Webhook, error) { return cbtis.NewWebhook(p.Config) }

// NewSandbox builds the emulated server.
func (p *CBTIS) NewSandbox() (transform.Sandbox, error) { return cbtis.NewSandbox(p.Config) }

// Interface guards.
var (
	_ provider          = (*CBTIS)(nil)
	_ caddy.Provisioner = (*CBTIS)(nil)
	_ clientProvider    = (*CBTIS)(nil)
	_ webhookProvider   = (*CBTIS)(nil)
	_ sandboxProvider   = (*CBTIS)(nil)
	// Found by a type assertion (transform.CheckConfig, the admin API),
	// which a changed signature would make fail in silence.
	_ transform.Checker = (*CBTIS)(nil)
)
