package integration

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// rotatedKey is the API key after the rotation (test data of nobody).
const rotatedKey = "c0ffee00c0ffee00c0ffee00c0ffee00"

// keyedWeChat is a unifiedorder endpoint that accepts a request signed
// with any of keys and answers it signed with the same key, as WeChat does
// in the minutes after a merchant resets the key. It counts the requests
// each key signed.
func keyedWeChat(t *testing.T, keys ...string) (*httptest.Server, map[string]*atomic.Int64) {
	signedBy := map[string]*atomic.Int64{}
	for _, k := range keys {
		signedBy[k] = new(atomic.Int64)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		_, req, err := transform.ParseFlatXML(body)
		if err != nil {
			http.Error(w, "bad xml", http.StatusBadRequest)
			return
		}
		for _, key := range keys {
			if !wxpay.Verify(req, key, req.Get("sign_type")) {
				continue
			}
			signedBy[key].Add(1)
			_, _ = w.Write(signedPayAnswer("wx201411101639507cbf6ffd8b0779950874", key, req.Get("sign_type")))
			return
		}
		_, _ = w.Write([]byte(`<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>`))
	}))
	t.Cleanup(srv.Close)
	return srv, signedBy
}

// keyedSite is a site on port whose /wechat/* routes pay with wechat_v2,
// the API key read from keyFile, through reverse_proxy to upstream.
func keyedSite(port, keyFile, upstream string) string {
	return `
:` + port + ` {
	handle /wechat/* {
		minipay wechat_v2 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key {file.` + keyFile + `}
			notify_url https://merchant.example/webhooks/wechat_v2
			client_ip 127.0.0.1
		}
		reverse_proxy ` + strings.TrimPrefix(upstream, "http://") + `
	}
}
`
}

// paySignMD5 is wx.requestPayment's MD5 paySign for appID, computed from the
// rule (fields sorted by name, k=v joined by &, then &key=, MD5, upper-case
// hex; https://pay.weixin.qq.com/wiki/doc/api/wxa/wxa_api.php?chapter=7_7)
// rather than by the plugin.
func paySignMD5(a map[string]string, key string) string {
	s := "appId=" + appID + "&nonceStr=" + a["nonceStr"] + "&package=" + a["package"] +
		"&signType=" + a["signType"] + "&timeStamp=" + a["timeStamp"] + "&key=" + key
	sum := md5.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// TestReloadUnderLoad rotates the API key while clients pay without pause:
// the Caddyfile is changed to read the key from another file and loaded
// through the admin API, as `caddy reload` does; then a configuration that
// cannot load (its key file is missing) is refused. Half the clients speak
// HTTP/2 (h2c), half HTTP/1.1 marking their pays idempotent; no request of
// either may fail, each answer's paySign verifies with the old or the new
// key, and every pay that starts once the reload returned is signed with the
// new key.
//
// Why the HTTP/1.1 clients mark their requests: on a reload Caddy's old
// server closes its idle keep-alive connections, and a request a client
// writes at that instant onto such a connection is lost (the kernel answers
// it with a reset). HTTP/1.1 has no way to tell the client the request was
// never seen, so a client retries only requests it knows are idempotent
// (RFC 9110 §9.2.2; Go's client: the Idempotency-Key header). HTTP/2 does
// say it: GOAWAY names the last stream the server took, and the client
// sends the rest again. A third group of plain HTTP/1.1 clients measures
// what happens without either, which the README reports.
func TestReloadUnderLoad(t *testing.T) {
	const workers = 8 // per kind of client
	dir := t.TempDir()
	oldKeyFile, newKeyFile := filepath.Join(dir, "api_key.1"), filepath.Join(dir, "api_key.2")
	if err := os.WriteFile(oldKeyFile, []byte(apiKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newKeyFile, []byte(rotatedKey), 0o600); err != nil {
		t.Fatal(err)
	}
	upstream, signedBy := keyedWeChat(t, apiKey, rotatedKey)
	port := itoa(freePort(t))
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	options := strings.Replace(globalOptions(logFile), "{\n", "{\n\tservers {\n\t\tprotocols h1 h2c\n\t}\n", 1)
	config := func(keyFile string) string { return options + keyedSite(port, keyFile, upstream.URL) }
	startCaddy(t, config(oldKeyFile))
	url := "http://127.0.0.1:" + port + "/wechat/pay"
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	clients := map[string]*http.Client{
		"h2c":              {Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &h2c}},
		"http1 idempotent": {Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}},
		"http1 plain":      {Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}},
	}
	body := `{"order_id":"RELOAD-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`

	// pay returns the key the answer's paySign verifies with, or why none.
	pay := func(kind string) (key, problem string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if kind == "http1 idempotent" {
			req.Header.Set("Idempotency-Key", "RELOAD-1") // the order id: a repeat is the same order
		}
		res, err := clients[kind].Do(req)
		if err != nil {
			return "", err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var a map[string]string
		if res.StatusCode != http.StatusOK || json.Unmarshal(b, &a) != nil {
			return "", "HTTP " + itoa(res.StatusCode) + ": " + string(b)
		}
		if kind == "h2c" && res.ProtoMajor != 2 {
			return "", "not HTTP/2: " + res.Proto
		}
		for _, k := range []string{apiKey, rotatedKey} {
			if a["signType"] == wechatv2.SignMD5 && a["paySign"] == paySignMD5(a, k) {
				return k, ""
			}
		}
		return "", "paySign verifies with neither key: " + string(b)
	}

	type tally struct {
		byKey    map[string]int
		problems []string
		stale    int // answers with the old key to pays started after the reload
	}
	var (
		reloaded atomic.Bool
		mu       sync.Mutex
		tallies  = map[string]*tally{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for kind := range clients {
		tl := &tally{byKey: map[string]int{}}
		tallies[kind] = tl
		for range workers {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					after := reloaded.Load()
					key, problem := pay(kind)
					mu.Lock()
					tl.byKey[key]++
					if problem != "" && len(tl.problems) < 10 {
						tl.problems = append(tl.problems, problem)
					}
					if after && key == apiKey {
						tl.stale++
					}
					mu.Unlock()
				}
			})
		}
	}
	// Each phase lasts until every client kind has 20 more answers signed
	// with key, not a fixed second: on a loaded machine a second could
	// pass without one, and the load did not span the reload.
	answered := func(kind, key string) int {
		mu.Lock()
		defer mu.Unlock()
		return tallies[kind].byKey[key]
	}
	loadUntil := func(phase, key string) {
		t.Helper()
		before := map[string]int{}
		for kind := range clients {
			before[kind] = answered(kind, key)
		}
		for kind := range clients {
			if kind == "http1 plain" {
				continue // measured, not asserted: it may fail throughout
			}
			for deadline := time.Now().Add(30 * time.Second); answered(kind, key) < before[kind]+20; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					close(stop)
					wg.Wait()
					t.Fatalf("%s: %s: %d answers signed with the expected key in 30 s", phase, kind, answered(kind, key)-before[kind])
				}
			}
		}
	}
	loader := adminLoader{client: &http.Client{Timeout: 30 * time.Second}}
	loadUntil("before the reload", apiKey)
	if err := loader.load(config(newKeyFile)); err != nil {
		t.Fatalf("reload: %v", err)
	}
	reloaded.Store(true)
	loadUntil("after the reload", rotatedKey)
	// A reload that fails (its key file is missing) leaves the running
	// configuration serving, under the same load.
	if err := loader.load(config(filepath.Join(dir, "missing"))); err == nil {
		t.Fatal("a configuration whose key file is missing loaded")
	}
	loadUntil("after the failed reload", rotatedKey)
	close(stop)
	wg.Wait()

	t.Logf("upstream saw old key %d, new key %d", signedBy[apiKey].Load(), signedBy[rotatedKey].Load())
	for kind, tl := range tallies {
		t.Logf("%s: answers signed with the old key %d, the new key %d; failed %d", kind, tl.byKey[apiKey], tl.byKey[rotatedKey], tl.byKey[""])
		if kind == "http1 plain" {
			continue // measured, not asserted: see the comment above
		}
		if len(tl.problems) > 0 {
			t.Errorf("%s: %d failed requests, the first ones:\n%s", kind, tl.byKey[""], strings.Join(tl.problems, "\n"))
		}
		if tl.stale > 0 {
			t.Errorf("%s: %d pays started after the reload were signed with the old key", kind, tl.stale)
		}
		if tl.byKey[apiKey] == 0 || tl.byKey[rotatedKey] == 0 {
			t.Errorf("%s: the load did not span the reload: %v", kind, tl.byKey)
		}
	}
	for kind := range clients {
		if key, problem := pay(kind); key != rotatedKey {
			t.Errorf("%s after the reload: %q %s", kind, key, problem)
		}
	}
}

// TestReloadRereadsKeyFileWhenForced: a reload of an unchanged Caddyfile
// leaves a key file's new content unread (the configuration holds the
// placeholder, and Caddy skips a load equal to the running one); a forced
// one (`caddy reload --force` sends Cache-Control: must-revalidate) reads
// it, as README "Secrets" says.
func TestReloadRereadsKeyFileWhenForced(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "api_key")
	if err := os.WriteFile(keyFile, []byte(apiKey), 0o600); err != nil {
		t.Fatal(err)
	}
	upstream, signedBy := keyedWeChat(t, apiKey, rotatedKey)
	port := itoa(freePort(t))
	config := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + keyedSite(port, keyFile, upstream.URL)
	tc := startCaddy(t, config)
	// signedWith pays once and names the key the upstream verified.
	signedWith := func() string {
		before := map[string]int64{apiKey: signedBy[apiKey].Load(), rotatedKey: signedBy[rotatedKey].Load()}
		if res := postJSON(t, tc, "http://localhost:"+port+"/wechat/pay", `{"order_id":"FORCE-1","amount":"1.00","currency":"CNY","description":"d","openid":"o1"}`); res.status != 200 {
			t.Fatalf("pay: HTTP %d %s", res.status, res.body)
		}
		for k, n := range before {
			if signedBy[k].Load() > n {
				return k
			}
		}
		return "none"
	}
	if got := signedWith(); got != apiKey {
		t.Fatalf("before the rotation: signed with %q", got)
	}
	if err := os.WriteFile(keyFile, []byte(rotatedKey), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(forced bool) {
		if err := (adminLoader{client: tc.Client, forced: forced}).load(config); err != nil {
			t.Fatalf("load: %v", err)
		}
	}
	load(false)
	if got := signedWith(); got != apiKey {
		t.Fatalf("after a plain reload of the same Caddyfile: signed with %q, want the old key", got)
	}
	load(true)
	if got := signedWith(); got != rotatedKey {
		t.Fatalf("after a forced reload: signed with %q, want the rotated key", got)
	}
}
