package transform

import (
	"errors"
	"fmt"
	"net/http"
)

// Explanation is what a verifier compared, recorded for `caddy minipay
// verify`. A provider's Webhook.Verify is its Explain with a nil
// Explanation, so the command's verdict is the webhook's verdict: there is
// one code path, and recording costs nothing when nobody asks.
type Explanation struct {
	// Kind is "notification", or "answer" for one of the provider's API
	// answers (which a webhook refuses), told by its content whether or
	// not it verifies.
	Kind     string
	SignType string // the algorithm, "HMAC-SHA256", "SHA256-RSA2048 (Wechatpay-Signature)", ...
	// StringToSign is the canonical text the signature covers, every
	// secret in it replaced by Masked.
	StringToSign string
	// Expected is the signature computed over StringToSign, or where the
	// verifier cannot compute one (an RSA signature, an encrypted body)
	// what it takes as proof, in words.
	Expected string
	Received string // the signature (or the ciphertext) the input carried
}

// Masked stands for a secret in an Explanation.
const Masked = "***"

// Kinds of Explanation.
const (
	KindNotification = "notification"
	KindAnswer       = "answer"
)

// Explainer is a Webhook that can explain its verification.
type Explainer interface {
	// Explain verifies n exactly as Verify does and, when x is not nil,
	// records in x what it compared (as far as verification got).
	Explain(n Notification, x *Explanation) (*Event, error)
}

// ErrSignedAnswer refuses a document whose signature verifies but which is
// one of the provider's API answers (signed with the same key), not a
// notification: a webhook never forwards it, and `caddy minipay verify`
// explains it as kind "answer" with a valid signature.
var ErrSignedAnswer = fmt.Errorf("%w: a signed API answer, not a notification", ErrMalformed)

// AnswerExplainer is an Explainer that also explains those of the
// provider's API answers that minipay_webhook never reads as notifications,
// being of another form (Latipay's JSON query answer, 2C2P's pay answer as
// its demo server sends it, compressed without saying so) or unsigned.
// `caddy minipay verify` asks it first; the webhook never calls it.
type AnswerExplainer interface {
	Explainer
	// ExplainAnswer tells by content whether n is one of these answers
	// (false: explain n with Explain). When it is, it verifies it as the
	// provider's client verifies that answer, recording in x (Kind
	// KindAnswer) what it compared, and returns nil when the signature
	// verifies, the reason when it does not, or an error wrapping
	// ErrUnsignedAnswer for an answer the provider does not sign
	// (ErrNotExplained for an input that is no answer nor notification).
	ExplainAnswer(n Notification, x *Explanation) (bool, error)
}

// ErrUnsignedAnswer is ExplainAnswer's error for an API answer the
// provider does not sign (it comes over TLS, answering the merchant's own
// credentials): there is nothing to verify, and `caddy minipay verify`
// says so as a usage error. A provider wraps it, saying what verify
// explains for it instead.
var ErrUnsignedAnswer = errors.New("there is no signature to explain")

// ErrNotExplained is ExplainAnswer's error for an input that is neither a
// notification nor an answer, such as the merchant's own signed request
// (2C2P's PaymentRequest): `caddy minipay verify` judges what the provider
// sends, and says so as a usage error. A provider wraps it, saying which
// command explains that input.
var ErrNotExplained = errors.New("not a notification or an answer")

// RequestExplainer is a provider configuration that explains the signature
// of a request the merchant's own code sends the provider, for `caddy
// minipay sign` (README "caddy minipay verify"), which reads the registry:
// it names every provider whose configuration is one, sets the fields
// RequestSigning names, and prints what ExplainRequest returns.
type RequestExplainer interface {
	RequestSigning() RequestSigning
	// ExplainRequest signs r with the configuration's fields RequestSigning
	// names (the others are empty), or says why it cannot, in words the
	// command prints as its usage error; the error never holds a secret.
	ExplainRequest(r MerchantRequest) (RequestExplanation, error)
}

// RequestSigning is what `caddy minipay sign` takes for a provider.
type RequestSigning struct {
	// Fields are the configuration fields the signature needs (each set
	// with --set), in the order its usage names them.
	Fields []RequestField
	// RequestLine says the signature covers the request's method and URL,
	// a timestamp and a nonce too (wechat_v3's Authorization): the command
	// takes --method, --url, --timestamp and --nonce, and reads no input
	// for a method without a body unless told where it is.
	RequestLine bool
}

// RequestField is a configuration field `caddy minipay sign` takes.
type RequestField struct {
	Name     string // the field's name, as in ConfigFields
	Usage    string // its value in the usage: "<key>", "MD5|HMAC-SHA256"
	Optional bool
}

// MerchantRequest is the merchant's request as `caddy minipay sign` was
// given it.
type MerchantRequest struct {
	Body []byte
	// Header is the HTTP message's when the input was one, else nil.
	Header http.Header
	// Method and Target (the path and query, or the absolute URL) are
	// --method and --url, else the HTTP message's request line; Timestamp
	// and Nonce are --timestamp and --nonce. Only a RequestLine signature
	// reads them.
	Method, Target, Timestamp, Nonce string
}

// RequestExplanation is what `caddy minipay sign` prints, in this order.
type RequestExplanation struct {
	SignType string
	// StringToSign is the text signed, a secret in it replaced by Masked.
	StringToSign string
	Signature    string
	// Send are what carries the signature to the provider, printed after
	// it by name: wechat_v3's authorization, 2C2P's payment_request.
	Send Params
}
