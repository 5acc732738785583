package integration

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
)

// TestSandboxNotifyURLRedirect: README Sandbox: a notify URL that answers
// a redirect has answered; /sandbox/complete reports its 3xx, not the ACK,
// and the notification goes nowhere else. wechat_v3's and 2C2P's ACK is a
// bare 200, which the page behind the redirect would have given.
func TestSandboxNotifyURLRedirect(t *testing.T) {
	tc, merchant, sandbox, _ := startExample(t)
	base, sbx := "http://localhost:"+itoa(merchant), "http://localhost:"+itoa(sandbox)
	var reached atomic.Int32
	page := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))
	t.Cleanup(page.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, page.URL+"/login", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	for i, p := range []struct{ provider, path, currency string }{
		{"wechat_v3", "/wechat_v3/pay", "CNY"},
		{"2c2p", "/2c2p/pay", "SGD"},
	} {
		id := "REDIR-" + strconv.Itoa(i)
		if res := postJSON(t, tc, base+p.path, `{"order_id":"`+id+`","amount":"1.00","currency":"`+p.currency+
			`","description":"d","openid":"o","notify_url":"`+redirect.URL+`/notify"}`); res.status != 200 {
			t.Fatalf("%s pay: %d %s", p.provider, res.status, res.body)
		}
		res := postJSON(t, tc, sbx+"/sandbox/complete", `{"provider":"`+p.provider+`","order_id":"`+id+`","result":"succeeded"}`)
		m := res.json(t)
		if res.status != 200 || m["delivered"] != true || m["response_status"] != float64(http.StatusFound) || m["acknowledged"] != false {
			t.Fatalf("%s complete: %d %s, want delivered, response_status 302, not acknowledged", p.provider, res.status, res.body)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the page behind the redirect was reached %d times", n)
	}
}
