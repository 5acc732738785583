package transform

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// minShownSecret is how many consecutive bytes of a secret (or of its
// URL-encoded form) FuzzErrorWithoutSecrets allows in an answer: fewer than
// this tell next to nothing about a key; more are the start of one.
const minShownSecret = 8

// FuzzErrorWithoutSecrets: an upstream's code or message quoting a
// configured secret, as is or URL-encoded (README "Secrets"), anywhere in a
// text of any length, never reaches the answer whole, nor its first
// minShownSecret bytes or more when the 256-byte cut falls inside it; a
// short text that holds neither form is kept as it came.
func FuzzErrorWithoutSecrets(f *testing.F) {
	const appSecret = "0123456789abcdef0123456789abcdef"
	f.Add(appSecret, "error page: GET /sns/jscode2session?appid=wx1&secret=", "&js_code=c", false, false)
	f.Add(appSecret, strings.Repeat("x", MaxProviderText-12), "&js_code=c", false, false)
	f.Add("s3cr3t+/=0123456789", strings.Repeat("x", MaxProviderText-20), "", true, false)
	f.Add("s3cr3t+/=0123456789", strings.Repeat("é", 126), "x", true, true)
	f.Add("密钥密钥密钥", strings.Repeat("x", MaxProviderText-10), "", false, false)
	f.Add("client secret", "", "", true, true)
	f.Add("ABCDEFGHIJ\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80K", strings.Repeat("x", 240), "", false, false)
	f.Fuzz(func(t *testing.T, secret, before, after string, encoded, inCode bool) {
		if len(secret) < minShownSecret {
			return // too short to be a key; and any text would "hold" it
		}
		planted := secret
		if encoded {
			planted = url.QueryEscape(secret)
		}
		text := before + planted + after
		code, msg := "40029", text
		if inCode {
			code, msg = text, "invalid code"
		}
		e := UpstreamCode("the provider reported an error", code, msg)
		got := e.WithoutSecrets([]string{"", "an-unrelated-key", secret})
		shown := got.ProviderMessage
		if inCode {
			shown = got.ProviderCode
		}
		for _, form := range []string{secret, url.QueryEscape(secret)} {
			if strings.Contains(got.ProviderCode, form) || strings.Contains(got.ProviderMessage, form) {
				t.Fatalf("the answer holds the secret %q: %+v", form, got)
			}
		}
		// shown is a prefix of text: how much of the planted secret it holds.
		if !strings.HasPrefix(text, shown) {
			t.Fatalf("shown %q is not the start of the provider's text %q", shown, text)
		}
		if overlap := len(shown) - len(before); overlap >= minShownSecret {
			t.Fatalf("the answer shows %d bytes of the secret (%q) after the cut: %q", overlap, planted[:min(overlap, len(planted))], shown)
		}
		// Nothing else changes, and a short text without the secret stays.
		other := got.ProviderCode
		if inCode {
			other = got.ProviderMessage
		}
		if other != map[bool]string{false: "40029", true: "invalid code"}[inCode] {
			t.Fatalf("the other provider text changed: %+v", got)
		}
		if got.Status != e.Status || got.Code != e.Code || got.Message != e.Message {
			t.Fatalf("status, code or message changed: %+v", got)
		}
		if len(text) <= MaxProviderText-4 {
			if short := before + after; !strings.Contains(short, secret) && !strings.Contains(short, url.QueryEscape(secret)) {
				e := UpstreamCode("m", "1", short)
				if kept := e.WithoutSecrets([]string{secret}); kept.ProviderMessage != short {
					t.Fatalf("a short text without the secret was dropped: %q", short)
				}
			}
		}
	})
}

// FuzzClip: Clip's result is a prefix of its input of at most max bytes,
// the whole input when it fits; a cut one is at least max-3 bytes (what
// holdsSecret relies on to tell a cut text), and valid UTF-8 stays valid
// (no half character is left at its end).
func FuzzClip(f *testing.F) {
	f.Add("订单已支付", uint16(4))
	f.Add(strings.Repeat("\x80", 300), uint16(256))
	f.Add("ab\xf0\x9f\x98\x80cd", uint16(5))
	f.Fuzz(func(t *testing.T, s string, max16 uint16) {
		max := int(max16 % 1024)
		got := Clip(s, max)
		switch {
		case !strings.HasPrefix(s, got) || len(got) > max && len(s) > max:
			t.Fatalf("Clip(%q, %d) = %q", s, max, got)
		case len(s) <= max && got != s:
			t.Fatalf("Clip(%q, %d) = %q, which fits", s, max, got)
		case len(s) > max && len(got) < max-(utf8.UTFMax-1):
			t.Fatalf("Clip(%q, %d) cut %d bytes more than a character", s, max, max-len(got))
		case utf8.ValidString(s) && !utf8.ValidString(got):
			t.Fatalf("Clip(%q, %d) = %q, half a character", s, max, got)
		}
	})
}
