package wechatv3

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// A configuration that cannot work fails when the provider loads, naming the
// field and never a value.
func TestConfigErrors(t *testing.T) {
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(must(ParsePrivateKey(exampleKey(t, "apiclient_key.pem"))))}))
	cases := []struct {
		name  string
		build func(Config) error
		edit  func(*Config)
		field string // "" = loads
	}{
		{"client", client, nil, ""},
		{"client, PKCS#1 key", client, func(c *Config) { c.PrivateKey = pkcs1 }, ""},
		{"client, bad key", client, func(c *Config) { c.PrivateKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }, "private_key"},
		{"client, no PEM", client, func(c *Config) { c.PrivateKey = "secret-not-pem" }, "private_key"},
		{"client, 1024-bit private_key", client, func(c *Config) {
			c.PrivateKey = pemText("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(weak1024)))
		}, "private_key"},
		{"client, 1024-bit public_key", client, func(c *Config) {
			c.PublicKey = pemText("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&weak1024.PublicKey)))
		}, "public_key"},
		{"client, platform_certificate of a 1024-bit key", client, func(c *Config) { c.PlatformCertificate = weakCertificate(t, weak1024) }, "platform_certificate"},
		{"sandbox, 512-bit platform_private_key", sandbox, func(c *Config) { c.PlatformPrivateKey, c.PlatformCertificate = weak512, "" }, "platform_private_key"},
		// The merchant API certificate in the private_key file (openssl
		// pkcs12 -nodes): serial_no must be its serial and private_key its
		// key, or WeChat refuses every request's signature.
		{"client, private_key after its certificate", client, func(c *Config) {
			c.PrivateKey = exampleKey(t, "apiclient_cert.pem") + exampleKey(t, "apiclient_key.pem")
		}, ""},
		{"client, private_key before its certificate, serial_no in lower case without leading zeros", client, func(c *Config) {
			c.PrivateKey, c.SerialNo = exampleKey(t, "apiclient_key.pem")+exampleKey(t, "apiclient_cert.pem"), "0"+strings.ToLower(exampleSerial)
		}, ""},
		{"client, private_key after its certificate, serial_no of another", client, func(c *Config) {
			c.PrivateKey, c.SerialNo = exampleKey(t, "apiclient_cert.pem")+exampleKey(t, "apiclient_key.pem"), "1234ABCD"
		}, "serial_no"},
		{"client, private_key of another key after the certificate serial_no names", client, func(c *Config) {
			c.PrivateKey = exampleKey(t, "apiclient_cert.pem") + exampleKey(t, "wechatpay_platform_key.pem")
		}, "private_key"},
		{"client, private_key after a certificate of another key and serial", client, func(c *Config) {
			c.PrivateKey = exampleKey(t, "wechatpay_platform_cert.pem") + exampleKey(t, "apiclient_key.pem")
		}, ""},
		{"client, private_key with two keys", client, func(c *Config) {
			c.PrivateKey = exampleKey(t, "apiclient_key.pem") + exampleKey(t, "wechatpay_platform_key.pem")
		}, "private_key"},
		{"sandbox, private_key after its certificate, serial_no of another", sandbox, func(c *Config) {
			c.PrivateKey, c.SerialNo = exampleKey(t, "apiclient_cert.pem")+exampleKey(t, "apiclient_key.pem"), "1234ABCD"
		}, "serial_no"},
		// The merchant's own key where WeChat's goes: WeChat never signs
		// with it, so every answer would be refused as forged.
		{"client, public_key of private_key", client, func(c *Config) {
			c.PublicKey = pemText("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&must(ParsePrivateKey(exampleKey(t, "apiclient_key.pem"))).PublicKey)))
		}, "public_key"},
		{"client, platform_certificate of private_key, another serial_no", client, func(c *Config) {
			c.PlatformCertificate, c.SerialNo = exampleKey(t, "apiclient_cert.pem"), "1234ABCD"
		}, "platform_certificate"},
		{"webhook, public_key of private_key", webhook, func(c *Config) {
			c.PublicKey = pemText("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&must(ParsePrivateKey(exampleKey(t, "apiclient_key.pem"))).PublicKey)))
		}, "public_key"},
		{"client, public key as private_key", client, func(c *Config) { c.PrivateKey = exampleKey(t, "wechatpay_pub_key.pem") }, "private_key"},
		{"client, no serial_no", client, func(c *Config) { c.SerialNo = "" }, "serial_no"},
		{"client, short api_v3_key", client, func(c *Config) { c.APIv3Key = "short-key" }, "api_v3_key"},
		{"client, no key source", client, func(c *Config) { c.PublicKey, c.PublicKeyID = "", "" }, "public_key"},
		{"client, public_key without id", client, func(c *Config) { c.PublicKeyID = "" }, "public_key_id"},
		{"client, id without public_key", client, func(c *Config) { c.PublicKey = "" }, "public_key"},
		{"client, bad public_key", client, func(c *Config) { c.PublicKey = exampleKey(t, "apiclient_key.pem") }, "public_key"},
		{"client, bad certificate", client, func(c *Config) { c.PlatformCertificate = exampleKey(t, "wechatpay_pub_key.pem") }, "platform_certificate"},
		{"client, relative certificates_url", client, func(c *Config) { c.CertificatesURL = "/v3/certificates" }, "certificates_url"},
		{"client, certificates_url without api_v3_key", client, func(c *Config) { c.CertificatesURL, c.APIv3Key = "https://x.example/v3/certificates", "" }, "api_v3_key"},
		// The merchant serial confused with WeChat's (docs/providers/wechat_v3.md Pitfalls).
		{"client, serial_no of its platform_certificate", client, func(c *Config) {
			c.PlatformCertificate, c.SerialNo = exampleKey(t, "wechatpay_platform_cert.pem"), examplePlatformSN
		}, "serial_no"},
		{"client, serial_no of its platform_certificate in lower case, without its leading zeros", client, func(c *Config) {
			c.PlatformCertificate, c.SerialNo = exampleKey(t, "wechatpay_platform_cert.pem"), "000"+strings.ToLower(examplePlatformSN)
		}, "serial_no"},
		{"client, merchant serial beside a platform_certificate", client, func(c *Config) {
			c.PlatformCertificate = exampleKey(t, "wechatpay_platform_cert.pem")
		}, ""},
		{"client, sub_app_id without sub_mch_id", client, func(c *Config) { c.SubAppID = "wx9" }, "sub_app_id"},
		{"client, notify_url with a query", client, func(c *Config) { c.NotifyURL = "https://m.example/n?a=1" }, "notify_url"},
		{"client, client_ip not an address", client, func(c *Config) { c.ClientIP = "my-host" }, "client_ip"},
		{"client, client_ip", client, func(c *Config) { c.ClientIP = "2001:db8::1" }, ""},
		{"webhook", webhook, func(c *Config) { c.SerialNo, c.PrivateKey = "", "" }, ""},
		{"webhook, no api_v3_key", webhook, func(c *Config) { c.APIv3Key = "" }, "api_v3_key"},
		{"webhook, certificates_url without private_key", webhook, func(c *Config) {
			c.PrivateKey, c.CertificatesURL = "", "https://api.mch.weixin.qq.com/v3/certificates"
		}, "private_key"},
		{"sandbox", sandbox, nil, ""},
		{"sandbox, no platform_private_key", sandbox, func(c *Config) { c.PlatformPrivateKey = "" }, "platform_private_key"},
		{"sandbox, bad platform_private_key", sandbox, func(c *Config) { c.PlatformPrivateKey = "x" }, "platform_private_key"},
		{"sandbox, certificate of another key", sandbox, func(c *Config) {
			c.PlatformCertificate = readFixture(t, "wechat_v3-test-platform-cert.pem")
		}, "platform_certificate"},
		{"sandbox, public_key of another key", sandbox, func(c *Config) { c.PublicKey = readFixture(t, "wechat_v3-test-public-key.pem") }, "public_key"},
		{"sandbox, own certificate", sandbox, func(c *Config) { c.PlatformCertificate = "" }, ""},
		{"sandbox, serial_no of its platform certificate", sandbox, func(c *Config) { c.SerialNo = examplePlatformSN }, "serial_no"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := merchantConfig(t)
			if tc.build == nil || strings.HasPrefix(tc.name, "sandbox") {
				cfg = sandboxConfig(t)
			}
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			err := tc.build(cfg)
			switch {
			case tc.field == "" && err != nil:
				t.Fatal(err)
			case tc.field == "":
			case err == nil:
				t.Fatalf("loaded; want an error naming %s", tc.field)
			case !strings.HasPrefix(err.Error(), "wechat_v3: "+tc.field+" "):
				t.Fatalf("error %q does not start with the field %s", err, tc.field)
			case strings.Contains(err.Error(), "secret-not-pem") || strings.Contains(err.Error(), "short-key") || strings.Contains(err.Error(), "BEGIN"):
				t.Fatalf("error %q carries a value", err)
			}
		})
	}
}

// TestEncryptedPrivateKey: a merchant key exported with a passphrase, as
// PKCS#8 or with the legacy Proc-Type header, fails the load saying it is
// encrypted, where it read as a key that does not parse.
func TestEncryptedPrivateKey(t *testing.T) {
	for name, key := range map[string]string{
		"PKCS#8": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
		"PKCS#1 with Proc-Type": "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n" +
			"MIIEpAIBAAKCAQEAwJm2\n-----END RSA PRIVATE KEY-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := merchantConfig(t)
			cfg.PrivateKey = key
			err := client(cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "wechat_v3: private_key is encrypted") || strings.Contains(err.Error(), "MII") {
				t.Fatalf("error %v, want one saying private_key is encrypted", err)
			}
		})
	}
}

func client(c Config) error  { _, err := NewClient(c); return err }
func webhook(c Config) error { _, err := NewWebhook(c); return err }
func sandbox(c Config) error { _, err := NewSandbox(c); return err }

// The sandbox's own certificate is the same at every start.
func TestSandboxCertificateIsStable(t *testing.T) {
	cfg := sandboxConfig(t)
	cfg.PlatformCertificate = ""
	a, b := must(NewSandbox(cfg)), must(NewSandbox(cfg))
	if a.Serial() != b.Serial() || string(a.CertificatePEM()) != string(b.CertificatePEM()) || len(a.Serial()) != 16 {
		t.Fatalf("serials %s %s", a.Serial(), b.Serial())
	}
}
