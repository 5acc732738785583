package caddymodule

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// `caddy minipay sign` on the published vectors (docs/providers/wechat_v2.md:
// the official v2 example; docs/providers/latipay.md: Latipay's online
// payment example, api_key 111222333, amount as a JSON number).
func TestSignCommand(t *testing.T) {
	for _, tt := range []struct {
		name, input string
		args        []string
		want        string
	}{
		{"wechat_v2 MD5", `<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str></xml>`,
			[]string{"--provider", "wechat_v2", "--set", "api_key=192006250b4c09247ec02edce69f6a2d", "-"},
			"provider: wechat_v2\nsign_type: MD5\nstring_to_sign: appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***\nsignature: 9A0A8659F005D6984697E2CA0A9CF3B7\n"},
		{"wechat_v2 HMAC-SHA256", `<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str></xml>`,
			[]string{"--provider", "wechat_v2", "--set", "api_key=192006250b4c09247ec02edce69f6a2d", "--set", "sign_type=HMAC-SHA256", "-"},
			"provider: wechat_v2\nsign_type: HMAC-SHA256\nstring_to_sign: appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***\nsignature: 6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6\n"},
		// docs/providers/wechat_v2.md's official paySign vector, as the
		// wx.requestPayment object's fields: its signType names the type.
		{"wechat_v2 paySign, signType MD5", payV2Object("MD5"),
			[]string{"--provider", "wechat_v2", "--set", "api_key=qazwsxedcrfvtgbyhnujmikolp111111", "-"},
			"provider: wechat_v2\nsign_type: MD5\nstring_to_sign: " + payV2String("MD5") + "&key=***\nsignature: 22D9B4E54AB1950F51E0649E8810ACD6\n"},
		// The same fields with signType HMAC-SHA256, signed with it without a
		// --set sign_type (MD5 was signed), computed independently:
		// printf '%s' "<the string>&key=qazwsxedcrfvtgbyhnujmikolp111111" | openssl dgst -sha256 -hmac qazwsxedcrfvtgbyhnujmikolp111111
		{"wechat_v2 paySign, signType HMAC-SHA256", payV2Object("HMAC-SHA256"),
			[]string{"--provider", "wechat_v2", "--set", "api_key=qazwsxedcrfvtgbyhnujmikolp111111", "-"},
			"provider: wechat_v2\nsign_type: HMAC-SHA256\nstring_to_sign: " + payV2String("HMAC-SHA256") +
				"&key=***\nsignature: FB9D1EFB5C509131BBFF729F88A99CA2DE9B724D06D3B3262832A53083862BC0\n"},
		{"latipay", `{"amount":120.00,"callback_url":"https://merchantsite.com/confirm","ip":"122.122.122.1","merchant_reference":"dsi39ej430sks03",` +
			`"payment_method":"alipay","product_name":"Pinot Noir, Otago","return_url":"https://merchantsite.com/checkout","user_id":"U000334333",` +
			`"version":"2.0","wallet_id":"W00000001","api_key":"111222333"}`,
			[]string{"--provider", "latipay", "--set", "api_key=111222333", "-"},
			"provider: latipay\nsign_type: HMAC-SHA256\nstring_to_sign: amount=120.00&callback_url=https://merchantsite.com/confirm&ip=122.122.122.1&merchant_reference=dsi39ej430sks03" +
				"&payment_method=alipay&product_name=Pinot Noir, Otago&return_url=https://merchantsite.com/checkout&user_id=U000334333&version=2.0&wallet_id=W00000001***\n" +
				"signature: 8d1bea078eaacdae8388852851ec39e2e8561cdce64f359421d85ed4844496ec\n"},
		// docs/providers/latipay.md's vectors 2 (the mini app's app_id added),
		// 3 (the transaction query) and 4 (the refund), the messages as the
		// page prints them with the api_key masked
		{"latipay vector 2", `{"amount":"120.00","app_id":"wx721398712681232","callback_url":"https://merchantsite.com/confirm","ip":"122.122.122.1",` +
			`"merchant_reference":"dsi39ej430sks03","payment_method":"alipay","product_name":"Pinot Noir, Otago","return_url":"https://merchantsite.com/checkout",` +
			`"user_id":"U000334333","version":"2.0","wallet_id":"W00000001"}`,
			[]string{"--provider", "latipay", "--set", "api_key=111222333", "-"},
			"provider: latipay\nsign_type: HMAC-SHA256\nstring_to_sign: amount=120.00&app_id=wx721398712681232&callback_url=https://merchantsite.com/confirm" +
				"&ip=122.122.122.1&merchant_reference=dsi39ej430sks03&payment_method=alipay&product_name=Pinot Noir, Otago&return_url=https://merchantsite.com/checkout" +
				"&user_id=U000334333&version=2.0&wallet_id=W00000001***\n" +
				"signature: 5c732083dbae8b6402bb329a0d1862de2f2337e4bc5b1ee721218fc2c3271db9\n"},
		{"latipay vector 3", `{"merchant_reference":"6000324","user_id":"U000000013"}`,
			[]string{"--provider", "latipay", "--set", "api_key=111222333", "-"},
			"provider: latipay\nsign_type: HMAC-SHA256\nstring_to_sign: merchant_reference=6000324&user_id=U000000013***\n" +
				"signature: 58f93f458880120d650611f2452917a25a39edc2f5e3a03baac73a7a49bc81f4\n"},
		{"latipay vector 4", `{"user_id":"U000334333","order_id":"23479798sdf7987234","refund_amount":"120.00","reference":"notes about this refund"}`,
			[]string{"--provider", "latipay", "--set", "api_key=111222333", "-"},
			"provider: latipay\nsign_type: HMAC-SHA256\nstring_to_sign: order_id=23479798sdf7987234&reference=notes about this refund&refund_amount=120.00" +
				"&user_id=U000334333***\n" +
				"signature: 3052b51072570b743bf9a12a20a45b0adf280aee84907ef0e54d1079fb3f961c\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := runMinipay(append([]string{"sign"}, tt.args...), strings.NewReader(tt.input), &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			if out.String() != tt.want {
				t.Fatalf("output:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
	for _, args := range [][]string{
		{"--provider", "cbtis", "--set", "api_key=k"}, {"--provider", "wechat_v2"}, {"--provider", "wechat_v2", "--set", "app_id=x"},
		{"--provider", "wechat_v2", "--set", "api_key=k", "--set", "sign_type=SHA1"},
	} {
		var out, errOut bytes.Buffer
		if code := runMinipay(append([]string{"sign"}, args...), strings.NewReader("<xml><a>1</a></xml>"), &out, &errOut); code != 2 || out.Len() != 0 {
			t.Fatalf("%v: exit %d, stdout %q", args, code, out.String())
		}
	}
	// A --set sign_type other than the object's signType is refused, as
	// one other than sign_type is.
	var out, errOut bytes.Buffer
	code := runMinipay([]string{"sign", "--provider", "wechat_v2", "--set", "api_key=qazwsxedcrfvtgbyhnujmikolp111111", "--set", "sign_type=MD5"},
		strings.NewReader(payV2Object("HMAC-SHA256")), &out, &errOut)
	if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), `the document names signType "HMAC-SHA256"`) {
		t.Fatalf("signType conflict: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// payV2Object is docs/providers/wechat_v2.md's paySign vector as an <xml>
// document with signType st, and payV2String its sorted fields.
func payV2Object(st string) string {
	return "<xml><appId>wxd678efh567hg6787</appId><nonceStr>5K8264ILTKCH16CQ2502SI8ZNMTM67VS</nonceStr>" +
		"<package>prepay_id=wx2017033010242291fcfe0db70013231072</package><signType>" + st + "</signType><timeStamp>1490840662</timeStamp></xml>"
}

func payV2String(st string) string {
	return "appId=wxd678efh567hg6787&nonceStr=5K8264ILTKCH16CQ2502SI8ZNMTM67VS&package=prepay_id=wx2017033010242291fcfe0db70013231072&signType=" + st + "&timeStamp=1490840662"
}

// sign prints like verify: a malformed --set is not repeated (it may hold
// the key), and a control character of the input is escaped.
func TestSignCommandHidesAndEscapes(t *testing.T) {
	const key = "192006250b4c09247ec02edce69f6a2d"
	var out, errOut bytes.Buffer
	code := runMinipay([]string{"sign", "--provider", "wechat_v2", "--set", "api_key:" + key, "-"}, strings.NewReader("<xml><a>1</a></xml>"), &out, &errOut)
	if code != 2 || strings.Contains(errOut.String(), key) || !strings.Contains(errOut.String(), "--set #1 (api_key...)") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	code = runMinipay([]string{"sign", "--provider", "wechat_v2", "--set", "api_key=" + key, "-"},
		strings.NewReader("<xml><a>1&#13;signature: forged</a></xml>"), &out, &errOut)
	if code != 0 || strings.Contains(out.String(), "\r") || !strings.Contains(out.String(), `a=1\rsignature: forged&key=***`) {
		t.Fatalf("exit %d, output %q", code, out.String())
	}
}

// `caddy minipay sign --provider wechat_v3`: the request's Authorization, on
// docs/providers/wechat_v3.md's vectors 2 (the message of a GET, wechatpay-go's
// wechat_pay_credential_test.go) and 3 (a POST's signature under the
// published test key, checked there with Python's cryptography).
func TestSignCommandWechatV3(t *testing.T) {
	testdata := filepath.Join("..", "transform", "wechatv3", "testdata")
	keyPath, err := filepath.Abs(filepath.Join(testdata, "wechat_v3-test-private-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(testdata, "wechat_v3-auth-body.json"))
	if err != nil {
		t.Fatal(err)
	}
	const vector3 = "pZiQhrF522xeAq+RRHDJybp2Pa+UY+kdjK/7ttFy6n20wjQGCBWdMWasBFz0gS+hxH3ljSj6KXmwA2jtjZTsdZoWBf5SDw1OfgmXpI0onXKS08kt7+mnMkJFpuT3QtlDBtfOcW5DQjA2JezMtJLsVDfd1cja8EyDVkRAmVeI2ZK3/+OFZirZ9Qt10l7ojFZyc2nb8yOCi6w1W2UUEZenveeim5v9qFLZbTupUkzR8TwjSJXOKK4EA+OY6HACrFD8QeaKvezTwQbGqTiH3gZvajrbuK4iHIZKThBs413j4xRau+ZocaMYm18dgCX2DitoYqjpsmIiL69zeD8dWz4LuQ=="
	keys := []string{"--provider", "wechat_v3", "--set", "mch_id=1900000109", "--set", "serial_no=D7CE59D1F522D701", "--set", "private_key={file." + keyPath + "}"}
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := runMinipay(append(append([]string{"sign"}, keys...), args...), strings.NewReader(stdin), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, errOut := run(string(body), "--method", "POST", "--url", "/v3/pay/transactions/jsapi", "--timestamp", "1554208460",
		"--nonce", "593BEC0C930BF1AFEB40B4A08C8FB242", "--file", "-")
	want := "provider: wechat_v3\nsign_type: SHA256-RSA2048\nstring_to_sign: POST\\n/v3/pay/transactions/jsapi\\n1554208460\\n593BEC0C930BF1AFEB40B4A08C8FB242\\n" +
		printable(string(body)) + "\\n\nsignature: " + vector3 + "\nauthorization: WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\"," +
		"nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",timestamp=\"1554208460\",serial_no=\"D7CE59D1F522D701\",signature=\"" + vector3 + "\"\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
	// The timestamp is signed as written, leading zero included (the
	// message signs the text the Authorization carries); the signature is RSA-SHA256 with the
	// test key over that message, computed with Python's cryptography.
	const leadingZero = "vhNVXZHO0j3DmsVG+YnTzj41ushYQUSbeH9JnXK2BYMtAUcoK7SgbWY8SvXNvknM/5LHE7IJ+uOMbXrdOB87X0Yd96HRsTqXAozK7Y/6TxR1uWk2dic9n/bDM7U3iPYxuOi/CeH908zay0y8gQlCYifmjjMkJqYiy65/3dxjn8cwTKfP+14U98Wr74JB7anWjnwAk0Dgk3I2es1JloAnkOwS68cAO+7fmzZX4bmuW5/PcCuaX4/eSHyeC08KaN2JiBtxj9EutCHncZddQ8NHvrtaN3PgR9Szy1mUCd6HudGFXsE1Sg3Hk+Gjeobk9C4z5UXXWmc9bGJvzJJQh9MKMA=="
	code, out, errOut = run(string(body), "--method", "POST", "--url", "/v3/pay/transactions/jsapi", "--timestamp", "01554208460",
		"--nonce", "593BEC0C930BF1AFEB40B4A08C8FB242", "--file", "-")
	if code != 0 || !strings.Contains(out, "\nstring_to_sign: POST\\n/v3/pay/transactions/jsapi\\n01554208460\\n593BEC0C930BF1AFEB40B4A08C8FB242\\n") ||
		!strings.Contains(out, "\nsignature: "+leadingZero+"\n") || !strings.Contains(out, `timestamp="01554208460",`) {
		t.Fatalf("--timestamp 01554208460: exit %d\n%s%s", code, out, errOut)
	}
	// A full URL signs its path and query; a GET has an empty body line and reads no input.
	code, out, errOut = run("never read", "--method", "get", "--url", "https://api.mch.weixin.qq.com/v3/certificates", "--timestamp", "1624523846", "--nonce", "A1B2C3D4E5F6G7")
	if code != 0 || !strings.Contains(out, "\nstring_to_sign: GET\\n/v3/certificates\\n1624523846\\nA1B2C3D4E5F6G7\\n\\n\n") {
		t.Fatalf("GET: exit %d\n%s%s", code, out, errOut)
	}
	// Without --timestamp and --nonce: now and a fresh 32-character nonce.
	code, out, _ = run("", "--method", "GET", "--url", "/v3/pay/transactions/out-trade-no/V3-1?mchid=1900000109")
	if code != 0 || !strings.Contains(out, "\nstring_to_sign: GET\\n/v3/pay/transactions/out-trade-no/V3-1?mchid=1900000109\\n") || !strings.Contains(out, `nonce_str="`) {
		t.Fatalf("defaults: exit %d\n%s", code, out)
	}
	key, _ := os.ReadFile(keyPath)
	for _, args := range [][]string{
		{"--url", "/v3/certificates"}, // no --method
		{"--method", "GET"},           // no --url
		{"--method", "GET", "--url", "v3/certificates"},
		{"--method", "GET", "--url", "/v3/certificates\nX"}, // another message
		{"--method", "GET", "--url", "/v3/certificates?a=b c"},
		{"--url", "/v3/certificates", "--method", "GET\nX"},
		{"--url", "/v3/certificates", "--method", "G T"},
		{"--method", "GET", "--url", "/v3/certificates", "--timestamp", "soon"},
		{"--method", "GET", "--url", "/v3/certificates", "--timestamp", "+1554208460"},
		{"--method", "GET", "--url", "/v3/certificates", "--timestamp", "1554208460000"}, // milliseconds
		{"--method", "GET", "--url", "/v3/certificates", "--timestamp", "0"},
		{"--method", "GET", "--url", "/v3/certificates", "--nonce", "A1B2\nC3D4"}, // another message
		{"--method", "GET", "--url", "/v3/certificates", "--nonce", `A1",signature="x`},
		{"--method", "GET", "--url", "/v3/certificates", "--nonce", "A1B2 C3D4"},
		{"--method", "GET", "--url", "/v3/certificates", "--set", "api_key=k"},
		{"--method", "GET", "--url", "/v3/certificates", "--set", "private_key=not a key"},
	} {
		code, out, errOut := run("", args...)
		if code != 2 || out != "" || strings.Contains(errOut, "PRIVATE KEY") || strings.Contains(errOut, string(key[40:80])) {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		// A bad value given last is named by its flag (a row of one flag
		// lacks another).
		if flag := args[len(args)-2]; len(args) > 2 && slices.Contains([]string{"--timestamp", "--nonce", "--method", "--url"}, flag) &&
			!strings.Contains(errOut, flag) {
			t.Errorf("%q: stderr %q does not name %s", args, errOut, flag)
		}
	}
	// --method, --url, --timestamp and --nonce are wechat_v3's.
	var stdout, stderr bytes.Buffer
	if code := runMinipay([]string{"sign", "--provider", "wechat_v2", "--set", "api_key=k", "--method", "POST", "-"}, strings.NewReader("<xml><a>1</a></xml>"), &stdout, &stderr); code != 2 {
		t.Fatalf("wechat_v2 with --method: exit %d %s", code, stdout.String())
	}
}

// A wechat_v2 document naming its sign_type is signed with it (WeChat checks
// the request so); a --set sign_type naming the other type is a usage error
// that names both, never a signature WeChat would refuse.
func TestSignCommandWechatV2SignTypeConflict(t *testing.T) {
	const doc = `<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign_type>%s</sign_type></xml>`
	for _, tt := range []struct {
		name, named, set string
		code             int
		signType         string
	}{
		{"named, no --set", "HMAC-SHA256", "", 0, "HMAC-SHA256"},
		{"named and the same --set", "HMAC-SHA256", "HMAC-SHA256", 0, "HMAC-SHA256"},
		{"named HMAC-SHA256, --set MD5", "HMAC-SHA256", "MD5", 2, ""},
		{"named MD5, --set HMAC-SHA256", "MD5", "HMAC-SHA256", 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"sign", "--provider", "wechat_v2", "--set", "api_key=192006250b4c09247ec02edce69f6a2d", "-"}
			if tt.set != "" {
				args = append(args, "--set", "sign_type="+tt.set)
			}
			var out, errOut bytes.Buffer
			code := runMinipay(args, strings.NewReader(fmt.Sprintf(doc, tt.named)), &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s%s", code, tt.code, out.String(), errOut.String())
			}
			if tt.code == 0 && !strings.Contains(out.String(), "\nsign_type: "+tt.signType+"\n") {
				t.Fatalf("output:\n%s", out.String())
			}
			if tt.code == 2 && (out.Len() != 0 || !strings.Contains(errOut.String(), "--set sign_type="+tt.set+", but the document names sign_type \""+tt.named+"\"")) {
				t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
			}
		})
	}
}

// A --set value that resolves with white space around it (an env file with
// CRLF lines keeps the \r) or a byte order mark before it is refused as a configuration load and verify
// refuse it, naming the field, never the value: sign would print a
// signature under the key and the \r, which the masked output hides.
func TestSignCommandPaddedValue(t *testing.T) {
	const key = "192006250b4c09247ec02edce69f6a2d"
	const doc = `<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str></xml>`
	for _, tt := range []struct{ name, provider, value, input, want string }{
		{"wechat_v2, CRLF env file", "wechat_v2", key + "\r", doc, "begins or ends with white space"},
		{"wechat_v2, leading space", "wechat_v2", " " + key, doc, "begins or ends with white space"},
		{"latipay, trailing newline", "latipay", "111222333\n", `{"amount":"1.00"}`, "begins or ends with white space"},
		{"latipay, byte order mark", "latipay", "\uFEFF111222333", `{"amount":"1.00"}`, "begins with a byte order mark"},
		{"latipay, UTF-16", "latipay", string(utf16LE("111222333")), `{"amount":"1.00"}`, "holds a NUL byte"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set := "api_key={env.MINIPAY_SIGN_TEST_KEY}"
			if strings.IndexByte(tt.value, 0) >= 0 { // no environment variable holds a NUL
				keyFile := filepath.Join(t.TempDir(), "key")
				if err := os.WriteFile(keyFile, []byte(tt.value), 0o600); err != nil {
					t.Fatal(err)
				}
				set = "api_key={file." + keyFile + "}"
			} else {
				t.Setenv("MINIPAY_SIGN_TEST_KEY", tt.value)
			}
			var out, errOut bytes.Buffer
			code := runMinipay([]string{"sign", "--provider", tt.provider, "--set", set, "-"}, strings.NewReader(tt.input), &out, &errOut)
			if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "--set api_key "+tt.want) ||
				strings.Contains(errOut.String(), strings.TrimSpace(strings.TrimPrefix(tt.value, "\uFEFF"))) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
			}
		})
	}
	// PEM text may end with its line ending (wechat_v3's private_key).
	pem, err := os.ReadFile(filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-test-private-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MINIPAY_SIGN_TEST_PEM", strings.TrimSpace(string(pem))+"\r\n")
	var out, errOut bytes.Buffer
	code := runMinipay([]string{"sign", "--provider", "wechat_v3", "--set", "mch_id=1900000109", "--set", "serial_no=D7CE59D1F522D701",
		"--set", "private_key={env.MINIPAY_SIGN_TEST_PEM}", "--method", "GET", "--url", "/v3/certificates", "--timestamp", "1554208460",
		"--nonce", "593BEC0C930BF1AFEB40B4A08C8FB242"}, strings.NewReader(""), &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "\nauthorization: WECHATPAY2-SHA256-RSA2048 ") {
		t.Fatalf("PEM with its line ending: exit %d, %s%s", code, out.String(), errOut.String())
	}
}

// `caddy minipay sign --provider 2c2p` on docs/providers/2c2p.md's demo
// request (2c2p-demo-request.form, merchant JT01, demo key 7jYcp4FxFdf0):
// given as sent, or as its payload document, the signature is the published
// one and the envelope to send is the one the demo server took, byte for
// byte. The expected texts are read out of the fixture with the standard
// library.
func TestSignCommand2C2P(t *testing.T) {
	envelope, err := url.QueryUnescape(strings.TrimPrefix(transformtest.TwoC2PDemoRequestForm, "paymentRequest="))
	if err != nil {
		t.Fatal(err)
	}
	outer, err := base64.StdEncoding.DecodeString(envelope)
	if err != nil {
		t.Fatal(err)
	}
	payload := regexp.MustCompile(`<payload>([^<]+)</payload>`).FindSubmatch(outer)[1]
	document, err := base64.StdEncoding.DecodeString(string(payload))
	if err != nil {
		t.Fatal(err)
	}
	want := "provider: 2c2p\nsign_type: HMAC-SHA256\nstring_to_sign: " + string(payload) + "\nsignature: " +
		transformtest.TwoC2PDemoRequestSignature + "\npayment_request: " + envelope + "\n"
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(transformtest.TwoC2PDemoSecretKey), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(input string, sets ...string) (int, string, string) {
		args := []string{"sign", "--provider", "2c2p", "--file", "-"}
		for _, s := range sets {
			args = append(args, "--set", s)
		}
		var out, errOut bytes.Buffer
		code := runMinipay(args, strings.NewReader(input), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	for _, tt := range []struct {
		name, input string
		sets        []string
	}{
		{"the request as sent", transformtest.TwoC2PDemoRequestForm, []string{"secret_key=7jYcp4FxFdf0"}},
		{"the bare envelope", envelope, []string{"secret_key=7jYcp4FxFdf0"}},
		{"the payload document", string(document), []string{"secret_key=7jYcp4FxFdf0"}},
		{"the key from a file, the version set", string(document), []string{"secret_key={file." + keyFile + "}", "version=9.9"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, out, errOut := run(tt.input, tt.sets...); code != 0 || out != want {
				t.Fatalf("exit %d %s\n%s\nwant:\n%s", code, errOut, out, want)
			}
		})
	}
	// another version is written in the envelope (it is not signed)
	if code, out, _ := run(string(document), "secret_key=7jYcp4FxFdf0", "version=9.8"); code != 0 ||
		!strings.Contains(out, "\nsignature: "+transformtest.TwoC2PDemoRequestSignature+"\n") ||
		!strings.Contains(out, "\npayment_request: "+base64.StdEncoding.EncodeToString([]byte("<PaymentRequest><version>9.8</version>"))[:40]) {
		t.Fatalf("version 9.8: exit %d\n%s", code, out)
	}
	// another key gives another signature: what 2C2P refuses as "Invalid signature."
	if code, out, _ := run(transformtest.TwoC2PDemoRequestForm, "secret_key=another-key"); code != 0 || strings.Contains(out, transformtest.TwoC2PDemoRequestSignature) ||
		!strings.Contains(out, "\nstring_to_sign: "+string(payload)+"\n") {
		t.Fatalf("another key: exit %d\n%s", code, out)
	}
	for _, tt := range []struct {
		name, input string
		sets        []string
	}{
		{"no key", string(document), nil},
		{"a field sign does not take", string(document), []string{"secret_key=7jYcp4FxFdf0", "merchant_id=JT01"}},
		{"a pay answer, not a request", transformtest.TwoC2PDemoApproved, []string{"secret_key=7jYcp4FxFdf0"}},
		{"the envelope's XML", string(outer), []string{"secret_key=7jYcp4FxFdf0"}},
		{"not XML", "hello", []string{"secret_key=7jYcp4FxFdf0"}},
		// a version the configuration refuses: one with a control
		// character was written into an envelope no XML parser reads
		{"a version with a control character", string(document), []string{"secret_key=7jYcp4FxFdf0", "version=9\x019"}},
		{"a version not like 9.9", transformtest.TwoC2PDemoRequestForm, []string{"secret_key=7jYcp4FxFdf0", "version=v2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, out, errOut := run(tt.input, tt.sets...); code != 2 || out != "" || strings.Contains(errOut, "7jYcp4FxFdf0") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

// `caddy minipay verify --provider 2c2p` on a pay request: the merchant's
// own call, not something 2C2P sends, is a usage error naming sign (it was
// "verdict: invalid (notification is not a well-formed document)", exit 1,
// for a request whose signature is right).
func TestVerifyCommand2C2PRequest(t *testing.T) {
	envelope, err := url.QueryUnescape(strings.TrimPrefix(transformtest.TwoC2PDemoRequestForm, "paymentRequest="))
	if err != nil {
		t.Fatal(err)
	}
	for name, input := range map[string]string{"the request as sent": transformtest.TwoC2PDemoRequestForm, "the bare envelope": envelope} {
		var out, errOut bytes.Buffer
		code := runMinipay([]string{"verify", "--provider", "2c2p", "--set", "merchant_id=JT01", "--set", "secret_key=7jYcp4FxFdf0", "--file", "-"},
			strings.NewReader(input), &out, &errOut)
		if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "pay request (PaymentRequest)") ||
			!strings.Contains(errOut.String(), "caddy minipay sign --provider 2c2p") || strings.Contains(errOut.String(), "7jYcp4FxFdf0") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", name, code, out.String(), errOut.String())
		}
	}
}

// A merchant's request saved as the HTTP message it sent (a debugging
// proxy, nc -l) is signed by its body; for wechat_v3 the request line
// gives --method and --url, and the Authorization header it carried gives
// --timestamp and --nonce, so the printed signature is the one its own
// should have been (README "caddy minipay verify", caddy minipay sign).
// Published vectors: WeChat's official v2 example, Latipay's vector 1 and
// WeChat Pay v3's vector 3 (docs/providers).
func TestSignCommandHTTPRequest(t *testing.T) {
	testdata := filepath.Join("..", "transform", "wechatv3", "testdata")
	keyPath, err := filepath.Abs(filepath.Join(testdata, "wechat_v3-test-private-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	v3Body, err := os.ReadFile(filepath.Join(testdata, "wechat_v3-auth-body.json"))
	if err != nil {
		t.Fatal(err)
	}
	const vector3 = "pZiQhrF522xeAq+RRHDJybp2Pa+UY+kdjK/7ttFy6n20wjQGCBWdMWasBFz0gS+hxH3ljSj6KXmwA2jtjZTsdZoWBf5SDw1OfgmXpI0onXKS08kt7+mnMkJFpuT3QtlDBtfOcW5DQjA2JezMtJLsVDfd1cja8EyDVkRAmVeI2ZK3/+OFZirZ9Qt10l7ojFZyc2nb8yOCi6w1W2UUEZenveeim5v9qFLZbTupUkzR8TwjSJXOKK4EA+OY6HACrFD8QeaKvezTwQbGqTiH3gZvajrbuK4iHIZKThBs413j4xRau+ZocaMYm18dgCX2DitoYqjpsmIiL69zeD8dWz4LuQ=="
	const v2Request = `<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str></xml>`
	const latipayRequest = `{"amount":"120.00","callback_url":"https://merchantsite.com/confirm","ip":"122.122.122.1","merchant_reference":"dsi39ej430sks03",` +
		`"payment_method":"alipay","product_name":"Pinot Noir, Otago","return_url":"https://merchantsite.com/checkout","user_id":"U000334333","version":"2.0","wallet_id":"W00000001"}`
	request := func(line string, headers []string, body string) string {
		return strings.Join(append([]string{line, "Host: api.example", "Content-Length: " + strconv.Itoa(len(body))}, headers...), "\r\n") + "\r\n\r\n" + body
	}
	v3Keys := []string{"--provider", "wechat_v3", "--set", "mch_id=1900000109", "--set", "serial_no=D7CE59D1F522D701", "--set", "private_key={file." + keyPath + "}"}
	sentAuth := `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",timestamp="1554208460",serial_no="D7CE59D1F522D701",signature="c2lnbmF0dXJl"`
	for _, tt := range []struct {
		name, input string
		args        []string
		want        string // a part of the output
	}{
		{"wechat_v2", request("POST /pay/unifiedorder HTTP/1.1", []string{"Content-Type: text/xml"}, v2Request),
			[]string{"--provider", "wechat_v2", "--set", "api_key=192006250b4c09247ec02edce69f6a2d"}, "\nsignature: 9A0A8659F005D6984697E2CA0A9CF3B7\n"},
		{"latipay", request("POST /v2/miniapppay HTTP/1.1", []string{"Content-Type: application/json;charset=UTF-8"}, latipayRequest) + "\n",
			[]string{"--provider", "latipay", "--set", "api_key=111222333"}, "\nsignature: 8d1bea078eaacdae8388852851ec39e2e8561cdce64f359421d85ed4844496ec\n"},
		{"wechat_v3, the request line, timestamp and nonce from the message", request("POST /v3/pay/transactions/jsapi HTTP/1.1",
			[]string{"Content-Type: application/json", sentAuth}, string(v3Body)), v3Keys, "\nsignature: " + vector3 + "\n"},
		{"wechat_v3, an absolute-form request line, LF line ends, no length",
			"POST https://api.mch.weixin.qq.com/v3/pay/transactions/jsapi HTTP/1.1\nHost: api.mch.weixin.qq.com\n" + sentAuth + "\n\n" + string(v3Body),
			v3Keys, "\nsignature: " + vector3 + "\n"},
		{"wechat_v3, flags win over the message", request("GET /v3/other HTTP/1.1", []string{sentAuth}, string(v3Body)),
			append(v3Keys[:len(v3Keys):len(v3Keys)], "--method", "POST", "--url", "/v3/pay/transactions/jsapi"), "\nsignature: " + vector3 + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMinipay(append(append([]string{"sign"}, tt.args...), "-"), strings.NewReader(tt.input), &out, &errOut)
			if code != 0 || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("exit %d\n%s%s\nwant %q", code, out.String(), errOut.String(), tt.want)
			}
		})
	}
	// A captured timestamp WeChat would not read (milliseconds) is a usage
	// error naming the message's Authorization, not --timestamp, which was
	// not given; a --timestamp given is named as the flag.
	msAuth := strings.Replace(sentAuth, `timestamp="1554208460"`, `timestamp="1554208460000"`, 1)
	quoteAuth := strings.Replace(sentAuth, `nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242"`, `nonce_str="593BEC0C"930BF1AF"`, 1)
	for _, tt := range []struct {
		auth      string
		args      []string
		want, not string
	}{
		{msAuth, v3Keys, "Authorization timestamp", "--timestamp:"},
		{msAuth, append(v3Keys[:len(v3Keys):len(v3Keys)], "--timestamp", "+1554208460"), "--timestamp:", "Authorization timestamp"},
		{quoteAuth, v3Keys, "Authorization nonce_str", "--nonce:"},
	} {
		var out, errOut bytes.Buffer
		input := request("POST /v3/pay/transactions/jsapi HTTP/1.1", []string{"Content-Type: application/json", tt.auth}, string(v3Body))
		code := runMinipay(append(append([]string{"sign"}, tt.args...), "-"), strings.NewReader(input), &out, &errOut)
		if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), tt.want) || strings.Contains(errOut.String(), tt.not) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q, want exit 2 naming %q", tt.args, code, out.String(), errOut.String(), tt.want)
		}
	}
}

// `caddy minipay sign --provider wechat_v3` with a private_key that does not
// read says why, as the configuration load does (README Provider fields): a
// key exported with a passphrase is named encrypted, and the key's text is
// never shown.
func TestSignCommandV3KeyErrors(t *testing.T) {
	for _, tt := range []struct{ name, key, want string }{
		{"encrypted PKCS#8", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
			"private_key is encrypted"},
		{"encrypted PKCS#1", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\nMIIEpAIBAAKCAQEAwJm2\n-----END RSA PRIVATE KEY-----\n",
			"private_key is encrypted"},
		{"not PEM", "MIIEpAIBAAKCAQEAwJm2", "private_key is not PEM text"},
		// The merchant certificate in the file names another serial than
		// serial_no: the Authorization printed would be refused by WeChat,
		// and the route refuses to load with it.
		{"after the certificate of another serial", readExampleKey(t, "apiclient_cert.pem") + readExampleKey(t, "apiclient_key.pem"),
			"serial_no is not the serial of private_key's certificate"},
		{"two keys", readExampleKey(t, "apiclient_key.pem") + readExampleKey(t, "wechatpay_platform_key.pem"), "private_key holds more than one key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MINIPAY_SIGN_TEST_PEM", tt.key)
			var out, errOut bytes.Buffer
			code := runMinipay([]string{"sign", "--provider", "wechat_v3", "--set", "mch_id=1900000109", "--set", "serial_no=D7CE59D1F522D701",
				"--set", "private_key={env.MINIPAY_SIGN_TEST_PEM}", "--method", "GET", "--url", "/v3/certificates"}, strings.NewReader(""), &out, &errOut)
			if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), tt.want) || strings.Contains(errOut.String(), "MII") {
				t.Fatalf("exit %d, stdout %q, stderr %q, want exit 2 saying %q", code, out.String(), errOut.String(), tt.want)
			}
		})
	}
}

// readExampleKey reads a file of examples/keys.
func readExampleKey(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every provider sign knows (the registry's, README Development)
// names as its fields only configuration fields, each once, with a usage:
// sign sets them through ConfigFields.
func TestSignFieldsAreConfigFields(t *testing.T) {
	signers := signedProviders()
	if len(signers) < 4 {
		t.Fatalf("sign knows only %q", signers)
	}
	for _, name := range signers {
		p := requestExplainer(name)
		seen := map[string]bool{}
		for _, f := range p.RequestSigning().Fields {
			if fieldIndex(p.ConfigFields(), f.Name) < 0 || seen[f.Name] || f.Usage == "" {
				t.Errorf("%s: sign field %q: not a configuration field, named twice, or without a usage", name, f.Name)
			}
			seen[f.Name] = true
		}
	}
}

// A Latipay request holding a JSON boolean, object or array is a usage
// error naming the parameter (README "caddy minipay verify", sign): Latipay
// takes strings and numbers, and its sandbox answers such a request 207
// "Param is wrong" (transform/latipay readJSONParams), so no signature
// makes it pass. sign printed one, over "true" and without the object or
// array. Latipay's vector 3 (docs/providers/latipay.md) with one such
// parameter added.
func TestSignCommandLatipayRefusesWhatLatipayRefuses(t *testing.T) {
	for _, tt := range []struct{ name, param, value, kind string }{
		{"a boolean true", "is_block", "true", "boolean"},
		{"a boolean false", "is_block", "false", "boolean"},
		{"an object", "extra", `{"a":"1"}`, "object"},
		{"an empty object", "extra", `{}`, "object"},
		{"an array", "items", `["1"]`, "array"},
		{"an empty array", "items", `[]`, "array"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			input := `{"merchant_reference":"6000324","user_id":"U000000013","` + tt.param + `":` + tt.value + `}`
			var out, errOut bytes.Buffer
			code := runMinipay([]string{"sign", "--provider", "latipay", "--set", "api_key=111222333", "-"}, strings.NewReader(input), &out, &errOut)
			want := `parameter "` + tt.param + `" is a JSON ` + tt.kind
			if code != exitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), want) || strings.Contains(errOut.String(), "111222333") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", code, out.String(), errOut.String(), want)
			}
		})
	}
	// Of several, the first by name is named, whatever the map's order; a
	// null is absent, as the sandbox reads it, and vector 3 still signs.
	var out, errOut bytes.Buffer
	code := runMinipay([]string{"sign", "--provider", "latipay", "--set", "api_key=111222333", "-"},
		strings.NewReader(`{"z":[1],"merchant_reference":"6000324","b":true,"user_id":"U000000013"}`), &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), `parameter "b" is a JSON boolean`) {
		t.Fatalf("several: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	code = runMinipay([]string{"sign", "--provider", "latipay", "--set", "api_key=111222333", "-"},
		strings.NewReader(`{"merchant_reference":"6000324","note":null,"user_id":"U000000013"}`), &out, &errOut)
	if code != exitValid || !strings.Contains(out.String(), "\nsignature: 58f93f458880120d650611f2452917a25a39edc2f5e3a03baac73a7a49bc81f4\n") {
		t.Fatalf("null: exit %d, stdout %q", code, out.String())
	}
}

// latipaySignRefuses runs sign for Latipay (api_key 111222333) on input and
// checks it is a usage error saying want, with no output and no key printed.
func latipaySignRefuses(t *testing.T, input, want string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMinipay([]string{"sign", "--provider", "latipay", "--set", "api_key=111222333", "-"}, strings.NewReader(input), &out, &errOut)
	if code != exitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), want) || strings.Contains(errOut.String(), "111222333") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 saying %q", code, out.String(), errOut.String(), want)
	}
}

// A Latipay request whose text is not UTF-8 (a byte that is not, or a \u
// escape of half a surrogate pair), in a value or a name, is a usage error
// naming the parameter (README "caddy minipay verify", sign), as the plugin refuses
// such text everywhere (transform.ValidJSONText): encoding/json reads it as
// U+FFFD, and sign signed that. Latipay's vector 3 (docs/providers/latipay.md)
// with one parameter added; U+FFFD itself, written in UTF-8, still signs.
func TestSignCommandLatipayRefusesTextThatIsNotUTF8(t *testing.T) {
	const vector3 = `"merchant_reference":"6000324","user_id":"U000000013"`
	for _, tt := range []struct{ name, input, want string }{
		{"a byte 0xFF", "{" + vector3 + ",\"note\":\"a\xffb\"}", `parameter "note" is not UTF-8 text`},
		{"an overlong C0 AE", "{" + vector3 + ",\"note\":\"\xc0\xae\"}", `parameter "note" is not UTF-8 text`},
		{"a lone surrogate escape", "{" + vector3 + `,"note":"\ud800"}`, `parameter "note" is not UTF-8 text`},
		{"a low half first", "{" + vector3 + `,"note":"\udc00\ud800"}`, `parameter "note" is not UTF-8 text`},
		{"in a name", "{" + vector3 + ",\"n\xffte\":\"1\"}", `parameter name "n\ufffdte" is not UTF-8 text`},
		{"an escape in a name", "{" + vector3 + `,"n\ud800":"1"}`, `parameter name "n\ufffd" is not UTF-8 text`},
	} {
		t.Run(tt.name, func(t *testing.T) { latipaySignRefuses(t, tt.input, tt.want) })
	}
	var out, errOut bytes.Buffer
	code := runMinipay([]string{"sign", "--provider", "latipay", "--set", "api_key=111222333", "-"},
		strings.NewReader("{"+vector3+`,"note":"\ufffd\ud83d\ude00`+"\uFFFD\"}"), &out, &errOut)
	if code != exitValid || !strings.Contains(out.String(), "&note=\uFFFD\U0001F600\uFFFD&") {
		t.Fatalf("U+FFFD written in UTF-8: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// A Latipay request with text after its JSON object, or JSON null, is a
// usage error (README "caddy minipay verify", sign): the sandbox's
// readJSONParams (json.Unmarshal) answers it 207 "Param is wrong", whatever
// its signature. sign signed the first object and ignored the rest. White
// space after the object is allowed, as json.Unmarshal allows it, and
// vector 3 (docs/providers/latipay.md) still signs.
func TestSignCommandLatipayRefusesTextAfterTheObject(t *testing.T) {
	const vector3 = `{"merchant_reference":"6000324","user_id":"U000000013"}`
	for _, tt := range []struct{ name, input, want string }{
		{"a second object", vector3 + `{"user_id":"U000000014"}`, "the input holds text after the JSON object"},
		{"a word", vector3 + " x", "the input holds text after the JSON object"},
		{"a closing brace", vector3 + "}", "the input holds text after the JSON object"},
		{"a number after a newline", vector3 + "\n1\n", "the input holds text after the JSON object"},
		{"null", "null", "the input is not a JSON object"},
	} {
		t.Run(tt.name, func(t *testing.T) { latipaySignRefuses(t, tt.input, tt.want) })
	}
	var out, errOut bytes.Buffer
	code := runMinipay([]string{"sign", "--provider", "latipay", "--set", "api_key=111222333", "-"}, strings.NewReader(vector3+" \r\n\t"), &out, &errOut)
	if code != exitValid || !strings.Contains(out.String(), "\nsignature: 58f93f458880120d650611f2452917a25a39edc2f5e3a03baac73a7a49bc81f4\n") {
		t.Fatalf("white space after: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
