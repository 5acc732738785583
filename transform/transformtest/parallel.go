package transformtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// ParallelPays sends n pays at once to sb, each a call client prepares from
// pay(i) (its order id and merchant JSON body), settles each order as soon
// as it was created, and lists the orders (the sandbox console) all along.
// Under -race it finds order state touched without the sandbox's lock;
// without it, lost orders: every pay must be answered and decoded, each
// with its own package, and sb must hold the n orders, each succeeded.
func ParallelPays(t *testing.T, sb transform.Sandbox, client transform.Client, n int, pay func(i int) (orderID string, body []byte)) {
	t.Helper()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		packages = map[string]bool{}
		done     atomic.Bool
	)
	listed := make(chan struct{})
	go func() { // the console, reading while the orders change
		defer close(listed)
		for !done.Load() {
			_ = sb.Orders()
		}
	}()
	for i := range n {
		wg.Go(func() {
			orderID, body := pay(i)
			call, err := client.Prepare(context.Background(), "pay", body)
			if err != nil {
				t.Errorf("pay %d: Prepare: %v", i, err)
				return
			}
			target := call.Path
			if call.RawQuery != "" {
				target += "?" + call.RawQuery
			}
			req := httptest.NewRequest(call.Method, target, bytes.NewReader(call.Body))
			for k, v := range call.Header {
				req.Header[k] = v
			}
			if call.ContentType != "" {
				req.Header.Set("Content-Type", call.ContentType)
			}
			rec := httptest.NewRecorder()
			sb.ServeHTTP(rec, req)
			out, err := call.Decode(rec.Code, rec.Header(), rec.Body.Bytes())
			var answer struct{ Package string }
			if err != nil || json.Unmarshal(out, &answer) != nil || answer.Package == "" {
				t.Errorf("pay %d: %d %s → %s %v", i, rec.Code, rec.Body, out, err)
				return
			}
			mu.Lock()
			dup := packages[answer.Package]
			packages[answer.Package] = true
			mu.Unlock()
			if dup {
				t.Errorf("pay %d: package %s was another order's", i, answer.Package)
			}
			if _, _, err := sb.Complete(orderID, true, time.Now()); err != nil {
				t.Errorf("Complete %s: %v", orderID, err)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	<-listed
	orders := sb.Orders()
	succeeded := 0
	for _, o := range orders {
		if o.State == transform.StatusSucceeded {
			succeeded++
		}
	}
	if len(orders) != n || succeeded != n {
		t.Fatalf("the sandbox holds %d orders, %d succeeded; want %d, all succeeded", len(orders), succeeded, n)
	}
}
