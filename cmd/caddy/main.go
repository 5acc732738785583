// Command caddy is the standard Caddy binary with caddy-minipay linked in, so
// that `go run ./cmd/caddy run --config Caddyfile.example` needs nothing but Go.
// Production builds use xcaddy (see README.md).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/minipay/caddy-minipay"
)

func main() {
	caddycmd.Main()
}
