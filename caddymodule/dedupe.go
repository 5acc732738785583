package caddymodule

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// De-duplication tuning.
const (
	// dedupeLockWait bounds the wait for another request forwarding the
	// same event (on this instance or another); past it the provider gets
	// its failure form with a 503 and retries later. Below the 5 s
	// providers such as CBTIS wait for an answer.
	dedupeLockWait = 3 * time.Second
	// dedupeStoreTimeout bounds the storage calls of one notification that
	// are not lock waits.
	dedupeStoreTimeout = 5 * time.Second
	// minDedupeWindow is the shortest window a route loads (README
	// "Clusters"). A window under a second is a unit slip (a JSON 25 is
	// 25 ns), in effect off. Windows of seconds load: they catch only the
	// soonest retries (15 s for WeChat v3 and CBTIS, about 30 s for Latipay,
	// docs/providers) but let a test or a staging setup watch entries expire.
	minDedupeWindow = time.Second
)

// dedupeWindowProblem says what is wrong with a window set on a route, ""
// when nothing is; 0 (off) is the caller's case. A window under the
// minimum is a unit slip of the form it was written in: a Caddyfile's
// duration always has its unit (a bare number is refused), so it was ns,
// us or ms where m (minutes) or h was meant; JSON takes a number, which is
// nanoseconds, or a string as the Caddyfile's, and the load no longer
// knows which it was, so its message names both.
func dedupeWindowProblem(d time.Duration, inCaddyfile bool) string {
	switch {
	case d < 0:
		return "must be a positive duration"
	case d < minDedupeWindow && inCaddyfile:
		return durationText(d) + " is shorter than the minimum 1s: ns, us and ms are under a second, m is minutes " +
			"(write a duration such as dedupe 25h, or leave dedupe out)"
	case d < minDedupeWindow:
		return durationText(d) + " is shorter than the minimum 1s: a JSON number is nanoseconds, and in a string " +
			"ns, us and ms are under a second, m is minutes (write a duration such as \"25h\", or leave dedupe out)"
	}
	return ""
}

// DedupeWindow is minipay_webhook's "dedupe": read as Caddy reads a
// duration (a string such as "25h" or "2d", or nanoseconds), written as
// the duration's text ("25h"), so that caddy adapt and the admin API's
// GET /config/ show the JSON README "Clusters" documents, not
// 90000000000000.
type DedupeWindow time.Duration

// MarshalJSON writes the window as its shortest duration text.
func (w DedupeWindow) MarshalJSON() ([]byte, error) {
	return json.Marshal(durationText(time.Duration(w)))
}

// UnmarshalJSON reads the window as caddy.Duration does; an unreadable one
// fails naming the option (Caddy's own message names no field).
func (w *DedupeWindow) UnmarshalJSON(b []byte) error {
	var d caddy.Duration
	if err := d.UnmarshalJSON(b); err != nil {
		return errors.New(dedupeNotADuration(string(b)))
	}
	*w = DedupeWindow(d)
	return nil
}

// dedupeNotADuration is the message of a dedupe value that does not read
// as a duration, the same in the Caddyfile and in JSON: value as written
// (a JSON value, a quoted Caddyfile token), cut to 40 bytes.
func dedupeNotADuration(value string) string {
	return "dedupe: " + transform.Clip(value, 40) + ` is not a duration such as "25h"`
}

// durationText writes d in the largest unit that divides it, as a window
// is written (25h, 90m, 45s; 2d is 48h), else as d.String() (1.5s).
func durationText(d time.Duration) string {
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return d.String()
}

// deduper remembers, in Caddy's storage shared by a cluster, the events the
// merchant acknowledged, so that a provider's retry of one of them is
// acknowledged without being forwarded again. Only acknowledged events are
// remembered: an event is never dropped because another instance failed to
// deliver it. When the storage fails it fails open: the event is forwarded.
//
// Keys: minipay/events/<provider>/<lowercase hex sha256(event id)>, holding
// {"event_id","acked_at","expires_at","merchant","others"}; the lock of the
// same name is held while the event is forwarded.
type deduper struct {
	store    transform.Store
	prefix   string // minipay/events/<provider>/
	merchant string // merchantTag of the route's keys
	window   time.Duration
	wait     time.Duration // bound of the wait for the event's lock
	logger   *zap.Logger
	now      func() time.Time
	// unreadable is the purge's memory of the keys it found holding what
	// is no entry, for a storage that does not say when a key was written
	// (see unreadableFor); only purgeLoop's goroutine touches it.
	unreadable map[string]unreadableSighting
}

// unreadableSighting is when the purge first saw a key hold bytes that are
// no entry, and a digest of those bytes.
type unreadableSighting struct {
	since time.Time
	sum   [sha256.Size]byte
}

// dedupeRecord is what the storage holds per acknowledged event: nothing
// secret (the id is made of order ids and the event type). ExpiresAt is
// the acknowledgement's time plus the window of the route that stored it:
// every route of a provider shares the prefix, and a route with a shorter
// window must not purge what a route with a longer one still relies on
// (whether an entry is a duplicate is each route's own window's call).
//
// Merchant tells the merchants of one provider apart (README "Clusters"):
// the key is the event id's alone, and where two merchants' ids coincide
// (Latipay's are the merchant's own order ids) one merchant's
// acknowledgement must not silence the other's event. AckedAt and
// Merchant are the last acknowledgement; Others keeps those of the other
// merchants whose event had this id. An entry without Merchant (an earlier
// version's) counts for every merchant, as it did then.
type dedupeRecord struct {
	EventID   string               `json:"event_id"`
	AckedAt   time.Time            `json:"acked_at"`
	ExpiresAt time.Time            `json:"expires_at,omitzero"`
	Merchant  string               `json:"merchant,omitempty"`
	Others    map[string]time.Time `json:"others,omitempty"` // merchant → its acked_at
}

// ackedBy returns when merchant acknowledged the event, if it did.
func (r *dedupeRecord) ackedBy(merchant string) (time.Time, bool) {
	if r.Merchant == "" || r.Merchant == merchant {
		return r.AckedAt, true
	}
	at, ok := r.Others[merchant]
	return at, ok
}

func newDeduper(store transform.Store, provider, merchant string, window time.Duration, logger *zap.Logger) *deduper {
	return &deduper{store: store, prefix: "minipay/events/" + provider + "/", merchant: merchant, window: window, wait: dedupeLockWait, logger: logger, now: time.Now}
}

// merchantTag names the merchant whose keys secrets are (the route's
// notification keys, transform.Webhook.NotificationKeys) and whose ids are
// merchant (transform.Webhook.Merchant) without revealing the keys: the
// first 128 bits of an HMAC-SHA256 under those keys of a constant followed
// by the ids, which tells no more about the keys than any notification
// signed with them. Every instance of a cluster configured with the same
// keys and ids computes the same tag, whatever other secrets its routes
// hold. The ids are part of it because merchants can share a key (the
// sub-merchants of a service provider, two Latipay wallets with one api_key, a
// key given to two by mistake) while their event ids coincide.
func merchantTag(secrets, merchant []string) string {
	mac := hmac.New(sha256.New, transform.LengthPrefixed(secrets...))
	mac.Write([]byte("caddy-minipay dedupe merchant"))
	mac.Write(transform.LengthPrefixed(merchant...))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// webhookMerchantTag is the merchant tag of a minipay_webhook route: that
// of the keys its notifications are verified or decrypted with and of the
// merchant they must name, so that a secret the route holds for another
// use (a wechat_v3 private_key, a CBTIS client_secret beside api_key) can
// be rotated without the acknowledged events being forwarded again.
func webhookMerchantTag(w transform.Webhook) string {
	return merchantTag(w.NotificationKeys(), w.Merchant())
}

func (d *deduper) key(eventID string) string {
	sum := sha256.Sum256([]byte(eventID))
	return d.prefix + hex.EncodeToString(sum[:])
}

// dedupeVerdict is what to do with a verified event.
type dedupeVerdict int

const (
	// dedupeForward: forward it (holding its lock, unless the storage failed).
	dedupeForward dedupeVerdict = iota
	// dedupeDuplicate: acknowledged already within the window; ACK, do not forward.
	dedupeDuplicate
	// dedupeInProgress: another request (on this instance or another) is
	// forwarding it; answer a 5xx so that the provider retries.
	dedupeInProgress
)

// eventClaim is an event being forwarded: release must follow; acknowledged
// records the merchant's 2xx first. A nil claim (no de-duplication) does
// nothing.
type eventClaim struct {
	d       *deduper
	key, id string
	locked  bool
	// prior is the entry this event had, if any: acknowledging again never
	// shortens its expiry (another route's, with a longer window), nor
	// forgets the other merchants it names.
	prior *dedupeRecord
}

// claim decides about a verified event. Without de-duplication (d nil) it
// is always forwarded.
func (d *deduper) claim(ctx context.Context, eventID string) (*eventClaim, dedupeVerdict) {
	if d == nil {
		return nil, dedupeForward
	}
	c := &eventClaim{d: d, key: d.key(eventID), id: eventID}
	// A retry of an acknowledged event is answered without taking the lock.
	if dup, _, ok := d.acknowledged(ctx, c.key); dup || !ok {
		if dup {
			return nil, dedupeDuplicate
		}
		return c, dedupeForward // the storage failed: fail open
	}
	// While another request forwards the event, its acknowledgement is
	// looked for as well as the lock: a storage sees a released lock late
	// (file_system polls once a second).
	polling := true
	locked, err := transform.WaitLock(ctx, d.store, c.key, d.wait, transform.SharedPoll, func(ctx context.Context) bool {
		if !polling {
			return false
		}
		dup, _, ok := d.acknowledged(ctx, c.key)
		polling = ok // a failing storage is left to the lock
		return dup
	})
	if err == nil && !locked {
		return nil, dedupeDuplicate
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			// Held by another request (or the provider left). A storage that
			// polls for its locks (file_system: once a second) may miss a
			// release just before the deadline: read once more, so that an
			// event acknowledged meanwhile is a duplicate, not a 503.
			if dup, _, _ := d.acknowledged(ctx, c.key); dup {
				return nil, dedupeDuplicate
			}
			return nil, dedupeInProgress
		}
		return c, dedupeForward // the storage failed: fail open
	}
	c.locked = true
	// It may have been acknowledged while this instance waited for the lock.
	dup, prior, _ := d.acknowledged(ctx, c.key)
	if dup {
		c.release(ctx)
		return nil, dedupeDuplicate
	}
	c.prior = prior
	return c, dedupeForward
}

// acknowledged tells whether key holds this route's merchant's
// acknowledgement younger than the window, and the entry (nil without a
// readable one); ok is false when the storage could not say.
func (d *deduper) acknowledged(ctx context.Context, key string) (dup bool, rec *dedupeRecord, ok bool) {
	sctx, cancel := context.WithTimeout(ctx, dedupeStoreTimeout)
	defer cancel()
	b, err := d.store.Load(sctx, key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil, true
	case err != nil:
		return false, nil, false
	}
	rec = new(dedupeRecord)
	if transform.UnmarshalExact(b, rec) != nil {
		return false, nil, true // unreadable: not a duplicate; overwritten once acknowledged
	}
	at, mine := rec.ackedBy(d.merchant)
	return mine && d.now().Sub(at) < d.window, rec, true
}

// acknowledged stores the merchant's acknowledgement of the event, before
// the provider's ACK is sent.
func (c *eventClaim) acknowledged(ctx context.Context) {
	if c == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dedupeStoreTimeout)
	defer cancel()
	at := c.d.now().UTC()
	rec := dedupeRecord{EventID: c.id, AckedAt: at, ExpiresAt: at.Add(c.d.window), Merchant: c.d.merchant}
	if p := c.prior; p != nil {
		if p.ExpiresAt.After(rec.ExpiresAt) && encodable(p.ExpiresAt) { // a longer route's entry, past this route's window only
			rec.ExpiresAt = p.ExpiresAt.UTC()
		}
		// The other merchants' acknowledgements stay (an entry of an earlier
		// version names none: it is this merchant's now).
		for m, t := range p.Others {
			rec.addOther(m, t, c.d.merchant)
		}
		rec.addOther(p.Merchant, p.AckedAt, c.d.merchant)
	}
	_ = c.d.store.Store(sctx, c.key, transform.Marshal(rec)) // a failure is logged by sharedStore
}

// addOther keeps merchant's acknowledgement at t, unless it is mine or none,
// or a time no instance wrote (an entry holds UTC times of years 0 to 9999).
func (r *dedupeRecord) addOther(merchant string, t time.Time, mine string) {
	if merchant == "" || merchant == mine || !encodable(t) {
		return
	}
	if r.Others == nil {
		r.Others = map[string]time.Time{}
	}
	r.Others[merchant] = t.UTC()
}

// encodable tells whether t, written in UTC, is a time an entry can hold:
// JSON's RFC 3339 has years 0 to 9999 only. A stored entry's offset can put
// its time past them ("0000-01-01T00:00:00+00:01"); written back as it is,
// the acknowledgement would fail to encode and the event be forwarded again
// on every retry.
func encodable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// release lets another request forward (or recognise) the event.
func (c *eventClaim) release(ctx context.Context) {
	if c == nil || !c.locked {
		return
	}
	c.locked = false
	transform.Unlock(ctx, c.d.store, c.key)
}

// purgeInterval is how often expired entries are purged: a quarter of the
// window, between a second and an hour.
func (d *deduper) purgeInterval() time.Duration {
	return min(max(d.window/4, time.Second), time.Hour)
}

// firstPurgeDelay is how long after the configuration starts (the minipay
// app's Start, never under caddy validate) the first purge runs (the
// interval, when shorter). Not an interval: a reload starts a new loop, and
// with reloads more often than the interval (an hour for a window of 25h)
// no purge would ever run. Not at once either: a burst of reloads does not
// purge once per configuration, and the start of Caddy (listeners,
// certificates) is left to itself.
const firstPurgeDelay = 2 * time.Second

// purgeLoop purges expired entries shortly after the configuration starts
// (firstPurgeDelay), then every interval, until ctx ends (the configuration
// stops). Every instance of a cluster purges; deleting is idempotent.
func (d *deduper) purgeLoop(ctx context.Context) {
	t := time.NewTimer(min(firstPurgeDelay, d.purgeInterval()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := d.purge(ctx); n > 0 {
				d.logger.Debug("minipay: purged expired webhook de-duplication entries", zap.Int("entries", n), zap.String("prefix", d.prefix))
			}
			t.Reset(d.purgeInterval())
		}
	}
}

// purgeLockWait bounds the purge's wait for an event's lock: a lock that is
// held means an instance is forwarding that event, and the entry is left
// for a later purge.
const purgeLockWait = 50 * time.Millisecond

// purge deletes the entries older than the window (and what has been
// unreadable for a window) and returns how many it deleted.
func (d *deduper) purge(ctx context.Context) int {
	keys, err := d.store.List(ctx, d.prefix, false)
	if err != nil {
		return 0 // nothing stored yet, or logged by sharedStore
	}
	n := 0
	listed := make(map[string]bool, len(keys))
	for _, key := range keys {
		if ctx.Err() != nil {
			break
		}
		listed[key] = true
		if d.expired(ctx, key) && d.deleteExpired(ctx, key) {
			n++
		}
	}
	for key := range d.unreadable {
		if !listed[key] {
			delete(d.unreadable, key) // gone (or overwritten and deleted)
		}
	}
	return n
}

// expired tells whether key holds an entry older than the window and past
// the expiry its own route gave it, or what is no entry and has for at
// least the window.
func (d *deduper) expired(ctx context.Context, key string) bool {
	b, err := d.store.Load(ctx, key)
	if err != nil {
		return false
	}
	var rec dedupeRecord
	if transform.UnmarshalExact(b, &rec) != nil {
		return d.unreadableFor(ctx, key, b) >= d.window
	}
	delete(d.unreadable, key)
	now := d.now()
	return now.Sub(rec.AckedAt) >= d.window && !now.Before(rec.ExpiresAt)
}

// unreadableFor is how long key has held b, bytes that are no entry: since
// it was last written, as Caddy's storage says (file_system: the file's
// modification time), else since the purge first saw b there (0 then, and
// when they changed). Some are being written right then: the file_system
// storage (certmagic's FileStorage.Store) writes a new file under a random
// decimal name in the prefix's directory and renames it to the key once
// written, and such a file, listed empty or half-written, goes only once
// it has stayed so for a window (a write killed before the rename), never
// while the write is on its way to the rename (which would fail, and the
// acknowledgement be lost).
func (d *deduper) unreadableFor(ctx context.Context, key string, b []byte) time.Duration {
	now := d.now()
	if st, ok := d.store.(keyStater); ok {
		if info, err := st.Stat(ctx, key); err == nil && !info.Modified.IsZero() {
			return now.Sub(info.Modified)
		}
	}
	sum := sha256.Sum256(b)
	s, ok := d.unreadable[key]
	if !ok || s.sum != sum {
		if d.unreadable == nil {
			d.unreadable = map[string]unreadableSighting{}
		}
		d.unreadable[key] = unreadableSighting{since: now, sum: sum}
		return 0
	}
	return now.Sub(s.since)
}

// deleteExpired deletes an expired entry under the event's lock, reading it
// again once the lock is held: an instance forwarding the event holds the
// lock and stores a fresh acknowledgement before releasing it, which a
// delete decided on the old entry would otherwise wipe out.
func (d *deduper) deleteExpired(ctx context.Context, key string) bool {
	if transform.LockWithin(ctx, d.store, key, purgeLockWait) != nil {
		return false // being forwarded (or the storage failed): a later purge
	}
	defer transform.Unlock(ctx, d.store, key)
	if !d.expired(ctx, key) || d.store.Delete(ctx, key) != nil {
		return false
	}
	delete(d.unreadable, key)
	return true
}

// startDedupe sets up de-duplication when the handler has a window: the
// deduper over Caddy's storage, and its purge, handed to the minipay app,
// which runs it only once the configuration runs and stops it with the
// configuration (or at Cleanup).
func (h *Webhook) startDedupe(ctx caddy.Context) error {
	if h.Dedupe == 0 {
		return nil // off, as JSON's 0 or no "dedupe" says
	}
	if problem := dedupeWindowProblem(time.Duration(h.Dedupe), false); problem != "" {
		return errors.New("minipay_webhook: dedupe " + problem)
	}
	app, err := minipayApp(ctx)
	if err != nil {
		return err
	}
	h.dedupe = newDeduper(newSharedStore(ctx, h.metrics, "dedupe"), h.name, webhookMerchantTag(h.webhook), time.Duration(h.Dedupe), h.logger)
	// Not started here: Provision runs under caddy validate too (App).
	h.stopPurge = app.background(h.dedupe.purgeLoop)
	return nil
}

// Cleanup stops the purge of de-duplication entries and takes the
// provider off the admin API's list.
func (h *Webhook) Cleanup() error {
	if h.stopPurge != nil {
		h.stopPurge()
	}
	return h.adminListing.Cleanup()
}
