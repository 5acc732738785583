package wxlogin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

const (
	appID     = "wxd678efh567hg6787" // the appid of docs/providers/wechat_v2.md's paySign example
	appSecret = "0123456789abcdef0123456789abcdef"
)

func newClient(t testing.TB, expose bool) *Client {
	return transformtest.Must(t, NewClient, Config{AppID: appID, AppSecret: appSecret, ExposeSessionKey: expose})
}

func wantError(t *testing.T, err error, status int, code string) *transform.Error {
	t.Helper()
	return transformtest.WantError(t, err, status, code, appSecret)
}

// TestReadAnswerSaysWhatIsWrong: an answer code2Session could not have
// sent is a 502 whose message says what is wrong with it: JSON that is not
// JSON, or JSON whose member has another type than the documented one
// (docs/providers/wechat_login.md: errcode is a number), which is no
// matter of its syntax.
func TestReadAnswerSaysWhatIsWrong(t *testing.T) {
	for _, tt := range []struct{ name, body, message string }{
		{"garbage", `<html>502 Bad Gateway</html>`, "the provider's answer is not valid JSON"},
		{"cut short", `{"errcode":40029,"errmsg":"inva`, "the provider's answer is not valid JSON"},
		{"errcode as a string", `{"errcode":"40029","errmsg":"invalid code"}`, "the provider's answer is valid JSON, but its errcode is a string, not a number"},
		{"errcode as a boolean", `{"errcode":true}`, "the provider's answer is valid JSON, but its errcode is a bool, not a number"},
		{"errcode with a fraction", `{"errcode":40029.5}`, "the provider's answer is valid JSON, but its errcode is not an integer (a fraction, or out of range)"},
		{"errcode out of range", `{"errcode":1e99}`, "the provider's answer is valid JSON, but its errcode is not an integer (a fraction, or out of range)"},
		{"errcode in exponent form", `{"errcode":4.0029e4}`, "the provider's answer is valid JSON, but its errcode is not an integer literal (a whole number written with a fraction or an exponent)"},
		{"errcode with a zero fraction", `{"errcode":40029.0}`, "the provider's answer is valid JSON, but its errcode is not an integer literal (a whole number written with a fraction or an exponent)"},
		{"errcode with a tiny fraction", `{"errcode":40029.000000000000000001}`, "the provider's answer is valid JSON, but its errcode is not an integer (a fraction, or out of range)"},
		{"errcode whole but out of range", `{"errcode":1e19}`, "the provider's answer is valid JSON, but its errcode is not an integer (a fraction, or out of range)"},
		{"errcode negative in exponent form", `{"errcode":-1E0}`, "the provider's answer is valid JSON, but its errcode is not an integer literal (a whole number written with a fraction or an exponent)"},
		{"errcode zero with a huge exponent", `{"errcode":0.0e99999999999999999999}`, "the provider's answer is valid JSON, but its errcode is not an integer literal (a whole number written with a fraction or an exponent)"},
		{"errcode with a huge negative exponent", `{"errcode":4e-99999999999999999999}`, "the provider's answer is valid JSON, but its errcode is not an integer (a fraction, or out of range)"},
		{"errcode the largest int64 in exponent form", `{"errcode":9.223372036854775807e18}`, "the provider's answer is valid JSON, but its errcode is not an integer literal (a whole number written with a fraction or an exponent)"},
		{"errcode one past the largest int64", `{"errcode":9.223372036854775808e18}`, "the provider's answer is valid JSON, but its errcode is not an integer (a fraction, or out of range)"},
		{"errcode the smallest int64 in exponent form", `{"errcode":-9223372036854775808.0}`, "the provider's answer is valid JSON, but its errcode is not an integer literal (a whole number written with a fraction or an exponent)"},
		{"errcode an integer out of range", `{"errcode":99999999999999999999}`, "the provider's answer is valid JSON, but its errcode is not an integer (a fraction, or out of range)"},
		{"openid as a number", `{"openid":12345,"session_key":"k"}`, "the provider's answer is valid JSON, but its openid is a number, not a string"},
		{"errmsg as an object", `{"errcode":40029,"errmsg":{"zh":"x"}}`, "the provider's answer is valid JSON, but its errmsg is an object, not a string"},
		{"an array", `[{"openid":"o"}]`, "the provider's answer is valid JSON, but an array, not an object"},
		{"a string", `"ok"`, "the provider's answer is valid JSON, but a string, not an object"},
		// Members by their exact names, once, as a strict reader reads them.
		{"openid twice", `{"openid":"a","openid":"b","session_key":"k"}`, "the provider's answer gives a member twice"},
		{"errcode twice", `{"errcode":0,"openid":"o","errcode":40029}`, "the provider's answer gives a member twice"},
		{"openid in another case", `{"OpenID":"o","session_key":"k"}`, "the provider's answer has no openid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ReadAnswer(200, []byte(tt.body))
			if res != nil {
				t.Fatalf("ReadAnswer returned %+v", res)
			}
			if e := wantError(t, err, 502, transform.CodeUpstreamError); e.Message != tt.message {
				t.Fatalf("message %q, want %q", e.Message, tt.message)
			}
		})
	}
}

// The errcode table of docs/providers/wechat_login.md.
func TestReadAnswer(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		status      int // 0: success
		code, pcode string
		pmsg        string
	}{
		{"errcode absent", `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}`, 0, "", "", ""},
		{"errcode 0", `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"k","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL","errcode":0,"errmsg":"ok"}`, 0, "", "", ""},
		{"invalid code", `{"errcode":40029,"errmsg":"invalid code, rid: 6543"}`, 422, transform.CodeProviderRejected, "40029", "invalid code, rid: 6543"},
		{"code been used", `{"errcode":40163,"errmsg":"code been used"}`, 422, transform.CodeProviderRejected, "40163", "code been used"},
		{"rate limited", `{"errcode":45011,"errmsg":"api minute-quota reach limit"}`, 422, transform.CodeProviderRejected, "45011", "api minute-quota reach limit"},
		{"high-risk user", `{"errcode":40226,"errmsg":"invalid user"}`, 422, transform.CodeProviderRejected, "40226", "invalid user"},
		{"invalid appid", `{"errcode":40013,"errmsg":"invalid appid"}`, 502, transform.CodeUpstreamError, "40013", "invalid appid"},
		{"invalid appsecret", `{"errcode":40125,"errmsg":"invalid appsecret"}`, 502, transform.CodeUpstreamError, "40125", "invalid appsecret"},
		{"system busy", `{"errcode":-1,"errmsg":"system error"}`, 502, transform.CodeUpstreamError, "-1", "system error"},
		{"unlisted errcode", `{"errcode":41008,"errmsg":"missing code"}`, 502, transform.CodeUpstreamError, "41008", "missing code"},
		// Past a 32-bit int: read the same on every platform (it was "not an integer" on 386 and arm).
		{"errcode past 32 bits", `{"errcode":2147483648,"errmsg":"x"}`, 502, transform.CodeUpstreamError, "2147483648", "x"},
		{"errcode below 32 bits", `{"errcode":-2147483649,"errmsg":"x"}`, 502, transform.CodeUpstreamError, "-2147483649", "x"},
		{"errcode with an openid", `{"openid":"o","errcode":40029,"errmsg":"invalid code"}`, 422, transform.CodeProviderRejected, "40029", "invalid code"},
		{"ERRCODE is not errcode", `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"k","ERRCODE":40029}`, 0, "", "", ""},
		{"Session_Key is not session_key", `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"k","Session_Key":""}`, 0, "", "", ""},
		{"missing openid", `{"session_key":"k"}`, 502, transform.CodeUpstreamError, "", ""},
		{"empty object", `{}`, 502, transform.CodeUpstreamError, "", ""},
		{"garbage", `<html>502 Bad Gateway</html>`, 502, transform.CodeUpstreamError, "", ""},
		{"empty", ``, 502, transform.CodeUpstreamError, "", ""},
		{"errcode as a string", `{"errcode":"40029"}`, 502, transform.CodeUpstreamError, "", ""},
		{"array", `[{"openid":"o"}]`, 502, transform.CodeUpstreamError, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ReadAnswer(200, []byte(tt.body))
			if tt.status == 0 {
				if err != nil || res.OpenID != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" || res.SessionKey == "" {
					t.Fatalf("ReadAnswer = %+v, %v", res, err)
				}
				return
			}
			if res != nil {
				t.Fatalf("ReadAnswer returned %+v", res)
			}
			e := wantError(t, err, tt.status, tt.code)
			if e.ProviderCode != tt.pcode || e.ProviderMessage != tt.pmsg {
				t.Fatalf("provider_code %q provider_message %q, want %q %q", e.ProviderCode, e.ProviderMessage, tt.pcode, tt.pmsg)
			}
		})
	}
	// Not 2xx: 502 whatever the body says, with its errcode when it has one.
	for _, tt := range []struct {
		status      int
		body        string
		pcode, pmsg string
	}{
		{301, `{"openid":"o"}`, "", ""},
		{400, `{"openid":"o","errcode":0}`, "", ""},
		{404, `<html>404</html>`, "", ""},
		{500, `{"errcode":-1,"errmsg":"system error"}`, "-1", "system error"},
		{503, `{"errcode":40029,"errmsg":"invalid code"}`, "40029", "invalid code"},
		{403, `{"errcode":40163,"errmsg":"code been used"}`, "40163", "code been used"},
		{502, ``, "", ""},
		{500, `{"ErrCode":-1,"errmsg":"system error"}`, "", ""},
		{500, `{"errcode":-1,"errcode":40029}`, "", ""},
	} {
		res, err := ReadAnswer(tt.status, []byte(tt.body))
		e := wantError(t, err, 502, transform.CodeUpstreamError)
		if res != nil || e.ProviderCode != tt.pcode || e.ProviderMessage != tt.pmsg || e.Message != "the provider answered HTTP "+strconv.Itoa(tt.status) {
			t.Errorf("HTTP %d %s: %+v, error %+v", tt.status, tt.body, res, e)
		}
	}
}

func TestPrepare(t *testing.T) {
	c := newClient(t, false)
	if !c.Supports("login") || c.Supports("pay") {
		t.Fatal("Supports")
	}
	call, err := c.Prepare(context.Background(), "login", []byte(`{"code":"081xYz000abc+/="}`))
	if err != nil {
		t.Fatal(err)
	}
	if call.Method != http.MethodGet || call.Path != "/sns/jscode2session" || len(call.Body) != 0 || call.ContentType != "" {
		t.Fatalf("call %s %s body %q ct %q", call.Method, call.Path, call.Body, call.ContentType)
	}
	q, err := url.ParseQuery(call.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"appid": {appID}, "secret": {appSecret}, "js_code": {"081xYz000abc+/="}, "grant_type": {"authorization_code"}}
	if len(q) != len(want) {
		t.Fatalf("query %v", q)
	}
	for k, v := range want {
		if q.Get(k) != v[0] {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v[0])
		}
	}
	if strings.Contains(call.RawQuery, "+/=") {
		t.Fatalf("js_code is not URL-encoded: %s", call.RawQuery)
	}
	// The documented query, parameters in their order (docs/providers/wechat_login.md "Endpoint").
	if want := "appid=" + appID + "&secret=" + appSecret + "&js_code=081xYz000abc%2B%2F%3D&grant_type=authorization_code"; call.RawQuery != want {
		t.Fatalf("query %s\nwant  %s", call.RawQuery, want)
	}
	if strings.Contains(call.OrderID, appSecret) {
		t.Fatal("the log field carries the secret")
	}
}

func TestPrepareErrors(t *testing.T) {
	tests := []struct {
		name, op, body string
		status         int
		code, field    string
	}{
		{"unknown op", "pay", `{"code":"x"}`, 404, transform.CodeUnknownOperation, ""},
		{"empty op", "", `{"code":"x"}`, 404, transform.CodeUnknownOperation, ""},
		{"missing code", "login", `{}`, 400, transform.CodeInvalidRequest, "code"},
		{"empty code", "login", `{"code":""}`, 400, transform.CodeInvalidRequest, "code"},
		{"long code", "login", `{"code":"` + strings.Repeat("c", 129) + `"}`, 400, transform.CodeInvalidRequest, "code"},
		{"code as a number", "login", `{"code":123}`, 400, transform.CodeInvalidRequest, "code"},
		{"unknown field", "login", `{"code":"x","appid":"wx1"}`, 400, transform.CodeInvalidRequest, "appid"},
		{"not JSON", "login", `code=x`, 400, transform.CodeInvalidRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, err := newClient(t, false).Prepare(context.Background(), tt.op, []byte(tt.body))
			if call != nil {
				t.Fatal("a call was prepared")
			}
			if e := wantError(t, err, tt.status, tt.code); e.Field != tt.field {
				t.Fatalf("field %q, want %q", e.Field, tt.field)
			}
		})
	}
}

// README "Merchant API" login response: {"openid","unionid"?,"session_key"? (only
// with expose_session_key)}.
func TestDecodeSessionKey(t *testing.T) {
	answer := []byte(`{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"tiihtNczf5v6AKRyjwEUhQ==","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL"}`)
	tests := []struct {
		expose bool
		answer []byte
		want   string
	}{
		{false, answer, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL"}`},
		{true, answer, `{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}`},
		{false, []byte(`{"openid":"o1","session_key":"k"}`), `{"openid":"o1"}`},
	}
	for _, tt := range tests {
		call, err := newClient(t, tt.expose).Prepare(context.Background(), "login", []byte(`{"code":"c"}`))
		if err != nil {
			t.Fatal(err)
		}
		// WeChat sometimes serves the JSON as text/plain; the header is irrelevant.
		out, err := call.Decode(200, http.Header{"Content-Type": {"text/plain"}}, tt.answer)
		if err != nil || string(out) != tt.want {
			t.Fatalf("expose %v: Decode = %s, %v\nwant %s", tt.expose, out, err, tt.want)
		}
	}
	call, _ := newClient(t, false).Prepare(context.Background(), "login", []byte(`{"code":"c"}`))
	_, err := call.Decode(200, nil, []byte(`{"errcode":40163,"errmsg":"code been used"}`))
	if e := wantError(t, err, 422, transform.CodeProviderRejected); e.ProviderCode != "40163" {
		t.Fatalf("provider_code %q", e.ProviderCode)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {AppID: appID}, {AppSecret: appSecret}} {
		if _, err := NewClient(cfg); err == nil {
			t.Fatalf("NewClient(%+v) accepted", cfg)
		}
		if _, err := NewSandbox(cfg); err == nil {
			t.Fatalf("NewSandbox(%+v) accepted", cfg)
		}
	}
	var cfg Config
	if cfg.ProviderName() != "wechat_login" {
		t.Fatal("ProviderName")
	}
	fields := cfg.ConfigFields()
	if len(fields) != 2 || fields[0].Name != "app_id" || fields[1].Name != "app_secret" ||
		!fields[0].RequiredFor(transform.RoleClient) || !fields[1].RequiredFor(transform.RoleSandbox) {
		t.Fatalf("ConfigFields %+v", fields)
	}
}

func sandboxGet(t *testing.T, s *Sandbox, method string, q url.Values) Answer {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(method, "/sns/jscode2session?"+q.Encode(), nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	res, err := ReadAnswer(rec.Code, rec.Body.Bytes())
	var a Answer
	switch {
	case err == nil:
		a = Answer{OpenID: res.OpenID, SessionKey: res.SessionKey, UnionID: res.UnionID}
	default:
		var e *transform.Error
		if !errors.As(err, &e) {
			t.Fatal(err)
		}
		a.ErrMsg = e.ProviderCode
	}
	return a
}
