package caddymodule

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzDedupeStoredRecord: whatever an event's entry in the shared storage
// holds (another instance's, an earlier version's, or bytes that are no
// entry), minipay_webhook's de-duplication (README Clusters) never panics;
// the event is a duplicate exactly when the entry reads as an
// acknowledgement by this route's merchant younger than the window; once
// forwarded and acknowledged, the entry reads as this merchant's
// acknowledgement now, expiring no earlier than the window or the entry's
// own expiry said, and still names every other merchant's acknowledgement
// it named (but for a time of a year JSON cannot write, which no instance
// stored).
func FuzzDedupeStoredRecord(f *testing.F) {
	f.Add([]byte(`{"event_id":"wechat_v2:42:payment.succeeded","acked_at":"2026-11-22T09:59:00Z","expires_at":"2026-11-23T10:59:00Z","merchant":"merchant-a"}`), false, uint32(3600))
	f.Add([]byte(`{"event_id":"e","acked_at":"2026-11-22T09:00:00Z","merchant":"merchant-b","others":{"merchant-c":"2026-11-21T00:00:00Z"}}`), true, uint32(60))
	f.Add([]byte(`{"acked_at":"2026-11-22T09:59:59Z"}`), false, uint32(1))
	f.Add([]byte(`{"acked_at":"0000-01-01T00:00:00+00:01","merchant":"merchant-b"}`), false, uint32(3600))
	f.Add([]byte(`{"expires_at":"9999-12-31T23:59:59-01:00"}`), false, uint32(3600))
	f.Add([]byte(`not json`), true, uint32(0))
	f.Add([]byte(`{"ACKED_AT":"2026-11-22T09:59:59Z","merchant":"merchant-a","merchant":""}`), false, uint32(3600))
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, stored []byte, merchantB bool, seconds uint32) {
		ctx := context.Background()
		window := time.Duration(seconds%(90*86400)+1) * time.Second
		merchant := map[bool]string{false: "merchant-a", true: "merchant-b"}[merchantB]
		store := transformtest.NewMemStore()
		d := newDeduper(store, "wechat_v2", merchant, window, zap.NewNop())
		d.now = func() time.Time { return now }
		const id = "wechat_v2:42:payment.succeeded"
		if err := store.Store(ctx, d.key(id), stored); err != nil {
			t.Fatal(err)
		}
		var prior dedupeRecord
		// read by exact names, each once (transform.UnmarshalExact, whose
		// reading TestUnmarshalExact holds to encoding/json's and Python's)
		readable := transform.UnmarshalExact(stored, &prior) == nil
		at, mine := prior.ackedBy(merchant)
		c, verdict := d.claim(ctx, id)
		if want := readable && mine && now.Sub(at) < window; (verdict == dedupeDuplicate) != want {
			t.Fatalf("%q: verdict %v, duplicate %v", stored, verdict, want)
		}
		if verdict != dedupeForward {
			return
		}
		c.acknowledged(ctx)
		c.release(ctx)
		b, err := store.Load(ctx, d.key(id))
		var rec dedupeRecord
		if err != nil || json.Unmarshal(b, &rec) != nil {
			t.Fatalf("%q: the acknowledgement stored %q, %v", stored, b, err)
		}
		if got, ok := rec.ackedBy(merchant); !ok || !got.Equal(now) || rec.EventID != id || rec.ExpiresAt.Before(now.Add(window)) {
			t.Fatalf("%q: stored %s", stored, b)
		}
		if !readable {
			return
		}
		if encodable(prior.ExpiresAt) && rec.ExpiresAt.Before(prior.ExpiresAt) {
			t.Fatalf("%q: the entry's expiry shortened: %s", stored, b)
		}
		others := map[string]time.Time{}
		for m, at := range prior.Others {
			others[m] = at
		}
		others[prior.Merchant] = prior.AckedAt // the entry's last acknowledgement
		for m, at := range others {
			if m == "" || m == merchant || !encodable(at) {
				continue // none, mine (now), or a time no instance wrote
			}
			if got, ok := rec.ackedBy(m); !ok || !got.Equal(at) {
				t.Fatalf("%q: %s's acknowledgement at %s lost: %s", stored, m, at, b)
			}
		}
	})
}
