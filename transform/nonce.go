package transform

import (
	"crypto/rand"
	"sync"
)

const nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"

// Nonce returns n characters of [A-Za-z0-9] from crypto/rand (read ahead,
// randomPool), without modulo bias (values past the last whole multiple of
// 62 are redrawn).
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
	r := randomPool.Get().(*randomBytes)
	for n > 0 {
		if r.next == len(r.buf) {
			r.fill()
		}
		rnd := r.buf[r.next:]
		i := 0
		for ; i < len(rnd) && n > 0; i++ {
			if b := rnd[i]; b < 248 { // 248 = 4*62
				dst = append(dst, nonceAlphabet[b%62])
				n--
			}
		}
		r.next += i
	}
	randomPool.Put(r)
	return dst
}

// randomBytes is crypto/rand output read ahead, handed out once each: one
// getrandom call per 1 KiB (about 30 nonces) instead of one per nonce,
// whose fixed cost would be half of a nonce's (two per wechat_v2 pay). The
// bytes are crypto/rand's own, so a nonce is exactly as unpredictable as
// one read on its own;
// what the read-ahead adds is that up to 1 KiB of future nonce material sits
// in memory, no concern for values that are sent in clear anyway.
type randomBytes struct {
	buf  [1024]byte
	next int
}

func (r *randomBytes) fill() {
	if _, err := rand.Read(r.buf[:]); err != nil {
		panic("transform: crypto/rand failed: " + err.Error())
	}
	r.next = 0
}

// randomPool gives each concurrent caller its own read-ahead; one the pool
// drops takes its unused bytes with it.
var randomPool = sync.Pool{New: func() any { r := new(randomBytes); r.fill(); return r }}
