package twoc2p

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzSignRequest: what `caddy minipay sign --provider 2c2p` prints for any
// input is a usage error or, read with the standard library alone (refOpen,
// refSign: docs/providers/2c2p.md "Signature"), a PaymentRequest envelope
// whose payload is the input document's base64, whose signature is the
// key's over that text, and whose version is the one asked for (else the
// request's, else 9.9); and the request as sent, given back in each of its
// forms (the envelope's base64, paymentRequest=…), signs to the same bytes.
func FuzzSignRequest(f *testing.F) {
	envelope, err := url.QueryUnescape(transformtest.TwoC2PDemoRequestForm[len(FieldRequest)+1:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(transformtest.TwoC2PDemoRequestForm), "")
	f.Add([]byte(envelope), "9.8")
	f.Add([]byte(refDecode(f, must(refOpen(envelope)).Payload)), "")
	f.Add([]byte("  <PaymentRequest><merchantID>JT01</merchantID></PaymentRequest>\n"), "")
	f.Add([]byte(`<PaymentRequest><payload>x</payload></PaymentRequest>`), "")
	f.Add([]byte(`<PaymentResponse/>`), "")
	f.Add([]byte("\uFEFF<PaymentRequest><merchantID>JT01</merchantID></PaymentRequest>"), "")
	f.Fuzz(func(t *testing.T, input []byte, version string) {
		payload, signature, sealed, err := SignRequest(input, version, demoSecretKey)
		if err != nil {
			if payload != "" || signature != "" || sealed != "" {
				t.Fatal("output beside an error")
			}
			return
		}
		env, err := refOpen(sealed)
		if err != nil || env.XMLName.Local != RootRequest || env.Payload != payload || env.Signature != signature ||
			signature != refSign(payload, demoSecretKey) {
			t.Fatalf("envelope %+v (%v) for payload %q, signature %q", env, err, payload, signature)
		}
		inner, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			t.Fatalf("payload %q is not base64", payload)
		}
		if trimmed := bytes.TrimPrefix(bytes.TrimSpace(input), []byte("\uFEFF")); len(trimmed) > 0 && trimmed[0] == '<' {
			if !bytes.Equal(inner, input) || env.Version != cmp.Or(version, DefaultVersion) {
				t.Fatalf("the document %q signed as %q, version %q", input, inner, env.Version)
			}
		}
		for _, sent := range []string{sealed, FieldRequest + "=" + url.QueryEscape(sealed)} {
			p2, s2, e2, err := SignRequest([]byte(sent), "", demoSecretKey)
			if err != nil || p2 != payload || s2 != signature || e2 != sealed {
				t.Fatalf("the request as sent (%q) signs to %q %q %q, %v", sent, p2, s2, e2, err)
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A payload document that begins with a UTF-8 byte order mark, as .NET's
// XmlWriter writes one (README "XML": the parser reads it, XML 1.0
// §4.3.3), is a document to sign as it is, not a request as sent that does
// not decode: also when white space follows the mark (a document without
// an XML declaration may begin with a line break), which the parser reads.
func TestSignRequestByteOrderMark(t *testing.T) {
	envelope, err := url.QueryUnescape(transformtest.TwoC2PDemoRequestForm[len(FieldRequest)+1:])
	if err != nil {
		t.Fatal(err)
	}
	payloadDocument := refDecode(t, must(refOpen(envelope)).Payload)
	for _, tt := range []struct{ name, prefix string }{
		{"mark", "\uFEFF"},
		{"mark and a line break", "\uFEFF\r\n"},
		{"mark and spaces", "\uFEFF  \t"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			document := tt.prefix + payloadDocument
			payload, signature, sealed, err := SignRequest([]byte(document), "", demoSecretKey)
			if err != nil {
				t.Fatalf("SignRequest: %v", err)
			}
			if payload != base64.StdEncoding.EncodeToString([]byte(document)) || signature != refSign(payload, demoSecretKey) {
				t.Fatalf("payload %q signature %q, want the document's base64 signed", payload, signature)
			}
			if env, err := refOpen(sealed); err != nil || env.Payload != payload || env.Signature != signature {
				t.Fatalf("envelope %+v (%v)", env, err)
			}
		})
	}
}
