package caddymodule

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestHandlerCleanupClosesIdleConnections: a cbtis route's client keeps
// the connection of its token fetch idle for 30 s on its own http.Client;
// the handler's Cleanup, which Caddy calls on the old configuration's
// modules at a reload, closes it, whether the token endpoint gave a token
// or refused one. A route of a provider without a client of its own
// cleans up as before.
func TestHandlerCleanupClosesIdleConnections(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		answer string
	}{
		{"a token", http.StatusOK, `{"access_token":"tok-cleanup","expires_in":3600}`},
		{"a refusal", http.StatusUnauthorized, `{"code":40100,"message":"bad credentials"}`},
	} {
		t.Run("cbtis, after "+tt.name, func(t *testing.T) {
			tokens := transformtest.NewConnServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.answer))
			}))
			cfg := clientConfigs(t)["cbtis"]
			cfg["token_url"] = tokens.URL + cbtis.PathAuth
			h := cleanupHandler(t, "cbtis", cfg)
			forwarded := false
			w := payWith(h, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				forwarded = r.Header.Get("Authorization") == "Bearer tok-cleanup"
				w.WriteHeader(http.StatusBadGateway)
				return nil
			}), payJSON)
			if forwarded != (tt.status == http.StatusOK) {
				t.Fatalf("pay forwarded with the token: %v (HTTP %d %s), the token endpoint answering %d", forwarded, w.Code, w.Body, tt.status)
			}
			if n := tokens.Open(); n != 1 {
				t.Fatalf("%d connections open to the token endpoint after the pay, want the 1 kept idle", n)
			}
			if err := h.Cleanup(); err != nil || h.ids != nil {
				t.Fatalf("Cleanup: %v, admin listing %v", err, h.ids)
			}
			if n := tokens.OpenAfter(0, 5*time.Second); n != 0 {
				t.Fatalf("%d connections open to the token endpoint 5 s after the handler's Cleanup, want 0", n)
			}
		})
	}
	t.Run("latipay", func(t *testing.T) {
		h := cleanupHandler(t, "latipay", clientConfigs(t)["latipay"])
		if err := h.Cleanup(); err != nil || h.ids != nil {
			t.Fatalf("Cleanup: %v, admin listing %v", err, h.ids)
		}
	})
}

// cleanupHandler is a minipay route of provider name configured with cfg,
// its client built as Provision builds it and listed on the admin API.
func cleanupHandler(t *testing.T, name string, cfg map[string]any) *Handler {
	t.Helper()
	p, err := resolveProvider(providerModule(t, name, cfg), transform.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	client, err := p.(clientProvider).NewClient()
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandlerOf(t, name, client, io.Discard, zapcore.ErrorLevel)
	h.ids = []uint64{1 << 62} // as listed by Provision
	return h
}
