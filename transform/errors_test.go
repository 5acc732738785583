package transform

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestErrorWithoutSecrets(t *testing.T) {
	const secret = "s3cr3t+/=0123456789abcdef0123456"
	secrets := []string{"", secret, "another-secret"}
	tests := []struct {
		name               string
		code, msg          string
		wantCode, wantMsg  string
		wantSameErrorValue bool
	}{
		{"no provider text", "", "", "", "", true},
		{"ordinary text", "40029", "invalid code, rid: 6543", "40029", "invalid code, rid: 6543", true},
		{"secret in the message", "40029", "bad secret " + secret, "40029", "", false},
		{"URL-encoded secret in the message", "40013", "/sns/jscode2session?secret=s3cr3t%2B%2F%3D0123456789abcdef0123456", "40013", "", false},
		{"secret in the code", "x" + secret, "invalid code", "", "invalid code", false},
		{"another secret", "1", "another-secret", "1", "", false},
		// The text is cut at MaxProviderText: a secret running on past the
		// cut leaves its first characters at the end (an error page quoting
		// code2Session's URL); they go with the text.
		{"secret cut at the limit", "40029", strings.Repeat("x", MaxProviderText-16) + "&secret=" + secret + "&js_code=c", "40029", "", false},
		{"URL-encoded secret cut at the limit", "40029", strings.Repeat("x", MaxProviderText-8) + "s3cr3t%2B%2F%3D0123", "40029", "", false},
		{"secret in a code cut at the limit", strings.Repeat("1", MaxProviderText-1) + secret, "m", "", "m", false},
		{"long text without a secret", "1", strings.Repeat("x", 2*MaxProviderText), "1", strings.Repeat("x", MaxProviderText), true},
		{"short text ending like a secret begins", "1", "error s3cr", "1", "error s3cr", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := UpstreamCode("the provider reported an error", tt.code, tt.msg)
			got := e.WithoutSecrets(secrets)
			if got.ProviderCode != tt.wantCode || got.ProviderMessage != tt.wantMsg {
				t.Fatalf("provider_code %q provider_message %q, want %q %q", got.ProviderCode, got.ProviderMessage, tt.wantCode, tt.wantMsg)
			}
			if (got == e) != tt.wantSameErrorValue {
				t.Fatalf("returned the same *Error: %v, want %v", got == e, tt.wantSameErrorValue)
			}
			if e.ProviderCode != Clip(tt.code, MaxProviderText) || e.ProviderMessage != Clip(tt.msg, MaxProviderText) {
				t.Fatal("the original error was changed (it may be shared)")
			}
			if got.Status != e.Status || got.Code != e.Code || got.Message != e.Message {
				t.Fatalf("status, code or message changed: %+v", got)
			}
		})
	}
}

// The upstream's own text is bounded (an HTML error page can be as large as
// the answer), and cut where a character starts, never inside one.
func TestProviderTextClipped(t *testing.T) {
	long := strings.Repeat("a", MaxProviderText-1) + "订单" // 订 straddles the limit
	tests := []struct {
		name string
		err  *Error
	}{
		{"rejected", Rejected(long, long)},
		{"upstream", UpstreamCode("m", long, long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, got := range []string{tt.err.ProviderCode, tt.err.ProviderMessage} {
				if got != strings.Repeat("a", MaxProviderText-1) {
					t.Fatalf("clipped to %d bytes %q", len(got), got[max(0, len(got)-8):])
				}
			}
		})
	}
	if short := Rejected("ORDERPAID", "订单已支付"); short.ProviderCode != "ORDERPAID" || short.ProviderMessage != "订单已支付" {
		t.Fatalf("short text changed: %+v", short)
	}
	exact := strings.Repeat("b", MaxProviderText)
	if e := Rejected("", exact); e.ProviderMessage != exact {
		t.Fatal("text of exactly the limit was cut")
	}
}

// A secret read from a file ({file.*}) may be any bytes. When the cut falls
// in a run of bytes that start no UTF-8 character, Clip stepped back to the
// last byte that did, leaving a text short enough to be taken for uncut,
// ending with the secret's first characters; it steps back at most a
// character's length now, so the cut is still seen and the text dropped.
func TestErrorWithoutSecretsCutInBytesOfNoCharacter(t *testing.T) {
	secret := "ABCDEFGHIJ" + strings.Repeat("\x80", 10) + "K"
	e := UpstreamCode("m", "1", strings.Repeat("x", MaxProviderText-16)+secret)
	if got := e.WithoutSecrets([]string{secret}); got.ProviderMessage != "" {
		t.Fatalf("provider_message ends with %q", got.ProviderMessage[len(got.ProviderMessage)-12:])
	}
	if got := Clip(strings.Repeat("\x80", 2*MaxProviderText), MaxProviderText); len(got) != MaxProviderText {
		t.Fatalf("a text of continuation bytes clipped to %d bytes, want %d", len(got), MaxProviderText)
	}
}

// TestClip: a cut at a character boundary, stepping back at most the bytes
// of the character the cut falls in, and never past the start.
func TestClip(t *testing.T) {
	tests := []struct {
		name, s string
		max     int
		want    string
	}{
		{"fits", "订单", 6, "订单"},
		{"cut inside a character", "a订单", 5, "a订"},
		{"cut inside the first character", "付", 2, ""},
		{"a run of continuation bytes", "ab" + strings.Repeat("\x80", 8), 6, "ab\x80\x80\x80\x80"},
		{"ASCII", "abcdef", 3, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Clip(tt.s, tt.max); got != tt.want {
				t.Fatalf("Clip(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
		})
	}
}

// TestAnswerNotOK: README Errors' rule for a non-2xx answer carrying a
// business code, which WeChat v3, Latipay and CBTIS share.
func TestAnswerNotOK(t *testing.T) {
	tests := []struct {
		status        int
		code, message string
		want          string // HTTP status, error code, provider_code, provider_message
	}{
		{400, "PARAM_ERROR", "参数错误", "422 provider_rejected PARAM_ERROR 参数错误"},
		{403, "207", "Param is wrong", "422 provider_rejected 207 Param is wrong"},
		{404, "40004", "order not found", "422 provider_rejected 40004 order not found"},
		{409, "X", "", "422 provider_rejected X "},
		{499, "X", "m", "422 provider_rejected X m"},
		// the credentials, the rate, a redirect, the provider's own trouble
		{401, "207", "m", "502 upstream_error 207 m"},
		{429, "FREQUENCY_LIMITED", "m", "502 upstream_error FREQUENCY_LIMITED m"},
		{301, "207", "m", "502 upstream_error 207 m"},
		{302, "207", "m", "502 upstream_error 207 m"},
		{399, "207", "m", "502 upstream_error 207 m"},
		{500, "SYSTEM_ERROR", "系统错误", "502 upstream_error SYSTEM_ERROR 系统错误"},
		{503, "50300", "busy", "502 upstream_error 50300 busy"},
		// no business code: nothing refused
		{400, "", "m", "502 upstream_error  m"},
		{400, "0", "ok", "502 upstream_error 0 ok"},
		{404, "", "", "502 upstream_error  "},
	}
	for _, tt := range tests {
		e := AnswerNotOK(tt.status, tt.code, tt.message)
		if got := strings.Join([]string{strconv.Itoa(e.Status), e.Code, e.ProviderCode, e.ProviderMessage}, " "); got != tt.want {
			t.Errorf("AnswerNotOK(%d, %q, %q) = %s, want %s", tt.status, tt.code, tt.message, got, tt.want)
		}
		if want := "the provider answered HTTP " + strconv.Itoa(tt.status); e.Code == CodeUpstreamError && e.Message != want {
			t.Errorf("AnswerNotOK(%d, …) message %q, want %q", tt.status, e.Message, want)
		}
	}
}

// TestWithProviderRequestID: a provider's request id (wechat_v3's
// Request-ID header, for the log line: README Observability) is kept when it
// is 1 to 128 bytes of printable ASCII without spaces, and e is never
// changed: the copy carries it.
func TestWithProviderRequestID(t *testing.T) {
	for _, tt := range []struct {
		id, want string
	}{
		{"08F0E4E4A30610A60818A8B3A9A60620C4A40428B8A801-0", "08F0E4E4A30610A60818A8B3A9A60620C4A40428B8A801-0"},
		{strings.Repeat("A", 128), strings.Repeat("A", 128)},
		{strings.Repeat("A", 129), ""},
		{"", ""},
		{"id with space", ""},
		{"id\nforged=1", ""},
		{"id\x00", ""},
		{"编号", ""},
	} {
		e := Rejected("ORDER_NOT_EXIST", "订单不存在")
		got := e.WithProviderRequestID(tt.id)
		if got.ProviderRequestID != tt.want || e.ProviderRequestID != "" || got.ProviderCode != "ORDER_NOT_EXIST" || got.Status != 422 {
			t.Errorf("%q: %+v (from %+v)", tt.id, got, e)
		}
		if strings.Contains(string(got.JSON()), "08F0E4") {
			t.Errorf("%q: the merchant's answer names the request id: %s", tt.id, got.JSON())
		}
	}
}

// Error() names the field once: Invalid's message starts with it, and
// Error() wrote it before the message again ("invalid_request: amount
// amount is required").
func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{Invalid("amount", "is required"), "invalid_request: amount is required"},
		{Rejected("ORDERPAID", "该订单已支付"), "provider_rejected: the provider rejected the request"},
		{Upstream("boom"), "upstream_error: boom"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// A name the caller sent, echoed by an unknown operation's or an unknown
// member's error (cut at 64 bytes), goes when the whole name holds a
// secret, as is or URL-encoded, also when the cut would show only its
// start; the error then names no field.
func TestErrorWithoutSecretsEchoedName(t *testing.T) {
	const secret = "s3cr3t+/=0123456789abcdef0123456"
	secrets := []string{"", secret}
	const (
		opGone     = "the path's last element holds a configured secret: it is no operation of wechat_v2"
		memberGone = "a member whose name holds a configured secret is not a known field"
	)
	tests := []struct {
		name               string
		err                *Error
		wantMsg, wantField string
	}{
		{"operation", UnknownOperation("wechat_v2", secret), opGone, ""},
		{"operation holding the URL-encoded secret", UnknownOperation("wechat_v2", "x"+url.QueryEscape(secret)), opGone, ""},
		{"operation without a secret", UnknownOperation("wechat_v2", "refund_status"), `"refund_status" is no operation of wechat_v2`, ""},
		// The secret's '/' makes the path's last element its end only.
		{"path whose last element is the secret's end", UnknownOperationInPath("wechat_v2", "/wechat/"+secret), opGone, ""},
		{"path without a secret", UnknownOperationInPath("wechat_v2", "/wechat/refund_status"), `"refund_status" is no operation of wechat_v2`, ""},
		{"member", unknownMember("key=" + secret), memberGone, ""},
		{"member whose cut shows the secret's start", unknownMember(strings.Repeat("k", 60) + secret), memberGone, ""},
		{"member without a secret", unknownMember("bogus"), "bogus is not a known field", "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := *tt.err
			got := tt.err.WithoutSecrets(secrets)
			if got.Message != tt.wantMsg || got.Field != tt.wantField {
				t.Fatalf("message %q field %q, want %q %q", got.Message, got.Field, tt.wantMsg, tt.wantField)
			}
			if got.Status != before.Status || got.Code != before.Code {
				t.Fatalf("status or code changed: %+v", got)
			}
			if *tt.err != before {
				t.Fatal("the original error was changed")
			}
		})
	}
}
