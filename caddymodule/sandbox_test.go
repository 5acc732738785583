package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// TestSandboxOwnEndpointsRefuseOtherMethods: each of the sandbox's own
// endpoints answers a method it does not serve with 405
// method_not_allowed and an Allow header listing the methods it does serve
// (RFC 9110 §15.5.6: a 405 MUST carry Allow).
func TestSandboxOwnEndpointsRefuseOtherMethods(t *testing.T) {
	tests := []struct {
		method, path, allow string
	}{
		{http.MethodGet, "/sandbox/complete", "POST"},
		{http.MethodPut, "/sandbox/", "GET, HEAD"},
		{http.MethodPut, "/sandbox/merchant/events", "GET, POST"},
		{http.MethodDelete, "/sandbox/merchant/events", "GET, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			s := &Sandbox{demo: new(demoMerchant), notes: new(notificationLog)}
			w := httptest.NewRecorder()
			if err := s.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil), nil); err != nil {
				t.Fatal(err)
			}
			var body struct{ Error transform.Error }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusMethodNotAllowed ||
				body.Error.Code != transform.CodeMethodNotAllowed {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Fatalf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestSandboxUnknownPath: a path no configured provider serves answers 404
// not_found in the JSON error form (README Sandbox).
func TestSandboxUnknownPath(t *testing.T) {
	s := &Sandbox{demo: new(demoMerchant), notes: new(notificationLog)}
	w := httptest.NewRecorder()
	if err := s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v2/miniapppay", nil), nil); err != nil {
		t.Fatal(err)
	}
	var body struct{ Error transform.Error }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusNotFound || body.Error.Code != "not_found" ||
		w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %s", w.Code, w.Header(), w.Body)
	}
}
