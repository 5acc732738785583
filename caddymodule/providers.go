package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
)

// A provider is a guest module in the minipay.providers namespace: a
// transform configuration plus the constructors of the sides it has. Adding
// a provider means a transform sub-package and one file here like
// provider_wechatv2.go: the wrapper type and its registration.
type provider interface {
	caddy.Module
	transform.Config
}

type clientProvider interface {
	NewClient() (transform.Client, error)
}

type webhookProvider interface {
	NewWebhook() (transform.Webhook, error)
}

type sandboxProvider interface {
	NewSandbox() (transform.Sandbox, error)
}

// providerNamespace is the provider guest modules' namespace.
const providerNamespace = "minipay.providers"

// providerNames lists the registered providers' names, sorted: GetModules
// sorts by ID, and the IDs differ only in the name.
func providerNames() []string {
	var names []string
	for _, m := range caddy.GetModules(providerNamespace) {
		names = append(names, m.ID.Name())
	}
	return names
}

func providerInfo(name string, newFn func() caddy.Module) caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: caddy.ModuleID(providerNamespace + "." + name), New: newFn}
}

// resolveProvider turns a loaded guest module into a provider with every
// field's placeholders ({env.*}, {file.*}) resolved, and fails naming the
// provider and the field when one that role needs is empty. The values are
// never part of an error.
func resolveProvider(mod any, role transform.Role) (provider, error) {
	p, ok := mod.(provider)
	if !ok {
		return nil, fmt.Errorf("minipay: module %T is not a minipay provider", mod)
	}
	repl := caddy.NewReplacer()
	for _, f := range p.ConfigFields() {
		written := *f.Value
		*f.Value = repl.ReplaceKnown(written, "")
		// A placeholder with no value at load is kept as its text, which
		// would become the key. A request placeholder: the Caddyfile
		// adapter makes {file.NAME} (no / nor .) one. Any other unknown
		// one that is the whole value: {$NAME} (the Caddyfile's syntax) in
		// JSON, {ENV.NAME}. Braces inside a value are a secret's own.
		switch {
		case requestPlaceholderProblem(*f.Value) != "":
			return nil, fmt.Errorf("minipay: provider %s: field %s %s", p.ProviderName(), f.Name, requestPlaceholderProblem(*f.Value))
		case *f.Value == "" && envWithDefault(written):
			return nil, fmt.Errorf("minipay: provider %s: field %s holds {env.NAME:…}, which Caddy reads as the variable named with the colon and all, unset: a global placeholder takes no default (the Caddyfile's {$NAME:default} does, expanded by caddy adapt)", p.ProviderName(), f.Name)
		case *f.Value == written && wholePlaceholder(written):
			return nil, fmt.Errorf("minipay: provider %s: field %s %s", p.ProviderName(), f.Name, unknownPlaceholder)
		// A required field left empty fails below; an optional one would
		// be silently unset (a cbtis api_key then defaults to
		// client_secret), though Caddy only logs the unreadable file.
		case *f.Value == "" && strings.HasPrefix(written, "{file.") && wholePlaceholder(written) && !f.RequiredFor(role):
			return nil, fmt.Errorf("minipay: provider %s: field %s holds a {file.…} placeholder that resolved to nothing (a file that cannot be read, or an empty one)", p.ProviderName(), f.Name)
		case valueProblem(*f.Value) != "":
			return nil, fmt.Errorf("minipay: provider %s: field %s %s", p.ProviderName(), f.Name, valueProblem(*f.Value))
		}
	}
	var missing *transform.MissingFieldError
	if errors.As(transform.CheckRequired(p, role), &missing) {
		return nil, fmt.Errorf("minipay: provider %s: field %s is required and empty (after resolving placeholders)", missing.Provider, missing.Field)
	}
	return p, nil
}

// requestPlaceholderProblem says why a value holding a request placeholder
// cannot be used, "" when it holds none: {http.…} has no value when the
// configuration loads, and would be kept as its text. The Caddyfile's
// shorthands ({header.NAME}, {vars.NAME}, {query.NAME}, …) are such
// placeholders once adapted, and so is {file.NAME} when NAME is only
// letters, digits, _ and - (README Secrets: Caddy's [\w-]*).
func requestPlaceholderProblem(v string) string {
	switch {
	case strings.Contains(v, "{http.request.uri.path.file."):
		return "holds the request placeholder {http.…} the Caddyfile makes of {file.NAME} when NAME is only letters, digits, _ and -, which has no value when the configuration loads (write a file as {file./absolute/path})"
	case strings.Contains(v, "{http."):
		return "holds the request placeholder {http.…} (which the Caddyfile's {header.*}, {vars.*}, {query.*}… are), which has no value when the configuration loads (the global ones are {env.NAME} and {file./path})"
	}
	return ""
}

// valueProblem says what is wrong with a resolved provider value that
// came from where it was read, "" when nothing is: white space at its
// start or end, or a byte order mark at its start. No id, key, URL or name
// has either: it would be signed or sent as is, and every call fail with
// the provider's "signature error". An env file with CRLF lines leaves a
// \r (Caddy trims one line ending of a file); an editor saving "UTF-8
// with BOM" (Windows Notepad's choice before 2019) puts U+FEFF before the
// key, which is no white space to strings.TrimSpace; one saving UTF-16
// (Windows PowerShell 5's > and Out-File, Notepad's "Unicode") puts a NUL
// after every ASCII byte, which no value holds, and so does a key given
// in DER instead of PEM. PEM text may end with its
// line ending, and its parser skips what precedes it.
func valueProblem(v string) string {
	switch {
	case strings.IndexByte(v, 0) >= 0:
		return "holds a NUL byte (the file it was read from is binary, such as a DER key, or text saved as UTF-16: give UTF-8 text, PEM for a key)"
	case strings.Contains(v, "-----BEGIN "):
		return ""
	case strings.HasPrefix(v, "\uFEFF"):
		return "begins with a byte order mark (U+FEFF: the file it was read from was saved as UTF-8 with BOM; save it without)"
	case v != strings.TrimSpace(v):
		return "begins or ends with white space (a line ending left by the file or variable it was read from?)"
	}
	return ""
}

// envWithDefault tells whether s is one {env.*} placeholder written with
// a default after a colon, as the Caddyfile's {$NAME:default} is: Caddy's
// replacer has no defaults, and looks up the variable "NAME:default".
func envWithDefault(s string) bool {
	return wholePlaceholder(s) && strings.HasPrefix(s, "{env.") && strings.Contains(s, ":")
}

// unknownPlaceholder is what is wrong with a field that is one placeholder
// Caddy's global replacer does not know when the configuration loads.
const unknownPlaceholder = "holds a placeholder that has no value when the configuration loads (the global ones are {env.NAME} and {file./path}; {$NAME} is the Caddyfile's, expanded by caddy adapt)"

// knownAtLoad tells whether a whole placeholder has a value when the
// configuration loads, without reading a {file.*} (caddy adapt may run
// where the secrets are not): {env.*}, {file.*} and the replacer's other
// global ones ({system.*}, {time.now*}) do.
func knownAtLoad(placeholder string) bool {
	key := placeholder[1 : len(placeholder)-1]
	if strings.HasPrefix(key, "env.") || strings.HasPrefix(key, "file.") {
		return true
	}
	_, known := caddy.NewReplacer().Get(key)
	return known
}

// wholePlaceholder tells whether s is one placeholder and nothing else:
// "{name}" with no brace or space inside.
func wholePlaceholder(s string) bool {
	return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' && !strings.ContainsAny(s[1:len(s)-1], "{} \t\r\n")
}

// providerObjectName reads a provider object's "name" as Caddy's module
// loader does (that exact key, a non-empty string) and fails where the
// loader would, before it can: the loader's message for a missing name
// prints the whole object, secrets included ("module name not specified
// with key 'name' in map[api_key:…]"), in the /load answer and the log.
// It also holds the object's name and field names to the exact names: the
// loader would call "WeChat_V2" only unknown, and encoding/json, Caddy's
// decoder, matches field names without regard to case.
func providerObjectName(raw json.RawMessage) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return "", errors.New("the provider must be a JSON object")
	}
	var name string
	if v, ok := obj["name"]; !ok || json.Unmarshal(v, &name) != nil || name == "" {
		return "", fmt.Errorf(`the provider object needs "name", a string naming the provider (one of %s)`, strings.Join(providerNames(), ", "))
	}
	info, err := caddy.GetModule(providerNamespace + "." + name)
	if err != nil {
		for _, n := range providerNames() {
			if strings.EqualFold(n, name) {
				return name, fmt.Errorf("unknown provider %q (provider names are exact: %s)", name, n)
			}
		}
		return name, nil // Caddy's loader names the unknown module
	}
	keys := slices.Sorted(maps.Keys(obj))
	for _, key := range keys {
		if key == "name" {
			continue
		}
		if err := knownField(info, key); err != nil {
			return name, err
		}
		// A value of the wrong type is named as a Caddyfile names it
		// ("field mch_id takes a string, not a number"), not by Go's
		// struct path.
		var value any
		if json.Unmarshal(obj[key], &value) == nil && value != nil {
			if err := checkField(info, key, value); err != nil {
				return name, fmt.Errorf("provider %s: %w", name, err)
			}
		}
	}
	return name, nil
}

// knownField fails unless field is exactly the JSON name of one of the
// provider's fields; the message names the field as written and, where
// only its case differs, the name meant. A name that looks like a value
// (a digit, a character no field name has) is not repeated: it may be a
// secret written without its field name.
func knownField(info caddy.ModuleInfo, field string) error {
	names := jsonFieldNames(reflect.TypeOf(info.New()))
	if slices.Contains(names, field) {
		return nil
	}
	for _, n := range names {
		if strings.EqualFold(n, field) {
			return fmt.Errorf("provider %s has no field %q (field names are exact: %s)", info.ID.Name(), field, n)
		}
	}
	if looksLikeValue(field) {
		return fmt.Errorf("provider %s has no such field (the name is not repeated: it looks like a value, which may be a secret)", info.ID.Name())
	}
	return fmt.Errorf("provider %s has no field %q", info.ID.Name(), field)
}

// looksLikeValue tells a field name written by mistake with a value's text
// (a digit, an upper-case letter or another character no field name has,
// or longer than 24 characters, where the longest field name has 20): such
// a name is never repeated in an error. A key of letters alone is one
// (QAZWSX…); a field name in another case is named by its match before
// this is asked.
func looksLikeValue(name string) bool {
	return len(name) > 24 || strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz_-") != ""
}

// jsonFieldNames lists the JSON names of t's fields as encoding/json
// decodes them, those of embedded structs included.
func jsonFieldNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
			names = append(names, jsonFieldNames(f.Type)...)
		case tag != "":
			names = append(names, tag)
		default:
			names = append(names, f.Name)
		}
	}
	return names
}
