package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// recordingSandbox is a provider sandbox that records what
// POST /sandbox/complete asks of it and settles without sending anything.
type recordingSandbox struct{ completed []string }

func (*recordingSandbox) Handles(string) bool                          { return false }
func (*recordingSandbox) ServeHTTP(http.ResponseWriter, *http.Request) {}
func (*recordingSandbox) Orders() []transform.SandboxOrder             { return nil }

func (s *recordingSandbox) Complete(orderID string, succeeded bool, _ time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.completed = append(s.completed, fmt.Sprintf("%s %v", orderID, succeeded))
	return nil, nil, fmt.Errorf("%w: recorded", transform.ErrNotNotified)
}

// FuzzSandboxComplete: POST /sandbox/complete (README Sandbox), for any
// method, Content-Type, Content-Encoding, Sec-Fetch-Site, Origin, Host and
// body, answers JSON, never a 5xx; it settles an order (the provider's
// Complete runs, once) only for a POST that is no browser's cross-site
// request (Sec-Fetch-Site other than same-origin or none; else an Origin
// that is not this Host), without a Content-Encoding other than identity,
// whose body encoding/json reads as an object of exactly the strings
// provider, order_id and result (each at most once, names exact), naming
// the emulated provider and succeeded or failed; and then the order and the
// result are those. A cross-site request is a 403 cross_site_request.
func FuzzSandboxComplete(f *testing.F) {
	f.Add("POST", "", "", "", "localhost:2019", "", []byte(`{"provider":"fake","order_id":"A-1","result":"succeeded"}`))
	f.Add("POST", "cross-site", "", "", "localhost:2019", "text/plain", []byte(`{"provider":"fake","order_id":"A-1","result":"failed"}`))
	f.Add("POST", "", "https://evil.example", "", "localhost:2019", "application/x-www-form-urlencoded", []byte(`{"provider":"fake","order_id":"A-1","result":"failed"}`))
	f.Add("POST", "", "null", "", "localhost:2019", "", []byte(`{"provider":"fake","order_id":"A-1","result":"failed"}`))
	f.Add("POST", "same-origin", "http://LOCALHOST:2019", "", "localhost:2019", "", []byte(`{"provider":"fake","order_id":"A-1","result":"failed"}`))
	f.Add("POST", "", "", "gzip", "localhost:2019", "", []byte(`{"provider":"fake","order_id":"A-1","result":"failed"}`))
	f.Add("POST", "", "", "", "h", "", []byte(`{"provider":"fake","order_id":"A-1","Result":"failed"}`))
	f.Add("POST", "", "", "", "h", "", []byte(`{"provider":"fake","order_id":"A-1","result":"failed","result":"succeeded"}`))
	f.Add("GET", "none", "", "", "h", "", []byte{})
	f.Fuzz(func(t *testing.T, method, fetchSite, origin, coding, host, contentType string, body []byte) {
		r, err := http.NewRequest(method, "http://sandbox.invalid/sandbox/complete", bytes.NewReader(body))
		if err != nil {
			return // no method net/http sends
		}
		for name, value := range map[string]string{"Sec-Fetch-Site": fetchSite, "Origin": origin, "Content-Encoding": coding, "Content-Type": contentType} {
			if value != "" {
				r.Header.Set(name, value)
			}
		}
		r.Host = host
		fake := &recordingSandbox{}
		s := &Sandbox{providers: map[string]transform.Sandbox{"fake": fake}, names: []string{"fake"}, logger: zap.NewNop(),
			demo: new(demoMerchant), notes: new(notificationLog)}
		w := httptest.NewRecorder()
		if err := s.ServeHTTP(w, r, nil); err != nil {
			t.Fatal(err)
		}
		var answer struct{ Error *transform.Error }
		if w.Code >= 500 || json.Unmarshal(w.Body.Bytes(), &answer) != nil || (w.Code == http.StatusOK) != (answer.Error == nil) {
			t.Fatalf("%d %q", w.Code, w.Body)
		}
		// A browser's Origin is "null" or scheme://host[:port]; what else a
		// script sends there is left out.
		crossSite := false
		if fetchSite != "" {
			crossSite = fetchSite != "same-origin" && fetchSite != "none"
		} else if origin != "" {
			scheme, authority, ok := strings.Cut(origin, "://")
			if origin != "null" && (!ok || scheme != "http" && scheme != "https" || authority == "" || strings.ContainsAny(authority, "/?#@%[] \t")) {
				return
			}
			crossSite = origin == "null" || !strings.EqualFold(authority, host)
		}
		if crossSite && method == http.MethodPost && (w.Code != http.StatusForbidden || answer.Error.Code != codeCrossSite) {
			t.Fatalf("a cross-site request (Sec-Fetch-Site %q, Origin %q, Host %q): %d %s", fetchSite, origin, host, w.Code, w.Body)
		}
		var req struct{ Provider, OrderID, Result string }
		readable := readsAsComplete(body, &req)
		codings, codingsRead := transform.ContentCodings(r.Header)
		identity := codingsRead && !slices.ContainsFunc(codings, func(c string) bool { return c != "identity" })
		settles := method == http.MethodPost && !crossSite && identity && readable && req.Provider == "fake" &&
			(req.Result == "succeeded" || req.Result == "failed")
		if settles {
			if want := fmt.Sprintf("%s %v", req.OrderID, req.Result == "succeeded"); len(fake.completed) != 1 || fake.completed[0] != want || w.Code != http.StatusOK {
				t.Fatalf("%q: completed %q, want %q (%d %s)", body, fake.completed, want, w.Code, w.Body)
			}
		} else if len(fake.completed) != 0 {
			t.Fatalf("%s %q (Sec-Fetch-Site %q, Origin %q, Host %q, Content-Encoding %q): settled %q", method, body, fetchSite, origin, host, coding, fake.completed)
		}
	})
}

// readsAsComplete reads body as README Sandbox says /sandbox/complete's is
// read ("as the merchant API reads a request"), with encoding/json: UTF-8,
// one object of string (or null) members named exactly provider, order_id
// and result, each at most once, and nothing after it; no value holds a
// control character but a tab or a line feed, nor U+FFFE or U+FFFF.
func readsAsComplete(body []byte, req *struct{ Provider, OrderID, Result string }) bool {
	if !utf8.Valid(body) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		name, _ := tok.(string)
		if err != nil || seen[name] {
			return false
		}
		seen[name] = true
		var value *string
		if err := dec.Decode(&value); err != nil {
			return false
		}
		v := ""
		if value != nil {
			v = *value
		}
		for _, c := range v {
			if c < 0x20 && c != '\t' && c != '\n' || c >= 0x7f && c <= 0x9f || c == 0xfffe || c == 0xffff {
				return false
			}
		}
		switch name {
		case "provider":
			req.Provider = v
		case "order_id":
			req.OrderID = v
		case "result":
			req.Result = v
		default:
			return false
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return false
	}
	_, err := dec.Token()
	return err != nil // nothing after the object
}
