package transform

import "fmt"

// Explanation is what a verifier compared, recorded for `caddy minipay
// verify`. A provider's Webhook.Verify is its Explain with a nil
// Explanation, so the command's verdict is the webhook's verdict: there is
// one code path, and recording costs nothing when nobody asks.
type Explanation struct {
	// Kind is "notification", or "answer" for a provider's signed API
	// answer (which a webhook refuses).
	Kind     string
	SignType string
	// StringToSign is the canonical text the signature covers, every
	// secret in it replaced by Masked.
	StringToSign string
	Expected     string
	Received     string
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
