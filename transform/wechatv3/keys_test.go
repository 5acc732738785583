package wechatv3

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
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
		// Two keys in the file: which one signs would be a guess.
		{"private, two keys", private, exampleKey(t, "apiclient_key.pem") + exampleKey(t, "wechatpay_platform_key.pem"), nil, twoKeys},
		{"private, two keys after a certificate", private, exampleKey(t, "apiclient_cert.pem") + pkcs1 + exampleKey(t, "apiclient_key.pem"), nil, twoKeys},
		{"private, a key and a public key", private, exampleKey(t, "apiclient_key.pem") + exampleKey(t, "wechatpay_pub_key.pem"), nil, twoKeys},
		// A file saved as "UTF-8 with BOM" (Windows Notepad before 2019)
		// begins with U+FEFF, which is no PEM and no white space: the text
		// read "is not PEM text". Files concatenated so hold it in between.
		{"private, after a byte order mark", private, "\uFEFF" + exampleKey(t, "apiclient_key.pem"), merchant, ""},
		{"private, after its certificate, both files with a byte order mark", private,
			"\uFEFF" + exampleKey(t, "apiclient_cert.pem") + "\uFEFF" + exampleKey(t, "apiclient_key.pem"), merchant, ""},
		{"public, after a byte order mark", ParsePublicKey, "\uFEFF" + exampleKey(t, "wechatpay_pub_key.pem"), platform, ""},
		{"public, after a byte order mark, on one line with \\n", ParsePublicKey, "\uFEFF" + oneLine(exampleKey(t, "wechatpay_pub_key.pem"), `\n`), platform, ""},
		{"certificate, after a byte order mark", firstCertificateKey, "\uFEFF" + exampleKey(t, "wechatpay_platform_cert.pem"), platform, ""},
		{"certificates, each after a byte order mark", lastCertificateKey,
			"\uFEFF" + exampleKey(t, "wechatpay_platform_cert.pem") + "\uFEFF" + exampleKey(t, "apiclient_cert.pem"), merchant, ""},
		// WeChat Pay's keys are RSA 2048 (docs/providers/wechat_v3.md Keys):
		// a key crypto/rsa refuses to use, or one of a size WeChat never
		// issues, fails the load where it failed every request.
		{"private, 512 bits (crypto/rsa signs nothing with it)", private, weak512, nil, "is a 512-bit RSA key" + keySizeRule},
		{"private, 1024 bits", private, pemText("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(weak1024))), nil, "is a 1024-bit RSA key" + keySizeRule},
		{"private, 1024 bits, PKCS#1", private, pemText("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(weak1024)), nil, "is a 1024-bit RSA key" + keySizeRule},
		{"public, 1024 bits", ParsePublicKey, pemText("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&weak1024.PublicKey))), nil, "is a 1024-bit RSA key" + keySizeRule},
		{"public, 4104 bits (no signature VerifyMessage reads)", ParsePublicKey, pemText("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(oddModulus(4104, 65537))), nil,
			"is a 4104-bit RSA key" + keySizeRule},
		{"public, 4096 bits", ParsePublicKey, pemText("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(oddModulus(4096, 65537))), oddModulus(4096, 65537), ""},
		{"public, exponent 1", ParsePublicKey, pemText("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: platform.N, E: 1})), nil, unusableKey},
		{"public, even exponent", ParsePublicKey, pemText("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: platform.N, E: 65536}))), nil, unusableKey},
		{"public, even modulus", ParsePublicKey, pemText("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: new(big.Int).SetBit(platform.N, 0, 0), E: 65537})), nil, unusableKey},
		// Built by hand: rsa.PublicKey's E is an int, 32 bits on 386 and arm.
		{"public, exponent 65537, PKIX by hand", ParsePublicKey, pemText("PUBLIC KEY", pkixRSA(platform.N, 65537)), platform, ""},
		{"public, exponent 2^31+1", ParsePublicKey, pemText("PUBLIC KEY", pkixRSA(platform.N, 1<<31+1)), nil, exponentPast31},
		{"public, exponent 3", ParsePublicKey, pemText("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: platform.N, E: 3})), &rsa.PublicKey{N: platform.N, E: 3}, ""},
		{"certificate, 1024 bits", firstCertificateKey, weakCertificate(t, weak1024), nil, "holds a certificate with a 1024-bit RSA key" + keySizeRule},
		{"certificate, 2048 bits", firstCertificateKey, exampleKey(t, "wechatpay_platform_cert.pem"), platform, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.parse(tt.text)
			if err != nil && (strings.Contains(err.Error(), "MII") || strings.Contains(err.Error(), tt.text)) {
				t.Fatalf("error %q carries key material", err)
			}
			switch {
			case tt.want != nil && (err != nil || !k.Equal(tt.want)):
				t.Fatalf("key %v, error %v", k != nil, err)
			case tt.want == nil && (err == nil || err.Error() != tt.err):
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}

// The refusal of a private_key file with two keys.
const twoKeys = "holds more than one key (PEM blocks besides certificates): give the merchant API private key alone, or after its certificate"

// The refusal of a key size WeChat Pay does not use, after the size.
const keySizeRule = ", and WeChat Pay's keys are RSA 2048 (2048 to 4096 bits are accepted)"

// The refusal of a key crypto/rsa refuses to use.
const unusableKey = "is an RSA key crypto/rsa refuses to use (an even modulus, or a public exponent that is even, below 3 or above 2^31-1)"

// weak512 is a 512-bit RSA key (openssl genrsa 512), which crypto/rsa
// parses but refuses to sign or verify with.
const weak512 = `-----BEGIN PRIVATE KEY-----
MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEA08xcKfyeTdxvfKQs
okSi/bpxkqp1BH62Kc50Q+Polp+3BPH4CQKZSM/lOshRB5H5DMReCTm0awvzYWVW
htp8UQIDAQABAkEAx4ip82xo/1WDOtu4qQ8ctwllYhVwtNFjcLNt2V/nia4rUHAy
FCstPGn17ZG//PsqSr7L8UsnU2KnDZlFqEW/IQIhAPDtc2zj6jZMj2yn/LhYtImB
M7XWkRuNmV2HmHnBCkltAiEA4QxkgLHbQZwFFiJdriIHBqcd5KzclsgHKVum/Cl3
s/UCIFxYp4V1VrC5Z8AeI6AFYC3UeB2awMPu4noXHzqL44WBAiEAjOE3ISE1wlKr
FHoa7uE6SL3hBr/3ryQ0530KgZxr5OkCIQCAb2M9mnBy8NpDL8CG2B3HWEQ7lKJQ
k31PvCzJvZEhfA==
-----END PRIVATE KEY-----
`

// weak1024 is a 1024-bit key: crypto/rsa signs with it, WeChat Pay
// issues none.
var weak1024 = must(rsa.GenerateKey(rand.Reader, 1024))

// pkixRSA is the PKIX DER of the RSA public key n, e (RFC 8017 A.1.1 inside
// RFC 5280's SubjectPublicKeyInfo), for an e no int of 32 bits holds.
func pkixRSA(n *big.Int, e int64) []byte {
	key := must(asn1.Marshal(struct{ N, E *big.Int }{n, big.NewInt(e)}))
	rsaEncryption := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, Parameters: asn1.NullRawValue}
	return must(asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}{rsaEncryption, asn1.BitString{Bytes: key, BitLength: 8 * len(key)}}))
}

// exponentPast31 is the refusal of a public exponent past 2^31-1, which
// crypto/x509 already refuses where an int has 32 bits (it reads E into
// one): the key fails the load on every platform, named differently.
var exponentPast31 = map[bool]string{true: unusableKey, false: "is not a PKIX public key"}[strconv.IntSize == 64]

// oddModulus is a public key of an odd modulus of bits bits (no product
// of two primes, which a public key's checks cannot tell).
func oddModulus(bits, e int) *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return &rsa.PublicKey{N: n.SetBit(n, 0, 1), E: e}
}

// weakCertificate is a self-signed certificate of key.
func weakCertificate(t *testing.T, key *rsa.PrivateKey) string {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5EED), Subject: pkix.Name{CommonName: "weak"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pemText("CERTIFICATE", der)
}

// firstCertificateKey is the key of the first certificate of text.
func firstCertificateKey(text string) (*rsa.PublicKey, error) {
	certs, err := ParseCertificates(text)
	if err != nil {
		return nil, err
	}
	return certs[0].PublicKey.(*rsa.PublicKey), nil
}

// lastCertificateKey is the key of the last certificate of text.
func lastCertificateKey(text string) (*rsa.PublicKey, error) {
	certs, err := ParseCertificates(text)
	if err != nil {
		return nil, err
	}
	return certs[len(certs)-1].PublicKey.(*rsa.PublicKey), nil
}
