package caddymodule

import (
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/latipay"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestResolveProviderRequestPlaceholder: a field left holding a request
// placeholder after resolution (the Caddyfile adapter turns {file.NAME}
// into {http.request.uri.path.file.NAME}) fails the load naming provider
// and field; global placeholders resolve, and literal braces stay.
func TestResolveProviderRequestPlaceholder(t *testing.T) {
	t.Setenv("MINIPAY_TEST_KEY", testAPIKey)
	tests := []struct {
		name string
		mod  provider
		want string // "" = resolves
	}{
		{"env placeholder", &WechatV2{wechatv2.Config{AppID: testAppID, MchID: testMchID, APIKey: "{env.MINIPAY_TEST_KEY}"}}, ""},
		{"literal braces", &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: "k{ey}1"}}, ""},
		{"Caddyfile {file.NAME}", &WechatV2{wechatv2.Config{AppID: testAppID, MchID: testMchID, APIKey: "{http.request.uri.path.file.api_key}"}},
			"minipay: provider wechat_v2: field api_key holds the request placeholder"},
		{"request header", &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: "{http.request.header.X-Key}"}},
			"minipay: provider latipay: field api_key holds the request placeholder"},
		{"the Caddyfile's {$NAME} in JSON", &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: "{$MINIPAY_TEST_KEY}"}},
			"minipay: provider latipay: field api_key holds a placeholder that has no value when the configuration loads"},
		{"inside a value", &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: "k",
			NotifyURL: "https://m.example/{http.request.host}/n"}}, "minipay: provider latipay: field notify_url holds the request placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := resolveProvider(tt.mod, transform.RoleClient)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range p.ConfigFields() {
					if strings.Contains(*f.Value, "{env.") {
						t.Fatalf("field %s not resolved", f.Name)
					}
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "X-Key") || strings.Contains(err.Error(), "api_key}") {
				t.Fatalf("the error echoes the value: %v", err)
			}
		})
	}
}
