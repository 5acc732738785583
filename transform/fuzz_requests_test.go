package transform

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README Merchant API's id rules, as regular expressions.
var (
	orderIDGrammar  = regexp.MustCompile(`\A[A-Za-z0-9_\-|*]{1,32}\z`)
	refundIDGrammar = regexp.MustCompile(`\A[A-Za-z0-9_\-|*@]{1,64}\z`)
)

// FuzzValidIDs: ValidOrderID and ValidRefundID accept exactly their
// grammar (README Merchant API: order_id 1–32 characters of A-Za-z0-9_-|*,
// refund_id 1–64 of A-Za-z0-9_-|*@), and a refusal is a 400 naming the field.
func FuzzValidIDs(f *testing.F) {
	for _, s := range []string{"O1", "DEMO-1001-R1", "refund@2026|1*a_b", strings.Repeat("x", 32), strings.Repeat("x", 33),
		strings.Repeat("r", 64) + "@", "", "a.b", "订单", "a\x00", "3f2c1a9e-7d4b-4c8e-9a1f-0b6d2e5c7a90"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		for _, rule := range []struct {
			name    string
			grammar *regexp.Regexp
			valid   func(string, string) error
		}{{"order_id", orderIDGrammar, ValidOrderID}, {"refund_id", refundIDGrammar, ValidRefundID}} {
			err := rule.valid(rule.name, id)
			if want := rule.grammar.MatchString(id); (err == nil) != want {
				t.Fatalf("%s %q: %v, the grammar says %v", rule.name, id, err, want)
			}
			if e, ok := err.(*Error); err != nil && (!ok || e.Status != 400 || e.Field != rule.name) {
				t.Fatalf("%s %q: %#v", rule.name, id, err)
			}
		}
	})
}

// notifyURLGrammar is RFC 3986 Appendix B's split of a URI reference, with
// its characters held to §2 (unreserved, reserved and '%'), '#' excluded:
// a notify_url has no fragment.
var notifyURLGrammar = regexp.MustCompile(`\A([A-Za-z][A-Za-z0-9+.\-]*):` +
	`//([A-Za-z0-9\-._~!$&'()*+,;=:@%\[\]]*)` + // authority
	`([A-Za-z0-9\-._~!$&'()*+,;=:@%/\[\]]*)` + // path
	`(\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?\[\]]*)?\z`)

// FuzzNotifyURL: whatever notify_url validNotifyURL accepts is at most 256
// bytes of RFC 3986's characters, an http or https scheme (in any case),
// "//" and an authority with a host name (not only a port), no user info, a
// port of 1 to 65535 if any, well-formed percent-encodings and no fragment; and NotifyURLRule
// holds a provider's configured one to the same rule.
func FuzzNotifyURL(f *testing.F) {
	for _, s := range []string{"https://pay.example.com/webhooks/wechat_v2", "http://127.0.0.1:8080/n?x=1", "HTTPS://[::1]:443/a",
		"http://:80/", "http://user@/", "http:///x", "http://h/%zz", "http://h/a#f", "http://h/a b", "ftp://h/", "http://h/" + strings.Repeat("a", 250),
		"http://u:p@h.example/p", "http://h:x/", "http://%41/", "http://h:65536/", "http://[::1]:0/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := validNotifyURL(s)
		if problem := NotifyURLRule(s); (problem == "") != (err == nil) {
			t.Fatalf("%q: request rule %v, configuration rule %q", s, err, problem)
		}
		if err != nil {
			return
		}
		m := notifyURLGrammar.FindStringSubmatch(s)
		if len(s) > 256 || m == nil || !strings.EqualFold(m[1], "http") && !strings.EqualFold(m[1], "https") {
			t.Fatalf("accepted %q", s)
		}
		for i := strings.IndexByte(s, '%'); i >= 0; i = strings.IndexByte(s, '%') {
			if _, err := strconv.ParseUint(s[i+1:min(i+3, len(s))], 16, 8); err != nil || i+3 > len(s) {
				t.Fatalf("accepted %q: a '%%' not followed by two hex digits", s)
			}
			s = s[i+3:]
		}
		authority := m[2]
		if strings.IndexByte(authority, '@') >= 0 {
			t.Fatalf("accepted %q: user info", m[0])
		}
		host, port := authority, ""
		if end := strings.LastIndexByte(host, ']'); strings.HasPrefix(host, "[") && end > 0 {
			host, port = host[:end+1], strings.TrimPrefix(host[end+1:], ":")
		} else {
			host, port, _ = strings.Cut(host, ":")
		}
		if host == "" {
			t.Fatalf("accepted %q: no host", m[0])
		}
		if n, err := strconv.Atoi(port); port != "" && (err != nil || n < 1 || n > 65535) {
			t.Fatalf("accepted %q: port %q", m[0], port)
		}
	})
}

// FuzzNotifyURLGenerated: an http(s) URL put together from a DNS name or an
// IPv4 address, an optional port, a path and query of RFC 3986's characters
// (percent-encoding the rest, as url.PathEscape and url.QueryEscape do) is
// accepted, up to 256 bytes.
func FuzzNotifyURLGenerated(f *testing.F) {
	f.Add(true, "pay.example.com", uint16(0), "webhooks/wechat_v2", "")
	f.Add(false, "10.0.0.1", uint16(8080), "n/订单 1", "a=1&b=<2>")
	f.Fuzz(func(t *testing.T, https bool, host string, port uint16, path, query string) {
		labels := strings.Split(host, ".")
		for _, l := range labels {
			if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
				return
			}
		}
		s := "http"
		if https {
			s = "https"
		}
		s += "://" + host
		if port != 0 {
			s += ":" + strconv.Itoa(int(port))
		}
		s += "/" + url.PathEscape(path)
		if query != "" {
			s += "?" + url.QueryEscape(query)
		}
		if err := validNotifyURL(s); (err == nil) != (len(s) <= 256) {
			t.Fatalf("%q (%d bytes): %v", s, len(s), err)
		}
	})
}

// rfc3339Grammar is RFC 3339 §5.6's date-time ("T" and "Z" in either case,
// §5.6's NOTE); the ranges of its numbers are checked apart.
var rfc3339Grammar = regexp.MustCompile(`\A(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))\z`)

// FuzzExpireAt: ParseRFC3339 accepts exactly RFC 3339's date-time whose
// numbers are in range (month 01–12, a day its month has in that year,
// hour 00–23, minute and second 00–59, offset hours 00–23 and minutes
// 00–59), leap seconds aside (Go's time has none, and a leap second is no
// expiry time anyone asks for), and reads the instant it names, fraction
// included (to the nanosecond).
func FuzzExpireAt(f *testing.F) {
	for _, s := range []string{"2026-11-22T10:00:00+08:00", "2026-11-22t02:00:00z", "2026-11-22T10:00:00.5+08:00", "2024-02-29T00:00:00Z",
		"2026-02-29T00:00:00Z", "2026-11-22T02:00:00-23:59", "2026-11-22T02:00:00+24:00", "2026-11-22T02:00:00,5Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.9999999999Z", "2026-11-22T24:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2026-11-22T02:00:00.Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseRFC3339(s)
		want, wantOK := refRFC3339(s)
		if ok != wantOK || ok && !got.Equal(want) {
			t.Fatalf("%q: ParseRFC3339 %v %v, RFC 3339 %v %v", s, got, ok, want, wantOK)
		}
	})
}

// refRFC3339 reads s by rfc3339Grammar and RFC 3339 §5.7's ranges (the
// Gregorian calendar's month lengths), leap seconds refused.
func refRFC3339(s string) (time.Time, bool) {
	m := rfc3339Grammar.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	year, month, day, hour, minute, second := n(1), n(2), n(3), n(4), n(5), n(6)
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days[1] = 29
	}
	if month < 1 || month > 12 || day < 1 || day > days[month-1] || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	nanos := 0
	if frac := m[7]; frac != "" {
		digits := (frac[1:] + "000000000")[:9]
		nanos, _ = strconv.Atoi(digits)
	}
	offset := 0
	if m[9] != "" {
		oh, om := n(10), n(11)
		if oh > 23 || om > 59 {
			return time.Time{}, false
		}
		if offset = (oh*60 + om) * 60; m[9] == "-" {
			offset = -offset
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, nanos, time.UTC).Add(-time.Duration(offset) * time.Second)
	return t, true
}
