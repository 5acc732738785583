package wechatv3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

type platform struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newPlatform(t *testing.T) platform {
	key := must(rsa.GenerateKey(rand.Reader, 2048))
	return platform{key, must(SandboxCertificate(key))}
}

func (p platform) serial() string { return CertificateSerial(p.cert) }

// signed is an answer signed by p at now.
func (p platform) signed(t testing.TB, now time.Time, body string) http.Header {
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := must(SignMessage(p.key, AppendAnswerMessage(nil, ts, "n", []byte(body))))
	return http.Header{HeaderSerial: {p.serial()}, HeaderTimestamp: {ts}, HeaderNonce: {"n"}, HeaderSignature: {sig}}
}

// certServer is WeChat's GET /v3/certificates: it serves the certificates
// of serving, signed by the first, and counts downloads.
type certServer struct {
	mu        sync.Mutex
	serving   []platform
	downloads atomic.Int32
	now       func() time.Time
	// decorate, when set, changes the answer's body before it is signed.
	decorate func([]byte) []byte
	// window, when set, refuses a request signed 300 s or more from now,
	// as WeChat does.
	window bool
}

func (cs *certServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cs.downloads.Add(1)
	auth, ok := ParseAuthorization(r.Header.Get("Authorization"))
	if !ok || r.URL.Path != PathCertificates || r.Method != http.MethodGet {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if ts, err := strconv.ParseInt(auth.Timestamp, 10, 64); cs.window && (err != nil || cs.now().Sub(time.Unix(ts, 0)).Abs() >= MaxSkew) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var certs []*x509.Certificate
	for _, p := range cs.serving {
		certs = append(certs, p.cert)
	}
	body := must(appendCertificatesAnswer(nil, certs, func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}, []byte(exampleAPIv3Key)))
	if cs.decorate != nil {
		body = cs.decorate(body)
	}
	for k, v := range cs.serving[0].signed(nil, cs.now(), string(body)) {
		w.Header()[k] = v
	}
	_, _ = w.Write(body)
}

// Certificate mode: a download on first need, several serials at once, an
// unknown serial downloads again (at most once a minute), and a download
// older than 12 h is refreshed in the background.
func TestCertificatesRotation(t *testing.T) {
	a, b := newPlatform(t), newPlatform(t)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	cs := &certServer{serving: []platform{a}, now: clock}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	cfg := merchantConfig(t)
	cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+PathCertificates
	c := must(NewClient(cfg))
	c.Now = clock
	verify := func(p platform) error {
		body := `{"x":1}`
		return Verify(c.Keyring(), p.signed(t, clock(), body), []byte(body), clock())
	}
	if cs.downloads.Load() != 0 {
		t.Fatal("downloaded before first need")
	}
	if err := verify(a); err != nil || cs.downloads.Load() != 1 {
		t.Fatalf("first answer: %v, %d downloads", err, cs.downloads.Load())
	}
	if err := verify(a); err != nil || cs.downloads.Load() != 1 {
		t.Fatalf("second answer: %v, %d downloads", err, cs.downloads.Load())
	}
	// WeChat publishes b just after the start and signs with it at once:
	// the first download does not start the once-a-minute limit, so b is
	// downloaded at once, and both verify.
	cs.mu.Lock()
	cs.serving = []platform{a, b}
	cs.mu.Unlock()
	if err := verify(b); err != nil || cs.downloads.Load() != 2 {
		t.Fatalf("new serial right after the first download: %v, %d downloads", err, cs.downloads.Load())
	}
	if err := verify(a); err != nil {
		t.Fatalf("old serial during the rotation: %v", err)
	}
	if got := c.Certificates().Serials(); len(got) != 2 {
		t.Fatalf("serials %v", got)
	}
	// Forged serials cannot make the plugin hammer WeChat: the refreshes
	// they trigger are at most one a minute.
	for i := 0; i < 5; i++ {
		if err := verify(newPlatform(t)); err != ErrUnknownSerial {
			t.Fatalf("unknown key: %v", err)
		}
	}
	if cs.downloads.Load() != 2 {
		t.Fatalf("%d downloads after unknown serials within a minute", cs.downloads.Load())
	}
	advance(CertificatesMinInterval)
	if err := verify(newPlatform(t)); err != ErrUnknownSerial || cs.downloads.Load() != 3 {
		t.Fatalf("a minute later: %v, %d downloads", err, cs.downloads.Load())
	}
	for i := 0; i < 3; i++ {
		if err := verify(newPlatform(t)); err != ErrUnknownSerial || cs.downloads.Load() != 3 {
			t.Fatalf("within a minute of that: %v, %d downloads", err, cs.downloads.Load())
		}
	}
	// 12 h on, a known serial still verifies at once and triggers a background refresh.
	cs.mu.Lock()
	cs.serving = []platform{b}
	cs.mu.Unlock()
	advance(CertificatesRefreshEvery)
	if err := verify(a); err != nil {
		t.Fatalf("stale download: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for cs.downloads.Load() != 4 || len(c.Certificates().Serials()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no background refresh: %d downloads, serials %v", cs.downloads.Load(), c.Certificates().Serials())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := verify(a); err != ErrUnknownSerial {
		t.Fatalf("a retired certificate: %v", err)
	}
}

// A first download that fails starts the once-a-minute limit like any
// other: a WeChat that cannot serve the certificates is not asked again at
// every answer.
func TestCertificatesFailedFirstDownloadIsRateLimited(t *testing.T) {
	a := newPlatform(t)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	var down atomic.Bool
	down.Store(true)
	cs := &certServer{serving: []platform{a}, now: func() time.Time { return now }}
	var tries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		cs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cfg := merchantConfig(t)
	cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+PathCertificates
	c := must(NewClient(cfg))
	c.Now = func() time.Time { return now }
	body := `{"x":1}`
	for i := 0; i < 3; i++ {
		if err := Verify(c.Keyring(), a.signed(t, now, body), []byte(body), now); err != ErrUnknownSerial || tries.Load() != 1 {
			t.Fatalf("answer %d while the download fails: %v, %d tries", i, err, tries.Load())
		}
	}
	down.Store(false)
	now = now.Add(CertificatesMinInterval)
	if err := Verify(c.Keyring(), a.signed(t, now, body), []byte(body), now); err != nil || tries.Load() != 2 {
		t.Fatalf("a minute later: %v, %d tries", err, tries.Load())
	}
}

// A download whose signature does not verify with the certificates in it is
// not used.
func TestCertificatesDownloadMustBeSigned(t *testing.T) {
	a, forger := newPlatform(t), newPlatform(t)
	cs := &certServer{serving: []platform{forger, a}, now: time.Now}
	cs.serving[0].cert = a.cert // signed by forger, announcing a's serial
	srv := httptest.NewServer(cs)
	defer srv.Close()
	cfg := merchantConfig(t)
	cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+PathCertificates
	c := must(NewClient(cfg))
	if err := c.Certificates().Refresh(t.Context(), true); err == nil {
		t.Fatal("a download signed by a key it does not hold was accepted")
	}
	if len(c.Certificates().Serials()) != 0 {
		t.Fatal("certificates installed from an unverified download")
	}
}

// Certificate mode in a cluster: instances sharing one store download once
// per refresh; each still verifies what it reads, so a tampered stored
// download is not trusted; a store that fails leaves each instance to
// download alone.
func TestCertificatesSharedByACluster(t *testing.T) {
	a := newPlatform(t)
	cs := &certServer{serving: []platform{a}, now: time.Now}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	cfg := merchantConfig(t)
	cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+PathCertificates
	body := `{"x":1}`
	verifyBy := func(keys KeySource) error {
		return Verify(keys, a.signed(t, time.Now(), body), []byte(body), time.Now())
	}

	store := transformtest.NewMemStore()
	c1, c2 := must(NewClient(cfg)), must(NewClient(cfg))
	w := must(NewWebhook(cfg))
	c1.ShareState(store)
	c2.ShareState(store)
	w.ShareState(store)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, keys := range []KeySource{c1.Keyring(), c2.Keyring(), w.Keyring()} {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- verifyBy(keys) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
	if n := cs.downloads.Load(); n != 1 {
		t.Fatalf("three instances sharing a store downloaded %d times, want 1", n)
	}
	if keys := store.Keys(); len(keys) != 1 || keys[0] != "minipay/wechat_v3/"+cfg.MchID+"/certificates" {
		t.Fatalf("stored keys %v", keys)
	}

	// A stored download changed by someone with access to the storage (its
	// signature no longer verifies) is not trusted: the instance downloads.
	var sd storedDownload
	if err := json.Unmarshal(must(store.Load(t.Context(), CertificatesKey(cfg.MchID))), &sd); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sd.Body, []byte(`"data"`)) {
		t.Fatalf("stored body %q", sd.Body)
	}
	sd.Body = bytes.Replace(sd.Body, []byte(`"data"`), []byte(`"data" `), 1)
	tampered := must(json.Marshal(sd))
	_ = store.Store(t.Context(), CertificatesKey(cfg.MchID), tampered)
	c3 := must(NewClient(cfg))
	c3.ShareState(store)
	if err := verifyBy(c3.Keyring()); err != nil || cs.downloads.Load() != 2 {
		t.Fatalf("after tampering: %v, %d downloads", err, cs.downloads.Load())
	}

	// A later cold start uses the stored download (it is not yet due).
	c5 := must(NewClient(cfg))
	c5.ShareState(store)
	if err := verifyBy(c5.Keyring()); err != nil || cs.downloads.Load() != 2 {
		t.Fatalf("cold start after the others: %v, %d downloads", err, cs.downloads.Load())
	}

	// Storage down: each instance downloads on its own and still verifies.
	broken := transformtest.NewMemStore()
	broken.Fail("load", "lock")
	c4 := must(NewClient(cfg))
	c4.ShareState(broken)
	if err := verifyBy(c4.Keyring()); err != nil || cs.downloads.Load() != 3 {
		t.Fatalf("storage down: %v, %d downloads", err, cs.downloads.Load())
	}
}

// certificateModeConfig is the merchant in certificate mode, downloading
// from cs.
func certificateModeConfig(t *testing.T, cs *certServer) Config {
	srv := httptest.NewServer(cs)
	t.Cleanup(srv.Close)
	cfg := merchantConfig(t)
	cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+PathCertificates
	return cfg
}

// clusterOfTwo is two clients in certificate mode downloading from cs and
// sharing one store.
func clusterOfTwo(t *testing.T, cs *certServer) (*Client, *Client) {
	cfg := certificateModeConfig(t, cs)
	store := transformtest.NewMemStore()
	a, b := must(NewClient(cfg)), must(NewClient(cfg))
	a.ShareState(store)
	b.ShareState(store)
	return a, b
}

// A rotation in a cluster: a download stored before WeChat published the
// new certificate does not hide it from an instance that starts after the
// publication and is asked for it first; the download that instance makes
// serves the other instance too.
func TestCertificatesRotationInACluster(t *testing.T) {
	a, b := newPlatform(t), newPlatform(t)
	cs := &certServer{serving: []platform{a}, now: time.Now}
	first, second := clusterOfTwo(t, cs)
	body := `{"x":1}`
	verify := func(c *Client, p platform) error {
		return Verify(c.Keyring(), p.signed(t, time.Now(), body), []byte(body), time.Now())
	}
	steps := []struct {
		name      string
		c         *Client
		p         platform
		downloads int32
	}{
		{"first instance, old certificate", first, a, 1},
		{"second instance's first answer, new certificate", second, b, 2},
		{"first instance, new certificate (the stored download)", first, b, 2},
		{"second instance, old certificate", second, a, 2},
	}
	for i, st := range steps {
		if i == 1 {
			cs.mu.Lock()
			cs.serving = []platform{a, b}
			cs.mu.Unlock()
		}
		if err := verify(st.c, st.p); err != nil || cs.downloads.Load() != st.downloads {
			t.Fatalf("%s: %v, %d downloads, want %d", st.name, err, cs.downloads.Load(), st.downloads)
		}
	}
}

// The stored download is WeChat's answer byte for byte, whatever its bytes
// (escapes, a CRLF: a document encoded again would change them) still
// verifies on the instance that reads it, which then does not download. A
// body that is not UTF-8 is refused (TestCertificatesFailureReasons).
func TestCertificatesStoredByteForByte(t *testing.T) {
	a := newPlatform(t)
	cs := &certServer{serving: []platform{a}, now: time.Now, decorate: func(b []byte) []byte {
		return append([]byte("{\"note\":\"caf\\u00e9 \\/ \xc3\xa9\",\r\n"), b[1:]...)
	}}
	first, second := clusterOfTwo(t, cs)
	if err := first.Certificates().Refresh(t.Context(), true); err != nil {
		t.Fatalf("download: %v", err)
	}
	if err := second.Certificates().Refresh(t.Context(), true); err != nil {
		t.Fatalf("refresh from the store: %v", err)
	}
	if n := cs.downloads.Load(); n != 1 {
		t.Fatalf("%d downloads, want 1: the stored answer did not verify", n)
	}
	if len(second.Certificates().Serials()) != 1 {
		t.Fatal("the second instance holds no certificate")
	}
}

// Instances' clocks differ a little: a download stored by an instance whose
// clock runs ahead within WeChat's 300 s window is used; one stored from
// further ahead is not (it would never fall due for a refresh).
func TestCertificatesStoredByAClockAhead(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ahead     time.Duration
		downloads int32
	}{
		{"a minute ahead", time.Minute, 1},
		{"just within the window", MaxSkew - time.Second, 1},
		{"an hour ahead", time.Hour, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newPlatform(t)
			clockAhead := func() time.Time { return time.Now().Add(tc.ahead) }
			var platformAhead atomic.Bool // the platform answers each instance at its time
			platformAhead.Store(true)
			cs := &certServer{serving: []platform{a}, now: func() time.Time {
				if platformAhead.Load() {
					return clockAhead()
				}
				return time.Now()
			}}
			ahead, behind := clusterOfTwo(t, cs)
			ahead.Certificates().Now = clockAhead
			if err := ahead.Certificates().Refresh(t.Context(), true); err != nil {
				t.Fatalf("download by the instance ahead: %v", err)
			}
			platformAhead.Store(false)
			if err := behind.Certificates().Refresh(t.Context(), true); err != nil {
				t.Fatalf("refresh by the instance behind: %v", err)
			}
			if n := cs.downloads.Load(); n != tc.downloads {
				t.Fatalf("%d downloads, want %d", n, tc.downloads)
			}
			if len(behind.Certificates().Serials()) != 1 {
				t.Fatal("the instance behind holds no certificate")
			}
		})
	}
}

// lockHeldElsewhere is a CertificateStore whose lock another instance
// holds past the wait (or that a storage polling once a second sees
// released only after it): Lock fails as transform.LockWithin does.
type lockHeldElsewhere struct{ CertificateStore }

func (lockHeldElsewhere) Lock(context.Context) error {
	return &transform.StoreError{Op: "lock", Key: "k", Err: context.DeadlineExceeded}
}

// An instance that could not take the lock reads the storage once more
// before downloading alone: the holder stored its download meanwhile, and
// the cluster still downloads once.
func TestCertificatesLockWaitRanOut(t *testing.T) {
	cs := &certServer{serving: []platform{newPlatform(t)}, now: time.Now}
	first, second := clusterOfTwo(t, cs)
	if err := first.Certificates().Refresh(t.Context(), true); err != nil {
		t.Fatalf("download: %v", err)
	}
	second.Certificates().Store = lockHeldElsewhere{second.Certificates().Store}
	if err := second.Certificates().Refresh(t.Context(), true); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if n := cs.downloads.Load(); n != 1 || len(second.Certificates().Serials()) != 1 {
		t.Fatalf("%d downloads, want 1 (the stored one read once more)", n)
	}
}

// A certificate serial names a number: WeChat and wechatpay-go write it two
// hex digits a byte (0A2B3C4D5E6F), other SDKs drop the leading zero
// (Java's BigInteger.toString(16): A2B3C4D5E6F) or write lowercase. Each
// spelling, in Wechatpay-Serial or in a download's serial_no, selects the
// certificate, static or downloaded; another number selects nothing.
func TestCertificateSerialSpellings(t *testing.T) {
	key := must(rsa.GenerateKey(rand.Reader, 2048))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x0A2B3C4D5E6F),
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	cert := must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))))
	p := platform{key, cert}
	if got := CertificateSerial(cert); got != "0A2B3C4D5E6F" {
		t.Fatalf("CertificateSerial %s", got)
	}
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	answer := func(serial string) (http.Header, []byte) {
		body := `{"x":1}`
		h := p.signed(t, now, body)
		h.Set(HeaderSerial, serial)
		return h, []byte(body)
	}
	static := merchantConfig(t)
	static.PublicKey, static.PublicKeyID, static.PlatformCertificate = "", "", pemText("CERTIFICATE", cert.Raw)
	staticRing := must(NewClient(static)).Keyring()
	if got := staticRing.Serials(); len(got) != 1 || got[0] != "0A2B3C4D5E6F" {
		t.Fatalf("the static keyring lists %v", got)
	}
	tests := []struct {
		name     string
		serial   string // in Wechatpay-Serial, and in the download's serial_no
		verifies bool
	}{
		{"two digits a byte", "0A2B3C4D5E6F", true},
		{"leading zero dropped", "A2B3C4D5E6F", true},
		{"lowercase", "a2b3c4d5e6f", true},
		{"another number", "A2B3C4D5E6F0", false},
		{"another number, one digit more", "1A2B3C4D5E6F", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := error(nil)
			if !tt.verifies {
				want = ErrUnknownSerial
			}
			h, body := answer(tt.serial)
			if err := Verify(staticRing, h, body, now); err != want {
				t.Errorf("static certificate: %v, want %v", err, want)
			}
			cs := &certServer{serving: []platform{p}, now: func() time.Time { return now },
				decorate: func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"serial_no":"0A2B3C4D5E6F"`), []byte(`"serial_no":"`+tt.serial+`"`), 1)
				}}
			srv := httptest.NewServer(cs)
			defer srv.Close()
			dl := merchantConfig(t)
			dl.PublicKey, dl.PublicKeyID, dl.CertificatesURL = "", "", srv.URL+PathCertificates
			c := must(NewClient(dl))
			c.Now = func() time.Time { return now }
			if err := Verify(c.Keyring(), h, body, now); err != want {
				t.Errorf("downloaded certificate: %v, want %v", err, want)
			}
			// A download naming another number than its certificate's is not used.
			if got := c.Certificates().Serials(); tt.verifies && (len(got) != 1 || got[0] != "0A2B3C4D5E6F") || !tt.verifies && len(got) != 0 {
				t.Errorf("downloaded serials %v", got)
			}
		})
	}
}

// A download that was tried and failed tells OnFailure why (a check, never
// a value of the answer, never the key): an answer that cannot be verified
// for want of its certificate otherwise reads like a forged one. One the
// rate limit skips is not reported.
func TestCertificatesFailureReasons(t *testing.T) {
	a, forger := newPlatform(t), newPlatform(t)
	serveWith := func(mutate func(*certServer)) http.Handler {
		cs := &certServer{serving: []platform{a}, now: time.Now}
		if mutate != nil {
			mutate(cs)
		}
		return cs
	}
	tests := []struct {
		name    string
		handler http.Handler
		apiV3   string // the configured api_v3_key; "" is the one the server encrypts with
		want    string
	}{
		{"HTTP 401", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }), "",
			"certificates_url answered HTTP 401"},
		// A merchant onboarded with the public key only (docs/providers/wechat_v3.md
		// Errors: 404 RESOURCE_NOT_EXISTS "无可用的平台证书…申请使用微信支付公钥").
		{"no platform certificate", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":"RESOURCE_NOT_EXISTS","message":"无可用的平台证书…申请使用微信支付公钥"}`))
		}), "", "certificates_url answered HTTP 404 RESOURCE_NOT_EXISTS: WeChat holds no platform certificate for this merchant; " +
			"configure public_key and public_key_id (the WeChat Pay public key) instead"},
		{"HTTP 404 of another code", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":"NOT_FOUND","message":"x"}`))
		}), "", "certificates_url answered HTTP 404"},
		{"not a list", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"data":[]}`)) }), "",
			"the answer is no list of 1 to 32 certificates"},
		// Members by their exact names, once (as a strict reader reads the
		// signed answer): DATA is not data, and data twice is no list.
		{"data in capitals", serveWith(func(cs *certServer) {
			cs.decorate = func(b []byte) []byte { return bytes.Replace(b, []byte(`"data"`), []byte(`"DATA"`), 1) }
		}), "", "the answer is no list of 1 to 32 certificates"},
		{"data twice", serveWith(func(cs *certServer) {
			cs.decorate = func(b []byte) []byte { return append([]byte(`{"data":[],`), b[1:]...) }
		}), "", "the answer is no list of 1 to 32 certificates"},
		// Text that is not UTF-8, even in a member not read, as a strict
		// reader refuses it.
		{"not UTF-8", serveWith(func(cs *certServer) {
			cs.decorate = func(b []byte) []byte { return append([]byte("{\"note\":\"caf\xe9\","), b[1:]...) }
		}), "", "the answer is no list of 1 to 32 certificates"},
		{"HTTP 404, Code in another case", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"Code":"RESOURCE_NOT_EXISTS","message":"x"}`))
		}), "", "certificates_url answered HTTP 404"},
		{"HTTP 404, code twice", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":"NOT_FOUND","code":"RESOURCE_NOT_EXISTS","message":"x"}`))
		}), "", "certificates_url answered HTTP 404"},
		{"another api_v3_key", serveWith(nil), "another-apiv3-key-0123456789abcd",
			"a certificate does not decrypt with api_v3_key"},
		{"signed by a key it does not hold", serveWith(func(cs *certServer) {
			cs.serving = []platform{forger}
			cs.serving[0].cert = a.cert
		}), "", "the answer's signature does not verify"},
		// A redirect is the answer, as every call minipay makes reads it:
		// not followed, even to a page serving good certificates.
		{"a redirect", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.RawQuery == "" {
				http.Redirect(w, r, PathCertificates+"?moved=1", http.StatusFound)
				return
			}
			serveWith(nil).ServeHTTP(w, r)
		}), "", "certificates_url answered HTTP 302"},
		{"past 1 MiB", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(bytes.Repeat([]byte(" "), maxCertificatesAnswer+1))
		}), "", "the answer is larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			cfg := merchantConfig(t)
			cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+PathCertificates
			if tt.apiV3 != "" {
				cfg.APIv3Key = tt.apiV3
			}
			c := must(NewClient(cfg))
			var reported []error
			c.ReportFailures(func(err error) { reported = append(reported, err) })
			body := `{"x":1}`
			for range 2 { // the second is inside the rate limit: not tried, not reported
				if err := Verify(c.Keyring(), a.signed(t, time.Now(), body), []byte(body), time.Now()); err == nil {
					t.Fatal("verified without certificates")
				}
			}
			if len(reported) != 1 || !errors.Is(reported[0], ErrNoCertificates) || !strings.HasSuffix(reported[0].Error(), tt.want) {
				t.Fatalf("reported %v, want one error ending %q", reported, tt.want)
			}
			if strings.Contains(reported[0].Error(), cfg.APIv3Key) || strings.Contains(reported[0].Error(), srv.URL) {
				t.Fatalf("the reason holds a value: %v", reported[0])
			}
		})
	}
}

// certificates_url is any absolute URL of GET /v3/certificates: the
// download's Authorization signs its path and query exactly as sent (a
// query such as algorithm_type=RSA, a path behind a proxy's prefix), and
// WeChat, checking it with the merchant's public key, lets it through. It
// carries Accept: application/json and a User-Agent, which WeChat refuses
// a request without (docs/providers/wechat_v3.md Request signature), as
// every other call does.
func TestCertificatesDownloadSignsTheURLAsSent(t *testing.T) {
	a := newPlatform(t)
	merchant := &must(ParsePrivateKey(exampleKey(t, "apiclient_key.pem"))).PublicKey
	now := time.Now()
	cs := &certServer{serving: []platform{a}, now: func() time.Time { return now }}
	var target atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target.Store(r.RequestURI)
		auth, ok := ParseAuthorization(r.Header.Get("Authorization"))
		if !ok || auth.MchID != "1900000109" || auth.SerialNo != exampleSerial ||
			!VerifyMessage(merchant, AppendAuthMessage(nil, r.Method, r.RequestURI, auth.Timestamp, auth.NonceStr, nil), auth.Signature) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Header.Get("Accept") != "application/json" || r.Header.Get("User-Agent") != UserAgent || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.URL.Path = PathCertificates // what certServer serves, wherever it is mounted
		cs.ServeHTTP(w, r)
	}))
	defer srv.Close()
	for _, path := range []string{"/v3/certificates", "/v3/certificates?algorithm_type=RSA", "/wechatpay/v3/certificates?algorithm_type=RSA&x=%2A"} {
		t.Run(path, func(t *testing.T) {
			cfg := merchantConfig(t)
			cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+path
			c := must(NewClient(cfg))
			body := `{"x":1}`
			if err := Verify(c.Keyring(), a.signed(t, now, body), []byte(body), now); err != nil {
				t.Fatalf("an answer under the downloaded certificate: %v (the download went to %v)", err, target.Load())
			}
			if target.Load() != path {
				t.Fatalf("the download asked for %v, want %s", target.Load(), path)
			}
		})
	}
}

// certificateValidFor is a platform certificate for key valid from nb to na.
func certificateValidFor(t *testing.T, key *rsa.PrivateKey, serial int64, nb, na time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature}
	return must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))))
}

// A platform certificate verifies only within its validity: an expired one
// (a static platform_certificate nobody replaced, an old one a download
// still lists) or one not valid yet selects no key, whether configured or
// downloaded, while the valid ones beside it keep verifying.
func TestCertificateValidity(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	key := must(rsa.GenerateKey(rand.Reader, 2048))
	valid := platform{key, certificateValidFor(t, key, 0x7001, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))}
	expired := platform{key, certificateValidFor(t, key, 0x7002, now.AddDate(-2, 0, 0), now.Add(-time.Second))}
	future := platform{key, certificateValidFor(t, key, 0x7003, now.Add(time.Minute), now.AddDate(1, 0, 0))}
	pemOf := func(ps ...platform) string {
		var b strings.Builder
		for _, p := range ps {
			b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw}))
		}
		return b.String()
	}
	cs := &certServer{serving: []platform{valid, expired, future}, now: func() time.Time { return now }}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	static := merchantConfig(t)
	static.PublicKey, static.PublicKeyID, static.PlatformCertificate = "", "", pemOf(valid, expired, future)
	downloaded := merchantConfig(t)
	downloaded.PublicKey, downloaded.PublicKeyID, downloaded.CertificatesURL = "", "", srv.URL+PathCertificates
	for name, cfg := range map[string]Config{"static": static, "downloaded": downloaded} {
		c := must(NewClient(cfg))
		c.Now = func() time.Time { return now }
		for _, tt := range []struct {
			signer platform
			want   error
		}{{valid, nil}, {expired, ErrUnknownSerial}, {future, ErrUnknownSerial}} {
			t.Run(name+"/"+tt.signer.serial(), func(t *testing.T) {
				body := `{"x":1}`
				if err := Verify(c.Keyring(), tt.signer.signed(t, now, body), []byte(body), now); err != tt.want {
					t.Fatalf("an answer under %s: %v, want %v", tt.signer.serial(), err, tt.want)
				}
			})
		}
	}
}

// caddy minipay verify --at judges a notification as of its time of
// receipt (SetClock); in certificate mode its key is downloaded now, so the
// download is signed and checked with the real clock: judged at the time
// received, an hour earlier, WeChat would refuse the request and this side
// the answer, and the notification named "no known key" (README "caddy
// minipay verify").
func TestWebhookSetClockDownloadsWithTheRealClock(t *testing.T) {
	a := newPlatform(t)
	cs := &certServer{serving: []platform{a}, now: time.Now, window: true}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	cfg := merchantConfig(t)
	cfg.PublicKey, cfg.PublicKeyID, cfg.CertificatesURL = "", "", srv.URL+PathCertificates
	w := must(NewWebhook(cfg))
	received := time.Now().Add(-time.Hour)
	w.SetClock(func() time.Time { return received })
	body := `{"x":1}`
	if err := Verify(w.Keyring(), a.signed(t, received, body), []byte(body), w.Now()); err != nil || cs.downloads.Load() != 1 {
		t.Fatalf("signed when received, judged as of then: %v, %d downloads", err, cs.downloads.Load())
	}
	// The window is still the time received's.
	if err := Verify(w.Keyring(), a.signed(t, time.Now(), body), []byte(body), w.Now()); !errors.Is(err, ErrSkew) {
		t.Fatalf("signed now, judged as of an hour ago: %v, want the window's refusal", err)
	}
}

// A stored download that does not read as one (corrupt, cut short, of an
// earlier version's form with the body as a JSON string, or of another
// shape) is never trusted nor a crash: the instance downloads, verifies,
// and replaces it with its own download.
func TestCertificatesStoredValuesThatDoNotRead(t *testing.T) {
	a := newPlatform(t)
	cs := &certServer{serving: []platform{a}, now: time.Now}
	cfg := certificateModeConfig(t, cs)
	body := `{"x":1}`
	now := time.Now().UTC().Format(time.RFC3339Nano)
	// A stored download that reads (another instance's, read back here
	// without a second download), to be spoilt by a member's name.
	good := func() string {
		store := transformtest.NewMemStore()
		first, second := must(NewClient(cfg)), must(NewClient(cfg))
		first.ShareState(store)
		second.ShareState(store)
		before := cs.downloads.Load()
		if first.Certificates().Refresh(t.Context(), true) != nil || second.Certificates().Refresh(t.Context(), true) != nil ||
			cs.downloads.Load()-before != 1 {
			t.Fatal("the stored download does not read")
		}
		return string(must(store.Load(t.Context(), CertificatesKey(cfg.MchID))))
	}()
	for i, stored := range []string{
		``,
		`null`,
		`[]`,
		`"a string"`,
		`{"fetched":"` + now + `","header":{},"body":`, // cut short
		`{"fetched":"` + now + `","header":null,"body":null}`,
		`{"fetched":"` + now + `","header":{"Wechatpay-Serial":["X"]},"body":"{\"data\":[]}"}`,    // an earlier version's string body
		`{"fetched":"` + now + `","header":{},"body":"eyJkYXRhIjpbXX0="}`,                         // {"data":[]}, unsigned
		`{"fetched":"` + now + `","header":{},"body":"eyJkYXRhIjpbeyJzZXJpYWxfbm8iOiIxIn1dfQ=="}`, // a certificate without encrypt_certificate
		`{"fetched":"not a time","header":{},"body":""}`,
		`{"fetched":12,"header":"x","body":7}`,
		// A stored download is read as the answer is: exact names, once.
		strings.Replace(good, `"body":`, `"Body":`, 1),
		strings.Replace(good, `{"fetched":`, `{"body":"e30=","fetched":`, 1),
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			store := transformtest.NewMemStore()
			_ = store.Store(t.Context(), CertificatesKey(cfg.MchID), []byte(stored))
			c := must(NewClient(cfg))
			c.ShareState(store)
			before := cs.downloads.Load()
			if err := Verify(c.Keyring(), a.signed(t, time.Now(), body), []byte(body), time.Now()); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if n := cs.downloads.Load() - before; n != 1 {
				t.Fatalf("%d downloads, want 1", n)
			}
			var sd storedDownload
			if err := json.Unmarshal(must(store.Load(t.Context(), CertificatesKey(cfg.MchID))), &sd); err != nil || !bytes.Contains(sd.Body, []byte(`"encrypt_certificate"`)) {
				t.Fatalf("the stored value was not replaced: %v %q", err, sd.Body)
			}
		})
	}
}

// TestCertificatesDownloadKnownAnswer: a GET /v3/certificates answer built
// outside Go from docs/providers/wechat_v3.md's rules and keys (Python
// cryptography): the test platform certificate (testdata, serial
// D7CE59D1F522D701) encrypted with AESGCM(vector 8's APIv3 key
// a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2), nonce ZqR3wX9pLm2K, associated data
// "certificate"; the answer signed with the test key at 1795917606, nonce
// 5K8264ILTKCH16CQ2502SI8ZNMTM67VS, the message TIMESTAMP\nNONCE\nBODY\n.
// The download decrypts it and checks its signature with the certificate it
// carries; the same answer under another APIv3 key, or one byte changed, is
// refused. The other certificate tests build their answers with this
// package's own EncryptResource and SignMessage.
func TestCertificatesDownloadKnownAnswer(t *testing.T) {
	const (
		ciphertext = "FpMY/bGkYbQ8UeBx3ABVP7goFS3WTH7YBYQQJTVcqgDGBSYl4Kg01wT+EUMJ8YDmalr3SfFL03WsjqqNbEM9807GyEXKAPyNv1L4PCvI19VCTECEVn6Nng9Y37nAhLCE6M8RyMt/AbIVNiwjL0yPPFpla6ufBCKrPop9Ug/1J8fX+Rww0oOk4HGfrPfY64ulPegpunaw8SteD5BniOy6i+bvt8840tgY/8AvH8+dy2FGcbKd4hVspWFn+2j+TwYAkxOjgR0lb9oLOaEiPRxSA+CzX7rp1bghtpiRTrkF/JY4EdJWEfL8+eDP9S2GqFMBKVhTIb0KwsW8n3wETLXK6gL9XvtyxHTquHLfqnMvhiS2TCMVqOzvLfFoc42sYQX0XYElN87KKqEUDHiucw4oQbvUPlFpNaEMaBFVxORH7xIB3lFHnkcKb3h1URFA3PhvLYIFPkK9i4ucFkxmpNFPnVvQ+izBfSbf3OR8tBM8r4ZREwvuu2gfndkymlA5g5nE5XVIGPtp54BztSz7yKebaenumYX1lo8VG54zmKd+WbT/f1S24iphfgb7Ycl1WfLcV8h8z5Ch4EYuDcfUheMKWn1mhevQKLesPzS8DjKJLAR8WmPeZUnJGJUZgZhgIoD3CLITvyrusjSchZwGkh8UHZ6C7XvVRUwObHw1kpz1FwEjPXLMaNEv55rg22MpzgIhKqWC+1jyeeMjKYbwKk3CqI1rKbZM94aGnwBMfJb5vkbR4wqDEc/oPcmeUO2CvtIAQWn9Rfiak54Ies7Y0GDBe0kCyC/F/mvYgp3uO+HKNbuhg04x/N+WO9BfUKK5IACd7JX2kh3LqoTWcffrEsqITdaN+NSYm9WbhidMmbfCzlprYJZWd861piwOfAe5w2bqZeRLWhcO6UVYbCFwbqP9L+SadiNCMart/Nb1DJbzF6nfYw1S3B7VuU+V3mOFPd0LL6Kd57wnuN1TlIByGuZU4R/sM6X0psGNBm2FrJ7Fx8L5ehlNtVw5Gw8SlRM1m3S6iP9Zlj81Usgr3+UglrDIjYIHVd+yDAGqpZoysZWDaJy1O4BNz5MgM6yfVCylLPwg3H5Hz5n72Hp83U4DI4pvT/HOs8lOf8zNaLN0HkWN2cwmXywdF8reN9Vw3YFiMEOghhSsH3MWStw3zkMIEOe9AiPRLu3V2/4EhP2u1ehhkEW236+ZChA7o5ffP7MMxQl74iCLfAfD5d1MtIBFKrObTcWUUPijFlHBkLa5Dvyu7F0jNIt212SamZxOpUS2xuMhYztSXz4ogIpvDUDrL/+1hNDgcY9C2W1vs3U6+Ko/y7ArJGMf6GRw1rz/XgRlQ8VAZWE/IVrYWuYO8rcVt+MORtw+13LCBESxwRLcdmizJzTVdfLyEX8RD7DawJQwY3CGk69wM3RGz9rWs4pUbXMh+j2I+WO6Xbl0hiE/MNLGlt7VmnSfFrBT0zYg9DetR4gIY3Lxo0xqpatNNHALhcxebNEiv1ACPd7/HknA5lfKFM1pfm+1Z05Ydw0+vS2qPGSn9iJoJzOZKKRACwDygWM5QEgbRaY1hz4iTDsWjF5H8oqBz6rozgGxdydfCxCicWw1a6qfB1mdbuA/Fw9/wbmSTBlNuK2Zijxx8cTj9HxwGA3u6EQn"
		signature  = "as0Q1JWcvpnuzt2rpKkBefNeDGJfQnMeafJAvZAe7/7s6anJFcLSSF3F1fDqhw/WEL/tzdgim+Nqy/GFkN/5kRPnkv0XknVjxfegw3Oe62hoIK6SH1Y6aMaPd/0wwBYBcYpKX2WJBk6EGJpzPwTCVWCAYDuQN92zZGCYS3bbFVHEdZIhW7HdsAx/oyqjUcMj7DboEDfL7ftc2JPgzdX865Rme3sfOtRQnA5XPqvWTjBavDSNju+N0erESkK/s6eHfHCVJBR4chuelOFaYo33KpPBH/a3qBdl0WqytKVb6Pto34GeChk98THEzWEm5XtidfvV0K08HdFOS1ejnQPWQQ=="
		body       = `{"data":[{"serial_no":"D7CE59D1F522D701","effective_time":"2021-04-27T16:55:23+08:00","expire_time":"2031-04-25T16:55:23+08:00",` +
			`"encrypt_certificate":{"algorithm":"AEAD_AES_256_GCM","associated_data":"certificate","ciphertext":"` + ciphertext + `","nonce":"ZqR3wX9pLm2K"}}]}`
	)
	now := time.Unix(1795917606, 0)
	pub, err := ParsePublicKey(readFixture(t, "wechat_v3-test-public-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, apiV3Key, body string
		ok                   bool
	}{
		{"as built", "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2", body, true},
		{"another APIv3 key", "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW3", body, false},
		{"expire_time changed after signing", "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2", strings.Replace(body, "2031-04-25", "2031-04-26", 1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(HeaderSerial, "D7CE59D1F522D701")
				w.Header().Set(HeaderTimestamp, "1795917606")
				w.Header().Set(HeaderNonce, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
				w.Header().Set(HeaderSignature, signature)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c, err := NewCertificates(srv.URL+"/v3/certificates", testKey(t), []byte(tt.apiV3Key))
			if err != nil {
				t.Fatal(err)
			}
			c.Now = func() time.Time { return now }
			err = c.Refresh(context.Background(), true)
			got, found := c.PublicKey("D7CE59D1F522D701")
			if !tt.ok {
				if err == nil || found {
					t.Fatalf("refused answer: Refresh = %v, key found %v", err, found)
				}
				return
			}
			if err != nil || !found || !got.Equal(pub) {
				t.Fatalf("Refresh = %v; key found %v, the test public key %v", err, found, found && got.Equal(pub))
			}
			if serials := c.Serials(); len(serials) != 1 || serialKey(serials[0]) != serialKey("D7CE59D1F522D701") {
				t.Fatalf("serials %v", serials)
			}
		})
	}
}

// A serial this instance holds whose certificate is not valid now (expired,
// or not valid yet) is refused without taking the once-a-minute slot of
// unknown serials: serials are public, and forged notifications naming an
// expired one each minute would otherwise keep WeChat's next certificate
// (a rotation) from being downloaded. Alone and in a cluster (where the
// stored download already holds the serial, so the slot went without a
// download), the new certificate then verifies within the same minute.
func TestCertificatesExpiredKnownSerialKeepsTheSlot(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	key := must(rsa.GenerateKey(rand.Reader, 2048))
	valid := platform{key, certificateValidFor(t, key, 0x7101, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))}
	expired := platform{key, certificateValidFor(t, key, 0x7102, now.AddDate(-2, 0, 0), now.Add(-time.Second))}
	future := platform{key, certificateValidFor(t, key, 0x7103, now.Add(time.Hour), now.AddDate(1, 0, 0))}
	rotated := platform{key, certificateValidFor(t, key, 0x7104, now.Add(-time.Hour), now.AddDate(5, 0, 0))}
	for _, shared := range []bool{false, true} {
		for _, unusable := range []platform{expired, future} {
			t.Run(strconv.FormatBool(shared)+"/"+unusable.serial(), func(t *testing.T) {
				clock := func() time.Time { return now }
				cs := &certServer{serving: []platform{valid, unusable}, now: clock}
				w := must(NewWebhook(certificateModeConfig(t, cs)))
				w.Now = clock
				if shared {
					w.ShareState(transformtest.NewMemStore())
				}
				body := `{"x":1}`
				verify := func(p platform) error { return Verify(w.Keyring(), p.signed(t, now, body), []byte(body), now) }
				if err := verify(valid); err != nil || cs.downloads.Load() != 1 {
					t.Fatalf("first notification: %v, %d downloads", err, cs.downloads.Load())
				}
				for i := 0; i < 3; i++ {
					if err := verify(unusable); err != ErrUnknownSerial || cs.downloads.Load() != 1 {
						t.Fatalf("a known serial not valid now: %v, %d downloads, want %v and 1", err, cs.downloads.Load(), ErrUnknownSerial)
					}
				}
				cs.mu.Lock()
				cs.serving = []platform{valid, unusable, rotated}
				cs.mu.Unlock()
				if err := verify(rotated); err != nil || cs.downloads.Load() != 2 {
					t.Fatalf("the new certificate within the minute: %v, %d downloads", err, cs.downloads.Load())
				}
			})
		}
	}
}
