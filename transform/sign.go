package transform

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"iter"
	"slices"
	"strings"
	"sync"
)

// Param is one name/value pair of a signed parameter set.
type Param struct {
	Name, Value string
}

// Params is an ordered parameter set, the raw parsed form of a flat XML
// document or a form; signing and verifying always work on it, never on a
// typed struct, so fields a provider adds later are still signed.
type Params []Param

// Get returns the value of the first parameter called name.
func (p Params) Get(name string) string {
	for i := range p {
		if p[i].Name == name {
			return p[i].Value
		}
	}
	return ""
}

// Has tells whether a parameter called name is present.
func (p Params) Has(name string) bool {
	for i := range p {
		if p[i].Name == name {
			return true
		}
	}
	return false
}

// HasDuplicate tells whether a name occurs twice. No provider repeats one;
// a repeated name lets Get (the first value) and Map or a signature (every
// value) disagree, so a document giving one is refused.
func (p Params) HasDuplicate() bool {
	if len(p) > 32 { // a 64 KiB body can hold thousands of elements: stay linear
		seen := make(map[string]struct{}, len(p))
		for _, kv := range p {
			if _, ok := seen[kv.Name]; ok {
				return true
			}
			seen[kv.Name] = struct{}{}
		}
		return false
	}
	for i := 1; i < len(p); i++ {
		for j := 0; j < i; j++ {
			if p[i].Name == p[j].Name {
				return true
			}
		}
	}
	return false
}

// Map copies the parameters into a map (the event's data).
func (p Params) Map() map[string]string {
	m := make(map[string]string, len(p))
	for _, kv := range p {
		m[kv.Name] = kv.Value
	}
	return m
}

// SortedQueryAmbiguous tells whether the string SortedQuery writes for p
// has another reading as sorted k=v pairs that tolerated does not accept: a
// value of field holding "&name=" where name sorts after field. Two
// documents then sign the same: in one, a field after it was moved into
// the value and removed (name sorts before the next field); in the other,
// name is a field whose value ran on over the fields that follow (name
// sorts after them, up to the next name that sorts after it). tolerated
// decides which readings are harmless (a merchant's own attach of
// key=value pairs whose names no genuine document has); nil tolerates none.
// Not covered: a name sorting before field, which gives another reading
// only with field itself read as part of the value before it (a forged
// field added after a genuine one, running on over the genuine fields that
// follow); a caller whose own values never hold "&name=" refuses those
// separately (wechat_v2 outside the merchant's free text).
func (p Params) SortedQueryAmbiguous(skip string, tolerated func(field, name string) bool) bool {
	for _, kv := range p {
		if kv.Value == "" || kv.Name == skip { // not signed
			continue
		}
		for name := range PairNames(kv.Value) {
			if name > kv.Name && (tolerated == nil || !tolerated(kv.Name, name)) {
				return true
			}
		}
	}
	return false
}

// PairNames yields the names a value would give fields if the signed
// string's reader took its "&name=" for a boundary: each non-empty text
// between an '&' and the next '=' that holds no '&'.
func PairNames(v string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for {
			amp := strings.IndexByte(v, '&')
			if amp < 0 {
				return
			}
			v = v[amp+1:]
			eq := strings.IndexByte(v, '=')
			if eq <= 0 || strings.IndexByte(v[:eq], '&') >= 0 {
				continue
			}
			if !yield(v[:eq]) {
				return
			}
		}
	}
}

// SortedQuery writes the signature base string shared by WeChat Pay v2 and
// Latipay: non-empty parameters except skip, sorted by name (ASCII), joined as
// k=v with '&', values raw. The result is appended to dst.
func (p Params) SortedQuery(dst []byte, skip string) []byte {
	var small [32]sortEntry
	entries := small[:0]
	for i := range p {
		if p[i].Value != "" && p[i].Name != skip {
			entries = append(entries, sortEntry{key: nameKey(p[i].Name), i: i})
		}
	}
	less := func(a, b sortEntry) bool {
		if a.key != b.key {
			return a.key < b.key
		}
		return p[a.i].Name < p[b.i].Name
	}
	if len(entries) > 48 {
		slices.SortFunc(entries, func(a, b sortEntry) int {
			if less(a, b) {
				return -1
			}
			if less(b, a) {
				return 1
			}
			return 0
		})
	} else { // insertion sort: parameter sets are small, and this avoids sort's overhead
		for i := 1; i < len(entries); i++ {
			for j := i; j > 0 && less(entries[j], entries[j-1]); j-- {
				entries[j], entries[j-1] = entries[j-1], entries[j]
			}
		}
	}
	for n, e := range entries {
		if n > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, p[e.i].Name...)
		dst = append(dst, '=')
		dst = append(dst, p[e.i].Value...)
	}
	return dst
}

// sortEntry is a parameter to sort, with its name's first bytes as a number:
// most comparisons of names are decided by one integer comparison.
type sortEntry struct {
	key uint64
	i   int
}

// nameKey is the first 8 bytes of name, big-endian, padded with zeros:
// keys order as their names do, and equal keys leave the order to the
// names (a name that is a prefix of the other, or shares its first 8
// bytes).
func nameKey(name string) uint64 {
	if len(name) >= 8 {
		return uint64(name[0])<<56 | uint64(name[1])<<48 | uint64(name[2])<<40 | uint64(name[3])<<32 |
			uint64(name[4])<<24 | uint64(name[5])<<16 | uint64(name[6])<<8 | uint64(name[7])
	}
	var k uint64
	for i := 0; i < len(name); i++ {
		k |= uint64(name[i]) << (56 - 8*i)
	}
	return k
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// GetBuf and PutBuf recycle scratch buffers on the signing hot path.
func GetBuf() *[]byte { b := bufPool.Get().(*[]byte); *b = (*b)[:0]; return b }

// PutBuf returns a buffer taken with GetBuf. It zeroes what was written:
// a string to sign ends with the merchant's key, which should not linger in
// a pooled (or dropped) buffer for whatever reads it next.
func PutBuf(b *[]byte) {
	clear(*b)
	if cap(*b) <= 64<<10 {
		bufPool.Put(b)
	}
}

// AppendMD5Hex appends the hex MD5 of msg to dst, uppercase when upper;
// into a caller's stack buffer it allocates nothing (a signature that is
// only compared never needs a string).
func AppendMD5Hex(dst, msg []byte, upper bool) []byte {
	sum := md5.Sum(msg)
	return AppendHex(dst, sum[:], upper)
}

// SHA256Hex is the hex SHA-256 of msg, uppercase when upper.
func SHA256Hex(msg []byte, upper bool) string {
	sum := sha256.Sum256(msg)
	var buf [2 * sha256.Size]byte
	return string(AppendHex(buf[:0], sum[:], upper))
}

// HMACSHA256Hex is the hex HMAC-SHA256 of msg under key, uppercase when upper.
func HMACSHA256Hex(key string, msg []byte, upper bool) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(msg)
	var sum [sha256.Size]byte
	var buf [2 * sha256.Size]byte
	return string(AppendHex(buf[:0], m.Sum(sum[:0]), upper))
}

// HMACPool computes HMAC-SHA256 under one key, reusing hash states: building
// an HMAC costs several allocations, and a client signs with the same key
// on every request. Safe for concurrent use.
type HMACPool struct{ pool sync.Pool }

// pooledHMAC is a hash state with room for its sum: Sum through the
// hash.Hash interface would move a buffer on the caller's stack to the heap.
type pooledHMAC struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewHMACPool returns an HMACPool for key.
func NewHMACPool(key string) *HMACPool {
	k := []byte(key)
	return &HMACPool{pool: sync.Pool{New: func() any { return &pooledHMAC{h: hmac.New(sha256.New, k)} }}}
}

// Hex is the hex HMAC-SHA256 of msg, uppercase when upper.
func (p *HMACPool) Hex(msg []byte, upper bool) string {
	var buf [2 * sha256.Size]byte
	return string(p.AppendHex(buf[:0], msg, upper))
}

// AppendHex appends Hex's result to dst.
func (p *HMACPool) AppendHex(dst, msg []byte, upper bool) []byte {
	m := p.pool.Get().(*pooledHMAC)
	m.h.Reset()
	m.h.Write(msg)
	dst = AppendHex(dst, m.h.Sum(m.sum[:0]), upper)
	p.pool.Put(m)
	return dst
}

// AppendHex appends the hex encoding of sum to dst, uppercase when upper.
func AppendHex(dst, sum []byte, upper bool) []byte {
	digits := "0123456789abcdef"
	if upper {
		digits = "0123456789ABCDEF"
	}
	for _, c := range sum {
		dst = append(dst, digits[c>>4], digits[c&0x0f])
	}
	return dst
}

// EqualHexConstantTime compares a received hex signature with the expected
// one in constant time, ignoring ASCII case (providers differ in the case they
// print). A received value that is not hex never matches.
// want may be a string or a caller's buffer (AppendMD5Hex), so the expected
// value of a check costs no allocation.
func EqualHexConstantTime[W string | []byte](got string, want W) bool {
	if len(got) != len(want) {
		return false
	}
	for i := 0; i < len(got); i++ {
		if !isHexDigit(got[i]) { // the received value is public: branching on it leaks nothing
			return false
		}
	}
	var diff byte
	for i := 0; i < len(got); i++ {
		diff |= (got[i] | 0x20) ^ (want[i] | 0x20) // |0x20 lowercases hex letters and keeps digits
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// EqualConstantTime compares two signatures byte for byte in constant time.
func EqualConstantTime(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
