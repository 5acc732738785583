// Package wechatv3 is WeChat Pay API v3 (JSAPI / mini program, direct and
// service-provider mode) for caddy-minipay: the Authorization signature of
// requests, the verification of every answer and notification (WeChat Pay
// public key, downloaded or static platform certificates, or both), the
// jsapi / query / close / refund / refund query calls, the RSA paySign,
// notifications with their AES-256-GCM resource, and the sandbox server.
// The wire format is described in docs/providers/wechat_v3.md.
package wechatv3

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// Name is the provider's name in configuration and answers.
const Name = "wechat_v3"

// UserAgent is sent on every request: WeChat refuses requests without one.
const UserAgent = "caddy-minipay (+https://github.com/minipay/caddy-minipay) wechat_v3"

// Config is the wechat_v3 provider configuration. Every key is PEM text
// (in Caddy, normally a {file./path} placeholder).
type Config struct {
	AppID string `json:"app_id,omitempty"`
	MchID string `json:"mch_id,omitempty"`
	// SerialNo is the serial of the merchant's API certificate, and
	// PrivateKey its private key (apiclient_key.pem).
	SerialNo   string `json:"serial_no,omitempty"`
	PrivateKey string `json:"private_key,omitempty"`
	// APIv3Key decrypts notifications and downloaded certificates (32 bytes).
	APIv3Key string `json:"api_v3_key,omitempty"`
	// Verification key sources; at least one.
	PublicKey           string `json:"public_key,omitempty"`
	PublicKeyID         string `json:"public_key_id,omitempty"`
	CertificatesURL     string `json:"certificates_url,omitempty"`
	PlatformCertificate string `json:"platform_certificate,omitempty"`
	// PlatformPrivateKey is the sandbox's own signing key (WeChat's side).
	PlatformPrivateKey string `json:"platform_private_key,omitempty"`

	NotifyURL string `json:"notify_url,omitempty"`
	ClientIP  string `json:"client_ip,omitempty"`
	SubAppID  string `json:"sub_app_id,omitempty"`
	SubMchID  string `json:"sub_mch_id,omitempty"`
}

// ProviderName is "wechat_v3".
func (*Config) ProviderName() string { return Name }

// ConfigFields lists every string field for placeholder resolution. The
// fields whose need depends on others (the key sources, api_v3_key for a
// client in certificate mode) are checked by NewClient, NewWebhook and
// NewSandbox.
func (c *Config) ConfigFields() []transform.ConfigField {
	clientSandbox := []transform.Role{transform.RoleClient, transform.RoleSandbox}
	webhookSandbox := []transform.Role{transform.RoleWebhook, transform.RoleSandbox}
	return []transform.ConfigField{
		{Name: "app_id", Value: &c.AppID, Required: transform.AllRoles, Rule: transform.WeChatIDRule},
		{Name: "mch_id", Value: &c.MchID, Required: transform.AllRoles, Rule: transform.WeChatIDRule},
		{Name: "serial_no", Value: &c.SerialNo, Required: clientSandbox, Rule: transform.HexSerialRule},
		{Name: "private_key", Value: &c.PrivateKey, Required: clientSandbox, Secret: true, Rule: transform.PEMRule},
		{Name: "api_v3_key", Value: &c.APIv3Key, Required: webhookSandbox, Secret: true, Rule: apiV3KeyRule},
		{Name: "public_key", Value: &c.PublicKey, Rule: transform.PEMRule},
		{Name: "public_key_id", Value: &c.PublicKeyID, Rule: transform.IDRule},
		{Name: "certificates_url", Value: &c.CertificatesURL, Rule: certificatesURLRule},
		{Name: "platform_certificate", Value: &c.PlatformCertificate, Rule: transform.PEMRule},
		{Name: "platform_private_key", Value: &c.PlatformPrivateKey, Required: []transform.Role{transform.RoleSandbox}, Secret: true, Rule: transform.PEMRule},
		{Name: "notify_url", Value: &c.NotifyURL, Rule: wxpay.NotifyURLRule},
		{Name: "client_ip", Value: &c.ClientIP, Rule: transform.IPRule},
		{Name: "sub_app_id", Value: &c.SubAppID, Rule: transform.WeChatIDRule},
		{Name: "sub_mch_id", Value: &c.SubMchID, Rule: transform.WeChatIDRule},
	}
}

// fieldError names the field at fault, never its value.
func fieldError(field, problem string) error {
	return errors.New("wechat_v3: " + field + " " + problem)
}

// keys is a parsed configuration: every key parsed once, when the provider
// loads, never per request.
type keys struct {
	signer *Signer             // merchant key; nil where not configured
	ring   *Keyring            // verification keys; nil for the sandbox
	apiV3  []byte              // nil where not configured
	certs  []*x509.Certificate // platform_certificate
	pub    *rsa.PublicKey      // public_key, parsed for the sandbox only
}

// Check implements transform.Checker: the values that do not depend on the
// role (Caddy resolves placeholders first; constructors run it through
// transform.CheckConfig).
func (c *Config) Check() error {
	return wxpay.CheckSubAppID(Name, c.SubAppID, c.SubMchID)
}

// apiV3KeyRule is api_v3_key's rule: 32 bytes of printable ASCII.
func apiV3KeyRule(v string) string {
	if problem := transform.ASCIIKeyRule(v); problem != "" {
		return problem
	}
	if len(v) != 32 {
		return "must be 32 bytes (the APIv3 key)"
	}
	return ""
}

// certificatesURLAbsolute is what is said of a certificates_url that is
// not an absolute http(s) URL.
const certificatesURLAbsolute = "must be an absolute http(s) URL"

// certificatesURLRule is certificates_url's rule: transform.URLRule, and an
// absolute http(s) URL, which the plugin downloads itself.
func certificatesURLRule(v string) string {
	if problem := transform.URLRule(v); problem != "" {
		return problem
	}
	if _, ok := transform.AbsoluteURL(v); !ok {
		return certificatesURLAbsolute
	}
	return ""
}

// parse checks the configuration for role and parses its keys, once.
func (c *Config) parse(role transform.Role) (*keys, error) {
	if err := transform.CheckConfig(c, role); err != nil {
		return nil, err
	}
	k := new(keys)
	if c.PrivateKey != "" {
		if c.SerialNo == "" {
			return nil, fieldError("serial_no", "is required with private_key (the merchant API certificate's serial)")
		}
		key, err := c.merchantKey()
		if err != nil {
			return nil, err
		}
		k.signer = &Signer{MchID: c.MchID, SerialNo: c.SerialNo, Key: key}
	}
	if c.APIv3Key != "" {
		k.apiV3 = []byte(c.APIv3Key)
	}
	if c.PlatformCertificate != "" {
		certs, err := ParseCertificates(c.PlatformCertificate)
		if err != nil {
			return nil, fieldError("platform_certificate", err.Error())
		}
		// The merchant serial confused with the platform serial, a pitfall
		// docs/providers/wechat_v3.md lists: WeChat would refuse every
		// request's Authorization, the mistake is certain, so it fails here.
		for _, cert := range certs {
			if c.SerialNo != "" && serialKey(c.SerialNo) == serialKey(CertificateSerial(cert)) {
				return nil, fieldError("serial_no", "is the serial of a platform_certificate (WeChat's); give the serial of "+
					"the merchant API certificate (apiclient_cert.pem)")
			}
		}
		k.certs = certs
	}
	if role == transform.RoleSandbox {
		if c.PublicKey != "" { // optional there; NewSandbox checks it is platform_private_key's
			pub, err := ParsePublicKey(c.PublicKey)
			if err != nil {
				return nil, fieldError("public_key", err.Error())
			}
			k.pub = pub
		}
		return k, nil
	}
	ring := &Keyring{now: time.Now, static: map[string]*x509.Certificate{}}
	switch {
	case c.PublicKey != "" && c.PublicKeyID == "":
		return nil, fieldError("public_key_id", "is required with public_key (the PUB_KEY_ID_… WeChat shows with the key)")
	case c.PublicKeyID != "" && c.PublicKey == "":
		return nil, fieldError("public_key", "is required with public_key_id")
	case c.PublicKey != "":
		pub, err := ParsePublicKey(c.PublicKey)
		if err != nil {
			return nil, fieldError("public_key", err.Error())
		}
		if k.signer != nil && pub.Equal(&k.signer.Key.PublicKey) {
			return nil, fieldError("public_key", "is the public half of private_key, the merchant's own key: give WeChat Pay's public key "+
				"(pub_key.pem), which signs its answers and notifications")
		}
		ring.publicKeyID, ring.publicKey = c.PublicKeyID, pub
	}
	for _, cert := range k.certs {
		// The merchant API certificate (apiclient_cert.pem) given as
		// WeChat's: WeChat never signs with the merchant's key, so every
		// answer would be refused as forged.
		if k.signer != nil && k.signer.Key.PublicKey.Equal(cert.PublicKey) {
			return nil, fieldError("platform_certificate", "holds the certificate of private_key, the merchant's own (apiclient_cert.pem): "+
				"give WeChat Pay's platform certificate, which signs its answers and notifications")
		}
		ring.static[serialKey(CertificateSerial(cert))] = cert
	}
	if c.CertificatesURL != "" {
		if k.signer == nil {
			return nil, fieldError("private_key", "and serial_no are required with certificates_url (the download is a signed request)")
		}
		if k.apiV3 == nil {
			return nil, fieldError("api_v3_key", "is required with certificates_url (it decrypts the certificates)")
		}
		dl, err := NewCertificates(c.CertificatesURL, k.signer, k.apiV3)
		if err != nil {
			return nil, fieldError("certificates_url", err.Error())
		}
		dl.others = staticKeys{ring}
		ring.downloaded = dl
	}
	if ring.publicKey == nil && len(ring.static) == 0 && ring.downloaded == nil {
		return nil, fieldError("public_key", "(with public_key_id), certificates_url or platform_certificate: at least one verification key source is required")
	}
	k.ring = ring
	return k, nil
}

// merchantKey parses private_key and checks it against serial_no where
// its file holds the certificate (checkBundled); errors name the field.
func (c *Config) merchantKey() (*rsa.PrivateKey, error) {
	key, bundled, err := privateKeyPEM.parse(c.PrivateKey)
	if err != nil {
		return nil, fieldError("private_key", err.Error())
	}
	if err := checkBundled(c.SerialNo, key, bundled); err != nil {
		return nil, err
	}
	return key, nil
}

// checkBundled checks the certificates the private_key file holds beside
// the key (openssl pkcs12 -nodes writes apiclient_cert.p12 so): the
// merchant API certificate among them must be the one serial_no names.
// WeChat verifies a request's signature with the certificate serial_no
// names (docs/providers/wechat_v3.md, "Request signature"), so a serial
// of another certificate, or a key of another one, would have every
// request refused (401 SIGN_ERROR); the file says which is certain. A
// certificate of another key and serial (a chain, WeChat's) is not read.
func checkBundled(serialNo string, key *rsa.PrivateKey, bundled []*pem.Block) error {
	for _, b := range bundled {
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		own := key.PublicKey.Equal(cert.PublicKey)
		named := serialKey(CertificateSerial(cert)) == serialKey(serialNo)
		switch {
		case own && !named: // a certificate serial is public: the admin API lists it
			return fieldError("serial_no", "is not the serial of private_key's certificate, which its file holds ("+
				CertificateSerial(cert)+"): WeChat would refuse every request's signature")
		case named && !own:
			return fieldError("private_key", "is not the key of the certificate its file holds, whose serial serial_no names: "+
				"WeChat would refuse every request's signature")
		}
	}
	return nil
}

// staticKeys is a keyring without its downloaded part (which must not call
// itself while verifying its own download).
type staticKeys struct{ k *Keyring }

func (s staticKeys) PublicKey(serial string) (*rsa.PublicKey, bool) {
	if s.k.publicKey != nil && serial == s.k.publicKeyID {
		return s.k.publicKey, true
	}
	if c, ok := s.k.static[serialKey(serial)]; ok && validAt(c, s.k.now()) {
		return c.PublicKey.(*rsa.PublicKey), true
	}
	return nil, false
}

// partner tells whether the merchant is a service provider acting for a
// sub-merchant.
func (c *Config) partner() bool { return c.SubMchID != "" }

// payAppID is the appId paySign covers: the mini program the payer uses,
// sub_app_id when the service provider pays for a sub-merchant's app.
func (c *Config) payAppID() string {
	if c.SubAppID != "" {
		return c.SubAppID
	}
	return c.AppID
}
