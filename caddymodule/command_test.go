package caddymodule

import (
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// Vectors, as literals (sources named): each provider's published
// notification example where there is one.
const (
	// docs/providers/cbtis.md: the CBTIS docs' refund notification and its
	// signature under api_key 6d0e8fa7b10c40c3a48c0c2be41cb178.
	cbtisBody = transformtest.CBTISVectorBody
	cbtisSig  = transformtest.CBTISVectorSignature
	// docs/providers/latipay.md: Latipay's notification example (api_key 111222333).
	latipayBody = `merchant_reference=dsi39ej430sks03&order_id=2017232323345678&amount=120.00&currency=NZD&payment_method=alipay&pay_time=2017-07-07%2010%3A53%3A50&status=paid&signature=840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1`
	// docs/providers/2c2p.md: the 2C2P demo server's approved PaymentResponse
	// (merchant JT01, demo key 7jYcp4FxFdf0), from activemerchant's tests.
	twoc2pEnvelope = transformtest.TwoC2PDemoApproved
	twoc2pSig      = transformtest.TwoC2PDemoApprovedSignature
	// testdata/wechat_v2-notification.xml, signed by an independent
	// reference (testdata/README.md); its sorted parameters:
	v2StringToSign = "appid=wx8888888888888888&bank_type=CFT&cash_fee=1234&fee_type=CNY&is_subscribe=N&mch_id=1900000109" +
		"&nonce_str=5d2b6c2a8db53831f7eda20af46e531c&openid=os7xVv419cwT89c3EhFacTtXD_84&out_trade_no=DEMO-1001" +
		"&result_code=SUCCESS&return_code=SUCCESS&time_end=20261122192026&total_fee=1234&trade_type=JSAPI" +
		"&transaction_id=42000202611221920261000002&key=***"
	v2Sig = "C56109ABD993F83839457CD5C28C40EA2B8720BBB771043E87D4B2EC5321FD9D"
)

// API answers, as literals (sources named).
const (
	// Latipay's transaction query answer (Latipay/latipay.github.io,
	// src/v2/latipay-hosted-online.md, "5 - Payment Result Interface"): the
	// example response's fields with those of the page's "Signature in
	// Response" example, message dsi39ej430sks03alipaypaidNZD120.00 under
	// api_key 111222333.
	latipayAnswer = `{"merchant_reference":"dsi39ej430sks03","currency":"NZD","amount":"120.00","payment_method":"alipay",` +
		`"status":"paid","pay_time":"2017-07-07 10:53:50","order_id":"201834687346343",` +
		`"signature":"840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1"}`
	// The same page's example response as printed (its trailing comma
	// removed): its signature is the example query URL's, copied, and does
	// not verify over its own fields (AUD, wechat).
	latipayPrintedAnswer = `{"merchant_reference":"dsi39ej430sks03","currency":"AUD","amount":"120.00","payment_method":"wechat",` +
		`"status":"paid","pay_time":"2017-07-07 10:53:50","order_id":"201834687346343",` +
		`"signature":"14d5b06a2a5a2ec509a148277ed4cbeb3c43301b239f080a3467ff0aba4070e3"}`
	// Latipay's unsigned answers: miniapppay's (src/v2/latipay-wechat-mini-app.md,
	// STEP 3 "Response", its ".." filled in) and the refund's code 0.
	latipayPayAnswer = `{"payment":{"nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","paySign":"C380BEC2BFD727A4B6845133519F3AD6",` +
		`"signType":"MD5","timeStamp":"1414561699","packageStr":"prepay_id=wx201410272009395522657a690389285100"},"paydata":{"order_id":"2017232323345678"}}`
	latipayRefundAnswer = `{"code":0,"message":"SUCCESS"}`
	// CBTIS's answers (docs/providers/cbtis.md): payment_intents/create's
	// {"code","data","message","rid"} for the documented request, and the
	// token answer. CBTIS signs neither.
	cbtisCreateAnswer = `{"code":0,"data":{"order_id":"C34368224017070001","merchant_order_id":"P9297895081903","amount":"1","currency":"HKD",` +
		`"create_time":"2023-08-23T18:25:43.511Z","next_action":{"type":"call_sdk","data":{"appId":"wx7bc98d929da735fe",` +
		`"nonceStr":"n0nce","package":"prepay_id=wx23182543","paySign":"c2ln","signType":"RSA","timeStamp":"1692815143"}},` +
		`"status":"PENDING"},"message":"ok","rid":"r-1"}`
	// WeChat Pay v2's communication failure, return_code FAIL with no sign
	// (docs/providers/wechat_v2.md, "Response": 签名错误 for a wrong key).
	v2FailAnswer     = `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>`
	cbtisTokenAnswer = `{"access_token":"eyJhbGciOiJIUzI1NiJ9.e30.c2ln","expires_in":3600}`
	// cbtisCreateAnswer's signature as a notification's under api_key
	// 6d0e8fa7b10c40c3a48c0c2be41cb178, computed independently:
	// printf '%s' "$cbtisCreateAnswer.6d0e8fa7b10c40c3a48c0c2be41cb178" | openssl dgst -sha256
	cbtisCreateAnswerSig = "6e3213153a87449174586847a96135b85c81d34344a5b80012b0d14afb58cf2b"
)

func gzipText(t *testing.T, s string) string {
	t.Helper()
	return string(transformtest.Gzip([]byte(s)))
}

func verify(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runMinipay(append([]string{"verify"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyCommand(t *testing.T) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MINIPAY_TEST_V2_KEY", "8934e7d15453e97507ef794cf7b0519d")
	keyFile := writeFile(t, "cbtis.key", "6d0e8fa7b10c40c3a48c0c2be41cb178\n")
	v2Args := []string{"--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_key={env.MINIPAY_TEST_V2_KEY}", "--set", "sign_type=HMAC-SHA256", "--file", "-"}
	cbtisArgs := []string{"--provider", "cbtis", "--set", "api_key={file." + keyFile + "}", "--header", "Signature: " + cbtisSig, "--file", "-"}
	latipayArgs := []string{"--provider", "latipay", "--set", "api_key=111222333", "--set", "currency=NZD", "-"}
	twoc2pArgs := []string{"--provider", "2c2p", "--set", "merchant_id=JT01", "--set", "secret_key=7jYcp4FxFdf0", "--file", "-"}
	flip := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("no %q to tamper with", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	tests := []struct {
		name  string
		input string
		args  []string
		code  int
		want  string // the output, exactly
	}{
		{"wechat_v2 valid", string(v2), v2Args, 0, "provider: wechat_v2\nkind: notification\nsign_type: HMAC-SHA256\n" +
			"string_to_sign: " + v2StringToSign + "\nexpected: " + v2Sig + "\nreceived: " + v2Sig + "\nverdict: valid\n"},
		{"wechat_v2 tampered amount", flip(string(v2), "<total_fee><![CDATA[1234]]>", "<total_fee><![CDATA[1]]>"), v2Args, 1, ""},
		{"cbtis valid", cbtisBody, cbtisArgs, 0, "provider: cbtis\nkind: notification\nsign_type: SHA-256\n" +
			"string_to_sign: " + cbtisBody + ".***\nexpected: " + cbtisSig + "\nreceived: " + cbtisSig + "\nverdict: valid\n"},
		{"cbtis tampered amount", flip(cbtisBody, "105.00", "105.01"), cbtisArgs, 1, ""},
		// The webhook's verdict on a Signature header given twice (README
		// Webhooks), with what the first line was checked against.
		{"cbtis Signature twice", cbtisBody, append([]string{"--header", "Signature: " + cbtisSig}, cbtisArgs...), 1,
			"provider: cbtis\nkind: notification\nsign_type: SHA-256\nstring_to_sign: " + cbtisBody + ".***\nexpected: " + cbtisSig +
				"\nreceived: " + cbtisSig + "\nverdict: invalid (notification is not a well-formed document of the provider: a signature header is given more than once)\n"},
		{"latipay valid", latipayBody, latipayArgs, 0, "provider: latipay\nkind: notification\nsign_type: HMAC-SHA256\n" +
			"string_to_sign: dsi39ej430sks03alipaypaidNZD120.00\nexpected: 840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1\n" +
			"received: 840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1\nverdict: valid\n"},
		{"latipay tampered amount", flip(latipayBody, "amount=120.00", "amount=1200.0"), latipayArgs, 1, ""},
		// Without its signature, what it would cover and be is still shown,
		// as for the other providers.
		{"latipay without its signature", flip(latipayBody, "&signature=840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1", ""),
			latipayArgs, 1, "provider: latipay\nkind: notification\nsign_type: HMAC-SHA256\nstring_to_sign: dsi39ej430sks03alipaypaidNZD120.00\n" +
				"expected: 840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1\nreceived: \n" +
				"verdict: invalid (notification carries no signature (or reports no success))\n"},
		{"2c2p valid", twoc2pEnvelope, twoc2pArgs, 0, ""},
		{"2c2p tampered signature", flip(twoc2pEnvelope, "RkUxPC9zaWduYXR1cmU+", "RkUyPC9zaWduYXR1cmU+"), twoc2pArgs, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := verify(t, tt.input, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			if tt.want != "" && out != tt.want {
				t.Fatalf("output:\n%s\nwant:\n%s", out, tt.want)
			}
			last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
			switch {
			case tt.code == 0 && last != "verdict: valid\n":
				t.Fatalf("last line %q", last)
			case tt.code == 1 && !strings.HasPrefix(last, "verdict: invalid (") || tt.code == 1 && !strings.HasSuffix(last, ")\n"):
				t.Fatalf("last line %q", last)
			}
			for _, secret := range []string{"8934e7d15453e97507ef794cf7b0519d", "6d0e8fa7b10c40c3a48c0c2be41cb178", "111222333", "7jYcp4FxFdf0"} {
				if strings.Contains(out+errOut, secret) {
					t.Fatalf("the output shows the secret %s", secret)
				}
			}
		})
	}

	// 2C2P: the payload is what the HMAC covers, the signature the demo's.
	_, out, _ := verify(t, twoc2pEnvelope, twoc2pArgs...)
	if !strings.Contains(out, "\nexpected: "+twoc2pSig+"\nreceived: "+twoc2pSig+"\n") || !strings.Contains(out, "string_to_sign: PFBheW1lbnRSZXNwb25zZT4") {
		t.Fatalf("2c2p output:\n%s", out)
	}
	// A tampered v2 notification: same received signature, another expected one.
	_, out, _ = verify(t, flip(string(v2), "<total_fee><![CDATA[1234]]>", "<total_fee><![CDATA[1]]>"), v2Args...)
	if !strings.Contains(out, "&total_fee=1&") || !strings.Contains(out, "\nreceived: "+v2Sig+"\n") || strings.Contains(out, "expected: "+v2Sig) ||
		!strings.Contains(out, "verdict: invalid (notification signature does not verify)") {
		t.Fatalf("tampered v2 output:\n%s", out)
	}
	// From a file rather than stdin.
	if code, out, _ := verify(t, "", append(v2Args[:len(v2Args)-1:len(v2Args)-1], writeFile(t, "n.xml", string(v2)))...); code != 0 {
		t.Fatalf("--file path: exit %d\n%s", code, out)
	}
}

// Usage errors and unreadable input exit 2, and say why on stderr.
func TestVerifyCommandUsage(t *testing.T) {
	emptyFile, blankFile := writeFile(t, "empty", ""), writeFile(t, "blank", "\n \r\n")
	v3PublicKey, err := filepath.Abs(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "usage"},
		{"no provider", []string{"--file", "-"}, "--provider is required"},
		{"unknown flag", []string{"--provider", "cbtis", "--bogus"}, "bogus"},
		{"unknown provider", []string{"--provider", "paypal"}, `unknown provider "paypal"`},
		{"unknown field", []string{"--provider", "cbtis", "--set", "colour=red"}, `no field "colour"`},
		{"--set without =", []string{"--provider", "cbtis", "--set", "api_key"}, "want field=value"},
		{"a required field missing", []string{"--provider", "latipay", "--set", "currency=NZD"}, "api_key is required"},
		{"a bad header", []string{"--provider", "cbtis", "--set", "api_key=k", "--header", "Signature"}, `want "Name: value"`},
		{"an unreadable file", []string{"--provider", "cbtis", "--set", "api_key=k", "--file", "/nonexistent/n.json"}, "--file"},
		{"a stray argument", []string{"--provider", "cbtis", "--set", "api_key=k", "n.json"}, "unexpected argument"},
		{"no verifier", []string{"--provider", "wechat_login", "--set", "app_id=a", "--set", "app_secret=s"}, "sends no notifications"},
		// Nothing to explain: an empty input is unreadable, whatever the provider.
		{"empty stdin", []string{"--provider", "cbtis", "--set", "api_key=k", "--file", "-"}, "the input is empty"},
		{"empty stdin, wechat_v2", []string{"--provider", "wechat_v2", "--set", "app_id=a", "--set", "mch_id=m",
			"--set", "api_key=8934e7d15453e97507ef794cf7b0519d"}, "the input is empty"},
		{"empty stdin with a signature header", []string{"--provider", "cbtis", "--set", "api_key=k", "--header", "Signature: 00", "--file", "-"}, "the input is empty"},
		{"empty file", []string{"--provider", "latipay", "--set", "api_key=k", "--set", "currency=NZD", "--file", emptyFile}, "the input is empty"},
		{"blank lines only", []string{"--provider", "2c2p", "--set", "merchant_id=JT01", "--set", "secret_key=s", "--file", blankFile}, "the input is empty"},
		{"empty input, wechat_v3 without headers", []string{"--provider", "wechat_v3", "--set", "app_id=a", "--set", "mch_id=m",
			"--set", "api_v3_key=sandbox-apiv3-key-0123456789abcd", "--set", "public_key={file." + v3PublicKey + "}", "--set", "public_key_id=PUB_KEY_ID_1"}, "the input is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := tt.args
			if tt.name != "no subcommand" {
				args = append([]string{"verify"}, args...)
			}
			if code := runMinipay(args, strings.NewReader(""), &out, &errOut); code != 2 {
				t.Fatalf("exit %d, want 2 (%s)", code, errOut.String())
			}
			if out.Len() != 0 || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("stdout %q, stderr %q, want %q", out.String(), errOut.String(), tt.want)
			}
		})
	}
}

// TestMinipayEmptyFlagIsAUsageError: a flag given an empty value (a
// script's unset "$VAR") is exit 2 naming it, never the flag left out:
// sign --timestamp "" signed now, --nonce "" a fresh nonce, and --file ""
// read stdin, in both commands; verify --at "" is the same error. Each run
// below succeeds (exit 0) without the empty flag.
func TestMinipayEmptyFlagIsAUsageError(t *testing.T) {
	keyPath, err := filepath.Abs(filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-test-private-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-auth-body.json"))
	if err != nil {
		t.Fatal(err)
	}
	verifyArgs := []string{"verify", "--provider", "cbtis", "--set", "api_key=6d0e8fa7b10c40c3a48c0c2be41cb178", "--header", "Signature: " + cbtisSig}
	signArgs := []string{"sign", "--provider", "wechat_v3", "--set", "mch_id=1900000109", "--set", "serial_no=D7CE59D1F522D701",
		"--set", "private_key={file." + keyPath + "}", "--method", "POST", "--url", "/v3/pay/transactions/jsapi",
		"--timestamp", "1554208460", "--nonce", "593BEC0C930BF1AFEB40B4A08C8FB242"}
	for _, tt := range []struct {
		args  []string
		stdin string
		flags []string
	}{
		{verifyArgs, cbtisBody, []string{"file", "at", "provider"}},
		{signArgs, string(body), []string{"file", "timestamp", "nonce", "method", "url", "provider"}},
	} {
		var out, errOut bytes.Buffer
		if code := runMinipay(tt.args, strings.NewReader(tt.stdin), &out, &errOut); code != 0 {
			t.Fatalf("%s without an empty flag: exit %d, %s", tt.args[0], code, errOut.String())
		}
		for _, name := range tt.flags {
			for _, given := range [][]string{{"--" + name, ""}, {"--" + name + "="}} {
				out.Reset()
				errOut.Reset()
				code := runMinipay(append(tt.args[:len(tt.args):len(tt.args)], given...), strings.NewReader(tt.stdin), &out, &errOut)
				if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "--"+name+" is empty") {
					t.Errorf("%s %q: exit %d, stdout %q, stderr %q; want exit 2 naming --%s", tt.args[0], given, code, out.String(), errOut.String(), name)
				}
			}
		}
	}
}

// No secret is printed, also where the input holds one (a field set to the
// key, the key pasted as the signature header): every configured secret in
// an output value is ***, as is or URL-encoded.
func TestMinipayNeverPrintsASecret(t *testing.T) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		v2Key      = "8934e7d15453e97507ef794cf7b0519d"
		cbtisKey   = "6d0e8fa7b10c40c3a48c0c2be41cb178"
		specialKey = "k3y/with+special=chars&more"
	)
	for _, tt := range []struct {
		name, stdin string
		args        []string
		secret      string
		want        string // an output line, with the secret masked
	}{
		{"cbtis: the key in the body and as the signature", `{"notify_type":"payment_success","memo":"` + cbtisKey + `","data":{}}`,
			[]string{"verify", "--provider", "cbtis", "--set", "api_key=" + cbtisKey, "--header", "Signature: " + cbtisKey},
			cbtisKey, "received: ***\n"},
		{"cbtis: the key URL-encoded in the body", `{"notify_type":"payment_success","memo":"k3y%2Fwith%2Bspecial%3Dchars%26more"}`,
			[]string{"verify", "--provider", "cbtis", "--set", "client_secret=" + specialKey, "--header", "Signature: 00"},
			"k3y%2Fwith%2Bspecial%3Dchars%26more", `string_to_sign: {"notify_type":"payment_success","memo":"***"}.***` + "\n"},
		{"latipay: the key as merchant_reference", strings.Replace(latipayBody, "merchant_reference=dsi39ej430sks03", "merchant_reference=111222333", 1),
			[]string{"verify", "--provider", "latipay", "--set", "api_key=111222333", "--set", "currency=NZD"},
			"111222333", "string_to_sign: ***alipaypaidNZD120.00\n"},
		{"wechat_v2: the key as attach", strings.Replace(string(v2), "<bank_type>", "<attach>"+v2Key+"</attach><bank_type>", 1),
			[]string{"verify", "--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
				"--set", "api_key=" + v2Key, "--set", "sign_type=HMAC-SHA256"},
			v2Key, "string_to_sign: appid=wx8888888888888888&attach=***&bank_type=CFT&"},
		{"sign wechat_v2: the key in a field", "<xml><appid>wxd930ea5d5a258f4f</appid><x>" + v2Key + "</x></xml>",
			[]string{"sign", "--provider", "wechat_v2", "--set", "api_key=" + v2Key},
			v2Key, "string_to_sign: appid=wxd930ea5d5a258f4f&x=***&key=***\n"},
		{"sign latipay: the key in a field", `{"merchant_reference":"111222333","user_id":"U1"}`,
			[]string{"sign", "--provider", "latipay", "--set", "api_key=111222333"},
			"111222333", "string_to_sign: merchant_reference=***&user_id=U1***\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMinipay(tt.args, strings.NewReader(tt.stdin), &out, &errOut)
			if strings.Contains(out.String()+errOut.String(), tt.secret) {
				t.Fatalf("exit %d, the output shows the secret %s:\n%s%s", code, tt.secret, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Fatalf("exit %d, no %q in:\n%s%s", code, tt.want, out.String(), errOut.String())
			}
		})
	}
}

// TestMaskSecrets: a secret is masked however a form or URL percent-encodes
// it (found by FuzzCommandOutputMasksSecrets: only net/url's QueryEscape
// spelling was, so curl's %20 for a space, lower-case hex or a '!' left as
// is printed the key).
func TestMaskSecrets(t *testing.T) {
	for _, tt := range []struct {
		value   string
		secrets []string
		want    string
	}{
		{"memo=pass%20word~%21", []string{"pass word~!"}, "memo=***"},
		{"memo=pass+word~!&x=1", []string{"pass word~!"}, "memo=***&x=1"},
		{"u=k3y%2fwith%2bspecial%3dchars", []string{"k3y/with+special=chars"}, "u=***"},
		{"u=k3y%2Fwith+special=chars", []string{"k3y/with+special=chars"}, "u=***"},
		{"x50%25offy 50%off", []string{"50%off"}, "x***y ***"},
		{"abcdef", []string{"abcd", "cdef"}, "***"},
		{"abcd-cdef", []string{"abcd", "cdef"}, "***-***"},
		{"pass%2word", []string{"pass word"}, "pass%2word"},
		{"no secret here", []string{"", "key"}, "no secret here"},
	} {
		if got := maskSecrets(tt.value, tt.secrets); got != tt.want {
			t.Errorf("maskSecrets(%q, %q) = %q, want %q", tt.value, tt.secrets, got, tt.want)
		}
	}
}

// Asking for help is no usage error: the usage (and, for a subcommand, its
// flags) goes to stdout and the command exits 0, as Go's flag package and
// Caddy's own commands do.
func TestMinipayHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // a part of stdout
	}{
		{[]string{"--help"}, "caddy minipay sign --provider wechat_v3"},
		{[]string{"-h"}, "caddy minipay verify --provider <name>"},
		{[]string{"help"}, "caddy minipay verify --provider <name>"},
		{[]string{"verify", "--help"}, "  -header value\n"},
		{[]string{"verify", "-h"}, "  -at string\n"},
		{[]string{"verify", "--provider", "cbtis", "--help"}, "usage: caddy minipay verify --provider <name>"},
		{[]string{"sign", "--help"}, "  -method string\n"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMinipay(tt.args, strings.NewReader(""), &out, &errOut)
			if code != 0 || errOut.Len() != 0 || !strings.HasPrefix(out.String(), "usage: caddy minipay ") || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and %q on stdout", code, out.String(), errOut.String(), tt.want)
			}
		})
	}
	// caddy help minipay: cobra prints Usage as one line after "caddy
	// minipay"; the full usages are in Long, sign's a line for each
	// provider the registry holds that signs requests, written in when
	// cobra builds the command (the providers register after the command).
	cmd, ok := caddycmd.Commands()["minipay"]
	if !ok || strings.Contains(cmd.Usage, "\n") || !strings.Contains(cmd.Long, "caddy minipay "+verifyUsage) {
		t.Fatalf("caddy help minipay: usage %q, long %q", cmd.Usage, cmd.Long)
	}
	built := &cobra.Command{Long: cmd.Long}
	cmd.CobraFunc(built)
	if signers := signedProviders(); len(signers) < 4 || !strings.Contains(built.Long, "caddy minipay sign --provider wechat_v3 --set mch_id=") {
		t.Fatalf("caddy help minipay: sign knows %q; long %q", signers, built.Long)
	}
	// Its prose names what sign reads for every provider sign knows.
	_, prose, _ := strings.Cut(built.Long, "caddy minipay sign computes")
	prose, _, _ = strings.Cut(prose, "caddy minipay verify --provider")
	for _, name := range signedProviders() {
		if !strings.Contains(prose, name+":") {
			t.Errorf("caddy help minipay: sign's paragraph does not say what it reads for %s: %q", name, prose)
		}
		if !strings.Contains(built.Long, "\n  caddy minipay sign --provider "+name+" ") {
			t.Errorf("caddy help minipay: no sign usage for %s: %q", name, built.Long)
		}
	}
}

// An input saved with a final line break or a byte order mark its sender
// never sent (echo, an editor) is judged as given, and the reason says that
// without them it verifies. A tampered input gets no such hint.
func TestVerifyCommandFinalLineBreak(t *testing.T) {
	latipayArgs := []string{"--provider", "latipay", "--set", "api_key=111222333", "--set", "currency=NZD", "--file", "-"}
	cbtisArgs := []string{"--provider", "cbtis", "--set", "api_key=6d0e8fa7b10c40c3a48c0c2be41cb178", "--header", "Signature: " + cbtisSig, "--file", "-"}
	const hint = "; without its final line break the input verifies: give it exactly as received (printf '%s', not echo)"
	for _, tt := range []struct {
		name, input string
		args        []string
		code        int
		hint        bool
	}{
		// Latipay's form ignores the line breaks around it, as its webhook does
		{"latipay form + LF", latipayBody + "\n", latipayArgs, 0, false},
		{"latipay form + CRLF", latipayBody + "\r\n", latipayArgs, 0, false},
		{"cbtis body + LF", cbtisBody + "\n", cbtisArgs, 1, true},
		{"cbtis tampered body + LF", strings.Replace(cbtisBody, "105.00", "105.01", 1) + "\n", cbtisArgs, 1, false},
		{"latipay form + two LF", latipayBody + "\n\n", latipayArgs, 0, false},
		{"cbtis body + two LF", cbtisBody + "\n\n", cbtisArgs, 1, false},
		{"latipay form as sent", latipayBody, latipayArgs, 0, false},
		{"cbtis body after a byte order mark", "\ufeff" + cbtisBody, cbtisArgs, 1, true},
		{"cbtis body between a byte order mark and a CRLF", "\ufeff" + cbtisBody + "\r\n", cbtisArgs, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := verify(t, tt.input, tt.args...)
			hint := hint
			switch {
			case strings.HasPrefix(tt.input, "\ufeff") && strings.HasSuffix(tt.input, "\n"):
				hint = strings.Replace(hint, "its final line break", "its byte order mark and final line break", 1)
			case strings.HasPrefix(tt.input, "\ufeff"):
				hint = strings.Replace(hint, "its final line break", "its byte order mark", 1)
			}
			if code != tt.code || strings.Contains(out, hint) != tt.hint {
				t.Fatalf("exit %d (want %d), hint %v:\n%s%s", code, tt.code, tt.hint, out, errOut)
			}
			if tt.hint && !strings.HasSuffix(out, hint+")\n") {
				t.Fatalf("verdict line:\n%s", out)
			}
		})
	}
}

// A wechat_v2 notification naming another sign type than the configured
// one is invalid, and still explained: the configured type, the string it
// signs, the signature it expects and the one received.
func TestVerifyCommandWechatV2OtherSignType(t *testing.T) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// The fixture is HMAC-SHA256 without a sign_type element: name it.
	input := strings.Replace(string(v2), "<total_fee>", "<sign_type>HMAC-SHA256</sign_type><total_fee>", 1)
	code, out, errOut := verify(t, input, "--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_key=8934e7d15453e97507ef794cf7b0519d", "--file", "-")
	if code != 1 || !strings.Contains(out, "\nsign_type: MD5\nstring_to_sign: appid=wx8888888888888888&") ||
		!strings.Contains(out, "&sign_type=HMAC-SHA256&") || !strings.Contains(out, "\nreceived: "+v2Sig+"\n") ||
		!strings.Contains(out, "verdict: invalid (notification signature does not verify: the notification names another sign type than the configured one)") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "expected: \n") || strings.Contains(out+errOut, "8934e7d15453e97507ef794cf7b0519d") {
		t.Fatalf("no expected signature, or the key shown:\n%s", out)
	}
}

// "-" (stdin) may stand anywhere among the flags, as in most commands:
// before --set and --header too.
func TestVerifyCommandStdinDashAnywhere(t *testing.T) {
	for _, args := range [][]string{
		{"-", "--provider", "cbtis", "--set", "api_key=6d0e8fa7b10c40c3a48c0c2be41cb178", "--header", "Signature: " + cbtisSig},
		{"--provider", "cbtis", "-", "--set", "api_key=6d0e8fa7b10c40c3a48c0c2be41cb178", "--header", "Signature: " + cbtisSig},
		{"--provider", "cbtis", "--set", "api_key=6d0e8fa7b10c40c3a48c0c2be41cb178", "--header", "Signature: " + cbtisSig, "-"},
	} {
		if code, out, errOut := verify(t, cbtisBody, args...); code != 0 || !strings.HasSuffix(out, "verdict: valid\n") {
			t.Fatalf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"--provider", "cbtis", "-", "-", "--set", "api_key=k"},
		{"--provider", "cbtis", "--file", "n.json", "-", "--set", "api_key=k"},
		{"--provider", "cbtis", "-", "n.json", "--set", "api_key=k"},
	} {
		if code, out, errOut := verify(t, cbtisBody, args...); code != 2 || out != "" || !strings.Contains(errOut, "unexpected argument") {
			t.Fatalf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	var out, errOut bytes.Buffer
	code := runMinipay([]string{"sign", "--provider", "wechat_v2", "-", "--set", "api_key=192006250b4c09247ec02edce69f6a2d"},
		strings.NewReader("<xml><a>1</a></xml>"), &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "string_to_sign: a=1&key=***\n") {
		t.Fatalf("sign: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}

// A wechat_v2 refund notification carries no sign: req_info decrypting under
// the key is the check. verify shows what decrypted, or that nothing did.
// The vector is docs/providers/wechat_v2.md's (API key
// 192006250b4c09247ec02edce69f6a2d, checked there with openssl).
func TestVerifyCommandWechatV2Refund(t *testing.T) {
	const reqInfo = "WBzGpzQuNpcFxIlFjUUD9BZv+lpBMzd2SHiKCkwfALWid5G8ZvfOussfMIHLbKJmcnxPKdb1ZJEqTAp8ysQv+xa1fj+Eorgndx3fNxf3KAYa3LPgsjvZgxaeYyrhV05Kbjkj6ywg27cEyTTaPZFYNg=="
	notification := func(reqInfo string) string {
		return "<xml><return_code>SUCCESS</return_code><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id>" +
			"<nonce_str>n1</nonce_str><req_info><![CDATA[" + reqInfo + "]]></req_info></xml>"
	}
	args := []string{"--provider", "wechat_v2", "--set", "app_id=wxd930ea5d5a258f4f", "--set", "mch_id=10000100",
		"--set", "api_key=192006250b4c09247ec02edce69f6a2d", "--file", "-"}
	code, out, errOut := verify(t, notification(reqInfo), args...)
	want := "provider: wechat_v2\nkind: notification\nsign_type: AES-256-ECB (req_info, no sign)\n" +
		"string_to_sign: <root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_status><![CDATA[SUCCESS]]></refund_status></root>\n" +
		"expected: req_info encrypted under the lowercase hex MD5 of api_key (it decrypts to a <root> document)\nreceived: " + reqInfo + "\nverdict: valid\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
	// ECB: a changed first block garbles that block only, and the document
	// no longer parses; under another key the padding fails.
	tampered := "WBzH" + reqInfo[4:]
	code, out, errOut = verify(t, notification(tampered), args...)
	if code != 1 || !strings.Contains(out, "_no><![CDATA[R1]]></out_refund_no>") || !strings.HasSuffix(out,
		"\nexpected: req_info encrypted under the lowercase hex MD5 of api_key (it does not decrypt to a <root> document)\nreceived: "+tampered+
			"\nverdict: invalid (notification signature does not verify: wechat_v2 refund notification req_info does not decrypt under the key)\n") {
		t.Fatalf("tampered: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = verify(t, notification(reqInfo), append(args[:len(args)-3:len(args)-3], "api_key=8934e7d15453e97507ef794cf7b0519d", "--file", "-")...)
	if code != 1 || !strings.Contains(out, "\nstring_to_sign: \nexpected: req_info encrypted under the lowercase hex MD5 of api_key (it does not decrypt to a <root> document)\n") {
		t.Fatalf("another key: exit %d\n%s%s", code, out, errOut)
	}
}

// A notification for another merchant is refused as such, and its signature
// is still explained, as for 2c2p and latipay: valid under this key or not.
func TestVerifyCommandWechatV2OtherMerchant(t *testing.T) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := verify(t, string(v2), "--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000108",
		"--set", "api_key=8934e7d15453e97507ef794cf7b0519d", "--set", "sign_type=HMAC-SHA256", "--file", "-")
	want := "provider: wechat_v2\nkind: notification\nsign_type: HMAC-SHA256\nstring_to_sign: " + v2StringToSign + "\nexpected: " + v2Sig +
		"\nreceived: " + v2Sig + "\nverdict: invalid (notification is for another merchant)\n"
	if code != 1 || out != want {
		t.Fatalf("exit %d\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
}

// A malformed --set may hold a secret (a colon typed for the "=", a value
// without its field name): the message names the argument, never its text.
func TestVerifyCommandSetSyntaxHidesValues(t *testing.T) {
	const secret = "6d0e8fa7b10c40c3a48c0c2be41cb178"
	for _, set := range []string{"api_key:" + secret, secret, "=" + secret, "api_key " + secret, "api_key\t" + secret} {
		t.Run(set, func(t *testing.T) {
			code, out, errOut := verify(t, "{}", "--provider", "cbtis", "--set", "uid=1", "--set", set, "--file", "-")
			if code != 2 || out != "" || !strings.Contains(errOut, "want field=value") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if strings.Contains(errOut, secret) || strings.Contains(errOut, secret[:8]) {
				t.Fatalf("the message shows the value: %q", errOut)
			}
			if !strings.Contains(errOut, "--set #2") {
				t.Fatalf("the message does not say which --set: %q", errOut)
			}
		})
	}
}

// Every provider's API answers: a signed one is explained as kind answer
// (valid, or invalid once a byte changed); an unsigned one is a usage error
// (exit 2) saying what the provider signs instead. No secret is printed.
func TestVerifyCommandProviderAnswers(t *testing.T) {
	latipayArgs := []string{"--provider", "latipay", "--set", "api_key=111222333", "--set", "currency=NZD", "-"}
	twoc2pArgs := []string{"--provider", "2c2p", "--set", "merchant_id=JT01", "--set", "secret_key=7jYcp4FxFdf0", "--file", "-"}
	cbtisArgs := []string{"--provider", "cbtis", "--set", "api_key=6d0e8fa7b10c40c3a48c0c2be41cb178", "--file", "-"}
	v2Args := []string{"--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_key=8934e7d15453e97507ef794cf7b0519d", "--set", "sign_type=HMAC-SHA256", "--file", "-"}
	const latipaySig = "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1"
	latipayValid := "provider: latipay\nkind: answer\nsign_type: HMAC-SHA256\nstring_to_sign: dsi39ej430sks03alipaypaidNZD120.00\n" +
		"expected: " + latipaySig + "\nreceived: " + latipaySig + "\nverdict: valid\n"
	replace := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("no %q to replace", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	// The demo answer with one byte of its signature changed.
	twoc2pTampered := replace(twoc2pEnvelope, "RkUxPC9zaWduYXR1cmU+", "RkUyPC9zaWduYXR1cmU+")

	tests := []struct {
		name  string
		input string
		args  []string
		code  int
		kind  string // the kind line, when the code is 0 or 1
		want  string // the whole output, when given; for exit 2, a part of the message
	}{
		{"latipay query answer", latipayAnswer, latipayArgs, 0, "answer", latipayValid},
		{"latipay query answer, amount a JSON number", replace(latipayAnswer, `"amount":"120.00"`, `"amount":120.00`), latipayArgs, 0, "answer", latipayValid},
		{"latipay query answer, tampered status", replace(latipayAnswer, `"status":"paid"`, `"status":"failed"`), latipayArgs, 1, "answer",
			"provider: latipay\nkind: answer\nsign_type: HMAC-SHA256\nstring_to_sign: dsi39ej430sks03alipayfailedNZD120.00\n" +
				// expected computed independently: printf '%s' dsi39ej430sks03alipayfailedNZD120.00 | openssl dgst -sha256 -hmac 111222333
				"expected: fe00638507563f0636b94e2dc14cdab065128ecb1472db12bce36263f933518b\nreceived: " + latipaySig + "\n" +
				"verdict: invalid (answer signature does not verify)\n"},
		{"latipay query answer, tampered amount", replace(latipayAnswer, `"120.00"`, `"1200.0"`), latipayArgs, 1, "answer", ""},
		{"latipay query answer without its signature", replace(latipayAnswer, `"signature":"`+latipaySig+`"`, `"signature":""`), latipayArgs, 1, "answer", ""},
		{"latipay query answer in another wallet's currency", latipayAnswer, []string{"--provider", "latipay", "--set", "api_key=111222333", "--set", "currency=AUD", "-"}, 1, "answer", ""},
		{"latipay docs' printed example answer", latipayPrintedAnswer, []string{"--provider", "latipay", "--set", "api_key=111222333", "--set", "currency=AUD", "-"}, 1, "answer", ""},
		{"latipay pay answer", latipayPayAnswer, latipayArgs, 2, "", "for latipay, verify explains notifications (the form Latipay posts) and transaction query answers"},
		{"latipay refund answer", latipayRefundAnswer, latipayArgs, 2, "", "Latipay does not sign (its pay, refund and error answers carry no signature)"},
		{"latipay notification, still", latipayBody, latipayArgs, 0, "notification", ""},
		// Methods of Latipay's hosted page (README Latipay), as the webhook
		// and a query accept them; signatures by openssl dgst -sha256 -hmac 111222333.
		{"latipay notification paid by polipay", replace(replace(latipayBody, "payment_method=alipay", "payment_method=polipay"), latipaySig,
			"cfcada26c0e3fb83bd1ff94b9d68479507f4ff4d55da96fa7e42f52eb94a1bfa"), latipayArgs, 0, "notification", ""},
		{"latipay query answer paid by coin_payments", replace(replace(latipayAnswer, `"alipay"`, `"coin_payments"`), latipaySig,
			"19ebfa0d38d2adff73c44a592cd27f87333b59163c6f0768dcb3850412b1b338"), latipayArgs, 0, "answer",
			strings.NewReplacer("alipaypaid", "coin_paymentspaid", latipaySig, "19ebfa0d38d2adff73c44a592cd27f87333b59163c6f0768dcb3850412b1b338").Replace(latipayValid)},
		{"2c2p pay answer, compressed as the demo server sends it", gzipText(t, twoc2pEnvelope), twoc2pArgs, 0, "answer", ""},
		{"2c2p declined pay answer, compressed", gzipText(t, transformtest.TwoC2PDemoDeclined), twoc2pArgs, 0, "answer", ""},
		{"2c2p pay answer, compressed, tampered", gzipText(t, twoc2pTampered), twoc2pArgs, 1, "answer", ""},
		{"2c2p pay answer, compressed, another merchant's", gzipText(t, twoc2pEnvelope), []string{"--provider", "2c2p", "--set", "merchant_id=JT02",
			"--set", "secret_key=7jYcp4FxFdf0", "--file", "-"}, 1, "answer", ""},
		{"2c2p envelope, bare: the webhook accepts it as a notification", twoc2pEnvelope, twoc2pArgs, 0, "notification", ""},
		{"2c2p envelope declared gzip: a notification", gzipText(t, twoc2pEnvelope), append([]string{"--header", "Content-Encoding: gzip"}, twoc2pArgs...), 0, "notification", ""},
		// The Content-Encoding the notification came with is read as the
		// webhook reads it, for every provider.
		{"cbtis notification gzip-compressed, declared", gzipText(t, cbtisBody), append([]string{"--header", "Signature: " + cbtisSig, "--header", "Content-Encoding: gzip"}, cbtisArgs...), 0, "notification", ""},
		{"cbtis notification declared gzip, sent plain", cbtisBody, append([]string{"--header", "Signature: " + cbtisSig, "--header", "Content-Encoding: gzip"}, cbtisArgs...), 1, "notification", ""},
		{"latipay notification gzip-compressed, declared", gzipText(t, latipayBody), append([]string{"--header", "Content-Encoding: gzip"}, latipayArgs...), 0, "notification", ""},
		{"cbtis create answer", cbtisCreateAnswer, cbtisArgs, 2, "", "for cbtis, verify explains notifications (the raw body, with the Signature header"},
		{"cbtis token answer", cbtisTokenAnswer, cbtisArgs, 2, "", "CBTIS signs none (they come over TLS, answering the bearer token)"},
		{"cbtis answer with a Signature header that does not verify", cbtisCreateAnswer, append([]string{"--header", "Signature: " + cbtisSig}, cbtisArgs...), 2, "", "CBTIS signs none"},
		// Signed with the webhook's key, an answer-shaped body is what
		// minipay_webhook forwards (as unknown): verify agrees.
		{"cbtis answer-shaped body whose Signature verifies", cbtisCreateAnswer, append([]string{"--header", "Signature: " + cbtisCreateAnswerSig}, cbtisArgs...), 0, "notification",
			"provider: cbtis\nkind: notification\nsign_type: SHA-256\nstring_to_sign: " + cbtisCreateAnswer + ".***\nexpected: " + cbtisCreateAnswerSig +
				"\nreceived: " + cbtisCreateAnswerSig + "\nverdict: valid\n"},
		// WeChat Pay v2 signs no return_code FAIL answer (docs/providers/wechat_v2.md,
		// "Response"): the one WeChat sends for a wrong key, as its docs print it.
		{"wechat_v2 return_code FAIL answer", v2FailAnswer, v2Args, 2, "", "for wechat_v2, verify explains payment notifications"},
		{"wechat_v2 return_code FAIL answer, no return_msg", `<xml><return_code>FAIL</return_code></xml>`, v2Args, 2, "", "WeChat Pay signs no return_code FAIL answer"},
		{"cbtis notification, still", cbtisBody, append([]string{"--header", "Signature: " + cbtisSig}, cbtisArgs...), 0, "notification", ""},
		// Held to the rule minipay reads answers by (README Errors, 502
		// upstream_error): in service-provider mode an answer's sub_mch_id
		// left out or empty (unsigned) is not required, another is refused.
		{"wechat_v2 service-provider answer, empty sub_mch_id", v2SPAnswer(t, "<sub_mch_id></sub_mch_id>", ""), v2SPArgs, 0, "answer",
			v2SPOutput(v2SPSig, v2SPSig, "valid")},
		{"wechat_v2 service-provider answer without sub_mch_id", v2SPAnswer(t, "", ""), v2SPArgs, 0, "answer", v2SPOutput(v2SPSig, v2SPSig, "valid")},
		{"wechat_v2 service-provider answer, another sub_mch_id", v2SPAnswer(t, "<sub_mch_id>1900000111</sub_mch_id>", v2SPOtherSig), v2SPArgs, 1, "answer",
			strings.Replace(v2SPOutput(v2SPOtherSig, v2SPOtherSig, "invalid (answer is for another merchant)"), "&trade_state=", "&sub_mch_id=1900000111&trade_state=", 1)},
		// Values whose signed string reads as other fields too: 502
		// upstream_signature_invalid on the route (README Errors), the
		// webhook's refusal here.
		{"wechat_v2 answer, device_info run on over fee_type", v2SPAnswer(t, "<device_info><![CDATA[013467007045764&fee_type=USD]]></device_info>", v2DeviceInfoSig),
			v2Args, 1, "answer", strings.Replace(v2SPOutput(v2DeviceInfoSig, v2DeviceInfoSig, v2Shifted), "&mch_id=", "&device_info=013467007045764&fee_type=USD&mch_id=", 1)},
		{"wechat_v2 answer, attach holding &bank_type=", v2SPAnswer(t, "<attach><![CDATA[x&bank_type=CMC]]></attach>", v2AttachSig),
			v2Args, 1, "answer", strings.Replace(v2SPOutput(v2AttachSig, v2AttachSig, v2Shifted), "&mch_id=", "&attach=x&bank_type=CMC&mch_id=", 1)},
		// An unpaid order's answer whose attach a pay takes (x&cash_fee=1:
		// a notification's attach is followed by bank_type), which the route
		// reads as pending. Signed by Python's hmac as above.
		{"wechat_v2 unpaid answer, attach holding &cash_fee=", "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code>" +
			"<appid>wx8888888888888888</appid><mch_id>1900000109</mch_id><nonce_str>5K8264ILTKCH16CQ</nonce_str><out_trade_no>DEMO-1001</out_trade_no>" +
			"<attach><![CDATA[x&cash_fee=1]]></attach><trade_state>NOTPAY</trade_state><trade_state_desc>订单未支付</trade_state_desc>" +
			"<sign>6A8B4A71DE7363F29B655803DF955D2150BD013EE11AC791295FB17014D228A0</sign></xml>", v2Args, 0, "answer",
			"provider: wechat_v2\nkind: answer\nsign_type: HMAC-SHA256\nstring_to_sign: appid=wx8888888888888888&attach=x&cash_fee=1&mch_id=1900000109" +
				"&nonce_str=5K8264ILTKCH16CQ&out_trade_no=DEMO-1001&result_code=SUCCESS&return_code=SUCCESS&trade_state=NOTPAY&trade_state_desc=订单未支付&key=***" +
				"\nexpected: 6A8B4A71DE7363F29B655803DF955D2150BD013EE11AC791295FB17014D228A0\nreceived: 6A8B4A71DE7363F29B655803DF955D2150BD013EE11AC791295FB17014D228A0\nverdict: valid\n"},
		{"wechat_v2 answer, promotion_detail no JSON", v2SPAnswer(t, "<promotion_detail>no JSON</promotion_detail>", v2PromotionSig),
			v2Args, 1, "answer", strings.Replace(v2SPOutput(v2PromotionSig, v2PromotionSig, v2Shifted), "&result_code=", "&promotion_detail=no JSON&result_code=", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := verify(t, tt.input, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			for _, secret := range []string{"111222333", "7jYcp4FxFdf0", "6d0e8fa7b10c40c3a48c0c2be41cb178", "8934e7d15453e97507ef794cf7b0519d"} {
				if strings.Contains(out+errOut, secret) {
					t.Fatalf("the output shows the secret %s:\n%s%s", secret, out, errOut)
				}
			}
			if tt.code == 2 {
				if out != "" || !strings.Contains(errOut, "there is no signature to explain") || !strings.Contains(errOut, tt.want) {
					t.Fatalf("stdout %q, stderr %q, want %q", out, errOut, tt.want)
				}
				return
			}
			if tt.want != "" && out != tt.want {
				t.Fatalf("output:\n%s\nwant:\n%s", out, tt.want)
			}
			verdict := "verdict: valid\n"
			if tt.code == 1 {
				verdict = "verdict: invalid ("
			}
			if !strings.Contains(out, "\nkind: "+tt.kind+"\n") || !strings.Contains(out, verdict) || errOut != "" {
				t.Fatalf("want kind %s and %q:\n%s%s", tt.kind, verdict, out, errOut)
			}
		})
	}

	// The compressed 2C2P answer: the payload the HMAC covers, the demo's signature.
	_, out, _ := verify(t, gzipText(t, twoc2pEnvelope), twoc2pArgs...)
	if !strings.Contains(out, "\nsign_type: HMAC-SHA256\nstring_to_sign: PFBheW1lbnRSZXNwb25zZT4") ||
		!strings.HasSuffix(out, "\nexpected: "+twoc2pSig+"\nreceived: "+twoc2pSig+"\nverdict: valid\n") {
		t.Fatalf("2c2p answer:\n%s", out)
	}
	_, out, _ = verify(t, gzipText(t, twoc2pTampered), twoc2pArgs...)
	if !strings.Contains(out, "\nexpected: "+twoc2pSig+"\n") || strings.Contains(out, "\nreceived: "+twoc2pSig+"\n") {
		t.Fatalf("tampered 2c2p answer:\n%s", out)
	}
}

// WeChat Pay v2 orderquery answers (NOTPAY) for Caddyfile.example's
// merchant, signed HMAC-SHA256 under its key by Python's hmac over the
// string v2SPOutput shows; v2SPSig is that of the answer without the
// element v2SPAnswer inserts (an empty one is unsigned).
const (
	v2SPSig         = "F3B16250782385FAA601A39FE6E1FA44E31045F78D073C18F57C0584AE4B1740"
	v2SPOtherSig    = "CD22DF40C785EEF7E7DC3243681750F5DEFA16D032AFE99672786072412D3987" // sub_mch_id 1900000111
	v2DeviceInfoSig = "15E53DB147786C2C2C1C11FB10285BFB35DF5D15120ED9DEFFD52C63AECB79D3"
	v2AttachSig     = "F9E148375F9312EDAD17767A4413723050AD9013E657C4CF34B4A7011D0B52B1"
	v2PromotionSig  = "1AD576FAA90F3510296E60BB192941BC9EEBA5B1E3461F36873AA95A8C05A690"
	v2Shifted       = "invalid (answer is not a well-formed document of the provider: a signed value reads as another field too (&name=))"
)

var v2SPArgs = []string{"--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
	"--set", "sub_mch_id=1900000110", "--set", "api_key=8934e7d15453e97507ef794cf7b0519d", "--set", "sign_type=HMAC-SHA256", "--file", "-"}

// v2SPAnswer is the answer with element after mch_id, signed sig (v2SPSig
// when "").
func v2SPAnswer(t *testing.T, element, sig string) string {
	t.Helper()
	return "<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code><appid>wx8888888888888888</appid><mch_id>1900000109</mch_id>" +
		element + "<nonce_str>5K8264ILTKCH16CQ</nonce_str><out_trade_no>DEMO-1001</out_trade_no><trade_state>NOTPAY</trade_state><sign>" +
		cmp.Or(sig, v2SPSig) + "</sign></xml>"
}

func v2SPOutput(expected, received, verdict string) string {
	return "provider: wechat_v2\nkind: answer\nsign_type: HMAC-SHA256\nstring_to_sign: appid=wx8888888888888888&mch_id=1900000109" +
		"&nonce_str=5K8264ILTKCH16CQ&out_trade_no=DEMO-1001&result_code=SUCCESS&return_code=SUCCESS&trade_state=NOTPAY&key=***\nexpected: " +
		expected + "\nreceived: " + received + "\nverdict: " + verdict + "\n"
}

// What verify prints comes from the sender: a control character must not
// reach the terminal raw, where a carriage return or an escape sequence
// could print "verdict: valid" over the real verdict.
func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain ASCII, 中文 and\ttab", "plain ASCII, 中文 and\ttab"},
		{"a\nb", `a\nb`},
		{"x\rverdict: valid", `x\rverdict: valid`},
		{"\x1b[2K\x1b[1Averdict: valid", `\x1b[2K\x1b[1Averdict: valid`},
		{"nul\x00 del\x7f", `nul\x00 del\x7f`},
		{"c1 \u009b2K", `c1 \u009b2K`},
		{"not utf-8 \xff\xfe", `not utf-8 \xff\xfe`},
		{`a backslash \n stays`, `a backslash \n stays`},
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Through the command: a CBTIS body whose JSON holds a raw CR and ESC
	// (its string_to_sign is the raw body).
	body := "{\"notify_type\":\"payment_success\",\"data\":{}}\r\x1b[1Averdict: valid"
	_, out, _ := verify(t, body, "--provider", "cbtis", "--set", "api_key=k", "--header", "Signature: 00")
	if strings.ContainsAny(out, "\r\x1b") || !strings.Contains(out, `\r\x1b[1Averdict: valid`) {
		t.Fatalf("verify printed a raw control character, or not the body: %q", out)
	}
}

// A 2C2P notification posted as a multipart form and saved without its
// Content-Type has lost the boundary the webhook reads it by: it is invalid
// as given, and the reason names the --header that makes it verify. With
// that header it is valid; a tampered one gets no such hint.
func TestVerifyCommandMultipartWithoutContentType(t *testing.T) {
	form := func(envelope string) string {
		return "--XyZ-7\r\nContent-Disposition: form-data; name=\"paymentResponse\"\r\n\r\n" + envelope + "\r\n--XyZ-7--\r\n"
	}
	const hint = `; the input is a multipart form: with --header "Content-Type: multipart/form-data; boundary=XyZ-7" it verifies)`
	args := []string{"--provider", "2c2p", "--set", "merchant_id=JT01", "--set", "secret_key=7jYcp4FxFdf0", "--file", "-"}
	withHeader := append([]string{"--header", "Content-Type: multipart/form-data; boundary=XyZ-7"}, args...)
	tampered := strings.Replace(twoc2pEnvelope, "RkUxPC9zaWduYXR1cmU+", "RkUyPC9zaWduYXR1cmU+", 1)
	for _, tt := range []struct {
		name, input string
		args        []string
		code        int
		hint        bool
	}{
		{"without its Content-Type", form(twoc2pEnvelope), args, 1, true},
		{"with its Content-Type", form(twoc2pEnvelope), withHeader, 0, false},
		{"tampered, without its Content-Type", form(tampered), args, 1, false},
		{"tampered, with its Content-Type", form(tampered), withHeader, 1, false},
		{"a bare envelope", twoc2pEnvelope, args, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := verify(t, tt.input, tt.args...)
			if code != tt.code || strings.HasSuffix(out, hint+"\n") != tt.hint || !tt.hint && strings.Contains(out, "multipart form:") {
				t.Fatalf("exit %d (want %d), hint wanted %v:\n%s%s", code, tt.code, tt.hint, out, errOut)
			}
		})
	}
}

// A usage error never repeats what may be a secret typed in the wrong
// place: a value after "--set api_key" without "=" (a stray argument), a
// signature header pasted without its colon, a field name that is a value,
// a key given as --at. Each is named by its position or flag instead
// (README "caddy minipay verify": a malformed --set is named by its
// position, never repeated).
func TestMinipayUsageErrorsNeverRepeatASecret(t *testing.T) {
	const key = "6d0e8fa7b10c40c3a48c0c2be41cb178" // docs/providers/cbtis.md's apikey
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"verify: --set field, then the value as its own argument", []string{"verify", "--provider", "cbtis", "--set", "api_key", key},
			"unexpected argument #5 (its text is not shown"},
		{"verify: --set field= and a space before the value", []string{"verify", "--provider", "cbtis", "--set", "api_key=", key, "--file", "-"},
			"unexpected argument #5"},
		{"sign: --set field, then the value", []string{"sign", "--provider", "latipay", "--set", "api_key", key},
			"unexpected argument #5"},
		{"verify: the signature header without its colon", []string{"verify", "--provider", "cbtis", "--set", "api_key=" + key,
			"--header", "Content-Type: application/json", "--header", "Signature " + key}, "--header #2: want \"Name: value\""},
		{"verify: a header name that is no token, as an HTTP message's head refuses it", []string{"verify", "--provider", "cbtis",
			"--set", "api_key=" + key, "--header", "Signature=" + key + ": x"}, "--header #1: want"},
		{"verify: the key alone as a header", []string{"verify", "--provider", "cbtis", "--set", "api_key=" + key, "--header", key},
			"--header #1: want"},
		{"verify: the key as a field name", []string{"verify", "--provider", "cbtis", "--set", key + "=x"},
			"--set #1: cbtis has no such field"},
		{"sign: the key as a field name", []string{"sign", "--provider", "latipay", "--set", "api_key=k", "--set", key + "=x"},
			"--set #2: sign for latipay has no such field"},
		{"verify: the key as --at", []string{"verify", "--provider", "cbtis", "--set", "api_key=" + key, "--at", key},
			"--at: want RFC 3339"},
		// A key that starts with "-" (an api_v3_key is any 32 characters)
		// given after its field reads as a flag; Go's flag package quotes it.
		{"verify: --set field, then a value that starts with -", []string{"verify", "--provider", "cbtis", "--set", "api_key", "-" + key},
			"flag #5 is not defined (its text is not shown"},
		{"sign: --set field, then a value that starts with --", []string{"sign", "--provider", "latipay", "--set", "api_key", "--" + key + "=x"},
			"flag #5 is not defined (its text is not shown"},
		{"verify: bad flag syntax", []string{"verify", "--provider", "cbtis", "--set", "api_key", "---" + key},
			"flag #5: bad flag syntax (its text is not shown"},
		{"verify: a header's value as its own argument", []string{"verify", "--provider", "cbtis", "--set", "api_key=k", "--header", "Signature:", "-" + key},
			"flag #7 is not defined"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMinipay(tt.args, strings.NewReader(cbtisBody), &out, &errOut)
			if code != exitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q, want exit 2 and %q", code, out.String(), errOut.String(), tt.want)
			}
			if strings.Contains(errOut.String(), key) {
				t.Fatalf("stderr repeats the key: %q", errOut.String())
			}
		})
	}
}

// A provider verify cannot explain is named with those it can, before any
// field it would need is asked for. Those are the registered providers with
// a minipay_webhook side, read from Caddy's module registry, so a provider
// added as its package plus its registration file (README Development,
// "Adding a provider") is named without an edit here; the five of today
// must be among them, and --help lists them too.
func TestVerifyCommandNamesTheProvidersItKnows(t *testing.T) {
	var notifying []string
	for _, name := range providerNames() {
		info, err := caddy.GetModule(providerNamespace + "." + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := info.New().(webhookProvider); ok {
			notifying = append(notifying, name)
		}
	}
	for _, name := range []string{"2c2p", "cbtis", "latipay", "wechat_v2", "wechat_v3"} {
		if !slices.Contains(notifying, name) {
			t.Fatalf("the registry's providers with a webhook side %v leave out %s", notifying, name)
		}
	}
	if slices.Contains(notifying, "wechat_login") {
		t.Fatalf("wechat_login sends no notifications, yet has a webhook side: %v", notifying)
	}
	known := strings.Join(notifying, ", ")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--provider", "wechat_login"}, exitUsage, "provider wechat_login sends no notifications: verify knows " + known + "\n"},
		{[]string{"--provider", "paypal"}, exitUsage, `unknown provider "paypal" (verify knows ` + known + ")\n"},
		{[]string{"--help"}, exitValid, "  -provider string\n    \t" + known + "\n"},
	} {
		code, out, errOut := verify(t, cbtisBody, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q, want exit %d and %q", tt.args, code, out, errOut, tt.code, tt.want)
		}
	}
}

// A WeChat Pay v2 notification without sign_type is signed with its order's
// type; checked under the other one (docs/providers/wechat_v2.md's pitfall:
// MD5 checked, HMAC-SHA256 paid), the verdict says which type it verifies
// under. A changed byte verifies under neither and gets no such hint.
func TestVerifyCommandWechatV2NamesTheOrdersSignType(t *testing.T) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml")) // HMAC-SHA256, no sign_type element
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_key=8934e7d15453e97507ef794cf7b0519d", "--set", "sign_type=MD5"}
	const hint = "verdict: invalid (notification signature does not verify: it verifies under sign_type HMAC-SHA256, " +
		"the type its order was signed with: --set sign_type=HMAC-SHA256, as the route's sign_type must be)\n"
	if code, out, errOut := verify(t, string(v2), args...); code != 1 || !strings.Contains(out, "\nsign_type: MD5\n") || !strings.HasSuffix(out, hint) {
		t.Fatalf("exit %d, want 1 and %q\n%s%s", code, hint, out, errOut)
	}
	tampered := strings.Replace(string(v2), "<total_fee><![CDATA[1234]]>", "<total_fee><![CDATA[1]]>", 1)
	if code, out, _ := verify(t, tampered, args...); code != 1 || !strings.HasSuffix(out, "verdict: invalid (notification signature does not verify)\n") {
		t.Fatalf("tampered: exit %d\n%s", code, out)
	}
}

// An input past 64 KiB is refused by every webhook before it is read (413):
// the verdict says so, where it read "not a well-formed document of the
// provider" whatever the input held. Up to 1 MiB is read (an API answer
// may be that large); past it the input is a usage error.
func TestVerifyCommandOversizedNotification(t *testing.T) {
	v3Key, _ := filepath.Abs(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	settings := map[string][]string{
		"wechat_v2": {"app_id=wx8888888888888888", "mch_id=1900000109", "api_key=8934e7d15453e97507ef794cf7b0519d"},
		"wechat_v3": {"app_id=wx8888888888888888", "mch_id=1900000109", "api_v3_key=sandbox-apiv3-key-0123456789abcd",
			"public_key={file." + v3Key + "}", "public_key_id=PUB_KEY_ID_0119000001092026112900000000000001"},
		"2c2p":    {"merchant_id=JT01", "secret_key=7jYcp4FxFdf0"},
		"latipay": {"api_key=111222333", "currency=NZD"},
		"cbtis":   {"api_key=6d0e8fa7b10c40c3a48c0c2be41cb178"},
	}
	inputs := map[string]string{ // each provider's notification, padded past 64 KiB where it has room
		"wechat_v2": "<xml><return_code>SUCCESS</return_code><attach>" + strings.Repeat("a", 64<<10) + "</attach><out_trade_no>DEMO-1001</out_trade_no>" +
			"<time_end>20261122192026</time_end><total_fee>1234</total_fee><transaction_id>42000202611221920261000002</transaction_id><sign>00</sign></xml>",
		"wechat_v3": `{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","summary":"` + strings.Repeat("a", 64<<10) + `","resource":{}}`,
		"2c2p":      "paymentResponse=" + twoc2pEnvelope + "&pad=" + strings.Repeat("a", 64<<10),
		"latipay":   latipayBody + "&pad=" + strings.Repeat("a", 64<<10),
		"cbtis":     strings.Replace(cbtisBody, `"data":{`, `"data":{"pad":"`+strings.Repeat("a", 64<<10)+`",`, 1),
	}
	for name, sets := range settings {
		t.Run(name, func(t *testing.T) {
			args := []string{"--provider", name, "--header", "Signature: 00"}
			for _, s := range sets {
				args = append(args, "--set", s)
			}
			code, out, errOut := verify(t, inputs[name], args...)
			const want = "verdict: invalid (the input is larger than 64 KiB: the webhook refuses it unread (413))\n"
			if code != 1 || !strings.Contains(out, "\nkind: notification\n") || !strings.HasSuffix(out, want) {
				t.Fatalf("%d bytes: exit %d, want 1 and %q\n%.300s%s", len(inputs[name]), code, want, out, errOut)
			}
			code, out, errOut = verify(t, strings.Repeat("a", maxInput+1), args...)
			if code != 2 || out != "" || !strings.Contains(errOut, "larger than 1 MiB") {
				t.Fatalf("past 1 MiB: exit %d %q %q", code, out, errOut)
			}
		})
	}
}
