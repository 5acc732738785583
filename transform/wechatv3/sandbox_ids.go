package wechatv3

import (
	"net/http"
	"strconv"
	"strings"
)

// idRule is one of WeChat's v3 rules for a merchant's number
// (docs/providers/wechat_v3.md "Ids"): min to max characters of A-Za-z0-9
// and the symbols in extra.
type idRule struct {
	field, label string // the JSON name and WeChat's name for it
	min, max     int
	extra        string
	pattern      string // the rule as WeChat's message writes it
}

var (
	// WeChat's JSAPI pages disagree on '|' (the 2025 pages list it, the
	// earlier ones and the SDKs' copies of them do not): the sandbox refuses
	// it, so an id it takes is one WeChat takes under either reading.
	outTradeNoRule  = idRule{"out_trade_no", "商户订单号", 6, 32, "_-*", `^[0-9a-zA-Z_\-\*]{6,32}$`}
	outRefundNoRule = idRule{"out_refund_no", "商户退款单号", 1, 64, "_-|*@", `^[0-9a-zA-Z_\-|\*@]{1,64}$`}
)

// check returns WeChat's 400 PARAM_ERROR for an id that breaks the rule, or
// nil. location is where the id came from, "body" or "path", as in WeChat's
// detail and message.
func (r idRule) check(location, id string) *v3Error {
	why := ""
	switch {
	case len(id) < r.min:
		why = "字节数 " + strconv.Itoa(len(id)) + "，小于最小值 " + strconv.Itoa(r.min)
	case len(id) > r.max:
		why = "字节数 " + strconv.Itoa(len(id)) + "，大于最大值 " + strconv.Itoa(r.max)
	case strings.IndexFunc(id, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(r.extra, c))
	}) >= 0:
		why = "字符串必须匹配正则表达式“" + r.pattern + "”"
	default:
		return nil
	}
	e := fail(http.StatusBadRequest, "PARAM_ERROR", "输入源“/"+location+"/"+r.field+"”映射到值字段“"+r.label+"”字符串规则校验失败，"+why)
	e.Detail = &v3ErrorDetail{Location: location, Value: id}
	return e
}
