// Package wechatv2 is WeChat Pay API v2 (JSAPI / mini program) for
// caddy-minipay: signing, the unifiedorder / orderquery / closeorder / refund
// calls, paySign, payment and refund notifications, and the sandbox server.
// The wire format is described in docs/providers/wechat_v2.md.
package wechatv2

import (
	"errors"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// Name is the provider's name in configuration and answers.
const Name = "wechat_v2"

// Config is the wechat_v2 provider configuration (README "Provider fields").
type Config struct {
	AppID     string `json:"app_id,omitempty"`
	MchID     string `json:"mch_id,omitempty"`
	APIKey    string `json:"api_key,omitempty"`
	SignType  string `json:"sign_type,omitempty"`
	NotifyURL string `json:"notify_url,omitempty"`
	ClientIP  string `json:"client_ip,omitempty"`
	SubAppID  string `json:"sub_app_id,omitempty"`
	SubMchID  string `json:"sub_mch_id,omitempty"`
}

// ProviderName is "wechat_v2".
func (*Config) ProviderName() string { return Name }

// ConfigFields lists every string field for placeholder resolution.
func (c *Config) ConfigFields() []transform.ConfigField {
	return []transform.ConfigField{
		{Name: "app_id", Value: &c.AppID, Required: transform.AllRoles, Rule: transform.WeChatIDRule},
		{Name: "mch_id", Value: &c.MchID, Required: transform.AllRoles, Rule: transform.WeChatIDRule},
		{Name: "api_key", Value: &c.APIKey, Required: transform.AllRoles, Secret: true, Rule: apiKeyRule},
		{Name: "sign_type", Value: &c.SignType, Rule: signTypeRule},
		{Name: "notify_url", Value: &c.NotifyURL, Rule: wxpay.NotifyURLRule},
		{Name: "client_ip", Value: &c.ClientIP, Rule: transform.IPRule},
		{Name: "sub_app_id", Value: &c.SubAppID, Rule: transform.WeChatIDRule},
		{Name: "sub_mch_id", Value: &c.SubMchID, Rule: transform.WeChatIDRule},
	}
}

// Check checks the resolved configuration (not named Validate: Caddy would call that before placeholders are resolved). Messages name fields, never values.
func (c *Config) Check() error {
	if c.APIKey == "" { // a set one is held to apiKeyRule
		return errors.New("wechat_v2: api_key " + apiKeyLength)
	}
	if c.SignType == "" { // a set one is held to signTypeRule
		c.SignType = SignMD5
	}
	return wxpay.CheckSubAppID(Name, c.SubAppID, c.SubMchID)
}

// apiKeyLength is what apiKeyRule says of a key of another length.
const apiKeyLength = "must be 32 bytes (the APIv2 key, not the AppSecret)"

// apiKeyRule is api_key's rule: the APIv2 key, 32 bytes of printable ASCII
// (an AppSecret has the same alphabet but another length).
func apiKeyRule(v string) string {
	if problem := transform.ASCIIKeyRule(v); problem != "" {
		return problem
	}
	if len(v) != 32 {
		return apiKeyLength
	}
	return ""
}

// signTypeRule is sign_type's rule: one of WeChat's two names, spelled so.
func signTypeRule(v string) string {
	if v != SignMD5 && v != SignHMACSHA256 {
		return "must be MD5 or HMAC-SHA256"
	}
	return ""
}

// payAppID is the appId the mini program runs as: sub_app_id in
// service-provider mode.
func (c *Config) payAppID() string {
	if c.SubAppID != "" {
		return c.SubAppID
	}
	return c.AppID
}

// foreign tells whether a signed document names another merchant than this
// configuration: appid and mch_id; in service-provider mode also sub_mch_id
// and sub_appid, because the provider's key signs for every sub-merchant and
// each of their mini programs. A notification must carry appid, mch_id and,
// in service-provider mode, sub_mch_id (README Webhooks checks them);
// an answer is refused for naming another, not for leaving one out (its
// signature already binds it to this key, and README Merchant API asks no
// more: a WeChat implementation that answers without appid and mch_id is
// still read).
func (c *Config) foreign(p transform.Params, notification bool) bool {
	for _, f := range [...]struct{ name, want string }{{"appid", c.AppID}, {"mch_id", c.MchID}} {
		if got := p.Get(f.name); got != f.want && (notification || got != "") {
			return true
		}
	}
	if c.SubMchID == "" {
		return false
	}
	// An empty element is unsigned (WeChat signs non-empty values only) and
	// names nobody, as for appid and mch_id above.
	if sub := p.Get("sub_mch_id"); (notification || sub != "") && sub != c.SubMchID {
		return true
	}
	sub := p.Get("sub_appid")
	return c.SubAppID != "" && sub != "" && sub != c.SubAppID
}
