package integration

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClusterCertificatesDownloaderDies: an instance killed while it
// downloads the wechat_v3 platform certificates leaves the download's lock
// behind, which file_system frees once it is stale (10 s without a refresh).
// The other instances wait for it and one of them downloads, the rest
// reading its download from the storage: one download for the cluster
// (README "Clusters"), where waiting no longer than the lock takes to go
// stale made every other instance download alone.
func TestClusterCertificatesDownloaderDies(t *testing.T) {
	bin := buildCaddy(t, t.TempDir())
	dir := filepath.Join(t.TempDir(), "storage")
	wechat := unpaidWeChatV3(t)
	// The first download never gets its answer: its instance dies waiting.
	var held atomic.Bool
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v3/certificates" && held.CompareAndSwap(false, true) {
			close(started)
			<-r.Context().Done()
			return
		}
		wechat.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	site := `
	handle /v3dl/* {
		minipay wechat_v3 {
` + v3Merchant(t, "\t\tcertificates_url "+srv.URL+"/v3/certificates\n") + `		notify_url https://merchant.example/webhooks/wechat_v3
		}
		reverse_proxy ` + strings.TrimPrefix(srv.URL, "http://") + `
	}`
	storage := "file_system " + dir
	cluster := []caddyProcess{
		startProcess(t, bin, "A", storage, site),
		startProcess(t, bin, "B", storage, site),
		startProcess(t, bin, "C", storage, site),
	}
	go func() { // C takes the lock and downloads
		res, err := http.Post(cluster[2].base+"/v3dl/query", "application/json", strings.NewReader(`{"order_id":"V3DIE-C"}`))
		if err == nil {
			res.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("C did not download the certificates")
	}
	if err := cluster[2].process.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range cluster[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			order := "V3DIE-" + itoa(i)
			if status, body := postProcess(t, p, "/v3dl/query", `{"order_id":"`+order+`"}`); status != 200 || !strings.Contains(body, `"status":"pending"`) {
				t.Errorf("query %s: %d %s", order, status, body)
			}
		}()
	}
	wg.Wait()
	if n := wechat.downloads.Load(); n != 1 {
		t.Fatalf("%d certificate downloads after C died, want 1 for A and B", n)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("A and B answered %v after C died, want the lock's 10 s until stale and a download", d)
	}
	if n := wechat.authFailed.Load(); n != 0 {
		t.Fatalf("%d requests failed the fake's Authorization check", n)
	}
}

// unpaidWeChatV3 is a fake WeChat Pay v3 in certificate mode (the example's
// platform certificate at /v3/certificates) that answers every query with
// the order asked about, NOTPAY, signed by the platform key.
func unpaidWeChatV3(t *testing.T) *fakeWeChatV3 {
	platform := v3PrivateKey(t, "wechatpay_platform_key.pem")
	platformPEM, err := os.ReadFile(v3KeyPath(t, "wechatpay_platform_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	wechat := &fakeWeChatV3{t: t, merchant: &v3PrivateKey(t, "apiclient_key.pem").PublicKey,
		certs: []string{string(platformPEM)}, certKey: platform, certSerial: v3PlatformSN}
	wechat.script(func(r *http.Request) (int, string, http.Header) {
		order := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		body := `{"appid":"` + appID + `","mchid":"` + mchID + `","out_trade_no":"` + order + `","trade_state":"NOTPAY","trade_state_desc":"not paid",` +
			`"amount":{"total":100,"currency":"CNY"}}`
		return 200, body, wechatHeaders(t, platform, v3PlatformSN, time.Now().Unix(), body)
	})
	return wechat
}
