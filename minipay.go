// Package minipay is the caddy-minipay plugin's import path for xcaddy:
//
//	xcaddy build --with github.com/minipay/caddy-minipay
//
// It only links the Caddy modules in; the code lives in caddymodule (the
// Caddy adapter) and transform (the providers' wire formats, no Caddy).
package minipay

import _ "github.com/minipay/caddy-minipay/caddymodule"
