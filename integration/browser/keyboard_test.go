package browser

import (
	"context"
	"testing"
	"time"

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

