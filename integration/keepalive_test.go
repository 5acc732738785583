package integration

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// TestProviderClosesReusedConnection: a provider closes a keep-alive
// connection just as reverse_proxy reuses it (the request arrives, no byte
// of an answer leaves). WeChat keys every call by the merchant's numbers
// (docs/providers/wechat_v2.md "Sending a call again"), so Go's transport
// sends the call again on a fresh connection and the merchant gets the
// answer, not a 502. README "Under faults and reloads".
func TestProviderClosesReusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns, requests atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn // closed at the end: reverse_proxy keeps an idle one for minutes
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					requests.Add(1)
					if n == 1 && i == 1 { // the first connection's second request: closed unanswered
						return
					}
					_, p, err := transform.ParseFlatXML(body)
					if err != nil || !wxpay.Verify(p, apiKey, p.Get("sign_type")) {
						_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
						return
					}
					a := transform.Params{
						{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"},
						{Name: "appid", Value: appID}, {Name: "mch_id", Value: mchID},
						{Name: "nonce_str", Value: "IITRi8Iabbblz1Jc"}, {Name: "result_code", Value: "SUCCESS"},
						{Name: "prepay_id", Value: "wx" + p.Get("out_trade_no")}, {Name: "trade_type", Value: "JSAPI"},
					}
					a = append(a, transform.Param{Name: "sign", Value: wxpay.Sign(a, apiKey, "MD5")})
					xml := transform.AppendFlatXML(nil, "xml", a)
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: "+strconv.Itoa(len(xml))+"\r\n\r\n"+string(xml))
				}
			}()
		}
	}()

	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+`
:`+port+` {
	route /wechat/* {
		minipay wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
			notify_url https://merchant.example/webhooks/wechat_v2
			client_ip 127.0.0.1
		}
		reverse_proxy `+ln.Addr().String()+`
	}
}
`)
	for _, orderID := range []string{"KA-1", "KA-2", "KA-3"} {
		res := postJSON(t, tc, "http://localhost:"+port+"/wechat/pay",
			`{"order_id":"`+orderID+`","amount":"1.00","currency":"CNY","description":"d","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
		if res.status != http.StatusOK || str(res.json(t)["package"]) != "prepay_id=wx"+orderID {
			t.Fatalf("pay %s: HTTP %d %s", orderID, res.status, res.body)
		}
	}
	if got := requests.Load(); got != 4 { // KA-2 twice: on the closed connection, then on a new one
		t.Errorf("the provider got %d requests, want 4", got)
	}
	if got := conns.Load(); got != 2 {
		t.Errorf("reverse_proxy opened %d connections, want 2", got)
	}
}
