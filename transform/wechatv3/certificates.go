package wechatv3

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Refresh policy of downloaded platform certificates.
const (
	// CertificatesRefreshEvery is how old a download may grow before a
	// background refresh: WeChat publishes a new certificate about ten days
	// before it signs with it, so twice a day is plenty.
	CertificatesRefreshEvery = 12 * time.Hour
	// CertificatesMinInterval rate-limits the downloads an unknown serial
	// triggers, so that forged serials cannot make the plugin hammer WeChat.
	CertificatesMinInterval = time.Minute
	// maxCertificatesAnswer bounds the download.
	maxCertificatesAnswer = 1 << 20
)

// ErrNoCertificates is a download that failed or yielded nothing usable;
// a download's error wraps it with the reason.
var ErrNoCertificates = errors.New("wechat_v3: the platform certificates could not be downloaded")

// noCertificates is ErrNoCertificates with why, which names a check, never
// a value of the answer.
func noCertificates(why string) error { return fmt.Errorf("%w: %s", ErrNoCertificates, why) }

// CertificateStore shares the downloaded certificates between the instances
// of a cluster (Caddy's storage in the plugin), so that one of them
// downloads per refresh. It stores WeChat's answer as received: the
// certificates in it are encrypted with api_v3_key, so a reader
// authenticates them by decrypting, and nothing secret is stored.
type CertificateStore interface {
	// Lock and Unlock bracket a check-then-download across the cluster.
	Lock(ctx context.Context) error
	Unlock(ctx context.Context) error
	// Load returns what Store saved last; any error means nothing usable.
	Load(ctx context.Context) ([]byte, error)
	// Store saves a download, WeChat's answer as received.
	Store(ctx context.Context, value []byte) error
}

// CertificatesKey is where a cluster keeps one merchant's download in its
// shared storage (README, "Clusters").
func CertificatesKey(mchID string) string {
	return "minipay/wechat_v3/" + mchID + "/certificates"
}

// certificatesLockWait bounds the wait for another instance's download
// (itself bounded by the download client's 10 s). It outlasts the 10 s after
// which file_system takes a dead holder's lock for stale, so that one waiter
// takes the lock over and downloads and the others read its download, as
// the CBTIS token's wait does; a wait of 10 s made every waiter download alone.
const certificatesLockWait = 15 * time.Second

// sharedCertificates is a CertificateStore at one key of a cluster's
// transform.Store; the lock has the key's name.
type sharedCertificates struct {
	store transform.Store
	key   string
}

func (s sharedCertificates) Lock(ctx context.Context) error {
	return transform.LockWithin(ctx, s.store, s.key, certificatesLockWait)
}

func (s sharedCertificates) Unlock(ctx context.Context) error {
	transform.Unlock(ctx, s.store, s.key)
	return nil
}

func (s sharedCertificates) Load(ctx context.Context) ([]byte, error) {
	return s.store.Load(ctx, s.key)
}

func (s sharedCertificates) Store(ctx context.Context, v []byte) error {
	return s.store.Store(ctx, s.key, v)
}

// share makes the downloads of mchID go through the cluster's store: one
// download per refresh per cluster, each instance still verifying what it
// reads (readStored) before trusting it.
func (k *Keyring) share(s transform.Store, mchID string) {
	if k != nil && k.downloaded != nil {
		k.downloaded.Store = sharedCertificates{store: s, key: CertificatesKey(mchID)}
	}
}

// reportFailures has f hear why a download failed (Certificates.OnFailure),
// in certificate mode.
func (k *Keyring) reportFailures(f func(error)) {
	if k != nil && k.downloaded != nil {
		k.downloaded.OnFailure = f
	}
}

// Certificates downloads WeChat's platform certificates from GET
// /v3/certificates (a signed request), decrypts them with the APIv3 key and
// verifies the download's own signature before using them. Several serials
// are valid at once during a rotation.
type Certificates struct {
	url      string
	signer   *Signer
	apiV3Key []byte
	// others are the merchant's other keys, which may also sign the download.
	others KeySource

	// Client sends the download; Now is the clock; both are set by
	// NewCertificates and replaceable by tests before first use.
	Client       *http.Client
	Now          func() time.Time
	RefreshEvery time.Duration // CertificatesRefreshEvery unless a test changes it
	MinInterval  time.Duration // CertificatesMinInterval unless a test changes it
	// Store, when set, shares downloads across a cluster.
	Store CertificateStore
	// OnFailure, when set, hears why a download that was tried failed
	// (not one the rate limit skipped), in the background too: nothing
	// else says it, as an answer that cannot be verified for want of its
	// certificate reads like a forged one. Set it before first use.
	OnFailure func(error)

	set        atomic.Pointer[certificateSet]
	mu         sync.Mutex // one download at a time
	lastTry    time.Time  // guarded by mu
	refreshing atomic.Bool
}

type certificateSet struct {
	certs   map[string]*x509.Certificate // by serialKey
	fetched time.Time
}

// NewCertificates prepares a downloader; nothing is fetched until a key is
// first needed.
func NewCertificates(rawURL string, signer *Signer, apiV3Key []byte) (*Certificates, error) {
	if _, ok := transform.AbsoluteURL(rawURL); !ok {
		return nil, errors.New(certificatesURLAbsolute)
	}
	return &Certificates{
		url: rawURL, signer: signer, apiV3Key: apiV3Key,
		// A redirect is the answer, a failed download: the signed request
		// is not sent on elsewhere (nor is any call minipay makes). No
		// Transport: http.DefaultTransport's pool, which the downloaders
		// of every configuration share, so a reload leaves no idle
		// connection of the old one's (nor may its Cleanup close them).
		Client:       &http.Client{Timeout: 10 * time.Second, CheckRedirect: transform.NoRedirect},
		Now:          time.Now,
		RefreshEvery: CertificatesRefreshEvery, MinInterval: CertificatesMinInterval,
	}, nil
}

// PublicKey implements KeySource: a known, currently valid certificate's key;
// an unknown serial triggers a download (at most one per MinInterval), a
// download older than RefreshEvery a refresh in the background. A known
// serial whose certificate is not valid now (expired, or not yet valid) is
// refused without a download and without taking the MinInterval slot: a
// serial names one certificate, which a download would bring back with the
// same validity, and as serials are public, forged notifications naming an
// expired one each minute would otherwise keep a rotation's new
// certificate from being fetched.
func (c *Certificates) PublicKey(serial string) (*rsa.PublicKey, bool) {
	serial = serialKey(serial)
	now := c.Now()
	if s := c.set.Load(); s != nil {
		if cert, ok := s.certs[serial]; ok {
			if !validAt(cert, now) {
				return nil, false
			}
			if now.Sub(s.fetched) >= c.RefreshEvery {
				c.refreshInBackground()
			}
			return cert.PublicKey.(*rsa.PublicKey), true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.refresh(ctx, false, serial); err != nil {
		return nil, false
	}
	if s := c.set.Load(); s != nil {
		if cert, ok := s.certs[serial]; ok && validAt(cert, now) {
			return cert.PublicKey.(*rsa.PublicKey), true
		}
	}
	return nil, false
}

// Serials lists the serials of the certificates held now, sorted.
func (c *Certificates) Serials() []string {
	s := c.set.Load()
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.certs))
	for _, cert := range s.certs {
		out = append(out, CertificateSerial(cert))
	}
	sort.Strings(out)
	return out
}

// Certificates returns the certificates held now.
func (c *Certificates) Certificates() []*x509.Certificate {
	s := c.set.Load()
	if s == nil {
		return nil
	}
	out := make([]*x509.Certificate, 0, len(s.certs))
	for _, serial := range c.Serials() {
		out = append(out, s.certs[serialKey(serial)])
	}
	return out
}

func (c *Certificates) refreshInBackground() {
	if !c.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Refresh(ctx, true)
	}()
}

// Refresh downloads the certificates unless one did within MinInterval
// (force skips that limit for the 12-hourly refresh, though never two at
// once). The first download that succeeds, made when nothing was held,
// does not start that interval: a certificate WeChat publishes just after
// a start is fetched at once when an answer names it (a rotation), and
// only the refreshes unknown serials trigger after that are limited. With
// a Store, a download another instance stored that is newer than this
// instance's and not yet due for a refresh is used instead.
func (c *Certificates) Refresh(ctx context.Context, force bool) error {
	return c.refresh(ctx, force, "")
}

// refresh is Refresh for the certificate of serial (a serialKey), or for
// none ("").
func (c *Certificates) refresh(ctx context.Context, force bool, serial string) error {
	before := c.set.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if after := c.set.Load(); after != before && after != nil {
		return nil // another caller downloaded while this one waited
	}
	now := c.Now()
	if !force && !c.lastTry.IsZero() && now.Sub(c.lastTry) < c.MinInterval {
		return ErrNoCertificates
	}
	c.lastTry = now
	err := c.refreshLocked(ctx, now, before, serial)
	if err == nil && before == nil {
		c.lastTry = time.Time{}
	}
	if err != nil && c.OnFailure != nil {
		c.OnFailure(err)
	}
	return err
}

// refreshLocked is Refresh's work once the rate limit allowed it; c.mu is
// held.
func (c *Certificates) refreshLocked(ctx context.Context, now time.Time, before *certificateSet, serial string) error {
	if c.Store == nil {
		return c.download(ctx, now)
	}
	// Without the lock (the storage is down, or another instance held it
	// for the whole wait, or released it just after a storage that polls
	// for locks last looked) the stored download is still read once: the
	// holder may have stored it meanwhile. Failing that, this instance
	// downloads alone rather than go without keys.
	if err := c.Store.Lock(ctx); err == nil {
		defer func() { _ = c.Store.Unlock(context.WithoutCancel(ctx)) }()
	}
	// The clock is read again: the instance that held the lock stored a
	// download made after this one started waiting for it.
	now = c.Now()
	if stored, err := c.Store.Load(ctx); err == nil {
		if s, err := c.readStored(stored, now); err == nil && now.Sub(s.fetched) < c.RefreshEvery && s.replaces(before, serial) {
			c.set.Store(s)
			return nil
		}
	}
	return c.download(ctx, now)
}

// replaces tells whether a stored download that is not due for a refresh
// is used instead of downloading: for a refresh an unknown serial
// triggered, when it holds that serial (another instance downloaded it:
// one download per cluster; a download older than the rotation would
// not); for any other, when it is newer than what this instance holds.
func (s *certificateSet) replaces(held *certificateSet, serial string) bool {
	if serial != "" {
		_, ok := s.certs[serial]
		return ok
	}
	return held == nil || s.fetched.After(held.fetched)
}

// storedDownload is what goes into a CertificateStore: WeChat's answer with
// the headers that sign it. Body is kept as bytes (base64 in JSON): a JSON
// string would replace bytes that are not UTF-8, and the signature covers
// the answer byte for byte.
type storedDownload struct {
	Fetched time.Time   `json:"fetched"`
	Header  http.Header `json:"header"`
	Body    []byte      `json:"body"`
}

func (c *Certificates) readStored(b []byte, now time.Time) (*certificateSet, error) {
	var sd storedDownload
	// Another instance's clock may run a little ahead of this one's; a
	// download from further in the future than WeChat's own window allows
	// is not used (it would never fall due for a refresh).
	if err := transform.UnmarshalExact(b, &sd); err != nil || sd.Fetched.After(now.Add(MaxSkew)) {
		return nil, ErrNoCertificates
	}
	// The signature's 300 s window applies to answers as they arrive; a
	// stored answer is checked at its download time.
	s, err := c.readAnswer(sd.Header, sd.Body, sd.Fetched)
	if err != nil {
		return nil, err
	}
	s.fetched = sd.Fetched
	return s, nil
}

func (c *Certificates) download(ctx context.Context, now time.Time) error {
	u, _ := url.Parse(c.url)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return noCertificates("certificates_url is no request URL")
	}
	auth, err := c.signer.Authorization(http.MethodGet, u.RequestURI(), nil, now.Unix(), transform.Nonce(32))
	if err != nil {
		return noCertificates("the request could not be signed")
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			return noCertificates("certificates_url did not answer in time")
		}
		return noCertificates("certificates_url could not be reached")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCertificatesAnswer+1))
	switch {
	case resp.StatusCode == http.StatusNotFound && err == nil && errorCodeOf(body) == "RESOURCE_NOT_EXISTS":
		// What WeChat answers a merchant onboarded with the public key only
		// ("无可用的平台证书…申请使用微信支付公钥", docs/providers/wechat_v3.md
		// Errors): no download will ever succeed, so the reason says what to do.
		return noCertificates("certificates_url answered HTTP 404 RESOURCE_NOT_EXISTS: WeChat holds no platform certificate " +
			"for this merchant; configure public_key and public_key_id (the WeChat Pay public key) instead")
	case resp.StatusCode != http.StatusOK:
		return noCertificates("certificates_url answered HTTP " + strconv.Itoa(resp.StatusCode))
	case err != nil:
		return noCertificates("the answer was cut short")
	case len(body) > maxCertificatesAnswer:
		return noCertificates("the answer is larger than 1 MiB")
	}
	s, err := c.readAnswer(resp.Header, body, c.Now())
	if err != nil {
		return err
	}
	s.fetched = now
	c.set.Store(s)
	if c.Store != nil {
		h := http.Header{}
		for _, k := range []string{HeaderSerial, HeaderSignature, HeaderTimestamp, HeaderNonce} {
			h.Set(k, resp.Header.Get(k))
		}
		b, _ := json.Marshal(storedDownload{Fetched: now, Header: h, Body: body})
		_ = c.Store.Store(ctx, b)
	}
	return nil
}

// errorCodeOf is the code of an answer in WeChat's error form
// ({"code","message"}), "" for any other body. It names a failed
// download's reason only: the answer is not verified, so nothing else is
// read from it.
func errorCodeOf(body []byte) string {
	var e errorAnswer
	if transform.UnmarshalExact(body, &e) != nil {
		return ""
	}
	return e.Code
}

type certificatesAnswer struct {
	Data []struct {
		SerialNo           string   `json:"serial_no"`
		EncryptCertificate Resource `json:"encrypt_certificate"`
	} `json:"data"`
}

// readAnswer decrypts every certificate of a download and then checks the
// download's signature with them (or with the merchant's other keys).
func (c *Certificates) readAnswer(h http.Header, body []byte, now time.Time) (*certificateSet, error) {
	var a certificatesAnswer
	if err := transform.UnmarshalExact(body, &a); err != nil || len(a.Data) == 0 || len(a.Data) > 32 {
		return nil, noCertificates("the answer is no list of 1 to 32 certificates")
	}
	s := &certificateSet{certs: make(map[string]*x509.Certificate, len(a.Data))}
	for _, d := range a.Data {
		plain, err := d.EncryptCertificate.Decrypt(c.apiV3Key)
		if err != nil {
			return nil, noCertificates("a certificate does not decrypt with api_v3_key")
		}
		certs, err := ParseCertificates(string(plain))
		if err != nil || len(certs) != 1 || serialKey(CertificateSerial(certs[0])) != serialKey(d.SerialNo) {
			return nil, noCertificates("a certificate does not parse, or is not the one its serial_no names")
		}
		s.certs[serialKey(CertificateSerial(certs[0]))] = certs[0]
	}
	keys := keySourceFunc(func(serial string) (*rsa.PublicKey, bool) {
		if cert, ok := s.certs[serialKey(serial)]; ok && validAt(cert, now) {
			return cert.PublicKey.(*rsa.PublicKey), true
		}
		if c.others != nil {
			return c.others.PublicKey(serial)
		}
		return nil, false
	})
	if err := Verify(keys, h, body, now); err != nil {
		// Verify's words are a notification's; its detail names the check.
		why := "the answer's signature does not verify"
		if detail := strings.TrimPrefix(err.Error(), transform.ErrBadSignature.Error()+": "); detail != err.Error() {
			why += " (" + detail + ")"
		}
		return nil, noCertificates(why)
	}
	return s, nil
}

type keySourceFunc func(string) (*rsa.PublicKey, bool)

func (f keySourceFunc) PublicKey(serial string) (*rsa.PublicKey, bool) { return f(serial) }

// appendCertificatesAnswer is the provider's side (the sandbox): the
// download document for certs, each encrypted with key.
func appendCertificatesAnswer(dst []byte, certs []*x509.Certificate, pemOf func(*x509.Certificate) []byte, key []byte) ([]byte, error) {
	dst = append(dst, `{"data":[`...)
	for i, cert := range certs {
		r, err := EncryptResource(key, transform.Nonce(12), "certificate", pemOf(cert))
		if err != nil {
			return nil, err
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"serial_no":`...)
		dst = transform.AppendJSONString(dst, CertificateSerial(cert))
		dst = append(dst, `,"effective_time":`...)
		dst = transform.AppendJSONString(dst, cert.NotBefore.In(transform.UTC8).Format(time.RFC3339))
		dst = append(dst, `,"expire_time":`...)
		dst = transform.AppendJSONString(dst, cert.NotAfter.In(transform.UTC8).Format(time.RFC3339))
		dst = append(dst, `,"encrypt_certificate":{"algorithm":`...)
		dst = transform.AppendJSONString(dst, r.Algorithm)
		dst = append(dst, `,"associated_data":`...)
		dst = transform.AppendJSONString(dst, r.AssociatedData)
		dst = append(dst, `,"ciphertext":`...)
		dst = transform.AppendJSONString(dst, r.Ciphertext)
		dst = append(dst, `,"nonce":`...)
		dst = transform.AppendJSONString(dst, r.Nonce)
		dst = append(dst, `}}`...)
	}
	return append(dst, `]}`...), nil
}
