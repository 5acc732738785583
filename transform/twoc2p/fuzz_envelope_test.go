package twoc2p

import (
	"bytes"
	"encoding/base64"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// envelopeContentTypes are the labels a body may come with: none, a form's
// (curl -d), text, and multipart with the test boundary (curl -F).
var envelopeContentTypes = []string{"", "application/x-www-form-urlencoded", "text/plain", multipartHeader.Get("Content-Type")}

// decodedEnvelope is the envelope bytes an EnvelopeText answer stands for,
// decoded by the standard library (line breaks in base64 are ignored).
func decodedEnvelope(text []byte) ([]byte, bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(text)))
	return raw, err == nil
}

// curlEscape percent-encodes everything but RFC 3986's unreserved
// characters, as curl --data-urlencode writes a value.
func curlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
	}
	return b.String()
}

// FuzzEnvelopeTextOneReading: a body is never read two ways. Whatever the
// body, every Content-Type under which EnvelopeText finds an envelope finds
// the same one (the same bytes once base64-decoded).
func FuzzEnvelopeTextOneReading(f *testing.F) {
	f.Add([]byte(demoApproved))
	f.Add(form(FieldResponse, demoApproved))
	f.Add([]byte(FieldResponse + "=" + demoApproved))
	f.Add([]byte(url.QueryEscape(demoApproved)))
	f.Add(multipartForm(FieldResponse, demoApproved))
	f.Add(multipartForm("a", "1", FieldResponse, demoApproved))
	f.Add([]byte(FieldResponse + "=" + demoApproved + "&" + FieldResponse + "=" + demoDeclined))
	f.Add([]byte(wrap76(demoApproved) + "\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var first []byte
		firstType := ""
		for _, ct := range envelopeContentTypes {
			text, err := EnvelopeText(body, ct, FieldResponse)
			if err != nil {
				continue
			}
			env, ok := decodedEnvelope(text)
			if !ok || len(env) == 0 { // not base64 (a form's value may be anything): ParseEnvelope refuses it
				continue
			}
			if first == nil {
				first, firstType = env, ct
				continue
			}
			if !bytes.Equal(env, first) {
				t.Fatalf("%q reads as %q under %q and %q under %q", body, first, firstType, env, ct)
			}
		}
	})
}

// FuzzEnvelopeTextEncodings: an envelope's base64 text reads back as the
// same envelope whichever way a client sends it: bare (with line breaks, a
// final newline), URL-encoded as one token (net/url's or curl's escaping),
// as a form field beside another (encoded, or raw with '+' read as ' '), or
// as a multipart field written by mime/multipart, under the Content-Types
// clients give those bodies.
func FuzzEnvelopeTextEncodings(f *testing.F) {
	f.Add([]byte("<PaymentResponse><payload>x</payload></PaymentResponse>"), "a", "1")
	f.Add([]byte{0xfb, 0xff, 0xfe}, "version", "9.9")
	f.Add([]byte("??>>"), "x y", "a+b=c&d")
	f.Fuzz(func(t *testing.T, env []byte, otherName, otherValue string) {
		if len(env) == 0 || otherName == FieldResponse || otherName == "" {
			return
		}
		text := base64.StdEncoding.EncodeToString(env)
		const form, plain = "application/x-www-form-urlencoded", "text/plain"
		type sent struct {
			how, contentType string
			body             []byte
		}
		bodies := []sent{
			{"bare", "", []byte(text)},
			{"bare, curl -d", form, []byte(text)},
			{"bare, 76-character lines", plain, []byte(wrap76(text) + "\r\n")},
			{"bare, final newline", form, []byte(text + "\n")},
			{"one token, net/url", form, []byte(url.QueryEscape(text))},
			{"one token, curl --data-urlencode", form, []byte(curlEscape(text))},
			{"form", form, []byte(url.Values{FieldResponse: {text}, otherName: {otherValue}}.Encode())},
			{"form, value not encoded", form, []byte(FieldResponse + "=" + text + "&" + url.QueryEscape(otherName) + "=" + url.QueryEscape(otherValue))},
		}
		// A multipart body is read as UTF-8 text (a form 2C2P sends carries
		// base64 only), and a part's name is a header's text.
		if !strings.Contains(otherName+otherValue, testBoundary) && utf8.ValidString(otherName) && utf8.ValidString(otherValue) &&
			strings.IndexFunc(otherName, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' }) < 0 {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			if err := mw.SetBoundary(testBoundary); err != nil {
				t.Fatal(err)
			}
			if err := mw.WriteField(otherName, otherValue); err != nil {
				t.Fatal(err)
			}
			if err := mw.WriteField(FieldResponse, text); err != nil {
				t.Fatal(err)
			}
			if err := mw.Close(); err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, sent{"multipart", multipartHeader.Get("Content-Type"), b.Bytes()})
		}
		for _, s := range bodies {
			got, err := EnvelopeText(s.body, s.contentType, FieldResponse)
			if err != nil {
				t.Fatalf("%s: %q refused: %v", s.how, s.body, err)
			}
			if back, ok := decodedEnvelope(got); !ok || !bytes.Equal(back, env) {
				t.Fatalf("%s: %q read as %q", s.how, s.body, got)
			}
		}
	})
}
