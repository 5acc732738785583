// Package latipay is Latipay v2's WeChat mini app payment for caddy-minipay:
// the sorted-parameter HMAC-SHA256 signature, the miniapppay / transaction
// query / refund calls, the payment notification, and the sandbox server.
package latipay

import (
	"errors"
	"net/url"
	"strings"

	"github.com/bojanz/currency"

	"github.com/minipay/caddy-minipay/transform"
)

// Name is the provider's name in configuration and answers.
const Name = "latipay"

// Config is the latipay provider configuration (DESIGN.md §3).
type Config struct {
	UserID    string `json:"user_id,omitempty"`
	WalletID  string `json:"wallet_id,omitempty"`
	APIKey    string `json:"api_key,omitempty"`
	AppID     string `json:"app_id,omitempty"`
	Currency  string `json:"currency,omitempty"`
	NotifyURL string `json:"notify_url,omitempty"`
}

// ProviderName is "latipay".
func (*Config) ProviderName() string { return Name }

// clientAndSandbox: the webhook only needs the key (and the currency when set).
var clientAndSandbox = []transform.Role{transform.RoleClient, transform.RoleSandbox}

// ConfigFields lists every string field for placeholder resolution.
func (c *Config) ConfigFields() []transform.ConfigField {
	return []transform.ConfigField{
		{Name: "user_id", Value: &c.UserID, Required: clientAndSandbox},
		{Name: "wallet_id", Value: &c.WalletID, Required: clientAndSandbox},
		{Name: "api_key", Value: &c.APIKey, Required: transform.AllRoles},
		{Name: "app_id", Value: &c.AppID, Required: clientAndSandbox},
		{Name: "currency", Value: &c.Currency, Required: clientAndSandbox},
		{Name: "notify_url", Value: &c.NotifyURL},
	}
}

// Check checks the resolved configuration (not named Validate: Caddy would
// call that before placeholders are resolved). Messages name fields, never
// values.
func (c *Config) Check() error {
	if c.APIKey == "" {
		return errors.New("latipay: api_key is required")
	}
	if c.Currency != "" {
		if _, ok := currency.GetDigits(c.Currency); !ok || len(c.Currency) != 3 || strings.ToUpper(c.Currency) != c.Currency {
			return errors.New("latipay: currency must be an ISO 4217 code (the wallet's currency, e.g. NZD)")
		}
	}
	if c.NotifyURL != "" && !absoluteURL(c.NotifyURL) {
		return errors.New("latipay: notify_url must be an absolute http(s) URL")
	}
	return nil
}

// checkFor is Check plus the fields role needs, for callers without Caddy
// (the adapter already refused empty required fields).
func (c *Config) checkFor(role transform.Role) error {
	for _, f := range c.ConfigFields() {
		if *f.Value == "" && f.RequiredFor(role) {
			return errors.New("latipay: " + f.Name + " is required")
		}
	}
	return c.Check()
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Sign is Latipay's request signature: every non-empty parameter except
// signature (and never api_key), sorted by name, k=v joined with '&', values
// raw, the api_key appended directly; HMAC-SHA256 keyed by the api_key over
// that whole string, lowercase hex.
func Sign(params transform.Params, apiKey string) string {
	if params.Has("api_key") { // never part of the message, whoever put it there
		kept := make(transform.Params, 0, len(params))
		for _, p := range params {
			if p.Name != "api_key" {
				kept = append(kept, p)
			}
		}
		params = kept
	}
	buf := transform.GetBuf()
	defer transform.PutBuf(buf)
	b := params.SortedQuery(*buf, "signature")
	b = append(b, apiKey...)
	*buf = b
	return transform.HMACSHA256Hex(apiKey, b, false)
}

// Verify checks a request's signature parameter in constant time.
func Verify(params transform.Params, apiKey string) bool {
	got := params.Get("signature")
	return got != "" && transform.EqualHexConstantTime(got, Sign(params, apiKey))
}

// NotifySign is the signature of notifications and query answers:
// HMAC-SHA256 keyed by the api_key over merchant_reference + payment_method +
// status + currency + amount (plain concatenation, no api_key appended),
// lowercase hex. amount is the text exactly as Latipay sent it.
func NotifySign(merchantReference, paymentMethod, status, currencyCode, amount, apiKey string) string {
	buf := transform.GetBuf()
	defer transform.PutBuf(buf)
	b := append(*buf, merchantReference...)
	b = append(b, paymentMethod...)
	b = append(b, status...)
	b = append(b, currencyCode...)
	b = append(b, amount...)
	*buf = b
	return transform.HMACSHA256Hex(apiKey, b, false)
}

// verifyNotify compares a received notification-formula signature in
// constant time.
func verifyNotify(got, merchantReference, paymentMethod, status, currencyCode, amount, apiKey string) bool {
	return got != "" && transform.EqualHexConstantTime(got, NotifySign(merchantReference, paymentMethod, status, currencyCode, amount, apiKey))
}
