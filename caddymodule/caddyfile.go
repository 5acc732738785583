package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/minipay/caddy-minipay/transform"
)

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens (Webhook
// has its own, for its dedupe option):
//
//	minipay [<matcher>] <provider_name> {
//	    <field> <value>
//	}
func (b *providerHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	raw, err := parseProviderDirective(d, nil, transform.RoleClient)
	b.ProviderRaw = raw
	return err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	minipay_webhook [<matcher>] <provider_name> {
//	    dedupe <duration>
//	    <field> <value>
//	}
//
// dedupe is the handler's own option (JSON "dedupe" beside "provider"),
// taken out before the provider's fields.
func (h *Webhook) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	raw, err := parseProviderDirective(d, h.handlerOption, transform.RoleWebhook)
	h.ProviderRaw = raw
	return err
}

// handlerOption takes the handler's own options out of the provider block:
// "dedupe <duration>".
func (h *Webhook) handlerOption(d *caddyfile.Dispenser) (bool, error) {
	if d.Val() != "dedupe" {
		return false, nil
	}
	if !d.NextArg() {
		return true, d.Err("dedupe needs a duration, such as dedupe 25h")
	}
	dur, err := caddy.ParseDuration(d.Val())
	if err != nil {
		return true, d.Err(dedupeNotADuration(strconv.Quote(d.Val())))
	}
	if dur <= 0 { // 0 is off in JSON only: here, leave dedupe out
		return true, d.Errf("dedupe: %q is not a positive duration", d.Val())
	}
	if problem := dedupeWindowProblem(dur, true); problem != "" {
		return true, d.Err("dedupe " + problem)
	}
	if d.NextArg() {
		return true, d.Err("dedupe takes one duration")
	}
	if h.Dedupe != 0 {
		return true, d.Err("dedupe is set twice")
	}
	h.Dedupe = DedupeWindow(dur)
	return true, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	minipay_sandbox [<matcher>] {
//	    <provider_name> {
//	        <field> <value>
//	    }
//	    ...
//	}
//
// or, for one provider, minipay's form: minipay_sandbox <provider_name> { ... }.
func (s *Sandbox) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.CountRemainingArgs() > 1 { // the directive name, then a provider name
		raw, err := parseProviderDirective(d, nil, transform.RoleSandbox)
		if err != nil {
			return err
		}
		s.ProvidersRaw = append(s.ProvidersRaw, raw)
		return nil
	}
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if _, err := caddy.GetModule(providerNamespace + "." + name); err != nil {
			return unknownProvider(d, name, true)
		}
		if d.NextArg() { // not repeated: "wechat_v2 <key>" may be a key
			return d.Errf("provider %s takes its fields in a block (%s {, then one field a line), not on its line", name, name)
		}
		if seen[name] {
			return d.Errf("provider %s is configured twice", name)
		}
		seen[name] = true
		raw, err := parseProviderBlock(d, name, nil, transform.RoleSandbox)
		if err != nil {
			return err
		}
		s.ProvidersRaw = append(s.ProvidersRaw, raw)
	}
	if len(s.ProvidersRaw) == 0 {
		return d.Err("minipay_sandbox needs at least one provider block")
	}
	return nil
}

// handlerOption consumes a line of the block that is the handler's own
// option rather than a provider field, and tells whether it did.
type handlerOption func(d *caddyfile.Dispenser) (bool, error)

// parseProviderDirective reads "<directive> <provider_name> { ... }" for
// the handler of role.
func parseProviderDirective(d *caddyfile.Dispenser, option handlerOption, role transform.Role) (json.RawMessage, error) {
	d.Next() // directive name
	directive := d.Val()
	if !d.NextArg() {
		return nil, d.Err("expected a provider name")
	}
	name := d.Val()
	if _, err := caddy.GetModule(providerNamespace + "." + name); err != nil {
		return nil, unknownProvider(d, name, false)
	}
	if d.NextArg() { // not repeated: it may be a key written on the wrong line
		return nil, d.Errf("%s takes one provider name, a matcher before it and the fields in a block: %s [<matcher>] %s {", directive, directive, name)
	}
	raw, err := parseProviderBlock(d, name, option, role)
	if err != nil {
		return nil, err
	}
	if d.Next() {
		return nil, d.Errf("unexpected token %q after the provider block", d.Val())
	}
	return raw, nil
}

// parseProviderBlock turns "<field> <value>" lines into the provider's JSON
// object; field names are the JSON names. true and false, unquoted, become
// booleans (expose_session_key), everything else a string, so placeholders pass
// through untouched and are resolved at Provision. Lines option consumes
// (when not nil) are the handler's, not the provider's. A field the
// handler of role requires that the block leaves out or writes as "" is
// refused at the block's end, as the load would refuse it without a line.
func parseProviderBlock(d *caddyfile.Dispenser, name string, option handlerOption, role transform.Role) (json.RawMessage, error) {
	info, err := caddy.GetModule(providerNamespace + "." + name)
	if err != nil {
		return nil, unknownProvider(d, name, false)
	}
	fields := map[string]any{}
	// The field or option of the line before, and that line: a block
	// opened on it after the value is that field's.
	prev, prevLine := "", 0
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		field := d.Val()
		if field == "{" && !d.Token().Quoted() { // "app_id wx1 {": a block after a value
			switch {
			case prev == "" || d.Line() != prevLine:
				return nil, d.Err("a provider field takes one value, not a block")
			case knownField(info, prev) == nil:
				return nil, d.Errf("field %s takes one value, not a block", prev)
			}
			return nil, d.Errf("%s takes one value, not a block", prev)
		}
		prev, prevLine = field, d.Line()
		if option != nil {
			if taken, err := option(d); taken || err != nil {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		if err := knownField(info, field); err != nil {
			if _, isProvider := caddy.GetModule(providerNamespace + "." + field); isProvider == nil {
				return nil, d.Errf("provider %s has no field %q: %s is a provider, and a provider's block holds only its own fields", name, field, field)
			}
			return nil, d.Errf("%s", err.Error())
		}
		if !d.NextArg() {
			return nil, d.Errf("field %s needs a value", field)
		}
		var value any = d.Val()
		switch {
		case d.Token().Quoted(): // "true" in quotes is the string, as a user quoting it means
		case d.Val() == "true":
			value = true
		case d.Val() == "false":
			value = false
		}
		if d.NextArg() {
			return nil, d.Errf("field %s takes one value", field)
		}
		if _, dup := fields[field]; dup {
			return nil, d.Errf("field %s is set twice", field)
		}
		if err := checkField(info, field, value); err != nil {
			return nil, d.Errf("%s", err.Error())
		}
		if text, ok := value.(string); ok {
			if err := checkWrittenValue(info, field, text); err != nil {
				return nil, d.Errf("%s", err.Error())
			}
		}
		fields[field] = value
	}
	if missing := missingRequired(info, fields, role); missing != "" {
		return nil, d.Errf("provider %s: field %s is required by %s and not set in its block", name, missing, roleDirective[role])
	}
	return caddyconfig.JSONModuleObject(fields, "name", name, nil), nil
}

// roleDirective is the directive of each handler role.
var roleDirective = map[transform.Role]string{
	transform.RoleClient:  "minipay",
	transform.RoleWebhook: "minipay_webhook",
	transform.RoleSandbox: "minipay_sandbox",
}

// missingRequired names the first field role requires that fields, a
// block's written values, leaves out or gives as "", in the order
// transform.CheckRequired checks them at load; "" when none. A value
// holding a placeholder is set here, and checked once resolved.
func missingRequired(info caddy.ModuleInfo, fields map[string]any, role transform.Role) string {
	p, ok := info.New().(provider)
	if !ok {
		return ""
	}
	for _, f := range p.ConfigFields() {
		if v, _ := fields[f.Name].(string); v == "" && f.RequiredFor(role) {
			return f.Name
		}
	}
	return ""
}

// unknownProvider is the error for a provider name no module has, at its
// line. Like knownField's for a field, it names the provider meant when
// only the case differs, and never repeats a name that looks like a value
// (a key written where the name goes). A provider's field written where
// a provider block goes (minipay_sandbox { app_id … }, or a snippet of
// fields imported there) is named as such; inSandbox adds how the
// sandbox's block is written.
func unknownProvider(d *caddyfile.Dispenser, name string, inSandbox bool) error {
	names := providerNames()
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return d.Errf("unknown provider %q (provider names are exact: %s)", name, n)
		}
	}
	for _, n := range names {
		info, _ := caddy.GetModule(providerNamespace + "." + n)
		switch {
		case knownField(info, name) != nil:
		case inSandbox:
			return d.Errf("%s is a provider's field, not a provider: minipay_sandbox's block holds one block per provider (<provider_name> {, then its fields, one a line)", name)
		default:
			return d.Errf("%s is a provider's field, not a provider name", name)
		}
	}
	if looksLikeValue(name) {
		return d.Errf("unknown provider (the name is not repeated: it looks like a value, which may be a secret; one of %s)", strings.Join(names, ", "))
	}
	return d.Errf("unknown provider %q (one of %s)", name, strings.Join(names, ", "))
}

// checkWrittenValue refuses at its line a value written as is that breaks
// the rule the load holds it to (README Provider fields: white space at its
// ends, a byte order mark, an id's alphabet, a URL's user info), so that
// caddy adapt names the file and line, where the load names only the
// route's position. A request placeholder never resolves at load, so is
// refused here too. A value holding another placeholder, or anything
// Caddy's replacer reads ({, } or \), is checked once resolved, at load.
// The message is the load's, never holding the value.
func checkWrittenValue(info caddy.ModuleInfo, field, value string) error {
	p, ok := info.New().(provider)
	if !ok {
		return nil
	}
	if problem := requestPlaceholderProblem(value); problem != "" {
		return fmt.Errorf("provider %s: field %s %s", p.ProviderName(), field, problem)
	}
	// What the adapter leaves of an import argument not given ({args[3]}),
	// {ENV.NAME}, a placeholder of a module's.
	if wholePlaceholder(value) && !knownAtLoad(value) {
		return fmt.Errorf("provider %s: field %s %s", p.ProviderName(), field, unknownPlaceholder)
	}
	if strings.ContainsAny(value, `{}\`) {
		return nil
	}
	for _, f := range p.ConfigFields() {
		if f.Name != field {
			continue
		}
		if problem := valueProblem(value); problem != "" {
			return fmt.Errorf("provider %s: field %s %s", p.ProviderName(), field, problem)
		}
		*f.Value = value
		return transform.CheckValues(p)
	}
	return nil
}

// checkField refuses at its line a value of the wrong type for a known
// field, decoding it into a new provider as Caddy decodes the provider's
// JSON. The message never holds the value (it may be a secret).
func checkField(info caddy.ModuleInfo, field string, value any) error {
	b, err := json.Marshal(map[string]any{field: value})
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(info.New())
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		return fmt.Errorf("field %s takes a %s, not %s", field, typeErr.Type, withArticle(typeErr.Value))
	}
	return fmt.Errorf("field %s: invalid value", field)
}

// withArticle is a JSON type's name as encoding/json's UnmarshalTypeError
// gives it ("number", "object"), after its indefinite article.
func withArticle(jsonType string) string {
	if jsonType != "" && strings.IndexByte("aeiou", jsonType[0]) >= 0 { // an object, an array
		return "an " + jsonType
	}
	return "a " + jsonType
}

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

func parseWebhook(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Webhook)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

func parseSandbox(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Sandbox)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}
