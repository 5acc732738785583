package twoc2p

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Response codes of the pay answer and of notifications.
const (
	RespApproved = "00"  // paid (status A)
	RespPrepay   = "32"  // WCMINI: the WeChat prepay is ready
	RespPending  = "001" // waiting for the payer
	RespFailed   = "99"  // 2C2P's generic refusal, failReason says why
)

// BackendURLField carries the request's notify_url (else the configured
// one) in the payload. docs/providers/2c2p.md
// names no field for 9.9 (production accounts set the backend URL in the
// 2C2P merchant portal); this is 2C2P's name for it in its newer API, and
// the sandbox notifies it.
const BackendURLField = "backendReturnUrl"

// Client builds signed 2C2P pay calls and reads their answers. Prepare is the
// entry point, with the merchant API's JSON; Pay takes a request that passed
// its Validate (transform.Operations). The call goes to the 2C2P host of the
// merchant's account (docs/providers/2c2p.md; the demo host is
// https://demo2.2c2p.com).
type Client struct {
	transform.Operations // Supports and Prepare: 2C2P's WCMINI flow has pay only
	cfg                  Config
	sig                  signer // the secret key's pooled HMAC states
	// Now is the clock for the request's timeStamp; tests pin it.
	Now func() time.Time
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleClient); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, sig: newSigner(cfg.SecretKey), Now: time.Now}
	c.Operations = transform.Operations{Provider: Name, Now: func() time.Time { return c.Now() }, Pay: c.Pay}
	return c, nil
}

var _ transform.Client = (*Client)(nil)

// Pay builds the signed PaymentRequest; its answer becomes the
// wx.requestPayment object.
func (c *Client) Pay(req *transform.PayRequest) (*transform.Call, error) {
	if err := validatePay(req); err != nil {
		return nil, err
	}
	numeric := req.Money.NumericCode()
	if _, ok := CurrencyForNumeric(numeric); !ok {
		return nil, transform.Invalid("currency", "has no ISO 4217 numeric code")
	}
	// The payload is written directly, in 2C2P's form: no declaration, no
	// indentation, explicit end tags, text escaped by appendEscaped.
	inner := make([]byte, 0, 640+len(req.Description)+len(req.PayerName)+len(req.Attach)+len(req.NotifyURL)+len(c.cfg.NotifyURL)+len(req.OpenID))
	inner = append(inner, "<"+RootRequest+">"...)
	inner = appendElement(inner, "timeStamp", c.Now().In(clockZone).Format(timeLayout))
	inner = appendElement(inner, "merchantID", c.cfg.MerchantID)
	inner = appendElement(inner, "uniqueTransactionCode", req.OrderID)
	inner = appendElement(inner, "desc", req.Description)
	inner = appendElement(inner, "amt", Amount12(req.Money))
	inner = appendElement(inner, "currencyCode", numeric)
	if country := cmp.Or(req.Country, c.cfg.PanCountry); country != "" {
		inner = appendElement(inner, "panCountry", country)
	}
	if req.PayerName != "" {
		inner = appendElement(inner, "cardholderName", req.PayerName)
	}
	inner = appendElement(inner, "paymentChannel", PaymentChannel)
	if req.Attach != "" {
		inner = appendElement(inner, "userDefined1", req.Attach) // 2C2P echoes it in the answer and the notification
	}
	if notifyURL := cmp.Or(req.NotifyURL, c.cfg.NotifyURL); notifyURL != "" {
		inner = appendElement(inner, BackendURLField, notifyURL)
	}
	inner = append(inner, "<miniProgramData><wechat>"...)
	inner = appendElement(inner, "appID", c.cfg.AppID)
	inner = appendElement(inner, "openID", req.OpenID)
	inner = append(inner, "</wechat></miniProgramData></"+RootRequest+">"...)

	envelope := sealXML(RootRequest, c.cfg.Version, inner, c.sig)
	// paymentRequest=<the envelope's base64, URL-encoded>: one
	// character in 32 of base64 is '+' or '/', each three once encoded.
	n := base64.StdEncoding.EncodedLen(len(envelope))
	body := make([]byte, 0, len(FieldRequest)+1+n+n/8)
	body = appendFormBase64(append(append(body, FieldRequest...), '='), envelope)
	orderID := req.OrderID
	return &transform.Call{
		Method: http.MethodPost, Path: c.cfg.PaymentPath, ContentType: "application/x-www-form-urlencoded",
		Body: body, OrderID: orderID,
		Decode: func(status int, header http.Header, body []byte) ([]byte, error) {
			a, err := c.ReadAnswer(status, header, body)
			if err != nil {
				return nil, err
			}
			pp, err := paymentParams(a, orderID)
			if err != nil {
				return nil, err
			}
			return transform.Marshal(pp), nil
		},
	}, nil
}

// MaxUniqueTransactionCode is the length of 2C2P's uniqueTransactionCode,
// "Character 20" in both tables of its SecurePay manual, the request's and
// the backend response's (docs/providers/2c2p.md "Field limits"). The
// merchant API's order_id takes 32, so a longer one is refused here,
// naming order_id, before 2C2P is called. order_id is ASCII: characters
// and bytes are the same count.
const MaxUniqueTransactionCode = 20

// validatePay adds 2C2P's rules to those of transform.PayRequest (which
// already checks country and payer_name): the order id fits
// uniqueTransactionCode, every text must survive an XML document,
// notify_url is an absolute URL. client_ip and expire_at have no WCMINI
// field and are not sent.
func validatePay(req *transform.PayRequest) error {
	if len(req.OrderID) > MaxUniqueTransactionCode {
		return transform.Invalid("order_id", "is longer than "+strconv.Itoa(MaxUniqueTransactionCode)+
			" characters (2C2P's uniqueTransactionCode)")
	}
	for _, f := range []struct{ name, value string }{
		{"description", req.Description}, {"openid", req.OpenID}, {"payer_name", req.PayerName},
		{"attach", req.Attach}, {"notify_url", req.NotifyURL},
	} {
		if !transform.ValidXMLText(f.value) {
			return transform.Invalid(f.name, "holds characters an XML document cannot carry")
		}
	}
	if req.NotifyURL != "" && !validNotifyURL(req.NotifyURL) {
		return transform.Invalid("notify_url", "must be an absolute http(s) URL")
	}
	return nil
}

// ReadAnswer reads a pay answer: 2xx, a base64 envelope (gzip tolerated),
// its signature verified before anything in it is believed, the payload
// for this merchant and respCode 32. Any other respCode is 2C2P's refusal.
func (c *Client) ReadAnswer(status int, header http.Header, body []byte) (transform.Params, error) {
	if status < 200 || status > 299 {
		return nil, transform.Upstream("the provider answered HTTP " + strconv.Itoa(status))
	}
	body, err := InflateAnswer(body)
	if err != nil {
		return nil, transform.Upstream("the provider's answer is not a 2C2P envelope")
	}
	text, err := EnvelopeText(body, header.Get("Content-Type"), FieldResponse)
	if err != nil {
		return nil, transform.Upstream("the provider's answer is not a 2C2P envelope")
	}
	a, err := openExplained(text, RootResponse, c.sig, nil)
	switch {
	case errors.Is(err, transform.ErrUnsigned), errors.Is(err, transform.ErrBadSignature):
		return nil, transform.SignatureInvalid()
	case err != nil:
		return nil, transform.Upstream("the provider's answer is not a 2C2P envelope")
	}
	if m := a.Get("merchantID"); m != "" && m != c.cfg.MerchantID {
		return nil, transform.Upstream("the provider's answer is for another merchantID")
	}
	code := a.Get("respCode")
	if code == "" {
		return nil, transform.Upstream("the provider's answer has no respCode")
	}
	if code != RespPrepay {
		return nil, transform.Rejected(code, a.Get("failReason"))
	}
	return a, nil
}

// requestPaymentKeys are the wx.requestPayment fields 2C2P hands over.
var requestPaymentKeys = [...]string{"timeStamp", "nonceStr", "package", "signType", "paySign"}

// paymentParams turns a respCode 32 answer into the wx.requestPayment
// object: the JSON text in miniProgramData/wechat, passed on as 2C2P
// (and WeChat behind it) signed it.
func paymentParams(a transform.Params, orderID string) (*transform.PaymentParams, error) {
	// The signature binds an answer to the merchant's key, not to the
	// request: only the order it names (uniqueTransactionCode, which 2C2P
	// echoes in every answer, approved and declined alike:
	// docs/providers/2c2p.md) ties it to this one. An answer naming another
	// order, or none, is not handed to wx.requestPayment as this order's.
	switch id := a.Get("uniqueTransactionCode"); {
	case id == "":
		return nil, transform.Upstream("the provider's answer names no order (uniqueTransactionCode)")
	case id != orderID:
		return nil, transform.Upstream("the provider's answer is for another order")
	}
	raw := cmp.Or(a.Get("miniProgramData/wechat"), a.Get("miniProgramData"))
	var obj map[string]json.RawMessage // by exact names; one given twice is refused
	if err := transform.UnmarshalExact([]byte(raw), &obj); err != nil {
		return nil, transform.Upstream("the provider's answer has no wx.requestPayment object in miniProgramData")
	}
	var v [len(requestPaymentKeys)]string
	for i, k := range requestPaymentKeys {
		// a timeStamp written as a number is still the same value
		if v[i], _ = transform.JSONScalar(obj[k]); v[i] == "" {
			return nil, transform.Upstream("the provider's wx.requestPayment object has no " + k)
		}
	}
	if !transform.ValidTimeStamp(v[0]) { // as wechat_v2/v3 make it; paySign signs the text as written
		return nil, transform.Upstream("the provider's wx.requestPayment object's timeStamp is not Unix seconds in decimal digits")
	}
	return &transform.PaymentParams{
		TimeStamp: v[0], NonceStr: v[1], Package: v[2], SignType: v[3], PaySign: v[4],
		Provider: Name, OrderID: orderID, ProviderOrderID: a.Get("tranRef"),
	}, nil
}
