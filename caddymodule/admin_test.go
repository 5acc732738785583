package caddymodule

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// GET /minipay/providers is read-only: any other method is a 405 whose
// Allow header names GET, as RFC 9110 §15.5.6 requires of a 405.
func TestAdminProvidersMethods(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions} {
		t.Run(method, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := serveProviders(w, httptest.NewRequest(method, "/minipay/providers", nil))
			var apiErr caddy.APIError
			if !errors.As(err, &apiErr) || apiErr.HTTPStatus != http.StatusMethodNotAllowed {
				t.Fatalf("%s: %v, want a 405 APIError", method, err)
			}
			if got := w.Header().Get("Allow"); got != http.MethodGet {
				t.Fatalf("%s: Allow %q, want GET", method, got)
			}
		})
	}
	w := httptest.NewRecorder()
	if err := serveProviders(w, httptest.NewRequest(http.MethodGet, "/minipay/providers", nil)); err != nil || w.Code != http.StatusOK ||
		w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Allow") != "" {
		t.Fatalf("GET: %v, %d %q", err, w.Code, w.Header())
	}
}
