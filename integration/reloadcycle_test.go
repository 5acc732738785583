package integration

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRepeatedReloadsLeaveNothingBehind: a Caddy instance lives through
// many reloads (README Observability, Clusters). Caddyfile.example, every
// webhook with dedupe, is loaded again 200 times (forced, so each load
// provisions everything anew), a notification and a CBTIS payment going
// through each configuration (a dedupe lock and entry, a CBTIS token),
// with a request for an operation and a forged notification's serial
// never seen before;
// after each batch of 50 the process's goroutines are back to their count
// after the first load, its live heap has not grown past a bound, the
// admin API lists the configuration's providers once (not once per load),
// /metrics holds the same caddy_minipay_* series, and no lock file is left
// in the storage.
func TestRepeatedReloadsLeaveNothingBehind(t *testing.T) {
	merchant, sandbox := freePort(t), freePort(t)
	storage := storageDir()
	config := exampleConfig(t, merchant, sandbox, filepath.Join(t.TempDir(), "caddy.log"), storage)
	for _, p := range []string{"wechat_v2", "wechat_v3", "2c2p", "latipay", "cbtis"} {
		config = strings.Replace(config, "minipay_webhook "+p+" {\n", "minipay_webhook "+p+" {\n\t\t\tdedupe 1h\n", 1)
	}
	if strings.Count(config, "dedupe 1h") != 5 {
		t.Fatal("Caddyfile.example's webhook blocks moved: dedupe was not added to each")
	}
	startCaddy(t, config)
	loader := adminLoader{client: &http.Client{Timeout: loadTimeout, Transport: &http.Transport{DisableKeepAlives: true}}, forced: true}
	// No keep-alive: a load stops the servers whose connections a pooled
	// client would reuse (README "Under faults and reloads").
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	base, sb := "http://127.0.0.1:"+itoa(merchant), "http://127.0.0.1:"+itoa(sandbox)

	post := func(url, body string) string {
		t.Helper()
		res, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", url, res.StatusCode, b)
		}
		return string(b)
	}
	refused := func(url string, h http.Header, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header = h
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s: %d %s, want %d", url, res.StatusCode, b, want)
		}
	}
	// traffic sends through the running configuration what keeps state
	// beyond a request: a pay and its notification (dedupe's lock and
	// entry) and a CBTIS pay (its access token, in memory and storage).
	n := 0
	traffic := func() {
		n++
		id := "RELOAD-" + itoa(n)
		post(base+"/wechat/pay", `{"order_id":"`+id+`","amount":"1.00","currency":"CNY","description":"d","openid":"o-reload"}`)
		if got := post(sb+"/sandbox/complete", `{"provider":"wechat_v2","order_id":"`+id+`","result":"succeeded"}`); !strings.Contains(got, `"acknowledged":true`) {
			t.Fatalf("complete: %s", got)
		}
		post(base+"/cbtis/pay", `{"order_id":"`+id+`","amount":"1.00","currency":"CNY","description":"d","openid":"o-reload"}`)
		// Values of the sender's choosing, each new: an operation the
		// provider does not have, a forged notification's serial. Neither
		// may add a series.
		refused(base+"/wechat/op-"+itoa(n), http.Header{}, `{}`, http.StatusNotFound)
		refused(base+"/webhooks/wechat_v3", http.Header{"Wechatpay-Serial": {fmt.Sprintf("%040X", n)}, "Wechatpay-Timestamp": {itoa(int(time.Now().Unix()))},
			"Wechatpay-Nonce": {"n"}, "Wechatpay-Signature": {"c2ln"}}, `{"id":"`+id+`"}`, http.StatusUnauthorized)
	}
	admin := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) string {
		t.Helper()
		res, err := admin.Get("http://" + adminAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	listed := func() int { return strings.Count(get("/minipay/providers"), `"handler":`) }
	series := func() int {
		c := 0
		for sc := bufio.NewScanner(strings.NewReader(get("/metrics"))); sc.Scan(); {
			if strings.HasPrefix(sc.Text(), "caddy_minipay_") {
				c++
			}
		}
		return c
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC() // the first one's finalizers have run
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	locks := func() []string {
		entries, _ := os.ReadDir(filepath.Join(storage, "locks"))
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}

	traffic()
	baseline := goroutineCount(client)
	wantListed, wantSeries, firstHeap := listed(), series(), heap()
	t.Logf("after the first load: %d goroutines, heap %.1f MiB, %d providers listed, %d caddy_minipay_* series",
		baseline, float64(firstHeap)/(1<<20), wantListed, wantSeries)
	if wantListed != 17 || wantSeries != 467 { // README Observability gives the 467
		t.Fatalf("%d providers listed, %d series; Caddyfile.example has 17 and 467", wantListed, wantSeries)
	}
	const batches, perBatch = 4, 50
	var lastHeap uint64
	for b := 1; b <= batches; b++ {
		for range perBatch {
			if err := loader.load(config); err != nil {
				t.Fatalf("reload: %v", err)
			}
			traffic()
		}
		goroutinesBack(t, baseline, itoa(b*perBatch)+" reloads", client)
		lastHeap = heap()
		got, s := listed(), series()
		t.Logf("after %d reloads: %d goroutines, heap %.1f MiB, %d providers listed, %d series, lock files %v",
			b*perBatch, runtime.NumGoroutine(), float64(lastHeap)/(1<<20), got, s, locks())
		if got != wantListed || s != wantSeries {
			t.Errorf("after %d reloads: %d providers listed, %d series; want %d and %d", b*perBatch, got, s, wantListed, wantSeries)
		}
	}
	// A configuration's state that outlived it would grow the heap by its
	// size on every load: 200 of them by far more than this bound.
	if lastHeap > firstHeap+maxReloadHeapGrowth {
		t.Errorf("the live heap grew from %.1f MiB to %.1f MiB over %d reloads", float64(firstHeap)/(1<<20), float64(lastHeap)/(1<<20), batches*perBatch)
	}
	if l := locks(); len(l) != 0 {
		t.Errorf("lock files left in the storage: %v", l)
	}
}

// maxReloadHeapGrowth bounds the live heap's growth over the 200 reloads.
const maxReloadHeapGrowth = 4 << 20
