package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	caddy.RegisterModule(Handler{})
	caddy.RegisterModule(Webhook{})
	caddy.RegisterModule(Sandbox{})
	// Providers register in their own files (provider_*.go).

	httpcaddyfile.RegisterHandlerDirective("minipay", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("minipay", httpcaddyfile.Before, "reverse_proxy")
	httpcaddyfile.RegisterHandlerDirective("minipay_webhook", parseWebhook)
	httpcaddyfile.RegisterDirectiveOrder("minipay_webhook", httpcaddyfile.Before, "reverse_proxy")
	httpcaddyfile.RegisterHandlerDirective("minipay_sandbox", parseSandbox)
	httpcaddyfile.RegisterDirectiveOrder("minipay_sandbox", httpcaddyfile.Before, "respond")
}
