package transform

import "net/url"

// AbsoluteURL parses s and tells whether it is an absolute http or https
// URL with a host: the rule for every notify_url and token_url. Providers
// add their own limits on the parsed URL (WeChat: no query string). An
// authority of a port or user info alone ("http://:80/") names no host.
func AbsoluteURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, false
	}
	return u, true
}
