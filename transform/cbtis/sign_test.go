package cbtis

import "testing"

func TestSignatureKnownAnswer(t *testing.T) {
	if got := Signature([]byte(vecBody), vecAPIKey); got != vecSignature {
		t.Fatalf("Signature = %s, want %s", got, vecSignature)
	}
	if got := refSignature([]byte(vecBody), vecAPIKey); got != vecSignature {
		t.Fatalf("the reference signer = %s", got)
	}
}
