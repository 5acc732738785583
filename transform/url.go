package transform

import (
	"net/url"
	"strconv"
)

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
