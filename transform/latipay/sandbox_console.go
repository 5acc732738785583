package latipay

import "github.com/minipay/caddy-minipay/transform"

// Orders implements transform.Sandbox. A paid order refunded in full
// through /refund (or /v2/refund) shows as refunded (Latipay notifies no refunds).
func (s *Sandbox) Orders() []transform.SandboxOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return transform.SandboxOrders(s.orders, func(ref string, o *sandboxOrder) transform.SandboxOrder {
		state := transform.StatusPending
		switch sandboxState(o) {
		case "refunded":
			state = transform.StatusRefunded
		case "paid":
			state = transform.StatusSucceeded
		case "failed":
			state = transform.StatusFailed
		}
		return transform.SandboxOrder{ID: ref, Amount: o.amount, State: state, Created: o.created}
	})
}
