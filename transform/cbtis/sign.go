package cbtis

import (
	"crypto/sha256"
	"encoding/hex"
)

// Signature is the notification signature of body under key: lowercase hex
// SHA-256 (a plain hash, not an HMAC) of body + "." + key.
func Signature(body []byte, key string) string {
	h := sha256.New()
	h.Write(body)
	h.Write([]byte{'.'})
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}
