package transform

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestOperationsDispatch(t *testing.T) {
	var got *OrderRequest
	ops := Operations{Provider: "demo", Query: func(r *OrderRequest) (*Call, error) { got = r; return &Call{OrderID: r.OrderID}, nil }}
	for op, want := range map[string]bool{OpPay: false, OpQuery: true, OpClose: false, OpRefund: false, OpLogin: false, "capture": false, "": false} {
		if ops.Supports(op) != want {
			t.Errorf("Supports(%q) = %v", op, !want)
		}
	}
	call, err := ops.Prepare(context.Background(), OpQuery, []byte(`{"order_id":"O1"}`))
	if err != nil || call.OrderID != "O1" || got.OrderID != "O1" {
		t.Fatalf("Prepare = %+v, %v", call, err)
	}
	var e *Error
	if _, err := ops.Prepare(context.Background(), OpPay, []byte(`{}`)); !errors.As(err, &e) || e.Status != 404 || e.Code != CodeUnknownOperation {
		t.Fatalf("unsupported op: %v", err)
	}
	if _, err := ops.Prepare(context.Background(), OpQuery, []byte(`{"id":"O1"}`)); !errors.As(err, &e) || e.Status != 400 || e.Field != "id" {
		t.Fatalf("bad body: %v", err)
	}
}

// TestOperationsPayExpiry: README Merchant API: an expire_at that is not
// ahead of the clock is a 400 naming it, for every provider (those that do
// not send an expiry too), before the provider's builder runs.
func TestOperationsPayExpiry(t *testing.T) {
	now := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	built := 0
	ops := Operations{Provider: "demo", Now: func() time.Time { return now }, Pay: func(*PayRequest) (*Call, error) { built++; return &Call{}, nil }}
	pay := func(expireAt string) []byte {
		return []byte(`{"order_id":"O1","amount":"1","currency":"CNY","description":"d","openid":"o","expire_at":"` + expireAt + `"}`)
	}
	var e *Error
	for _, expireAt := range []string{"2026-11-22T02:00:00Z", "2026-11-22T09:59:59+08:00", "2000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"} {
		if _, err := ops.Prepare(context.Background(), OpPay, pay(expireAt)); !errors.As(err, &e) || e.Status != 400 || e.Field != "expire_at" {
			t.Errorf("expire_at %s: %v", expireAt, err)
		}
	}
	if built != 0 {
		t.Fatalf("the builder ran %d times for expired orders", built)
	}
	for _, expireAt := range []string{"2026-11-22T02:00:00.000000001Z", "2026-11-22T10:01:00+08:00"} {
		if _, err := ops.Prepare(context.Background(), OpPay, pay(expireAt)); err != nil {
			t.Errorf("expire_at %s: %v", expireAt, err)
		}
	}
	// Without a clock, the wall clock.
	ops.Now = nil
	if _, err := ops.Prepare(context.Background(), OpPay, pay(time.Now().Add(-time.Second).UTC().Format(time.RFC3339))); !errors.As(err, &e) || e.Field != "expire_at" {
		t.Errorf("a second ago, by the wall clock: %v", err)
	}
	if _, err := ops.Prepare(context.Background(), OpPay, pay(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))); err != nil {
		t.Errorf("in an hour, by the wall clock: %v", err)
	}
}

// TestRefusedRequestNamesOrder: a request refused by the decoder, Validate,
// the clock or its builder comes with a call holding only the order its
// body names, for minipay's log line (README "Observability"): the
// "order_id" member, that exact name once, a string keeping the order id
// rule, in an object encoding/json's Decoder reads member by member to its
// end. Each row's answer is also encoding/json's (orderNamedByEncodingJSON),
// including where that reading is lenient: an object cut short after a
// member or closed by ']', and text after it, still name the order.
func TestRefusedRequestNamesOrder(t *testing.T) {
	now := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	refuse := Invalid("description", "is refused by the provider")
	ops := Operations{Provider: "demo", Now: func() time.Time { return now },
		Pay: func(r *PayRequest) (*Call, error) {
			if r.Description == "refused" {
				return nil, refuse
			}
			return &Call{OrderID: r.OrderID}, nil
		},
		Query:       func(r *OrderRequest) (*Call, error) { return &Call{OrderID: r.OrderID}, nil },
		Close:       func(r *OrderRequest) (*Call, error) { return &Call{OrderID: r.OrderID}, nil },
		Refund:      func(r *RefundRequest) (*Call, error) { return &Call{OrderID: r.OrderID}, nil },
		RefundQuery: func(r *RefundQueryRequest) (*Call, error) { return &Call{OrderID: r.OrderID}, nil },
		Login:       func(r *LoginRequest) (*Call, error) { return &Call{}, nil },
	}
	nested := func(depth int) string {
		return `{"tip":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `,"order_id":"O1","x":1}`
	}
	tests := []struct {
		name, op, body, want string
	}{
		{"amount refused by Validate", OpPay, `{"order_id":"O1","amount":"-1","currency":"CNY","description":"d","openid":"o"}`, "O1"},
		{"refused by the builder", OpPay, `{"order_id":"O1","amount":"1","currency":"CNY","description":"refused","openid":"o"}`, "O1"},
		{"expire_at in the past", OpPay, `{"order_id":"O1","amount":"1","currency":"CNY","description":"d","openid":"o","expire_at":"2001-01-01T00:00:00Z"}`, "O1"},
		{"unknown member first", OpQuery, `{"tip":"1","order_id":"O1"}`, "O1"},
		{"empty name first", OpClose, `{"":"1","order_id":"O1"}`, "O1"},
		{"another member twice", OpRefund, `{"amount":"1","amount":"2","order_id":"O1"}`, "O1"},
		{"a number, an object, an array", OpClose, `{"tip":-0.5e+3,"x":{"a":[true,false,null,"s",{}]},"order_id":"O1"}`, "O1"},
		{"escapes in the name and the value", OpQuery, `{"order\u005fid":"O\u0031","x":1}`, "O1"},
		{"invalid UTF-8 in another name", OpQuery, "{\"\xff\":1,\"order_id\":\"O1\"}", "O1"},
		{"invalid UTF-8 in another value", OpPay, "{\"attach\":\"\xff\",\"order_id\":\"O1\"}", "O1"},
		{"a control character in another value", OpPay, `{"attach":"\u0001","order_id":"O1"}`, "O1"},
		{"refund_id refused, order_id given", OpRefundQuery, `{"refund_id":"R 1","order_id":"O1"}`, "O1"},
		{"refund_query without order_id", OpRefundQuery, `{"refund_id":"R 1"}`, ""},
		{"cut short after a member", OpPay, `{"order_id":"O1","amount":"1"`, "O1"},
		{"cut short after a number", OpPay, `{"order_id":"O1","amount":1 `, "O1"},
		{"closed by a bracket", OpQuery, `{"order_id":"O1","x":1]`, "O1"},
		{"text after the object", OpQuery, `{"order_id":"O1"} x`, "O1"},
		{"nested as deep as encoding/json reads", OpClose, nested(10000), "O1"},
		{"nested deeper", OpClose, nested(10001), ""},
		{"cut short after a colon", OpPay, `{"order_id":"O1","amount":`, ""},
		{"cut short after a comma", OpPay, `{"order_id":"O1",`, ""},
		{"a trailing comma", OpQuery, `{"order_id":"O1","x":1,}`, ""},
		{"a missing comma", OpQuery, `{"x":1 "order_id":"O1"}`, ""},
		{"a leading zero", OpQuery, `{"order_id":"O1","x":01}`, ""},
		{"half a literal", OpQuery, `{"order_id":"O1","x":tru}`, ""},
		{"a trailing comma in an array", OpQuery, `{"order_id":"O1","x":[1,]}`, ""},
		{"a bad escape", OpQuery, `{"order_id":"O1","x":"\x"}`, ""},
		{"a brace closing an array", OpQuery, `{"order_id":"O1","x":[1}`, ""},
		{"order_id only in a nested object", OpQuery, `{"x":{"order_id":"O1"}}`, ""},
		{"order_id twice", OpQuery, `{"order_id":"O1","order_id":"O1"}`, ""},
		{"order_id null", OpQuery, `{"order_id":null,"x":1}`, ""},
		{"order_id a number", OpQuery, `{"order_id":1,"x":1}`, ""},
		{"order_id breaking its rule", OpQuery, `{"order_id":"O 1","x":1}`, ""},
		{"order_id of invalid UTF-8", OpQuery, "{\"order_id\":\"O\xff\",\"x\":1}", ""},
		{"another key's case", OpQuery, `{"ORDER_ID":"O1"}`, ""},
		{"a byte order mark", OpQuery, "\ufeff{\"order_id\":\"O1\",\"x\":1}", ""},
		{"a login", OpLogin, `{"code":"c","order_id":"O1"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ref := orderNamedByEncodingJSON([]byte(tt.body)); ref != tt.want && tt.op != OpLogin {
				t.Fatalf("encoding/json names %q, the row %q", ref, tt.want)
			}
			call, err := ops.Prepare(context.Background(), tt.op, []byte(tt.body))
			if err == nil {
				t.Fatalf("accepted, call %+v", call)
			}
			switch {
			case tt.want == "" && call != nil:
				t.Fatalf("call %+v, want none (%v)", call, err)
			case tt.want != "" && (call == nil || !reflect.DeepEqual(*call, Call{OrderID: tt.want})):
				t.Fatalf("call %+v, want one naming only %q (%v)", call, tt.want, err)
			}
		})
	}
	// A builder's own call with its error is passed on as it is.
	token := &Call{Method: "POST", OrderID: "O1"}
	ops.Query = func(*OrderRequest) (*Call, error) { return token, refuse }
	if call, err := ops.Prepare(context.Background(), OpQuery, []byte(`{"order_id":"O1"}`)); call != token || err != refuse {
		t.Fatalf("Prepare = %+v, %v; want the builder's call and error", call, err)
	}
}

// TestOperationsCallerIP: a pay's CallerIP is the context's (WithCallerIP)
// only for Operations whose Pay may fall back on it (CallerIPFallback, which
// ReadsCallerIP reports to minipay); the others' is empty whatever the
// context holds, so minipay need not put it there.
func TestOperationsCallerIP(t *testing.T) {
	body := []byte(`{"order_id":"O1","amount":"1","currency":"CNY","description":"d","openid":"o"}`)
	for _, tt := range []struct {
		fallback bool
		ctx      context.Context
		want     string
	}{
		{true, WithCallerIP(context.Background(), "192.0.2.7"), "192.0.2.7"},
		{true, WithCallerIP(context.Background(), "not an IP"), ""},
		{true, context.Background(), ""},
		{false, WithCallerIP(context.Background(), "192.0.2.7"), ""},
	} {
		var got *PayRequest
		ops := Operations{Provider: "demo", CallerIPFallback: tt.fallback, Pay: func(r *PayRequest) (*Call, error) { got = r; return &Call{}, nil }}
		if ops.ReadsCallerIP() != tt.fallback {
			t.Fatalf("ReadsCallerIP() = %v with CallerIPFallback %v", !tt.fallback, tt.fallback)
		}
		if _, err := ops.Prepare(tt.ctx, OpPay, body); err != nil || got.CallerIP != tt.want {
			t.Fatalf("fallback %v: CallerIP %q, %v; want %q", tt.fallback, got.CallerIP, err, tt.want)
		}
	}
}
