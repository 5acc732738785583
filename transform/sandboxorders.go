package transform

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"sync/atomic"
)

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

// SandboxOrderIn is how a sandbox's Complete and CompleteRefund begin: the
// order orderID names, when its state (the provider's own word, read by
// state) is one of states; else the error POST /sandbox/complete reports
// ("no such order", "the order is <state>"). The sandbox holds its lock.
func SandboxOrderIn[O any](orders map[string]*O, orderID string, state func(*O) string, states ...string) (*O, error) {
	o, ok := orders[orderID]
	if !ok {
		return nil, errors.New("no such order")
	}
	if st := state(o); !slices.Contains(states, st) {
		return nil, errors.New("the order is " + st)
	}
	return o, nil
}

// SandboxSettleable is how a sandbox's Complete begins: SandboxOrderIn
// with the provider's open states, and, for a success, its succeeded state
// too (a success notified again, as the provider's retries do).
func SandboxSettleable[O any](orders map[string]*O, orderID string, state func(*O) string, succeeded bool, succeededState string, open ...string) (*O, error) {
	if succeeded {
		open = append(open[:len(open):len(open)], succeededState)
	}
	return SandboxOrderIn(orders, orderID, state, open...)
}

// sandboxSerial numbers the references the sandboxes issue (transaction,
// refund and order ids, 2C2P's tranRef) for the whole process. A
// configuration load starts every sandbox afresh, and a count of its own
// would issue its first references again, within the same second where
// they hold the time: a new payment under an acknowledged event id, which
// a webhook with dedupe answers as a duplicate and never forwards (README
// Sandbox).
var sandboxSerial atomic.Int64

// SandboxSerial is the next number of the process's sandbox references,
// from 1.
func SandboxSerial() int64 { return sandboxSerial.Add(1) }

// SandboxOpenID is the openid a WeChat sandbox gives, under appID, the
// payer a request named by another openid (under another app id): a
// service provider's answers and notifications name the payer under both
// app ids, also when the pay named one. Stable for a payer, 28 characters
// like WeChat's.
func SandboxOpenID(appID, otherOpenID string) string {
	sum := sha256.Sum256([]byte("minipay-sandbox-openid:" + appID + ":" + otherOpenID))
	return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
}
