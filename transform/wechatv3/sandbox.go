package wechatv3

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Sandbox emulates WeChat Pay API v3 for one merchant (and, with
// sub_mch_id, one sub-merchant of a service provider). It verifies every
// request's Authorization with the merchant's public key (derived from
// private_key), keeps orders and refunds in memory, and signs its answers
// and notifications with platform_private_key, announcing public_key_id
// when the request sent Wechatpay-Serial: <public_key_id> and its
// certificate's serial otherwise. Resources are encrypted with api_v3_key.
type Sandbox struct {
	cfg      Config
	merchant *rsa.PublicKey
	platform *rsa.PrivateKey
	cert     *x509.Certificate
	certPEM  []byte
	serial   string
	apiV3    []byte

	mu      sync.Mutex
	orders  map[string]*sandboxOrder  // by out_trade_no
	refunds map[string]*sandboxRefund // by out_refund_no
	// creation order of each map, to forget the oldest (bounded memory)
	orderRing, refundRing transform.OrderRing

	// Now is the sandbox's clock.
	Now func() time.Time
	// Notify, when set, sends a notification the sandbox produces by itself
	// (a refund's REFUND.SUCCESS) about the order orderID (its
	// out_trade_no, however the request named it); the Caddy module
	// delivers it and lists it in the console under that order.
	Notify func(orderID string, out *transform.Outbound, acknowledged func(status int, body []byte) bool)
}

type sandboxOrder struct {
	partner     bool
	req         payBody
	prepayID    string
	state       string // NOTPAY, SUCCESS, REFUND, CLOSED, PAYERROR
	txID        string
	successTime string
	refunded    int64
	lastRefund  *sandboxRefund
	created     time.Time
	// announce is the Wechatpay-Serial the order's notifications carry: the
	// key the merchant asked for when ordering.
	announce string
	// paid is the TRANSACTION.SUCCESS notification's identity, kept for
	// sending it again.
	paid notice
}

// notice is one notification's identity. WeChat retries a notification
// with the same id and create_time (docs/providers/wechat_v3.md,
// "Notifications"), so the sandbox sends a notification again with them.
type notice struct{ id, createTime string }

type sandboxRefund struct {
	order       *sandboxOrder
	id          string
	outRefundNo string
	amount      int64
	status      string
	createTime  string
	successTime string
	// notified is its REFUND.SUCCESS notification's identity, sent to
	// notifyURL under announce (the refund request's, else the order's).
	notified            notice
	notifyURL, announce string
}

// NewSandbox checks cfg, parses its keys and returns an empty Sandbox. The
// platform certificate is platform_certificate when given (it must hold
// platform_private_key's public key), else one the sandbox makes itself.
func NewSandbox(cfg Config) (*Sandbox, error) {
	k, err := cfg.parse(transform.RoleSandbox)
	if err != nil {
		return nil, err
	}
	platform, err := ParsePrivateKey(cfg.PlatformPrivateKey)
	if err != nil {
		return nil, fieldError("platform_private_key", err.Error())
	}
	s := &Sandbox{cfg: cfg, merchant: &k.signer.Key.PublicKey, platform: platform, apiV3: k.apiV3,
		orders: map[string]*sandboxOrder{}, refunds: map[string]*sandboxRefund{}, Now: time.Now}
	if len(k.certs) > 0 {
		s.cert = k.certs[0]
		if !platform.PublicKey.Equal(s.cert.PublicKey) {
			return nil, fieldError("platform_certificate", "does not hold platform_private_key's public key")
		}
	} else if s.cert, err = SandboxCertificate(platform); err != nil {
		return nil, fieldError("platform_private_key", "cannot sign a certificate")
	}
	if k.pub != nil && !platform.PublicKey.Equal(k.pub) {
		return nil, fieldError("public_key", "is not platform_private_key's public key")
	}
	s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw})
	s.serial = CertificateSerial(s.cert)
	return s, nil
}

// SandboxCertificate is the self-signed platform certificate the sandbox
// makes when none is configured: deterministic for a key (serial from the
// key's hash, fixed validity), so every start announces the same serial.
func SandboxCertificate(key *rsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	sum[0] = sum[0]&0x7f | 0x10 // positive, and 16 hex digits however printed
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(sum[:8]),
		Subject:      pkix.Name{CommonName: "caddy-minipay wechat_v3 sandbox platform certificate", Organization: []string{"caddy-minipay sandbox"}},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(raw)
}

// Serial is the platform certificate serial the sandbox announces.
func (s *Sandbox) Serial() string { return s.serial }

// Keys implements transform.KeyHolder: the identities the sandbox signs
// under (its platform certificate, and its public key id when configured).
func (s *Sandbox) Keys() []transform.KeyInfo {
	out := []transform.KeyInfo{{ID: s.serial, Kind: "platform_certificate", NotAfter: s.cert.NotAfter}}
	if s.cfg.PublicKeyID != "" {
		out = append(out, transform.KeyInfo{ID: s.cfg.PublicKeyID, Kind: "wechatpay_public_key"})
	}
	return out
}

var _ transform.KeyHolder = (*Sandbox)(nil)

// CertificatePEM is the sandbox's platform certificate.
func (s *Sandbox) CertificatePEM() []byte { return s.certPEM }

var _ transform.Sandbox = (*Sandbox)(nil)

// Handles implements transform.Sandbox: every /v3/ path.
func (s *Sandbox) Handles(path string) bool { return strings.HasPrefix(path, "/v3/") }

// SetNotify sets Notify (the Caddy module's hook for notifications the
// sandbox sends by itself). f is called with the sandbox locked: it must not
// block, nor call the sandbox.
func (s *Sandbox) SetNotify(f func(orderID string, out *transform.Outbound, acknowledged func(status int, body []byte) bool)) {
	s.Notify = f
}
