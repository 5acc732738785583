// Package cbtis is CBTIS payment intents (WeChat Pay, mini program flow) for
// caddy-minipay: OAuth 2.0 client-credentials access tokens, the create and
// query calls, the signed JSON notifications, and the sandbox server.
// The wire format is described in docs/providers/cbtis.md.
package cbtis

import (
	"errors"
	"net/url"
	"strings"

	"github.com/minipay/caddy-minipay/transform"
)

// Name is the provider's name in configuration and answers.
const Name = "cbtis"

// API paths below the merchant's assigned host.
const (
	PathAuth   = "/mch-api/v1/auth"
	PathCreate = "/mch-api/v1/pa/payment_intents/create"
	PathQuery  = "/mch-api/v1/pa/payment_intents/query"
)

// DefaultSignatureHeader carries the notification signature unless
// signature_header names another (the public docs do not name it).
const DefaultSignatureHeader = "Signature"

// Config is the cbtis provider configuration (README "Provider fields").
type Config struct {
	UID             string `json:"uid,omitempty"`
	ClientSecret    string `json:"client_secret,omitempty"`
	SubAppID        string `json:"sub_app_id,omitempty"`
	TokenURL        string `json:"token_url,omitempty"`
	APIKey          string `json:"api_key,omitempty"`
	NotifyURL       string `json:"notify_url,omitempty"`
	SignatureHeader string `json:"signature_header,omitempty"`
}

// ProviderName is "cbtis".
func (*Config) ProviderName() string { return Name }

var (
	clientAndSandbox = []transform.Role{transform.RoleClient, transform.RoleSandbox}
	clientOnly       = []transform.Role{transform.RoleClient}
)

// ConfigFields lists every string field for placeholder resolution. The
// webhook needs only key material, api_key or else client_secret: a rule
// of two fields that Required cannot state, so Check enforces it.
// token_url is not required of the sandbox, which serves PathAuth itself.
func (c *Config) ConfigFields() []transform.ConfigField {
	return []transform.ConfigField{
		{Name: "uid", Value: &c.UID, Required: clientAndSandbox, Rule: transform.IDRule},
		{Name: "client_secret", Value: &c.ClientSecret, Required: clientAndSandbox, Secret: true},
		{Name: "sub_app_id", Value: &c.SubAppID, Required: clientAndSandbox, Rule: transform.WeChatIDRule},
		{Name: "token_url", Value: &c.TokenURL, Required: clientOnly, Rule: tokenURLRule},
		{Name: "api_key", Value: &c.APIKey, Secret: true},
		{Name: "notify_url", Value: &c.NotifyURL, Rule: transform.NotifyURLRule},
		{Name: "signature_header", Value: &c.SignatureHeader, Rule: signatureHeaderRule},
	}
}

// Check checks the resolved configuration and fills defaults (not named
// Validate: Caddy would call that before placeholders are resolved).
// Messages name fields, never values.
func (c *Config) Check() error {
	if c.WebhookKey() == "" {
		return errors.New("cbtis: api_key or client_secret is required (the notification key)")
	}
	if c.SignatureHeader == "" { // a set one is held to signatureHeaderRule
		c.SignatureHeader = DefaultSignatureHeader
	}
	return nil
}

// tokenURLRule is token_url's rule: transform.URLRule, an absolute http(s)
// URL (the plugin fetches the token itself), and no client_secret in its
// query. The fetch sends client_secret's value, but token_url is no
// secret: GET /minipay/providers shows it.
func tokenURLRule(v string) string {
	if problem := transform.URLRule(v); problem != "" {
		return problem
	}
	u, ok := transform.AbsoluteURL(v)
	if !ok {
		return "must be an absolute http(s) URL such as https://<host>/mch-api/v1/auth"
	}
	if namesClientSecret(u.RawQuery) {
		return "must not carry client_secret in its query (give it as the field client_secret, which is kept secret)"
	}
	return ""
}

// signatureHeaderRule is signature_header's rule: an HTTP header name of at
// most 64 bytes.
func signatureHeaderRule(v string) string {
	if len(v) > 64 || !transform.ValidHeaderName(v) {
		return "must be an HTTP header name"
	}
	return ""
}

// WebhookKey is the notification key: api_key, defaulting to client_secret.
func (c *Config) WebhookKey() string {
	if c.APIKey != "" {
		return c.APIKey
	}
	return c.ClientSecret
}

func absoluteURL(s string) bool {
	_, ok := transform.AbsoluteURL(s)
	return ok
}

// namesClientSecret reports whether a query has a pair named client_secret
// as any server may read it: pairs split at & or ; (net/url's Query drops
// a pair holding ';' and so did not see "region=hk;client_secret=…"), the
// name percent-decoded, in any case.
func namesClientSecret(rawQuery string) bool {
	for pair := range strings.FieldsFuncSeq(rawQuery, func(c rune) bool { return c == '&' || c == ';' }) {
		name, _, _ := strings.Cut(pair, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		if strings.EqualFold(name, "client_secret") {
			return true
		}
	}
	return false
}
