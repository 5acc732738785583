package caddymodule

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzCaddyfileProviderBlock: a minipay_webhook block with any lines, for
// any provider, is refused or becomes a provider object Caddy loads (every
// member a field of the provider, of its type: decoded with unknown fields
// disallowed); a refusal never repeats the value of a secret field's line.
func FuzzCaddyfileProviderBlock(f *testing.F) {
	// TestUnmarshalCaddyfileErrors' and TestUnmarshalCaddyfileProvider's blocks.
	f.Add(uint8(0), "app_id wx1\n\tapp_secret {env.WECHAT_APP_SECRET}\n\texpose_session_key true")
	f.Add(uint8(1), "app_id wx8888888888888888\n\tmch_id 1900000109\n\tapi_key 8934e7d15453e97507ef794cf7b0519d")
	f.Add(uint8(1), "api_key 8934e7d15453e97507ef794cf7b0519d extra\n\tapi_key x")
	f.Add(uint8(1), "API_KEY 8934e7d15453e97507ef794cf7b0519d")
	f.Add(uint8(1), "8934e7d15453e97507ef794cf7b0519d")
	f.Add(uint8(2), "api_key true\n\tdedupe 25h")
	f.Add(uint8(2), "dedupe -1h\n\tdedupe 1h\n\tdedupe")
	f.Add(uint8(3), "timeout 5s\n\tsecret_key 7jYcp4FxFdf0")
	f.Add(uint8(4), "expose_session_key false\n\tapp_secret false")
	f.Add(uint8(3), "<<") // the lexer refuses it (a heredoc without its marker)
	// wechat_v2 with the fields minipay_webhook requires: it parses.
	f.Add(uint8(4), "app_id wx8888888888888888\n\tmch_id 1900000109\n\tapi_key {env.KEY}\n\tdedupe 25h")
	names := providerNames()
	f.Fuzz(func(t *testing.T, which uint8, lines string) {
		name := names[int(which)%len(names)]
		in := "minipay_webhook " + name + " {\n\t" + lines + "\n}"
		// Caddy's lexer refuses some text (an unterminated heredoc) before
		// any directive sees it; NewTestDispenser would exit the process.
		tokens, lexErr := caddyfile.Tokenize([]byte(in), "Caddyfile")
		if lexErr != nil {
			return
		}
		var h Webhook
		err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
		if err != nil {
			msg := err.Error()
			for _, l := range strings.Split(lines, "\n") {
				words := strings.Fields(l)
				if len(words) < 2 || !strings.Contains(words[0], "key") && !strings.Contains(words[0], "secret") {
					continue
				}
				if v := words[1]; len(v) >= 8 && strings.ContainsAny(v, "0123456789") && strings.Contains(msg, v) {
					t.Fatalf("%q: the error %q repeats the value of %s", in, msg, words[0])
				}
			}
			return
		}
		info, gerr := caddy.GetModule(providerNamespace + "." + name)
		if gerr != nil {
			t.Fatal(gerr)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(h.ProviderRaw, &obj); err != nil || string(obj["name"]) != `"`+name+`"` {
			t.Fatalf("%q became %s", in, h.ProviderRaw)
		}
		delete(obj, "name")
		rest, _ := json.Marshal(obj)
		dec := json.NewDecoder(bytes.NewReader(rest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(info.New()); err != nil {
			t.Fatalf("%q became %s, which the provider does not load: %v", in, h.ProviderRaw, err)
		}
	})
}
