package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/minipay/caddy-minipay/transform"
)

// Every parse error of caddyfile.go, in the style of Caddy's own directive
// tests: caddyfile.NewTestDispenser over the directive's tokens.
func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for _, tt := range []struct {
		name, input, want string
		unmarshaler       func() caddyfile.Unmarshaler
	}{
		{"minipay without a provider", `minipay`, "expected a provider name", newHandler},
		{"minipay with two providers", `minipay wechat_v2 latipay`, "minipay takes one provider name, a matcher before it and the fields in a block: minipay [<matcher>] wechat_v2 {, at Testfile:1", newHandler},
		{"minipay, a matcher after the provider name", "minipay wechat_v2 /wechat/* {\n\tapp_id wx1\n}", "minipay takes one provider name, a matcher before it", newHandler},
		{"minipay, field without a value", "minipay wechat_v2 {\n\tapp_id\n}", "field app_id needs a value", newHandler},
		{"minipay, field with two values", "minipay wechat_v2 {\n\tapp_id wx1 wx2\n}", "field app_id takes one value", newHandler},
		{"minipay, field set twice", "minipay wechat_v2 {\n\tapp_id wx1\n\tapp_id wx2\n}", "field app_id is set twice", newHandler},
		{"minipay, a block after a field's value", "minipay wechat_v2 {\n\tapp_id wx1 {\n\t\tmch_id 1\n\t}\n}", "field app_id takes one value, not a block, at Testfile:2", newHandler},
		{"minipay_sandbox, a block after a field's value", "minipay_sandbox {\n\tcbtis {\n\t\tuid u {\n\t\t}\n\t}\n}", "field uid takes one value, not a block, at Testfile:3", newSandbox},
		{"minipay_webhook, a block after dedupe's value", "minipay_webhook latipay {\n\tapi_key k\n\tdedupe 25h {\n\t\t1h\n\t}\n}", "dedupe takes one value, not a block, at Testfile:3", newWebhook},
		{"minipay, a block after a quoted value", "minipay wechat_login {\n\tapp_secret \"s {\" {\n\t}\n}", "field app_secret takes one value, not a block, at Testfile:2", newHandler},
		{"minipay, a block on a line of its own", "minipay wechat_login {\n\tapp_id wx1\n\t{\n\t}\n}", "a provider field takes one value, not a block, at Testfile:3", newHandler},
		{"minipay, a token after the block", "minipay wechat_login {\n\tapp_id wx1\n\tapp_secret s\n}\nextra", `unexpected token "extra" after the provider block`, newHandler},
		{"minipay_webhook without a provider", `minipay_webhook`, "expected a provider name", newWebhook},
		{"minipay_webhook with two providers", `minipay_webhook latipay cbtis`, "minipay_webhook takes one provider name", newWebhook},
		{"minipay_webhook, field without a value", "minipay_webhook latipay {\n\tapi_key\n}", "field api_key needs a value", newWebhook},
		{"minipay_webhook, field with two values", "minipay_webhook latipay {\n\tapi_key a b\n}", "field api_key takes one value", newWebhook},
		{"minipay_webhook, field set twice", "minipay_webhook latipay {\n\tapi_key a\n\tapi_key b\n}", "field api_key is set twice", newWebhook},
		{"minipay_webhook, a token after the block", "minipay_webhook latipay {\n\tapi_key a\n}\nextra", `unexpected token "extra" after the provider block`, newWebhook},
		{"minipay_sandbox in minipay's form, a provider block in it", "minipay_sandbox wechat_v2 {\n\twechat_v2 {\n\t\tapp_id wx1\n\t}\n}", `provider wechat_v2 has no field "wechat_v2": wechat_v2 is a provider`, newSandbox},
		{"minipay_sandbox in minipay's form, two arguments", "minipay_sandbox wechat_v2 extra {\n\tapp_id wx1\n}", "minipay_sandbox takes one provider name", newSandbox},
		{"minipay_sandbox in minipay's form, unknown provider", "minipay_sandbox stripe {\n\tkey k\n}", `unknown provider "stripe"`, newSandbox},
		{"minipay_sandbox in minipay's form, a second block", "minipay_sandbox wechat_login {\n\tapp_id wx1\n\tapp_secret s\n}\n{\n}", "unexpected token", newSandbox},
		{"minipay_sandbox, provider with an argument", "minipay_sandbox {\n\twechat_v2 extra {\n\t\tapp_id wx1\n\t}\n}", "provider wechat_v2 takes its fields in a block (wechat_v2 {, then one field a line), not on its line, at Testfile:2", newSandbox},
		{"minipay_sandbox, provider twice", "minipay_sandbox {\n\twechat_login {\n\t\tapp_id wx1\n\t\tapp_secret a\n\t}\n\twechat_login {\n\t\tapp_id wx1\n\t\tapp_secret b\n\t}\n}", "provider wechat_login is configured twice", newSandbox},
		{"minipay_sandbox without a provider", `minipay_sandbox`, "minipay_sandbox needs at least one provider block", newSandbox},
		{"minipay_sandbox with an empty block", "minipay_sandbox {\n}", "minipay_sandbox needs at least one provider block", newSandbox},
		{"minipay_sandbox, field without a value", "minipay_sandbox {\n\tcbtis {\n\t\tuid\n\t}\n}", "field uid needs a value", newSandbox},
		{"minipay_sandbox, field with two values", "minipay_sandbox {\n\tcbtis {\n\t\tuid a b\n\t}\n}", "field uid takes one value", newSandbox},
		{"minipay_sandbox, field set twice", "minipay_sandbox {\n\tcbtis {\n\t\tuid a\n\t\tuid b\n\t}\n}", "field uid is set twice", newSandbox},
		// What Caddy would refuse when loading the JSON is refused here, at its line.
		// The list is the registered providers' (TestEveryProviderIsDocumented
		// keeps each one documented), so a new provider does not change this row.
		{"minipay, unknown provider", "minipay paypal {\n\tapp_id wx1\n}", `unknown provider "paypal" (one of ` + strings.Join(providerNames(), ", ") + `), at Testfile:1`, newHandler},
		{"minipay_webhook, unknown provider", "minipay_webhook alipay {\n\tapi_key k\n}", `unknown provider "alipay"`, newWebhook},
		{"minipay_sandbox, unknown provider", "minipay_sandbox {\n\twechat_login {\n\t\tapp_id wx1\n\t\tapp_secret a\n\t}\n\tstripe {\n\t\tkey k\n\t}\n}", `unknown provider "stripe"`, newSandbox},
		{"minipay, unknown field", "minipay wechat_v2 {\n\tapp_id wx1\n\tcolour red\n}", `provider wechat_v2 has no field "colour", at Testfile:3`, newHandler},
		{"minipay, a webhook's option", "minipay wechat_v2 {\n\tdedupe 25h\n}", `provider wechat_v2 has no field "dedupe"`, newHandler},
		{"minipay_webhook, unknown field", "minipay_webhook cbtis {\n\tapi_key k\n\tsignature_hedaer X-Sig\n}", `provider cbtis has no field "signature_hedaer"`, newWebhook},
		{"minipay_sandbox, unknown field", "minipay_sandbox {\n\tcbtis {\n\t\tuid u\n\t\ttokenurl x\n\t}\n}", `provider cbtis has no field "tokenurl", at Testfile:4`, newSandbox},
		// Provider names are exact too; a field written where a sandbox's provider block goes is named as such.
		{"minipay, a provider name in another case", "minipay WeChat_V2 {\n\tapp_id wx1\n}", `unknown provider "WeChat_V2" (provider names are exact: wechat_v2), at Testfile:1`, newHandler},
		{"minipay_sandbox, a provider name in another case", "minipay_sandbox {\n\tWECHAT_V2 {\n\t\tapp_id wx1\n\t}\n}", `unknown provider "WECHAT_V2" (provider names are exact: wechat_v2), at Testfile:2`, newSandbox},
		{"minipay_sandbox, a provider block inside another", "minipay_sandbox {\n\tlatipay {\n\t\twechat_v2 {\n\t\t\tapp_id wx1\n\t\t}\n\t}\n}", `provider latipay has no field "wechat_v2": wechat_v2 is a provider, and a provider's block holds only its own fields, at Testfile:3`, newSandbox},
		{"minipay_sandbox, fields without their provider block", "minipay_sandbox {\n\tapp_id wx1\n\tmch_id 1\n}", "app_id is a provider's field, not a provider: minipay_sandbox's block holds one block per provider (<provider_name> {, then its fields, one a line), at Testfile:2", newSandbox},
		{"minipay, a field for the provider name", "minipay app_id {\n\tmch_id 1\n}", "app_id is a provider's field, not a provider name, at Testfile:1", newHandler},
		// Field names are exact, as in the README (encoding/json would take APP_ID for app_id).
		{"minipay, a field name in another case", "minipay wechat_v2 {\n\tAPP_ID wx1\n}", `provider wechat_v2 has no field "APP_ID" (field names are exact: app_id), at Testfile:2`, newHandler},
		{"minipay_sandbox, a field name in another case", "minipay_sandbox {\n\twechat_login {\n\t\tExpose_Session_Key true\n\t}\n}", `provider wechat_login has no field "Expose_Session_Key" (field names are exact: expose_session_key)`, newSandbox},
		// A line that is a value without its field name: the token is not repeated (it may be the secret).
		{"minipay, a value without its field", "minipay latipay {\n\tuser_id U1\n\t" + lineSecret + "\n}", "provider latipay has no such field (the name is not repeated: it looks like a value, which may be a secret), at Testfile:3", newHandler},
		{"minipay_webhook, a value without its field", "minipay_webhook cbtis {\n\t" + lineSecret + " x\n}", "provider cbtis has no such field (the name is not repeated", newWebhook},
		{"minipay_sandbox, a value without its field", "minipay_sandbox {\n\t2c2p {\n\t\t" + lineSecret + "\n\t}\n}", "provider 2c2p has no such field (the name is not repeated", newSandbox},
		// A key written where a provider name, or nothing, goes: Caddy's "wrong argument count … after '<token>'" would repeat it.
		{"minipay_sandbox, a secret field without its provider block", "minipay_sandbox {\n\tapi_key " + lineSecret + "\n}", "api_key is a provider's field, not a provider", newSandbox},
		{"minipay_sandbox, a key on the provider's line", "minipay_sandbox {\n\tlatipay " + lineSecret + "\n}", "provider latipay takes its fields in a block", newSandbox},
		{"minipay_sandbox, a key for the provider name", "minipay_sandbox {\n\t" + lineSecret + "\n}", "unknown provider (the name is not repeated: it looks like a value, which may be a secret; one of " + strings.Join(providerNames(), ", ") + "), at Testfile:2", newSandbox},
		{"minipay, a key after the provider name", "minipay latipay " + lineSecret + " {\n\tuser_id U1\n}", "minipay takes one provider name", newHandler},
		{"minipay_webhook, a key for the provider name", "minipay_webhook " + lineSecret + " {\n}", "unknown provider (the name is not repeated", newWebhook},
		// Keys of letters alone: upper case (no field name has any), and past any field name's length.
		{"minipay, an upper-case key without its field", "minipay wechat_v2 {\n\tQAZWSXEDCRFVTGBYHNUJMIKOLPABCDEF\n}", "provider wechat_v2 has no such field (the name is not repeated", newHandler},
		{"minipay, a long lower-case key without its field", "minipay cbtis {\n\tqazwsxedcrfvtgbyhnujmikolp\n}", "provider cbtis has no such field (the name is not repeated", newHandler},
		// A value written as is is held to the rule the load holds it to, at its line (README Provider fields).
		{"minipay, an id against its rule", "minipay wechat_v3 {\n\tapp_id wx1\n\tmch_id ../../x\n}", "wechat_v3: mch_id may only contain A-Z a-z 0-9 _ -, at Testfile:3", newHandler},
		{"minipay_webhook, a URL with user info", "minipay_webhook cbtis {\n\tapi_key k\n\tnotify_url https://u:" + lineSecret + "@m.example/n\n}", "cbtis: notify_url ", newWebhook},
		{"minipay_sandbox, a key ending in white space", "minipay_sandbox {\n\tlatipay {\n\t\tapi_key \"" + lineSecret + " \"\n\t}\n}", "provider latipay: field api_key begins or ends with white space (a line ending left by the file or variable it was read from?), at Testfile:3", newSandbox},
		{"minipay, a byte order mark before a key", "minipay latipay {\n\tapi_key \uFEFF" + lineSecret + "\n}", "provider latipay: field api_key begins with a byte order mark", newHandler},
		{"minipay, a control character in a quoted value", "minipay wechat_login {\n\tapp_secret \"" + lineSecret + "\x1b[31m\"\n}", "wechat_login: app_secret holds a control character, at Testfile:2", newHandler},
		// A whole placeholder Caddy's replacer does not know at load, at its line (the load names no line).
		{"minipay, an import argument not given", "minipay latipay {\n\tapi_key {args[3]}\n}", "provider latipay: field api_key holds a placeholder that has no value when the configuration loads (the global ones are {env.NAME} and {file./path}; {$NAME} is the Caddyfile's, expanded by caddy adapt), at Testfile:2", newHandler},
		{"minipay_webhook, an env placeholder in another case", "minipay_webhook latipay {\n\tapi_key {ENV.LATIPAY_API_KEY}\n}", "provider latipay: field api_key holds a placeholder that has no value when the configuration loads", newWebhook},
		// A field the handler requires, left out or given as "", at the block's end (the load would name no line).
		{"minipay, a required field left out", "minipay latipay {\n\tapi_key k\n}", "provider latipay: field user_id is required by minipay and not set in its block, at Testfile:3", newHandler},
		{"minipay without a block", "minipay wechat_login", "provider wechat_login: field app_id is required by minipay and not set in its block, at Testfile:1", newHandler},
		{"minipay_webhook, a required field given as \"\"", "minipay_webhook latipay {\n\tapi_key \"\"\n}", "provider latipay: field api_key is required by minipay_webhook and not set in its block, at Testfile:3", newWebhook},
		{"minipay_sandbox, a required field left out", "minipay_sandbox {\n\twechat_login {\n\t\tapp_id wx1\n\t}\n}", "provider wechat_login: field app_secret is required by minipay_sandbox and not set in its block, at Testfile:4", newSandbox},
		{"minipay, a boolean for a string", "minipay cbtis {\n\tuid true\n}", "field uid takes a string, not a bool, at Testfile:2", newHandler},
		{"minipay, a string for a boolean", "minipay wechat_login {\n\texpose_session_key yes\n}", "field expose_session_key takes a bool, not a string", newHandler},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.unmarshaler().UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil {
				t.Fatalf("%q parsed without error", tt.input)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), lineSecret) {
				t.Fatalf("error %q repeats a value", err)
			}
		})
	}
}

// lineSecret is a secret written on a line of its own, without its field name.
const lineSecret = "lp-sandbox-3f9a1c7e5b2d4086"

func newHandler() caddyfile.Unmarshaler { return new(Handler) }
func newWebhook() caddyfile.Unmarshaler { return new(Webhook) }
func newSandbox() caddyfile.Unmarshaler { return new(Sandbox) }

// The provider block becomes the inline provider object: JSON names as
// written, true and false as booleans, placeholders untouched.
func TestUnmarshalCaddyfileProvider(t *testing.T) {
	in := "minipay wechat_login {\n\tapp_id wx1\n\tapp_secret {env.WECHAT_APP_SECRET}\n\texpose_session_key true\n}"
	for _, u := range []interface {
		caddyfile.Unmarshaler
		raw() json.RawMessage
	}{new(Handler), new(Webhook)} {
		if err := u.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
			t.Fatal(err)
		}
		const want = `{"app_id":"wx1","app_secret":"{env.WECHAT_APP_SECRET}","expose_session_key":true,"name":"wechat_login"}`
		if got := string(u.raw()); got != want {
			t.Fatalf("%T provider = %s, want %s", u, got, want)
		}
	}
	s := new(Sandbox)
	err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser("minipay_sandbox {\n\twechat_login {\n\t\tapp_id wx1\n\t\tapp_secret s\n\t}\n\t2c2p {\n\t\tmerchant_id JT01\n\t\tsecret_key k\n\t\tapp_id wx1\n\t}\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ProvidersRaw) != 2 || string(s.ProvidersRaw[0]) != `{"app_id":"wx1","app_secret":"s","name":"wechat_login"}` ||
		string(s.ProvidersRaw[1]) != `{"app_id":"wx1","merchant_id":"JT01","name":"2c2p","secret_key":"k"}` {
		t.Fatalf("sandbox providers = %s", s.ProvidersRaw)
	}
	// One provider in minipay's own form (README Configuration, Caddyfile: the directive shape).
	s = new(Sandbox)
	if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser("minipay_sandbox wechat_login {\n\tapp_id wx1\n\tapp_secret s\n}")); err != nil {
		t.Fatal(err)
	}
	if len(s.ProvidersRaw) != 1 || string(s.ProvidersRaw[0]) != `{"app_id":"wx1","app_secret":"s","name":"wechat_login"}` {
		t.Fatalf("sandbox providers = %s", s.ProvidersRaw)
	}
}

func (b *providerHandler) raw() json.RawMessage { return b.ProviderRaw }

// TestCaddyfileQuotedBooleanIsAString: true and false become booleans
// unless quoted, so a string field can hold the text "true" (README
// Configuration, Caddyfile).
func TestCaddyfileQuotedBooleanIsAString(t *testing.T) {
	for _, tt := range []struct {
		name, line, want, wantErr string
	}{
		{"quoted true in a string field", `app_secret "true"`, `{"app_id":"wx1","app_secret":"true","name":"wechat_login"}`, ""},
		{"quoted false in a string field", `app_secret "false"`, `{"app_id":"wx1","app_secret":"false","name":"wechat_login"}`, ""},
		{"unquoted true in a string field", `app_secret true`, "", "field app_secret takes a string, not a bool"},
		{"unquoted false in a boolean field", "expose_session_key false\n\tapp_secret s", `{"app_id":"wx1","app_secret":"s","expose_session_key":false,"name":"wechat_login"}`, ""},
		{"quoted true in a boolean field", `expose_session_key "true"`, "", "field expose_session_key takes a bool, not a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := new(Handler)
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("minipay wechat_login {\n\tapp_id wx1\n\t" + tt.line + "\n}"))
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr == "" && string(h.ProviderRaw) != tt.want:
				t.Fatalf("provider %s, want %s", h.ProviderRaw, tt.want)
			}
		})
	}
}

// TestCaddyfileValuesWithPlaceholdersCheckedAtLoad: a value holding a
// placeholder, or what Caddy's replacer reads, is left to the load, which
// checks it once resolved; so are a rule's valid values and PEM text
// written in a heredoc.
func TestCaddyfileValuesWithPlaceholdersCheckedAtLoad(t *testing.T) {
	for _, line := range []string{
		"mch_id {env.MINIPAY_MCH_ID}",
		"mch_id {system.hostname}",                                  // a global placeholder other than {env.*} and {file.*}
		"private_key {file./nonexistent/minipay/apiclient_key.pem}", // not read by caddy adapt
		"mch_id 1900{env.MINIPAY_MCH_SUFFIX}",
		"notify_url https://{env.MINIPAY_HOST}/webhooks/wechat_v3",
		"mch_id 1900000109",
		"mch_id 19000_00109-x",
		"serial_no 3775B6A45ACD588826D15E583A95F5DD2F2D3B4A",
		"notify_url https://pay.example.com/webhooks/wechat_v3",
		"public_key <<PEM\n\t\t-----BEGIN PUBLIC KEY-----\n\t\tAAAA\n\t\t-----END PUBLIC KEY-----\n\t\tPEM",
	} {
		h := new(Handler)
		field, _, _ := strings.Cut(line, " ")
		block := "minipay wechat_v3 {\n\t" + line + "\n" + requiredFieldLines(t, "wechat_v3", transform.RoleClient, field, "\t") + "}"
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block)); err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
}
