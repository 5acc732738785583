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
//
// # Without Caddy
//
// A merchant backend can use a provider package directly, as
// README "Using transform without Caddy" tells. Each package has a Config
// (the JSON fields of README "Provider fields") and its constructors:
//
//   - NewClient: Client.Prepare takes the merchant API's JSON for an
//     operation (OpPay, OpQuery, ...: README "Merchant API"), checks it and
//     returns the signed Call. Send the Call to the provider's host, then
//     Call.Decode verifies the answer and returns the merchant API's JSON (a
//     pay's is the wx.requestPayment object, PaymentParams) or an *Error,
//     whose Status and JSON are the merchant API's. A Decode returning
//     ErrRetry asks for the call to be prepared and sent once more.
//   - NewWebhook (the payment providers): Webhook.Verify takes a
//     notification as received and returns the normalized Event; answer the
//     provider with Ack once the event is recorded, else with Nack.
//   - NewSandbox: the provider's side, an http.Handler to test against.
//
// Each is safe for concurrent use, as minipay uses it; set an exported
// field (a Now clock) before the first call.
//
// Every provider package's Example (shown by pkg.go.dev, not by go doc: read
// its example_test.go) runs that flow against its sandbox; this package's
// Example_withoutCaddy is the sending loop to copy.
package transform
