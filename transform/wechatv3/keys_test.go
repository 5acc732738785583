package wechatv3

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func pemText(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// oneLine writes PEM text on one line, its line breaks spelled as the
// characters escape (as an environment variable often carries it).
func oneLine(pemText, escape string) string {
	return strings.ReplaceAll(strings.TrimSpace(pemText), "\n", escape)
}

// A certificate given on one line with \n reads as the file does.
func TestParseCertificatesOnOneLine(t *testing.T) {
	file := exampleKey(t, "wechatpay_platform_cert.pem")
	want := must(ParseCertificates(file))[0]
	got, err := ParseCertificates(oneLine(file, `\n`))
	if err != nil || len(got) != 1 || !got[0].Equal(want) {
		t.Fatalf("certificates %d, error %v", len(got), err)
	}
	// a text with real line breaks is read as it is: a \n inside it is not one
	if _, err := ParseCertificates(file + `\n`); err != nil {
		t.Fatalf("a trailing \\n after real lines: %v", err)
	}
}

// The key forms WeChat's files come in (PKCS#8 apiclient_key.pem, PKIX
// pub_key.pem; the private key also after the certificate of a bundle
// that openssl pkcs12 -nodes makes of apiclient_cert.p12) and their PKCS#1
// forms parse to the keys of the example
// certificates that openssl made (examples/keys/README.md); anything else
// is refused with an error naming the form, never key material.
func TestParseKeys(t *testing.T) {
	merchantCert := must(ParseCertificates(exampleKey(t, "apiclient_cert.pem")))[0]
	platformCert := must(ParseCertificates(exampleKey(t, "wechatpay_platform_cert.pem")))[0]
	merchant := merchantCert.PublicKey.(*rsa.PublicKey)
	platform := platformCert.PublicKey.(*rsa.PublicKey)
	pkcs1 := pemText("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(must(ParsePrivateKey(exampleKey(t, "apiclient_key.pem")))))
	ec := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	ecPKCS8 := pemText("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ec)))
	ecPKIX := pemText("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&ec.PublicKey)))
	garbage := []byte("not DER")
	// apiclient_cert.p12 as openssl pkcs12 -nodes writes it: the
	// certificate, then the key, each after its bag attributes.
	bundle := "Bag Attributes\n    localKeyID: 9F 1B 22 0C\n    friendlyName: Tenpay Certificate\nsubject=CN = 1900000109\n" +
		exampleKey(t, "apiclient_cert.pem") + "Bag Attributes\n    localKeyID: 9F 1B 22 0C\nKey Attributes: <No Attributes>\n" +
		exampleKey(t, "apiclient_key.pem")

	private := func(text string) (*rsa.PublicKey, error) {
		k, err := ParsePrivateKey(text)
		if err != nil {
			return nil, err
		}
		return &k.PublicKey, nil
	}
	tests := []struct {
		name  string
		parse func(string) (*rsa.PublicKey, error) // the public key read, or half of the private key
		text  string
		want  *rsa.PublicKey // nil: refused
		err   string
	}{
		{"private, PKCS#8", private, exampleKey(t, "apiclient_key.pem"), merchant, ""},
		{"private, PKCS#8, platform", private, exampleKey(t, "wechatpay_platform_key.pem"), platform, ""},
		{"private, PKCS#1", private, pkcs1, merchant, ""},
		{"private, PKCS#8 on one line with \\n (an environment variable)", private, oneLine(exampleKey(t, "apiclient_key.pem"), `\n`), merchant, ""},
		{"private, PKCS#1 on one line with \\r\\n", private, oneLine(pkcs1, `\r\n`), merchant, ""},
		{"private, not PEM", private, "secret-not-pem", nil, "is not PEM text"},
		{"private, PKCS#8 that does not parse", private, pemText("PRIVATE KEY", garbage), nil, "is not a PKCS#8 private key"},
		{"private, PKCS#8 of an EC key", private, ecPKCS8, nil, "is not an RSA private key"},
		{"private, PKCS#1 that does not parse", private, pemText("RSA PRIVATE KEY", garbage), nil, "is not a PKCS#1 private key"},
		{"private, a public key", private, exampleKey(t, "wechatpay_pub_key.pem"), nil, `is PEM of type "PUBLIC KEY", not a private key`},
		{"private, a certificate", private, exampleKey(t, "apiclient_cert.pem"), nil, `is PEM of type "CERTIFICATE", not a private key`},
		{"private, after its certificate (openssl pkcs12 -nodes)", private, bundle, merchant, ""},
		{"private, after two certificates, CRLF lines", private, strings.ReplaceAll(exampleKey(t, "wechatpay_platform_cert.pem")+bundle, "\n", "\r\n"), merchant, ""},
		{"private, before its certificate", private, exampleKey(t, "apiclient_key.pem") + exampleKey(t, "apiclient_cert.pem"), merchant, ""},
		{"private, a public key after a certificate", private, exampleKey(t, "apiclient_cert.pem") + exampleKey(t, "wechatpay_pub_key.pem"), nil,
			`is PEM of type "PUBLIC KEY", not a private key`},
		{"public, PKIX", ParsePublicKey, exampleKey(t, "wechatpay_pub_key.pem"), platform, ""},
		{"public, PKCS#1", ParsePublicKey, pemText("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(merchant)), merchant, ""},
		{"public, PKIX on one line with \\n", ParsePublicKey, oneLine(exampleKey(t, "wechatpay_pub_key.pem"), `\n`), platform, ""},
		{"public, not PEM", ParsePublicKey, "secret-not-pem", nil, "is not PEM text"},
		{"public, PKIX that does not parse", ParsePublicKey, pemText("PUBLIC KEY", garbage), nil, "is not a PKIX public key"},
		{"public, PKIX of an EC key", ParsePublicKey, ecPKIX, nil, "is not an RSA public key"},
		{"public, PKCS#1 that does not parse", ParsePublicKey, pemText("RSA PUBLIC KEY", garbage), nil, "is not a PKCS#1 public key"},
		{"public, a private key", ParsePublicKey, exampleKey(t, "apiclient_key.pem"), nil, `is PEM of type "PRIVATE KEY", not a public key`},
		{"public, a certificate", ParsePublicKey, exampleKey(t, "wechatpay_platform_cert.pem"), nil, `is PEM of type "CERTIFICATE", not a public key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.parse(tt.text)
			switch {
			case tt.want != nil && (err != nil || !k.Equal(tt.want)):
				t.Fatalf("key %v, error %v", k != nil, err)
			case tt.want == nil && (err == nil || err.Error() != tt.err):
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}
