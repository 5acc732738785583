package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cbtisTenants is an independent CBTIS with several merchants: one token
// endpoint that issues each uid its own tokens (counting the fetches per
// uid), and one API server per merchant that accepts only the tokens issued
// to its uid, counting the calls that came with another merchant's token.
type cbtisTenants struct {
	auth    *httptest.Server
	api     map[string]*httptest.Server // uid → its API
	secrets map[string]string           // uid → client_secret

	mu      sync.Mutex
	fetches map[string]int
	tokens  map[string]string // token → uid
	misused int
}

func newCBTISTenants(t *testing.T, secrets map[string]string) *cbtisTenants {
	f := &cbtisTenants{api: map[string]*httptest.Server{}, secrets: secrets, fetches: map[string]int{}, tokens: map[string]string{}}
	f.auth = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		uid := q.Get("uid")
		f.mu.Lock()
		f.fetches[uid]++
		n := f.fetches[uid]
		f.mu.Unlock()
		time.Sleep(300 * time.Millisecond) // the calls of a cold start all arrive during the fetch
		w.Header().Set("Content-Type", "application/json")
		if secret, ok := f.secrets[uid]; !ok || q.Get("grant_type") != "client_credentials" || q.Get("client_secret") != secret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code":40100,"message":"invalid credentials"}`)
			return
		}
		tok := "tok-" + uid + "-" + strconv.Itoa(n)
		f.mu.Lock()
		f.tokens[tok] = uid
		f.mu.Unlock()
		_, _ = io.WriteString(w, `{"access_token":"`+tok+`","expires_in":3600}`)
	}))
	t.Cleanup(f.auth.Close)
	for uid := range secrets {
		f.api[uid] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &body)
			tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			f.mu.Lock()
			owner, known := f.tokens[tok]
			if known && owner != uid {
				f.misused++
			}
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if owner != uid {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"code":401,"message":"access token invalid or expired"}`)
				return
			}
			id, _ := body["merchant_order_id"].(string)
			_, _ = io.WriteString(w, `{"code":0,"message":"ok","rid":"r1","data":{"order_id":"C`+id+`","merchant_order_id":"`+id+
				`","amount":"1.00","currency":"HKD","status":"PENDING","create_time":"2026-11-22T02:00:00.000Z",`+
				`"next_action":{"type":"call_sdk","data":{"appId":"`+cbtisSubAppID+`","nonceStr":"n0nce","package":"prepay_id=wx1",`+
				`"paySign":"UlNBc2lnbmF0dXJl","signType":"RSA","timeStamp":"1795312800"}}}}`)
		}))
		t.Cleanup(f.api[uid].Close)
	}
	return f
}

func (f *cbtisTenants) misuses() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.misused
}

func (f *cbtisTenants) tokenURL() string { return f.auth.URL + "/mch-api/v1/auth" }

func (f *cbtisTenants) fetchesOf(uid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches[uid]
}

// route is the minipay cbtis route /<prefix>/* of merchant uid.
func (f *cbtisTenants) route(prefix, uid string) string {
	return `
	handle /` + prefix + `/* {
		minipay cbtis {
			uid ` + uid + `
			client_secret ` + f.secrets[uid] + `
			sub_app_id ` + cbtisSubAppID + `
			token_url ` + f.tokenURL() + `
		}
		reverse_proxy ` + strings.TrimPrefix(f.api[uid].URL, "http://") + `
	}`
}

// TestClusterStartedTogether starts three Caddy processes at the same
// moment on an empty storage given with a root of its own (the storage
// option's block form), and sends them calls at once, as an independent
// check of README "Clusters" would:
//   - two CBTIS merchants on one token endpoint: one fetch per merchant for
//     the cluster, and no call ever carries the other merchant's token;
//   - wechat_v3 in certificate mode: one platform certificate download;
//   - one CBTIS notification to the three at once, with dedupe: forwarded
//     once, and its retries acknowledged without forwarding;
//   - two Latipay merchants whose notifications share an event id (their
//     own order ids), with dedupe: each forwarded to its merchant once;
//   - the keys of README's table under the root and nowhere else, files
//     0600 in directories 0700, and no configured secret in any of them;
//   - a fourth instance started on a stored token and certificate download
//     that are corrupt: it fetches and downloads again, and answers;
//   - a fifth without the storage option keeps its state in Caddy's default
//     storage, and so fetches its own token.
func TestClusterStartedTogether(t *testing.T) {
	bin := buildCaddy(t, t.TempDir())
	root := filepath.Join(t.TempDir(), "cluster storage")
	storage := "storage file_system {\n\t\troot \"" + root + "\"\n\t}"

	const uidA, uidB, secretA, secretB = "39170001", "39170002", "cs-tenant-a-8f1e2d3c", "cs-tenant-b-7a6b5c4d"
	tenants := newCBTISTenants(t, map[string]string{uidA: secretA, uidB: secretB})

	platform, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, certPEM := newCert(t, platform, 0x5EC0DE01)
	certSerial := strings.ToUpper(cert.SerialNumber.Text(16))
	wechat := &fakeWeChatV3{t: t, merchant: &v3PrivateKey(t, "apiclient_key.pem").PublicKey, certs: []string{certPEM}, certKey: platform, certSerial: certSerial}
	wechat.script(func(*http.Request) (int, string, http.Header) {
		body := `{"prepay_id":"wx201410272009395522657a690389285100"}`
		return 200, body, wechatHeaders(t, platform, certSerial, time.Now().Unix(), body)
	})
	wechatSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v3/certificates" {
			time.Sleep(300 * time.Millisecond) // every instance asks during the download
		}
		wechat.ServeHTTP(w, r)
	}))
	defer wechatSrv.Close()

	const latipayKeyA, latipayKeyB = "lp-tenant-a-0c9d8e7f6a5b", "lp-tenant-b-1d2e3f4a5b6c"
	events, latipayA, latipayB := newCountingMerchant(t), newCountingMerchant(t), newCountingMerchant(t)
	webhook := func(path, provider, lines string, to *countingMerchant) string {
		return `
	handle ` + path + ` {
		minipay_webhook ` + provider + ` {
			dedupe 25h` + lines + `
		}
		reverse_proxy ` + strings.TrimPrefix(to.srv.URL, "http://") + `
	}`
	}
	site := tenants.route("cbtis-a", uidA) + tenants.route("cbtis-b", uidB) + `
	handle /v3/* {
		minipay wechat_v3 {
` + v3Merchant(t, "\t\tcertificates_url "+wechatSrv.URL+"/v3/certificates\n") + `		notify_url https://m.example/n
		}
		reverse_proxy ` + strings.TrimPrefix(wechatSrv.URL, "http://") + `
	}` +
		webhook("/webhooks/cbtis", "cbtis", "\n\t\t\tapi_key "+cbtisAPIKey, events) +
		webhook("/webhooks/latipay-a", "latipay", "\n\t\t\tapi_key "+latipayKeyA+"\n\t\t\tcurrency NZD", latipayA) +
		webhook("/webhooks/latipay-b", "latipay", "\n\t\t\tapi_key "+latipayKeyB+"\n\t\t\tcurrency NZD", latipayB)

	// No pki app in this configuration (README "Clusters": Caddy's own local
	// CA is created without a lock), so the three start at once.
	var procs []caddyProcess
	var waits []func()
	for _, name := range []string{"A", "B", "C"} {
		p, serving := launchProcess(t, bin, name, storage, site, nil)
		procs, waits = append(procs, p), append(waits, serving)
	}
	for _, serving := range waits {
		serving()
	}

	// atOnce runs call(i, instance) n times at once, spread over the three.
	atOnce := func(n int, call func(i int, p caddyProcess)) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				call(i, procs[i%len(procs)])
			}()
		}
		wg.Wait()
	}

	t.Run("two CBTIS merchants paying on three instances at once: one fetch each, never the other's token", func(t *testing.T) {
		atOnce(12, func(i int, p caddyProcess) {
			prefix := []string{"cbtis-a", "cbtis-b"}[i/2%2]
			id := "T-" + strconv.Itoa(i)
			if status, body := postProcess(t, p, "/"+prefix+"/pay", cbtisPay(id)); status != 200 || !strings.Contains(body, `"provider_order_id":"C`+id+`"`) {
				t.Errorf("%s pay %s on %s: %d %s", prefix, id, p.base, status, body)
			}
		})
		if a, b := tenants.fetchesOf(uidA), tenants.fetchesOf(uidB); a != 1 || b != 1 {
			t.Fatalf("token fetches: %d for merchant A, %d for B; want 1 each", a, b)
		}
		if n := tenants.misuses(); n != 0 {
			t.Fatalf("%d calls carried the other merchant's token", n)
		}
	})

	t.Run("wechat_v3 paying on three instances at once: one certificate download", func(t *testing.T) {
		atOnce(6, func(i int, p caddyProcess) {
			pay := `{"order_id":"V3-PAY-` + strconv.Itoa(i) + `","amount":"12.30","currency":"CNY","description":"d","openid":"o"}`
			if status, body := postProcess(t, p, "/v3/pay", pay); status != 200 || !strings.Contains(body, `"signType":"RSA"`) {
				t.Errorf("v3 pay %d on %s: %d %s", i, p.base, status, body)
			}
		})
		if n := wechat.downloads.Load(); n != 1 {
			t.Fatalf("%d certificate downloads, want 1", n)
		}
	})

	t.Run("one notification to the three at once: forwarded once", func(t *testing.T) {
		body, sig := cbtisNotification("TOGETHER-1")
		id := "cbtis:TOGETHER-1:payment.succeeded"
		events.delay.Store(int64(500 * time.Millisecond))
		statuses, answers := make([]int, 3), make([]string, 3)
		atOnce(3, func(i int, p caddyProcess) {
			statuses[i], answers[i] = notifyProcess(t, p, "/webhooks/cbtis", body, sig)
		})
		events.delay.Store(0)
		acked := 0
		for i := range statuses {
			switch {
			case statuses[i] == 200 && answers[i] == "success":
				acked++
			case statuses[i] == 503 && strings.HasPrefix(answers[i], "fail"): // in progress elsewhere: CBTIS retries
			default:
				t.Fatalf("answer %d: %d %q", i, statuses[i], answers[i])
			}
		}
		if n := events.count(id); n != 1 || acked == 0 {
			t.Fatalf("forwarded %d times, %d acknowledged", n, acked)
		}
		for _, p := range procs { // CBTIS's retries
			mustAck(t, p, "/webhooks/cbtis", body, sig)
		}
		if n := events.count(id); n != 1 {
			t.Fatalf("forwarded %d times after the retries", n)
		}
	})

	t.Run("two Latipay merchants, one event id: each forwarded to its merchant once", func(t *testing.T) {
		notification := func(key string) string {
			v := url.Values{"merchant_reference": {"SHOP-1001"}, "order_id": {"2026120710000001"}, "currency": {"NZD"}, "amount": {"12.30"},
				"payment_method": {"wechat"}, "status": {"paid"}, "pay_time": {"2026-12-07 10:00:00"}}
			v.Set("signature", latipayNotify(key, v))
			return v.Encode()
		}
		post := func(p caddyProcess, path, body string) {
			t.Helper()
			res, err := http.Post(p.base+path, "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			ack, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(ack) != "sent" {
				t.Fatalf("%s%s: %d %q, want Latipay's ACK", p.base, path, res.StatusCode, ack)
			}
		}
		a, b := notification(latipayKeyA), notification(latipayKeyB)
		post(procs[0], "/webhooks/latipay-a", a)
		post(procs[1], "/webhooks/latipay-b", b) // another merchant's event with the same id
		post(procs[2], "/webhooks/latipay-a", a) // merchant A's retries
		post(procs[1], "/webhooks/latipay-b", b)
		const id = "latipay:SHOP-1001:payment.succeeded"
		if na, nb := latipayA.count(id), latipayB.count(id); na != 1 || nb != 1 {
			t.Fatalf("forwarded %d times to merchant A and %d times to B, want once each", na, nb)
		}
	})

	t.Run("README's keys under the storage's root, private, without secrets", func(t *testing.T) {
		want := []string{
			"minipay/cbtis/" + hexSHA256(tenants.tokenURL()+uidA) + "/token",
			"minipay/cbtis/" + hexSHA256(tenants.tokenURL()+uidB) + "/token",
			"minipay/wechat_v3/" + mchID + "/certificates",
			"minipay/events/cbtis/" + hexSHA256("cbtis:TOGETHER-1:payment.succeeded"),
			"minipay/events/latipay/" + hexSHA256("latipay:SHOP-1001:payment.succeeded"),
		}
		key := logText(t, v3KeyPath(t, "apiclient_key.pem"))
		secrets := []string{secretA, secretB, cbtisAPIKey, latipayKeyA, latipayKeyB, v3APIv3Key, strings.Split(key, "\n")[1]}
		got := map[string]bool{}
		err := filepath.WalkDir(filepath.Join(root, "minipay"), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				if info.Mode().Perm() != 0o700 {
					t.Errorf("directory %s has mode %v, want 0700", rel, info.Mode().Perm())
				}
				return nil
			}
			got[filepath.ToSlash(rel)] = true
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", rel, info.Mode().Perm())
			}
			content := logText(t, path)
			for _, s := range secrets {
				if strings.Contains(content, s) {
					t.Errorf("%s holds a configured secret", rel)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range want {
			if !got[k] {
				t.Errorf("no %s under the storage's root; stored: %v", k, got)
			}
		}
		for i, uid := range []string{uidA, uidB} {
			stored := logText(t, filepath.Join(root, filepath.FromSlash(want[i])))
			if !strings.Contains(stored, `"access_token":"tok-`+uid+`-`) {
				t.Errorf("merchant %s's stored token: %s", uid, stored)
			}
		}
		for _, p := range procs { // the configured root, not Caddy's default one under the data directory
			if _, err := os.Stat(filepath.Join(filepath.Dir(p.config), "caddy", "minipay")); !os.IsNotExist(err) {
				t.Errorf("%s wrote minipay state to the default storage: %v", p.base, err)
			}
		}
	})

	t.Run("a corrupt stored token and certificate download: fetched and downloaded again", func(t *testing.T) {
		tokenA := filepath.Join(root, "minipay", "cbtis", hexSHA256(tenants.tokenURL()+uidA), "token")
		certificates := filepath.Join(root, "minipay", "wechat_v3", mchID, "certificates")
		for path, corrupt := range map[string]string{
			tokenA:       `{"access_token":"tok-`, // cut short, as a full disk leaves it
			certificates: `{"fetched":"2026-12-07T06:00:00Z","header":{},"body":"bm90IHdoYXQgV2VDaGF0IHNlbnQ="}`,
		} {
			if err := os.WriteFile(path, []byte(corrupt), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		d, serving := launchProcess(t, bin, "D", storage, site, nil)
		serving()
		if status, body := postProcess(t, d, "/cbtis-a/pay", cbtisPay("D-1")); status != 200 || !strings.Contains(body, `"provider_order_id":"CD-1"`) {
			t.Fatalf("cbtis pay: %d %s", status, body)
		}
		if status, body := postProcess(t, d, "/v3/pay", `{"order_id":"V3-DISK","amount":"1","currency":"CNY","description":"d","openid":"o"}`); status != 200 {
			t.Fatalf("v3 pay: %d %s", status, body)
		}
		if n, m := tenants.fetchesOf(uidA), wechat.downloads.Load(); n != 2 || m != 2 {
			t.Fatalf("%d token fetches and %d downloads in all, want 2 and 2", n, m)
		}
		if stored := logText(t, tokenA); !strings.Contains(stored, `"access_token":"tok-`+uidA+`-2"`) {
			t.Fatalf("the corrupt token was not replaced: %s", stored)
		}
	})

	t.Run("without the storage option: Caddy's default storage, a cluster of its own", func(t *testing.T) {
		e, serving := launchProcess(t, bin, "E", "", site, nil)
		serving()
		before := tenants.fetchesOf(uidB)
		if status, body := postProcess(t, e, "/cbtis-b/pay", cbtisPay("E-1")); status != 200 || !strings.Contains(body, `"provider_order_id":"CE-1"`) {
			t.Fatalf("cbtis pay: %d %s", status, body)
		}
		if n := tenants.fetchesOf(uidB); n != before+1 {
			t.Fatalf("%d token fetches, want %d (its own storage holds no token)", n, before+1)
		}
		// XDG_DATA_HOME is the process's directory: Caddy's default storage is its caddy folder
		key := filepath.Join(filepath.Dir(e.config), "caddy", "minipay", "cbtis", hexSHA256(tenants.tokenURL()+uidB), "token")
		if stored := logText(t, key); !strings.Contains(stored, `"access_token":"tok-`+uidB+`-`+strconv.Itoa(before+1)+`"`) {
			t.Fatalf("the default storage's token: %s", stored)
		}
	})

	if n := tenants.misuses(); n != 0 {
		t.Fatalf("%d calls carried the other merchant's token", n)
	}
}
