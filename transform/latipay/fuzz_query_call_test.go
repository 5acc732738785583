package latipay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzQueryCall: the query call's Decode reads any answer as the status
// object (valid JSON, exactly the documented members, paid_at only for a
// paid order), a 422/502 *transform.Error, or, for Latipay's 206 alone, a
// *transform.RetryError that is ErrRetry and whose Final is that 502 (and
// the next call is signed in the other form); never a result with an error.
func FuzzQueryCall(f *testing.F) {
	const ref = "dsi39ej430sks03"
	f.Add(200, []byte(queryAnswerJSON(ref, "alipay", "paid", "NZD", `120.00`, "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1")))
	f.Add(200, []byte(queryAnswerJSON(ref, "wechat", "pending", "NZD", `1.5`, refNotify(ref, "wechat", "pending", "NZD", "1.5", vecAPIKey))))
	f.Add(200, []byte(queryAnswerJSON(ref, "wechat", "failed", "NZD", `1.5`, refNotify(ref, "wechat", "failed", "NZD", "1.5", vecAPIKey))))
	f.Add(200, []byte(`{"code":206,"message":"Signature from Merchant request is wrong"}`))
	f.Add(200, []byte(`{"code":"206","message":"Signature from Merchant request is wrong"}`))
	f.Add(401, []byte(`{"code":206}`))
	f.Add(404, []byte(`{"code":201,"message":"order not exist"}`))
	c := newClient(f, testConfig())
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		call, err := c.Prepare(context.Background(), transform.OpQuery, []byte(`{"order_id":"`+ref+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		out, err := call.Decode(status, http.Header{}, body)
		if err != nil {
			if out != nil {
				t.Fatalf("result %q with error %v", out, err)
			}
			var e *transform.Error
			var retry *transform.RetryError
			switch {
			case errors.As(err, &retry):
				if !errors.Is(err, transform.ErrRetry) || !errors.As(retry.Final, &e) || e.Status != 502 || e.ProviderCode != codeSignatureWrong {
					t.Fatalf("retry for %q: %v, final %v", body, err, retry.Final)
				}
				again, perr := c.Prepare(context.Background(), transform.OpQuery, []byte(`{"order_id":"`+ref+`"}`))
				if perr != nil || again.RawQuery == call.RawQuery {
					t.Fatalf("the retried call is signed as the refused one: %s", again.RawQuery)
				}
			case errors.As(err, &e):
				if e.Status != 502 && e.Status != 422 || e.ProviderCode == codeSignatureWrong {
					t.Fatalf("error %+v for %q", e, body)
				}
			default:
				t.Fatalf("error %v (%T)", err, err)
			}
			return
		}
		var got map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		if err := dec.Decode(&got); err != nil || dec.More() {
			t.Fatalf("%q read as invalid JSON %q", body, out)
		}
		members := []string{"provider", "order_id", "provider_order_id", "status", "amount", "currency", "provider_status"}
		if got["status"] == transform.StatusSucceeded || got["status"] == transform.StatusRefunded {
			if _, ok := got["paid_at"]; ok {
				members = append(members, "paid_at")
			}
		}
		for _, m := range members {
			if _, ok := got[m].(string); !ok {
				t.Fatalf("%s has no string %s", out, m)
			}
		}
		if len(got) != len(members) || got["order_id"] != ref || got["provider"] != Name {
			t.Fatalf("%q read as %s", body, out)
		}
	})
}
