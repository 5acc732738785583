// Package latipay is Latipay v2's WeChat mini app payment for caddy-minipay:
// the sorted-parameter HMAC-SHA256 signature, the miniapppay / transaction
// query / refund calls, the payment notification, and the sandbox server.
// The wire format is described in docs/providers/latipay.md.
package latipay

import (
	"errors"
	"strings"

	"github.com/bojanz/currency"

	"github.com/minipay/caddy-minipay/transform"
)

// Name is the provider's name in configuration and answers.
const Name = "latipay"

// Config is the latipay provider configuration (README "Provider fields").
type Config struct {
	UserID    string `json:"user_id,omitempty"`
	WalletID  string `json:"wallet_id,omitempty"`
	APIKey    string `json:"api_key,omitempty"`
	AppID     string `json:"app_id,omitempty"`
	Currency  string `json:"currency,omitempty"`
	NotifyURL string `json:"notify_url,omitempty"`
	// RefundPath is the refund call's path, PathRefund by default.
	RefundPath string `json:"refund_path,omitempty"`
}

// ProviderName is "latipay".
func (*Config) ProviderName() string { return Name }

// clientAndSandbox: the webhook needs only the key (README Latipay: the fields
// verification needs); the wallet's currency is optional there.
var clientAndSandbox = []transform.Role{transform.RoleClient, transform.RoleSandbox}

// ConfigFields lists every string field for placeholder resolution.
func (c *Config) ConfigFields() []transform.ConfigField {
	return []transform.ConfigField{
		{Name: "user_id", Value: &c.UserID, Required: clientAndSandbox, Rule: transform.IDRule},
		{Name: "wallet_id", Value: &c.WalletID, Required: clientAndSandbox, Rule: transform.IDRule},
		{Name: "api_key", Value: &c.APIKey, Required: transform.AllRoles, Secret: true},
		{Name: "app_id", Value: &c.AppID, Required: clientAndSandbox, Rule: transform.WeChatIDRule},
		{Name: "currency", Value: &c.Currency, Required: clientAndSandbox, Rule: currencyRule},
		{Name: "notify_url", Value: &c.NotifyURL, Rule: transform.NotifyURLRule},
		{Name: "refund_path", Value: &c.RefundPath, Rule: transform.PathRule},
	}
}

// Check checks the resolved configuration (not named Validate: Caddy would
// call that before placeholders are resolved). Messages name fields, never
// values.
func (c *Config) Check() error {
	if c.APIKey == "" {
		return errors.New("latipay: api_key is required")
	}
	if c.RefundPath == "" { // a set one is held to transform.PathRule
		c.RefundPath = PathRefund
	}
	return nil
}

// currencyRule is currency's rule: an ISO 4217 code, upper case.
func currencyRule(v string) string {
	if _, ok := currency.GetDigits(v); !ok || len(v) != 3 || strings.ToUpper(v) != v {
		return "must be an ISO 4217 code (the wallet's currency, e.g. NZD)"
	}
	return ""
}

// absoluteURL is Latipay's rule for notify_url.
func absoluteURL(s string) bool {
	_, ok := transform.AbsoluteURL(s)
	return ok
}
