// Package integration holds the tests that drive a real Caddy, with the
// plugin linked in, over HTTP: the Caddyfile.example walkthrough, every error
// code of the merchant API, every webhook outcome, and provisioning errors.
package integration
