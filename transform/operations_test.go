package transform

import (
	"errors"
	"testing"
)

func TestOperationsDispatch(t *testing.T) {
	var got *OrderRequest
	ops := Operations{Query: func(r *OrderRequest) (*Call, error) { got = r; return &Call{OrderID: r.OrderID}, nil }}
	for op, want := range map[string]bool{OpPay: false, OpQuery: true, OpClose: false, OpRefund: false, OpLogin: false, "capture": false, "": false} {
		if ops.Supports(op) != want {
			t.Errorf("Supports(%q) = %v", op, !want)
		}
	}
	call, err := ops.Dispatch("demo", OpQuery, []byte(`{"order_id":"O1"}`))
	if err != nil || call.OrderID != "O1" || got.OrderID != "O1" {
		t.Fatalf("Dispatch = %+v, %v", call, err)
	}
	var e *Error
	if _, err := ops.Dispatch("demo", OpPay, []byte(`{}`)); !errors.As(err, &e) || e.Status != 404 || e.Code != CodeUnknownOperation {
		t.Fatalf("unsupported op: %v", err)
	}
	if _, err := ops.Dispatch("demo", OpQuery, []byte(`{"id":"O1"}`)); !errors.As(err, &e) || e.Status != 400 || e.Field != "id" {
		t.Fatalf("bad body: %v", err)
	}
}
