package wxpay

import "github.com/minipay/caddy-minipay/transform"

// ValidNotifyURL is WeChat's rule for a notify_url, v2 and v3 alike: an
// absolute http(s) URL without a query string (WeChat appends none and
// refuses one).
func ValidNotifyURL(s string) bool {
	u, ok := transform.AbsoluteURL(s)
	return ok && u.RawQuery == "" && !u.ForceQuery
}
