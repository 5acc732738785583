package transform

// SandboxOrders is the body of a sandbox's Orders: every order it keeps (by
// the merchant's order id) as view shows it to the console, in any order.
// The sandbox holds its lock around the call.
func SandboxOrders[O any](orders map[string]O, view func(id string, o O) SandboxOrder) []SandboxOrder {
	out := make([]SandboxOrder, 0, len(orders))
	for id, o := range orders {
		out = append(out, view(id, o))
	}
	return out
}
