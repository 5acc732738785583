package wechatv3

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Headers WeChat signs its answers and notifications with.
const (
	HeaderSerial    = "Wechatpay-Serial"
	HeaderSignature = "Wechatpay-Signature"
	HeaderTimestamp = "Wechatpay-Timestamp"
	HeaderNonce     = "Wechatpay-Nonce"
	HeaderRequestID = "Request-Id"
	// HeaderSignatureType names the algorithm; absent or empty means RSA,
	// the only one verified here (wechatpay-go's notify.Handler reads it so).
	HeaderSignatureType = "Wechatpay-Signature-Type"
)

// signedHeaders are the headers Verify reads, each refused when given on
// more than one line (transform.ErrRepeatedHeader).
var signedHeaders = [...]string{HeaderSerial, HeaderSignature, HeaderTimestamp, HeaderNonce, HeaderSignatureType}

// MaxSkew is WeChat's window: an answer or notification whose timestamp is
// this far or farther from now is refused.
const MaxSkew = 300 * time.Second

// PublicKeyIDPrefix starts every WeChat Pay public key id.
const PublicKeyIDPrefix = "PUB_KEY_ID_"

// Verification failures: a missing header is transform.ErrUnsigned, a
// signature that does not verify transform.ErrBadSignature; the cases below
// say why and match transform.ErrBadSignature with errors.Is. None carries a
// key, a signature or a body.
var (
	ErrSkew          = windowError("Wechatpay-Timestamp is outside the 300 s window")
	ErrUnknownSerial = fmt.Errorf("%w: Wechatpay-Serial names no known key", transform.ErrBadSignature)
	ErrProbe         = fmt.Errorf("%w: a WECHATPAY/SIGNTEST probe", transform.ErrBadSignature)
	ErrSignatureType = fmt.Errorf("%w: Wechatpay-Signature-Type is not "+AuthScheme, transform.ErrBadSignature)
)

// windowError is ErrSkew: a refusal (transform.ErrBadSignature, as WeChat's
// SDKs report it) that depends on the time of receipt
// (transform.ErrOutsideWindow).
type windowError string

func (e windowError) Error() string { return transform.ErrBadSignature.Error() + ": " + string(e) }
func (e windowError) Unwrap() []error {
	return []error{transform.ErrBadSignature, transform.ErrOutsideWindow}
}

// KeySource finds the public key WeChat signed with by the Wechatpay-Serial
// value: a platform certificate serial or a public key id.
type KeySource interface {
	// PublicKey returns the key serial names, false when it names none
	// this source trusts now.
	PublicKey(serial string) (*rsa.PublicKey, bool)
}

// Keyring is every verification key a merchant configured: the WeChat Pay
// public key (by its id), static platform certificates (by serial) and the
// certificates downloaded from /v3/certificates. During a switch from
// certificates to the public key WeChat signs with both, so the key is
// chosen by serial: the public key id selects the public key, a
// PUB_KEY_ID_… value that is not ours selects nothing, any other value a
// certificate.
type Keyring struct {
	publicKeyID string
	publicKey   *rsa.PublicKey
	static      map[string]*x509.Certificate // by serialKey
	downloaded  *Certificates
	now         func() time.Time
}

// PublicKey implements KeySource.
func (k *Keyring) PublicKey(serial string) (*rsa.PublicKey, bool) {
	if serial == "" {
		return nil, false
	}
	if k.publicKey != nil && serial == k.publicKeyID {
		return k.publicKey, true
	}
	if strings.HasPrefix(serial, PublicKeyIDPrefix) {
		return nil, false
	}
	if c, ok := k.static[serialKey(serial)]; ok && validAt(c, k.now()) {
		return c.PublicKey.(*rsa.PublicKey), true
	}
	if k.downloaded != nil {
		return k.downloaded.PublicKey(serial)
	}
	return nil, false
}

// Serials lists the key ids the ring knows now, for the admin view and logs.
func (k *Keyring) Serials() []string {
	var out []string
	if k.publicKey != nil {
		out = append(out, k.publicKeyID)
	}
	for _, c := range sortedCertificates(k.static) {
		out = append(out, CertificateSerial(c))
	}
	if k.downloaded != nil {
		out = append(out, k.downloaded.Serials()...)
	}
	return out
}

func validAt(c *x509.Certificate, now time.Time) bool {
	return !now.Before(c.NotBefore) && !now.After(c.NotAfter)
}

// Verify checks the four Wechatpay-* headers of an answer or a notification
// against body, before anything in body is read: none of them (nor
// Wechatpay-Signature-Type) given twice, every header present, no
// Wechatpay-Signature-Type but RSA's, the timestamp within MaxSkew of now,
// a known key for the serial, and the RSA-SHA256 signature over
// TIMESTAMP\nNONCE\nBODY\n.
func Verify(keys KeySource, h http.Header, body []byte, now time.Time) error {
	var v [len(signedHeaders)]string
	for i, name := range signedHeaders {
		var err error
		if v[i], err = transform.SignatureHeader(h, name); err != nil {
			return err
		}
	}
	serial, sig, ts, nonce, st := v[0], v[1], v[2], v[3], v[4]
	if serial == "" || sig == "" || ts == "" || nonce == "" {
		return transform.ErrUnsigned
	}
	if st != "" && st != AuthScheme {
		return ErrSignatureType
	}
	if strings.HasPrefix(sig, "WECHATPAY/SIGNTEST/") {
		return ErrProbe
	}
	t, ok := parseTimestamp(ts)
	if !ok {
		return ErrSkew
	}
	if d := now.Unix() - t; d >= int64(MaxSkew/time.Second) || d <= -int64(MaxSkew/time.Second) {
		return ErrSkew
	}
	if len(nonce) > 64 || len(serial) > 128 {
		return transform.ErrBadSignature
	}
	pub, ok := keys.PublicKey(serial)
	if !ok {
		return ErrUnknownSerial
	}
	buf := make([]byte, 0, len(ts)+len(nonce)+len(body)+3)
	if !VerifyMessage(pub, AppendAnswerMessage(buf, ts, nonce, body), sig) {
		return transform.ErrBadSignature
	}
	return nil
}

// explainSignature records what Verify checks: the message, the received
// signature, and the key and outcome of the RSA check alone.
func explainSignature(keys KeySource, h http.Header, body []byte, x *transform.Explanation) {
	serial, sig := h.Get(HeaderSerial), h.Get(HeaderSignature)
	ts, nonce := h.Get(HeaderTimestamp), h.Get(HeaderNonce)
	x.SignType, x.Received = "SHA256-RSA2048 (Wechatpay-Signature)", sig
	x.StringToSign = string(AppendAnswerMessage(nil, ts, nonce, body))
	pub, ok := keys.PublicKey(serial)
	switch {
	case serial == "":
		x.Expected = "a signature by the key Wechatpay-Serial names (no Wechatpay-Serial header)"
	case !ok:
		x.Expected = "a signature by key " + serial + " (no such key is configured or valid)"
		if k, isRing := keys.(*Keyring); isRing {
			if c, held := k.static[serialKey(serial)]; held {
				// Configured, but not valid when the input is judged (now,
				// or caddy minipay verify --at).
				x.Expected = "a signature by key " + serial + " (its certificate is valid from " + c.NotBefore.UTC().Format(time.RFC3339) +
					" to " + c.NotAfter.UTC().Format(time.RFC3339) + ", not at " + k.now().UTC().Format(time.RFC3339) + ")"
			}
		}
	case VerifyMessage(pub, []byte(x.StringToSign), sig):
		x.Expected = "a signature by key " + serial + " (it verifies)"
	default:
		x.Expected = "a signature by key " + serial + " (it does not verify)"
	}
}

// parseTimestamp reads Unix seconds: 1 to 12 decimal digits, nothing else.
func parseTimestamp(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 12 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// keyInfos lists, for the admin view, the public identities of the keys a
// side uses: the merchant certificate's serial (signing) and every
// verification key, certificates with their expiry. Never key material.
func (k *keys) keyInfos() []transform.KeyInfo {
	var out []transform.KeyInfo
	if k.signer != nil {
		out = append(out, transform.KeyInfo{ID: k.signer.SerialNo, Kind: "merchant_certificate"})
	}
	ring := k.ring
	if ring == nil {
		return out
	}
	if ring.publicKey != nil {
		out = append(out, transform.KeyInfo{ID: ring.publicKeyID, Kind: "wechatpay_public_key"})
	}
	for _, cert := range sortedCertificates(ring.static) {
		out = append(out, transform.KeyInfo{ID: CertificateSerial(cert), Kind: "platform_certificate", NotAfter: cert.NotAfter})
	}
	if ring.downloaded != nil {
		for _, cert := range ring.downloaded.Certificates() {
			out = append(out, transform.KeyInfo{ID: CertificateSerial(cert), Kind: "platform_certificate", NotAfter: cert.NotAfter})
		}
	}
	return out
}

func sortedCertificates(m map[string]*x509.Certificate) []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return CertificateSerial(out[i]) < CertificateSerial(out[j]) })
	return out
}
