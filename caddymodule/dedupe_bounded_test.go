package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// De-duplication's storage grows only with the events the merchant
// acknowledged, and only for a window (README "Clusters"): notifications
// that do not verify touch no key and no lock, events the merchant failed
// leave neither an entry nor a lock, acknowledged ones leave one entry
// each, which the purge deletes once the window passed; the purge's own
// memory (unreadable) stays empty. Each kind is sent with distinct event
// ids, as a sender choosing them would.
func TestDedupeStorageBounded(t *testing.T) {
	store := transformtest.NewMemStore()
	h := instance(t, store, time.Hour)
	now := time.Now()
	h.dedupe.now = func() time.Time { return now }
	m := &fakeMerchant{}
	const n = 2000
	ids := func(prefix string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strconv.Itoa(i)
		}
		return out
	}
	lockedAny := func(ids []string) string {
		for _, id := range ids {
			if store.Locked(h.dedupe.key(id)) {
				return id
			}
		}
		return ""
	}

	for _, id := range ids("forged-") {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/fake", strings.NewReader(id)) // no X-Sig: unverified
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, m); err != nil || w.Code == http.StatusOK {
			t.Fatalf("forged %s: %d %v", id, w.Code, err)
		}
	}
	for _, op := range []string{"lock", "load", "store"} {
		if c := store.Ops(op); c != 0 {
			t.Fatalf("%d unverified notifications made %d %s calls on the storage", n, c, op)
		}
	}

	m.status.Store(500)
	failed := ids("failed-")
	for _, id := range failed {
		if code, _ := notify(t, h, m, id); code != http.StatusBadGateway {
			t.Fatalf("%s: %d", id, code)
		}
	}
	if k := store.Keys(); len(k) != 0 {
		t.Fatalf("%d events the merchant failed left %d entries", n, len(k))
	}
	if id := lockedAny(failed); id != "" {
		t.Fatalf("the lock of %s, which the merchant failed, is still held", id)
	}

	m.status.Store(200)
	acked := ids("acked-")
	for _, id := range acked {
		if code, _ := notify(t, h, m, id); code != http.StatusOK {
			t.Fatalf("%s: %d", id, code)
		}
	}
	if k := store.Keys(); len(k) != n {
		t.Fatalf("%d acknowledged events left %d entries", n, len(k))
	}
	if id := lockedAny(acked); id != "" {
		t.Fatalf("the lock of %s is still held", id)
	}
	ctx := context.Background()
	if p := h.dedupe.purge(ctx); p != 0 {
		t.Fatalf("purged %d entries within the window", p)
	}
	now = now.Add(time.Hour)
	if p := h.dedupe.purge(ctx); p != n {
		t.Fatalf("purged %d entries a window later, want %d", p, n)
	}
	if k := store.Keys(); len(k) != 0 || len(h.dedupe.unreadable) != 0 || lockedAny(acked) != "" {
		t.Fatalf("after the purge: %d entries, %d remembered as unreadable, lock of %q held", len(k), len(h.dedupe.unreadable), lockedAny(acked))
	}
}
