package latipay

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
)

// Upstream paths (hosts api.latipay.net, staging api-staging.latipay.net).
const (
	PathPay   = "/v2/miniapppay"
	PathQuery = "/v2/transaction/" // + merchant_reference
	// PathRefund is Latipay's own documented refund path (its hosted-online
	// docs, "5 - Refund": no version part); PathRefundV2 is the one a
	// third-party plugin uses. refund_path overrides it; the sandbox serves
	// both.
	PathRefund   = "/refund"
	PathRefundV2 = "/v2/refund"
)

// ContentTypeJSON is the request type Latipay documents for its JSON calls.
const ContentTypeJSON = "application/json;charset=UTF-8"

// Client builds signed Latipay calls and reads their answers. Prepare is the
// entry point, with the merchant API's JSON; the builders (Pay, Query,
// Refund) take a request that passed its Validate (transform.Operations).
// The calls go to https://api.latipay.net.
type Client struct {
	transform.Operations // Supports and Prepare: pay, query and refund
	cfg                  Config
	signer               signer
	// queryConcat: the query is signed in the plain concatenation
	// merchant_reference + user_id (Latipay's older form, its PHP plugin's)
	// rather than the sorted form of vector 3; it flips on a 206.
	queryConcat atomic.Bool
	// refundOther: refunds go to the other of Latipay's two refund paths
	// (/refund, /v2/refund) than the default; it flips on a bare 404.
	// refundPathSet: refund_path was configured, and is used as is.
	refundOther   atomic.Bool
	refundPathSet bool
}

// NewClient validates cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	refundPathSet := cfg.RefundPath != "" // before Check fills the default
	if err := transform.CheckConfig(&cfg, transform.RoleClient); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, signer: newSigner(cfg.APIKey), refundPathSet: refundPathSet}
	c.Operations = transform.Operations{Provider: Name, Pay: c.Pay, Query: c.Query, Refund: c.Refund}
	return c, nil
}

var _ transform.Client = (*Client)(nil)

// walletCurrency refuses money in another currency than the wallet's: the
// wallet fixes the currency and Latipay's calls carry none.
func (c *Client) walletCurrency(m transform.Money) error {
	if m.Currency != c.cfg.Currency {
		return transform.Invalid("currency", "must be the wallet's currency "+c.cfg.Currency)
	}
	return nil
}

// payBody is the miniapppay request, in Latipay's documented order.
type payBody struct {
	UserID            string `json:"user_id"`
	WalletID          string `json:"wallet_id"`
	Amount            string `json:"amount"`
	NotifyURL         string `json:"notify_url"`
	MerchantReference string `json:"merchant_reference"`
	ProductName       string `json:"product_name"`
	AppID             string `json:"app_id"`
	OpenID            string `json:"open_id"`
	Signature         string `json:"signature"`
}

// Pay builds the miniapppay call; its answer becomes the wx.requestPayment
// object. client_ip, expire_at, attach, payer_name and country have no
// Latipay field and are ignored.
func (c *Client) Pay(req *transform.PayRequest) (*transform.Call, error) {
	if err := c.walletCurrency(req.Money); err != nil {
		return nil, err
	}
	// Refused before the order exists: its query may have to be signed in
	// the older form, which would sign a notification (Query).
	if err := c.olderQueryForm(req.OrderID); err != nil {
		return nil, err
	}
	// The signature is over the raw values: each must survive JSON unchanged.
	if !utf8.ValidString(req.OpenID) {
		return nil, transform.Invalid("openid", "is not valid UTF-8")
	}
	notifyURL := cmp.Or(req.NotifyURL, c.cfg.NotifyURL)
	if notifyURL == "" {
		return nil, transform.Invalid("notify_url", "is required (in the request or the provider configuration)")
	}
	if !absoluteURL(notifyURL) || !utf8.ValidString(notifyURL) {
		return nil, transform.Invalid("notify_url", "must be an absolute http(s) URL")
	}
	b := payBody{
		UserID: c.cfg.UserID, WalletID: c.cfg.WalletID, Amount: req.Money.String(), NotifyURL: notifyURL,
		MerchantReference: req.OrderID, ProductName: req.Description, AppID: c.cfg.AppID, OpenID: req.OpenID,
	}
	p := transform.Params{
		{Name: "user_id", Value: b.UserID}, {Name: "wallet_id", Value: b.WalletID}, {Name: "amount", Value: b.Amount},
		{Name: "notify_url", Value: b.NotifyURL}, {Name: "merchant_reference", Value: b.MerchantReference},
		{Name: "product_name", Value: b.ProductName}, {Name: "app_id", Value: b.AppID}, {Name: "open_id", Value: b.OpenID},
	}
	b.Signature = c.signer.sign(p)
	orderID := req.OrderID
	return &transform.Call{
		Method: http.MethodPost, Path: PathPay, ContentType: ContentTypeJSON, Body: transform.Marshal(b), OrderID: orderID,
		Decode: func(status int, _ http.Header, body []byte) ([]byte, error) {
			pp, err := PaymentFromAnswer(status, body)
			if err != nil {
				return nil, err
			}
			pp.OrderID = orderID
			return transform.Marshal(pp), nil
		},
	}, nil
}

// PaymentFromAnswer maps a miniapppay answer
// {"payment":{"nonceStr","paySign","signType","timeStamp","packageStr"},"paydata":{"order_id"}}
// to the wx.requestPayment object (packageStr becomes package). Latipay
// does not sign this answer; paySign is WeChat's, checked by WeChat.
func PaymentFromAnswer(status int, body []byte) (*transform.PaymentParams, error) {
	// A typed reading by exact names (transform.UnmarshalExact); the fields
	// take strings or numbers.
	var a struct {
		Code    transform.JSONCode `json:"code"`
		Message transform.JSONText `json:"message"`
		Payment *struct {
			NonceStr   transform.JSONText `json:"nonceStr"`
			PaySign    transform.JSONText `json:"paySign"`
			SignType   transform.JSONText `json:"signType"`
			TimeStamp  transform.JSONText `json:"timeStamp"`
			PackageStr transform.JSONText `json:"packageStr"`
		} `json:"payment"`
		Paydata *struct {
			OrderID transform.JSONText `json:"order_id"`
		} `json:"paydata"`
	}
	parsed := transform.UnmarshalExact(body, &a) == nil && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{"))
	if err := checkAnswer(status, parsed, string(a.Code), string(a.Message)); err != nil {
		return nil, err
	}
	if a.Payment == nil {
		return nil, transform.Upstream("the provider's answer has no payment object")
	}
	pp := &transform.PaymentParams{
		TimeStamp: string(a.Payment.TimeStamp), NonceStr: string(a.Payment.NonceStr), Package: string(a.Payment.PackageStr),
		SignType: string(a.Payment.SignType), PaySign: string(a.Payment.PaySign), Provider: Name,
	}
	for _, f := range [...]struct{ name, v string }{
		{"timeStamp", pp.TimeStamp}, {"nonceStr", pp.NonceStr}, {"packageStr", pp.Package}, {"signType", pp.SignType}, {"paySign", pp.PaySign},
	} {
		if f.v == "" {
			return nil, transform.Upstream("the provider's answer has no payment." + f.name)
		}
	}
	if !transform.ValidTimeStamp(pp.TimeStamp) { // as wechat_v2/v3 make it; paySign signs the text as written
		return nil, transform.Upstream("the provider's answer's payment.timeStamp is not Unix seconds in decimal digits")
	}
	if a.Paydata != nil {
		pp.ProviderOrderID = string(a.Paydata.OrderID)
	}
	return pp, nil
}

// Query builds GET /v2/transaction/{merchant_reference}; its answer becomes
// the status object.
//
// It is signed in the sorted form (vector 3, Latipay's current docs) or, once
// an account refused that with 206, in the plain concatenation
// merchant_reference + user_id (Latipay's older docs and PHP plugin:
// docs/providers/latipay.md, "the fallback to try"). A 206 switches the form
// and asks minipay to prepare the query once more; a 206 for that one too
// (a wrong api_key) is the 502 it means.
func (c *Client) Query(req *transform.OrderRequest) (*transform.Call, error) {
	concat := c.queryConcat.Load()
	var sig string
	if concat {
		if err := c.olderQueryForm(req.OrderID); err != nil {
			return nil, err
		}
		sig = c.signer.olderQuerySign(req.OrderID, c.cfg.UserID)
	} else {
		sig = c.signer.sign(transform.Params{{Name: "merchant_reference", Value: req.OrderID}, {Name: "user_id", Value: c.cfg.UserID}})
	}
	orderID := req.OrderID
	return &transform.Call{
		Method: http.MethodGet, Path: PathQuery + orderID,
		RawQuery: "user_id=" + url.QueryEscape(c.cfg.UserID) + "&signature=" + sig, OrderID: orderID,
		Decode: func(status int, _ http.Header, body []byte) ([]byte, error) {
			st, err := c.StatusFromAnswer(orderID, status, body)
			var e *transform.Error
			if errors.As(err, &e) && e.ProviderCode == codeSignatureWrong {
				c.queryConcat.CompareAndSwap(concat, !concat)
				return nil, &transform.RetryError{Final: err}
			}
			if err != nil {
				return nil, err
			}
			return transform.Marshal(st), nil
		},
	}, nil
}

// olderQueryForm refuses an order id whose query, signed in the older form
// (merchant_reference + user_id under the api_key, no separator), would
// also be the signature of a notification the webhook accepts
// (ReadsAsNotification): whoever saw that query's URL could post it as a
// paid notification of another order. Such an id ends with a payment
// method, a status and two capitals before the user id, and the user id's
// digits do not begin with 0 (a zero-padded amount is refused), so a
// merchant choosing its own ids never meets it.
func (c *Client) olderQueryForm(orderID string) error {
	if ReadsAsNotification(orderID + c.cfg.UserID) {
		return transform.Invalid("order_id", "cannot be used with this user_id: the query's older signature form "+
			"(merchant_reference + user_id) would read as a notification's signed fields")
	}
	return nil
}

// codeSignatureWrong is Latipay's "Signature from Merchant request is wrong".
const codeSignatureWrong = "206"

// StatusFromAnswer checks and maps a transaction query answer. Its signature
// (the notification formula) is verified on the amount's text exactly as
// sent — Latipay may send amount as a JSON number, and 120.00 must stay
// "120.00" — before anything in it is believed; then the answer must be for
// orderID and in the wallet's currency.
func (c *Client) StatusFromAnswer(orderID string, status int, body []byte) (*transform.PaymentStatus, error) {
	a, err := readAnswer(status, body)
	if err != nil {
		return nil, err
	}
	sf, sig, err := answerSigned(a)
	if err != nil {
		return nil, err
	}
	f, err := scalars(a, "order_id", "pay_time", "transaction_id")
	if err != nil {
		return nil, err
	}
	if !c.signer.verifySigned(sig, sf) {
		return nil, transform.SignatureInvalid()
	}
	if sf.MerchantReference != orderID {
		return nil, transform.Upstream("the provider's answer is for another merchant_reference")
	}
	mapped, ok := statuses[sf.Status]
	if !ok { // never guessed into a terminal state
		return nil, transform.UpstreamCode("the provider's answer has an unknown status", sf.Status, "")
	}
	m, err := sf.CheckGrammar(c.cfg.Currency)
	switch {
	case errors.Is(err, transform.ErrForeign):
		return nil, transform.Upstream("the provider's answer is in another currency than the wallet's")
	case err != nil:
		return nil, transform.Upstream("the provider's answer has a signed field outside its grammar (payment_method or amount)")
	}
	st := &transform.PaymentStatus{
		// Latipay's id of the transaction: order_id, or transaction_id in
		// the older answer of its merchant hosted docs (the same description)
		Provider: Name, OrderID: orderID, ProviderOrderID: cmp.Or(f[0], f[2]), Status: mapped,
		Amount: m.String(), Currency: m.Currency, ProviderStatus: sf.Status,
	}
	if mapped == transform.StatusSucceeded {
		st.PaidAt = PayTimeRFC3339(f[1])
	}
	return st, nil
}

// answerSigned reads the fields a transaction query answer's signature
// covers (the notification formula) and the signature itself.
func answerSigned(a map[string]json.RawMessage) (Signed, string, error) {
	f, err := scalars(a, "merchant_reference", "payment_method", "status", "currency", "amount", "signature")
	if err != nil {
		return Signed{}, "", err
	}
	return Signed{MerchantReference: f[0], PaymentMethod: f[1], Status: f[2], Currency: f[3], Amount: f[4]}, f[5], nil
}

// statuses maps Latipay's transaction status to the status object's.
var statuses = map[string]string{
	"paid": transform.StatusSucceeded, "pending": transform.StatusPending,
	"failed": transform.StatusFailed, "rejected": transform.StatusFailed,
	"canceled": transform.StatusCancelled,
}

// refundBody is the refund request, in Latipay's documented order.
type refundBody struct {
	UserID       string `json:"user_id"`
	OrderID      string `json:"order_id"`
	RefundAmount string `json:"refund_amount"`
	Reference    string `json:"reference,omitempty"`
	Signature    string `json:"signature"`
}

// Refund builds POST refund_path (default /refund). Latipay refunds by its own order id, which
// the merchant passes as provider_order_id (the pay answer's). Latipay
// answers {"code":0} once the refund is done and sends no refund
// notification, so a code 0 answer is status "succeeded".
//
// Latipay's own docs give /refund, a third-party plugin and some
// integrations /v2/refund (docs/providers/latipay.md). Without refund_path,
// a 404 that is no Latipay answer (no JSON code: the path does not exist,
// so nothing was refunded) switches to the other path and asks minipay to
// send the refund once more; a 404 there too is the 502 it means.
func (c *Client) Refund(req *transform.RefundRequest) (*transform.Call, error) {
	if err := c.walletCurrency(req.Money); err != nil {
		return nil, err
	}
	if err := validProviderOrderID(req.ProviderOrderID); err != nil {
		return nil, err
	}
	if !utf8.ValidString(req.Reason) {
		return nil, transform.Invalid("reason", "is not valid UTF-8")
	}
	b := refundBody{UserID: c.cfg.UserID, OrderID: req.ProviderOrderID, RefundAmount: req.Money.String(), Reference: req.Reason}
	b.Signature = c.signer.sign(transform.Params{
		{Name: "user_id", Value: b.UserID}, {Name: "order_id", Value: b.OrderID},
		{Name: "refund_amount", Value: b.RefundAmount}, {Name: "reference", Value: b.Reference},
	})
	res := transform.RefundResult{
		Provider: Name, OrderID: req.OrderID, RefundID: req.RefundID, Status: transform.StatusSucceeded,
		Amount: req.Money.String(), Currency: req.Money.Currency,
	}
	path, other := c.cfg.RefundPath, false
	if !c.refundPathSet {
		if other = c.refundOther.Load(); other {
			path = PathRefundV2
		}
	}
	return &transform.Call{
		Method: http.MethodPost, Path: path, ContentType: ContentTypeJSON, Body: transform.Marshal(b), OrderID: req.OrderID,
		Decode: func(status int, _ http.Header, body []byte) ([]byte, error) {
			if status == http.StatusNotFound && !c.refundPathSet && !hasCode(body) {
				c.refundOther.CompareAndSwap(other, !other)
				return nil, &transform.RetryError{Final: transform.Upstream("the provider answered HTTP 404 on " + path)}
			}
			a, err := readAnswer(status, body)
			if err != nil {
				return nil, err
			}
			if code, ok := transform.AnswerCode(a["code"]); !ok || code != "0" { // the only success signal
				return nil, transform.Upstream("the provider's answer has no code 0")
			}
			out := res
			if id, ok := transform.JSONScalar(a["refund_id"]); ok {
				out.ProviderRefundID = id
			}
			return transform.Marshal(out), nil
		},
	}, nil
}

// hasCode tells whether body is a Latipay answer: a JSON object with a code.
func hasCode(body []byte) bool {
	var a map[string]json.RawMessage
	if transform.UnmarshalExact(body, &a) != nil {
		return false
	}
	code, ok := transform.JSONScalar(a["code"])
	return ok && code != ""
}

// validProviderOrderID checks Latipay's order id: it is signed raw and sent
// in JSON, so keep it to the characters Latipay's ids use.
func validProviderOrderID(id string) error {
	if id == "" {
		return transform.Invalid("provider_order_id", "is required for latipay (the pay answer's provider_order_id)")
	}
	if len(id) > 64 {
		return transform.Invalid("provider_order_id", "is longer than 64 characters")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return transform.Invalid("provider_order_id", "may only contain A-Z a-z 0-9 _ -")
		}
	}
	return nil
}

// ourSide are the error codes (Latipay's error-code table) that mean the
// merchant's configuration or our signature is wrong, not a business
// refusal: 205 unknown user / no key, 206 wrong signature, 301 wrong
// account or currency info, 450 wallet not assigned to the user. The
// merchant cannot act on them per order; the operator must fix the config.
var ourSide = map[string]bool{"205": true, "206": true, "301": true, "450": true}

// readAnswer parses a Latipay JSON answer into its members (names matched
// exactly, one given twice refused: transform.UnmarshalExact) and checks it
// with checkAnswer.
func readAnswer(status int, body []byte) (map[string]json.RawMessage, error) {
	var a map[string]json.RawMessage
	parsed := transform.UnmarshalExact(body, &a) == nil && a != nil
	code, codeOK := transform.AnswerCode(a["code"])
	msg, _ := transform.JSONScalar(a["message"])
	if !codeOK {
		code = ""
	}
	if err := checkAnswer(status, parsed, code, msg); err != nil {
		return nil, err
	}
	return a, nil
}

// checkAnswer turns an error answer (code other than 0, with message) into
// the merchant's error: 502 upstream_error for a credential or signature
// problem (ourSide), 422 provider_rejected otherwise; a non-2xx answer is
// read by transform.AnswerNotOK, the rule WeChat v3 and CBTIS follow too (a
// 3xx, 401, 429 or 5xx is a 502 whatever its code). An answer that is no
// JSON object is a 502.
func checkAnswer(status int, parsed bool, code, msg string) error {
	if !parsed {
		code, msg = "", ""
	}
	if status < 200 || status > 299 {
		e := transform.AnswerNotOK(status, code, msg)
		if e.Code == transform.CodeProviderRejected {
			return providerError(code, msg)
		}
		return e
	}
	if !parsed {
		return transform.Upstream("the provider's answer is not a JSON object")
	}
	if code != "" && code != "0" {
		return providerError(code, msg)
	}
	return nil
}

func providerError(code, msg string) error {
	if ourSide[code] {
		return transform.UpstreamCode("the provider refused the merchant's credentials or signature", code, msg)
	}
	return transform.Rejected(code, msg)
}

// scalars reads the named fields of an answer; a field that is no scalar
// makes the answer unreadable.
func scalars(a map[string]json.RawMessage, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		v, ok := transform.JSONScalar(a[n])
		if !ok {
			return nil, transform.Upstream("the provider's answer has an invalid " + n)
		}
		out[i] = v
	}
	return out, nil
}

// PayTimeRFC3339 turns Latipay's pay_time ("2017-07-07 10:53:50", in UTC:
// a real answer's pay_time follows its order's creation only so, see
// docs/providers/latipay.md "Times"; an RFC 3339 time is kept as written,
// as CBTIS's and wechat_v3's are) into RFC 3339; an unreadable value is
// dropped rather than guessed.
func PayTimeRFC3339(s string) string {
	if t := transform.LocalRFC3339("2006-01-02 15:04:05", s, time.UTC); t != "" {
		return t
	}
	return transform.RFC3339AsWritten(s)
}
