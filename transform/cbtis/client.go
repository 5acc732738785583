package cbtis

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Client builds CBTIS calls with a bearer token and reads their answers. It
// owns the token cache of its configuration: one Client per minipay handler
// (or per configuration, without Caddy). Prepare is the entry point, with
// the merchant API's JSON; the builders (Pay, Query) take a request that
// passed its Validate (transform.Operations) and leave the token out. The
// calls go to the host CBTIS assigned the merchant.
type Client struct {
	transform.Operations // Supports; Prepare adds the bearer token
	cfg                  Config
	tokens               *tokenSource
}

// NewClient validates cfg and returns a Client with its own http.Client for
// the token endpoint.
func NewClient(cfg Config) (*Client, error) {
	return newClient(cfg, time.Now)
}

// newClient is NewClient with the token cache's clock (tests move it).
func newClient(cfg Config, now func() time.Time) (*Client, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleClient); err != nil {
		return nil, err
	}
	ts, err := newTokenSource(&cfg, newHTTPClient(), now)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, tokens: ts}
	c.Operations = transform.Operations{Provider: Name, Now: now, Pay: c.Pay, Query: c.Query}
	return c, nil
}

// CloseIdleConnections closes the connections to the token endpoint that
// the client's own http.Client keeps idle (up to 2, for 30 s after their
// last use). minipay calls it when the client's configuration is unloaded
// (a caddy reload), which would otherwise leave them open until that
// timeout. The client still works after it: a fetch dials anew.
func (c *Client) CloseIdleConnections() { c.tokens.hc.CloseIdleConnections() }

// Interface guards.
var (
	_ transform.Client      = (*Client)(nil)
	_ transform.StateSharer = (*Client)(nil)
)

// ShareState implements transform.StateSharer: the access token is fetched
// once per cluster and kept in store under
// minipay/cbtis/<sha256(token_url+uid)>/token.
func (c *Client) ShareState(store transform.Store) { c.tokens.share(store) }

// Prepare implements transform.Client for pay and query. The merchant's
// body is checked before a token is fetched: a 400 costs no round trip
// (with the call naming its order, as Operations.Prepare returns it). A
// token that could not be fetched returns the call (for its OrderID) with
// the error.
func (c *Client) Prepare(ctx context.Context, op string, body []byte) (*transform.Call, error) {
	call, err := c.Operations.Prepare(ctx, op, body)
	if err != nil {
		return call, err
	}
	if err := c.authorize(ctx, call); err != nil {
		return call, err
	}
	return call, nil
}

// authorize adds the bearer token; a 401 answer drops that token and asks
// minipay to prepare the call again (once), which fetches a fresh one. A
// second 401 is the 502 transform.AnswerNotOK makes of it, keeping CBTIS's
// code and message as the other providers' 401 does. A code or message
// quoting the token ("invalid token tok-…") is left out, as one quoting a
// configured secret is: the token is a credential too.
func (c *Client) authorize(ctx context.Context, call *transform.Call) error {
	token, err := c.tokens.Token(ctx)
	if err != nil {
		return err
	}
	call.Header = http.Header{"Authorization": {"Bearer " + token}}
	decode := call.Decode
	call.Decode = func(status int, h http.Header, body []byte) ([]byte, error) {
		if status == http.StatusUnauthorized {
			c.tokens.Invalidate(token)
			var env envelope
			_ = transform.UnmarshalExact(body, &env)
			return nil, &transform.RetryError{Final: transform.AnswerNotOK(status, codeText(env.Code), env.Message).WithoutSecrets([]string{token})}
		}
		out, err := decode(status, h, body)
		if e, ok := err.(*transform.Error); ok {
			return out, e.WithoutSecrets([]string{token})
		}
		return out, err
	}
	return nil
}

// createRequest is the body of payment_intents/create.
type createRequest struct {
	Amount          string        `json:"amount"`
	Currency        string        `json:"currency"`
	MerchantOrderID string        `json:"merchant_order_id"`
	PaymentMethod   paymentMethod `json:"payment_method"`
	Description     string        `json:"description"`
	NotifyURL       string        `json:"notify_url,omitempty"`
}

type paymentMethod struct {
	Type   string       `json:"type"`
	WeChat wechatMethod `json:"wechat"`
}

type wechatMethod struct {
	Flow      string `json:"flow"`
	SubAppID  string `json:"sub_appid"`
	SubOpenID string `json:"sub_openid"`
}

// Pay builds the create call (without its token); its answer becomes the
// wx.requestPayment object. client_ip, expire_at, attach, payer_name and
// country have no CBTIS field and are not sent.
func (c *Client) Pay(req *transform.PayRequest) (*transform.Call, error) {
	notifyURL := c.cfg.NotifyURL
	if req.NotifyURL != "" {
		if !absoluteURL(req.NotifyURL) {
			return nil, transform.Invalid("notify_url", "must be an absolute http(s) URL")
		}
		notifyURL = req.NotifyURL
	}
	body := transform.Marshal(createRequest{
		Amount: req.Money.String(), Currency: req.Money.Currency, MerchantOrderID: req.OrderID,
		PaymentMethod: paymentMethod{Type: "wechat", WeChat: wechatMethod{Flow: "mini_program", SubAppID: c.cfg.SubAppID, SubOpenID: req.OpenID}},
		Description:   req.Description, NotifyURL: notifyURL,
	})
	orderID := req.OrderID
	return c.call(PathCreate, orderID, body, func(data json.RawMessage) ([]byte, error) {
		pp, err := PaymentParams(orderID, data)
		if err != nil {
			return nil, err
		}
		return transform.Marshal(pp), nil
	}), nil
}

// Query builds the query call by merchant_order_id; its answer becomes the
// status object.
func (c *Client) Query(req *transform.OrderRequest) (*transform.Call, error) {
	body := transform.Marshal(struct {
		MerchantOrderID string `json:"merchant_order_id"`
	}{req.OrderID})
	orderID := req.OrderID
	return c.call(PathQuery, orderID, body, func(data json.RawMessage) ([]byte, error) {
		st, err := StatusFromQuery(orderID, data)
		if err != nil {
			return nil, err
		}
		return transform.Marshal(st), nil
	}), nil
}

func (c *Client) call(path, orderID string, body []byte, decode func(json.RawMessage) ([]byte, error)) *transform.Call {
	return &transform.Call{
		Method: http.MethodPost, Path: path, ContentType: "application/json", Body: body, OrderID: orderID,
		Decode: func(status int, _ http.Header, answer []byte) ([]byte, error) {
			data, err := ReadAnswer(status, answer)
			if err != nil {
				return nil, err
			}
			return decode(data)
		},
	}
}

// envelope is every API answer: {"code","message","data","rid"}.
type envelope struct {
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// ReadAnswer checks an API answer and returns its data: 2xx (401 is the
// caller's), JSON, code 0. A non-zero code is the provider's refusal (422),
// also on a 4xx, as Latipay's and WeChat v3's are (README Errors): the
// refusal is the code, whichever status carries it. Another non-2xx answer
// (a 3xx, a 5xx, a 429: the request's rate is at fault, not the order) is a
// 502 either way: transform.AnswerNotOK, the rule the three share.
func ReadAnswer(status int, body []byte) (json.RawMessage, error) {
	var env envelope
	jsonErr := transform.UnmarshalExact(body, &env)
	if status < 200 || status > 299 {
		if jsonErr != nil {
			return nil, transform.Upstream("the provider answered HTTP " + strconv.Itoa(status))
		}
		return nil, transform.AnswerNotOK(status, codeText(env.Code), env.Message)
	}
	if errors.Is(jsonErr, transform.ErrDuplicateMember) {
		return nil, transform.Upstream("the provider's answer gives a member twice")
	}
	if jsonErr != nil {
		return nil, transform.Upstream("the provider's answer is not valid JSON")
	}
	code := codeText(env.Code)
	switch code {
	case "0":
	case "":
		return nil, transform.Upstream("the provider's answer has no code")
	default:
		return nil, transform.Rejected(code, env.Message)
	}
	if len(env.Data) == 0 || env.Data[0] != '{' {
		return nil, transform.Upstream("the provider's answer has no data object")
	}
	return env.Data, nil
}

// intent is the data of a create or query answer.
type intent struct {
	OrderID         transform.JSONText `json:"order_id"`
	MerchantOrderID transform.JSONText `json:"merchant_order_id"`
	Amount          transform.JSONText `json:"amount"`
	Currency        transform.JSONText `json:"currency"`
	Status          transform.JSONText `json:"status"`
	PayTime         transform.JSONText `json:"pay_time"`
	NextAction      *struct {
		Type transform.JSONText `json:"type"`
		Data *struct {
			NonceStr  transform.JSONText `json:"nonceStr"`
			Package   transform.JSONText `json:"package"`
			PaySign   transform.JSONText `json:"paySign"`
			SignType  transform.JSONText `json:"signType"`
			TimeStamp transform.JSONText `json:"timeStamp"`
		} `json:"data"`
	} `json:"next_action"`
}

func readIntent(orderID string, data json.RawMessage) (*intent, error) {
	var in intent
	if err := transform.UnmarshalExact(data, &in); err != nil {
		return nil, transform.Upstream("the provider's answer has an unexpected data object")
	}
	// create and query answers always name the order: a missing or
	// different merchant_order_id is an answer to another request.
	if string(in.MerchantOrderID) != orderID {
		return nil, transform.Upstream("the provider's answer is for another merchant_order_id")
	}
	return &in, nil
}

// PaymentParams maps a create answer's data to the wx.requestPayment object:
// next_action.data as CBTIS signed it (signType RSA included), plus the
// order references.
func PaymentParams(orderID string, data json.RawMessage) (*transform.PaymentParams, error) {
	in, err := readIntent(orderID, data)
	if err != nil {
		return nil, err
	}
	if in.NextAction == nil || in.NextAction.Data == nil {
		return nil, transform.Upstream("the provider's answer has no next_action.data")
	}
	d := in.NextAction.Data
	pp := &transform.PaymentParams{
		TimeStamp: string(d.TimeStamp), NonceStr: string(d.NonceStr), Package: string(d.Package),
		SignType: string(d.SignType), PaySign: string(d.PaySign),
		Provider: Name, OrderID: orderID, ProviderOrderID: string(in.OrderID),
	}
	if pp.TimeStamp == "" || pp.NonceStr == "" || pp.Package == "" || pp.SignType == "" || pp.PaySign == "" {
		return nil, transform.Upstream("the provider's next_action.data lacks a wx.requestPayment field")
	}
	if !transform.ValidTimeStamp(pp.TimeStamp) {
		return nil, transform.Upstream("the provider's next_action.data.timeStamp is not Unix seconds in decimal digits")
	}
	return pp, nil
}

// Payment intent statuses (data.status) and their status-object values:
// the documented ones (docs.globalcbtis.com, WeChat mini program flow).
// Another status is never guessed into a state, least of all a terminal one
// (a merchant could cancel an order the customer then pays): StatusFromQuery
// answers it with a 502 naming it.
var intentStatuses = map[string]string{
	"PENDING":   transform.StatusPending,
	"SUCCEEDED": transform.StatusSucceeded,
	"CANCELLED": transform.StatusCancelled,
}

// StatusFromQuery maps a query answer's data to the status object.
func StatusFromQuery(orderID string, data json.RawMessage) (*transform.PaymentStatus, error) {
	in, err := readIntent(orderID, data)
	if err != nil {
		return nil, err
	}
	raw := string(in.Status)
	if raw == "" {
		return nil, transform.Upstream("the provider's answer has no status")
	}
	status, ok := intentStatuses[raw] // exactly as documented: "succeeded" is not SUCCEEDED guessed right
	if !ok {
		return nil, transform.UpstreamCode("the provider's answer has an undocumented status", raw, "")
	}
	st := &transform.PaymentStatus{
		Provider: Name, OrderID: orderID, ProviderOrderID: string(in.OrderID),
		Status: status, ProviderStatus: raw,
	}
	// An amount is stated with its currency: an answer naming none gives
	// neither, as one without an amount (CBTIS documents no default).
	if in.Amount != "" && in.Currency != "" {
		m, ok := transform.MoneyFromDecimal(string(in.Amount), string(in.Currency))
		if !ok {
			return nil, transform.Upstream("the provider's answer has an invalid amount or currency")
		}
		st.Amount, st.Currency = m.String(), m.Currency
	}
	st.PaidAt = rfc3339(string(in.PayTime))
	return st, nil
}

// rfc3339 is a CBTIS time (pay_time, refund_time: RFC 3339 with
// milliseconds, docs/providers/cbtis.md "Endpoints") exactly as CBTIS wrote
// it, fraction and offset kept: paid_at and occurred_at name CBTIS's
// instant, not one up to a second earlier, and occurred_at equals the
// data's pay_time. Anything else is dropped rather than guessed
// (transform.RFC3339AsWritten).
func rfc3339(s string) string { return transform.RFC3339AsWritten(s) }
