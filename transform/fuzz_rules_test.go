package transform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bojanz/currency"
)

// FuzzConfigRules: a value a rule accepts holds nothing the rule exists to
// keep out (README "Provider fields"), read by other means than the rule's
// own loop: an id only [A-Za-z0-9_-] within its length, a serial only hex,
// a WeChat key printable ASCII without spaces, a URL no control character,
// no user info and no fragment as net/url reads it, a path an absolute
// path without query or fragment that net/url reads as that path; and a
// problem never quotes the value.
func FuzzConfigRules(f *testing.F) {
	for _, s := range []string{"1900000109", "wx8888888888888888", "../x", "a/b", "PUB_KEY_ID_01", "3775B6A45ACD",
		"https://u:p@h/x", "https://h/x#f", "https://h/x?a=%23", "http://[::1]:8080/n", "https://h\x00/x", "/SecurePayment/Payment.aspx",
		"/a%2", "/a%2f", "//h/p", "/p?q", "", "\x7f", "é", "https://u@[::1", "https://h/%zz", "ht tp://u:p@h/"} {
		f.Add(uint8(0), s)
	}
	rules := []struct {
		name string
		rule Rule
	}{{"text", TextRule}, {"wechat_id", WeChatIDRule}, {"id", IDRule}, {"hex_serial", HexSerialRule},
		{"ascii_key", ASCIIKeyRule}, {"url", URLRule}, {"path", PathRule}}
	idChars := regexp.MustCompile(`^[A-Za-z0-9_-]*$`)
	hexChars := regexp.MustCompile(`^[0-9A-Fa-f]*$`)
	// The rules' own words, from values that are none of the fuzzer's: a
	// value found in them ("PUB_" in hex_serial's hint about PUB_KEY_ID_…)
	// is not quoted.
	var words []string
	for _, r := range rules {
		for _, v := range []string{"", "\x00", "\x7f", "é", " ", "a b", "%zz", strings.Repeat("a", 300), "PUB_KEY_ID_0", "http://", "https://u:p@h/#f", "/p?q#f"} {
			words = append(words, r.rule(v))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, v string) {
		r := rules[int(which)%len(rules)]
		problem := r.rule(v)
		if problem != "" {
			ownWords := slices.ContainsFunc(words, func(w string) bool { return strings.Contains(w, v) })
			if len(v) >= 4 && strings.Contains(problem, v) && !ownWords {
				t.Fatalf("%s: the problem %q quotes the value %q", r.name, problem, v)
			}
			return
		}
		if strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
			t.Fatalf("%s accepts a control character: %q", r.name, v)
		}
		switch r.name {
		case "wechat_id", "id":
			max := map[string]int{"wechat_id": 32, "id": 64}[r.name]
			if !idChars.MatchString(v) || utf8.RuneCountInString(v) > max {
				t.Fatalf("%s accepts %q", r.name, v)
			}
		case "hex_serial":
			if !hexChars.MatchString(v) || len(v) > 64 {
				t.Fatalf("%s accepts %q", r.name, v)
			}
		case "ascii_key":
			if strings.ContainsFunc(v, func(c rune) bool { return c <= ' ' || c > '~' }) {
				t.Fatalf("%s accepts %q", r.name, v)
			}
		case "url":
			if strings.Contains(v, "#") {
				t.Fatalf("url accepts a fragment: %q", v)
			}
			// Whatever reads the URL (net/url here, as the providers'
			// clients do): no user info in it.
			if u, err := url.Parse(v); err == nil && u.User != nil {
				t.Fatalf("url accepts user info: %q", v)
			}
			if u, err := url.ParseRequestURI(v); err == nil && u.User != nil {
				t.Fatalf("url accepts user info: %q", v)
			}
		case "path":
			u, err := url.Parse(v)
			if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
				u.ForceQuery || !strings.HasPrefix(v, "/") || u.EscapedPath() != v {
				t.Fatalf("path accepts %q, which net/url reads as %#v (%v)", v, u, err)
			}
		}
	})
}

// FuzzLengthPrefixed: LengthPrefixed is injective (two lists of parts join
// the same only when they are the same list) and a reader that takes each
// 4-byte big-endian length in turn gets the parts back.
func FuzzLengthPrefixed(f *testing.F) {
	f.Add([]byte("abc"), []byte{2}, []byte("abc"), []byte{1})
	f.Add([]byte("\x00\x00\x00\x01a"), []byte{}, []byte("a"), []byte{})
	f.Add([]byte(""), []byte{0}, []byte(""), []byte{})
	f.Add([]byte("https://cbtis.example/auth39172931"), []byte{27}, []byte("https://cbtis.example/auth39172931"), []byte{26})
	parts := func(data, cuts []byte) []string {
		var p []string
		for _, c := range cuts {
			n := min(int(c), len(data))
			p = append(p, string(data[:n]))
			data = data[n:]
		}
		return append(p, string(data))
	}
	f.Fuzz(func(t *testing.T, a, cutsA, b, cutsB []byte) {
		pa, pb := parts(a, cutsA), parts(b, cutsB)
		ja, jb := LengthPrefixed(pa...), LengthPrefixed(pb...)
		if bytes.Equal(ja, jb) != slices.Equal(pa, pb) {
			t.Fatalf("%q joins to %x, %q to %x", pa, ja, pb, jb)
		}
		var back []string
		for rest := ja; len(rest) > 0; {
			if len(rest) < 4 {
				t.Fatalf("%x ends inside a length", ja)
			}
			n := binary.BigEndian.Uint32(rest)
			if uint64(len(rest)-4) < uint64(n) {
				t.Fatalf("%x: a length past the end", ja)
			}
			back = append(back, string(rest[4:4+n]))
			rest = rest[4+n:]
		}
		if !slices.Equal(back, pa) {
			t.Fatalf("%q reads back as %q", pa, back)
		}
	})
}

// FuzzMoneyFromDecimal: an amount MoneyFromDecimal reads is the decimal
// text's exact value (math/big's reading) in the currency's minor units,
// within maxMinor, and only of ParseMoney's grammar (digits, one dot
// followed by digits); a known currency's amount of that grammar, without
// leading zeros, whose value has no more decimals than the currency and
// fits twelve digits, is read; zero reads in the currencies any other
// amount does, and the amount's String reads back the same.
func FuzzMoneyFromDecimal(f *testing.F) {
	for _, s := range []string{"12.30", "0", "0.00", "12.", "0.", ".5", "105.000", "1e3", "-1", "+1", "00", "01.5", "1/2",
		"999999999.99", "9999999999.99", "0x1", "1.0000000000000000000000001", "1_000"} {
		for _, c := range []string{"CNY", "JPY", "BHD", "cny", "XXX", "", "ZZZ"} {
			f.Add(s, c)
		}
	}
	grammar := regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	f.Fuzz(func(t *testing.T, s, code string) {
		m, ok := MoneyFromDecimal(s, code)
		_, codeErr := ParseMoney("1", code, "amount", "currency")
		digits, _ := currency.GetDigits(code)
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
		value, isNumber := new(big.Rat).SetString(s)
		if !ok {
			if m != (Money{}) {
				t.Fatalf("%q %q refused with %+v", s, code, m)
			}
			whole, _, _ := strings.Cut(s, ".")
			if grammar.MatchString(s) && codeErr == nil && (whole == "0" || whole[0] != '0') && isNumber {
				minor := new(big.Rat).Mul(value, scale)
				if minor.IsInt() && minor.Num().Cmp(big.NewInt(maxMinor)) <= 0 && len(whole)+int(digits) <= 12 {
					t.Fatalf("%q %s refused: %s minor units", s, code, minor.RatString())
				}
			}
			return
		}
		if codeErr != nil {
			t.Fatalf("%q read in %q, a currency ParseMoney refuses (%v)", s, code, codeErr)
		}
		if !grammar.MatchString(s) || !isNumber {
			t.Fatalf("%q read as %+v outside the grammar", s, m)
		}
		if m.Currency != code || m.Digits != uint8(digits) || m.Minor < 0 || m.Minor > maxMinor {
			t.Fatalf("%q %s read as %+v", s, code, m)
		}
		if want := new(big.Rat).Mul(value, scale); !want.IsInt() || want.Num().Int64() != m.Minor {
			t.Fatalf("%q %s read as %d minor units, its value is %s", s, code, m.Minor, want.RatString())
		}
		if back, ok := MoneyFromDecimal(m.String(), code); !ok || back != m {
			t.Fatalf("%+v written %q reads back as %+v (%v)", m, m.String(), back, ok)
		}
	})
}

// FuzzAnswerNotOK: README Errors' rule for a non-2xx answer with a code: a
// 4xx other than 401 and 429 carrying a code other than "" and "0" is the
// provider's refusal (422 provider_rejected), anything else a 502
// upstream_error; both keep the code and message (cut at MaxProviderText,
// at most), and the merchant's message quotes neither.
func FuzzAnswerNotOK(f *testing.F) {
	for _, st := range []int{301, 400, 401, 403, 404, 429, 499, 500, 503, 200, 0, -1} {
		f.Add(st, "PARAM_ERROR", "参数错误")
		f.Add(st, "0", "ok")
		f.Add(st, "", "")
	}
	f.Fuzz(func(t *testing.T, status int, code, message string) {
		e := AnswerNotOK(status, code, message)
		refusal := status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusTooManyRequests &&
			code != "" && code != "0"
		switch {
		case refusal && (e.Status != http.StatusUnprocessableEntity || e.Code != CodeProviderRejected):
			t.Fatalf("HTTP %d %q is %d %s, want the refusal", status, code, e.Status, e.Code)
		case !refusal && (e.Status != http.StatusBadGateway || e.Code != CodeUpstreamError):
			t.Fatalf("HTTP %d %q is %d %s, want 502 upstream_error", status, code, e.Status, e.Code)
		}
		for _, kept := range [][2]string{{code, e.ProviderCode}, {message, e.ProviderMessage}} {
			if !strings.HasPrefix(kept[0], kept[1]) || len(kept[1]) > MaxProviderText ||
				len(kept[0]) <= MaxProviderText && kept[1] != kept[0] {
				t.Fatalf("%q kept as %q", kept[0], kept[1])
			}
		}
		for _, s := range []string{code, message} {
			if len(s) >= 4 && strings.Contains(e.Message, s) {
				t.Fatalf("the message %q quotes %q", e.Message, s)
			}
		}
	})
}

// FuzzSignatureHeader: SignatureHeader is the header's one line as
// http.Header.Get reads it, "" when absent, and ErrRepeatedHeader (an
// ErrMalformed) whenever the name, in any case, is on two lines or more.
func FuzzSignatureHeader(f *testing.F) {
	f.Add("Signature", "Signature: a\nsignature: b")
	f.Add("Wechatpay-Signature", "Wechatpay-Signature: \nX: y")
	f.Add("Signature", "X-Signature: a")
	f.Fuzz(func(t *testing.T, name, lines string) {
		h := http.Header{}
		n := 0
		for _, l := range strings.Split(lines, "\n") {
			k, v, _ := strings.Cut(l, ":")
			h.Add(k, strings.TrimSpace(v))
			if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(name) {
				n++
			}
		}
		got, err := SignatureHeader(h, name)
		switch {
		case n > 1 && (!errors.Is(err, ErrRepeatedHeader) || !errors.Is(err, ErrMalformed) || got != ""):
			t.Fatalf("%d lines of %q: %q, %v", n, name, got, err)
		case n <= 1 && (err != nil || got != h.Get(name)):
			t.Fatalf("%d line of %q: %q, %v, want %q", n, name, got, err, h.Get(name))
		}
	})
}

// FuzzXMLByteOrderMark: a document read with a UTF-8 byte order mark before
// it (XML 1.0 §4.3.3, README XML) reads exactly as without, flat and
// nested; a second mark, or one after whitespace, is text outside the
// root, refused.
func FuzzXMLByteOrderMark(f *testing.F) {
	for _, s := range flatXMLSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><xml><a>1</a></xml>`))
	f.Add([]byte(" <xml><a>1</a></xml>"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		const bom = "\uFEFF"
		if bytes.HasPrefix(doc, []byte(bom)) {
			doc = doc[len(bom):] // the seeds with a mark: the document after it
		}
		root, p, err := ParseFlatXML(doc)
		rootB, pB, errB := ParseFlatXML(append([]byte(bom), doc...))
		if (err == nil) != (errB == nil) || root != rootB || !slices.Equal(p, pB) {
			t.Fatalf("flat: %q reads as %q %q %v, with a mark before it %q %q %v", doc, root, p, err, rootB, pB, errB)
		}
		nroot, np, nerr := ParseNestedXML(doc, 4)
		nrootB, npB, nerrB := ParseNestedXML(append([]byte(bom), doc...), 4)
		if (nerr == nil) != (nerrB == nil) || nroot != nrootB || !slices.Equal(np, npB) {
			t.Fatalf("nested: %q reads as %q %q %v, with a mark before it %q %q %v", doc, nroot, np, nerr, nrootB, npB, nerrB)
		}
		// A mark anywhere else before the root is text outside it, which
		// XML 1.0 §2.1 forbids: after a first mark, or after whitespace.
		for _, prefix := range []string{bom + bom, " " + bom, "\r\n" + bom} {
			if root, _, err := ParseFlatXML(append([]byte(prefix), doc...)); err == nil {
				t.Fatalf("flat: %q after %q read as %q", doc, prefix, root)
			}
			if root, _, err := ParseNestedXML(append([]byte(prefix), doc...), 4); err == nil {
				t.Fatalf("nested: %q after %q read as %q", doc, prefix, root)
			}
		}
	})
}
