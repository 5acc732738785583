//go:build !race

package integration

import "testing"

// TestProviderClosesConnectionsHTTP2 is TestProviderClosesConnections over
// HTTP/2 (over TLS with a tls_trust_pool, as Caddy's default versions
// negotiate with a real provider, and h2c), where a closed connection is a
// GOAWAY: idle timeouts, Connection: close on every answer (a GOAWAY after
// each), and a provider and backend shut down gracefully and served again
// every 150 ms under load (a GOAWAY, then refused connections, each a 502
// upstream_error "the provider could not be reached" for a pay, and the
// failure form for a notification). Its transport sends again itself what
// the provider did not take. Without the race detector (in the soak's step
// of .ci/run): Caddy 2.11.9's reverse_proxy wraps the request body in a
// bodyNopCloserIfNotRead whose Read and Close race when x/net/http2 closes
// a stream's body while still writing it (a connection closed under it).
// README "Under faults and reloads".
func TestProviderClosesConnectionsHTTP2(t *testing.T) {
	const h2 = "tls_trust_pool file {ca}\n\t\t\t\ttls_server_name example.com\n\t\t\t\tversions 2"
	runConnVariants(t, []connVariant{
		{"HTTP/2 over TLS idle timeout", "idle", "https://", h2, true},
		{"h2c idle timeout", "idle", "http://", "versions h2c 2", false},
		{"HTTP/2 over TLS Connection: close", "close", "https://", h2, true},
		{"HTTP/2 over TLS restarts", "goaway", "https://", h2, true},
	})
}
