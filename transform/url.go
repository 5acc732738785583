package transform

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxFormFields bounds the fields of a notification sent as a form
// (Latipay's eight, 2C2P's paymentResponse), counted before it is parsed:
// ParseForm's and a multipart form's.
const MaxFormFields = 64

// ErrFormFields is ParseForm's error for a form of more than MaxFormFields
// fields.
var ErrFormFields = errors.New("transform: the form has more fields than a notification has")

// ParseForm is url.ParseQuery for a notification's form, refusing one of
// more than MaxFormFields '&'-separated fields (empty ones included)
// before anything is parsed: a 64 KiB form of 9000 fields cost 3 ms and
// 2 MB to read (a map and a string per field, then a sort), before any
// signature was checked.
func ParseForm(body string) (url.Values, error) {
	if strings.Count(body, "&") >= MaxFormFields {
		return nil, ErrFormFields
	}
	return url.ParseQuery(body)
}

// AbsoluteURL parses s and tells whether it is an absolute http or https
// URL with a host: the rule for every notify_url and token_url. Providers
// add their own limits on the parsed URL (WeChat: no query string). An
// authority of a port or user info alone ("http://:80/") names no host,
// and a port, when given, is one a TCP connection can reach (1 to 65535:
// url.Parse takes any digits, so :99999 would pass and never be delivered).
func AbsoluteURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, false
		}
	}
	return u, true
}

// NoRedirect is the CheckRedirect of every http.Client the plugin makes
// itself (the CBTIS token fetch, the WeChat Pay v3 certificate download,
// the sandbox's notifications): a redirect is the answer, never followed
// with a request signed or meant for the URL configured.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
