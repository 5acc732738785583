package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// connUpstream is a provider or merchant backend served by Go's own
// http.Server, HTTP/1.1 and HTTP/2 (over TLS when tls is set, h2c
// otherwise), that closes its connections the way the variant says. It
// counts the requests it received by the id in their body.
type connUpstream struct {
	mode   string // "idle": 5 ms idle timeout; "close": Connection: close on every answer; "goaway": shut down and served again every 150 ms
	tls    *tls.Config
	answer func([]byte) (contentType, body string)
	addr   string

	mu     sync.Mutex
	srv    *http.Server
	counts map[string]int
}

// upstreamConnID is the id connUpstream counts by: the test's order ids
// (G<client>-I<iteration>, which no random nonce holds), in a WeChat call's XML, a Latipay refund's form
// or a forwarded event's JSON.
var upstreamConnID = regexp.MustCompile(`G[0-9]+-I[0-9]+`)

func newConnUpstream(t *testing.T, mode string, tlsConfig *tls.Config, answer func([]byte) (string, string)) *connUpstream {
	t.Helper()
	u := &connUpstream{mode: mode, tls: tlsConfig, answer: answer, counts: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = ln.Addr().String()
	u.serve(ln)
	t.Cleanup(func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.srv.Close()
	})
	return u
}

func (u *connUpstream) serve(ln net.Listener) {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(u.tls == nil)
	var tlsConfig *tls.Config
	if u.tls != nil {
		tlsConfig = u.tls.Clone() // ServeTLS adds to it
	}
	srv := &http.Server{Protocols: &p, TLSConfig: tlsConfig, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.counts[upstreamConnID.FindString(string(b))]++
		u.mu.Unlock()
		if u.mode == "close" {
			w.Header().Set("Connection", "close") // HTTP/2: a GOAWAY after the answer
		}
		contentType, body := u.answer(b)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		_, _ = io.WriteString(w, body)
	})}
	if u.mode == "idle" {
		srv.IdleTimeout = 5 * time.Millisecond
	}
	u.mu.Lock()
	u.srv = srv
	u.mu.Unlock()
	if u.tls != nil {
		go func() { _ = srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { _ = srv.Serve(ln) }()
	}
}

// restart shuts the server down gracefully (HTTP/2: a GOAWAY naming the
// last stream it took; HTTP/1.1: idle connections closed) while the
// requests under way finish, and serves again on the same port.
func (u *connUpstream) restart() {
	u.mu.Lock()
	old := u.srv
	u.mu.Unlock()
	go func() { _ = old.Shutdown(context.Background()) }()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ln, err := net.Listen("tcp", u.addr); err == nil {
			u.serve(ln)
			return
		}
	}
}

// received is how many times the request with id arrived.
func (u *connUpstream) received(id string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counts[id]
}

// connVariant is one transport and way of closing connections of
// TestProviderClosesConnections.
type connVariant struct {
	name, mode, scheme string
	transport          string // the lines of reverse_proxy's transport http block; "{ca}" is the CA file
	tls                bool   // the upstream serves TLS
}

// TestProviderClosesConnections: production routes reach the provider over
// TLS and the merchant backend over whatever it speaks; each may close a
// connection reverse_proxy keeps: an idle timeout (here 5 ms, so that a
// request often goes out on a connection just closed) or a Connection:
// close on every answer. Over HTTP/1.1, in clear and over TLS, under 8
// clients: a WeChat pay is answered 200 every time, since minipay sends a
// WeChat call again when its write failed (Go's transport reports a failed
// write of the body as the body's own error and does not send it again:
// before, 5 to 27 of 240 pays were a 502); a Latipay refund is 200 or 502
// upstream_error and reaches the provider at most once; a notification is
// the ACK only when the merchant backend received the event, else the
// failure form with 502, and the backend never receives it twice. Never a
// 500, never a hang. The HTTP/2 variants are TestProviderClosesConnectionsHTTP2.
// README "Under faults and reloads".
func TestProviderClosesConnections(t *testing.T) {
	runConnVariants(t, []connVariant{
		{"HTTP/1.1 idle timeout", "idle", "http://", "versions 1.1", false},
		{"HTTP/1.1 over TLS idle timeout", "idle", "https://", "tls_insecure_skip_verify\n\t\t\t\tversions 1.1", true},
		{"HTTP/1.1 over TLS Connection: close", "close", "https://", "tls_insecure_skip_verify\n\t\t\t\tversions 1.1", true},
	})
}

// runConnVariants runs each variant against a WeChat v2, a Latipay and a
// merchant backend upstream of connUpstream's.
func runConnVariants(t *testing.T, variants []connVariant) {
	ts := httptest.NewUnstartedServer(nil)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	serverTLS := ts.TLS.Clone()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ts.Close()
	wechat := func(b []byte) (string, string) {
		return "text/xml", string(signedPayAnswer("wx"+upstreamConnID.FindString(string(b)), apiKey, "MD5"))
	}
	latipay := func([]byte) (string, string) { return "application/json", `{"code":0,"message":"SUCCESS"}` }
	backend := func([]byte) (string, string) { return "", "" }
	for _, tc := range variants {
		var tlsConfig *tls.Config
		if tc.tls {
			tlsConfig = serverTLS
		}
		transport := strings.ReplaceAll(tc.transport, "{ca}", ca)
		t.Run(tc.name, func(t *testing.T) {
			wx := newConnUpstream(t, tc.mode, tlsConfig, wechat)
			lp := newConnUpstream(t, tc.mode, tlsConfig, latipay)
			merchant := newConnUpstream(t, tc.mode, tlsConfig, backend)
			proxy := func(u *connUpstream) string {
				return "reverse_proxy " + tc.scheme + u.addr + " {\n\t\t\ttransport http {\n\t\t\t\t" + transport + "\n\t\t\t}\n\t\t}"
			}
			port := itoa(freePort(t))
			startCaddy(t, globalOptions(filepath.Join(t.TempDir(), "log"))+`
:`+port+` {
	handle /wechat/* {
		`+wechatV2Minipay+`
		`+proxy(wx)+`
	}
	handle /latipay/* {
		minipay latipay {
			user_id `+latipayUserID+`
			wallet_id `+latipayWalletID+`
			app_id `+latipayAppID+`
			currency NZD
			api_key `+latipayAPIKey+`
		}
		`+proxy(lp)+`
	}
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {
			app_id `+appID+`
			mch_id `+mchID+`
			api_key `+apiKey+`
		}
		`+proxy(merchant)+`
	}
}
`)
			stop := make(chan struct{})
			restarted := make(chan struct{})
			go func() {
				defer close(restarted)
				for tc.mode == "goaway" {
					select {
					case <-stop:
						return
					case <-time.After(150 * time.Millisecond):
					}
					wx.restart()
					lp.restart()
					merchant.restart()
				}
			}()
			client := &http.Client{Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()
			var mu sync.Mutex
			var problems []string
			counts := map[string]int{}
			problem := func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				if len(problems) < 10 {
					problems = append(problems, fmt.Sprintf(format, args...))
				}
			}
			count := func(what string) { mu.Lock(); counts[what]++; mu.Unlock() }
			post := func(path, contentType, body string) (int, []byte) {
				res, err := client.Post("http://localhost:"+port+path, contentType, strings.NewReader(body))
				if err != nil {
					problem("%s: %v", path, err)
					return 0, nil
				}
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				if err != nil {
					problem("%s: %v", path, err)
				}
				return res.StatusCode, b
			}
			unreachable := func(b []byte) bool {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				return json.Unmarshal(b, &e) == nil && e.Error.Code == "upstream_error" && e.Error.Message == "the provider could not be reached"
			}
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 20 {
						id := fmt.Sprintf("G%d-I%d", g, i)
						status, b := post("/wechat/pay", "application/json", `{"order_id":"`+id+`","amount":"1.00","currency":"CNY","description":"d","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`)
						switch {
						case status == 200 && strings.Contains(string(b), `"package":"prepay_id=wx`+id+`"`) && wx.received(id) >= 1:
							count("pay 200")
						case status == 502 && tc.mode == "goaway" && unreachable(b):
							count("pay 502")
						default:
							problem("pay %s: %d %s", id, status, b)
						}
						status, b = post("/latipay/refund", "application/json", `{"order_id":"`+id+`","refund_id":"R1","amount":"1.00","currency":"NZD","provider_order_id":"`+id+`"}`)
						switch {
						case lp.received(id) > 1:
							problem("refund %s reached Latipay %d times", id, lp.received(id))
						case status == 200 && lp.received(id) == 1:
							count("refund 200")
						case status == 502 && unreachable(b):
							count("refund 502")
						default:
							problem("refund %s: %d %s", id, status, b)
						}
						n := notification(apiKey, wechatv2.SignMD5, func(p transform.Params) transform.Params {
							return set("out_trade_no", id)(set("transaction_id", fmt.Sprintf("42000001232026120800%08d", g*1000+i))(p))
						})
						status, b = post("/webhooks/wechat_v2", "text/xml", xmlOf(n))
						ack := "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
						switch got := merchant.received(id); {
						case got > 1:
							problem("event %s reached the backend %d times", id, got)
						case status == 200 && string(b) == ack && got == 1:
							count("notification ACK")
						case status == 502 && strings.Contains(string(b), "<return_code><![CDATA[FAIL]]>"):
							count("notification 502")
						default:
							problem("notification %s: %d %s (backend received it %d times)", id, status, b, got)
						}
					}
				}()
			}
			wg.Wait()
			close(stop)
			<-restarted
			t.Logf("%v", counts)
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}
