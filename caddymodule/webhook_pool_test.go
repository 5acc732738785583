package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform"
)

// distinctNotifications verifies a body "ref" as an event naming ref in its
// id, its order and its data, so that an event can be told from every other.
type distinctNotifications struct{ fakeNotifications }

func (distinctNotifications) Verify(n transform.Notification) (*transform.Event, error) {
	ref := string(n.Body)
	if n.Header.Get("X-Delivery") != ref {
		return nil, errors.New("not this delivery")
	}
	return &transform.Event{ID: "fake:" + ref + ":payment.succeeded", Provider: "fake", Type: transform.EventPaymentSucceeded,
		OrderID: "O-" + ref, Data: map[string]string{"ref": ref, "pad": strings.Repeat(ref, len(ref)%7)}}, nil
}

// TestWebhookPooledScratchUnderConcurrency: many distinct notifications
// forwarded at once, with pays between them that use the same pool of
// recorders: the merchant handler (playing reverse_proxy: it copies the
// header, then reads the event) sees exactly its own event's headers and
// body, none of the provider's header and none of another request's, even
// after writing a value in place and adding one (as request_header and
// header_up may); the provider's own header is back on each request once
// answered. Meant for -race, which also reports the scratch written by one
// request while another reads it.
func TestWebhookPooledScratchUnderConcurrency(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	hook := &Webhook{providerHandler: providerHandler{name: "fake", logger: zap.NewNop(), metrics: m}, webhook: distinctNotifications{}}
	payer := newTestHandler(t, io.Discard, zapcore.ErrorLevel)
	answer := signedPayAnswer()
	errs := make(chan string, 1024)
	report := func(format string, args ...any) {
		select {
		case errs <- fmt.Sprintf(format, args...):
		default:
		}
	}
	merchant := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		own := r.Header.Clone() // as reverse_proxy copies it before it sends anything
		runtime.Gosched()
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			ID      string `json:"id"`
			OrderID string `json:"order_id"`
			Data    map[string]string
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			report("event %q: %v", body, err)
			return nil
		}
		ref := ev.Data["ref"]
		id := "fake:" + ref + ":payment.succeeded"
		if ev.ID != id || ev.OrderID != "O-"+ref || ev.Data["pad"] != strings.Repeat(ref, len(ref)%7) {
			report("event %s mixes two notifications", body)
		}
		check := func(h http.Header, when string) {
			want := http.Header{"Content-Type": {"application/json"}, "Minipay-Event-Id": {id}, "Minipay-Provider": {"fake"}}
			for k, v := range want {
				if got := h[k]; len(got) != 1 || got[0] != v[0] {
					report("%s: %s %q, want %q", when, k, got, v)
				}
			}
			if len(h) != len(want)+1 || h.Get("X-Delivery") != "" { // and X-Forwarded-Host: nil
				report("%s: header %v", when, h)
			}
		}
		check(own, "copied")
		check(r.Header, "as received")
		r.Header["Minipay-Provider"][0] = "rewritten " + ref // in place
		r.Header.Add("Content-Type", "added "+ref)
		runtime.Gosched()
		if got := r.Header["Minipay-Event-Id"]; len(got) != 1 || got[0] != id {
			report("after writes in place: Minipay-Event-Id %q, want %q", got, id)
		}
		check(own, "the copy after writes in place")
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	provider := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.Header.Get("Minipay-Event-Id") != "" || r.Header.Get("X-Delivery") != "" {
			report("the provider got %v", r.Header)
		}
		return upstream(answer).ServeHTTP(w, r)
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 150 {
				ref := fmt.Sprintf("%d-%d%s", g, i, strings.Repeat("r", (g*7+i*3)%20))
				if i%4 == 3 {
					if w := payWith(payer, provider, payJSON); w.Code != http.StatusOK {
						report("pay: %d %s", w.Code, w.Body)
					}
					continue
				}
				r := httptest.NewRequest(http.MethodPost, "/webhooks/fake?x="+ref, strings.NewReader(ref))
				r.Header.Set("X-Delivery", ref)
				own := r.Header
				w := httptest.NewRecorder()
				if err := hook.ServeHTTP(w, r, merchant); err != nil || w.Code != http.StatusOK {
					report("notification %s: %v %d %s", ref, err, w.Code, w.Body)
				}
				if len(r.Header) != 1 || r.Header.Get("X-Delivery") != ref || len(own) != 1 || r.URL.RawQuery != "x="+ref {
					report("the provider's request %s holds %v once answered", ref, r.Header)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
