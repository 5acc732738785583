// Package wxlogin is the mini program login exchange (code2Session) for
// caddy-minipay: the request minipay sends to api.weixin.qq.com, the answer
// mapping, and the sandbox server. The exchange is described in
// docs/providers/wechat_login.md.
package wxlogin

import "github.com/minipay/caddy-minipay/transform"

// Name is the provider's name in configuration.
const Name = "wechat_login"

// Config is the wechat_login provider configuration (README "Provider fields").
type Config struct {
	AppID            string `json:"app_id,omitempty"`
	AppSecret        string `json:"app_secret,omitempty"`
	ExposeSessionKey bool   `json:"expose_session_key,omitempty"`
}

// ProviderName is "wechat_login".
func (*Config) ProviderName() string { return Name }

// ConfigFields lists every string field for placeholder resolution.
func (c *Config) ConfigFields() []transform.ConfigField {
	return []transform.ConfigField{
		{Name: "app_id", Value: &c.AppID, Required: transform.AllRoles, Rule: transform.WeChatIDRule},
		{Name: "app_secret", Value: &c.AppSecret, Required: transform.AllRoles, Secret: true},
	}
}
