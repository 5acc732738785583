package caddymodule

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzCaddyfileSandboxBlock: a minipay_sandbox block with any lines (README
// Sandbox: one block per provider, or minipay's one-provider form) is
// refused or becomes one provider object per provider block, each named
// once, of a provider Caddy has, its members fields of that provider of
// their type (decoded with unknown fields disallowed); a refusal never
// repeats a line's word that looks like a secret (8 bytes or more, with a
// digit) when the line names a key or secret field, nor a word in a
// provider name's place that looks like one and names no provider or field.
func FuzzCaddyfileSandboxBlock(f *testing.F) {
	f.Add("", "wechat_v2 {\n\t\tapp_id wx8888888888888888\n\t\tmch_id 1900000109\n\t\tapi_key 8934e7d15453e97507ef794cf7b0519d\n\t}\n\tcbtis {\n\t}")
	f.Add("", "wechat_v2 {\n\t}\n\twechat_v2 {\n\t}")
	f.Add("", "8934e7d15453e97507ef794cf7b0519d {\n\t}")
	f.Add("", "api_key 8934e7d15453e97507ef794cf7b0519d")
	f.Add("latipay", "api_key 111222333\n\tcurrency NZD")
	f.Add("latipay extra", "api_key 111222333")
	f.Add("", "WeChat_V2 {\n\t}")
	f.Add("", "wechat_v2 x {\n\t}")
	// Blocks with every field the sandbox requires, which parse.
	f.Add("", "wechat_login {\n\t\tapp_id wx8888888888888888\n\t\tapp_secret {env.APP_SECRET}\n\t}\n\twechat_v2 {\n\t\tapp_id wx8888888888888888\n\t\tmch_id 1900000109\n\t\tapi_key 8934e7d15453e97507ef794cf7b0519d\n\t}")
	f.Add("2c2p", "merchant_id JT01\n\tsecret_key 7jYcp4FxFdf0\n\tapp_id wx8888888888888888")
	// What an error may name: a provider (in any case) or a field.
	named, fields := map[string]bool{}, map[string]bool{}
	for _, n := range providerNames() {
		named[n] = true
		info, _ := caddy.GetModule(providerNamespace + "." + n)
		for _, field := range jsonFieldNames(reflect.TypeOf(info.New())) {
			fields[field] = true
		}
	}
	// The errors' own words, from blocks that are none of the fuzzer's: a
	// word found in them ("echat_v2" in the list of provider names) is not
	// repeated from the input.
	var ownWords []string
	for _, block := range []string{"zzzzzzzzzzzzzzzzzzzzzzzzzz {\n}", "qqq {\n}", "api_key {\n}", "wechat_v2 {\n}\nwechat_v2 {\n}", "wechat_v2 {\nqqq x\n}",
		"wechat_v2 {\nzzzzzzzzzzzzzzzzzzzzzzzzzz x\n}", "wechat_v2 x {\n}", ""} {
		var s Sandbox
		tokens, _ := caddyfile.Tokenize([]byte("minipay_sandbox {\n"+block+"\n}"), "Caddyfile")
		if err := s.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			ownWords = append(ownWords, err.Error())
		}
	}
	f.Fuzz(func(t *testing.T, args, lines string) {
		in := "minipay_sandbox " + args + " {\n\t" + lines + "\n}"
		tokens, lexErr := caddyfile.Tokenize([]byte(in), "Caddyfile")
		if lexErr != nil {
			return // Caddy's lexer refuses it before any directive
		}
		var s Sandbox
		if err := s.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			msg := err.Error()
			for _, l := range strings.Split(args+"\n"+lines, "\n") {
				words := strings.Fields(l)
				for i, w := range words {
					keyLine := i == 1 && (strings.Contains(words[0], "key") || strings.Contains(words[0], "secret"))
					nameLike := i == 0 && len(words) <= 2 && (len(words) == 1 || words[1] == "{") && !named[strings.ToLower(w)] && !fields[w]
					coincidence := slices.ContainsFunc(ownWords, func(own string) bool { return strings.Contains(own, w) })
					if (keyLine || nameLike) && len(w) >= 8 && strings.ContainsAny(w, "0123456789") && strings.Trim(w, "{}") == w &&
						strings.Contains(msg, w) && !coincidence {
						t.Fatalf("%q: the error %q repeats %q", in, msg, w)
					}
				}
			}
			return
		}
		if len(s.ProvidersRaw) == 0 {
			t.Fatalf("%q loaded without a provider", in)
		}
		seen := map[string]bool{}
		for _, raw := range s.ProvidersRaw {
			var obj map[string]json.RawMessage
			var name string
			if json.Unmarshal(raw, &obj) != nil || json.Unmarshal(obj["name"], &name) != nil || seen[name] {
				t.Fatalf("%q became %s", in, raw)
			}
			seen[name] = true
			info, err := caddy.GetModule(providerNamespace + "." + name)
			if err != nil {
				t.Fatalf("%q names %q: %v", in, name, err)
			}
			delete(obj, "name")
			rest, _ := json.Marshal(obj)
			dec := json.NewDecoder(bytes.NewReader(rest))
			dec.DisallowUnknownFields()
			if err := dec.Decode(info.New()); err != nil {
				t.Fatalf("%q became %s, which the provider does not load: %v", in, raw, err)
			}
		}
	})
}
