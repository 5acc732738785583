package transform

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Role is the handler a provider configuration serves; required fields differ.
type Role int

// Roles.
const (
	RoleClient  Role = iota // minipay: merchant → provider
	RoleWebhook             // minipay_webhook: provider → merchant
	RoleSandbox             // minipay_sandbox: the emulated provider
)

// ConfigField is one string field of a provider configuration, exposed so the
// adapter can resolve placeholders ({env.*}, {file.*}) in every field and
// report an empty required one by its JSON name. A Secret field (a key, a
// client secret) is left out of everything the plugin shows about a loaded
// configuration (the admin API's GET /minipay/providers).
type ConfigField struct {
	Name string // the JSON name, which Caddyfile lines and errors use
	// Value points at the configuration's field: resolving a placeholder
	// writes the value through it.
	Value    *string
	Required []Role // the roles that need the field; nil when it is optional
	Secret   bool
	// Rule is what a set value must be (README "Provider fields"); nil
	// means TextRule. CheckConfig applies it once placeholders are resolved.
	Rule Rule
}

// A Rule checks one resolved configuration value and returns what is wrong
// with it, "" when nothing is. The problem never quotes the value, which
// may be a secret.
type Rule func(value string) (problem string)

// TextRule is every field's rule unless it names another: no control
// character. None belongs in an id, a key, a URL or a name; one that is
// there came from the file or variable the value was read from, and would
// break the header, document or log line the value goes into.
func TextRule(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return "holds a control character"
		}
	}
	return ""
}

// PEMRule is the rule of a field holding PEM text, whose line breaks are
// its own: the key or certificate parser says what else is wrong.
func PEMRule(string) string { return "" }

// WeChatIDRule is the rule of an id WeChat issues (appid, mchid and their
// sub_ forms, docs/providers/wechat_v2.md): at most 32 characters (WeChat's
// String(32)) of letters, digits, _ and -. The ids go into signed
// documents, request headers and, for wechat_v3's mch_id, a storage key:
// a '/' or '..' there would name a path outside Caddy's storage.
func WeChatIDRule(v string) string { return idProblem(v, 32) }

// IDRule is the rule of another provider-issued id (2C2P's merchant_id,
// Latipay's user_id and wallet_id, CBTIS's uid, a WeChat Pay public key
// id): at most 64 characters of letters, digits, _ and -, which every id
// the providers' pages show fits.
func IDRule(v string) string { return idProblem(v, 64) }

func idProblem(v string, max int) string {
	if len(v) > max {
		return "is longer than " + strconv.Itoa(max) + " characters"
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "may only contain A-Z a-z 0-9 _ -"
		}
	}
	return ""
}

// HexSerialRule is the rule of a certificate serial (wechat_v3's serial_no,
// docs/providers/wechat_v3.md): hex digits, at most 64 (a certificate
// serial is at most 20 bytes). A WeChat Pay public key id (PUB_KEY_ID_…)
// given as the merchant serial fails here.
func HexSerialRule(v string) string {
	if len(v) > 64 {
		return "is longer than 64 hex digits"
	}
	for i := 0; i < len(v); i++ {
		if !isHexDigit(v[i]) {
			return "must be the certificate serial in hex digits (the merchant API certificate's, not a PUB_KEY_ID_…)"
		}
	}
	return ""
}

// ASCIIKeyRule is the rule of a key WeChat issues as ASCII text (the APIv2
// key, the APIv3 key: docs/providers/wechat_v3.md, "32 ASCII bytes"):
// printable ASCII without spaces. Its length is the provider's own check.
func ASCIIKeyRule(v string) string {
	if !visibleASCII(v) {
		return "must be printable ASCII without spaces (the key as the merchant platform shows it)"
	}
	return ""
}

// IPRule is the rule of a configured client_ip (wechat_v2's
// spbill_create_ip, wechat_v3's payer_client_ip): an IPv4 or IPv6 address.
func IPRule(v string) string {
	if !ValidIP(v) {
		return "must be an IPv4 or IPv6 address"
	}
	return ""
}

// URLRule is the rule of a configured URL (notify_url, token_url,
// certificates_url), beside the provider's own: no control character, and
// no user info. A user:password@ would be sent to the provider and shown,
// as the field is no secret, by the admin API's GET /minipay/providers.
// Nor a fragment, which never reaches the server.
func URLRule(v string) string {
	if p := TextRule(v); p != "" {
		return p
	}
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return "must not carry user info (user:password@)"
	}
	if strings.Contains(v, "#") { // never sent; a '#' in a path or query is written %23
		return "must not have a fragment (#…)"
	}
	return ""
}

// NotifyURLRule is the rule of a configured notify_url, the one every pay
// without its own sends: URLRule, and the request's notify_url rule
// (README Merchant API), so that a default a request could not send (a
// space, a relative URL, 300 bytes) fails the load and caddy adapt instead
// of going out as is.
func NotifyURLRule(v string) string {
	if p := URLRule(v); p != "" {
		return p
	}
	return notifyURLProblem(v)
}

// PathRule is the rule of a configured request path (2C2P's payment_path,
// Latipay's refund_path): an absolute path of the characters RFC 3986
// allows, without query or fragment. Its path-absolute never begins with
// "//", which a URL reference reads as a host ("//evil.example/x").
func PathRule(v string) string {
	if v == "" || v[0] != '/' {
		return "must be an absolute path beginning with /"
	}
	if strings.HasPrefix(v, "//") {
		return "must not begin with // (a URL reads what follows as a host)"
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("?#<>\"\\^`{|}", c) >= 0 ||
			c == '%' && (i+2 >= len(v) || !isHexDigit(v[i+1]) || !isHexDigit(v[i+2])) {
			return "must be an absolute path of RFC 3986 characters (percent-encode the others), without query or fragment"
		}
	}
	return ""
}

// CheckValues fails naming the first set field whose value breaks its
// rule; the error never holds the value.
func CheckValues(c Config) error {
	for _, f := range c.ConfigFields() {
		if *f.Value == "" {
			continue
		}
		rule := f.Rule
		if rule == nil {
			rule = TextRule
		}
		if problem := rule(*f.Value); problem != "" {
			return errors.New(c.ProviderName() + ": " + f.Name + " " + problem)
		}
	}
	return nil
}

// RequiredFor tells whether the field must be set for role.
func (f ConfigField) RequiredFor(role Role) bool { return slices.Contains(f.Required, role) }

// AllRoles is the Required list of a field every role needs.
var AllRoles = []Role{RoleClient, RoleWebhook, RoleSandbox}

// Config is a provider's configuration as the Caddy modules hold it.
type Config interface {
	// ProviderName is the provider's name in configuration and answers
	// ("wechat_v2").
	ProviderName() string
	// ConfigFields lists every string field, in the order CheckRequired
	// looks for an empty one.
	ConfigFields() []ConfigField
}

// Checker is a Config that checks its resolved values and fills its
// defaults. It is not named Validate: Caddy calls Validate before the
// adapter has resolved the placeholders.
type Checker interface {
	Config
	Check() error
}

// MissingFieldError names a field that role needs and that is empty.
type MissingFieldError struct {
	Provider, Field string
}

// Error names the provider and the field, never a value.
func (e *MissingFieldError) Error() string { return e.Provider + ": " + e.Field + " is required" }

// CheckRequired fails with a *MissingFieldError naming the first field of
// c.ConfigFields() that role needs and that is empty. The Caddy adapter
// calls it after resolving placeholders; constructors call it through
// CheckConfig for users of the package without Caddy.
func CheckRequired(c Config, role Role) error {
	for _, f := range c.ConfigFields() {
		if *f.Value == "" && f.RequiredFor(role) {
			return &MissingFieldError{Provider: c.ProviderName(), Field: f.Name}
		}
	}
	return nil
}

// CheckConfig is what every provider constructor runs first: every set
// value's rule (CheckValues), the provider's own Check (when it has one),
// then the fields role requires.
func CheckConfig(c Config, role Role) error {
	if err := CheckValues(c); err != nil {
		return err
	}
	if ch, ok := c.(Checker); ok {
		if err := ch.Check(); err != nil {
			return err
		}
	}
	return CheckRequired(c, role)
}
