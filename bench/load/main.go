// Command load is caddy-minipay's load benchmark: the minipay pay route
// against a plain reverse_proxy route, both in front of the same fixed,
// correctly signed upstream, measured alternately by wrk over several rounds.
//
//	go run ./bench/load            # from the repository; needs wrk on PATH
//	go run ./bench/load -provider wechat_v3
//	go run ./bench/load -h         # flags
//
// It builds ./cmd/caddy, starts one Caddy process per route from that
// binary, checks once that the minipay route answers a paySign that verifies,
// then runs wrk against each side in turn (the order alternates between
// rounds) and prints, per round and side, requests/s, p50/p99 latency, the
// failed requests (non-2xx answers and socket errors) and the peak RSS
// (VmHWM) of that side's Caddy during the run, then the medians of the
// ratios minipay/plain. Everything listens on loopback only.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/minipay/caddy-minipay/internal/testport"
)

// The merchant's configuration; the upstream signs with the same key. These
// are test credentials of nobody.
const (
	appID     = "wx8888888888888888"
	mchID     = "1900000109"
	apiKey    = "8934e7d15453e97507ef794cf7b0519d"
	notifyURL = "https://merchant.example/webhooks/wechat_v2"
	prepayID  = "wx201411101639507cbf6ffd8b0779950874"
)

// payBody is the merchant's pay request, the same on both routes.
const payBody = `{"order_id":"LOAD-1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`

type options struct {
	rounds      int
	duration    time.Duration
	warmup      time.Duration
	connections int
	threads     int
	caddy       string
	profile     string
	keep        bool
	logLevel    string
	delay       time.Duration
	provider    string
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 5, "alternating rounds (each runs both sides)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "wrk duration per side and round")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured wrk run per side before the rounds")
	flag.IntVar(&o.connections, "c", 32, "wrk connections")
	flag.IntVar(&o.threads, "t", 2, "wrk threads")
	flag.StringVar(&o.caddy, "caddy", "", "a Caddy binary with the plugin (default: go build ./cmd/caddy)")
	flag.StringVar(&o.profile, "profile", "", "after the rounds, write CPU profiles of both sides under load and their allocation profiles into this directory")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (Caddyfiles, logs)")
	flag.DurationVar(&o.delay, "upstream-delay", 0, "the upstream waits this long before each answer (a real provider takes tens of milliseconds; 0, the default, makes the proxies' CPU the bottleneck)")
	flag.StringVar(&o.logLevel, "log-level", "", "Caddy's default log level on both sides (e.g. WARN: minipay logs a success at INFO and a failure at WARN, so WARN measures the route without its per-success log line); empty keeps Caddy's default, INFO")
	flag.StringVar(&o.provider, "provider", "wechat_v2", "the pay route's provider: wechat_v2, or wechat_v3 (RSA-2048 signatures make it CPU-bound; the targets are wechat_v2's)")
	flag.Parse()
	// Ctrl-C (or a TERM or HUP) stops the benchmark: the deferred clean-up
	// stops wrk and both Caddys and removes the work directory, and the
	// run that was interrupted is not reported.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, o)
	interrupted := ctx.Err() != nil
	stop()
	if interrupted {
		fmt.Fprintln(os.Stderr, "load: interrupted")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.rounds < 1 || o.duration < time.Second {
		return errors.New("need -rounds >= 1 and -duration >= 1s")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return errors.New("wrk is not on PATH (Debian/Ubuntu: apt-get install wrk)")
	}
	dir, err := os.MkdirTemp("", "minipay-load-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	root, err := repositoryRoot()
	if err != nil {
		return err
	}
	if o.caddy == "" {
		if o.caddy, err = buildCaddy(ctx, root, dir); err != nil {
			return err
		}
	}
	var v variant
	switch o.provider {
	case "wechat_v2":
		v = wechatV2{}
	case "wechat_v3":
		if v, err = newWechatV3(root); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-provider %q: wechat_v2 or wechat_v3", o.provider)
	}

	upstream, err := startUpstream(v.answer, o.delay)
	if err != nil {
		return err
	}
	defer upstream.Close()

	plain, err := startSide(ctx, o.caddy, dir, "plain", o.logLevel, "\treverse_proxy "+upstream.Addr().String()+"\n")
	if err != nil {
		return err
	}
	defer plain.stop()
	minipay, err := startSide(ctx, o.caddy, dir, "minipay", o.logLevel, v.route()+"\treverse_proxy "+upstream.Addr().String()+"\n")
	if err != nil {
		return err
	}
	defer minipay.stop()
	if err := checkPayAnswer(minipay.url, v); err != nil {
		return fmt.Errorf("minipay %s route: %w", o.provider, err)
	}
	fmt.Printf("pay route: minipay %s\n", o.provider)

	script := filepath.Join(dir, "post.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return err
	}
	w := wrkRunner{ctx: ctx, bin: wrk, script: script, connections: o.connections, threads: o.threads}
	printEnvironment(w)
	fmt.Printf("wrk -t%d -c%d -d%s, POST %d-byte JSON; %d rounds, order alternating; warm-up %s per side; upstream delay %s\n\n",
		o.threads, o.connections, o.duration, len(payBody), o.rounds, o.warmup, o.delay)

	for _, s := range []*side{plain, minipay} {
		if o.warmup > 0 {
			if _, err := w.run(s, o.warmup); err != nil {
				return err
			}
		}
	}
	fmt.Printf("%-5s %-7s %10s %9s %9s %7s %9s %11s %22s\n", "round", "side", "req/s", "p50 ms", "p99 ms", "failed", "RSS MiB", "CPU µs/req", "cores caddy/up/wrk")
	var ratios ratioSet
	failed := 0
	for i := 1; i <= o.rounds; i++ {
		order := []*side{plain, minipay}
		if i%2 == 0 {
			order = []*side{minipay, plain}
		}
		res := map[*side]result{}
		for _, s := range order {
			r, err := w.run(s, o.duration)
			if err != nil {
				return err
			}
			res[s] = r
			failed += r.failed()
			fmt.Printf("%-5d %-7s %10.0f %9.2f %9.2f %7d %9.1f %11.1f %12.2f/%.2f/%.2f\n", i, s.name, r.rps(), ms(r.p50us), ms(r.p99us), r.failed(), float64(r.hwmKiB)/1024, r.cpuPerRequest(),
				r.cores(r.cpuUs), r.cores(r.upstreamCPUUs), r.cores(r.wrkCPUUs))
		}
		ratios.add(res[minipay], res[plain])
	}
	fmt.Println()
	ratios.print(o.provider == "wechat_v2")
	fmt.Printf("failed requests, all rounds: %d (target 0)\n", failed)
	fmt.Println("load average after:", loadAverage())

	if o.profile != "" {
		return profile(o, w, plain, minipay)
	}
	return nil
}

// repositoryRoot is the directory of the go.mod of the repository.
func repositoryRoot() (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 || string(bytes.TrimSpace(gomod)) == os.DevNull {
		return "", errors.New("run this from inside the caddy-minipay repository (go env GOMOD is empty)")
	}
	return filepath.Dir(string(bytes.TrimSpace(gomod))), nil
}

// buildCaddy builds the repository's ./cmd/caddy (Caddy with the plugin).
func buildCaddy(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "caddy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Println("building ./cmd/caddy …")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy: %w", err)
	}
	return bin, nil
}

// A variant is a provider's pay route and the upstream that answers it.
type variant interface {
	// route is the minipay directive of the pay route.
	route() string
	// answer writes the upstream's signed success answer.
	answer(w http.ResponseWriter)
	// checkPaySign verifies the wx.requestPayment object's paySign.
	checkPaySign(a map[string]string) error
}

// wechatV2 is WeChat Pay API v2 with an MD5 signature.
type wechatV2 struct{}

func (wechatV2) route() string {
	return `	minipay wechat_v2 {
		app_id ` + appID + `
		mch_id ` + mchID + `
		api_key ` + apiKey + `
		notify_url ` + notifyURL + `
		client_ip 127.0.0.1
	}
`
}

var v2Answer = signedXML([][2]string{
	{"return_code", "SUCCESS"}, {"return_msg", "OK"}, {"appid", appID}, {"mch_id", mchID},
	{"nonce_str", "IITRi8Iabbblz1Jc"}, {"result_code", "SUCCESS"}, {"prepay_id", prepayID},
	{"trade_type", "JSAPI"},
})

func (wechatV2) answer(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(v2Answer)
}

func (wechatV2) checkPaySign(a map[string]string) error {
	want := wechatSign([][2]string{{"appId", appID}, {"timeStamp", a["timeStamp"]}, {"nonceStr", a["nonceStr"]},
		{"package", a["package"]}, {"signType", a["signType"]}})
	if a["signType"] != "MD5" || a["paySign"] != want {
		return errors.New("paySign does not verify")
	}
	return nil
}

// wechatV3 is WeChat Pay API v3 with the repository's public sandbox keys
// (examples/keys): the merchant signs with apiclient_key.pem, the upstream
// with the WeChat Pay key whose public half and id the route trusts.
type wechatV3 struct {
	keys        string // examples/keys
	platformKey *rsa.PrivateKey
	merchantPub *rsa.PublicKey
	signed      atomic.Pointer[v3Answer] // re-signed every second: answers older than 300 s are refused
}

type v3Answer struct{ timestamp, nonce, signature string }

const (
	v3PublicKeyID = "PUB_KEY_ID_0119000001092026112900000000000001"
	v3Body        = `{"prepay_id":"` + prepayID + `"}`
)

func newWechatV3(root string) (*wechatV3, error) {
	v := &wechatV3{keys: filepath.Join(root, "examples", "keys")}
	block, err := readPEM(filepath.Join(v.keys, "wechatpay_platform_key.pem"))
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("wechatpay_platform_key.pem: %w", err)
	}
	v.platformKey = key.(*rsa.PrivateKey)
	if block, err = readPEM(filepath.Join(v.keys, "apiclient_cert.pem")); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("apiclient_cert.pem: %w", err)
	}
	v.merchantPub = cert.PublicKey.(*rsa.PublicKey)
	if err := v.sign(); err != nil {
		return nil, err
	}
	go func() {
		for range time.Tick(time.Second) {
			_ = v.sign()
		}
	}()
	return v, nil
}

func readPEM(file string) (*pem.Block, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", file)
	}
	return block, nil
}

// sign signs the answer as WeChat does: RSASSA-PKCS1-v1_5 SHA-256 over
// timestamp, nonce and body, each followed by a newline
// (https://pay.weixin.qq.com/doc/v3/merchant/4012365342).
func (v *wechatV3) sign() error {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + v3Body + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, v.platformKey, crypto.SHA256, sum[:])
	if err != nil {
		return err
	}
	v.signed.Store(&v3Answer{timestamp: ts, nonce: nonce, signature: base64.StdEncoding.EncodeToString(sig)})
	return nil
}

func (v *wechatV3) route() string {
	return `	minipay wechat_v3 {
		app_id ` + appID + `
		mch_id ` + mchID + `
		serial_no 3775B6A45ACD588826D15E583A95F5DD2F2D3B4A
		private_key {file.` + filepath.Join(v.keys, "apiclient_key.pem") + `}
		api_v3_key sandbox-apiv3-key-0123456789abcd
		public_key {file.` + filepath.Join(v.keys, "wechatpay_pub_key.pem") + `}
		public_key_id ` + v3PublicKeyID + `
		notify_url ` + notifyURL + `
		client_ip 127.0.0.1
	}
`
}

func (v *wechatV3) answer(w http.ResponseWriter) {
	a := v.signed.Load()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Wechatpay-Serial", v3PublicKeyID)
	h.Set("Wechatpay-Timestamp", a.timestamp)
	h.Set("Wechatpay-Nonce", a.nonce)
	h.Set("Wechatpay-Signature", a.signature)
	_, _ = w.Write([]byte(v3Body))
}

// checkPaySign verifies the RSA paySign over appId, timeStamp, nonceStr and
// package, each followed by a newline, with the merchant's public key.
func (v *wechatV3) checkPaySign(a map[string]string) error {
	sig, err := base64.StdEncoding.DecodeString(a["paySign"])
	if err != nil || a["signType"] != "RSA" {
		return errors.New("paySign is not an RSA signature")
	}
	sum := sha256.Sum256([]byte(appID + "\n" + a["timeStamp"] + "\n" + a["nonceStr"] + "\n" + a["package"] + "\n"))
	return rsa.VerifyPKCS1v15(v.merchantPub, crypto.SHA256, sum[:], sig)
}

// startUpstream serves the provider's signed success answer to every
// request (after reading its body, as a real server would).
func startUpstream(answer func(http.ResponseWriter), delay time.Duration) (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if delay > 0 {
			time.Sleep(delay)
		}
		answer(w)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return l, nil
}

// wechatSign is WeChat Pay v2's MD5 signature: the non-empty fields sorted
// by name as k=v joined by &, then &key=<API key>, MD5, upper-case hex
// (https://pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3). Written
// here again, not taken from the plugin, so the benchmark's upstream is an
// independent check of the plugin's verification.
func wechatSign(fields [][2]string) string {
	sorted := slices.Clone(fields)
	slices.SortFunc(sorted, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	var b strings.Builder
	for _, f := range sorted {
		if f[1] == "" || f[0] == "sign" {
			continue
		}
		b.WriteString(f[0] + "=" + f[1] + "&")
	}
	b.WriteString("key=" + apiKey)
	sum := md5.Sum([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func signedXML(fields [][2]string) []byte {
	fields = append(fields, [2]string{"sign", wechatSign(fields)})
	var b bytes.Buffer
	b.WriteString("<xml>")
	for _, f := range fields {
		fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", f[0], f[1], f[0])
	}
	b.WriteString("</xml>")
	return b.Bytes()
}

// checkPayAnswer sends one pay and checks that the answer is the
// wx.requestPayment object for the upstream's prepay_id with a paySign that
// verifies, so the benchmark measures a route that works.
func checkPayAnswer(url string, v variant) error {
	res, err := http.Post(url, "application/json", strings.NewReader(payBody))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", res.StatusCode, body)
	}
	var a map[string]string
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("answer %s: %w", body, err)
	}
	if a["package"] != "prepay_id="+prepayID {
		return fmt.Errorf("not the wx.requestPayment object of the upstream's prepay_id: %s", body)
	}
	if err := v.checkPaySign(a); err != nil {
		return fmt.Errorf("%w: %s", err, body)
	}
	return nil
}

// side is one Caddy process and its route.
type side struct {
	name   string
	url    string
	admin  string
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has exited
}

// startSide writes a Caddyfile whose site block is route and runs Caddy
// on it; it returns once the admin endpoint and the route answer. A Caddy
// that exits first (a port taken, a bad binary) is an error at once,
// carrying the end of its log (the work directory is removed on return).
func startSide(ctx context.Context, caddy, dir, name, logLevel, route string) (*side, error) {
	port, adminPort := freePort(), freePort()
	var logOption string
	if logLevel != "" {
		logOption = "\tlog {\n\t\tlevel " + logLevel + "\n\t}\n"
	}
	cfg := fmt.Sprintf(`{
	admin localhost:%s
	persist_config off
%s}

http://127.0.0.1:%s {
	bind 127.0.0.1
%s}
`, adminPort, logOption, port, route)
	file := filepath.Join(dir, name+".Caddyfile")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(caddy, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	home := filepath.Join(dir, name+".home")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home)
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &side{name: name, url: "http://127.0.0.1:" + port + "/pay", admin: "http://localhost:" + adminPort, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	failed := func(format string, a ...any) (*side, error) {
		s.stop()
		_ = logFile.Close()
		return nil, fmt.Errorf("%s Caddy: %s; the end of its log:\n%s", name, fmt.Sprintf(format, a...), logTail(logFile.Name()))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			return failed("exited at start (%v)", cmd.ProcessState)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		default:
		}
		res, err := http.Get(s.admin + "/config/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return failed("its admin endpoint %s did not answer within 30 s", s.admin)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := http.Post(s.url, "application/json", strings.NewReader(payBody))
	if err != nil {
		return failed("%v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return failed("the route answered HTTP %d", res.StatusCode)
	}
	return s, nil
}

// logTail is the last lines of a log file, for an error message.
func logTail(file string) string {
	b, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

func (s *side) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// resetPeakRSS starts a new VmHWM period (proc(5): clear_refs, value 5).
func (s *side) resetPeakRSS() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
}

// peakRSS is VmHWM in KiB.
func (s *side) peakRSS() int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// cpuTime is the process's user+system CPU time in µs (proc(5): stat
// fields 14 and 15, in clock ticks of 1/100 s on Linux).
func (s *side) cpuTime() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	_, rest, _ := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return (utime + stime) * 10000
}

// freePort is testport.Pick's port as text (the benchmark panics where
// the machine has no free port).
func freePort() string {
	port, err := testport.Pick()
	if err != nil {
		panic(err)
	}
	return strconv.Itoa(port)
}

// wrkScript makes wrk POST the merchant's JSON and print its figures on one
// machine-readable line (latencies in µs). wrk counts answers with a status
// above 399 in errors.status; no route here answers 1xx or 3xx.
var wrkScript = `wrk.method = "POST"
wrk.body = '` + payBody + `'
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
`

type wrkRunner struct {
	ctx                  context.Context // ends the run (Ctrl-C)
	bin, script          string
	connections, threads int
}

// result is one wrk run.
type result struct {
	requests, durationUs, p50us, p99us int
	non2xx, socketErrors               int
	hwmKiB                             int
	cpuUs                              int // the side's Caddy's CPU time (user+system) during the run
	upstreamCPUUs, wrkCPUUs            int // this process's (the upstream's, mostly) and wrk's
}

// cores is CPU time us spent over the run, in cores (1.0 = one core busy
// for the whole run).
func (r result) cores(us int) float64 { return float64(us) / float64(r.durationUs) }

func (r result) rps() float64 { return float64(r.requests) / (float64(r.durationUs) / 1e6) }
func (r result) failed() int  { return r.non2xx + r.socketErrors }

// cpuPerRequest is the Caddy process's CPU time per request in µs: less
// sensitive to other load on the machine than requests/s.
func (r result) cpuPerRequest() float64 { return float64(r.cpuUs) / float64(r.requests) }

func (w wrkRunner) run(s *side, d time.Duration) (result, error) {
	s.resetPeakRSS()
	cpu0, self0 := s.cpuTime(), selfCPUTime()
	cmd := exec.CommandContext(w.ctx, w.bin, "-t", strconv.Itoa(w.threads), "-c", strconv.Itoa(w.connections),
		"-d", strconv.Itoa(int(d.Seconds()))+"s", "--timeout", "5s", "-s", w.script, s.url)
	setParentDeathSignal(cmd)
	out, err := cmd.CombinedOutput()
	if w.ctx.Err() != nil { // wrk stops early on Ctrl-C too, and prints what it measured so far
		return result{}, w.ctx.Err()
	}
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	var r result
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) != 10 || f[0] != "RESULT" {
			continue
		}
		n := make([]int, 9)
		for i := range n {
			n[i], _ = strconv.Atoi(f[i+1])
		}
		r = result{requests: n[0], durationUs: n[1], p50us: n[2], p99us: n[3], non2xx: n[4],
			socketErrors: n[5] + n[6] + n[7] + n[8]}
	}
	if r.requests == 0 {
		return result{}, fmt.Errorf("wrk printed no result: %s", out)
	}
	r.hwmKiB = s.peakRSS()
	r.cpuUs = s.cpuTime() - cpu0
	r.upstreamCPUUs = selfCPUTime() - self0
	r.wrkCPUUs = int((cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Microseconds())
	return r, nil
}

// ratioSet holds the per-round ratios minipay/plain.
type ratioSet struct{ rps, p50, p99, rss, cpu []float64 }

func (rs *ratioSet) add(m, p result) {
	rs.rps = append(rs.rps, m.rps()/p.rps())
	rs.p50 = append(rs.p50, float64(m.p50us)/float64(p.p50us))
	rs.p99 = append(rs.p99, float64(m.p99us)/float64(p.p99us))
	rs.rss = append(rs.rss, float64(m.hwmKiB)/float64(p.hwmKiB))
	rs.cpu = append(rs.cpu, m.cpuPerRequest()/p.cpuPerRequest())
}

// print shows the medians, and against the targets when withTargets (they
// are set for wechat_v2; wechat_v3's two RSA signatures a pay make it
// CPU-bound).
func (rs *ratioSet) print(withTargets bool) {
	fmt.Println("ratios minipay/plain: median (per round)")
	for _, r := range []struct {
		name   string
		values []float64
		target string
		ok     func(float64) bool
	}{
		{"throughput", rs.rps, ">= 0.95", func(v float64) bool { return v >= 0.95 }},
		{"p50 latency", rs.p50, "", nil},
		{"p99 latency", rs.p99, "<= 1.10", func(v float64) bool { return v <= 1.10 }},
		{"peak RSS", rs.rss, "<= 1.20", func(v float64) bool { return v <= 1.20 }},
		{"CPU/request", rs.cpu, "", nil},
	} {
		med := median(r.values)
		verdict := ""
		if r.ok != nil && withTargets {
			verdict = "target " + r.target + ": met"
			if !r.ok(med) {
				verdict = "target " + r.target + ": MISSED"
			}
		}
		per := make([]string, len(r.values))
		for i, v := range r.values {
			per[i] = fmt.Sprintf("%.3f", v)
		}
		fmt.Printf("  %-12s %.3f  (%s)  %s\n", r.name, med, strings.Join(per, " "), verdict)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(us int) float64 { return float64(us) / 1000 }

func printEnvironment(w wrkRunner) {
	v, _ := exec.Command(w.bin, "-v").CombinedOutput()
	first, _, _ := strings.Cut(string(v), "\n")
	fmt.Printf("%s, %s, %d CPUs; load average before: %s\n", runtime.Version(), strings.TrimSpace(first), runtime.NumCPU(), loadAverage())
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// profile runs each side once more while Caddy's admin endpoint records a
// CPU profile, and saves each side's allocation profile.
func profile(o options, w wrkRunner, sides ...*side) error {
	if err := os.MkdirAll(o.profile, 0o755); err != nil {
		return err
	}
	secs := max(int(o.duration.Seconds())-2, 1)
	for _, s := range sides {
		errc := make(chan error, 1)
		go func() { _, err := w.run(s, o.duration); errc <- err }()
		time.Sleep(time.Second)
		if err := fetch(w.ctx, s.admin+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), filepath.Join(o.profile, s.name+".cpu.pprof")); err != nil {
			return err
		}
		if err := <-errc; err != nil {
			return err
		}
		if err := fetch(w.ctx, s.admin+"/debug/pprof/allocs", filepath.Join(o.profile, s.name+".allocs.pprof")); err != nil {
			return err
		}
	}
	fmt.Printf("profiles in %s: go tool pprof -top %s\n", o.profile, filepath.Join(o.profile, "minipay.cpu.pprof"))
	return nil
}

func fetch(ctx context.Context, url, file string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("GET %s: HTTP %d: %s", url, res.StatusCode, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
