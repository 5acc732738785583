package transform

import "slices"

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

// CheckConfig is what every provider constructor runs first: the provider's
// own Check (when it has one), then the fields role requires.
func CheckConfig(c Config, role Role) error {
	if ch, ok := c.(Checker); ok {
		if err := ch.Check(); err != nil {
			return err
		}
	}
	return CheckRequired(c, role)
}
