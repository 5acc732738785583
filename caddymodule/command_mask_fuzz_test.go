package caddymodule

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
)

// percentEncodings are the ways a form or URL may carry a secret, written
// out apart from maskSecrets: net/url's query and path escaping, curl
// --data-urlencode's (every byte but RFC 3986's unreserved ones, a space as
// %20), JavaScript's encodeURIComponent (which leaves !'()* alone), and
// lower-case hex digits (RFC 3986 §2.1 makes them equivalent).
func percentEncodings(s string) []string {
	escapeBut := func(keep string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
				b.WriteByte(c)
				continue
			}
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
		return b.String()
	}
	lower := func(e string) string {
		b := []byte(e)
		for i := 0; i+2 < len(b); i++ {
			if b[i] == '%' {
				b[i+1], b[i+2] = bytes.ToLower(b[i+1 : i+2])[0], bytes.ToLower(b[i+2 : i+3])[0]
			}
		}
		return string(b)
	}
	return []string{url.QueryEscape(s), url.PathEscape(s), escapeBut("-._~"), escapeBut("-._~!'()*"), lower(url.QueryEscape(s))}
}

// FuzzCommandOutputMasksSecrets: a line of `caddy minipay verify` or `sign`
// never shows a configured secret, as is or percent-encoded in any of the
// ways clients write it, wherever it sits in a value (README caddy minipay
// verify: "No secret is ever printed"). A secret holding '*' or '\' is left
// out: the mask is made of '*', and printable writes '\' escapes, so such a
// secret could appear beside them without having been in the value.
func FuzzCommandOutputMasksSecrets(f *testing.F) {
	f.Add("memo=", "&x=1", "k3y/with+special=chars&more", "8934e7d15453e97507ef794cf7b0519d", uint8(0))
	f.Add("", "", "pass word~!", "other", uint8(2))
	f.Add("a", "b", "k3y/x", "k3y", uint8(4))
	f.Add("%", "%25", "50%off", "x", uint8(1))
	f.Fuzz(func(t *testing.T, before, after, secret, other string, which uint8) {
		if secret == "" || strings.ContainsAny(secret, `*\`) {
			return
		}
		encodings := append([]string{secret}, percentEncodings(secret)...)
		value := before + encodings[int(which)%len(encodings)] + after
		if printable(value) != value { // escapes are printable's concern, not the mask's
			return
		}
		var out bytes.Buffer
		lines{&out, []string{other, secret}}.line("string_to_sign", value)
		printed := strings.TrimSuffix(strings.TrimPrefix(out.String(), "string_to_sign: "), "\n")
		for _, e := range encodings {
			if strings.Contains(printed, e) {
				t.Fatalf("secret %q printed as %q in %q (value %q)", secret, e, printed, value)
			}
		}
	})
}
