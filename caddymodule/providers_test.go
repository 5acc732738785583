package caddymodule

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/latipay"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
)

// TestResolveProvider: a field left holding a request placeholder after
// resolution (the Caddyfile adapter turns {file.NAME} into
// {http.request.uri.path.file.NAME}) fails the load naming provider and
// field; global placeholders resolve, and literal braces stay. So does a
// value with white space around it, as a variable from a CRLF env file or a
// file with two line endings leaves it, or a byte order mark before it, as
// an editor saving "UTF-8 with BOM" leaves it, where it was signed or sent
// as is; PEM text may keep its line ending. No error holds the value.
func TestResolveProvider(t *testing.T) {
	t.Setenv("MINIPAY_TEST_KEY", testAPIKey)
	t.Setenv("MINIPAY_TEST_CRLF_KEY", testAPIKey+"\r")
	twoEndings := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(twoEndings, []byte(testAPIKey+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oneEnding := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(oneEnding, []byte(testAPIKey+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withBOM := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(withBOM, []byte("\uFEFF"+testAPIKey+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Windows PowerShell 5's "key" > file: UTF-16LE with its BOM and CRLF.
	utf16File := filepath.Join(t.TempDir(), "key16")
	if err := os.WriteFile(utf16File, utf16LE("\uFEFF"+testAPIKey+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A private key in DER (openssl pkey -outform DER), not PEM text.
	pemKey, err := os.ReadFile(filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-test-private-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemKey)
	derFile := filepath.Join(t.TempDir(), "apiclient_key.der")
	if err := os.WriteFile(derFile, block.Bytes, 0o600); err != nil {
		t.Fatal(err)
	}
	pemWithBOM := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(pemWithBOM, []byte("\uFEFF-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	latipayKey := func(key string) provider {
		return &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: key}}
	}
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
		// {env.NAME:default} reads the variable "NAME:default": an
		// optional field was silently unset, a required one "empty".
		{"env placeholder with a default", latipayKey("{env.MINIPAY_TEST_KEY:lp-default-key}"),
			"minipay: provider latipay: field api_key holds {env.NAME:…}, which Caddy reads as the variable named with the colon and all, unset: a global placeholder takes no default"},
		{"optional field with a default", &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: "k",
			NotifyURL: "{env.MINIPAY_TEST_NOTIFY_URL:https://m.example/n}"}}, "minipay: provider latipay: field notify_url holds {env.NAME:…}"},
		{"the Caddyfile's {$NAME} in JSON", &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: "{$MINIPAY_TEST_KEY}"}},
			"minipay: provider latipay: field api_key holds a placeholder that has no value when the configuration loads"},
		{"inside a value", &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: "k",
			NotifyURL: "https://m.example/{http.request.host}/n"}}, "minipay: provider latipay: field notify_url holds the request placeholder"},
		{"env value with a CR", &WechatV2{wechatv2.Config{AppID: testAppID, MchID: testMchID, APIKey: "{env.MINIPAY_TEST_CRLF_KEY}"}},
			"minipay: provider wechat_v2: field api_key begins or ends with white space"},
		{"file with two line endings", latipayKey("{file." + twoEndings + "}"), "minipay: provider latipay: field api_key begins or ends with white space"},
		{"file with one CRLF", latipayKey("{file." + oneEnding + "}"), ""},
		{"id with a leading space", &WechatV2{wechatv2.Config{AppID: " " + testAppID, MchID: testMchID, APIKey: testAPIKey}},
			"minipay: provider wechat_v2: field app_id begins or ends with white space"},
		{"optional field with a tab", &Latipay{latipay.Config{UserID: "U1", WalletID: "W1", AppID: testAppID, Currency: "NZD", APIKey: "k", NotifyURL: "https://m.example/n\t"}},
			"minipay: provider latipay: field notify_url begins or ends with white space"},
		{"space inside", latipayKey("lp key"), ""},
		{"PEM text ending in a line ending", latipayKey("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), ""},
		// A key saved as "UTF-8 with BOM" was taken with U+FEFF before it
		// (latipay) or refused as not printable ASCII (wechat_v2).
		{"file beginning with a byte order mark", latipayKey("{file." + withBOM + "}"),
			"minipay: provider latipay: field api_key begins with a byte order mark"},
		{"wechat_v2 key beginning with a byte order mark", &WechatV2{wechatv2.Config{AppID: testAppID, MchID: testMchID, APIKey: "{file." + withBOM + "}"}},
			"minipay: provider wechat_v2: field api_key begins with a byte order mark"},
		{"PEM file beginning with a byte order mark", latipayKey("{file." + pemWithBOM + "}"), ""},
		// A key saved as UTF-16 was taken with a NUL after every byte.
		{"file saved as UTF-16", latipayKey("{file." + utf16File + "}"), "minipay: provider latipay: field api_key holds a NUL byte"},
		{"wechat_v2 key saved as UTF-16", &WechatV2{wechatv2.Config{AppID: testAppID, MchID: testMchID, APIKey: "{file." + utf16File + "}"}},
			"minipay: provider wechat_v2: field api_key holds a NUL byte"},
		{"wechat_v3 key in DER", &WechatV3{wechatv3.Config{MchID: testMchID, SerialNo: "3775B6A45ACD", PrivateKey: "{file." + derFile + "}"}},
			"minipay: provider wechat_v3: field private_key holds a NUL byte (the file it was read from is binary, such as a DER key"},
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
			if strings.Contains(err.Error(), "X-Key") || strings.Contains(err.Error(), "api_key}") || strings.Contains(err.Error(), "default-key") ||
				strings.Contains(err.Error(), testAPIKey) || strings.Contains(err.Error(), testAppID) {
				t.Fatalf("the error echoes the value: %v", err)
			}
		})
	}
}

// TestConfiguredNotifyURLRule: a configured notify_url, the default of
// every pay, is held to the request's rule (README Merchant API) for every
// provider that has one: what a request may not send (a space, a
// non-ASCII character, a fragment, past 256 bytes) fails the load naming
// the provider and the field, without the value.
func TestConfiguredNotifyURLRule(t *testing.T) {
	configs := clientConfigs(t)
	delete(configs, "wechat_login") // it has no notify_url
	urls := []struct {
		name, url string
		valid     bool
	}{
		{"plain", "https://pay.example.com/webhooks/n", true},
		{"a space", "https://pay.example.com/web hooks/n", false},
		{"non-ASCII", "https://pay.example.com/回调", false},
		{"a fragment", "https://pay.example.com/n#x", false},
		{"a backslash", `https://pay.example.com/a\b`, false},
		{"past 256 bytes", "https://pay.example.com/" + strings.Repeat("n", 240), false},
	}
	for name, config := range configs {
		for _, u := range urls {
			t.Run(name+"/"+u.name, func(t *testing.T) {
				err := loadClient(t, name, config, "notify_url", u.url)
				switch {
				case u.valid && err != nil:
					t.Fatalf("refused: %v", err)
				case !u.valid && (err == nil || !strings.HasPrefix(err.Error(), name+": notify_url ")):
					t.Fatalf("error %v, want one naming %s and notify_url", err, name)
				case !u.valid && strings.Contains(err.Error(), "pay.example.com"):
					t.Fatalf("the error echoes the value: %v", err)
				}
			})
		}
	}
}

// TestWeChatSharedConfigChecks: wechat_v2 and wechat_v3 make the same two
// checks with the same message (README Provider fields, transform/wxpay):
// sub_app_id needs sub_mch_id, and notify_url has no query string.
func TestWeChatSharedConfigChecks(t *testing.T) {
	configs := clientConfigs(t)
	for _, name := range []string{"wechat_v2", "wechat_v3"} {
		for _, tt := range []struct{ field, value, subMchID, want string }{
			{"sub_app_id", "wx7bc98d929da735fe", "", name + ": sub_app_id needs sub_mch_id (service-provider mode)"},
			{"sub_app_id", "wx7bc98d929da735fe", "1900000109", ""},
			{"notify_url", "https://pay.example.com/n?x=1", "", name + ": notify_url must be an absolute http(s) URL without a query string"},
		} {
			t.Run(name+"/"+tt.field+"/"+tt.subMchID, func(t *testing.T) {
				config := maps.Clone(configs[name])
				if tt.subMchID != "" {
					config["sub_mch_id"] = tt.subMchID
				}
				err := loadClient(t, name, config, tt.field, tt.value)
				if got := fmt.Sprint(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
					t.Fatalf("error %v, want %q", err, tt.want)
				}
			})
		}
	}
}

// clientConfigs are a valid minipay configuration of every provider, with
// the ids the providers' pages show (docs/providers).
func clientConfigs(t testing.TB) map[string]map[string]any {
	keys, err := filepath.Abs("../examples/keys")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]map[string]any{
		"wechat_v2": {"app_id": testAppID, "mch_id": testMchID, "api_key": testAPIKey},
		"wechat_v3": {"app_id": testAppID, "mch_id": testMchID, "serial_no": "3775B6A45ACD588826D15E583A95F5DD2F2D3B4A",
			"private_key": "{file." + keys + "/apiclient_key.pem}", "public_key": "{file." + keys + "/wechatpay_pub_key.pem}",
			"public_key_id": "PUB_KEY_ID_0119000001092026112900000000000001", "api_v3_key": "sandbox-apiv3-key-0123456789abcd"},
		"wechat_login": {"app_id": testAppID, "app_secret": "5f5e2c8d4b7a4e0f9c1d3b6a8e2f4c7d"},
		"2c2p":         {"merchant_id": "JT01", "secret_key": "7jYcp4FxFdf0", "app_id": testAppID},
		"latipay":      {"user_id": "U000334333", "wallet_id": "W00000001", "api_key": "lp-key", "app_id": testAppID, "currency": "NZD"},
		"cbtis":        {"uid": "39172931", "client_secret": "cs-secret", "sub_app_id": testAppID, "token_url": "https://cbtis.example/mch-api/v1/auth"},
	}
}

// loadClient loads provider name's module from config with field set to
// value, resolves it and builds its client, as a minipay route's load does.
func loadClient(t *testing.T, name string, config map[string]any, field, value string) error {
	t.Helper()
	mod := providerModule(t, name, config)
	setField(t, mod.(provider), field, value)
	p, err := resolveProvider(mod, transform.RoleClient)
	if err == nil {
		_, err = p.(clientProvider).NewClient()
	}
	return err
}

// TestEveryConfiguredValueRule: each configured value is held to its rule
// when the provider loads (README "Provider fields"), so that an id never
// carries what would break out of where it goes: wechat_v3's mch_id names
// a storage key (minipay/wechat_v3/<mch_id>/certificates), where "../"
// would write outside Caddy's storage; mch_id and serial_no go into the
// Authorization header and public_key_id into Wechatpay-Serial, where a
// quote or a line break would forge another parameter or header. The ids
// and keys the providers issue load; the error names the provider and the
// field, never the value.
func TestEveryConfiguredValueRule(t *testing.T) {
	const nonASCIIKey = "密钥密钥密钥密钥密钥ab" // 32 bytes, not WeChat's ASCII key
	tests := []struct {
		provider, field, value string
		valid                  bool
	}{
		{"wechat_v2", "app_id", "wxd678efh567hg6787", true}, // WeChat's paySign vector
		{"wechat_v2", "mch_id", "10000100", true},
		{"wechat_v2", "api_key", "qazwsxedcrfvtgbyhnujmikolp111111", true},
		{"wechat_v2", "mch_id", "1900/000109", false},
		{"wechat_v2", "app_id", "wx8888<88888888888", false},
		{"wechat_v2", "app_id", "wx88888888888888888888888888888888", false}, // 34: WeChat's String(32)
		{"wechat_v2", "sub_mch_id", "1900000110\\x", false},
		{"wechat_v2", "api_key", "8934e7d15453e975 7ef794cf7b0519d", false},
		{"wechat_v2", "api_key", nonASCIIKey, false},
		{"wechat_v2", "notify_url", "https://user:pw@pay.example.com/n", false},
		{"wechat_v3", "app_id", "054aa7d7a2a54ab5898df65bd96f001c", true}, // wechatpay-go's payscore vector
		{"wechat_v3", "serial_no", "3775b6a45acd588826d15e583a95f5dd2f2d3b4a", true},
		{"wechat_v3", "public_key_id", "D7CE59D1F522D701", true},
		{"wechat_v3", "mch_id", "../../../../tmp/minipay-x", false},
		{"wechat_v3", "mch_id", "..", false},
		{"wechat_v3", "mch_id", `1900000109",serial_no="X`, false},
		{"wechat_v3", "mch_id", "19000\x00109", false},
		{"wechat_v3", "sub_mch_id", "1900000110/..", false},
		{"wechat_v3", "serial_no", "PUB_KEY_ID_0119000001092026112900000000000001", false},
		{"wechat_v3", "serial_no", `3775B6A4",x="1`, false},
		{"wechat_v3", "public_key_id", "PUB_KEY_ID_01\r\nX-Injected: 1", false},
		{"wechat_v3", "api_v3_key", nonASCIIKey, false},
		{"wechat_v3", "certificates_url", "https://mch:pw@api.mch.weixin.qq.com/v3/certificates", false},
		{"wechat_v3", "certificates_url", "https://api.mch.weixin.qq.com/v3/certificates\x7f", false},
		{"wechat_v3", "certificates_url", "https://api.mch.weixin.qq.com/v3/certificates#x", false},
		{"wechat_v3", "certificates_url", "https://api.mch.weixin.qq.com/v3/certificates?a=%23", true},
		{"wechat_login", "app_id", "wx1/../../x", false},
		{"wechat_login", "app_secret", "5f5e2c8d4b7a\x1b[31m4e0f", false},
		{"2c2p", "merchant_id", "764764000001234", true},
		{"2c2p", "merchant_id", "JT\x0101", false},
		{"2c2p", "merchant_id", "JT 01", false},
		{"2c2p", "app_id", "wx88888888\"8888888", false},
		{"2c2p", "payment_path", "/SecurePayment/Pay\x00ment.aspx", false},
		{"2c2p", "payment_path", "/SecurePayment/Paymént.aspx", false},
		{"2c2p", "secret_key", "7jYcp4\x01FxFdf0", false},
		{"latipay", "user_id", "U000334333&wallet_id=W2", false},
		{"latipay", "wallet_id", "W0000/0001", false},
		{"latipay", "refund_path", "/v2/refund\x7f", false},
		{"latipay", "refund_path", "//evil.example/refund", false},
		{"2c2p", "payment_path", "//evil.example/SecurePayment/Payment.aspx", false},
		{"2c2p", "payment_path", "/SecurePayment//Payment.aspx", true},
		{"latipay", "notify_url", "https://u:p@merchant.example/n", false},
		{"cbtis", "uid", "39172931/..", false},
		{"cbtis", "sub_app_id", "wx8888\n888", false},
		{"cbtis", "token_url", "https://39172931:cs@cbtis.example/mch-api/v1/auth", false},
		{"cbtis", "client_secret", "cs-\x00secret", false},
		{"cbtis", "token_url", "https://cbtis.example/mch-api/v1/auth?client_secret=cs-in-the-url", false},
		{"cbtis", "token_url", "https://cbtis.example/mch-api/v1/auth?region=hk;client_secret=cs-in-the-url", false},
		{"cbtis", "token_url", "https://cbtis.example/mch-api/v1/auth?Client_Secret=cs-in-the-url", false},
		{"cbtis", "token_url", "https://cbtis.example/mch-api/v1/auth?client%5Fsecret=cs-in-the-url", false},
		{"cbtis", "token_url", "https://cbtis.example/mch-api/v1/auth?region=hk&uid=1", true},
		{"cbtis", "signature_header", "Signature\r", false},
	}
	configs := clientConfigs(t)
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.field+"/"+tt.value, func(t *testing.T) {
			err := loadClient(t, tt.provider, configs[tt.provider], tt.field, tt.value)
			switch {
			case tt.valid && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.valid:
			case err == nil:
				t.Fatal("loaded")
			case !strings.HasPrefix(err.Error(), tt.provider+": "+tt.field+" ") &&
				!strings.HasPrefix(err.Error(), "minipay: provider "+tt.provider+": field "+tt.field+" "):
				t.Fatalf("error %q, want one naming %s and %s", err, tt.provider, tt.field)
			case strings.Contains(err.Error(), tt.value):
				t.Fatalf("the error echoes the value: %v", err)
			}
		})
	}
}

// TestEveryIDAndURLFieldHasItsRule keeps TestEveryConfiguredValueRule's
// class closed for fields added later: in every registered provider, a
// field named like an id (…_id, uid) has an id rule, one named like a URL
// (…_url) the URL rule or one holding it, and one named like a path (…_path) the path rule,
// instead of the default that refuses only control characters.
func TestEveryIDAndURLFieldHasItsRule(t *testing.T) {
	rule := func(r transform.Rule) uintptr { return reflect.ValueOf(r).Pointer() }
	idRules := []uintptr{rule(transform.WeChatIDRule), rule(transform.IDRule)}
	// A URL field's rule is URLRule or one beginning with it (notify_url's,
	// token_url's): it refuses all that URLRule does.
	urlRuleRefuses := []string{"https://u:p@h.example/x", "https://h.example/x#f", "https://h.example/\x01"}
	checked := map[string]int{} // fields of each kind seen: none would make the test pass empty
	for _, name := range providerNames() {
		info, err := caddy.GetModule(providerNamespace + "." + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range info.New().(provider).ConfigFields() {
			for _, kind := range []string{"_id", "_url", "_path"} {
				if strings.HasSuffix(f.Name, kind) || kind == "_id" && f.Name == "uid" {
					checked[kind]++
				}
			}
			switch {
			case f.Rule == nil && (strings.HasSuffix(f.Name, "_id") || f.Name == "uid" || strings.HasSuffix(f.Name, "_url") || strings.HasSuffix(f.Name, "_path")):
				t.Errorf("%s: field %s has no rule", name, f.Name)
			case f.Rule == nil:
			case (strings.HasSuffix(f.Name, "_id") || f.Name == "uid") && !slices.Contains(idRules, rule(f.Rule)):
				t.Errorf("%s: field %s is an id without an id rule", name, f.Name)
			case strings.HasSuffix(f.Name, "_url") && slices.ContainsFunc(urlRuleRefuses, func(v string) bool { return f.Rule(v) == "" }):
				t.Errorf("%s: field %s is a URL without the URL rule", name, f.Name)
			case strings.HasSuffix(f.Name, "_path") && rule(f.Rule) != rule(transform.PathRule):
				t.Errorf("%s: field %s is a path without the path rule", name, f.Name)
			}
		}
	}
	if checked["_id"] == 0 || checked["_url"] == 0 || checked["_path"] == 0 {
		t.Fatalf("fields checked by kind: %v, want ids, URLs and paths", checked)
	}
}

// providerModule is provider name's module read from config, its
// placeholders not yet resolved.
func providerModule(t testing.TB, name string, config map[string]any) caddy.Module {
	t.Helper()
	info, err := caddy.GetModule(providerNamespace + "." + name)
	if err != nil {
		t.Fatal(err)
	}
	mod := info.New()
	raw, _ := json.Marshal(config)
	if err := json.Unmarshal(raw, mod); err != nil {
		t.Fatal(err)
	}
	return mod
}

// setField sets p's field named name.
func setField(t *testing.T, p provider, name, value string) {
	t.Helper()
	for _, f := range p.ConfigFields() {
		if f.Name == name {
			*f.Value = value
			return
		}
	}
	t.Fatalf("provider %s has no field %s", p.ProviderName(), name)
}

// TestProviderNamesSorted: the names an unknown provider's error lists come
// sorted without sorting them again (caddy.GetModules sorts by module ID,
// and the IDs differ only in the name), every registered provider once.
func TestProviderNamesSorted(t *testing.T) {
	names := providerNames()
	if len(names) != len(caddy.GetModules(providerNamespace)) || len(names) < 6 || !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Fatalf("providerNames() = %v", names)
	}
}

// TestEverySideChecksItsConfiguration keeps README Development's "every
// constructor starts with transform.CheckConfig" true for every registered
// provider, so that a user of the transform packages without Caddy is
// refused as the load refuses: each side (client, webhook, sandbox) built
// from an empty configuration fails, naming the provider and a field of its
// configuration (a *transform.MissingFieldError, or the provider's Check
// refusing a key first), instead of being built to fail on its first
// request.
func TestEverySideChecksItsConfiguration(t *testing.T) {
	sides := []struct {
		role  transform.Role
		build func(p provider) (has bool, err error)
	}{
		{transform.RoleClient, func(p provider) (bool, error) { return buildSide(p, clientProvider.NewClient) }},
		{transform.RoleWebhook, func(p provider) (bool, error) { return buildSide(p, webhookProvider.NewWebhook) }},
		{transform.RoleSandbox, func(p provider) (bool, error) { return buildSide(p, sandboxProvider.NewSandbox) }},
	}
	built := map[transform.Role]int{} // sides built: a test that built none would pass empty
	for _, name := range providerNames() {
		info, err := caddy.GetModule(providerNamespace + "." + name)
		if err != nil {
			t.Fatal(err)
		}
		sidesOf := 0
		for _, side := range sides {
			p := info.New().(provider)
			has, err := side.build(p)
			if !has {
				continue
			}
			built[side.role]++
			sidesOf++
			if err == nil {
				t.Errorf("%s, role %d: built from an empty configuration", name, side.role)
				continue
			}
			named := false
			for _, f := range p.ConfigFields() {
				named = named || strings.Contains(err.Error(), f.Name)
			}
			var missing *transform.MissingFieldError
			if !strings.HasPrefix(err.Error(), name+": ") || !named || errors.As(err, &missing) && !slices.ContainsFunc(p.ConfigFields(),
				func(f transform.ConfigField) bool { return f.Name == missing.Field && f.RequiredFor(side.role) }) {
				t.Errorf("%s, role %d, empty configuration: %q, want the provider and a field its role requires named", name, side.role, err)
			}
		}
		if sidesOf == 0 {
			t.Errorf("%s has no side to build: client, webhook and sandbox all unknown to it", name)
		}
	}
	if len(built) != len(sides) {
		t.Fatalf("sides built by role: %v, want every role", built)
	}
}

// buildSide builds p's side through newSide when p has that side.
func buildSide[P, S any](p provider, newSide func(P) (S, error)) (has bool, err error) {
	side, ok := p.(P)
	if !ok {
		return false, nil
	}
	_, err = newSide(side)
	return true, err
}

// utf16LE writes s as UTF-16LE, as Windows PowerShell 5 writes a file.
func utf16LE(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}
