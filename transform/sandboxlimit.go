package transform

// MaxSandboxOrders bounds how many orders a sandbox keeps in memory: past
// it the oldest is forgotten, so a long-running sandbox (or one fed orders
// by anyone who can reach it) does not grow without end.
const MaxSandboxOrders = 10_000

// OrderRing remembers the order in which a sandbox created its orders, so
// that the oldest can be dropped once Max (MaxSandboxOrders when zero) are
// kept. Not safe for concurrent use: sandboxes hold it under their lock.
type OrderRing struct {
	Max  int
	keys []string
	next int
}

// Add records a new key and returns the oldest key to forget when the ring
// was full.
func (r *OrderRing) Add(key string) (oldest string, evict bool) {
	max := r.Max
	if max <= 0 {
		max = MaxSandboxOrders
	}
	if len(r.keys) < max {
		r.keys = append(r.keys, key)
		return "", false
	}
	oldest = r.keys[r.next]
	r.keys[r.next] = key
	r.next = (r.next + 1) % len(r.keys)
	return oldest, true
}
