package caddymodule

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard" // reverse_proxy in the goldens

	"github.com/minipay/caddy-minipay/transform"
)

// TestCaddyfileAdapt is Caddy's own adapt test
// (caddytest/integration/caddyfile_adapt_test.go) for this plugin's
// directives: each testdata/caddyfile_adapt file is a Caddyfile, a line of
// ten dashes, and the exact JSON the caddyfile adapter must produce. One
// file per provider covers minipay, minipay_webhook (where the provider
// sends notifications) and minipay_sandbox.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, expected, ok := strings.Cut(string(data), "----------")
			if !ok {
				t.Fatal("no ---------- line between the Caddyfile and the JSON")
			}
			if !caddytest.CompareAdapt(t, file, strings.TrimSpace(caddyfile)+"\n", "caddyfile", strings.TrimSpace(expected)) {
				t.Fatal("the adapted JSON differs from the golden (diff above)")
			}
		})
	}
}

// TestCaddyfileAdaptCoversEveryField: the adapt goldens set every field of
// every provider (README Provider fields and the providers' sections) in a
// Caddyfile, and the handlers' own option dedupe, so each subdirective is
// shown adapting to its JSON name; a field added to a provider needs a
// golden line.
func TestCaddyfileAdaptCoversEveryField(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests: %v", err)
	}
	set := map[string]map[string]bool{} // provider → the fields a golden sets
	dedupe := false
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, expected, _ := strings.Cut(string(data), "----------")
		var cfg any
		if err := json.Unmarshal([]byte(expected), &cfg); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, h := range minipayHandlers(cfg) {
			_, hasDedupe := h["dedupe"]
			dedupe = dedupe || hasDedupe
			objects, _ := h["providers"].([]any)
			if p, ok := h["provider"]; ok {
				objects = append(objects, p)
			}
			for _, o := range objects {
				obj, _ := o.(map[string]any)
				name, _ := obj["name"].(string)
				if set[name] == nil {
					set[name] = map[string]bool{}
				}
				for field := range obj {
					set[name][field] = true
				}
			}
		}
	}
	for _, name := range providerNames() {
		info, err := caddy.GetModule(providerNamespace + "." + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range jsonFieldNames(reflect.TypeOf(info.New())) {
			if !set[name][field] {
				t.Errorf("no adapt golden sets %s's field %s", name, field)
			}
		}
	}
	if !dedupe {
		t.Error("no adapt golden sets minipay_webhook's dedupe")
	}
}

// TestCaddyfileRequestPlaceholdersRefusedAtTheirLine: a request placeholder
// has no value when the configuration loads (README Secrets), so caddy
// adapt refuses a field holding one at its line, the Caddyfile's
// shorthands included ({file.NAME} without / or . is one), with the way to
// write what was meant.
func TestCaddyfileRequestPlaceholdersRefusedAtTheirLine(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"api_key {file.api_key}", "provider latipay: field api_key holds the request placeholder {http.…} the Caddyfile makes of {file.NAME} when NAME is only letters, digits, _ and -, which has no value when the configuration loads (write a file as {file./absolute/path}), at Caddyfile:4"},
		{"api_key {header.X-Key}", "provider latipay: field api_key holds the request placeholder {http.…} (which the Caddyfile's {header.*}, {vars.*}, {query.*}… are), which has no value when the configuration loads (the global ones are {env.NAME} and {file./path}), at Caddyfile:4"},
		{"api_key {vars.key}", "provider latipay: field api_key holds the request placeholder {http.…} (which"},
		{"notify_url https://{host}/webhooks/latipay", "provider latipay: field notify_url holds the request placeholder {http.…} (which"},
		{"notify_url https://m.example/{http.request.uri.query.x}", "provider latipay: field notify_url holds the request placeholder"},
	} {
		caddyfileText := ":8080 {\n\tminipay_webhook latipay {\n\t\tcurrency NZD\n\t\t" + tt.line + "\n\t}\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), map[string]any{"filename": "Caddyfile"})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "at Caddyfile:4") {
			t.Errorf("%s: caddy adapt error %v, want %q at Caddyfile:4", tt.line, err, tt.want)
		}
	}
}

// TestCaddyfileProviderValuesRefusedAtTheirLine: a value written as is that
// breaks its provider's rule (README Provider fields and the providers'
// sections: sign_type, an api_key's length, Latipay's currency, 2C2P's
// version and pan_country, client_ip, CBTIS's signature_header, the URLs'
// form) fails
// caddy adapt at its file and line with the load's message, never holding
// the value; one holding a placeholder adapts, and is checked once
// resolved, at load.
func TestCaddyfileProviderValuesRefusedAtTheirLine(t *testing.T) {
	const shortKey = "0123456789abcdef0123456789abcde" // 31 bytes
	for _, tt := range []struct{ directive, provider, field, value, want string }{
		{"minipay", "wechat_v2", "sign_type", "hmac-sha256", "wechat_v2: sign_type must be MD5 or HMAC-SHA256"},
		{"minipay_webhook", "wechat_v2", "sign_type", "SHA1", "wechat_v2: sign_type must be MD5 or HMAC-SHA256"},
		{"minipay", "wechat_v2", "api_key", shortKey, "wechat_v2: api_key must be 32 bytes (the APIv2 key, not the AppSecret)"},
		{"minipay", "wechat_v2", "client_ip", "localhost", "wechat_v2: client_ip must be an IPv4 or IPv6 address"},
		{"minipay", "wechat_v3", "client_ip", "203.0.113.7:443", "wechat_v3: client_ip must be an IPv4 or IPv6 address"},
		{"minipay_webhook", "wechat_v3", "api_v3_key", shortKey, "wechat_v3: api_v3_key must be 32 bytes (the APIv3 key)"},
		{"minipay", "latipay", "currency", "nzd", "latipay: currency must be an ISO 4217 code (the wallet's currency, e.g. NZD)"},
		{"minipay", "latipay", "currency", "EURO", "latipay: currency must be an ISO 4217 code (the wallet's currency, e.g. NZD)"},
		{"minipay", "2c2p", "version", "v9.9", "2c2p: version must look like 9.9"},
		{"minipay", "2c2p", "pan_country", "sg", "2c2p: pan_country must be an ISO 3166-1 alpha-2 code such as SG"},
		{"minipay_webhook", "cbtis", "signature_header", "X:Sig", "cbtis: signature_header must be an HTTP header name"},
		// The URLs' own rules: notify_url that of a request's (README
		// Merchant API), without a query string for WeChat; token_url and
		// certificates_url absolute, token_url without client_secret.
		{"minipay", "wechat_v2", "notify_url", "https://m.example/n?order=1", "wechat_v2: notify_url must be an absolute http(s) URL without a query string"},
		{"minipay_sandbox", "wechat_v3", "notify_url", "https://m.example/n?", "wechat_v3: notify_url must be an absolute http(s) URL without a query string"},
		{"minipay", "wechat_v2", "notify_url", "/webhooks/wechat_v2", "wechat_v2: notify_url must be an absolute http(s) URL with a host (and a port of 1 to 65535, if any)"},
		{"minipay", "2c2p", "notify_url", "https://m.example:70000/n", "2c2p: notify_url must be an absolute http(s) URL with a host (and a port of 1 to 65535, if any)"},
		{"minipay", "latipay", "notify_url", "https://m.example/" + strings.Repeat("n", 239), "latipay: notify_url is longer than 256 bytes"},
		{"minipay_webhook", "cbtis", "notify_url", "https://m.example/a%zz", "cbtis: notify_url must be an absolute http(s) URL of RFC 3986 characters (percent-encode the others) without a fragment"},
		{"minipay", "cbtis", "token_url", "cbtis.example/mch-api/v1/auth", "cbtis: token_url must be an absolute http(s) URL such as https://<host>/mch-api/v1/auth"},
		{"minipay", "cbtis", "token_url", "https://cbtis.example/mch-api/v1/auth?client_secret=" + shortKey, "cbtis: token_url must not carry client_secret in its query (give it as the field client_secret, which is kept secret)"},
		{"minipay_webhook", "cbtis", "token_url", "https://cbtis.example/mch-api/v1/auth?region=hk;Client%5Fsecret=" + shortKey, "cbtis: token_url must not carry client_secret in its query (give it as the field client_secret, which is kept secret)"},
		{"minipay", "wechat_v3", "certificates_url", "api.mch.weixin.qq.com/v3/certificates", "wechat_v3: certificates_url must be an absolute http(s) URL"},
		{"minipay", "2c2p", "payment_path", "SecurePayment/Payment.aspx", "2c2p: payment_path must be an absolute path beginning with /"},
	} {
		t.Run(tt.provider+" "+tt.field+" "+tt.value, func(t *testing.T) {
			caddyfileText := ":8080 {\n\t" + tt.directive + " " + tt.provider + " {\n\t\t" + tt.field + " " + tt.value + "\n" +
				requiredFieldLines(t, tt.provider, roleOf[tt.directive], tt.field, "\t\t") + "\t}\n}\n"
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), map[string]any{"filename": "Caddyfile"})
			if err == nil || !strings.Contains(err.Error(), tt.want+", at Caddyfile:3") || strings.Contains(err.Error(), tt.value) {
				t.Fatalf("caddy adapt error %v, want %q at Caddyfile:3, without the value", err, tt.want)
			}
			// The load says the same of the value in JSON.
			info, err := caddy.GetModule(providerNamespace + "." + tt.provider)
			if err != nil {
				t.Fatal(err)
			}
			p := info.New().(provider)
			if err := json.Unmarshal([]byte(`{"`+tt.field+`":"`+tt.value+`"}`), p); err != nil {
				t.Fatal(err)
			}
			if err := transform.CheckConfig(p, transform.RoleWebhook); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("the load: %v, want %q", err, tt.want)
			}
			// Written as a placeholder, it is the load's to judge.
			caddyfileText = strings.Replace(caddyfileText, tt.value, "{env.MINIPAY_TEST_VALUE}", 1)
			if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), map[string]any{"filename": "Caddyfile"}); err != nil {
				t.Fatalf("with a placeholder: %v", err)
			}
		})
	}
}

// roleOf is the handler role of each directive.
var roleOf = map[string]transform.Role{"minipay": transform.RoleClient, "minipay_webhook": transform.RoleWebhook, "minipay_sandbox": transform.RoleSandbox}

// requiredFieldLines writes the fields the handler of role requires of
// provider, but the field but, one a line after indent, each as a
// placeholder: what a block needs to adapt besides the line under test.
func requiredFieldLines(t *testing.T, provider string, role transform.Role, but, indent string) string {
	t.Helper()
	info, err := caddy.GetModule(providerNamespace + "." + provider)
	if err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for _, f := range info.New().(transform.Config).ConfigFields() {
		if f.Name != but && f.RequiredFor(role) {
			lines.WriteString(indent + f.Name + " {env.MINIPAY_TEST_" + strings.ToUpper(f.Name) + "}\n")
		}
	}
	return lines.String()
}

// TestCaddyfileRequiredFieldsRefusedAtTheirBlock: README Provider fields,
// for every provider and each handler: a block with the fields the handler
// requires adapts (a placeholder is a value), and one that leaves any of
// them out or gives it as "" fails caddy adapt at the block's end, naming
// the provider, the field and the directive, as the load fails on it
// (transform.CheckRequired) naming no line.
func TestCaddyfileRequiredFieldsRefusedAtTheirBlock(t *testing.T) {
	checked := 0
	for _, name := range providerNames() {
		info, _ := caddy.GetModule(providerNamespace + "." + name)
		for directive, role := range roleOf {
			required := strings.Split(strings.TrimSpace(requiredFieldLines(t, name, role, "", "")), "\n")
			if required[0] == "" {
				continue // wechat_login has no webhook: the load says so
			}
			adapt := func(lines []string) error {
				text := ":8080 {\n\t" + directive + " " + name + " {\n"
				for _, l := range lines {
					text += "\t\t" + l + "\n"
				}
				text += "\t}\n}\n" // the block's end is at line 3 + len(lines)
				_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": "Caddyfile"})
				return err
			}
			if err := adapt(required); err != nil {
				t.Errorf("%s %s with its required fields: %v", directive, name, err)
			}
			for i, line := range required {
				field, _, _ := strings.Cut(line, " ")
				want := "provider " + name + ": field " + field + " is required by " + directive + " and not set in its block, at Caddyfile:"
				without := slices.Delete(slices.Clone(required), i, i+1)
				if err := adapt(without); err == nil || !strings.Contains(err.Error(), want+strconv.Itoa(3+len(without))) {
					t.Errorf("%s %s without %s: caddy adapt error %v, want %q", directive, name, field, err, want)
				}
				empty := slices.Clone(required)
				empty[i] = field + ` ""`
				if err := adapt(empty); err == nil || !strings.Contains(err.Error(), want+strconv.Itoa(3+len(required))) {
					t.Errorf("%s %s with %s \"\": caddy adapt error %v, want %q", directive, name, field, err, want)
				}
				// The load refuses the same block, naming the field.
				p := info.New().(transform.Config)
				for _, f := range p.ConfigFields() {
					if f.Name != field && f.RequiredFor(role) {
						*f.Value = "x"
					}
				}
				var missing *transform.MissingFieldError
				if err := transform.CheckRequired(p, role); !errors.As(err, &missing) || missing.Field != field {
					t.Errorf("%s %s without %s: the load's check says %v", directive, name, field, err)
				}
				checked++
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked %d required fields; README Provider fields lists more", checked)
	}
}

// TestCaddyfileImportArgumentNotGiven: a snippet's {args[N]} that its
// import does not give is left as its text by Caddy's adapter (which logs
// "index is out of bounds" and goes on); in a provider field caddy adapt
// refuses it at the snippet's line and the import's, where only the load
// refused it, naming the route's position (README Several merchants
// imports a snippet per merchant).
func TestCaddyfileImportArgumentNotGiven(t *testing.T) {
	text := "(merchant) {\n\tminipay_webhook latipay {\n\t\tapi_key {args[1]}\n\t}\n}\n\n:8080 {\n\timport merchant shop-a\n\trespond 200\n}\n"
	_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": "Caddyfile"})
	want := "provider latipay: field api_key holds a placeholder that has no value when the configuration loads"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "at Caddyfile:3 import chain ['Caddyfile:8 (import merchant)']") {
		t.Fatalf("caddy adapt error %v, want %q at Caddyfile:3 through the import at line 8", err, want)
	}
	// Given, it adapts.
	text = strings.Replace(text, "import merchant shop-a", "import merchant shop-a {env.SHOP_A_LATIPAY_API_KEY}", 1)
	if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": "Caddyfile"}); err != nil {
		t.Fatal(err)
	}
}
