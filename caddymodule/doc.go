// Package caddymodule is the Caddy adapter of caddy-minipay: module
// registration, configuration, Caddyfile parsing, the three HTTP handlers,
// metrics and logging. The providers' wire formats live in transform.
package caddymodule
