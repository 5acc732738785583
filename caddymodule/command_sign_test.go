package caddymodule

import (
	"bytes"
	"strings"
	"testing"
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
		{"latipay", `{"amount":120.00,"callback_url":"https://merchantsite.com/confirm","ip":"122.122.122.1","merchant_reference":"dsi39ej430sks03",` +
			`"payment_method":"alipay","product_name":"Pinot Noir, Otago","return_url":"https://merchantsite.com/checkout","user_id":"U000334333",` +
			`"version":"2.0","wallet_id":"W00000001","api_key":"111222333"}`,
			[]string{"--provider", "latipay", "--set", "api_key=111222333", "-"},
			"provider: latipay\nsign_type: HMAC-SHA256\nstring_to_sign: amount=120.00&callback_url=https://merchantsite.com/confirm&ip=122.122.122.1&merchant_reference=dsi39ej430sks03" +
				"&payment_method=alipay&product_name=Pinot Noir, Otago&return_url=https://merchantsite.com/checkout&user_id=U000334333&version=2.0&wallet_id=W00000001***\n" +
				"signature: 8d1bea078eaacdae8388852851ec39e2e8561cdce64f359421d85ed4844496ec\n"},
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
