package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error codes of README "Merchant API".
const (
	CodeInvalidRequest       = "invalid_request"
	CodeUnknownOperation     = "unknown_operation"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeRequestTooLarge      = "request_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeProviderRejected     = "provider_rejected"
	CodeUpstreamError        = "upstream_error"
	CodeSignatureInvalid     = "upstream_signature_invalid"
	CodeUpstreamTimeout      = "upstream_timeout"
)

// Error is a failure the merchant sees as
// {"error":{"code","message","field"?,"provider_code"?,"provider_message"?}}.
// Messages never carry a secret: they name fields, not values.
type Error struct {
	Status          int    `json:"-"` // the HTTP status of the answer, not part of its body
	Code            string `json:"code"`
	Message         string `json:"message"`
	Field           string `json:"field,omitempty"`
	ProviderCode    string `json:"provider_code,omitempty"`
	ProviderMessage string `json:"provider_message,omitempty"`
	// ProviderRequestID is the provider's own id of the answer that failed
	// (wechat_v3's Request-ID header), for the operation's log line only:
	// WeChat's support finds a call by it (README Observability).
	ProviderRequestID string `json:"-"`
	// Reason is which check failed, for the operation's log line only: a
	// fixed text that names no value (wechat_v3's "answer signature does not
	// verify: Wechatpay-Timestamp is outside the 300 s window", which points
	// at the machine's clock rather than at a key).
	Reason string `json:"-"`
	// echo is the caller's own text, whole, that Message (and Field) repeat
	// cut to 64 bytes: an unknown member's name, an unknown operation (the
	// whole request path, of which Message repeats the last element).
	// unechoed is the message to give instead when echo holds a secret
	// (WithoutSecretsOf).
	echo, unechoed string
}

// MaxProviderRequestID bounds a provider's request id: WeChat's Request-ID
// is some 50 characters.
const MaxProviderRequestID = 128

// WithProviderRequestID returns a copy of e naming the provider's request
// id, or e when id is not 1 to MaxProviderRequestID bytes of printable
// ASCII without spaces: it comes from an answer's header, and what reaches
// a log line from there is bounded.
func (e *Error) WithProviderRequestID(id string) *Error {
	if id == "" || len(id) > MaxProviderRequestID || !visibleASCII(id) {
		return e
	}
	c := *e
	c.ProviderRequestID = id
	return &c
}

// WithReason returns a copy of e whose log line names reason.
func (e *Error) WithReason(reason string) *Error {
	c := *e
	c.Reason = reason
	return &c
}

// Error is the code and the message, for logs: an invalid_request's message
// starts with the field it names (Invalid).
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

// JSON is the error's response body.
func (e *Error) JSON() []byte {
	b, _ := json.Marshal(struct {
		Error *Error `json:"error"`
	}{e})
	return b
}

// Secrets are secret values with their URL-encoded forms, which
// WithoutSecretsOf looks for too. A handler's configured secrets are
// encoded once, at provisioning: a wechat_v3 PEM key, near 2 KB, was
// encoded again for every error answer.
type Secrets []secretForms

type secretForms struct{ plain, escaped string }

// NewSecrets is values, the empty ones left out, with their URL-encoded
// forms.
func NewSecrets(values ...string) Secrets {
	var s Secrets
	for _, v := range values {
		if v != "" {
			s = append(s, secretForms{v, url.QueryEscape(v)})
		}
	}
	return s
}

// WithoutSecrets is WithoutSecretsOf(NewSecrets(secrets...)), for secrets
// known only at the call (a token of the call's own).
func (e *Error) WithoutSecrets(secrets []string) *Error {
	if e.ProviderCode == "" && e.ProviderMessage == "" && e.echo == "" {
		return e
	}
	return e.WithoutSecretsOf(NewSecrets(secrets...))
}

// WithoutSecretsOf returns e, or a copy of it without the provider code or
// message that holds one of secrets, as is or URL-encoded: that text comes
// from the upstream, which may quote the request it got (an error page
// repeating the URL, whose query carries code2Session's AppSecret), and a
// secret never reaches the merchant. Nor does the name the caller sent that
// the message echoes (a merchant backend that put a key in the path or in
// a member's name): the operation's log line is written from e too.
func (e *Error) WithoutSecretsOf(secrets Secrets) *Error {
	if e.ProviderCode == "" && e.ProviderMessage == "" && e.echo == "" {
		return e
	}
	code, msg, echoed := e.ProviderCode, e.ProviderMessage, false
	for _, f := range secrets {
		s, q := f.plain, f.escaped
		if holdsSecret(code, s) || holdsSecret(code, q) {
			code = ""
		}
		if holdsSecret(msg, s) || holdsSecret(msg, q) {
			msg = ""
		}
		// The whole name, not its 64-byte cut, which may hold only the
		// secret's first characters.
		if strings.Contains(e.echo, s) || strings.Contains(e.echo, q) {
			echoed = true
		}
	}
	if code == e.ProviderCode && msg == e.ProviderMessage && !echoed {
		return e
	}
	c := *e
	c.ProviderCode, c.ProviderMessage = code, msg
	if echoed {
		c.Message, c.Field, c.echo = e.unechoed, "", ""
	}
	return &c
}

// holdsSecret tells whether text holds secret, or ends with the start of it
// when text may have been cut at MaxProviderText: an upstream's message
// quoting the secret across the cut (code2Session's AppSecret in a URL near
// the end of a long error page) would otherwise show its first characters.
func holdsSecret(text, secret string) bool {
	if strings.Contains(text, secret) {
		return true
	}
	if len(text) <= MaxProviderText-utf8.UTFMax { // not cut
		return false
	}
	for n := min(len(secret)-1, len(text)); n > 0; n-- {
		if strings.HasSuffix(text, secret[:n]) {
			return true
		}
	}
	return false
}

// Invalid is a 400 invalid_request naming the field at fault.
func Invalid(field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Field: field, Message: field + " " + message}
}

// Rejected is a 422 provider_rejected: the provider refused the business
// request (an order already paid, an invalid login code).
func Rejected(providerCode, providerMessage string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeProviderRejected,
		Message: "the provider rejected the request", ProviderCode: clipProviderText(providerCode), ProviderMessage: clipProviderText(providerMessage)}
}

// MaxProviderText bounds a provider_code or provider_message: the upstream's
// text, which may be anything up to the answer's size (an HTML error page).
const MaxProviderText = 256

// clipProviderText cuts s to at most MaxProviderText bytes, at a UTF-8
// character boundary.
func clipProviderText(s string) string { return Clip(s, MaxProviderText) }

// Clip cuts s to at most max bytes, at a UTF-8 character boundary (half a
// character would show as U+FFFD). It steps back at most the UTFMax-1 bytes
// a character can run past max: a longer run of continuation bytes is no
// character to keep whole, and a cut text is never shorter than
// max-UTFMax+1 bytes, which holdsSecret relies on to tell a cut text.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for n := max; n >= 0 && n > max-utf8.UTFMax; n-- {
		if n == 0 || utf8.RuneStart(s[n]) {
			return s[:n]
		}
	}
	return s[:max]
}

// Upstream is a 502 upstream_error: the answer is not 2xx, not parseable, or
// reports a communication failure.
func Upstream(message string) *Error {
	return &Error{Status: http.StatusBadGateway, Code: CodeUpstreamError, Message: message}
}

// UpstreamCode is Upstream with the provider's own code and message.
func UpstreamCode(message, providerCode, providerMessage string) *Error {
	e := Upstream(message)
	e.ProviderCode, e.ProviderMessage = clipProviderText(providerCode), clipProviderText(providerMessage)
	return e
}

// AnswerNotOK is the merchant's error for a provider answer whose HTTP
// status is not 2xx, given the business code and message it carries (""
// when it has none): README Errors' one rule for the providers whose error
// answers carry a code (WeChat v3, Latipay, CBTIS). A 4xx with a code other
// than "0" is the provider's refusal (422), but for a 401 (the provider did
// not take the merchant's credentials) and a 429 (the request's rate is at
// fault, not the order); those, a 3xx (minipay follows no redirect), a 5xx
// and an answer without a code are a 502 upstream_error keeping the code
// and message. A provider's own codes that blame the configuration (Latipay
// 206, WeChat v3 SIGN_ERROR) are its to map after.
func AnswerNotOK(status int, code, message string) *Error {
	if status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusTooManyRequests &&
		code != "" && code != "0" {
		return Rejected(code, message)
	}
	return UpstreamCode("the provider answered HTTP "+strconv.Itoa(status), code, message)
}

// SignatureInvalid is a 502 upstream_signature_invalid.
func SignatureInvalid() *Error {
	return &Error{Status: http.StatusBadGateway, Code: CodeSignatureInvalid, Message: "the provider's answer carries no signature that verifies"}
}

// Timeout is a 504 upstream_timeout.
func Timeout() *Error {
	return &Error{Status: http.StatusGatewayTimeout, Code: CodeUpstreamTimeout, Message: "the provider did not answer in time"}
}

// UnknownOperation is a 404 unknown_operation.
func UnknownOperation(provider, op string) *Error {
	// The path's element is cut as an unknown field's name is: an answer
	// never echoes more than 64 bytes of what the caller sent.
	return &Error{Status: http.StatusNotFound, Code: CodeUnknownOperation, Message: "\"" + shorten(op) + "\" is no operation of " + provider,
		echo: op, unechoed: "the path's last element holds a configured secret: it is no operation of " + provider}
}

// UnknownOperationInPath is UnknownOperation for the last element of path,
// the merchant API's request path, which WithoutSecretsOf checks whole: a
// secret holding a '/' (a base64 or PEM text) sent in the path leaves only
// its end in that element, which the message would echo.
func UnknownOperationInPath(provider, path string) *Error {
	e := UnknownOperation(provider, path[strings.LastIndexByte(path, '/')+1:])
	e.echo = path
	return e
}

// Errors of Webhook.Verify, shared by every provider (and by 2C2P's
// envelope, which its answers use too). Any of them means unverified: the
// notification is not forwarded. None names a value.
var (
	ErrMalformed    = errors.New("notification is not a well-formed document of the provider")
	ErrUnsigned     = errors.New("notification carries no signature (or reports no success)")
	ErrBadSignature = errors.New("notification signature does not verify")
	ErrForeign      = errors.New("notification is for another merchant")
	// ErrOutsideWindow is matched (errors.Is) by a refusal that depends on
	// when the notification arrived, not on its bytes: a provider's
	// timestamp window. `caddy minipay verify --at` judges it as of then.
	ErrOutsideWindow = errors.New("the signed timestamp is outside the provider's window")
	// ErrRepeatedHeader is a header that carries the signature (or what
	// it covers) given on more than one line. RFC 9110 §5.3 allows that
	// for a list only; which line was verified and which one another
	// reader (a proxy, a log, an SDK taking the last) takes could differ,
	// as with a name given twice in a signed document.
	ErrRepeatedHeader = fmt.Errorf("%w: a signature header is given more than once", ErrMalformed)
)

// SignatureHeader is the value of the header field name in h (its first
// line, as http.Header.Get reads it), or ErrRepeatedHeader when the field
// is given on more than one line.
func SignatureHeader(h http.Header, name string) (string, error) {
	v := h.Values(name)
	if len(v) > 1 {
		return "", ErrRepeatedHeader
	}
	if len(v) == 0 {
		return "", nil
	}
	return v[0], nil
}

// Clocked is a Webhook whose verdict depends on the time of receipt;
// SetClock replaces its clock (`caddy minipay verify --at`).
type Clocked interface {
	SetClock(now func() time.Time)
}
