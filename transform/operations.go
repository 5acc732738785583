package transform

// Operations is a provider's merchant API: one builder per operation it
// supports (nil for the others). Dispatch decodes the merchant's body into
// the operation's canonical request, so providers only build calls.
type Operations struct {
	Pay    func(*PayRequest) (*Call, error)
	Query  func(*OrderRequest) (*Call, error)
	Close  func(*OrderRequest) (*Call, error)
	Refund func(*RefundRequest) (*Call, error)
	Login  func(*LoginRequest) (*Call, error)
}

// Supports tells whether op has a builder.
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
	case OpLogin:
		return o.Login != nil
	}
	return false
}

// Dispatch decodes body for op and calls its builder; an op without one is
// a 404 unknown_operation naming provider.
func (o *Operations) Dispatch(provider, op string, body []byte) (*Call, error) {
	if !o.Supports(op) {
		return nil, UnknownOperation(provider, op)
	}
	switch op {
	case OpPay:
		return build(body, o.Pay)
	case OpQuery:
		return build(body, o.Query)
	case OpClose:
		return build(body, o.Close)
	case OpRefund:
		return build(body, o.Refund)
	default:
		return build(body, o.Login)
	}
}

func build[R any](body []byte, builder func(*R) (*Call, error)) (*Call, error) {
	req := new(R)
	if err := DecodeJSON(body, req); err != nil {
		return nil, err
	}
	return builder(req)
}
