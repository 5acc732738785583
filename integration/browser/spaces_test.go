package browser

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Order ids that differ only in white space (CBTIS documents only
// merchant_order_id's length, and its sandbox takes spaces) are told apart
// on the page: each order, and each notification, shows its id as it is,
// where HTML's white-space rule showed " EDGE ", "EDGE" and "TWO SPACES"
// for "TWO  SPACES" alike on the old code.
func TestConsoleShowsIDsWithTheirSpaces(t *testing.T) {
	s := startExample(t)
	ctx := browser(t)
	ids := []string{"EDGE", " EDGE ", "TWO  SPACES", "TWO SPACES"}
	token := cbtisToken(t, s)
	for _, id := range ids {
		cbtisCreate(t, s, token, id, "Tea", s.merchant+"/webhooks/cbtis")
		q, _ := json.Marshal(id)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(s.sandbox+"/sandbox/"),
			chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('article[data-provider="cbtis"]')].find(e => e.dataset.orderId === `+string(q)+`).querySelector('button[data-action="succeed"]').click()`),
			wait(`[...document.querySelectorAll('[data-notification]')].some(e => e.dataset.orderId === `+string(q)+`)`, 20*time.Second),
		); err != nil {
			t.Fatalf("succeed %q: %v", id, err)
		}
	}
	type shown struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]shown](`[...document.querySelectorAll('article[data-order-id], [data-notification]')].map(e => ({id: e.dataset.orderId, text: e.querySelector(".id").innerText}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*len(ids) {
		t.Fatalf("%d orders and notifications listed, want %d: %q", len(got), 2*len(ids), got)
	}
	for _, e := range got {
		if e.Text != e.ID {
			t.Errorf("the id %q is shown as %q", e.ID, e.Text)
		}
	}
}
