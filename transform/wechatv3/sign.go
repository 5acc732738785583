package wechatv3

import (
	"cmp"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// The signature rules are those of docs/providers/wechat_v3.md ("Request
// signature", "Answer and notification signature"): RSASSA-PKCS1-v1_5 with
// SHA-256, base64, over newline-terminated lines.

// AuthScheme is the Authorization scheme of every merchant request.
const AuthScheme = "WECHATPAY2-SHA256-RSA2048"

// ParsePrivateKey reads an RSA private key from PEM text, PKCS#8
// ("PRIVATE KEY", as WeChat's apiclient_key.pem) or PKCS#1 ("RSA PRIVATE KEY"),
// also beside the certificates of a bundle; a text holding two keys is
// refused. The error never carries key material.
func ParsePrivateKey(pemText string) (*rsa.PrivateKey, error) {
	k, _, err := privateKeyPEM.parse(pemText)
	return k, err
}

// ParsePublicKey reads an RSA public key from PEM text: "PUBLIC KEY" (PKIX,
// as WeChat's pub_key.pem) or "RSA PUBLIC KEY" (PKCS#1).
func ParsePublicKey(pemText string) (*rsa.PublicKey, error) {
	k, _, err := publicKeyPEM.parse(pemText)
	return k, err
}

// rsaKeyPEM is how one kind of RSA key is read from PEM: from a container
// that may hold any algorithm's key (PKCS#8, PKIX), or from PKCS#1.
type rsaKeyPEM[K any] struct {
	kind                     string // in errors: "private key", "public key"
	genericType, genericName string
	parseGeneric             func(der []byte) (any, error)
	pkcs1Type                string
	parsePKCS1               func(der []byte) (K, error)
	public                   func(K) *rsa.PublicKey
	skipCertificates         bool // the key may follow certificates in its file
}

var (
	privateKeyPEM = rsaKeyPEM[*rsa.PrivateKey]{kind: "private key",
		genericType: "PRIVATE KEY", genericName: "PKCS#8", parseGeneric: x509.ParsePKCS8PrivateKey,
		pkcs1Type: "RSA PRIVATE KEY", parsePKCS1: x509.ParsePKCS1PrivateKey, skipCertificates: true,
		public: func(k *rsa.PrivateKey) *rsa.PublicKey { return &k.PublicKey }}
	publicKeyPEM = rsaKeyPEM[*rsa.PublicKey]{kind: "public key",
		genericType: "PUBLIC KEY", genericName: "PKIX", parseGeneric: x509.ParsePKIXPublicKey,
		pkcs1Type: "RSA PUBLIC KEY", parsePKCS1: x509.ParsePKCS1PublicKey,
		public: func(k *rsa.PublicKey) *rsa.PublicKey { return k }}
)

// parse reads the first PEM block of pemText; for a private key, the one
// block that is no certificate, and it returns the certificates beside it.
// Its errors name the form that did not parse, never the text.
func (f rsaKeyPEM[K]) parse(pemText string) (K, []*pem.Block, error) {
	var none K
	// A bundle of the merchant certificate and its key, as openssl pkcs12
	// -nodes writes apiclient_cert.p12 (the certificate first), holds the
	// key further on; Go's tls.X509KeyPair reads one the same way.
	var first, block *pem.Block
	var certs []*pem.Block
	keys := 0
	for rest := pemBytes(pemText); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if first == nil {
			first = b
		}
		if !f.skipCertificates {
			break
		}
		if b.Type == "CERTIFICATE" {
			certs = append(certs, b)
			continue
		}
		if keys++; block == nil {
			block = b
		}
	}
	switch {
	case first == nil:
		return none, nil, errors.New("is not PEM text")
	case keys > 1: // which one signs would be a guess
		return none, nil, errors.New("holds more than one key (PEM blocks besides certificates): give the merchant API private key alone, or after its certificate")
	case block == nil: // certificates only (named as such below), or a public key's first block
		block = first
	}
	// A key exported with a passphrase (PKCS#8's own type, or the legacy
	// PEM header) would otherwise read as a key that does not parse.
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return none, nil, errors.New("is encrypted: give the key without its passphrase (openssl pkey -in key.pem -out plain.pem)")
	}
	var key K
	switch block.Type {
	case f.genericType:
		k, err := f.parseGeneric(block.Bytes)
		if err != nil {
			return none, nil, errors.New("is not a " + f.genericName + " " + f.kind)
		}
		rk, ok := k.(K)
		if !ok {
			return none, nil, errors.New("is not an RSA " + f.kind)
		}
		key = rk
	case f.pkcs1Type:
		k, err := f.parsePKCS1(block.Bytes)
		if err != nil {
			return none, nil, errors.New("is not a PKCS#1 " + f.kind)
		}
		key = k
	default:
		return none, nil, errors.New("is PEM of type " + strconv.Quote(block.Type) + ", not a " + f.kind)
	}
	if problem := rsaKeyProblem(f.public(key)); problem != "" {
		return none, nil, errors.New("is " + problem)
	}
	return key, certs, nil
}

// rsaKeyProblem says why pub is no key of WeChat Pay's, "" when it may be
// one: WeChat Pay's keys are RSA 2048 (docs/providers/wechat_v3.md Keys;
// the Authorization scheme is WECHATPAY2-SHA256-RSA2048). A key outside
// that would load and then fail every signature: crypto/rsa refuses to
// sign or verify with fewer than 1024 bits, an even modulus or an exponent
// that is even, 1 or past 2^31-1; a 1024-bit merchant key is the key of no
// certificate WeChat issued, and a WeChat key of 1024 bits is a forgery's;
// VerifyMessage reads no signature of more than 4096 bits.
func rsaKeyProblem(pub *rsa.PublicKey) string {
	switch bits := pub.N.BitLen(); {
	case bits < 2048 || bits > 4096:
		return "a " + strconv.Itoa(bits) + "-bit RSA key, and WeChat Pay's keys are RSA 2048 (2048 to 4096 bits are accepted)"
	case pub.N.Bit(0) == 0 || pub.E < 3 || pub.E&1 == 0 || pub.E > 1<<31-1:
		// crypto/rsa's own checks, which it makes only when the key is used
		return "an RSA key crypto/rsa refuses to use (an even modulus, or a public exponent that is even, below 3 or above 2^31-1)"
	}
	return ""
}

// pemBytes is pemText trimmed, with the two characters \n read as a line
// break when the text has no real one: a PEM file put in an environment
// variable (Docker's --env-file, a CI secret, JSON) often arrives on one line
// that way, and the key is still the key. A byte order mark is dropped: a
// file saved as "UTF-8 with BOM" begins with one (and files concatenated
// so hold one before a later block), which encoding/pem does not skip
// before "-----BEGIN" at the start of the text or of a line, and no PEM
// text holds one.
func pemBytes(pemText string) []byte {
	pemText = strings.TrimSpace(strings.ReplaceAll(pemText, "\uFEFF", ""))
	if !strings.ContainsAny(pemText, "\r\n") && strings.Contains(pemText, `\n`) {
		pemText = strings.ReplaceAll(strings.ReplaceAll(pemText, `\r\n`, "\n"), `\n`, "\n")
	}
	return []byte(pemText)
}

// ParseCertificates reads one or more PEM certificates with RSA keys.
func ParseCertificates(pemText string) ([]*x509.Certificate, error) {
	rest := pemBytes(pemText)
	var out []*x509.Certificate
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, errors.New("holds PEM of type " + strconv.Quote(block.Type) + ", not a certificate")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errors.New("holds a certificate that does not parse")
		}
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("holds a certificate without an RSA key")
		}
		if problem := rsaKeyProblem(pub); problem != "" {
			return nil, errors.New("holds a certificate with " + problem)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("is not PEM certificate text")
	}
	return out, nil
}

// CertificateSerial is a certificate's serial as WeChat writes it
// (Wechatpay-Serial, serial_no): the serial number's bytes in uppercase hex,
// two digits a byte (a leading zero nibble is kept, as wechatpay-go does).
func CertificateSerial(c *x509.Certificate) string {
	return strings.ToUpper(hex.EncodeToString(c.SerialNumber.Bytes()))
}

// serialKey is how a certificate serial is looked up: the number it names,
// in uppercase hex without leading zeros. WeChat and wechatpay-go write two
// digits a byte (a leading zero nibble kept: CertificateSerial), but other
// SDKs print the number (Java's BigInteger.toString(16) drops that zero),
// and some print it in lowercase; all name the same certificate.
func serialKey(serial string) string {
	n := strings.TrimLeft(serial, "0")
	if n == "" && serial != "" {
		return "0"
	}
	return strings.ToUpper(n)
}

// SignMessage is base64(RSASSA-PKCS1-v1_5(SHA-256(msg))) with key.
func SignMessage(key *rsa.PrivateKey, msg []byte) (string, error) { return wxpay.SignRSA(key, msg) }

// VerifyMessage checks a base64 RSASSA-PKCS1-v1_5 SHA-256 signature of msg.
// WeChat's deliberate probes (signatures beginning WECHATPAY/SIGNTEST/) are
// not base64 and fail here like any other bad signature.
func VerifyMessage(pub *rsa.PublicKey, msg []byte, signature string) bool {
	// Decode writes all the text decodes to, past the end of buf if need be
	// (a panic): a text decoding to more than a 4096-bit key's 512 bytes
	// (and a quantum's slack) is no signature of any key WeChat uses.
	var buf [516]byte
	if pub == nil || base64.StdEncoding.DecodedLen(len(signature)) > len(buf) {
		return false
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(signature))
	if err != nil || n != pub.Size() {
		return false
	}
	sum := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], buf[:n]) == nil
}

// AppendAuthMessage appends the request signature's message:
// METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nBODY\n (the body line is empty
// for a GET, and still ends with \n).
func AppendAuthMessage(dst []byte, method, pathAndQuery, timestamp, nonce string, body []byte) []byte {
	dst = wxpay.AppendLines(dst, method, pathAndQuery, timestamp, nonce)
	return append(append(dst, body...), '\n')
}

// AppendAnswerMessage appends the message WeChat signs in an answer or a
// notification: TIMESTAMP\nNONCE\nBODY\n (BODY empty for a 204).
func AppendAnswerMessage(dst []byte, timestamp, nonce string, body []byte) []byte {
	dst = wxpay.AppendLines(dst, timestamp, nonce)
	return append(append(dst, body...), '\n')
}

// Signer signs a merchant's requests with its API private key.
type Signer struct {
	MchID    string          // the merchant id the Authorization header names
	SerialNo string          // the serial of the merchant API certificate
	Key      *rsa.PrivateKey // that certificate's private key
}

// Authorization signs one request and returns the Authorization header value:
// WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…".
func (s *Signer) Authorization(method, pathAndQuery string, body []byte, timestamp int64, nonce string) (string, error) {
	return s.authorization(method, pathAndQuery, body, strconv.FormatInt(timestamp, 10), nonce)
}

// authorization is Authorization with the timestamp's text as it is signed
// and sent.
func (s *Signer) authorization(method, pathAndQuery string, body []byte, ts, nonce string) (string, error) {
	buf := make([]byte, 0, 128+len(pathAndQuery)+len(body))
	sig, err := SignMessage(s.Key, AppendAuthMessage(buf, method, pathAndQuery, ts, nonce, body))
	if err != nil {
		return "", err
	}
	h := make([]byte, 0, 128+len(s.MchID)+len(s.SerialNo)+len(nonce)+len(sig))
	h = append(h, AuthScheme+` mchid="`...)
	h = append(h, s.MchID...)
	h = append(h, `",nonce_str="`...)
	h = append(h, nonce...)
	h = append(h, `",timestamp="`...)
	h = append(h, ts...)
	h = append(h, `",serial_no="`...)
	h = append(h, s.SerialNo...)
	h = append(h, `",signature="`...)
	h = append(h, sig...)
	h = append(h, '"')
	return string(h), nil
}

// Authorization is a parsed Authorization header (the sandbox's side).
type Authorization struct {
	MchID, NonceStr, Timestamp, SerialNo, Signature string
}

// ParseAuthorization reads an Authorization header of scheme
// WECHATPAY2-SHA256-RSA2048; every one of the five parameters is required
// once.
func ParseAuthorization(h string) (*Authorization, bool) {
	rest, ok := strings.CutPrefix(h, AuthScheme+" ")
	if !ok || len(h) > 4096 {
		return nil, false
	}
	a := new(Authorization)
	seen := 0
	for rest != "" {
		var kv string
		kv, rest, _ = strings.Cut(rest, ",")
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, false
		}
		v = v[1 : len(v)-1]
		var dst *string
		switch k {
		case "mchid":
			dst = &a.MchID
		case "nonce_str":
			dst = &a.NonceStr
		case "timestamp":
			dst = &a.Timestamp
		case "serial_no":
			dst = &a.SerialNo
		case "signature":
			dst = &a.Signature
		default:
			return nil, false
		}
		if *dst != "" || v == "" {
			return nil, false
		}
		*dst = v
		seen++
	}
	return a, seen == 5
}

// RequestSigning implements transform.RequestExplainer: `caddy minipay
// sign` prints a request's Authorization, which covers the request line.
func (*Config) RequestSigning() transform.RequestSigning {
	return transform.RequestSigning{Fields: []transform.RequestField{
		{Name: "mch_id", Usage: "<mchid>"}, {Name: "serial_no", Usage: "<serial>"}, {Name: "private_key", Usage: "<PEM>"}},
		RequestLine: true}
}

// ExplainRequest explains a request's message, its signature and the
// Authorization header, signed with the merchant's private key (never
// in the explanation). A request saved as its HTTP message gives what the
// flags do not: its Authorization the time and nonce it was signed with.
func (c *Config) ExplainRequest(r transform.MerchantRequest) (transform.RequestExplanation, error) {
	var none transform.RequestExplanation
	method, target, timestamp, nonce := r.Method, r.Target, r.Timestamp, r.Nonce
	// What a bad timestamp or nonce is named by: the flag, or the captured
	// request's Authorization when it gave the value.
	timestampFrom, nonceFrom := "--timestamp", "--nonce"
	if sent, ok := ParseAuthorization(r.Header.Get("Authorization")); ok {
		if timestamp == "" {
			timestampFrom = "the request's Authorization timestamp (give --timestamp to sign another)"
		}
		if nonce == "" {
			nonceFrom = "the request's Authorization nonce_str (give --nonce to sign another)"
		}
		timestamp, nonce = cmp.Or(timestamp, sent.Timestamp), cmp.Or(nonce, sent.NonceStr)
	}
	if method == "" {
		return none, errors.New("--method is required for wechat_v3 (GET, POST, ...)")
	}
	if !transform.ValidHeaderName(method) { // a method is a token, as a header name is (RFC 9110 §9.1)
		return none, errors.New("--method: want an HTTP method (GET, POST, ...)")
	}
	if u, err := url.Parse(target); err == nil && u.IsAbs() {
		target = u.RequestURI() // the path and query, as signed
	}
	// A space or control character is no request target (RFC 9112 §3.2),
	// and a line end would sign a message of other lines.
	if !strings.HasPrefix(target, "/") || strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return none, errors.New("--url must be the request's path and query (/v3/...), or its absolute URL, as sent (spaces percent-encoded)")
	}
	// The timestamp is signed as its text is written (a captured request's
	// 01554208460 too: the message signs the text its Authorization
	// carries), in the digits WeChat's timestamps take, as Verify reads them.
	if timestamp == "" {
		timestamp = strconv.FormatInt(time.Now().Unix(), 10)
	} else if ts, ok := parseTimestamp(timestamp); !ok || ts <= 0 {
		return none, errors.New(timestampFrom + ": want Unix seconds")
	}
	if nonce == "" {
		nonce = transform.Nonce(32)
	} else if !authValue(nonce) {
		// A line end would sign another message, a quote or comma another
		// Authorization than the one printed.
		return none, errors.New(nonceFrom + ": want visible ASCII without '\"' or ','")
	}
	// As the load reads it: the parser's reason names the form, never the
	// text, and a certificate in the file must be the one serial_no names
	// (the Authorization printed is the one the route would send).
	key, err := c.merchantKey()
	if err != nil {
		return none, err
	}
	// The header is the client's own (Signer.Authorization); RSA PKCS#1 v1.5
	// is deterministic, so its signature is the one explained beside it.
	message := AppendAuthMessage(nil, method, target, timestamp, nonce, r.Body)
	signature, err := SignMessage(key, message)
	if err != nil {
		return none, fmt.Errorf("signing: %w", err)
	}
	signer := Signer{MchID: c.MchID, SerialNo: c.SerialNo, Key: key}
	auth, err := signer.authorization(method, target, r.Body, timestamp, nonce)
	if err != nil {
		return none, fmt.Errorf("signing: %w", err)
	}
	return transform.RequestExplanation{SignType: "SHA256-RSA2048", StringToSign: string(message), Signature: signature,
		Send: transform.Params{{Name: "authorization", Value: auth}}}, nil
}

// authValue tells whether v can be an Authorization parameter's quoted
// value as it is signed: visible ASCII, no quote, no comma.
func authValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' || c == '"' || c == ',' {
			return false
		}
	}
	return true
}
