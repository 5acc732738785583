package transform

import (
	"context"
	"time"
)

// Operations is a provider's merchant API: one builder per operation it
// supports (nil for the others). Prepare decodes the merchant's body into
// the operation's canonical request and validates it, so a builder receives
// a valid request (Money and Expire filled) and only builds the call.
//
// A provider's Client embeds Operations, which gives it Supports and
// Prepare (transform.Client); its builders are the Client's own methods:
//
//	c.Operations = transform.Operations{Provider: Name, Pay: c.Pay, Query: c.Query}
//
// A caller who builds a request in Go instead of JSON and calls a builder
// (Client.Pay) itself must run the request's Validate first: the builders
// read Money and Expire, which only Validate fills, and check nothing
// Validate checks (a zero Money would be sent as an amount of 0). Prepare
// also refuses an expire_at that is not ahead of Now.
type Operations struct {
	// Provider names the provider in an unknown_operation error.
	Provider string
	// Now is the clock a pay's expire_at must be ahead of; nil is time.Now.
	Now func() time.Time
	// CallerIPFallback says that Pay may fall back on the caller's IP
	// (PayRequest.CallerIP, from the context: WithCallerIP); without it
	// Prepare leaves CallerIP empty, and minipay, asking ReadsCallerIP once,
	// puts none in a request's context.
	CallerIPFallback bool

	Pay         func(*PayRequest) (*Call, error)
	Query       func(*OrderRequest) (*Call, error)
	Close       func(*OrderRequest) (*Call, error)
	Refund      func(*RefundRequest) (*Call, error)
	RefundQuery func(*RefundQueryRequest) (*Call, error)
	Login       func(*LoginRequest) (*Call, error)
}

// Supports tells whether op has a builder (transform.Client).
func (o *Operations) Supports(op string) bool {
	switch op {
	case OpPay:
		return o.Pay != nil
	case OpQuery:
		return o.Query != nil
	case OpClose:
		return o.Close != nil
	case OpRefund:
		return o.Refund != nil
	case OpRefundQuery:
		return o.RefundQuery != nil
	case OpLogin:
		return o.Login != nil
	}
	return false
}

// ReadsCallerIP tells whether a pay may fall back on the caller's IP in
// its context (CallerIPFallback).
func (o *Operations) ReadsCallerIP() bool { return o.CallerIPFallback }

// Prepare decodes and validates body for op and calls its builder
// (transform.Client); an op without one is a 404 unknown_operation naming
// the Provider. A pay request gets the caller's IP from ctx
// (PayRequest.CallerIP) when CallerIPFallback says Pay reads it. A request refused on the way (by the decoder,
// Validate, the clock or the builder) comes with a call holding only its
// OrderID, for the log line, when its body names one: an "order_id"
// member, that exact name once, a string keeping the order id rule, in an
// object encoding/json's Decoder reads to its end member by member
// (readFlatJSON goes on reading a body it refuses to find it); a login
// names none.
func (o *Operations) Prepare(ctx context.Context, op string, body []byte) (*Call, error) {
	if !o.Supports(op) {
		return nil, UnknownOperation(o.Provider, op)
	}
	switch op {
	case OpPay:
		var callerIP string
		if o.CallerIPFallback {
			callerIP = CallerIP(ctx)
		}
		return o.pay(callerIP, body)
	case OpQuery:
		return build(body, o.Query)
	case OpClose:
		return build(body, o.Close)
	case OpRefund:
		return build(body, o.Refund)
	case OpRefundQuery:
		return build(body, o.RefundQuery)
	default:
		return build(body, o.Login)
	}
}

// pay is build for a pay request, with CallerIP set and expire_at checked
// against the clock.
func (o *Operations) pay(callerIP string, body []byte) (*Call, error) {
	req, named, err := decode[PayRequest](body)
	if err != nil {
		return refused(named, err)
	}
	// One rule for every provider, whether it sends the expiry or not:
	// an order that would be expired at once is the merchant's error.
	if !req.Expire.IsZero() && !req.Expire.After(o.now()) {
		return refused(req.OrderID, Invalid("expire_at", "must be in the future"))
	}
	req.CallerIP = callerIP
	call, err := o.Pay(req)
	if err != nil && call == nil {
		return refused(req.OrderID, err)
	}
	return call, err
}

// request is a canonical request: a pointer to R that validates itself.
type request[R any] interface {
	*R
	flatJSON
	Validate() error
}

// build decodes, validates, then builds: a builder never sees a request
// that has not passed Validate.
func build[R any, P request[R]](body []byte, builder func(P) (*Call, error)) (*Call, error) {
	req, named, err := decode[R, P](body)
	if err != nil {
		return refused(named, err)
	}
	call, err := builder(req)
	if err != nil && call == nil {
		return refused(orderIDOf(req), err)
	}
	return call, err
}

// decode reads body into a new request and validates it. A request it
// refuses comes with the order its body names (readFlatJSON, or the
// request's own order_id when Validate refused another field).
func decode[R any, P request[R]](body []byte) (P, string, error) {
	req := P(new(R))
	l := req.jsonFields()
	if named, err := readFlatJSON(body, l.fields[:l.n], true); err != nil {
		return nil, named, err
	}
	if err := req.Validate(); err != nil {
		return nil, orderIDOf(req), err
	}
	return req, "", nil
}

// refused is Prepare's answer to a request refused before a call was
// built: err, with a call that only names the order for the log line
// (transform.Client) when orderID keeps the order id rule.
func refused(orderID string, err error) (*Call, error) {
	if orderID == "" || ValidOrderID(orderIDField, orderID) != nil {
		return nil, err
	}
	return &Call{OrderID: orderID}, err
}

// orderIDOf is the request's order_id, "" for one without (a login).
func orderIDOf(req flatJSON) string {
	l := req.jsonFields()
	for _, f := range l.fields[:l.n] {
		if f.Name == orderIDField {
			return *f.Value
		}
	}
	return ""
}

func (o *Operations) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
