package transform

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Call is one prepared upstream exchange: the request minipay sends to the
// provider through reverse_proxy, and how to read the answer. Without Caddy,
// send it to the provider's host (each provider's Client names it) and hand
// the answer to Decode: this package's Example_withoutCaddy does both.
type Call struct {
	Method string
	// Path is the path below the provider's host, unescaped (an order id
	// in it may hold '|' or '*'): set it as a url.URL's Path, never paste it
	// into a URL string. RawQuery is already encoded.
	Path     string
	RawQuery string
	// ContentType is Body's Content-Type; a call without a Body (a GET)
	// sends none.
	ContentType string
	// Header holds the other upstream headers the provider needs (a bearer
	// token, WeChat Pay v3's Authorization and Wechatpay-Serial), or nil.
	Header http.Header
	Body   []byte
	// OrderID is for the log line only.
	OrderID string
	// Idempotent says that sending the call twice does no more than sending
	// it once: the provider keys it by the merchant's order or refund number
	// (WeChat: one order per out_trade_no, one refund per out_refund_no).
	// minipay then lets the HTTP transport send it again when a reused
	// keep-alive connection fails before any byte of the answer (the
	// provider closed it as idle), as Go does for an Idempotency-Key, and
	// sends it again itself when writing it to such a connection failed,
	// which Go's transport does not.
	Idempotent bool
	// Decode verifies the provider's answer and returns the merchant's JSON.
	// It receives the answer after any Content-Encoding has been removed.
	// The returned slice belongs to the caller, who may append to it in
	// place (the handler appends the answer's newline when the slice has
	// spare capacity): return one made for this answer, or a slice of body,
	// never a shared or pre-built one, whose bytes past len the append would
	// overwrite under another request.
	// Returning ErrRetry asks minipay to Prepare the call again and send it
	// once more (a bearer token the API refused has been dropped); a
	// *RetryError also says what a second such answer means.
	Decode func(status int, header http.Header, body []byte) ([]byte, error)
}

// ErrRetry is returned by Call.Decode when the call should be prepared and
// sent again, once.
var ErrRetry = errors.New("transform: prepare and send the call again")

// RetryError is an ErrRetry that carries what the answer means should the
// retried call be answered the same way (Latipay's 206 after both of its
// query signature forms): errors.Is(err, ErrRetry) holds.
type RetryError struct{ Final error }

// Error is ErrRetry's text.
func (e *RetryError) Error() string { return ErrRetry.Error() }

// Is makes errors.Is(err, ErrRetry) hold for a *RetryError.
func (e *RetryError) Is(target error) bool { return target == ErrRetry }

// RetryFinal is the error of a retried call that asked for a retry again:
// the RetryError's Final, else a 502 upstream_error.
func RetryFinal(err error) error {
	var r *RetryError
	if errors.As(err, &r) && r.Final != nil {
		return r.Final
	}
	return Upstream("the provider refused the call twice")
}

// Client is a provider's merchant-facing side.
type Client interface {
	// Supports tells whether op is one of the provider's operations.
	Supports(op string) bool
	// Prepare validates the merchant's JSON body for operation op and builds
	// the signed upstream call; an unknown op is an *Error unknown_operation.
	// The call must not keep body: minipay reads it into a buffer that
	// serves a later request. A call that comes with an error is not sent;
	// the log line names its OrderID: a valid body whose call could not be
	// completed (a bearer token that could not be fetched) returns the
	// call, and a refused body that names an order (its "order_id" keeps
	// the order id rule, whatever else is wrong: Operations.Prepare) a call
	// holding only that OrderID.
	Prepare(ctx context.Context, op string, body []byte) (*Call, error)
}

// MaxNotification bounds a notification body, after any Content-Encoding
// was removed: every Webhook.Verify refuses a longer one (ErrMalformed)
// before any other work, whoever calls it.
const MaxNotification = 64 << 10

// MaxAnswer bounds a provider's API answer, which minipay reads whole and
// caddy minipay verify explains: larger than a notification (a transaction
// listing many discounted goods).
const MaxAnswer = 1 << 20

// Notification is a provider's notification as received: the request's
// header (the signature headers, Content-Encoding) and its raw body, which
// the signature covers byte for byte: never a body parsed and written again.
type Notification struct {
	Header http.Header
	Body   []byte
}

// Content is the notification's body with the Content-Encoding its header
// declares removed (DecodeContent: gzip, x-gzip or identity, at most
// MaxNotification bytes), the bytes every Webhook.Verify reads and checks
// the signature over. A body declared gzip is not read as it is, a coding
// none removes is refused, and nothing is inflated that Content-Encoding
// did not ask for: each is ErrMalformed.
func (n Notification) Content() ([]byte, error) {
	body, err := DecodeContent(n.Header, n.Body, MaxNotification)
	if err != nil {
		return nil, ErrMalformed
	}
	return body, nil
}

// Webhook is a provider's notification side.
type Webhook interface {
	// Verify authenticates a notification and normalizes it. Any error means
	// unverified: the notification must not be forwarded. The error matches
	// (errors.Is) ErrMalformed, ErrUnsigned, ErrBadSignature or ErrForeign,
	// and names no value: it may be logged.
	Verify(n Notification) (*Event, error)
	// Ack is the exact success acknowledgement the provider expects. Send it
	// only once the event is recorded: the provider retries until it gets
	// it, so an event may come more than once (Event.ID tells).
	Ack() (status int, contentType string, body []byte)
	// Nack is the provider's failure form, sent with the given status (any
	// 4xx or 5xx), which makes the provider send the notification again.
	Nack(reason string) (contentType string, body []byte)
	// NotificationKeys are the configured secrets Verify authenticates or
	// decrypts notifications with, in a fixed order. They tell one
	// merchant's notifications from another's (minipay_webhook's dedupe,
	// README "Clusters"); a secret the configuration holds for another use
	// (signing requests, fetching a token) is not among them, so that
	// rotating it changes nothing there.
	NotificationKeys() []string
	// Merchant is the configured, non-secret values that name the merchant
	// the route is for (its ids; Latipay's user, wallet and the wallet's
	// currency), in a fixed order, "" for one not configured. Two
	// merchants can hold one notification key (the sub-merchants of a
	// service provider, two Latipay wallets with one api_key, a key given to
	// two merchants by mistake) and their event ids can coincide, so
	// minipay_webhook's dedupe tells merchants apart by these and the keys
	// together (README "Clusters").
	Merchant() []string
}

// Outbound is a request the sandbox sends by itself (a notification),
// POSTed to URL with ContentType as its Content-Type and Header's fields
// (the signature headers) beside it.
type Outbound struct {
	URL         string
	ContentType string
	Header      http.Header
	Body        []byte
}

// Sandbox is a provider's emulated server side.
type Sandbox interface {
	// Handles tells whether the request path belongs to this provider.
	Handles(path string) bool
	// ServeHTTP answers one API request like the provider would.
	ServeHTTP(w http.ResponseWriter, r *http.Request)
	// Complete settles an order and returns the signed notification to send
	// to its notify URL, and a check of the answer it must get (the ACK).
	Complete(orderID string, succeeded bool, now time.Time) (*Outbound, func(status int, body []byte) bool, error)
	// Orders lists the orders the sandbox holds, in any order (the sandbox
	// console sorts them).
	Orders() []SandboxOrder
}

// Errors of Sandbox.Complete (and RefundSandbox.CompleteRefund) that
// POST /sandbox/complete tells apart from "this order cannot be completed".
var (
	// ErrNotNotified is wrapped, saying why, by a Complete that settled the
	// order but whose provider sends no notification for that outcome
	// (WeChat Pay v3 notifies successful payments only): the settlement
	// happened, nothing was sent.
	ErrNotNotified = errors.New("nothing was sent")
	// ErrNoOrders is a sandbox's Complete whose provider keeps no orders
	// and sends no notifications (code2Session).
	ErrNoOrders = errors.New("keeps no orders and sends no notifications")
)

// SandboxOrder is one order as the sandbox console shows it.
type SandboxOrder struct {
	// ID is the merchant's order id: what POST /sandbox/complete takes.
	ID      string
	Amount  Money
	State   string // StatusPending, StatusSucceeded, StatusFailed, StatusCancelled or StatusRefunded
	Created time.Time
}

// RefundSandbox is a Sandbox whose provider notifies refunds.
type RefundSandbox interface {
	// CompleteRefund refunds what remains of a paid order (or, when nothing
	// remains, repeats the last refund's notification) and returns the signed
	// refund notification and its ACK check, like Complete.
	CompleteRefund(orderID string, now time.Time) (*Outbound, func(status int, body []byte) bool, error)
}
