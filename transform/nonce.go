package transform

import (
	"crypto/rand"
	"strings"
)

const nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"

// Nonce returns n characters of [A-Za-z0-9] from crypto/rand, without modulo
// bias (values past the last whole multiple of 62 are redrawn).
func Nonce(n int) string {
	var out strings.Builder // one allocation, no copy into a string
	out.Grow(n)
	var buf [64]byte
	for i := 0; i < n; {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("transform: crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62
				continue
			}
			out.WriteByte(nonceAlphabet[b%62])
			i++
			if i == n {
				break
			}
		}
	}
	return out.String()
}
