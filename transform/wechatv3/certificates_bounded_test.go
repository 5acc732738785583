package wechatv3

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Forged answers and notifications naming distinct unknown serials
// (Wechatpay-Serial is the sender's to choose) cost at most one download
// per CertificatesMinInterval and leave nothing per serial behind: the
// limit is one time for the whole downloader, not one per serial, and the
// certificates held are the last download's.
func TestCertificatesUnknownSerialsBounded(t *testing.T) {
	a := newPlatform(t)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	cs := &certServer{serving: []platform{a}, now: clock}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	cfg := merchantConfig(t)
	cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+PathCertificates
	c := must(NewClient(cfg))
	c.Now = clock
	body := `{"x":1}`
	if err := Verify(c.Keyring(), a.signed(t, clock(), body), []byte(body), clock()); err != nil {
		t.Fatal(err)
	}
	// Signed once a minute (an RSA signature each time would take minutes),
	// within the 5 minutes an answer's timestamp may be off.
	var signed http.Header
	var signedAt time.Time
	forged := func(i int) error {
		if now := clock(); now.Sub(signedAt) >= time.Minute {
			signed, signedAt = a.signed(t, now, body), now
		}
		h := signed.Clone()
		h.Set(HeaderSerial, fmt.Sprintf("%040X", i))
		return Verify(c.Keyring(), h, []byte(body), clock())
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}

	// 100 000 serials at one instant: one download (the first after the
	// initial one is not limited), whatever their number.
	const many = 100_000
	before, downloads := heap(), cs.downloads.Load()
	for i := range many {
		if err := forged(i); err != ErrUnknownSerial {
			t.Fatalf("serial %d: %v", i, err)
		}
	}
	after := heap()
	if d := cs.downloads.Load() - downloads; d != 1 {
		t.Fatalf("%d distinct serials at one instant caused %d downloads, want 1", many, d)
	}
	// A map of 100 000 serials would hold several MiB.
	if after > before+1<<20 {
		t.Errorf("the live heap grew from %d to %d bytes over %d unknown serials", before, after, many)
	}
	t.Logf("%d unknown serials: heap %d -> %d bytes", many, before, after)

	// One serial a second for 100 minutes: one download a minute at most.
	downloads = cs.downloads.Load()
	for i := range 6000 {
		advance(time.Second)
		if err := forged(many + i); err != ErrUnknownSerial {
			t.Fatalf("serial %d: %v", many+i, err)
		}
	}
	if d := cs.downloads.Load() - downloads; d > 100 {
		t.Fatalf("6000 serials over 100 minutes caused %d downloads, want at most 100", d)
	}
	if got := c.Certificates().Serials(); len(got) != 1 || got[0] != a.serial() {
		t.Fatalf("held %v after the forged serials, want only %s", got, a.serial())
	}
}
