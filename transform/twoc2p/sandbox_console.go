package twoc2p

import (
	"strings"

	"github.com/minipay/caddy-minipay/transform"
)

// Orders implements transform.Sandbox; an amount the request carried in a
// form the sandbox cannot read shows as zero.
func (s *Sandbox) Orders() []transform.SandboxOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return transform.SandboxOrders(s.orders, func(id string, o *sandboxOrder) transform.SandboxOrder {
		code, _ := CurrencyForNumeric(o.request.Get("currencyCode"))
		m, ok := transform.MoneyFromMinorText(strings.TrimLeft(o.request.Get("amt"), "0"), code)
		if !ok {
			m = transform.Money{Currency: code}
		}
		return transform.SandboxOrder{ID: id, Amount: m, State: o.state, Created: o.created}
	})
}
