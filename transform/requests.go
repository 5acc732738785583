package transform

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Operations of the merchant API; the last element of the request path.
const (
	OpPay         = "pay"
	OpQuery       = "query"
	OpClose       = "close"
	OpRefund      = "refund"
	OpRefundQuery = "refund_query"
	OpLogin       = "login"
)

// OperationNames lists every operation (caddymodule resolves each one's
// metric series once).
var OperationNames = []string{OpPay, OpQuery, OpClose, OpRefund, OpRefundQuery, OpLogin}

// PayRequest is the merchant's unsigned pay request.
type PayRequest struct {
	OrderID     string `json:"order_id"`
	Amount      string `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description"`
	OpenID      string `json:"openid"`
	ClientIP    string `json:"client_ip,omitempty"`
	NotifyURL   string `json:"notify_url,omitempty"`
	ExpireAt    string `json:"expire_at,omitempty"`
	Attach      string `json:"attach,omitempty"`
	PayerName   string `json:"payer_name,omitempty"`
	Country     string `json:"country,omitempty"`

	// Filled by Validate, which every builder (Client.Pay) relies on.
	Money  Money     `json:"-"`
	Expire time.Time `json:"-"`
	// CallerIP is the address of whoever called minipay (Operations.Prepare
	// takes it from the context, WithCallerIP, for a provider whose
	// CallerIPFallback says it reads it), the last fallback of a provider
	// that must send a client IP (wechat_v2's spbill_create_ip).
	CallerIP string `json:"-"`
}

type callerIPKey struct{}

// WithCallerIP returns ctx carrying the caller's IP address (minipay puts
// Caddy's client_ip there: the merchant backend's address, or the one its
// trusted_proxies name). Without Caddy nothing does: a wechat_v2 pay then
// needs client_ip in the configuration or the request.
func WithCallerIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, callerIPKey{}, ip)
}

// CallerIP is the caller's IP address WithCallerIP put in ctx, if it is a
// valid one, else "".
func CallerIP(ctx context.Context) string {
	if ip, ok := ctx.Value(callerIPKey{}).(string); ok && ValidIP(ip) {
		return ip
	}
	return ""
}

// Validate checks every field and fills Money and Expire.
func (p *PayRequest) Validate() error {
	if err := ValidOrderID("order_id", p.OrderID); err != nil {
		return err
	}
	m, err := ParseMoney(p.Amount, p.Currency, "amount", "currency")
	if err != nil {
		return err
	}
	p.Money = m
	if err := ValidText("description", p.Description, 127); err != nil {
		return err
	}
	if err := validOpenID(p.OpenID); err != nil {
		return err
	}
	if p.ExpireAt != "" {
		t, ok := ParseRFC3339(p.ExpireAt)
		if !ok {
			return Invalid("expire_at", "must be an RFC 3339 time")
		}
		// WeChat writes it in Beijing time with a four-digit year.
		if t.In(UTC8).Year() > 9999 {
			return Invalid("expire_at", "is too far in the future")
		}
		p.Expire = t
	}
	if p.ClientIP != "" && !ValidIP(p.ClientIP) {
		return Invalid("client_ip", "must be an IPv4 or IPv6 address")
	}
	if p.NotifyURL != "" {
		if err := validNotifyURL(p.NotifyURL); err != nil {
			return err
		}
	}
	if len(p.Attach) > 127 {
		return Invalid("attach", "is longer than 127 bytes")
	}
	if len(p.PayerName) > 255 {
		return Invalid("payer_name", "is longer than 255 bytes")
	}
	if p.Country != "" && !ValidCountry(p.Country) {
		return Invalid("country", "must be an ISO 3166-1 alpha-2 code such as \"SG\"")
	}
	return nil
}

// validOpenID checks the payer's openid (README "Merchant API"): 1–128
// bytes (WeChat's String(128)) of printable ASCII without spaces. WeChat
// issues it as such a token (letters, digits, '-' and '_' in every
// code2Session answer), and every provider passes it on to WeChat; a space,
// a line break or text is no openid, refused before a provider call.
func validOpenID(id string) error {
	if id == "" {
		return Invalid("openid", "is required")
	}
	if len(id) > 128 {
		return Invalid("openid", "is longer than 128 bytes")
	}
	if !visibleASCII(id) {
		return Invalid("openid", "must be printable ASCII without spaces (WeChat's openid)")
	}
	return nil
}

// RFC3339AsWritten is a provider's time passed on exactly as it wrote it
// (CBTIS's pay_time, wechat_v3's success_time: README Time zones), or ""
// for one in another form, left out rather than guessed: without a zone,
// one ParseRFC3339 refuses (a comma before the fraction, a one-digit hour,
// an offset of +24:00), one with the lower-case t or z that RFC 3339
// allows but many readers, Go's time.Parse among them, refuse, or no
// payment time (paymentTime).
func RFC3339AsWritten(s string) string {
	if t, ok := ParseRFC3339(s); !ok || !paymentTime(t) || strings.ContainsAny(s, "tz") {
		return ""
	}
	return s
}

// ParseRFC3339 reads an RFC 3339 date-time (§5.6): the merchant's expire_at,
// and a provider's time kept as it wrote it (RFC3339AsWritten). time.Parse is laxer:
// it takes a comma before the fraction and offsets such as +24:00 or
// +23:60, and refuses the lower-case t and z that §5.6 allows.
func ParseRFC3339(s string) (time.Time, bool) {
	if len(s) < 20 || !allDigits(s[0:4]) || s[4] != '-' || !allDigits(s[5:7]) || s[7] != '-' ||
		!allDigits(s[8:10]) || s[10] != 'T' && s[10] != 't' || !allDigits(s[11:13]) || s[13] != ':' ||
		!allDigits(s[14:16]) || s[16] != ':' || !allDigits(s[17:19]) {
		return time.Time{}, false
	}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return time.Time{}, false
		}
		i = j
	}
	switch zone := s[i:]; {
	case zone == "Z" || zone == "z":
	case len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && allDigits(zone[1:3]) && zone[3] == ':' &&
		allDigits(zone[4:6]) && zone[1:3] <= "23" && zone[4:6] <= "59":
	default:
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, strings.ToUpper(s)) // checks the ranges of the date and time
	return t, err == nil
}

// validNotifyURL is the request's notify_url rule for every provider (each
// adds its own: WeChat takes no query string): an absolute http(s) URL as
// it goes on the wire, of the characters RFC 3986 §2 allows (anything else
// is percent-encoded), without a fragment, which never reaches the server,
// without user info, and at most 256 bytes, WeChat's limit and the
// narrowest.
func validNotifyURL(s string) error {
	if problem := notifyURLProblem(s); problem != "" {
		return Invalid("notify_url", problem)
	}
	return nil
}

func notifyURLProblem(s string) string {
	if len(s) > 256 {
		return "is longer than 256 bytes"
	}
	for i := 0; i < len(s); i++ {
		// A '%' only begins a percent-encoding (RFC 3986 §2.1): url.Parse
		// checks none in the query.
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("#<>\"\\^`{|}", c) >= 0 ||
			c == '%' && (i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2])) {
			return "must be an absolute http(s) URL of RFC 3986 characters (percent-encode the others) without a fragment"
		}
	}
	u, ok := AbsoluteURL(s)
	if !ok {
		return "must be an absolute http(s) URL with a host (and a port of 1 to 65535, if any)"
	}
	// As a configured URL (URLRule): a user:password@ would be sent to the
	// provider, which documents none, and kept in its records.
	if u.User != nil {
		return "must not carry user info (user:password@)"
	}
	return ""
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// visibleASCII tells whether s is printable ASCII without spaces, '!' to
// '~': the text of a token WeChat issues (an openid, an API key).
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ValidHeaderName tells whether s is an HTTP header field name: an RFC 9110
// token (§5.1, §5.6.2), one or more of A-Z a-z 0-9 and !#$%&'*+-.^_`|~.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// ValidIP tells whether s is an IPv4 or IPv6 address in its usual text form,
// without a zone or port: what WeChat's spbill_create_ip and
// scene_info.payer_client_ip take.
func ValidIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// ValidCountry tells whether c is an ISO 3166-1 alpha-2 code's form: two
// upper-case letters.
func ValidCountry(c string) bool {
	return len(c) == 2 && 'A' <= c[0] && c[0] <= 'Z' && 'A' <= c[1] && c[1] <= 'Z'
}

// OrderRequest is the body of query and close.
type OrderRequest struct {
	OrderID string `json:"order_id"`
}

// Validate checks order_id.
func (o *OrderRequest) Validate() error { return ValidOrderID("order_id", o.OrderID) }

// RefundRequest is the merchant's refund request.
type RefundRequest struct {
	OrderID         string `json:"order_id"`
	RefundID        string `json:"refund_id"`
	Amount          string `json:"amount"`
	Currency        string `json:"currency"`
	TotalAmount     string `json:"total_amount,omitempty"`
	ProviderOrderID string `json:"provider_order_id,omitempty"`
	Reason          string `json:"reason,omitempty"`

	// Money and Total are filled by Validate, which every builder
	// (Client.Refund) relies on.
	Money Money `json:"-"`
	// Total is the order's whole amount; it is Money when total_amount is absent.
	Total Money `json:"-"`
}

// Validate checks every field and fills Money and Total.
func (r *RefundRequest) Validate() error {
	if err := ValidOrderID("order_id", r.OrderID); err != nil {
		return err
	}
	if err := ValidRefundID("refund_id", r.RefundID); err != nil {
		return err
	}
	m, err := ParseMoney(r.Amount, r.Currency, "amount", "currency")
	if err != nil {
		return err
	}
	r.Money, r.Total = m, m
	if r.TotalAmount != "" {
		t, err := ParseMoney(r.TotalAmount, r.Currency, "total_amount", "currency")
		if err != nil {
			return err
		}
		if t.Minor < m.Minor {
			return Invalid("amount", "is larger than total_amount")
		}
		r.Total = t
	}
	if len(r.Reason) > 80*3 {
		return Invalid("reason", "is too long")
	}
	return nil
}

// RefundQueryRequest is the body of refund_query: the merchant's refund id,
// and optionally the order it belongs to (then checked against the answer).
type RefundQueryRequest struct {
	RefundID string `json:"refund_id"`
	OrderID  string `json:"order_id,omitempty"`
}

// Validate checks refund_id and, when given, order_id.
func (r *RefundQueryRequest) Validate() error {
	if err := ValidRefundID("refund_id", r.RefundID); err != nil {
		return err
	}
	if r.OrderID != "" {
		return ValidOrderID("order_id", r.OrderID)
	}
	return nil
}

// LoginRequest is the body of login.
type LoginRequest struct {
	Code string `json:"code"`
}

// Validate checks code: 1–128 characters of printable ASCII (README
// "Merchant API"), OAuth 2.0's grammar for an authorization code (RFC 6749
// Appendix A.11, VSCHAR), which code2Session's grant_type names. Anything
// else is no wx.login code, so it is refused here instead of spending a call
// of the user's code2Session quota on WeChat's 40029.
func (l *LoginRequest) Validate() error {
	if l.Code == "" {
		return Invalid("code", "is required")
	}
	if len(l.Code) > 128 {
		return Invalid("code", "is too long")
	}
	for i := 0; i < len(l.Code); i++ {
		if c := l.Code[i]; c < 0x20 || c > 0x7e {
			return Invalid("code", "must be printable ASCII (a wx.login code)")
		}
	}
	return nil
}

// ValidOrderID checks the README's order id rule: 1–32 characters of A-Za-z0-9_-|*.
func ValidOrderID(field, id string) error {
	return validID(field, id, 32, "_-|*", "A-Z a-z 0-9 _ - | *")
}

// ValidRefundID checks the README's refund id rule, WeChat's out_refund_no
// (docs/providers/wechat_v2.md, wechat_v3.md): 1–64 characters of
// A-Za-z0-9_-|*@. It is longer than an order id and may hold '@', so a
// merchant's "<order_id>-R1" or a UUID fits.
func ValidRefundID(field, id string) error {
	return validID(field, id, 64, "_-|*@", "A-Z a-z 0-9 _ - | * @")
}

// validID checks an id of 1 to max characters of A-Za-z0-9 and the
// symbols in extra; allowed lists them all for the error.
func validID(field, id string, max int, extra, allowed string) error {
	if id == "" {
		return Invalid(field, "is required")
	}
	if len(id) > max {
		return Invalid(field, "is longer than "+strconv.Itoa(max)+" characters")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return Invalid(field, "may only contain "+allowed)
		}
	}
	return nil
}

// ValidText checks a required UTF-8 text of at most max bytes.
func ValidText(field, s string, max int) error {
	if s == "" {
		return Invalid(field, "is required")
	}
	if len(s) > max {
		return Invalid(field, "is longer than "+strconv.Itoa(max)+" bytes")
	}
	if !utf8.ValidString(s) {
		return Invalid(field, "is not valid UTF-8")
	}
	return nil
}

// DecodeJSON reads a merchant request body strictly (decodeFlatJSON):
// member names exactly, an unknown or repeated member, a value that is not
// a string or null, and data after the object are a 400 naming what is
// wrong.
func DecodeJSON(body []byte, v flatJSON) error {
	l := v.jsonFields()
	return decodeFlatJSON(body, l.fields[:l.n])
}
