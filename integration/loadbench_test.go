package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// BenchmarkMinipayVersusPlainProxy measures, in one run on one machine, a
// pay through minipay (decode, sign, XML, reverse_proxy, verify, paySign,
// JSON) against the same request through a plain reverse_proxy route to the
// same upstream, so the plugin's own cost is the difference:
//
//	go test -run '^$' -bench MinipayVersusPlainProxy -benchmem ./integration/
func BenchmarkMinipayVersusPlainProxy(b *testing.B) {
	answer := signedPayAnswer("wx201411101639507cbf6ffd8b0779950874", apiKey, wechatv2.SignMD5)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(answer)
	}))
	defer upstream.Close()

	port := itoa(freePort(b))
	tc := startCaddyB(b, globalOptions(filepath.Join(b.TempDir(), "log"))+`
:`+port+` {
	handle /wechat/* {
		`+wechatV2Minipay+`
		reverse_proxy `+strings.TrimPrefix(upstream.URL, "http://")+`
	}
	handle /plain/* {
		reverse_proxy `+strings.TrimPrefix(upstream.URL, "http://")+`
	}
}
`)
	body := `{"order_id":"BENCH-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`
	for _, route := range []string{"plain", "wechat"} {
		b.Run(route, func(b *testing.B) {
			url := "http://localhost:" + port + "/" + route + "/pay"
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := tc.Client.Post(url, "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("%s: HTTP %d", route, res.StatusCode)
						return
					}
				}
			})
		})
	}
}
