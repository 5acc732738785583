// Package transform is the pure core of caddy-minipay: the sides every
// provider implements (Client, Webhook, Sandbox) and the kit that does their
// common part (Operations, CheckConfig), money, the canonical merchant
// requests and answers, the normalized webhook event, the error model,
// nonces, and the signing, XML, JSON and storage helpers the providers
// share. It never imports Caddy, so every provider's wire format is testable
// with plain `go test` and usable without Caddy.
//
// One sub-package per provider (wechatv2, wxlogin, ...) holds both sides of
// that provider's wire format: the client side the proxy uses and the server
// side the sandbox uses. No provider imports another: what several share is
// here, or in wxpay (WeChat's signatures and paySign); transformtest holds
// what their tests share.
package transform
