package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestProviderObjectWithoutName: a JSON provider object whose "name" is
// missing, empty or not a string fails the load saying so, for each of the
// three handlers. Caddy's own module loader would answer "module name not
// specified with key 'name' in map[api_key:… app_id:…]": the whole object,
// secrets included, in the /load answer and in Caddy's log.
func TestProviderObjectWithoutName(t *testing.T) {
	const secret = "s3cr3t-0123456789abcdef01234567"
	objects := []struct{ name, object string }{
		{"no name", `{"app_id":"` + appID + `","mch_id":"` + mchID + `","api_key":"` + secret + `"}`},
		{"empty name", `{"name":"","api_key":"` + secret + `"}`},
		{"null name", `{"name":null,"api_key":"` + secret + `"}`},
		{"name not a string", `{"name":5,"api_key":"` + secret + `"}`},
		{"name in another case", `{"Name":"wechat_v2","api_key":"` + secret + `"}`},
	}
	tc := caddytestTester(t)
	for _, o := range objects {
		for _, h := range []struct{ handler, config, want string }{
			{"minipay", `{"handler":"minipay","provider":` + o.object + `}`, `minipay: the provider object needs "name"`},
			{"minipay_webhook", `{"handler":"minipay_webhook","provider":` + o.object + `}`, `minipay_webhook: the provider object needs "name"`},
			{"minipay_sandbox", `{"handler":"minipay_sandbox","providers":[{"name":"wechat_login","app_id":"` + appID + `","app_secret":"` + appSecret + `"},` + o.object + `]}`,
				`minipay_sandbox: providers[1]: the provider object needs "name"`},
		} {
			t.Run(o.name+"/"+h.handler, func(t *testing.T) { wantLoadError(t, tc, h.config, h.want, secret, appSecret) })
		}
	}
}

// TestProviderFieldNamesExact: a provider field is known by its exact JSON
// name, as README "Configuration" lists them; encoding/json, which Caddy
// decodes modules with, would take "API_KEY" or "Api_Key" for api_key (and
// the last of two spellings); so it would "Provider" or "DEDUPE" for the
// handlers' own options. A name in another case and an unknown one fail
// the load naming the name, never a value.
func TestProviderFieldNamesExact(t *testing.T) {
	v2 := `"name":"wechat_v2","app_id":"` + appID + `","mch_id":"` + mchID + `"`
	tests := []struct{ name, handler, want string }{
		{"upper case", `{"handler":"minipay","provider":{` + v2 + `,"API_KEY":"` + apiKey + `"}}`,
			`minipay: provider wechat_v2 has no field "API_KEY" (field names are exact: api_key)`},
		{"two spellings", `{"handler":"minipay_webhook","provider":{` + v2 + `,"api_key":"` + apiKey + `","Api_Key":"` + apiKey + `"}}`,
			`minipay_webhook: provider wechat_v2 has no field "Api_Key" (field names are exact: api_key)`},
		{"boolean field", `{"handler":"minipay_sandbox","providers":[{"name":"wechat_login","app_id":"` + appID + `","app_secret":"` + appSecret + `","Expose_Session_Key":true}]}`,
			`minipay_sandbox: providers[0]: provider wechat_login has no field "Expose_Session_Key" (field names are exact: expose_session_key)`},
		{"provider name in another case", `{"handler":"minipay","provider":{"name":"WeChat_V2","app_id":"` + appID + `","api_key":"` + apiKey + `"}}`,
			`minipay: unknown provider "WeChat_V2" (provider names are exact: wechat_v2)`},
		{"unknown field", `{"handler":"minipay","provider":{` + v2 + `,"api_key":"` + apiKey + `","colour":"blue"}}`,
			`minipay: provider wechat_v2 has no field "colour"`},
		// The handlers' own options are exact too.
		{"minipay option in another case", `{"handler":"minipay","Provider":{` + v2 + `,"api_key":"` + apiKey + `"}}`,
			`minipay has no option "Provider" (option names are exact: provider)`},
		{"webhook option in another case", `{"handler":"minipay_webhook","DEDUPE":"25h","provider":{` + v2 + `,"api_key":"` + apiKey + `"}}`,
			`minipay_webhook has no option "DEDUPE" (option names are exact: dedupe)`},
		{"sandbox option in another case", `{"handler":"minipay_sandbox","Providers":[{` + v2 + `,"api_key":"` + apiKey + `"}]}`,
			`minipay_sandbox has no option "Providers" (option names are exact: providers)`},
		{"unknown handler option", `{"handler":"minipay_webhook","window":"25h","provider":{` + v2 + `,"api_key":"` + apiKey + `"}}`,
			`json: unknown field "window"`},
	}
	tc := caddytestTester(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantLoadError(t, tc, tt.handler, tt.want, apiKey, appSecret) })
	}
	// The exact names load.
	for _, handler := range []string{
		`{"handler":"minipay","provider":{` + v2 + `,"api_key":"` + apiKey + `"}}`,
		`{"handler":"minipay_webhook","dedupe":"25h","provider":{` + v2 + `,"api_key":"` + apiKey + `"}}`,
		`{"handler":"minipay_sandbox","provider":{"name":"wechat_login","app_id":"` + appID + `","app_secret":"` + appSecret + `"},"providers":[{` + v2 + `,"api_key":"` + apiKey + `"}]}`,
	} {
		if err := tc.loadJSON(handler); err != nil {
			t.Fatalf("%s: %v", handler, err)
		}
	}
}

// TestProviderFieldTypes: a JSON value of the wrong type fails the load
// named as a Caddyfile names it (README "Caddyfile"), by field, never by Go's
// struct path, and never repeating the value; so does minipay_sandbox's
// providers given as no array.
func TestProviderFieldTypes(t *testing.T) {
	tc := caddytestTester(t)
	for _, tt := range []struct{ name, handler, want string }{
		{"number for a string", `{"handler":"minipay","provider":{"name":"wechat_v2","app_id":"` + appID + `","mch_id":1900000109,"api_key":"` + apiKey + `"}}`,
			"minipay: provider wechat_v2: field mch_id takes a string, not a number"},
		{"string for a boolean", `{"handler":"minipay","provider":{"name":"wechat_login","app_id":"` + appID + `","app_secret":"` + appSecret + `","expose_session_key":"true"}}`,
			"minipay: provider wechat_login: field expose_session_key takes a bool, not a string"},
		{"object for a secret", `{"handler":"minipay_webhook","provider":{"name":"latipay","api_key":{"value":"` + apiKey + `"}}}`,
			"minipay_webhook: provider latipay: field api_key takes a string, not an object"},
		{"array in a sandbox", `{"handler":"minipay_sandbox","providers":[{"name":"wechat_login","app_id":"` + appID + `","app_secret":"` + appSecret + `"},{"name":"cbtis","uid":["39172931"]}]}`,
			"minipay_sandbox: providers[1]: provider cbtis: field uid takes a string, not an array"},
		{"object for the sandbox's providers", `{"handler":"minipay_sandbox","providers":{"name":"latipay","api_key":"` + apiKey + `"}}`,
			"minipay_sandbox: providers takes an array of provider objects, not an object"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantLoadError(t, tc, tt.handler, tt.want, apiKey, appSecret) })
	}
}

// wantLoadError loads a JSON configuration whose route holds handler and
// wants Caddy to refuse it with an error containing want and none of
// secrets.
func wantLoadError(t *testing.T, tc adminLoader, handler, want string, secrets ...string) {
	t.Helper()
	err := tc.loadJSON(handler)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("load error %v, want it to contain %q", err, want)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("the load error echoes a secret: %v", err)
		}
	}
}

// TestMatchersOnDirectives: several providers on one site with no handle
// block, no route block and no order option, each selected by a matcher on
// its directive (a path, a named matcher), in front of one reverse_proxy;
// the operation is the last element of the path.
func TestMatchersOnDirectives(t *testing.T) {
	merchant, sandbox := itoa(freePort(t)), itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+merchant+` {
	reverse_proxy 127.0.0.1:`+sandbox+`
	@login path /app/login/*
	minipay @login wechat_login {
		app_id `+appID+`
		app_secret `+appSecret+`
	}
	minipay /shop/wechat/* wechat_v2 {
		app_id `+appID+`
		mch_id `+mchID+`
		api_key `+apiKey+`
		notify_url http://localhost:`+merchant+`/webhooks/wechat_v2
		client_ip 127.0.0.1
	}
}

:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
		}
		wechat_login {
			app_id `+appID+`
			app_secret `+appSecret+`
		}
	}
}
`)
	base := "http://localhost:" + merchant
	if r := postJSON(t, tc, base+"/app/login/login", `{"code":"matcher-1"}`); r.status != 200 || str(r.json(t)["openid"]) == "" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	r := postJSON(t, tc, base+"/shop/wechat/pay", `{"order_id":"M1","amount":"1.00","currency":"CNY","description":"Tea","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
	if r.status != 200 || r.json(t)["provider"] != "wechat_v2" || !strings.HasPrefix(str(r.json(t)["package"]), "prepay_id=") {
		t.Fatalf("pay: %d %s", r.status, r.body)
	}
	if r := postJSON(t, tc, base+"/shop/wechat/query", `{"order_id":"M1"}`); r.status != 200 || r.json(t)["status"] != "pending" {
		t.Fatalf("query: %d %s", r.status, r.body)
	}
	// A path no matcher selects goes straight to reverse_proxy, unsigned:
	// the sandbox has no such API.
	if r := postJSON(t, tc, base+"/shop/other/pay", `{}`); r.status == 200 {
		t.Fatalf("an unselected path was served: %d %s", r.status, r.body)
	}
}

// TestUnknownPlaceholderFails: a field that is one placeholder Caddy does
// not know when the configuration loads would be used as its own text (a
// latipay api_key of "{$LATIPAY_API_KEY}", the Caddyfile's syntax copied
// into JSON, signs every request with those 18 bytes). The load fails
// naming the provider and the field, not the value; the global
// placeholders and literal braces inside a value still load.
func TestUnknownPlaceholderFails(t *testing.T) {
	t.Setenv("MINIPAY_TEST_LATIPAY_KEY", "lp-key-from-env")
	latipay := func(apiKey string) string {
		return `{"handler":"minipay","provider":{"name":"latipay","user_id":"U1","wallet_id":"W1","app_id":"` + appID + `","currency":"NZD","api_key":"` + apiKey + `"}}`
	}
	tc := caddytestTester(t)
	for _, value := range []string{"{$MINIPAY_TEST_LATIPAY_KEY}", "{ENV.MINIPAY_TEST_LATIPAY_KEY}", "{env:MINIPAY_TEST_LATIPAY_KEY}", "{vars.key}", "{header.X-Key}"} {
		t.Run(value, func(t *testing.T) {
			wantLoadError(t, tc, latipay(value), "minipay: provider latipay: field api_key holds a placeholder that has no value when the configuration loads", value)
		})
	}
	for _, value := range []string{"{env.MINIPAY_TEST_LATIPAY_KEY}", "k{ey}1", "{key", "lp-{x}"} {
		if err := tc.loadJSON(latipay(value)); err != nil {
			t.Fatalf("%s: %v", value, err)
		}
	}
}

// TestUnreadableFileInOptionalField: a {file.*} that cannot be read
// resolves to nothing; in a required field that fails the load
// (TestProvisionErrors), and so it does in an optional one, naming the
// field: a cbtis webhook whose api_key file is missing would otherwise
// verify with client_secret, a v3 webhook would lose its platform
// certificate, a pay route its notify_url.
func TestUnreadableFileInOptionalField(t *testing.T) {
	const missing = "{file./nonexistent/minipay/secret}"
	tc := caddytestTester(t)
	for _, tt := range []struct{ name, handler, want string }{
		{"cbtis api_key", `{"handler":"minipay_webhook","provider":{"name":"cbtis","client_secret":"cs-1","api_key":"` + missing + `"}}`,
			"minipay: provider cbtis: field api_key holds a {file.…} placeholder that resolved to nothing"},
		{"wechat_v2 notify_url", `{"handler":"minipay","provider":{"name":"wechat_v2","app_id":"` + appID + `","mch_id":"` + mchID + `","api_key":"` + apiKey + `","notify_url":"` + missing + `"}}`,
			"minipay: provider wechat_v2: field notify_url holds a {file.…} placeholder that resolved to nothing"},
		{"wechat_login sandbox", `{"handler":"minipay_sandbox","providers":[{"name":"wechat_login","app_id":"` + appID + `","app_secret":"` + appSecret + `"},{"name":"latipay","user_id":"U1","wallet_id":"W1","app_id":"` + appID + `","currency":"NZD","api_key":"k","notify_url":"` + missing + `"}]}`,
			"minipay: provider latipay: field notify_url holds a {file.…} placeholder that resolved to nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantLoadError(t, tc, tt.handler, tt.want, apiKey, appSecret) })
	}
}

// TestMatcherPairsOnOneSite holds README "Caddyfile" on matchers: a lone
// minipay and reverse_proxy with the same matcher (a path on both, or one
// named matcher on minipay and the same path on reverse_proxy) are merged
// by Caddy's adapter into one route and work; two providers on one site,
// each a pair of directives with its own path matcher, are four routes, and
// a reverse_proxy matched on the merchant's path no longer matches the
// provider's: nothing answers, and the merchant gets 502 upstream_error
// saying so, not that the provider's answer does not parse, as README says
// (handle blocks are the fix).
// In a route block, which keeps the written order, reverse_proxy written
// first answers alone.
func TestMatcherPairsOnOneSite(t *testing.T) {
	lone, named, two, routed, sandbox := itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t))
	v2 := "\t\tapp_id " + appID + "\n\t\tmch_id " + mchID + "\n\t\tapi_key " + apiKey + "\n\t\tclient_ip 127.0.0.1\n\t\tnotify_url http://localhost:" + lone + "/n\n"
	login := "\t\tapp_id " + appID + "\n\t\tapp_secret " + appSecret + "\n"
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+lone+` {
	minipay /wechat/* wechat_v2 {
`+v2+`	}
	reverse_proxy /wechat/* 127.0.0.1:`+sandbox+`
}

:`+named+` {
	@wechat path /wechat/*
	minipay @wechat wechat_v2 {
`+v2+`	}
	reverse_proxy /wechat/* 127.0.0.1:`+sandbox+`
}

:`+two+` {
	minipay /wechat/* wechat_v2 {
`+v2+`	}
	minipay /wxlogin/* wechat_login {
`+login+`	}
	reverse_proxy /wechat/* 127.0.0.1:`+sandbox+`
	reverse_proxy /wxlogin/* 127.0.0.1:`+sandbox+`
}

:`+routed+` {
	route /wechat/* {
		reverse_proxy 127.0.0.1:`+sandbox+`
		minipay wechat_v2 {
`+v2+`		}
	}
}

:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v2 {
`+v2+`		}
		wechat_login {
`+login+`		}
	}
}
`)
	const order = `","amount":"1.00","currency":"CNY","description":"Tea","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
	for i, site := range []string{lone, named} {
		if r := postJSON(t, tc, "http://localhost:"+site+"/wechat/pay", `{"order_id":"PAIR-`+itoa(i)+order); r.status != 200 || !strings.HasPrefix(str(r.json(t)["package"]), "prepay_id=") {
			t.Fatalf("site %d, one pair: %d %s", i, r.status, r.body)
		}
	}
	// A route block keeps the written order: reverse_proxy first sends the
	// merchant's JSON as it is, and minipay never runs (README "Modules and
	// directives").
	if r := postJSON(t, tc, "http://localhost:"+routed+"/wechat/pay", `{"order_id":"PAIR-3`+order); r.status == 200 || strings.Contains(string(r.body), "prepay_id") {
		t.Fatalf("reverse_proxy before minipay in a route block: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ path, body, message string }{
		{"/wechat/pay", `{"order_id":"PAIR-2` + order, nothingAnswered},
		{"/wxlogin/login", `{"code":"pair-1"}`, nothingAnswered},
	} {
		r := postJSON(t, tc, "http://localhost:"+two+c.path, c.body)
		if e := r.errorOf(t); r.status != 502 || e["code"] != "upstream_error" || e["message"] != c.message {
			t.Fatalf("two pairs on one site, %s: %d %s", c.path, r.status, r.body)
		}
	}
}

// TestHandleResponseAnsweringNothing: a reverse_proxy whose handle_response
// route matches and writes nothing (a vars only) leaves the provider's
// answer unwritten; the merchant's 502 says so, not "the provider answered
// HTTP 200" (the provider answered well), nor that no reverse_proxy
// matched (README "Caddyfile"); and the webhook's failure form, not
// "merchant backend answered 204".
func TestHandleResponseAnsweringNothing(t *testing.T) {
	site, sandbox, backend := itoa(freePort(t)), itoa(freePort(t)), itoa(freePort(t))
	v2 := "\t\tapp_id " + appID + "\n\t\tmch_id " + mchID + "\n\t\tapi_key " + apiKey + "\n\t\tclient_ip 127.0.0.1\n\t\tnotify_url http://localhost:" + site + "/n\n"
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "caddy.log"))+`
:`+site+` {
	handle /wechat/* {
		minipay wechat_v2 {
`+v2+`		}
		reverse_proxy 127.0.0.1:`+sandbox+` {
			@ok status 2xx
			handle_response @ok {
				vars seen 1
			}
		}
	}
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {
`+v2+`		}
		reverse_proxy 127.0.0.1:`+backend+` {
			@ok status 2xx
			handle_response @ok {
				vars seen 1
			}
		}
	}
}

:`+sandbox+` {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v2 {
`+v2+`		}
	}
}

:`+backend+` {
	bind 127.0.0.1
	respond 204
}
`)
	res := do(t, tc, http.MethodPost, "http://localhost:"+site+"/webhooks/wechat_v2", "text/xml",
		[]byte(xmlOf(notification(apiKey, wechatv2.SignMD5, set("transaction_id", "4200000000000000000000000077")))))
	if want := wechatFailPrefix + "no handler after minipay_webhook answered: reverse_proxy received the merchant backend's HTTP 204" +
		" and its handle_response route wrote nothing" + wechatFailSuffix; res.status != 502 || string(res.body) != want {
		t.Errorf("a webhook's handle_response route writing nothing: %d %s, want 502 %s", res.status, res.body, want)
	}
	r := postJSON(t, tc, "http://localhost:"+site+"/wechat/pay",
		`{"order_id":"HR-1","amount":"1.00","currency":"CNY","description":"Tea","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
	if e := r.errorOf(t); r.status != 502 || e["code"] != "upstream_error" || e["message"] != handleResponseAnsweredNothing {
		t.Errorf("a handle_response route writing nothing: %d %s", r.status, r.body)
	}
}

// handleResponseAnsweredNothing is the message of a reverse_proxy whose
// handle_response route wrote nothing.
const handleResponseAnsweredNothing = "no handler after minipay answered: reverse_proxy received the provider's HTTP 200 and its handle_response route wrote nothing"

// nothingAnswered is the message of a route where no handler after minipay
// answered (README "Caddyfile").
const nothingAnswered = "no handler after minipay answered: no reverse_proxy after it matched the provider's path"

// TestWhiteSpaceAroundAValueFails: a secret read from a variable of a CRLF
// env file (Docker's --env-file keeps the \r), from a file with two line
// endings or from one beginning with a byte order mark would sign every
// call with that white space or U+FEFF; the load fails naming the provider
// and the field (README "Secrets"), never the value.
func TestWhiteSpaceAroundAValueFails(t *testing.T) {
	const secret = "7jYcp4FxFdf0"
	t.Setenv("MINIPAY_TEST_2C2P_SECRET", secret+"\r")
	keyFile := filepath.Join(t.TempDir(), "secret_key")
	if err := os.WriteFile(keyFile, []byte(secret+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Saved by an editor as "UTF-8 with BOM": U+FEFF before the key, which
	// was signed with it.
	bomFile := filepath.Join(t.TempDir(), "secret_key_bom")
	if err := os.WriteFile(bomFile, []byte("\uFEFF"+secret+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tc := caddytestTester(t)
	for value, want := range map[string]string{
		"{env.MINIPAY_TEST_2C2P_SECRET}": "begins or ends with white space",
		"{file." + keyFile + "}":         "begins or ends with white space",
		"{file." + bomFile + "}":         "begins with a byte order mark",
	} {
		t.Run(value, func(t *testing.T) {
			wantLoadError(t, tc, `{"handler":"minipay_webhook","provider":{"name":"2c2p","merchant_id":"JT01","secret_key":"`+value+`"}}`,
				"minipay: provider 2c2p: field secret_key "+want, secret)
		})
	}
}

// TestEveryRequiredFieldNamed: README Provider fields, for every provider
// and each of the three handlers: the block with only the fields the
// handler requires loads (minipay_webhook needs only what verification
// needs), and without any one of them the load fails naming the provider
// and the field, never a value.
func TestEveryRequiredFieldNamed(t *testing.T) {
	keys, err := filepath.Abs(filepath.Join("..", "examples", "keys"))
	if err != nil {
		t.Fatal(err)
	}
	const v3Key = "sandbox-apiv3-key-0123456789abcd"
	// value is each field's value; the secrets are the ones no error may echo.
	value := map[string]string{
		"app_id": appID, "mch_id": mchID, "api_key": apiKey, "app_secret": appSecret,
		"serial_no": "3775B6A45ACD588826D15E583A95F5DD2F2D3B4A", "private_key": "{file." + keys + "/apiclient_key.pem}",
		"api_v3_key": v3Key, "platform_private_key": "{file." + keys + "/wechatpay_platform_key.pem}",
		"merchant_id": "JT01", "secret_key": "7jYcp4FxFdf0", "user_id": "U000334333", "wallet_id": "W00000001",
		"currency": "NZD", "uid": "39172931", "client_secret": "cs_required_fields_0123", "sub_app_id": "wx7bc98d929da735fe",
		"token_url": "https://cbtis.example/mch-api/v1/auth",
	}
	secrets := []string{apiKey, appSecret, v3Key, "7jYcp4FxFdf0", "cs_required_fields_0123"}
	// keySource is what wechat_v3 verifies with besides its required fields
	// (one source is required, README wechat_v3).
	keySource := `,"public_key":"{file.` + keys + `/wechatpay_pub_key.pem}","public_key_id":"PUB_KEY_ID_0119000001092026112900000000000001"`
	tests := []struct {
		provider, extra          string
		client, webhook, sandbox []string
	}{
		{"wechat_v2", "", []string{"app_id", "mch_id", "api_key"}, []string{"app_id", "mch_id", "api_key"}, []string{"app_id", "mch_id", "api_key"}},
		{"wechat_v3", keySource, []string{"app_id", "mch_id", "serial_no", "private_key"}, []string{"app_id", "mch_id", "api_v3_key"},
			[]string{"app_id", "mch_id", "serial_no", "private_key", "api_v3_key", "platform_private_key"}},
		{"wechat_login", "", []string{"app_id", "app_secret"}, nil, []string{"app_id", "app_secret"}},
		{"2c2p", "", []string{"merchant_id", "secret_key", "app_id"}, []string{"merchant_id", "secret_key"}, []string{"merchant_id", "secret_key", "app_id"}},
		{"latipay", "", []string{"user_id", "wallet_id", "api_key", "app_id", "currency"}, []string{"api_key"},
			[]string{"user_id", "wallet_id", "api_key", "app_id", "currency"}},
		{"cbtis", "", []string{"uid", "client_secret", "sub_app_id", "token_url"}, []string{"client_secret"}, []string{"uid", "client_secret", "sub_app_id"}},
	}
	tc := caddytestTester(t)
	for _, tt := range tests {
		object := func(fields []string, without string) string {
			o := `{"name":"` + tt.provider + `"` + tt.extra
			for _, f := range fields {
				if f != without {
					o += `,"` + f + `":"` + value[f] + `"`
				}
			}
			return o + "}"
		}
		for _, h := range []struct {
			handler string
			fields  []string
			wrap    func(string) string
		}{
			{"minipay", tt.client, func(o string) string { return `{"handler":"minipay","provider":` + o + `}` }},
			{"minipay_webhook", tt.webhook, func(o string) string { return `{"handler":"minipay_webhook","provider":` + o + `}` }},
			{"minipay_sandbox", tt.sandbox, func(o string) string { return `{"handler":"minipay_sandbox","providers":[` + o + `]}` }},
		} {
			if h.fields == nil {
				continue
			}
			t.Run(tt.provider+"/"+h.handler, func(t *testing.T) {
				if err := tc.loadJSON(h.wrap(object(h.fields, ""))); err != nil {
					t.Fatalf("the required fields alone: %v", err)
				}
				for _, f := range h.fields {
					want := "provider " + tt.provider + ": field " + f + " is required"
					if tt.provider == "cbtis" && h.handler == "minipay_webhook" { // or api_key, its own key
						want = "cbtis: api_key or client_secret is required"
					}
					wantLoadError(t, tc, h.wrap(object(h.fields, f)), want, secrets...)
				}
			})
		}
	}
}
