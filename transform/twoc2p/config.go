// Package twoc2p is 2C2P SecurePay API 9.9 for WeChat Mini Program payments
// (paymentChannel WCMINI) for caddy-minipay: the signed base64 envelopes,
// the pay call and its answer, the backend notification, and the sandbox
// server. The wire format is described in docs/providers/2c2p.md.
package twoc2p

import (
	"strings"
	"time"

	"github.com/bojanz/currency"

	"github.com/minipay/caddy-minipay/transform"
)

// Name is the provider's name in configuration and answers.
const Name = "2c2p"

// Defaults of the optional fields (README "Provider fields").
const (
	DefaultVersion     = "9.9"
	DefaultPaymentPath = "/2C2PFrontEnd/SecurePayment/Payment.aspx"
)

// LivePaymentPath is the path 2C2P's samples show on live hosts; the
// sandbox serves it as well as the demo server's and the configured one.
const LivePaymentPath = "/SecurePayment/Payment.aspx"

// PaymentChannel is 2C2P's channel for WeChat Mini Program payments.
const PaymentChannel = "WCMINI"

// timeLayout is 2C2P's ddMMyyHHmmss.
const timeLayout = "020106150405"

// clockZone is UTC+7, the zone of 2C2P's own clock: the demo server writes
// an answer's timeStamp (the request's time; its own when the request
// gives none) in it, and its dateTime in UTC+8 (docs/providers/2c2p.md
// "Times").
var clockZone = time.FixedZone("UTC+7", 7*3600)

// Config is the 2c2p provider configuration (README "Provider fields").
type Config struct {
	MerchantID  string `json:"merchant_id,omitempty"`
	SecretKey   string `json:"secret_key,omitempty"`
	AppID       string `json:"app_id,omitempty"`
	Version     string `json:"version,omitempty"`
	PanCountry  string `json:"pan_country,omitempty"`
	PaymentPath string `json:"payment_path,omitempty"`
	// NotifyURL is the backend URL the merchant registered with 2C2P: sent
	// as backendReturnUrl when the pay request has no notify_url, and where
	// the sandbox notifies orders whose request named none.
	NotifyURL string `json:"notify_url,omitempty"`
}

// ProviderName is "2c2p".
func (*Config) ProviderName() string { return Name }

var clientAndSandbox = []transform.Role{transform.RoleClient, transform.RoleSandbox}

// ConfigFields lists every string field for placeholder resolution. The
// webhook only verifies, so it needs no app_id.
func (c *Config) ConfigFields() []transform.ConfigField {
	return []transform.ConfigField{
		{Name: "merchant_id", Value: &c.MerchantID, Required: transform.AllRoles, Rule: transform.IDRule},
		{Name: "secret_key", Value: &c.SecretKey, Required: transform.AllRoles, Secret: true},
		{Name: "app_id", Value: &c.AppID, Required: clientAndSandbox, Rule: transform.WeChatIDRule},
		{Name: "version", Value: &c.Version, Rule: versionRule},
		{Name: "pan_country", Value: &c.PanCountry, Rule: panCountryRule},
		{Name: "payment_path", Value: &c.PaymentPath, Rule: transform.PathRule},
		{Name: "notify_url", Value: &c.NotifyURL, Rule: transform.NotifyURLRule},
	}
}

// Check checks the resolved configuration and fills the defaults (not
// named Validate: Caddy would call that before placeholders are resolved).
// Messages name fields, never values.
func (c *Config) Check() error {
	if c.Version == "" { // a set one is held to versionRule
		c.Version = DefaultVersion
	}
	if c.PaymentPath == "" { // a set one is held to transform.PathRule
		c.PaymentPath = DefaultPaymentPath
	}
	return nil
}

// validNotifyURL: an absolute http(s) URL that an XML payload can carry,
// at most 512 bytes.
func validNotifyURL(u string) bool {
	_, ok := transform.AbsoluteURL(u)
	return ok && len(u) <= 512 && transform.ValidXMLText(u)
}

// versionRule is version's rule: digits and dots, such as 9.9.
func versionRule(v string) string {
	if !validVersion(v) {
		return "must look like 9.9"
	}
	return ""
}

// panCountryRule is pan_country's rule.
func panCountryRule(v string) string {
	if !transform.ValidCountry(v) {
		return "must be an ISO 3166-1 alpha-2 code such as SG"
	}
	return ""
}

func validVersion(v string) bool {
	if v == "" || v[0] == '.' || v[len(v)-1] == '.' || strings.Contains(v, "..") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if (v[i] < '0' || v[i] > '9') && v[i] != '.' {
			return false
		}
	}
	return true
}

// alphaByNumeric maps ISO 4217 numeric codes ("702") to alphabetic ones
// ("SGD"), from the same table the money parser uses.
var alphaByNumeric = func() map[string]string {
	codes := currency.GetCurrencyCodes()
	m := make(map[string]string, len(codes))
	for _, code := range codes {
		if n, ok := currency.GetNumericCode(code); ok && n != "000" {
			m[n] = code
		}
	}
	return m
}()

// CurrencyForNumeric returns the alphabetic code of an ISO 4217 numeric code.
func CurrencyForNumeric(numeric string) (string, bool) {
	code, ok := alphaByNumeric[numeric]
	return code, ok
}

// Amount12 is 2C2P's amt: the minor units, zero-padded to 12 digits.
func Amount12(m transform.Money) string {
	s := m.MinorText()
	if len(s) >= 12 {
		return s
	}
	return strings.Repeat("0", 12-len(s)) + s
}

// MoneyFromAmt reads amt and a numeric currencyCode back into Money.
func MoneyFromAmt(amt, numeric string) (transform.Money, bool) {
	code, ok := CurrencyForNumeric(numeric)
	if !ok {
		return transform.Money{}, false
	}
	return transform.MoneyFromMinorText(amt, code)
}
