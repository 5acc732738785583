package browser

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The sandbox out of reach for a moment (a proxy in front of it answering
// 502, a phone's network gone) while an order's action runs: the click's
// POST and the refresh after it both fail. Once the sandbox answers again
// with the same list, the order gets its buttons back and a click settles
// it; the message says what the failure was, not that an HTML error page is
// not JSON. On the old code the list the sandbox answered was the one the
// page held already, so the page changed nothing and the order stayed
// greyed out with its buttons disabled until the order itself changed.
func TestConsoleRecoversFromAnOutage(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "GONE-1", "1.00")
	target, err := url.Parse(s.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	upstream := httputil.NewSingleHostReverseProxy(target)
	var down atomic.Bool
	var lists atomic.Int32 // the list refreshes answered
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><body>502 Bad Gateway</body></html>"))
			return
		}
		if r.URL.Query().Get("part") == "list" {
			defer lists.Add(1)
		}
		upstream.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	card := order("GONE-1")
	if err := chromedp.Do(ctx, chromedp.Navigate(proxy.URL+"/sandbox/"), chromedp.WaitVisible(chromedp.CSS(card))); err != nil {
		t.Fatal(err)
	}
	// Past the page's first refreshes: the list it holds is the one the
	// sandbox renders, which it will answer again after the outage.
	for deadline := time.Now().Add(10 * time.Second); lists.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the page did not refresh its list")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)

	down.Store(true)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(card+` button[data-action="succeed"]`)),
		wait(`document.getElementById("live").classList.contains("down")`, 10*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#toast"); got != "GONE-1: the sandbox answered HTTP 502" {
		t.Errorf("the message after the failed click is %q", got)
	}
	down.Store(false)
	back := `(o => !o.classList.contains("busy") && !o.querySelector('button[data-action="succeed"]').disabled)(document.querySelector('` + card + `'))`
	if err := chromedp.Do(ctx, wait(`!document.getElementById("live").classList.contains("down")`, 10*time.Second), wait(back, 5*time.Second)); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+card+`').outerHTML`))
		t.Fatalf("after the outage the order did not get its buttons back: %v\n%s", err, html)
	}
	if got := rendered(t, ctx, card+` [data-field="state"]`); got != "pending" {
		t.Fatalf("state %q after a click that never reached the sandbox, want pending", got)
	}
	click(t, ctx, "wechat_v2", "GONE-1", "succeed", "succeeded", true)
}

// The header's "live" is a status region (role="status"): what changes in
// it is announced by a screen reader. While the sandbox answers, the
// page's refreshes leave it alone; it changes when the sandbox goes out of
// reach and when it is back. On the old code every refresh, every two
// seconds, wrote its class and its text again (its text node removed and
// added), changes a screen reader may announce each time.
func TestConsoleStatusChangesOnlyWithTheSandbox(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "LIVE-1", "1.00")
	target, err := url.Parse(s.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	upstream := httputil.NewSingleHostReverseProxy(target)
	var down atomic.Bool
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		upstream.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	changes := func() int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.liveChanges`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(proxy.URL+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(order("LIVE-1"))),
		chromedp.Evaluate[chromedp.Void](`(() => {
			window.liveChanges = 0;
			new MutationObserver(m => { window.liveChanges += m.length; }).observe(document.getElementById("live"),
				{ attributes: true, childList: true, characterData: true, subtree: true });
		})()`),
		chromedp.Sleep(4500*time.Millisecond), // two refreshes at least
	); err != nil {
		t.Fatal(err)
	}
	if n := changes(); n != 0 {
		t.Fatalf("the status region changed %d times while the sandbox answered every refresh", n)
	}
	down.Store(true)
	if err := chromedp.Do(ctx, wait(`document.getElementById("live").textContent === "sandbox unreachable"`, 5*time.Second), chromedp.Sleep(2500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	atDown := changes()
	down.Store(false)
	if err := chromedp.Do(ctx, wait(`document.getElementById("live").textContent === "live"`, 5*time.Second), chromedp.Sleep(4500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n := changes(); atDown == 0 || atDown > 2 || n-atDown == 0 || n-atDown > 2 {
		t.Fatalf("the status region changed %d times when the sandbox went away (two refreshes failing) and %d when it came back, want once each (its class and text)", atDown, n-atDown)
	}
}
