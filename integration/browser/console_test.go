// Package browser drives the sandbox console (GET /sandbox/) in headless
// Chromium against a real Caddy with the plugin: the binary of ./cmd/caddy,
// built from this checkout. It is a module of its own so that chromedp never
// enters the plugin's go.mod; .ci/run runs it (README, "Sandbox console").
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Sandbox credentials of the example (nobody's secrets).
const wechatMerchant = `
		app_id wx8888888888888888
		mch_id 1900000109
		api_key 8934e7d15453e97507ef794cf7b0519d`

// wechatV3Merchant is Caddyfile.example's WeChat Pay v3 merchant, with the
// sandbox-only test keys of examples/keys (%[1]s is that directory).
const wechatV3Merchant = `
		app_id wx8888888888888888
		mch_id 1900000109
		serial_no 3775B6A45ACD588826D15E583A95F5DD2F2D3B4A
		private_key {file.%[1]s/apiclient_key.pem}
		api_v3_key sandbox-apiv3-key-0123456789abcd`

// repoRoot is the checkout this module lives in.
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// artifacts is where screenshots go: CI output, ignored by git.
var artifacts = filepath.Join(repoRoot, ".ci", "browser")

// caddyBin is ./cmd/caddy of this checkout, built once by TestMain.
var caddyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "minipay-browser-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "caddy"), "./cmd/caddy")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/caddy: %v\n%s", err, out)
	} else {
		caddyBin = filepath.Join(dir, "caddy")
	}
	// Chromium leaves a directory of its own (org.chromium.Chromium.*, its
	// singleton socket) in TMPDIR for each browser the tests end: 16 a run
	// in /tmp. The run's own TMPDIR goes with the run.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err == nil {
		os.Setenv("TMPDIR", tmp)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type stack struct {
	merchant, sandbox string // base URLs
}

// freePort returns a loopback port that was free a moment ago and that
// this process has not handed out before, drawn below Linux's ephemeral
// range (32768-60999): a port-0 listener (each httptest.Server here, each
// of Chromium's own connections) is drawn from that range, and could take
// a port picked there before the Caddy given it listens (the repository's
// internal/testport, which this module does not require, says more).
func freePort(t *testing.T) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	const lo, hi = 10000, 32767
	start := rand.IntN(hi - lo + 1)
	for i := range hi - lo + 1 {
		port := lo + (start+i)%(hi-lo+1)
		if handedOut.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // in use
		}
		l.Close()
		handedOut.ports[port] = true
		return port
	}
	t.Fatalf("no free port in %d-%d", lo, hi)
	return 0
}

// handedOut holds the ports freePort has returned.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// startCaddy builds ./cmd/caddy and runs it with a merchant site (a
// wechat_v2 merchant route and its webhook route, forwarding to the
// sandbox's demo merchant backend) and the sandbox.
func startCaddy(t *testing.T) stack {
	t.Helper()
	dir := t.TempDir()
	keys := filepath.Join(repoRoot, "examples", "keys")
	admin, mport, sport := freePort(t), freePort(t), freePort(t)
	config := fmt.Sprintf(`{
	admin localhost:%d
	skip_install_trust
	storage file_system %s
}

:%d {
	handle /wechat/* {
		minipay wechat_v2 {%s
			notify_url http://localhost:%d/webhooks/wechat_v2
			client_ip 127.0.0.1
		}
		reverse_proxy localhost:%d
	}
	handle /webhooks/wechat_v2 {
		minipay_webhook wechat_v2 {%s
		}
		rewrite * /sandbox/merchant/events
		reverse_proxy localhost:%d
	}
	handle /wechat_v3/* {
		minipay wechat_v3 {%s
			public_key {file.%s/wechatpay_pub_key.pem}
			public_key_id PUB_KEY_ID_0119000001092026112900000000000001
			notify_url http://localhost:%d/webhooks/wechat_v3
			client_ip 127.0.0.1
		}
		reverse_proxy localhost:%d
	}
}

:%d {
	bind 127.0.0.1
	minipay_sandbox {
		wechat_v2 {%s
		}
		wechat_v3 {%s
			platform_private_key {file.%s/wechatpay_platform_key.pem}
			platform_certificate {file.%s/wechatpay_platform_cert.pem}
			public_key_id PUB_KEY_ID_0119000001092026112900000000000001
		}
	}
}
`, admin, filepath.Join(dir, "storage"), mport, wechatMerchant, mport, sport, wechatMerchant, sport,
		fmt.Sprintf(wechatV3Merchant, keys), keys, mport, sport,
		sport, wechatMerchant, fmt.Sprintf(wechatV3Merchant, keys), keys, keys)
	return runCaddy(t, dir, config, mport, sport)
}

// startExample runs Caddyfile.example as shipped, with its ports and admin
// address moved for the test: every provider's merchant, webhook and
// sandbox routes.
func startExample(t *testing.T) stack {
	t.Helper()
	example, err := os.ReadFile(filepath.Join(repoRoot, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	admin, mport, sport := freePort(t), freePort(t), freePort(t)
	config := strings.NewReplacer(
		"admin localhost:2019", fmt.Sprintf("admin localhost:%d\n\tskip_install_trust\n\tstorage file_system %s", admin, filepath.Join(dir, "storage")),
		":8080", fmt.Sprintf(":%d", mport), ":9090", fmt.Sprintf(":%d", sport),
		"{file.examples/", "{file."+filepath.Join(repoRoot, "examples")+"/",
	).Replace(string(example))
	return runCaddy(t, dir, config, mport, sport)
}

// runCaddy runs ./cmd/caddy with config (written in dir) and waits until
// the sandbox on sport serves the console.
func runCaddy(t *testing.T, dir, config string, mport, sport int) stack {
	t.Helper()
	if caddyBin == "" {
		t.Fatal("./cmd/caddy was not built")
	}
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "caddy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddyBin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("caddy log:\n%s", b)
		}
	})
	s := stack{merchant: fmt.Sprintf("http://localhost:%d", mport), sandbox: fmt.Sprintf("http://localhost:%d", sport)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.sandbox + "/sandbox/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy did not serve the console in 30s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, res.StatusCode, b)
	}
	return m
}

// pay creates a wechat_v2 order through the merchant API, as a merchant
// backend does.
func (s stack) pay(t *testing.T, orderID, amount string) {
	s.payWith(t, "/wechat/pay", orderID, amount)
}

func (s stack) payWith(t *testing.T, path, orderID, amount string) {
	t.Helper()
	s.payIn(t, path, orderID, amount, "CNY", "os7xVv419cwT89c3EhFacTtXD_84")
}

func (s stack) payIn(t *testing.T, path, orderID, amount, currency, openid string) {
	t.Helper()
	m := postJSON(t, s.merchant+path, `{"order_id":"`+orderID+`","amount":"`+amount+
		`","currency":"`+currency+`","description":"Latte","openid":"`+openid+`"}`)
	if m["order_id"] != orderID || m["paySign"] == "" {
		t.Fatalf("pay answer %v", m)
	}
}

// merchantEvents lists "<type> <amount>" of every event the demo merchant
// backend received for orderID, oldest first.
func (s stack) merchantEvents(t *testing.T, orderID string) []string {
	t.Helper()
	return s.providerEvents(t, "wechat_v2", orderID)
}

// providerEvents lists "<type> <amount>" of every event of provider the
// demo merchant backend received for orderID, oldest first.
func (s stack) providerEvents(t *testing.T, provider, orderID string) []string {
	t.Helper()
	res, err := http.Get(s.sandbox + "/sandbox/merchant/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Events []struct {
			Provider string `json:"minipay_provider"`
			Event    struct {
				Type    string `json:"type"`
				OrderID string `json:"order_id"`
				Amount  string `json:"amount"`
			} `json:"event"`
		} `json:"events"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range got.Events {
		if e.Event.OrderID == orderID && e.Provider == provider {
			types = append(types, e.Event.Type+" "+e.Event.Amount)
		}
	}
	return types
}

// browser starts headless Chromium. A missing Chromium fails the test with
// the command that installs it, in CI and elsewhere: a skip passed a run
// that clicked nothing.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Fatal("Chromium is missing: apt-get install -y chromium, or set CHROMIUM to its path")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(bcancel)
	return bctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifacts, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(artifacts, name))
}

// order is the selector of an order's element (not its notifications').
func order(id string) string { return `article[data-order-id="` + id + `"][data-provider="wechat_v2"]` }

// text is an element's textContent: the text in the markup.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return read(t, ctx, sel, chromedp.TextContent(chromedp.CSS(sel)))
}

// rendered is an element's text as the page shows it (innerText, which
// chromedp.Text and most scripts read: CSS such as text-transform applies).
func rendered(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return read(t, ctx, sel, chromedp.Text(chromedp.CSS(sel)))
}

func read(t *testing.T, ctx context.Context, sel string, action chromedp.Action[string]) string {
	t.Helper()
	s, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// settle clicks one of an order's buttons and waits until the page (with
// no reload) shows the notification acknowledged and the new state.
func settle(t *testing.T, ctx context.Context, id, action, state string) {
	t.Helper()
	ack := `[data-notification][data-order-id="` + id + `"][data-acknowledged="true"]`
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+ack+`').length`))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(order(id)+` button[data-action="`+action+`"]`)),
		wait(fmt.Sprintf(`document.querySelectorAll('%s').length > %d`, ack, before), 20*time.Second),
		wait(`document.querySelector('`+order(id)+` [data-field="state"]').textContent.trim() === "`+state+`"`, 10*time.Second),
	)
	if err != nil {
		t.Fatalf("%s %s: %v", action, id, err)
	}
	if got := text(t, ctx, order(id)+` [data-field="state"]`); got != state {
		t.Fatalf("%s shows state %q, want %q", id, got, state)
	}
	if got := rendered(t, ctx, order(id)+` [data-field="state"]`); got != state {
		t.Fatalf("%s renders state %q, want %q", id, got, state)
	}
}

// wait polls a JavaScript condition until it is true.
func wait(cond string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(timeout))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	}
}

func TestConsole(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "WEB-1", "12.34")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(order("WEB-1"))),
	); err != nil {
		t.Fatal(err)
	}
	// The state is the status vocabulary's word, in the markup and as shown.
	if got, shown := text(t, ctx, order("WEB-1")+` [data-field="state"]`), rendered(t, ctx, order("WEB-1")+` [data-field="state"]`); got != "pending" || shown != "pending" {
		t.Fatalf("a new order has the state %q, shown as %q", got, shown)
	}

	// An order created while the page is open appears without a reload,
	// and newest first.
	s.pay(t, "WEB-2", "8.00")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(order("WEB-2")))); err != nil {
		t.Fatal(err)
	}
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('article[data-order-id]')].map(e => e.dataset.orderId)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "WEB-2,WEB-1" {
		t.Fatalf("orders listed %v, want newest first", ids)
	}

	settle(t, ctx, "WEB-1", "succeed", "succeeded")
	if got := s.merchantEvents(t, "WEB-1"); strings.Join(got, ",") != "payment.succeeded 12.34" {
		t.Fatalf("merchant backend received %v for WEB-1", got)
	}
	settle(t, ctx, "WEB-2", "fail", "failed")
	if got := s.merchantEvents(t, "WEB-2"); strings.Join(got, ",") != "payment.failed 8.00" {
		t.Fatalf("merchant backend received %v for WEB-2", got)
	}
	settle(t, ctx, "WEB-1", "refund", "refunded")
	if got := s.merchantEvents(t, "WEB-1"); strings.Join(got, ",") != "payment.succeeded 12.34,refund.succeeded 12.34" {
		t.Fatalf("merchant backend received %v for WEB-1 after the refund", got)
	}
	// What the delivery answered is on the page: WeChat's exact ACK.
	if got := text(t, ctx, `[data-notification][data-order-id="WEB-2"] .answer`); !strings.Contains(got, "<return_code><![CDATA[SUCCESS]]>") {
		t.Fatalf("the notification's answer shows %q", got)
	}
	if disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+order("WEB-1")+` button[data-action="fail"]').disabled`)); err != nil || !disabled {
		t.Fatalf("fail is enabled on a refunded order (%v)", err)
	}
	screenshot(t, ctx, "console-desktop.png")

	// Phone width: nothing wider than the window.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Fatal("the console is wider than a 390px window")
	}
	screenshot(t, ctx, "console-phone.png")
}

// The page is plain server-rendered HTML: the hooks are there without
// JavaScript, and the Content-Security-Policy forbids anything external.
func TestConsoleWithoutJavaScript(t *testing.T) {
	s := startCaddy(t)
	s.pay(t, "RAW-1", "1.00")
	res, err := http.Get(s.sandbox + "/sandbox/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`data-order-id="RAW-1" data-provider="wechat_v2"`, `data-field="state">pending<`,
		`data-action="succeed"`, `data-action="fail"`, `data-action="refund" disabled`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the page has no %s", want)
		}
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, external := range []string{"http://", "https://", "src=\"//"} {
		if bytes.Contains(body, []byte(external)) {
			t.Errorf("the page refers to something external (%s)", external)
		}
	}
}

// A click whose answer changes nothing on the list (here: fail on a
// wechat_v3 order that failed already, for which WeChat sends nothing)
// still gives the order its buttons back: the page re-renders after every
// action, not only when the list changed.
func TestConsoleActionWithoutChange(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.payWith(t, "/wechat_v3/pay", "V3-FAIL-1", "3.00")
	if m := postJSON(t, s.sandbox+"/sandbox/complete", `{"provider":"wechat_v3","order_id":"V3-FAIL-1","result":"failed"}`); m["delivered"] != false {
		t.Fatalf("complete failed: %v", m)
	}
	card := `article[data-order-id="V3-FAIL-1"][data-provider="wechat_v3"]`
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(card)),
		// past the page's first refresh, so that the list it shows is the
		// one the sandbox renders
		chromedp.Sleep(2500*time.Millisecond),
		chromedp.Click(chromedp.CSS(card+` button[data-action="fail"]`)),
		wait(`document.getElementById("toast").textContent.includes("nothing was sent")`, 10*time.Second),
		wait(`(o => !o.classList.contains("busy") && !o.querySelector('button[data-action="fail"]').disabled)(document.querySelector('`+card+`'))`, 5*time.Second),
	)
	if err != nil {
		busy, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+card+`').outerHTML`))
		t.Fatalf("the order did not get its buttons back: %v\n%s", err, busy)
	}
	if got := rendered(t, ctx, card+` [data-field="state"]`); got != "failed" {
		t.Fatalf("state %q, want failed", got)
	}
}

// While an order's action runs, the list swapped in by the page's refresh
// (another order appeared) keeps that order greyed out with its buttons
// disabled: a second click would send a second notification. The action is
// slowed down in the page (its POST held back 4 s) so that a refresh comes
// first.
func TestConsoleSwapKeepsRunningOrderBusy(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "SLOW-1", "1.00")
	card := order("SLOW-1")
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(card)),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.fetch;
			window.fetch = (url, opts) => url === "complete"
				? new Promise(r => setTimeout(r, 4000)).then(() => real(url, opts))
				: real(url, opts);
		})()`),
		chromedp.Click(chromedp.CSS(card+` button[data-action="succeed"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	s.pay(t, "SLOW-2", "2.00") // changes the list: the next refresh swaps it in
	running := `(o => o.classList.contains("busy") && o.querySelector('button[data-action="succeed"]').disabled)(document.querySelector('` + card + `'))`
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(order("SLOW-2")))); err != nil {
		t.Fatal(err)
	}
	if still, err := chromedp.Run(ctx, chromedp.Evaluate[bool](running)); err != nil || !still {
		t.Fatalf("after the list was swapped in, the running order is no longer busy (%v)", err)
	}
	// Once its answer came, it is settled and has its buttons back.
	if err := chromedp.Do(ctx,
		wait(`document.querySelector('`+card+` [data-field="state"]').textContent.trim() === "succeeded"`, 15*time.Second),
		wait(`!`+running, 5*time.Second),
	); err != nil {
		t.Fatal(err)
	}
}

// Caddyfile.example's console as shipped, with every paying provider: the
// hooks of README "Sandbox console" on each provider's orders, succeed,
// fail and refund clicked for each (no reload), what the notify URL
// answered, and the event the merchant backend received. Two providers
// hold an order with the same id: a click settles only its own.
func TestConsoleEveryProvider(t *testing.T) {
	s := startExample(t)
	ctx := browser(t)
	providers := []struct {
		name, path, currency, openid, prefix string
		refunds                              bool   // the refund button is there
		failEvent                            string // the event fail sends, "" for none (WeChat Pay v3 notifies successes only)
	}{
		{"wechat_v2", "/wechat/pay", "CNY", "os7xVv419cwT89c3EhFacTtXD_84", "V2", true, "payment.failed"},
		{"wechat_v3", "/wechat_v3/pay", "CNY", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "WXV3", true, ""},
		{"2c2p", "/2c2p/pay", "SGD", "os7xVv419cwT89c3EhFacTtXD_84", "C2P", false, "payment.failed"},
		{"latipay", "/latipay/pay", "NZD", "os7xVv419cwT89c3EhFacTtXD_84", "LATI", false, "payment.failed"},
		// CBTIS documents payment_success only: its payment_failed is
		// forwarded as unknown (README "CBTIS")
		{"cbtis", "/cbtis/pay", "HKD", "oqZa55Qo-u0cVViWMAgv_YbyXb4U", "CBTIS", true, "unknown"},
	}
	var created []string // "<provider> <id>", oldest first
	for i, p := range providers {
		s.payIn(t, p.path, p.prefix+"-OK", fmt.Sprintf("%d.1%d", i+1, i), p.currency, p.openid)
		s.payIn(t, p.path, p.prefix+"-NO", fmt.Sprintf("%d.2%d", i+1, i), p.currency, p.openid)
		created = append(created, p.name+" "+p.prefix+"-OK", p.name+" "+p.prefix+"-NO")
	}
	s.payIn(t, "/wechat/pay", "SAME-1", "9.01", "CNY", "os7xVv419cwT89c3EhFacTtXD_84")
	s.payIn(t, "/cbtis/pay", "SAME-1", "9.02", "HKD", "oqZa55Qo-u0cVViWMAgv_YbyXb4U")
	created = append(created, "wechat_v2 SAME-1", "cbtis SAME-1")

	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(orderOf("cbtis", "SAME-1"))),
	); err != nil {
		t.Fatal(err)
	}
	listed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-order-id][data-provider]')].map(e => e.dataset.provider + " " + e.dataset.orderId)`))
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(created)
	if !slices.Equal(listed, created) {
		t.Fatalf("orders listed %q, want newest first %q", listed, created)
	}

	for _, p := range providers {
		for _, id := range []string{p.prefix + "-OK", p.prefix + "-NO"} {
			card := orderOf(p.name, id)
			if got, shown := text(t, ctx, card+` [data-field="state"]`), rendered(t, ctx, card+` [data-field="state"]`); got != "pending" || shown != "pending" {
				t.Errorf("%s %s: state %q shown as %q, want pending", p.name, id, got, shown)
			}
			buttons, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]bool](`Object.fromEntries([...document.querySelectorAll('`+card+
				` button[data-action]')].map(b => [b.dataset.action, b.disabled]))`))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{"succeed": false, "fail": false}
			if p.refunds {
				want["refund"] = true // there, disabled until the order is paid
			}
			if !maps.Equal(buttons, want) {
				t.Errorf("%s %s: buttons (action: disabled) %v, want %v", p.name, id, buttons, want)
			}
		}
	}

	for i, p := range providers {
		ok, no := p.prefix+"-OK", p.prefix+"-NO"
		paid, failed := fmt.Sprintf("%d.1%d", i+1, i), fmt.Sprintf("%d.2%d", i+1, i)
		click(t, ctx, p.name, ok, "succeed", "succeeded", true)
		if got := s.providerEvents(t, p.name, ok); !slices.Equal(got, []string{"payment.succeeded " + paid}) {
			t.Errorf("%s: the merchant backend received %q for %s", p.name, got, ok)
		}
		click(t, ctx, p.name, no, "fail", "failed", p.failEvent != "")
		var want []string
		if p.failEvent != "" {
			want = []string{p.failEvent + " " + failed}
		}
		if got := s.providerEvents(t, p.name, no); !slices.Equal(got, want) {
			t.Errorf("%s: the merchant backend received %q for %s, want %q", p.name, got, no, want)
		}
		if p.refunds {
			click(t, ctx, p.name, ok, "refund", "refunded", true)
			if got := s.providerEvents(t, p.name, ok); !slices.Equal(got, []string{"payment.succeeded " + paid, "refund.succeeded " + paid}) {
				t.Errorf("%s: after the refund the merchant backend received %q for %s", p.name, got, ok)
			}
		}
	}

	click(t, ctx, "cbtis", "SAME-1", "succeed", "succeeded", true)
	if got := text(t, ctx, orderOf("wechat_v2", "SAME-1")+` [data-field="state"]`); got != "pending" {
		t.Errorf("settling cbtis SAME-1 left wechat_v2 SAME-1 %q", got)
	}
	if got := s.providerEvents(t, "wechat_v2", "SAME-1"); len(got) != 0 {
		t.Errorf("settling cbtis SAME-1 sent wechat_v2 events %q", got)
	}
	screenshot(t, ctx, "console-every-provider.png")

	// At phone width, every provider's orders and notifications (long notify
	// URLs, WeChat's XML answers) stay inside the window.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")]
		.filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
		.map(e => e.tagName + "." + e.className)`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || overflow || len(wide) > 0 {
		t.Errorf("at 390px the page is wider than the window (%v): %v", err, wide)
	}
	screenshot(t, ctx, "console-every-provider-phone.png")
}

// orderOf is the selector of one provider's order.
func orderOf(provider, id string) string {
	return `article[data-order-id="` + id + `"][data-provider="` + provider + `"]`
}

// click clicks one of an order's buttons and waits until the page, with no
// reload, shows the new state and, when the action notifies, one more
// acknowledged notification for that order id; an action that notifies
// nothing (WeChat Pay v3's failed payment) lists none.
func click(t *testing.T, ctx context.Context, provider, id, action, state string, notifies bool) {
	t.Helper()
	card := orderOf(provider, id)
	notes := `[data-notification][data-order-id="` + id + `"]`
	count := `document.querySelectorAll('` + notes + `').length`
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](count))
	if err != nil {
		t.Fatal(err)
	}
	actions := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS(card + ` button[data-action="` + action + `"]`))}
	if notifies {
		actions = append(actions, wait(fmt.Sprintf(`%s > %d`, count, before), 20*time.Second))
	}
	actions = append(actions,
		wait(`document.querySelector('`+card+` [data-field="state"]').textContent.trim() === "`+state+`"`, 20*time.Second),
		// the click's own refresh has come: the order has its buttons back
		wait(`!document.querySelector('`+card+`').classList.contains("busy")`, 10*time.Second))
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s %s %s: %v", action, provider, id, err)
	}
	after, err := chromedp.Run(ctx, chromedp.Evaluate[int](count))
	if err != nil {
		t.Fatal(err)
	}
	if !notifies {
		if after != before {
			t.Errorf("%s %s %s sends nothing, yet %d notifications are listed for %s, %d before", action, provider, id, after, id, before)
		}
	} else if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+notes+`').dataset.acknowledged`)); err != nil || got != "true" {
		// the newest notification is listed first
		t.Errorf("%s %s %s: the notification's data-acknowledged is %q (%v), want true", action, provider, id, got, err)
	}
	if got := rendered(t, ctx, card+` [data-field="state"]`); got != state {
		t.Errorf("%s %s %s: state shown as %q, want %q", action, provider, id, got, state)
	}
}

// The message shown after a click sits over the bottom of the page for a
// few seconds: it must not take the clicks meant for the buttons beneath
// it (a user's next click, or a script's, on an order listed there).
func TestConsoleToastLetsClicksThrough(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "TOAST-1", "1.00")
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(order("TOAST-1"))),
		chromedp.Click(chromedp.CSS(order("TOAST-1")+` button[data-action="succeed"]`)),
		wait(`document.getElementById("toast").classList.contains("show")`, 20*time.Second),
		chromedp.Sleep(500*time.Millisecond), // its slide-in transition
	)
	if err != nil {
		t.Fatal(err)
	}
	hit, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const r = document.getElementById("toast").getBoundingClientRect();
		if (r.width === 0 || r.bottom > window.innerHeight) { return "the toast is not on screen"; }
		const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return e && e.closest("#toast") ? "the toast" : "the page";
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if hit != "the page" {
		t.Fatalf("a click at the toast's centre goes to %s", hit)
	}
}

// A notification that gets no ACK is listed too, with
// data-acknowledged="false" and why: here the order's notify URL is a
// closed port. The order is settled all the same, as a provider's would be.
func TestConsoleUnacknowledgedNotification(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	closed := fmt.Sprintf("http://127.0.0.1:%d/nowhere", freePort(t))
	if m := postJSON(t, s.merchant+"/wechat/pay", `{"order_id":"DEAD-1","amount":"1.00","currency":"CNY","description":"Latte",`+
		`"openid":"os7xVv419cwT89c3EhFacTtXD_84","notify_url":"`+closed+`"}`); m["order_id"] != "DEAD-1" {
		t.Fatalf("pay answer %v", m)
	}
	note := `[data-notification][data-order-id="DEAD-1"]`
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(order("DEAD-1"))),
		chromedp.Click(chromedp.CSS(order("DEAD-1")+` button[data-action="succeed"]`)),
		wait(`document.querySelector('`+note+`') !== null`, 20*time.Second),
		wait(`document.querySelector('`+order("DEAD-1")+` [data-field="state"]').textContent.trim() === "succeeded"`, 10*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+note+`').dataset.acknowledged`)); err != nil || got != "false" {
		t.Fatalf("data-acknowledged %q (%v), want false", got, err)
	}
	if got := rendered(t, ctx, note); !strings.Contains(got, "could not be reached") || !strings.Contains(got, closed) {
		t.Fatalf("the notification shows %q, not why nor where", got)
	}
	if got := s.merchantEvents(t, "DEAD-1"); len(got) != 0 {
		t.Fatalf("the demo merchant backend received %v", got)
	}
}

// Three orders clicked one right after the other, before any answer came
// back: each is settled and notified once, and the page shows all three
// without a reload. Their ids use every punctuation an order id may hold.
func TestConsoleClicksInARow(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	ids := []string{"ROW-1", "ROW|2", "ROW*_3"}
	for _, id := range ids {
		s.pay(t, id, "2.50")
	}
	actions := []chromedp.Action[chromedp.Void]{chromedp.Navigate(s.sandbox + "/sandbox/"), chromedp.WaitVisible(chromedp.CSS(order("ROW*_3")))}
	for _, id := range ids {
		actions = append(actions, chromedp.Click(chromedp.CSS(order(id)+` button[data-action="succeed"]`)))
	}
	for _, id := range ids {
		actions = append(actions,
			wait(`document.querySelectorAll('[data-notification][data-order-id="`+id+`"][data-acknowledged="true"]').length === 1`, 20*time.Second),
			wait(`document.querySelector('`+order(id)+` [data-field="state"]').textContent.trim() === "succeeded"`, 10*time.Second))
	}
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got := s.merchantEvents(t, id); !slices.Equal(got, []string{"payment.succeeded 2.50"}) {
			t.Errorf("the merchant backend received %q for %s", got, id)
		}
	}
}

// A refresh replaces only what changed: an order whose markup is the same
// stays the same element, and so does a notification listed already, so
// that a click on one order (or a script holding an element) is not lost
// to the refresh another order's click, or a new order, brought.
func TestConsoleRefreshKeepsUnchangedElements(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	s.pay(t, "KEEP-1", "1.00")
	s.pay(t, "KEEP-2", "2.00")
	connected := func(name string) bool {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.`+name+`.isConnected`))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.sandbox+"/sandbox/"),
		chromedp.WaitVisible(chromedp.CSS(order("KEEP-2"))),
		chromedp.Evaluate[chromedp.Void](`window.keep2 = document.querySelector('`+order("KEEP-2")+`')`),
	)
	if err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "wechat_v2", "KEEP-1", "succeed", "succeeded", true)
	if !connected("keep2") {
		t.Fatal("settling KEEP-1 replaced KEEP-2's element")
	}
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`window.keep1 = document.querySelector('`+order("KEEP-1")+`');
			window.note1 = document.querySelector('[data-notification][data-order-id="KEEP-1"]')`),
	)
	if err != nil {
		t.Fatal(err)
	}
	s.pay(t, "KEEP-3", "3.00") // the next refresh lists it
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(order("KEEP-3")))); err != nil {
		t.Fatal(err)
	}
	if !connected("keep1") || !connected("keep2") {
		t.Fatal("a new order's refresh replaced the orders listed already")
	}
	click(t, ctx, "wechat_v2", "KEEP-2", "fail", "failed", true)
	if !connected("keep1") || !connected("note1") {
		t.Fatal("failing KEEP-2 replaced KEEP-1's element or its notification")
	}
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('article[data-order-id]')].map(e => e.dataset.orderId)`))
	if err != nil || strings.Join(ids, ",") != "KEEP-3,KEEP-2,KEEP-1" {
		t.Fatalf("orders listed %v (%v), want newest first", ids, err)
	}
}

// queryStatus is the order's status as the merchant API's query reports it
// (README "Merchant API": the status object's status).
func (s stack) queryStatus(t *testing.T, path, orderID string) string {
	t.Helper()
	status, _ := postJSON(t, s.merchant+path, `{"order_id":"`+orderID+`"}`)["status"].(string)
	return status
}

// Two tabs opened on an empty sandbox: both list orders created afterwards
// and the result of a click made in the other tab, with no reload; the
// state each shows is what the merchant API's query answers; a notify URL
// that answers WeChat's FAIL is listed with data-acknowledged="false".
func TestConsoleEmptyPageAndTwoTabs(t *testing.T) {
	s := startCaddy(t)
	first := browser(t)
	// the browser starts with the first tab's first action; then a second tab
	if err := chromedp.Do(first, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	second, closeSecond := chromedp.NewContext(first)
	t.Cleanup(closeSecond)
	for _, tab := range []context.Context{first, second} {
		if err := chromedp.Do(tab, chromedp.Navigate(s.sandbox+"/sandbox/"), chromedp.WaitVisible(chromedp.CSS(`p.empty`))); err != nil {
			t.Fatal(err)
		}
		if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-order-id]').length`)); err != nil || n != 0 {
			t.Fatalf("an empty sandbox lists %d orders (%v)", n, err)
		}
	}
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[refused]]></return_msg></xml>`)
	}))
	t.Cleanup(refusing.Close)
	s.pay(t, "TAB-1", "4.56")
	if m := postJSON(t, s.merchant+"/wechat/pay", `{"order_id":"TAB-2","amount":"7.89","currency":"CNY","description":"Latte",`+
		`"openid":"os7xVv419cwT89c3EhFacTtXD_84","notify_url":"`+refusing.URL+`/notify"}`); m["order_id"] != "TAB-2" {
		t.Fatalf("pay answer %v", m)
	}
	for _, tab := range []context.Context{first, second} {
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(order("TAB-1"))), chromedp.WaitVisible(chromedp.CSS(order("TAB-2")))); err != nil {
			t.Fatalf("orders created after the page opened: %v", err)
		}
	}

	steps := []struct {
		tab          context.Context
		id, action   string
		state, query string // the state shown, the query API's status
		acknowledged string
	}{
		{first, "TAB-1", "succeed", "succeeded", "succeeded", "true"},
		{second, "TAB-2", "succeed", "succeeded", "succeeded", "false"},
		{second, "TAB-1", "refund", "refunded", "refunded", "true"},
	}
	for i, st := range steps {
		notes := `[data-notification][data-order-id="` + st.id + `"]`
		if err := chromedp.Do(st.tab, chromedp.Click(chromedp.CSS(order(st.id)+` button[data-action="`+st.action+`"]`))); err != nil {
			t.Fatal(err)
		}
		for _, tab := range []context.Context{first, second} {
			err := chromedp.Do(tab,
				wait(`document.querySelector('`+order(st.id)+` [data-field="state"]').textContent.trim() === "`+st.state+`"`, 20*time.Second),
				wait(`(n => n !== null && n.dataset.acknowledged === "`+st.acknowledged+`")(document.querySelector('`+notes+`'))`, 20*time.Second),
			)
			if err != nil {
				got, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("list") ? "" : document.body.innerText`))
				t.Fatalf("step %d (%s %s): a tab did not show state %s with a notification acknowledged=%s: %v %s", i, st.action, st.id, st.state, st.acknowledged, err, got)
			}
		}
		// the click's answer has come (both tabs show it): the query API agrees
		if got := s.queryStatus(t, "/wechat/query", st.id); got != st.query {
			t.Errorf("step %d: after %s the query API reports %s %q, want %q", i, st.action, st.id, got, st.query)
		}
		for _, tab := range []context.Context{first, second} {
			if got := rendered(t, tab, order(st.id)+` [data-field="state"]`); got != st.query {
				t.Errorf("step %d: a tab shows %s %q, the query API %q", i, st.id, got, st.query)
			}
		}
	}
}

// Past the page's bound of 200 orders (README "Sandbox console"): the
// newest 200 are listed, the heading says how many there are, a new order
// comes first without a reload and pushes the oldest listed one out, and a
// click on an order still settles it.
func TestConsoleManyOrders(t *testing.T) {
	s := startCaddy(t)
	ctx := browser(t)
	const total = 203
	for i := range total {
		s.pay(t, fmt.Sprintf("MANY-%03d", i), "1.00")
	}
	listed := `[...document.querySelectorAll('article[data-order-id]')].map(e => e.dataset.orderId)`
	if err := chromedp.Do(ctx, chromedp.Navigate(s.sandbox+"/sandbox/"), chromedp.WaitVisible(chromedp.CSS(order("MANY-202")))); err != nil {
		t.Fatal(err)
	}
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](listed))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 200 || ids[0] != "MANY-202" || ids[199] != "MANY-003" {
		t.Fatalf("listed %d orders, from %v", len(ids), ids[:min(2, len(ids))])
	}
	if got := text(t, ctx, `#orders-title .n`); got != "200 of 203" {
		t.Fatalf("the heading counts %q, want 200 of 203", got)
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.held = document.querySelector('`+order("MANY-100")+`')`)); err != nil {
		t.Fatal(err)
	}
	s.pay(t, "MANY-NEW", "2.00")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(order("MANY-NEW")))); err != nil {
		t.Fatal(err)
	}
	if ids, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](listed)); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 200 || ids[0] != "MANY-NEW" || ids[199] != "MANY-004" {
		t.Fatalf("after a new order, listed %d orders, first %q last %q", len(ids), ids[0], ids[len(ids)-1])
	}
	if got := text(t, ctx, `#orders-title .n`); got != "200 of 204" {
		t.Fatalf("the heading counts %q, want 200 of 204", got)
	}
	if kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.held.isConnected`)); err != nil || !kept {
		t.Errorf("an unchanged order's element was replaced when the oldest order left the list (%v)", err)
	}
	click(t, ctx, "wechat_v2", "MANY-100", "succeed", "succeeded", true)
	if got := s.queryStatus(t, "/wechat/query", "MANY-100"); got != "succeeded" {
		t.Errorf("the query API reports MANY-100 %q", got)
	}
}
