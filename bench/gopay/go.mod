module github.com/minipay/caddy-minipay/bench/gopay

go 1.26.8

require (
	github.com/go-pay/gopay v1.5.101
	github.com/go-pay/util v0.0.2
	github.com/minipay/caddy-minipay v0.0.0
)

require (
	github.com/beevik/etree v1.5.0 // indirect
	github.com/bojanz/currency v1.3.1 // indirect
	github.com/cockroachdb/apd/v3 v3.2.1 // indirect
	github.com/go-pay/crypto v0.0.1 // indirect
	github.com/go-pay/xlog v0.0.2 // indirect
	golang.org/x/crypto v0.57.0 // indirect
)

replace github.com/minipay/caddy-minipay => ../..
