package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// focused says where the keyboard focus is: "<action> <order id>" for an
// order's button, else the focused element's tag.
const focused = `(a => a && a.dataset && a.dataset.action && a.closest("article[data-order-id]")
	? a.dataset.action + " " + a.closest("article[data-order-id]").dataset.orderId : (a ? a.tagName : "none"))(document.activeElement)`

func focusIs(t *testing.T, ctx context.Context, want, when string) {
	t.Helper()
	if err := chromedp.Do(ctx, wait(focused+` === "`+want+`"`, 5*time.Second)); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](focused))
		t.Fatalf("%s: the focus is on %q, want %q", when, got, want)
	}
}

// The console used from the keyboard alone: Tab reaches an order's buttons,
// Enter and Space press them, and after the page shows the result the focus
// is still on that order's button, so the next Tab goes on from there. A
// refresh that renders the focused order afresh (it changed elsewhere)
// keeps the focus in it too. On the old code the click disabled the button
// and the page replaced the order, which left the focus on the page's body:
// the next Tab started again from the top of the page.
func TestConsoleKeyboardKeepsTheFocus(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "KEY-1", "1.00")
	s.pay(t, "KEY-2", "2.00") // listed first
	if err := chromedp.Do(ctx, chromedp.Navigate(s.sandbox+"/sandbox/"), chromedp.WaitVisible(chromedp.CSS(order("KEY-1")))); err != nil {
		t.Fatal(err)
	}
	// KEY-2's Succeed, Fail (Refund is disabled: nothing paid), then KEY-1's Succeed.
	for _, want := range []string{"succeed KEY-2", "fail KEY-2", "succeed KEY-1"} {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		focusIs(t, ctx, want, "after Tab")
	}
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent("\r"),
		wait(`document.querySelector('[data-notification][data-order-id="KEY-1"][data-acknowledged="true"]') !== null`, 20*time.Second),
		wait(`document.querySelector('`+order("KEY-1")+` [data-field="state"]').textContent.trim() === "succeeded"`, 10*time.Second),
		wait(`!document.querySelector('`+order("KEY-1")+`').classList.contains("busy")`, 10*time.Second),
	); err != nil {
		t.Fatal(err)
	}
	// Succeed now reads Notify again; Fail is disabled on a paid order.
	focusIs(t, ctx, "succeed KEY-1", "after Enter on Succeed")
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	focusIs(t, ctx, "refund KEY-1", "after Tab from Notify again")
	if err := chromedp.Do(ctx,
		chromedp.KeyEvent(" "),
		wait(`document.querySelector('`+order("KEY-1")+` [data-field="state"]').textContent.trim() === "refunded"`, 20*time.Second),
		wait(`!document.querySelector('`+order("KEY-1")+`').classList.contains("busy")`, 10*time.Second),
	); err != nil {
		t.Fatal(err)
	}
	focusIs(t, ctx, "refund KEY-1", "after Space on Refund")
	if got := s.merchantEvents(t, "KEY-1"); len(got) != 2 || got[0] != "payment.succeeded 1.00" || got[1] != "refund.succeeded 1.00" {
		t.Fatalf("the merchant backend received %v", got)
	}

	// KEY-2 changes elsewhere (a script's POST /sandbox/complete) while the
	// focus is on its Fail: the page's own refresh renders it afresh.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(order("KEY-2")+` button[data-action="fail"]`))); err != nil {
		t.Fatal(err)
	}
	focusIs(t, ctx, "fail KEY-2", "after focusing KEY-2's Fail")
	postJSON(t, s.sandbox+"/sandbox/complete", `{"provider":"wechat_v2","order_id":"KEY-2","result":"failed"}`)
	if err := chromedp.Do(ctx, wait(`document.querySelector('`+order("KEY-2")+` [data-field="state"]').textContent.trim() === "failed"`, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	focusIs(t, ctx, "fail KEY-2", "after a refresh rendered KEY-2 afresh")
}

// Every order has buttons labelled Succeed, Fail and Refund: in the list of
// a page's buttons a screen reader offers, each one's name says which order
// it acts on (its visible label first, so that the label a user sees, or
// speaks to voice control, is in the name). On the old code two orders'
// buttons had the same names, the label alone.
func TestConsoleButtonsNameTheirOrder(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "NAME-1", "1.00")
	s.pay(t, "NAME-2", "2.00")
	if err := chromedp.Do(ctx, chromedp.Navigate(s.sandbox+"/sandbox/"), chromedp.WaitVisible(chromedp.CSS(order("NAME-1")))); err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "wechat_v2", "NAME-1", "succeed", "succeeded", true)
	tree, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (accessibility.GetFullAXTreeResult, error) {
		return cdp.Call(ctx, tg, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range tree.Nodes {
		if n.Ignored || n.Role == nil || n.Name == nil || string(n.Role.Value) != `"button"` {
			continue
		}
		var name string
		if err := json.Unmarshal(n.Name.Value, &name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	want := []string{
		"Succeed NAME-2 (wechat_v2)", "Fail NAME-2 (wechat_v2)", "Refund NAME-2 (wechat_v2)",
		"Notify again NAME-1 (wechat_v2)", "Fail NAME-1 (wechat_v2)", "Refund NAME-1 (wechat_v2)",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("the page's buttons are named %q, want %q", names, want)
	}
}

// Giving the focus back does not scroll the page: a user who scrolled away
// while an action ran (a slow notify URL takes up to 15 s) stays where
// they are. The action is held back in the page for 3 s, meanwhile the
// window is scrolled to the bottom of a page taller than it. On the code
// before this test, focus() brought the order back into view.
func TestConsoleFocusComesBackWithoutScrolling(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "SCROLL-1", "1.00") // the oldest: listed last
	for i := 2; i <= 12; i++ {
		s.pay(t, fmt.Sprintf("SCROLL-%d", i), "1.00")
	}
	card := order("SCROLL-12") // the newest: at the top
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(420, 500),
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(card)),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.fetch;
			window.fetch = (url, opts) => url === "complete"
				? new Promise(r => setTimeout(r, 3000)).then(() => real(url, opts))
				: real(url, opts);
		})()`),
		chromedp.Focus(chromedp.CSS(card+` button[data-action="succeed"]`)),
		chromedp.KeyEvent("\r"),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.documentElement.scrollHeight)`),
	); err != nil {
		t.Fatal(err)
	}
	y, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.scrollY`))
	if err != nil || y < 500 {
		t.Fatalf("the window scrolled to %v (%v): the page is not taller than the window", y, err)
	}
	if err := chromedp.Do(ctx,
		wait(`document.querySelector('`+card+` [data-field="state"]').textContent.trim() === "succeeded"`, 20*time.Second),
		wait(`!document.querySelector('`+card+`').classList.contains("busy")`, 10*time.Second),
	); err != nil {
		t.Fatal(err)
	}
	focusIs(t, ctx, "succeed SCROLL-12", "after the action")
	if after, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`window.scrollY`)); err != nil || after != y {
		t.Fatalf("the window scrolled from %v to %v (%v) when the focus came back", y, after, err)
	}
}

// The link to the demo merchant's events is rendered afresh when the count
// of events in it changes; the keyboard focus on it stays there. On the old
// code it went to the page's body.
func TestConsoleFocusStaysOnTheEventsLink(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "LINK-1", "1.00")
	link := `.hint a[href="merchant/events"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(order("LINK-1"))),
		chromedp.Focus(chromedp.CSS(link)),
	); err != nil {
		t.Fatal(err)
	}
	postJSON(t, s.sandbox+"/sandbox/complete", `{"provider":"wechat_v2","order_id":"LINK-1","result":"succeeded"}`)
	if err := chromedp.Do(ctx, wait(`document.querySelector(".hint").textContent.includes("received 1 event:")`, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector('`+link+`')`)); err != nil || !got {
		where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.tagName`))
		t.Fatalf("after the count of events changed, the focus is on %s (%v), not the link", where, err)
	}
}
