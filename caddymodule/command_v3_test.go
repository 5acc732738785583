package caddymodule

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
)

// examplePlatformKey is the sandbox's platform key of examples/keys.
func examplePlatformKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join("..", "examples", "keys", "wechatpay_platform_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := wechatv3.ParsePrivateKey(string(pem))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// v3Notification is a WeChat Pay v3 notification for Caddyfile.example's
// merchant, encrypted with its APIv3 key and signed now with the example
// platform key (examples/keys), as the sandbox sends one; the RSA and
// AES-GCM primitives are checked against WeChat's published vectors in
// transform/wechatv3.
func v3Notification(t *testing.T) (body []byte, headers []string) {
	t.Helper()
	return v3NotificationAt(t, strconv.FormatInt(time.Now().Unix(), 10))
}

// v3NotificationAt is v3Notification signed with the timestamp ts.
func v3NotificationAt(t testing.TB, ts string) (body []byte, headers []string) {
	t.Helper()
	plain := `{"mchid":"1900000109","appid":"wx8888888888888888","out_trade_no":"V3-1","transaction_id":"4200000001202611290000000001",` +
		`"trade_type":"JSAPI","trade_state":"SUCCESS","success_time":"2026-11-29T15:00:00+08:00","amount":{"total":3600,"currency":"CNY"}}`
	res, err := wechatv3.EncryptResource([]byte("sandbox-apiv3-key-0123456789abcd"), "0123456789ab", "transaction", []byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = json.Marshal(map[string]any{"id": "EV-1", "create_time": "2026-11-29T15:00:00+08:00", "event_type": "TRANSACTION.SUCCESS",
		"resource_type": "encrypt-resource", "summary": "支付成功", "resource": res})
	key := examplePlatformKey(t)
	nonce := "n0nce-for-the-test"
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

// A provider's signed API answer is explained as kind "answer": valid when
// its signature verifies (a webhook still refuses it as a notification),
// invalid when a byte changed. The other providers' answers:
// TestVerifyCommandProviderAnswers.
func TestVerifyCommandAnswers(t *testing.T) {
	key := examplePlatformKey(t)
	body := `{"prepay_id":"wx29150000100000000001"}`
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "answer-nonce"
	sig, err := wechatv3.SignMessage(key, wechatv3.AppendAnswerMessage(nil, ts, nonce, []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := filepath.Abs(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	v3With := func(sig string) []string {
		return []string{"--provider", "wechat_v3", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
			"--set", "api_v3_key=sandbox-apiv3-key-0123456789abcd", "--set", "public_key={file." + pub + "}",
			"--set", "public_key_id=PUB_KEY_ID_0119000001092026112900000000000001",
			"--header", "Wechatpay-Serial: PUB_KEY_ID_0119000001092026112900000000000001", "--header", "Wechatpay-Signature: " + sig,
			"--header", "Wechatpay-Timestamp: " + ts, "--header", "Wechatpay-Nonce: " + nonce}
	}
	v3Args := v3With(sig)
	// close's answer: 204 with an empty body, signed all the same.
	emptySig, err := wechatv3.SignMessage(key, wechatv3.AppendAnswerMessage(nil, ts, nonce, nil))
	if err != nil {
		t.Fatal(err)
	}

	// wechat_v2: an orderquery answer signed (HMAC-SHA256) with the example
	// merchant key; its sign computed independently of the plugin with
	// printf '%s' "<sorted parameters>&key=<api_key>" | openssl dgst -sha256 -hmac <api_key>.
	const v2AnswerSig = "D03525713A8052F466E8C35DA1FC8ABE5F920A464B42B460DCEC3DB69E87148A"
	v2Answer := "<xml><appid>wx8888888888888888</appid><mch_id>1900000109</mch_id><nonce_str>ans0001</nonce_str>" +
		"<out_trade_no>DEMO-1001</out_trade_no><result_code>SUCCESS</result_code><return_code>SUCCESS</return_code>" +
		"<trade_state>NOTPAY</trade_state><sign_type>HMAC-SHA256</sign_type><sign>" + v2AnswerSig + "</sign></xml>"
	v2Args := []string{"--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_key=8934e7d15453e97507ef794cf7b0519d", "--set", "sign_type=HMAC-SHA256", "--file", "-"}

	tests := []struct {
		name, input string
		args        []string
		code        int
	}{
		{"wechat_v3 prepay answer", body, v3Args, 0},
		{"wechat_v3 tampered answer", strings.Replace(body, "0001", "0002", 1), v3Args, 1},
		{"wechat_v3 empty 204 answer", "", v3With(emptySig), 0},
		{"wechat_v3 empty answer, another body's signature", "", v3Args, 1},
		{"wechat_v2 orderquery answer", v2Answer, v2Args, 0},
		{"wechat_v2 tampered answer", strings.Replace(v2Answer, "NOTPAY", "SUCCESS", 1), v2Args, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := verify(t, tt.input, tt.args...)
			// The kind comes from the content, whether or not it verifies.
			if code != tt.code || !strings.Contains(out, "\nkind: answer\n") {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			// The reason names what the input is: an answer.
			if tt.code == 0 && !strings.HasSuffix(out, "verdict: valid\n") || tt.code == 1 && !strings.Contains(out, "verdict: invalid (answer ") {
				t.Fatalf("verdict:\n%s", out)
			}
		})
	}
}

// WeChat Pay v3's 300 s window depends on when a notification arrived, not
// on its bytes: published vector 8 (docs/providers/wechat_v3.md, "Known-answer
// vectors", signed at 1795917606) is invalid when judged now, and valid with
// --at set to its time of receipt, in either form; outside the window of --at
// it is invalid again, and a changed byte is invalid whatever --at says.
func TestVerifyCommandAt(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-notify-transaction.json"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := filepath.Abs(filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-test-platform-cert.pem"))
	const signature = "MyX3nAFI/IKXsFAZevHLajbACTzZTP1AtwRdwdYY9ZHf1YUS3l4tSSv0pWMfK2mvoFOpcRLzbKlm9LE3RNAHesnw8Q43n7PeTAZKhAH5zqJjrqCyNiSvYt7e1ypgbGFGrY8wIjOpdNMuqqEVxaPFYhvI/DZVNwWzfV8YG2KTFetZO7u1Ez4zilZ7MxVOzb7RlrNh6xp3qBnvP87vu4VUWflqwm1hYP2voyCwOLl+UvLBWCK2OsBMAQOSPJtxJDWemZE1RwPICTrBezk9iFnHScOhYxsHdt0LX2HmXqmCAsJC6vhFVMPKogQDfA5fWMcpPrLP5S/wmGOKleMmzCYL2w=="
	args := []string{"--provider", "wechat_v3", "--set", "app_id=wxd678efh567hg6787", "--set", "mch_id=1230000109",
		"--set", "api_v3_key=a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2", "--set", "platform_certificate={file." + cert + "}",
		"--header", "Wechatpay-Serial: D7CE59D1F522D701", "--header", "Wechatpay-Timestamp: 1795917606",
		"--header", "Wechatpay-Nonce: 5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "--header", "Wechatpay-Signature: " + signature}
	const window = "verdict: invalid (notification signature does not verify: Wechatpay-Timestamp is outside the 300 s window"
	tests := []struct {
		name, at, input string
		code            int
		verdict         string
	}{
		{"judged now", "", string(body), 1, window + "; judged now: --at <time received> judges it as of then)\n"},
		{"at its timestamp, Unix seconds", "1795917606", string(body), 0, "verdict: valid\n"},
		{"RFC 3339, 299 s later", "2026-11-29T10:05:05+08:00", string(body), 0, "verdict: valid\n"},
		{"RFC 3339 in lower case", "2026-11-29t02:00:06z", string(body), 0, "verdict: valid\n"},
		{"300 s later", "1795917906", string(body), 1, window + ")\n"},
		// Year 1 is Go's zero time, and still a time given: judged as of
		// then, not now.
		{"year 1", "0001-01-01T00:00:00Z", string(body), 1, window + ")\n"},
		{"year 1 in another zone", "0000-12-31T23:00:00-01:00", string(body), 1, window + ")\n"},
		{"a changed byte", "1795917606", strings.Replace(string(body), `"id"`, `"Id"`, 1), 1,
			"verdict: invalid (notification signature does not verify)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := args
			if tt.at != "" {
				a = append([]string{"--at", tt.at}, args...)
			}
			code, out, errOut := verify(t, tt.input, a...)
			if code != tt.code || !strings.HasSuffix(out, tt.verdict) {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
		})
	}
	// Not RFC 3339 although Go's time.Parse reads them (a comma before the
	// fraction, a one-digit hour, an offset of +24:00), nor Unix seconds in
	// digits.
	// An empty --at (a script's "$RECEIVED" unset) is no time given, not now.
	for _, bad := range []string{"", "yesterday", "2026-11-29 10:00:06", "-5", "0", "2026-11-29T10:00:06,5+08:00",
		"2026-11-29T2:00:06Z", "2026-11-29T02:00:06+24:00", "+1795917606", " 1795917606", "1795917606.0"} {
		if code, _, errOut := verify(t, string(body), append([]string{"--at", bad}, args...)...); code != 2 || !strings.Contains(errOut, "--at") {
			t.Errorf("--at %q: exit %d, %q", bad, code, errOut)
		}
	}
}

// In certificate mode the key is downloaded when first needed; a download
// that fails leaves the notification with "no known key", which reads like
// a forgery: the verdict names why the download failed, as the webhook's
// warning does (README "caddy minipay verify").
func TestVerifyCommandCertificateDownloadFailure(t *testing.T) {
	wechat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound) // a certificates_url with a wrong path
	}))
	defer wechat.Close()
	body, headers := v3Notification(t)
	headers[0] = "Wechatpay-Serial: 5157F09EFDC096DE15EBE81A47057A7232F1B8E1" // examples/keys' platform certificate
	key, _ := filepath.Abs(filepath.Join("..", "examples", "keys", "apiclient_key.pem"))
	args := []string{"--provider", "wechat_v3", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_v3_key=sandbox-apiv3-key-0123456789abcd", "--set", "serial_no=3775B6A45ACD588826D15E583A95F5DD2F2D3B4A",
		"--set", "private_key={file." + key + "}", "--set", "certificates_url=" + wechat.URL + "/v3/certificates"}
	for _, h := range headers {
		args = append(args, "--header", h)
	}
	code, out, errOut := verify(t, string(body), args...)
	const want = "verdict: invalid (notification signature does not verify: Wechatpay-Serial names no known key; " +
		"wechat_v3: the platform certificates could not be downloaded: certificates_url answered HTTP 404)\n"
	if code != 1 || !strings.HasSuffix(out, want) {
		t.Fatalf("exit %d, want 1 and %q\n%s%s", code, want, out, errOut)
	}
}

// A WeChat Pay v3 answer larger than a notification's 64 KiB (a transaction
// listing many discounted goods), which minipay reads whole, is explained
// as an answer like any other: it was "not a well-formed document". A
// notification that large is still refused, as the webhook refuses it.
func TestVerifyCommandLargeAnswer(t *testing.T) {
	var goods strings.Builder
	for i := 0; goods.Len() <= transform.MaxNotification; i++ {
		if i > 0 {
			goods.WriteByte(',')
		}
		goods.WriteString(`{"coupon_id":"` + strconv.Itoa(100000+i) + `","goods_detail":[{"goods_id":"M1006","quantity":1,"unit_price":100}]}`)
	}
	answer := `{"appid":"wx8888888888888888","mchid":"1900000109","out_trade_no":"V3-1","trade_state":"SUCCESS","promotion_detail":[` + goods.String() + `]}`
	notification := `{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","summary":"` + goods.String() + `","resource":{}}`
	key := examplePlatformKey(t)
	pub, _ := filepath.Abs(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	for _, tt := range []struct {
		name, body, signed string
		code               int
		kind, verdict      string
	}{
		{"the answer", answer, answer, 0, "answer", "verdict: valid\n"},
		{"the answer, a byte changed", strings.Replace(answer, "V3-1", "V3-2", 1), answer, 1, "answer", "verdict: invalid (answer signature does not verify)\n"},
		{"a notification as large", notification, notification, 1, "notification", "verdict: invalid (the input is larger than 64 KiB: the webhook refuses it unread (413))\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "large-answer"
			sig, err := wechatv3.SignMessage(key, wechatv3.AppendAnswerMessage(nil, ts, nonce, []byte(tt.signed)))
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut := verify(t, tt.body, "--provider", "wechat_v3", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
				"--set", "api_v3_key=sandbox-apiv3-key-0123456789abcd", "--set", "public_key={file."+pub+"}",
				"--set", "public_key_id=PUB_KEY_ID_0119000001092026112900000000000001",
				"--header", "Wechatpay-Serial: PUB_KEY_ID_0119000001092026112900000000000001", "--header", "Wechatpay-Signature: "+sig,
				"--header", "Wechatpay-Timestamp: "+ts, "--header", "Wechatpay-Nonce: "+nonce)
			if code != tt.code || !strings.Contains(out, "\nkind: "+tt.kind+"\n") || !strings.HasSuffix(out, tt.verdict) {
				t.Fatalf("%d-byte input: exit %d, want %d, kind %s, %q\n%s%s", len(tt.body), code, tt.code, tt.kind, tt.verdict, out[:min(len(out), 300)], errOut)
			}
		})
	}
}

// docs/providers/wechat_v3.md's vector 5, an answer signed at 1554209980
// (2019) by the test key, whose published certificate is valid from 2021:
// judged as of its time, the certificate configured for its serial
// verifies nothing, and expected says why instead of "no such key".
func TestVerifyCommandCertificateOutsideValidity(t *testing.T) {
	cert, _ := filepath.Abs(filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-test-platform-cert.pem"))
	const signature = "MKsnsdC3plTZu7xrynhiOvBr3fCo3idyGVXjoIvn3R2EhfRylEi8CeV+OGKk+/3uOERkGM8zy5Z6nb/Zxv1nzgzcIyR5zNqi+/6ckyPPuGWFFzNihnH/9E9IY0TeLLsMjuS+CpirWvEuhBDU2np6J9ohoyyj4UHjv4r18sOXXUnYks2A+H1VqL4yiGb+TJeb65U8Tu91XHCDzGadOImUUmeVTEedhnbuha1z6I5iDpHsARqJZiH/iOw2cTkO0ZbXPtWIWcsl5JLVkRcdOjPD8Eu+MRIGleOCyAemAnb1u2b68iY6I/YgLwoZxvtrbKru7Iz74HbLPVXfPoLO4dtVEA=="
	code, out, errOut := verify(t, `{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}`, "--provider", "wechat_v3",
		"--set", "app_id=wxd678efh567hg6787", "--set", "mch_id=1230000109", "--set", "api_v3_key=a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2",
		"--set", "platform_certificate={file."+cert+"}", "--at", "1554209980",
		"--header", "Wechatpay-Serial: D7CE59D1F522D701", "--header", "Wechatpay-Timestamp: 1554209980",
		"--header", "Wechatpay-Nonce: c5ac7061fccab6bf3e254dcf98995b8c", "--header", "Wechatpay-Signature: "+signature)
	const want = "\nexpected: a signature by key D7CE59D1F522D701 (its certificate is valid from 2021-04-27T08:55:23Z to 2031-04-25T08:55:23Z, not at 2019-04-02T12:59:40Z)\n"
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("exit %d, want 1 and %q\n%s%s", code, want, out, errOut)
	}
}
