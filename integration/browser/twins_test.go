package browser

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Two providers hold an order with the same id: a script (or a test) that
// clicked one of them waits for that provider's notification, which the
// hook [data-notification] names, as data-provider names an order's; a
// notification of the other provider's order with that id is not taken for
// it. On the old code every notification's data-notification was empty,
// and only the text said whose it was.
func TestConsoleNotificationsNameTheirProvider(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "TWIN-0001", "1.00")
	s.payWith(t, "/wechat_v3/pay", "TWIN-0001", "2.00")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(orderOf("wechat_v3", "TWIN-0001"))),
		chromedp.WaitVisible(chromedp.CSS(orderOf("wechat_v2", "TWIN-0001"))),
	); err != nil {
		t.Fatal(err)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	v2 := `[data-notification="wechat_v2"][data-order-id="TWIN-0001"][data-acknowledged="true"]`
	v3 := `[data-notification="wechat_v3"][data-order-id="TWIN-0001"][data-acknowledged="true"]`
	click(t, ctx, "wechat_v3", "TWIN-0001", "succeed", "succeeded", true)
	if got := [2]int{count(v2), count(v3)}; got != [2]int{0, 1} {
		t.Fatalf("after wechat_v3's TWIN-0001 succeeded: %d wechat_v2 and %d wechat_v3 notifications listed, want 0 and 1", got[0], got[1])
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(orderOf("wechat_v2", "TWIN-0001")+` button[data-action="fail"]`)),
		wait(`document.querySelectorAll('`+v2+`[data-result="failed"]').length === 1`, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := [3]int{count(v2), count(v3), count(`[data-notification][data-order-id="TWIN-0001"]`)}; got != [3]int{1, 1, 2} {
		t.Fatalf("after wechat_v2's TWIN-0001 failed: %d wechat_v2, %d wechat_v3, %d in all, want 1, 1 and 2", got[0], got[1], got[2])
	}
	// The hook of an order still matches orders only.
	if n := count(`[data-order-id][data-provider]`); n != 2 {
		t.Fatalf("[data-order-id][data-provider] matches %d elements, want the 2 orders", n)
	}
}
