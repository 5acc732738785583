// Package caddymodule is the Caddy adapter of caddy-minipay: module
// registration, configuration, Caddyfile parsing, the three HTTP handlers
// (minipay, minipay_webhook, minipay_sandbox with its console), metrics and
// logging, Caddy's storage as the providers' shared store, the minipay app
// (the handlers' background work, run only while their configuration runs),
// the admin API module (GET /minipay/providers) and the `caddy minipay`
// subcommands. The providers' wire formats live in transform; adding a
// provider here is one provider_<package>.go file.
package caddymodule
