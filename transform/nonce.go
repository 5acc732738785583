package transform

import "crypto/rand"

const nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"

// Nonce returns n characters of [A-Za-z0-9] from crypto/rand, without modulo
// bias (values past the last whole multiple of 62 are redrawn).
func Nonce(n int) string {
	var buf [64]byte
	if n <= len(buf) {
		return string(AppendNonce(buf[:0], n)) // one allocation
	}
	return string(AppendNonce(make([]byte, 0, n), n))
}

// AppendNonce appends Nonce's n characters to dst: into a caller's stack
// buffer it allocates nothing.
func AppendNonce(dst []byte, n int) []byte {
	var rnd [64]byte
	for n > 0 {
		if _, err := rand.Read(rnd[:]); err != nil {
			panic("transform: crypto/rand failed: " + err.Error())
		}
		for _, b := range rnd {
			if b >= 248 { // 248 = 4*62
				continue
			}
			dst = append(dst, nonceAlphabet[b%62])
			if n--; n == 0 {
				break
			}
		}
	}
	return dst
}
