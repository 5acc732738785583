package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConfiguredValuesRefusedAtLoad: through a real Caddy, a configured
// value that breaks its rule (README "Provider fields") fails the load,
// in a Caddyfile and in JSON, naming the provider and the field and never
// the value: wechat_v3's mch_id names the storage key of its certificate
// download (minipay/wechat_v3/<mch_id>/certificates), so "../" would have
// written outside Caddy's storage; a quote or a line break in an id that
// goes into a header would have forged another parameter or header; user
// info in a URL would have shown in GET /minipay/providers.
func TestConfiguredValuesRefusedAtLoad(t *testing.T) {
	t.Setenv("MINIPAY_TEST_KEY_ID_CRLF", "PUB_KEY_ID_01\r\nX-Injected: 1")
	t.Setenv("MINIPAY_TEST_PATH_CTL", "/SecurePayment/\x01Payment.aspx")
	v3Webhook := func(mch, extra string) string {
		return "minipay_webhook wechat_v3 {\n app_id " + appID + "\n mch_id " + mch + "\n serial_no " + v3Serial +
			"\n private_key {file." + v3KeyPath(t, "apiclient_key.pem") + "}\n api_v3_key " + v3APIv3Key + "\n" + extra + "}"
	}
	certificatesURL := " certificates_url https://api.mch.weixin.qq.com/v3/certificates\n"
	tests := []struct{ name, block, want, value string }{
		{"v3 mch_id with ../", v3Webhook("../../../../tmp/minipay-outside", certificatesURL), "wechat_v3: mch_id ", "minipay-outside"},
		{"v3 mch_id with a quote", v3Webhook(`"1900000109\",serial_no=\"X"`, certificatesURL), "wechat_v3: mch_id ", "serial_no=\\"},
		{"v3 public key id as serial_no", strings.Replace(v3Webhook(mchID, certificatesURL), v3Serial, v3PublicKeyID, 1), "wechat_v3: serial_no ", v3PublicKeyID},
		{"v3 public_key_id with CRLF", v3Webhook(mchID, " public_key {file."+v3KeyPath(t, "wechatpay_pub_key.pem")+"}\n public_key_id {env.MINIPAY_TEST_KEY_ID_CRLF}\n"),
			"wechat_v3: public_key_id ", "X-Injected"},
		{"v3 certificates_url with user info", v3Webhook(mchID, " certificates_url https://mch:pw0rd@api.mch.weixin.qq.com/v3/certificates\n"),
			"wechat_v3: certificates_url ", "pw0rd"},
		{"v2 api_key not ASCII", "minipay wechat_v2 {\n app_id " + appID + "\n mch_id " + mchID + "\n api_key 密钥密钥密钥密钥密钥ab\n}", "wechat_v2: api_key ", "密钥"},
		{"login app_id with /", "minipay wechat_login {\n app_id wx1/../x\n app_secret " + appSecret + "\n}", "wechat_login: app_id ", "wx1/"},
		{"2c2p payment_path with a control character", "minipay 2c2p {\n merchant_id JT01\n secret_key 7jYcp4FxFdf0\n app_id " + appID +
			"\n payment_path {env.MINIPAY_TEST_PATH_CTL}\n}", "2c2p: payment_path ", "SecurePayment"},
		{"latipay user_id with &", "minipay latipay {\n user_id U000334333&wallet_id=W2\n wallet_id W00000001\n api_key lp-key\n app_id " + appID +
			"\n currency NZD\n}", "latipay: user_id ", "wallet_id=W2"},
		{"cbtis token_url with user info", "minipay cbtis {\n uid 39172931\n client_secret cs-secret\n sub_app_id " + appID +
			"\n token_url https://39172931:cs-secret@cbtis.example/mch-api/v1/auth\n}", "cbtis: token_url ", "cs-secret"},
		{"sandbox cbtis uid with /", "minipay_sandbox cbtis {\n uid 39172931/..\n client_secret cs-secret\n sub_app_id " + appID + "\n}", "cbtis: uid ", "39172931/"},
	}
	tc := caddytestTester(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tc.load(globalOptions(filepath.Join(t.TempDir(), "log")) + ":" + itoa(freePort(t)) + " {\n" + tt.block + "\nreverse_proxy 127.0.0.1:9\n}\n")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("load error %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.value) {
				t.Fatalf("the error echoes the value: %v", err)
			}
		})
	}
	t.Run("JSON", func(t *testing.T) {
		err := tc.loadJSON(`{"handler":"minipay","provider":{"name":"wechat_v3","app_id":"` + appID + `","mch_id":"1900000109/..","serial_no":"` + v3Serial +
			`","private_key":"{file.` + v3KeyPath(t, "apiclient_key.pem") + `}","public_key":"{file.` + v3KeyPath(t, "wechatpay_pub_key.pem") +
			`}","public_key_id":"` + v3PublicKeyID + `"}}`)
		if err == nil || !strings.Contains(err.Error(), "wechat_v3: mch_id may only contain A-Z a-z 0-9 _ -") || strings.Contains(err.Error(), "1900000109/") {
			t.Fatalf("load error %v, want one naming mch_id without its value", err)
		}
	})
}
