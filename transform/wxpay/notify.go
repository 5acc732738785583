package wxpay

import (
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
)

// maxNotifyURL is WeChat's length limit of a notify_url, v2 and v3 alike
// (README Merchant API: "at most 256 bytes (WeChat's limit, the narrowest)").
const maxNotifyURL = 256

// ValidNotifyURL is WeChat's rule for a notify_url, v2 and v3 alike: an
// absolute http(s) URL of at most 256 bytes without a query string (WeChat
// appends none and refuses one).
func ValidNotifyURL(s string) bool {
	if len(s) > maxNotifyURL {
		return false
	}
	u, ok := transform.AbsoluteURL(s)
	return ok && u.RawQuery == "" && !u.ForceQuery
}

// NotifyURLRule is the rule of wechat_v2's and wechat_v3's configured
// notify_url: transform.NotifyURLRule, and no query string, which WeChat
// refuses (README Provider fields).
func NotifyURLRule(v string) string {
	if problem := transform.NotifyURLRule(v); problem != "" {
		return problem
	}
	if !ValidNotifyURL(v) {
		return "must be an absolute http(s) URL without a query string"
	}
	return ""
}

// ValidRefundReason is WeChat's limit of a refund's reason (v2 refund_desc,
// v3 reason), 80 characters (README Merchant API: "WeChat itself refuses
// more than 80 characters"), which the sandboxes hold to as WeChat does.
func ValidRefundReason(s string) bool { return utf8.RuneCountInString(s) <= 80 }
