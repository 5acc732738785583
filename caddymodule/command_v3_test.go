package caddymodule

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform/wechatv3"
)

// v3Notification is a WeChat Pay v3 notification for Caddyfile.example's
// merchant, encrypted with its APIv3 key and signed now with the example
// platform key (examples/keys), as the sandbox sends one; the RSA and
// AES-GCM primitives are checked against WeChat's published vectors in
// transform/wechatv3.
func v3Notification(t *testing.T) (body []byte, headers []string) {
	t.Helper()
	plain := `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"V3-1","transaction_id":"4200000001202611290000000001",` +
		`"trade_type":"JSAPI","trade_state":"SUCCESS","success_time":"2026-11-29T15:00:00+08:00","amount":{"total":3600,"currency":"CNY"}}`
	res, err := wechatv3.EncryptResource([]byte("sandbox-apiv3-key-0123456789abcd"), "0123456789ab", "transaction", []byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = json.Marshal(map[string]any{"id": "EV-1", "create_time": "2026-11-29T15:00:00+08:00", "event_type": "TRANSACTION.SUCCESS",
		"resource_type": "encrypt-resource", "summary": "支付成功", "resource": res})
	pem, err := os.ReadFile(filepath.Join("..", "examples", "keys", "wechatpay_platform_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := wechatv3.ParsePrivateKey(string(pem))
	if err != nil {
		t.Fatal(err)
	}
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "n0nce-for-the-test"
	sig, err := wechatv3.SignMessage(key, wechatv3.AppendAnswerMessage(nil, ts, nonce, body))
	if err != nil {
		t.Fatal(err)
	}
	return body, []string{"Wechatpay-Serial: PUB_KEY_ID_0119000001092026112900000000000001", "Wechatpay-Signature: " + sig,
		"Wechatpay-Timestamp: " + ts, "Wechatpay-Nonce: " + nonce}
}

func TestVerifyCommandWechatV3(t *testing.T) {
	body, headers := v3Notification(t)
	pub, _ := filepath.Abs(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	t.Setenv("MINIPAY_TEST_V3_KEY", "sandbox-apiv3-key-0123456789abcd")
	args := []string{"--provider", "wechat_v3", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_v3_key={env.MINIPAY_TEST_V3_KEY}", "--set", "public_key={file." + pub + "}",
		"--set", "public_key_id=PUB_KEY_ID_0119000001092026112900000000000001"}
	for _, h := range headers {
		args = append(args, "--header", h)
	}
	code, out, errOut := verify(t, string(body), args...)
	ts := strings.TrimPrefix(headers[2], "Wechatpay-Timestamp: ")
	want := "string_to_sign: " + ts + `\nn0nce-for-the-test\n` + string(body) + `\n` + "\n"
	if code != 0 || !strings.Contains(out, "kind: notification\nsign_type: SHA256-RSA2048 (Wechatpay-Signature)\n") || !strings.Contains(out, want) ||
		!strings.Contains(out, "expected: a signature by key PUB_KEY_ID_0119000001092026112900000000000001 (it verifies)\n") ||
		!strings.HasSuffix(out, "verdict: valid\n") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	tampered := strings.Replace(string(body), `"summary":"支付成功"`, `"summary":"支付失败"`, 1)
	code, out, _ = verify(t, tampered, args...)
	if code != 1 || !strings.Contains(out, "(it does not verify)") || !strings.Contains(out, "verdict: invalid (notification signature does not verify)") {
		t.Fatalf("tampered: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "sandbox-apiv3-key") {
		t.Fatal("the APIv3 key is printed")
	}
}
