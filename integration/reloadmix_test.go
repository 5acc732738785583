package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadVariantsUnderLoad: reloads under load that do more than
// rotate a key: a route's provider changes (wechat_v2 → 2c2p), a route is
// added then removed, every provider's webhook switches dedupe on then off, a key is
// rotated through another {file.*}; and loads that are refused at every
// stage (a Caddyfile that does not parse, an unknown field, a missing key
// file, a bad route after good ones with dedupe on, whose purge never
// starts). h2c clients pay and notify without pause: none fails, each answer is the
// old or the new configuration's, each request started after a load
// returned is the new one's; a refused load leaves the running one serving
// and the admin API listing exactly its providers; goroutines are back to
// their count before the load.
func TestReloadVariantsUnderLoad(t *testing.T) {
	dir := t.TempDir()
	key1, key2 := filepath.Join(dir, "k1"), filepath.Join(dir, "k2")
	for f, k := range map[string]string{key1: apiKey, key2: rotatedKey} {
		if err := os.WriteFile(f, []byte(k), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wechat, _ := keyedWeChat(t, apiKey, rotatedKey)
	fake2c2p := newFake2C2P(t)
	var delivered atomic.Int64
	backend := byFault(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	port := itoa(freePort(t))
	logFile := filepath.Join(dir, "caddy.log")
	options := strings.Replace(globalOptions(logFile), "{\n", "{\n\tservers {\n\t\tprotocols h1 h2c\n\t}\n", 1)
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }

	// stage is one configuration: its key file, whether /switch is 2c2p,
	// whether /extra exists, whether the webhook dedupes, and a broken
	// tail (a refused configuration).
	type stage struct {
		keyFile              string
		twoc2p, extra, dedup bool
		broken               string
	}
	providers := webhookProviders(t)
	config := func(s stage) string {
		var b strings.Builder
		b.WriteString(options)
		fmt.Fprintf(&b, ":%s {\n", port)
		fmt.Fprintf(&b, "\thandle /wechat/* {\n\t\tminipay wechat_v2 {\n app_id %s\n mch_id %s\n api_key {file.%s}\n notify_url https://m.example/n\n client_ip 127.0.0.1\n\t\t}\n\t\treverse_proxy %s\n\t}\n",
			appID, mchID, s.keyFile, host(wechat.URL))
		if s.twoc2p {
			fmt.Fprintf(&b, "\thandle /switch/* {\n\t\tminipay 2c2p {\n merchant_id %s\n secret_key %s\n app_id %s\n\t\t}\n\t\treverse_proxy %s\n\t}\n",
				twoc2pMerchant, twoc2pKey, appID, host(fake2c2p.srv.URL))
		} else {
			fmt.Fprintf(&b, "\thandle /switch/* {\n\t\tminipay wechat_v2 {\n app_id %s\n mch_id %s\n api_key %s\n notify_url https://m.example/n\n client_ip 127.0.0.1\n\t\t}\n\t\treverse_proxy %s\n\t}\n",
				appID, mchID, apiKey, host(wechat.URL))
		}
		if s.extra {
			fmt.Fprintf(&b, "\thandle /extra/* {\n\t\tminipay 2c2p {\n merchant_id %s\n secret_key %s\n app_id %s\n\t\t}\n\t\treverse_proxy %s\n\t}\n",
				twoc2pMerchant, twoc2pKey, appID, host(fake2c2p.srv.URL))
		}
		dedupe := ""
		if s.dedup {
			dedupe = " dedupe 1h\n"
		}
		for _, p := range providers {
			fmt.Fprintf(&b, "\thandle /hook/%s {\n\t\tminipay_webhook %s {\n%s%s\t\t}\n\t\treverse_proxy %s\n\t}\n",
				p.name, p.name, dedupe, webhookBlock(t, p.name), host(backend.URL))
		}
		b.WriteString(s.broken)
		b.WriteString("\thandle {\n\t\trespond \"no route\" 404\n\t}\n}\n")
		return b.String()
	}
	current := stage{keyFile: key1}
	startCaddy(t, config(current))
	base := "http://127.0.0.1:" + port
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Protocols: &h2c}}
	admin := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	// listed is the admin API's providers, as "handler provider" sorted.
	listed := func() []string {
		res, err := admin.Get("http://" + adminAddr + "/minipay/providers")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var l []struct{ Handler, Provider string }
		if err := json.NewDecoder(res.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range l {
			out = append(out, e.Handler+" "+e.Provider)
		}
		return out
	}

	// The kinds of request; each returns what answered ("old"/"new"
	// meaning of the stage, as a label) or why it failed.
	send := func(path, contentType, body string, header http.Header) (int, []byte, error) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", contentType)
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if res.ProtoMajor != 2 {
			return 0, nil, fmt.Errorf("not HTTP/2: %s", res.Proto)
		}
		return res.StatusCode, b, err
	}
	pay := func(path, currency string) string {
		status, b, err := send(path, "application/json", `{"order_id":"RLD-1","amount":"12.30","currency":"`+currency+`","description":"d","openid":"`+twoc2pOpenID+`","notify_url":"https://m.example/n"}`, nil)
		if err != nil {
			return "error: " + err.Error()
		}
		if status == 404 && string(b) == "no route" {
			return "no route"
		}
		var a map[string]string
		if status != 200 || json.Unmarshal(b, &a) != nil {
			return fmt.Sprintf("HTTP %d: %.200s", status, b)
		}
		if a["provider"] == "wechat_v2" {
			switch a["paySign"] {
			case paySignMD5(a, apiKey):
				return "wechat_v2 key1"
			case paySignMD5(a, rotatedKey):
				return "wechat_v2 key2"
			}
			return "wechat_v2 paySign of no key: " + string(b)
		}
		return a["provider"]
	}
	kinds := map[string]func() string{
		"wechat": func() string { return pay("/wechat/pay", "CNY") },
		"switch": func() string { return pay("/switch/pay", "SGD") },
		"extra":  func() string { return pay("/extra/pay", "SGD") },
	}
	for _, p := range providers {
		kinds["hook "+p.name] = func() string {
			body, header := p.notification()
			status, b, err := send("/hook/"+p.name, p.contentType, body, header)
			if err != nil {
				return "error: " + err.Error()
			}
			if status != 200 || string(b) != p.ack {
				return fmt.Sprintf("HTTP %d: %.200s", status, b)
			}
			return "ack"
		}
	}
	// expect is each kind's answer under a stage.
	expect := func(s stage) map[string]string {
		m := map[string]string{"wechat": "wechat_v2 key1", "switch": "wechat_v2 key1", "extra": "no route"}
		for _, p := range providers {
			m["hook "+p.name] = "ack"
		}
		if s.keyFile == key2 {
			m["wechat"] = "wechat_v2 key2"
		}
		if s.twoc2p {
			m["switch"] = "2c2p"
		}
		if s.extra {
			m["extra"] = "2c2p"
		}
		return m
	}
	for kind, f := range kinds {
		if got := f(); got != expect(current)[kind] {
			t.Fatalf("%s before the load: %s", kind, got)
		}
	}
	listedBefore := listed()
	baseline := goroutineCount(client, wechat, fake2c2p.srv, backend)

	// Load: 4 clients of each kind. A request's answer must be its stage's
	// when it started after the load of that stage returned and ended
	// before the next load began; otherwise either neighbour's.
	var (
		mu       sync.Mutex
		problems []string
		counts   = map[string]int{}
		inflight = map[int64]int{} // requests under way, by the epoch they started in
		epoch    atomic.Int64      // odd while a load is under way
		stages   = []stage{current}
	)
	report := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, s)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for kind, f := range kinds {
		for range 3 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					e0 := epoch.Load()
					inflight[e0]++
					mu.Unlock()
					got := f()
					e1 := epoch.Load()
					mu.Lock()
					inflight[e0]--
					counts[kind+": "+got]++
					allowed := []string{expect(stages[e0/2])[kind]}
					if e0 != e1 || e0%2 == 1 { // across a load: the stage before or after
						allowed = append(allowed, expect(stages[(e1+1)/2])[kind])
					}
					mu.Unlock()
					ok := false
					for _, a := range allowed {
						ok = ok || got == a
					}
					if !ok {
						report(fmt.Sprintf("%s (epochs %d..%d): %s, want one of %q", kind, e0, e1, got, allowed))
					}
				}
			})
		}
	}
	// serving lasts until every kind has answered as stage s says 3 more
	// times, not a fixed second: on a loaded machine a second could pass
	// without an answer of some kind, and the stages went unseen.
	serving := func(s stage) {
		t.Helper()
		want := expect(s)
		before := map[string]int{}
		mu.Lock()
		for kind := range kinds {
			before[kind] = counts[kind+": "+want[kind]]
		}
		mu.Unlock()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			var short []string
			for kind := range kinds {
				if counts[kind+": "+want[kind]] < before[kind]+3 {
					short = append(short, kind)
				}
			}
			mu.Unlock()
			if len(short) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("30 s without 3 answers of the running stage from %v", short)
				return
			}
		}
	}
	load := func(s stage) error {
		mu.Lock()
		epoch.Add(1)
		stages = append(stages, s) // the stage of the coming epoch, if it loads
		mu.Unlock()
		err := (adminLoader{client: admin}).load(config(s))
		mu.Lock()
		if err != nil {
			stages[len(stages)-1] = stages[len(stages)-2] // refused: the running one stays
		}
		epoch.Add(1)
		running := stages[len(stages)-1]
		mu.Unlock()
		serving(running)
		return err
	}
	serving(current)
	steps := []struct {
		name string
		s    stage
		ok   bool
	}{
		{"rotate key, switch provider, add a route, dedupe on", stage{keyFile: key2, twoc2p: true, extra: true, dedup: true}, true},
		{"Caddyfile syntax error", stage{keyFile: key2, twoc2p: true, extra: true, dedup: true, broken: "\thandle /x {\n\t\tno_such_directive\n\t}\n"}, false},
		{"unknown field", stage{keyFile: key2, twoc2p: true, extra: true, dedup: true,
			broken: "\thandle /bad/* {\n\t\tminipay wechat_v2 {\n app_id " + appID + "\n mch_id " + mchID + "\n api_key " + apiKey + "\n colour blue\n\t\t}\n\t}\n"}, false},
		{"missing key file", stage{keyFile: filepath.Join(dir, "missing"), twoc2p: true, extra: true, dedup: true}, false},
		{"bad route after good dedupe routes", stage{keyFile: key2, twoc2p: true, extra: true, dedup: true,
			broken: "\thandle /bad2 {\n\t\tminipay_webhook wechat_v2 {\n dedupe 1h\n app_id " + appID + "\n mch_id " + mchID + "\n\t\t}\n\t}\n"}, false},
		{"back: key 1, wechat_v2, no extra route, no dedupe", stage{keyFile: key1}, true},
	}
	running, dedupeDeliveries := listedBefore, int64(-1)
	for i, step := range steps {
		if i == len(steps)-1 && delivered.Load() != dedupeDeliveries {
			// Every load in between was refused: dedupe stayed on, and the
			// acknowledged notification was not forwarded again.
			t.Errorf("with dedupe on, the backend received %d more events", delivered.Load()-dedupeDeliveries)
		}
		err := load(step.s)
		if (err == nil) != step.ok {
			t.Errorf("%s: load error %v, want success %v", step.name, err, step.ok)
		}
		if got := listed(); step.ok {
			running = got
		} else if strings.Join(got, ",") != strings.Join(running, ",") {
			t.Errorf("%s: the admin API lists %v, the running configuration has %v", step.name, got, running)
		}
		if i == 0 {
			// dedupe is on: once the first copy was acknowledged, the others
			// are not forwarded. Requests that started before this load
			// (dedupe off) may still forward theirs: count once they ended,
			// not a second later.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				mu.Lock()
				before := 0
				for e, n := range inflight {
					if e < epoch.Load() {
						before += n
					}
				}
				mu.Unlock()
				if before == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d requests started before the load still under way after 30 s", before)
				}
			}
			dedupeDeliveries = delivered.Load()
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("answers: %v", counts)
	for _, p := range problems {
		t.Error(p)
	}
	// The load spanned the stages: each answer of both was seen.
	for _, answer := range []string{"wechat: wechat_v2 key1", "wechat: wechat_v2 key2", "switch: wechat_v2 key1", "switch: 2c2p",
		"extra: no route", "extra: 2c2p", "hook wechat_v2: ack", "hook wechat_v3: ack", "hook 2c2p: ack", "hook latipay: ack", "hook cbtis: ack"} {
		if counts[answer] == 0 {
			t.Errorf("no %q answer: %v", answer, counts)
		}
	}
	if got := listed(); strings.Join(got, ",") != strings.Join(listedBefore, ",") {
		t.Errorf("admin API lists %v after the last load, %v before the first", got, listedBefore)
	}
	goroutinesBack(t, baseline, "the reloads", client, wechat, fake2c2p.srv, backend)
	if logs := logText(t, logFile); strings.Contains(logs, "panic") {
		t.Error("the log has a panic")
	}
}

// webhookBlock is the minipay_webhook fields of provider (allWebhookRoutes' too).
func webhookBlock(t *testing.T, provider string) string {
	switch provider {
	case "wechat_v2":
		return "\t\t\tapp_id " + appID + "\n\t\t\tmch_id " + mchID + "\n\t\t\tapi_key " + apiKey + "\n\t\t\tsign_type HMAC-SHA256\n"
	case "wechat_v3":
		return v3Merchant(t, v3PublicKeyMode(t))
	case "latipay":
		return "\t\t\tapi_key " + latipayAPIKey + "\n\t\t\tcurrency NZD\n"
	case "cbtis":
		return "\t\t\tapi_key " + cbtisAPIKey + "\n"
	case "2c2p":
		return "\t\t\tmerchant_id " + twoc2pMerchant + "\n\t\t\tsecret_key " + twoc2pKey + "\n"
	}
	panic(provider)
}
