package caddymodule

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform/wechatv3"
)

// A notification or answer saved as the HTTP message it came in (nc -l,
// tcpdump, curl -i) is read as that message: its headers are the --header
// lines, its body is the input, framed by Content-Length or chunked
// (README "caddy minipay verify"). Each dump gets the output of its body
// given with those headers as flags: the same lines, the same verdict.
func TestVerifyCommandHTTPMessage(t *testing.T) {
	v2, err := os.ReadFile(filepath.Join("testdata", "wechat_v2-notification.xml"))
	if err != nil {
		t.Fatal(err)
	}
	v2Args := []string{"--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_key=8934e7d15453e97507ef794cf7b0519d", "--set", "sign_type=HMAC-SHA256"}
	cbtisArgs := []string{"--provider", "cbtis", "--set", "api_key=6d0e8fa7b10c40c3a48c0c2be41cb178"}
	latipayArgs := []string{"--provider", "latipay", "--set", "api_key=111222333", "--set", "currency=NZD"}

	// A WeChat Pay v3 answer signed now by the example platform key, as in
	// TestVerifyCommandAnswers, and close's empty 204.
	key := examplePlatformKey(t)
	answer := `{"prepay_id":"wx29150000100000000001"}`
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "answer-nonce"
	sign := func(body string) string {
		sig, err := wechatv3.SignMessage(key, wechatv3.AppendAnswerMessage(nil, ts, nonce, []byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	pub, _ := filepath.Abs(filepath.Join("..", "examples", "keys", "wechatpay_pub_key.pem"))
	v3Args := []string{"--provider", "wechat_v3", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_v3_key=sandbox-apiv3-key-0123456789abcd", "--set", "public_key={file." + pub + "}",
		"--set", "public_key_id=PUB_KEY_ID_0119000001092026112900000000000001"}
	v3Headers := func(sig string) []string {
		return []string{"Wechatpay-Nonce: " + nonce, "Wechatpay-Serial: PUB_KEY_ID_0119000001092026112900000000000001",
			"Wechatpay-Signature: " + sig, "Wechatpay-Timestamp: " + ts}
	}

	crlf := func(lines ...string) string { return strings.Join(lines, "\r\n") }
	request := func(path string, headers []string, body string) string {
		head := append([]string{"POST " + path + " HTTP/1.1", "Host: merchant.example", "User-Agent: Go-http-client/1.1",
			"Content-Length: " + strconv.Itoa(len(body))}, headers...)
		return crlf(head...) + "\r\n\r\n" + body
	}
	chunked := func(body string) string {
		return strconv.FormatInt(int64(len(body)/2), 16) + "\r\n" + body[:len(body)/2] + "\r\n" +
			strconv.FormatInt(int64(len(body)-len(body)/2), 16) + "\r\n" + body[len(body)/2:] + "\r\n0\r\n\r\n"
	}
	flags := func(headers []string) []string {
		var args []string
		for _, h := range headers {
			args = append(args, "--header", h)
		}
		return args
	}
	cbtisHeaders := []string{"Content-Type: application/json", "Signature: " + cbtisSig}
	// curl -i over HTTP/2: lower-case names, no Content-Length.
	v3Dump := "HTTP/2 200 \r\ncontent-type: application/json\r\n" + crlf("wechatpay-nonce: "+nonce, "wechatpay-serial: PUB_KEY_ID_0119000001092026112900000000000001",
		"wechatpay-signature: "+sign(answer), "wechatpay-timestamp: "+ts) + "\r\n\r\n" + answer

	tests := []struct {
		name string
		dump string
		args []string // the provider's flags, and --header lines given besides the dump
		body string   // what the dump carries,
		with []string // with these headers
		code int
	}{
		{"wechat_v2 notification", request("/webhooks/wechat_v2", []string{"Content-Type: text/xml"}, string(v2)),
			v2Args, string(v2), nil, 0},
		{"wechat_v2 notification, saved with LF line ends and no length",
			"POST /webhooks/wechat_v2 HTTP/1.1\nHost: merchant.example\nContent-Type: text/xml\n\n" + string(v2),
			v2Args, string(v2), nil, 0},
		{"wechat_v2 notification, gzip", request("/webhooks/wechat_v2", []string{"Content-Encoding: gzip"}, gzipText(t, string(v2))),
			v2Args, gzipText(t, string(v2)), []string{"Content-Encoding: gzip"}, 0},
		{"cbtis notification, a line break after the body", request("/webhooks/cbtis", cbtisHeaders, cbtisBody) + "\n",
			cbtisArgs, cbtisBody, []string{"Signature: " + cbtisSig}, 0},
		{"cbtis notification, chunked", crlf("POST /webhooks/cbtis HTTP/1.1", "Host: merchant.example", "Transfer-Encoding: chunked",
			"Content-Type: application/json", "Signature: "+cbtisSig) + "\r\n\r\n" + chunked(cbtisBody),
			cbtisArgs, cbtisBody, []string{"Signature: " + cbtisSig}, 0},
		{"cbtis notification, tampered", request("/webhooks/cbtis", cbtisHeaders, strings.Replace(cbtisBody, "105.00", "105.01", 1)),
			cbtisArgs, strings.Replace(cbtisBody, "105.00", "105.01", 1), []string{"Signature: " + cbtisSig}, 1},
		{"cbtis notification, a --header replaces the dump's", request("/webhooks/cbtis", []string{"Signature: 00"}, cbtisBody),
			append(cbtisArgs[:len(cbtisArgs):len(cbtisArgs)], "--header", "Signature: "+cbtisSig), cbtisBody, nil, 0},
		{"latipay form", request("/webhooks/latipay", []string{"Content-Type: application/x-www-form-urlencoded"}, latipayBody),
			latipayArgs, latipayBody, nil, 0},
		{"wechat_v3 answer, curl -i over HTTP/2", v3Dump, v3Args, answer, v3Headers(sign(answer)), 0},
		{"wechat_v3 answer after 100 Continue", "HTTP/1.1 100 Continue\r\n\r\n" + crlf(append([]string{"HTTP/1.1 200 OK",
			"Content-Type: application/json", "Content-Length: " + strconv.Itoa(len(answer))}, v3Headers(sign(answer))...)...) + "\r\n\r\n" + answer,
			v3Args, answer, v3Headers(sign(answer)), 0},
		// curl -i writes a chunked answer's body decoded, under its
		// Transfer-Encoding header.
		{"wechat_v3 answer, chunked, as curl -i saves it", crlf(append([]string{"HTTP/1.1 200 OK", "Content-Type: application/json",
			"Transfer-Encoding: chunked"}, v3Headers(sign(answer))...)...) + "\r\n\r\n" + answer,
			v3Args, answer, v3Headers(sign(answer)), 0},
		{"wechat_v3 close answer, 204 without a body", crlf(append([]string{"HTTP/1.1 204 No Content"}, v3Headers(sign(""))...)...) + "\r\n\r\n",
			v3Args, "", v3Headers(sign("")), 0},
		{"wechat_v3 answer, tampered", strings.Replace(v3Dump, "wx2915", "wx2916", 1),
			v3Args, strings.Replace(answer, "wx2915", "wx2916", 1), v3Headers(sign(answer)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := verify(t, tt.dump, append(tt.args, "-")...)
			wantCode, want, wantErr := verify(t, tt.body, append(append(tt.args, flags(tt.with)...), "-")...)
			if wantCode != tt.code || wantErr != "" {
				t.Fatalf("the body with --header lines: exit %d, want %d\n%s%s", wantCode, tt.code, want, wantErr)
			}
			if code != tt.code || out != want || errOut != "" {
				t.Fatalf("the HTTP message: exit %d, want %d\n%s%s\nwant:\n%s", code, tt.code, out, errOut, want)
			}
		})
	}

	// A message cut short of its framing is unreadable input, exit 2.
	for _, dump := range []string{
		request("/webhooks/cbtis", cbtisHeaders, cbtisBody)[:len(request("/webhooks/cbtis", cbtisHeaders, cbtisBody))-10],
		crlf("POST /webhooks/cbtis HTTP/1.1", "Transfer-Encoding: chunked", "Signature: "+cbtisSig) + "\r\n\r\n" + chunked(cbtisBody)[:40],
		crlf("POST /webhooks/cbtis HTTP/1.1", "Signature: "+cbtisSig), // no blank line: the head never ends
		// A line that is no header, here the key: named by its number only.
		crlf("POST /webhooks/cbtis HTTP/1.1", "Host: merchant.example", "6d0e8fa7b10c40c3a48c0c2be41cb178") + "\r\n\r\n" + cbtisBody,
		crlf("POST /webhooks/cbtis HTTP/1.1", "Signature : "+cbtisSig) + "\r\n\r\n" + cbtisBody,
	} {
		if code, out, errOut := verify(t, dump, append(cbtisArgs, "-")...); code != 2 || out != "" || !strings.Contains(errOut, "HTTP message") ||
			strings.Contains(errOut, "6d0e8fa7b10c40c3a48c0c2be41cb178") {
			t.Errorf("%q: exit %d\n%s%s", dump, code, out, errOut)
		}
	}
}

// A body labelled with a Content-Encoding it does not have (curl -i
// --compressed saves the body decoded under the header that named gzip) is
// judged as the webhook judges it, invalid, and the reason says that without
// the header it verifies; a tampered one gets no such hint. curl keeps the
// header's Content-Length, the coded body's size, which is not the saved
// body's: more (a small body grows when compressed) or fewer bytes.
func TestVerifyCommandDecodedUnderContentEncoding(t *testing.T) {
	cbtisArgs := []string{"--provider", "cbtis", "--set", "api_key=6d0e8fa7b10c40c3a48c0c2be41cb178"}
	message := func(body string) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nSignature: " + cbtisSig + "\r\n\r\n" + body
	}
	withLength := func(n int) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(n) +
			"\r\nSignature: " + cbtisSig + "\r\n\r\n" + cbtisBody
	}
	const hint = "without its Content-Encoding header the input verifies"
	for _, tt := range []struct {
		name, input string
		args        []string
		hint        bool
	}{
		{"an HTTP message", message(cbtisBody), cbtisArgs, true},
		{"an HTTP message, the coded body's smaller Content-Length", withLength(len(gzipText(t, cbtisBody))), cbtisArgs, true},
		{"an HTTP message, a larger Content-Length", withLength(len(cbtisBody) + 20), cbtisArgs, true},
		{"--header lines", cbtisBody, append(cbtisArgs[:len(cbtisArgs):len(cbtisArgs)], "--header", "Content-Encoding: gzip", "--header", "Signature: "+cbtisSig), true},
		{"tampered", message(strings.Replace(cbtisBody, "105.00", "105.01", 1)), cbtisArgs, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := verify(t, tt.input, append(tt.args, "-")...)
			if code != 1 || !strings.Contains(out, "verdict: invalid (") || strings.Contains(out, hint) != tt.hint {
				t.Fatalf("exit %d, want 1, hint %v\n%s%s", code, tt.hint, out, errOut)
			}
		})
	}
}
