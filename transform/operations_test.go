package transform

import (
	"context"
	"errors"
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
