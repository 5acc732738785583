package browser

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleHostileText: order ids and a notify URL's answer that are
// HTML, quotes and non-ASCII reach the console as text, never as markup or
// script, before and after a reload, and the buttons of such an order
// still settle it. The merchant API keeps order ids to A-Za-z0-9_-|*, but a
// client talking to a provider's sandbox directly is not held to it: CBTIS
// documents only merchant_order_id's length, so its sandbox takes these.
func TestConsoleHostileText(t *testing.T) {
	s := startExample(t)
	ctx := browser(t)
	// The merchant's answer, shown in the notification: markup that would
	// set window.__xss if the page ran it.
	const answer = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">收到 & 'ok'`
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(merchant.Close)

	ids := []string{
		`<img src=x onerror=__xss=3>`,
		`"><script>__xss=4</script>`,
		`订单'&amp;"</article>`,
	}
	token := cbtisToken(t, s)
	for _, id := range ids {
		cbtisCreate(t, s, token, id, "奶茶 <b>&</b>", merchant.URL+"/notify")
	}

	// byID finds an order's element by its id as a string, not through a
	// selector the id could break out of.
	byID := func(id string) string {
		q, _ := json.Marshal(id)
		return `[...document.querySelectorAll('article[data-order-id][data-provider="cbtis"]')].find(e => e.dataset.orderId === ` + string(q) + `)`
	}
	noteOf := func(id string) string {
		q, _ := json.Marshal(id)
		return `[...document.querySelectorAll('[data-notification]')].find(e => e.dataset.orderId === ` + string(q) + `)`
	}
	check := func(when string, states map[string]string) {
		t.Helper()
		type view struct {
			XSS     any      `json:"xss"`
			Scripts int      `json:"scripts"`
			Images  int      `json:"images"`
			Listed  []string `json:"listed"`
		}
		page, err := chromedp.Run(ctx, chromedp.Evaluate[view](`({xss: window.__xss === undefined ? null : window.__xss,
			scripts: document.scripts.length, images: document.images.length,
			listed: [...document.querySelectorAll('article[data-provider="cbtis"]')].map(e => e.dataset.orderId + "\n" + e.querySelector(".id").textContent)})`))
		if err != nil {
			t.Fatal(err)
		}
		if page.XSS != nil || page.Scripts != 1 || page.Images != 0 {
			t.Fatalf("%s: window.__xss %v, %d scripts, %d images: the page ran or built markup from the data", when, page.XSS, page.Scripts, page.Images)
		}
		for _, id := range ids {
			if !strings.Contains(strings.Join(page.Listed, "\n\n"), id+"\n"+id) {
				t.Fatalf("%s: order %q is not listed with its id as text: %q", when, id, page.Listed)
			}
			state, err := chromedp.Run(ctx, chromedp.Evaluate[string](byID(id)+`.querySelector('[data-field="state"]').textContent.trim()`))
			if err != nil {
				t.Fatal(err)
			}
			if want := states[id]; state != want {
				t.Fatalf("%s: order %q shows %q, want %q", when, id, state, want)
			}
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(s.sandbox+"/sandbox/"), wait(byID(ids[2])+` !== undefined`, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{ids[0]: "pending", ids[1]: "pending", ids[2]: "pending"}
	check("loaded", states)
	for i, id := range ids[:2] {
		action, state := "succeed", "succeeded"
		if i == 1 {
			action, state = "fail", "failed"
		}
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`(`+byID(id)+`.querySelector('button[data-action="`+action+`"]').click(), {})`),
			wait(noteOf(id)+` !== undefined`, 20*time.Second),
			wait(byID(id)+`.querySelector('[data-field="state"]').textContent.trim() === "`+state+`"`, 10*time.Second),
		); err != nil {
			t.Fatalf("%s %q: %v", action, id, err)
		}
		states[id] = state
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](noteOf(id)+`.querySelector(".answer").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		if shown != answer {
			t.Fatalf("the answer to %q shows %q, want the text %q", id, shown, answer)
		}
	}
	check("after the clicks", states)
	if err := chromedp.Do(ctx, chromedp.Reload(), wait(noteOf(ids[1])+` !== undefined`, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	check("after a reload", states)
	screenshot(t, ctx, "console-hostile-text.png")
}

// cbtisToken is an access token of Caddyfile.example's CBTIS sandbox.
func cbtisToken(t *testing.T, s stack) string {
	t.Helper()
	res, err := http.Get(s.sandbox + "/mch-api/v1/auth?grant_type=client_credentials&uid=39172931&client_secret=cs_sandbox_4b7e1d9a2c6f8e3b5a7d9c1e3f5a7b9d")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

// cbtisCreate creates a payment intent through Caddyfile.example's CBTIS
// sandbox itself, as a client of CBTIS's API: no merchant API rule on the
// id (CBTIS documents only its length).
func cbtisCreate(t *testing.T, s stack, token, id, description, notifyURL string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"amount": "1.50", "currency": "HKD", "merchant_order_id": id, "description": description,
		"notify_url": notifyURL,
		"payment_method": map[string]any{"type": "wechat", "wechat": map[string]any{
			"flow": "mini_program", "sub_appid": "wx7bc98d929da735fe", "sub_openid": "oqZa55Qo-u0cVViWMAgv_YbyXb4U"}},
	})
	req, _ := http.NewRequest(http.MethodPost, s.sandbox+"/mch-api/v1/pa/payment_intents/create", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Code int `json:"code"`
	}
	err = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if err != nil || created.Code != 0 {
		t.Fatalf("create %q: code %d (%v)", id, created.Code, err)
	}
}
