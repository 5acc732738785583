package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// The demo merchant lists the last 100 events and keeps no more alive
// (README Sandbox): the events it dropped are not held by the list's
// backing array, however many arrive. Measured as the live heap, which
// holding the dropped ones' bodies too grew by up to 100 more.
func TestDemoMerchantKeepsOnlyTheLast100(t *testing.T) {
	s := &Sandbox{demo: new(demoMerchant)}
	body := `{"pad":"` + strings.Repeat("x", 32<<10) + `"}`
	post := func() {
		r := httptest.NewRequest(http.MethodPost, "/sandbox/merchant/events", strings.NewReader(body))
		w := httptest.NewRecorder()
		s.merchant(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for range 100 {
		post()
	}
	full := heap() // 100 events held
	var most uint64
	for range 300 {
		post()
		most = max(most, heap())
	}
	if n := len(s.demo.events); n != 100 {
		t.Fatalf("%d events listed, want 100", n)
	}
	// Ten events' worth of slack for the collector's own bookkeeping.
	if slack := uint64(10 * len(body)); most > full+slack {
		t.Errorf("the live heap reached %d bytes, %d with the 100 events held: the dropped ones are kept alive", most, full)
	}
}
