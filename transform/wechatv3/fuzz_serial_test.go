package wechatv3

import (
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
)

// FuzzSerialKey: a serial selects a certificate exactly when it names the
// certificate's serial number in hex, in either case, with or without
// leading zeros (README wechat_v3: compared as a number); any other text
// selects none.
func FuzzSerialKey(f *testing.F) {
	f.Add("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", []byte{0x51, 0x57, 0xf0})
	f.Add("0aB", []byte{0x0a, 0xbc})
	f.Add("00000ABC", []byte{0x0a, 0xbc})
	f.Add("+ABC", []byte{0x0a, 0xbc})
	f.Add("ſ", []byte{0x0a})
	f.Add("0", []byte{0})
	f.Fuzz(func(t *testing.T, serial string, number []byte) {
		n := new(big.Int).SetBytes(number)
		if n.Sign() == 0 { // RFC 5280 §4.1.2.2: a serial number is positive
			return
		}
		cert := &x509.Certificate{SerialNumber: n}
		hexDigits := serial != "" && strings.Trim(serial, "0123456789abcdefABCDEF") == ""
		m, _ := new(big.Int).SetString(serial, 16)
		names := hexDigits && m != nil && m.Cmp(n) == 0
		if got := serialKey(serial) == serialKey(CertificateSerial(cert)); got != names {
			t.Fatalf("serial %q selects the certificate of %s: %v, want %v", serial, n.Text(16), got, names)
		}
	})
}
