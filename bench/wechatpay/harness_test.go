// Package wechatpay proves caddy-minipay's wechat_v3 provider against
// github.com/wechatpay-apiv3/wechatpay-go, WeChat's official Go SDK: the SDK
// is the client of minipay_sandbox running in a real Caddy (with its own
// answer validation on), its notify.Handler accepts the sandbox's
// notifications, its verifiers accept the plugin's own paySign and
// Authorization, and a benchmark sets the plugin's pay round trip beside the
// SDK doing the same work. It is a separate module so that the SDK never
// enters the plugin's go.mod:
//
//	cd bench/wechatpay && go test ./...
//	cd bench/wechatpay && go test -run '^$' -bench . -benchmem -count 5
package wechatpay

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/minipay/caddy-minipay"
	"github.com/minipay/caddy-minipay/internal/testport"
)

// The merchant and WeChat identities the sandbox plays (test values).
const (
	appID          = "wxd678efh567hg6787"
	mchID          = "1230000109"
	merchantSerial = "3775B6A45ACD588826D15E583A95F5DD2F2D3B4A" // of examples/keys/apiclient_cert.pem
	apiV3Key       = "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2"
	publicKeyID    = "PUB_KEY_ID_0112300001092026112900000001"
	platformSerial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1" // of examples/keys/wechatpay_platform_cert.pem
	openID         = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
)

// keys are the repository's public sandbox keys (examples/keys, see its
// README), loaded with the SDK's own loaders, which accept only PKCS#8 /
// PKIX / CERTIFICATE PEM: a merchant using the SDK can use the same files.
type keys struct {
	merchant       *rsa.PrivateKey
	merchantPublic *rsa.PublicKey
	platformPublic *rsa.PublicKey
	platformCert   *x509.Certificate
}

func loadKeys(t testing.TB) keys {
	t.Helper()
	read := func(name string) string {
		s, err := readKey(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var k keys
	var err error
	if k.merchant, err = utils.LoadPrivateKey(read("apiclient_key.pem")); err != nil {
		t.Fatal(err)
	}
	k.merchantPublic = &k.merchant.PublicKey
	merchantCert, err := utils.LoadCertificate(read("apiclient_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if k.platformPublic, err = utils.LoadPublicKey(read("wechatpay_pub_key.pem")); err != nil {
		t.Fatal(err)
	}
	if k.platformCert, err = utils.LoadCertificate(read("wechatpay_platform_cert.pem")); err != nil {
		t.Fatal(err)
	}
	if got := utils.GetCertificateSerialNumber(*merchantCert); got != merchantSerial {
		t.Fatalf("merchant certificate serial %s, want %s", got, merchantSerial)
	}
	if got := utils.GetCertificateSerialNumber(*k.platformCert); got != platformSerial {
		t.Fatalf("platform certificate serial %s, want %s", got, platformSerial)
	}
	return k
}

// platformKey is WeChat's (the sandbox's) private key: a well-formed key
// that is not the merchant's.
func platformKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	pem, err := readKey("wechatpay_platform_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := utils.LoadPrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// keysDir holds the repository's public sandbox keys.
const keysDir = "../../examples/keys"

func readKey(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(keysDir, name))
	return string(b), err
}

// keyPath is the absolute path of a key file, for {file.*} placeholders
// in a Caddyfile.
func keyPath(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(keysDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// adminAddr is this test process's own Caddy admin endpoint, so that
// concurrent test processes on one machine each drive their own Caddy.
var adminAddr = func() string {
	port, err := testport.Pick()
	if err != nil {
		panic(err)
	}
	return "localhost:" + strconv.Itoa(port)
}()

// adminPort is adminAddr's port.
func adminPort() int {
	p, _ := strconv.Atoi(adminAddr[strings.LastIndexByte(adminAddr, ':')+1:])
	return p
}

// freePort is a loopback port no other server of this process was given
// (the admin endpoint's included).
func freePort(t testing.TB) int { return testport.Free(t) }

// TestMain removes the configurations' storage once Caddy has stopped
// (testport.StorageDir says why it is not under t.TempDir).
func TestMain(m *testing.M) {
	code := m.Run()
	testport.RemoveStorage()
	os.Exit(code)
}

// startCaddy loads a Caddyfile into the in-process Caddy of caddytest,
// with a storage of its own (testport.StorageDir): Caddy's default one is
// the user's, shared by every run, and the plugin keeps downloaded platform
// certificates there (a later run would reuse them instead of downloading).
func startCaddy(t testing.TB, caddyfile string) *caddytest.Tester {
	t.Helper()
	// A load may take longer than caddytest's own 5 s under -race on a loaded
	// machine (integration's TestStartCaddyWaitsForASlowLoad).
	testport.NeverSkipped(t) // caddytest skips when it cannot start Caddy
	tc := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: adminPort(), TestRequestTimeout: 20 * time.Second, LoadRequestTimeout: time.Minute})
	tc.InitServer(`{
	skip_install_trust
	admin `+adminAddr+`
	storage file_system `+testport.StorageDir()+`
	grace_period 1ns
	log {
		output file `+filepath.Join(t.TempDir(), "caddy.log")+`
		format json
	}
}
`+caddyfile, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	// the servers of the configuration replaced must be gone before the
	// test's requests (and the next load) reach them (testport.Settled)
	if err := testport.Settled(adminAddr); err != nil {
		t.Fatal(err)
	}
	return tc
}

// toSandbox sends the SDK's requests, which always go to
// https://api.mch.weixin.qq.com (consts.WechatPayAPIServer; the SDK has no
// base-URL option), to the sandbox instead, path and query unchanged. Any
// other host is refused, so nothing leaves the machine.
type toSandbox struct {
	sandbox *url.URL
	next    http.RoundTripper
}

func (s toSandbox) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme+"://"+r.URL.Host != consts.WechatPayAPIServer {
		return nil, errors.New("toSandbox: refusing a request to " + r.URL.Host)
	}
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = s.sandbox.Scheme, s.sandbox.Host, ""
	return s.next.RoundTrip(r)
}

// sandboxClient is the http.Client the SDK is given with option.WithHTTPClient.
func sandboxClient(sandboxBase string) *http.Client {
	u, err := url.Parse(sandboxBase)
	if err != nil {
		panic(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: toSandbox{sandbox: u, next: http.DefaultTransport}}
}

// post sends JSON to Caddy and returns the status and the answer.
func post(t *testing.T, url string, body string) (int, []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// object decodes a JSON object, failing the test otherwise.
func object(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}
