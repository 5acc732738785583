package cbtis

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzQueryStatus: a query answer's data object the fuzzer writes reads as
// a status object only with what it holds (README CBTIS): the order asked
// about, which merchant_order_id names; order_id; the documented status
// and its mapping; amount (its value, in currency) when both are given,
// none otherwise. Objects CBTIS never writes (a name given twice, or in
// another case than CBTIS's) are left out.
func FuzzQueryStatus(f *testing.F) {
	f.Add([]byte(`{"order_id":"C1","merchant_order_id":"O1","amount":"12.30","currency":"HKD","status":"SUCCEEDED","pay_time":"2026-11-22T12:02:27.930Z"}`))
	f.Add([]byte(`{"order_id":"C1","merchant_order_id":"O1","amount":12.3,"currency":"JPY","status":"PENDING"}`))
	f.Add([]byte(`{"order_id":1,"merchant_order_id":"O1","amount":"0","currency":"HKD","status":"CANCELLED"}`))
	f.Add([]byte(`{"merchant_order_id":"O1","amount":"105.000","currency":"JPY","status":"SUCCEEDED"}`))
	f.Add([]byte(`{"merchant_order_id":"O1","Amount":"1","amount":"2","currency":"HKD","status":"SUCCEEDED"}`))
	states := map[string]string{"PENDING": transform.StatusPending, "SUCCEEDED": transform.StatusSucceeded, "CANCELLED": transform.StatusCancelled}
	names := []string{"order_id", "merchant_order_id", "amount", "currency", "status", "pay_time", "next_action"}
	f.Fuzz(func(t *testing.T, data []byte) {
		flat, err := transform.FlattenJSON(data, 8, 4096)
		if err != nil {
			return // no single reading: a name given twice, or no JSON object
		}
		for name := range flat {
			for _, n := range names {
				if strings.EqualFold(name, n) && name != n {
					return // a name in a case CBTIS never writes (encoding/json matches any)
				}
			}
		}
		st, err := StatusFromQuery("O1", json.RawMessage(data))
		if err != nil {
			return // FuzzReadAnswer: refusals are 422 or 502
		}
		if st.OrderID != "O1" || flat["merchant_order_id"] != "O1" || st.ProviderOrderID != flat["order_id"] ||
			st.ProviderStatus != flat["status"] || st.Status != states[flat["status"]] || st.Status == "" {
			t.Fatalf("%q read as %+v", data, st)
		}
		if flat["amount"] == "" || flat["currency"] == "" {
			if st.Amount != "" || st.Currency != "" {
				t.Fatalf("%q, without an amount and its currency, read as %+v", data, st)
			}
			return
		}
		amount, ok := new(big.Rat).SetString(st.Amount)
		want, _ := new(big.Rat).SetString(flat["amount"])
		if !ok || want == nil || st.Currency != flat["currency"] || amount.Cmp(want) != 0 {
			t.Fatalf("%q read as %+v", data, st)
		}
	})
}
