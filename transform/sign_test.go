package transform

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestNonce(t *testing.T) {
	for _, n := range []int{0, 1, 16, 32, 64, 65, 200} {
		s := Nonce(n)
		if len(s) != n {
			t.Fatalf("len(Nonce(%d)) = %d", n, len(s))
		}
		for i := 0; i < len(s); i++ {
			if !strings.ContainsRune(nonceAlphabet, rune(s[i])) {
				t.Fatalf("Nonce(%d) = %q holds %q, outside A-Za-z0-9", n, s, s[i])
			}
		}
	}
	if a, b := Nonce(32), Nonce(32); a == b {
		t.Fatalf("two nonces are equal: %s", a)
	}
	if len(nonceAlphabet) != 62 {
		t.Fatalf("the alphabet has %d characters, the bias bound assumes 62", len(nonceAlphabet))
	}
	// Every character of the alphabet shows up over many draws (a biased
	// or truncated mapping would miss some).
	seen := map[byte]bool{}
	for _, c := range []byte(Nonce(62 * 64)) {
		seen[c] = true
	}
	if len(seen) != 62 {
		t.Fatalf("%d of 62 characters seen in 3968 draws", len(seen))
	}
}

// Nonces drawn concurrently, across many refills of the read-ahead, are
// all different and all of the alphabet.
func TestNonceConcurrent(t *testing.T) {
	const workers, each = 4, 2000 // 2000 nonces use about 64 refills of 1 KiB
	results := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				results[w] = append(results[w], string(AppendNonce(nil, 32)))
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, r := range results {
		for _, n := range r {
			if len(n) != 32 || strings.Trim(n, nonceAlphabet) != "" {
				t.Fatalf("nonce %q", n)
			}
			if seen[n] {
				t.Fatalf("nonce %s drawn twice", n)
			}
			seen[n] = true
		}
	}
}

func TestEqualHexConstantTime(t *testing.T) {
	const sig = "9A0A8659F005D6984697E2CA0A9CF3B7" // docs/providers/wechat_v2.md MD5 vector
	tests := []struct {
		got, want string
		eq        bool
	}{
		{sig, sig, true},
		{strings.ToLower(sig), sig, true},
		{"9a0A8659f005D6984697e2CA0A9CF3B7", sig, true},
		{"9A0A8659F005D6984697E2CA0A9CF3B8", sig, false},
		{sig[:31], sig, false},
		{sig + "0", sig, false},
		{"", sig, false},
		{"", "", true},
		// not hex: '|0x20' must not make these equal to the digits/letters
		{"\x19A0A8659F005D6984697E2CA0A9CF3B7", sig, false}, // 0x19|0x20 = '9'
		{"9\x010A8659F005D6984697E2CA0A9CF3B7", sig, false}, // 0x01|0x20 = '!'
		{"9Z0A8659F005D6984697E2CA0A9CF3B7", sig, false},
		{"9A0A8659F005D6984697E2CA0A9CF3B\x17", sig, false}, // 0x17|0x20 = '7'
		{"zz", "ZZ", false},
		{"9A0A8659F005D6984697E2CA0A9CF3 7", sig, false},
	}
	for _, tt := range tests {
		if got := EqualHexConstantTime(tt.got, tt.want); got != tt.eq {
			t.Errorf("EqualHexConstantTime(%q, %q) = %v, want %v", tt.got, tt.want, got, tt.eq)
		}
	}
}

func TestEqualConstantTime(t *testing.T) {
	if !EqualConstantTime("abc", "abc") || EqualConstantTime("abc", "ABC") || EqualConstantTime("abc", "abcd") {
		t.Fatal("EqualConstantTime is not an exact comparison")
	}
}

func TestSortedQuery(t *testing.T) {
	p := Params{
		{Name: "nonce_str", Value: "n"},
		{Name: "sign", Value: "SIGN"},
		{Name: "B", Value: "upper"},
		{Name: "appid", Value: "wx1"},
		{Name: "attach", Value: ""},
		{Name: "a_b", Value: "x&y=z"},
		{Name: "a", Value: "1"},
		{Name: "body", Value: "测试 商品"},
	}
	tests := []struct {
		skip, want string
	}{
		// ASCII order: uppercase before lowercase, "a" < "a_b" < "appid"; empty
		// values and the skipped name left out; values raw, not URL-encoded.
		{"sign", "B=upper&a=1&a_b=x&y=z&appid=wx1&body=测试 商品&nonce_str=n"},
		{"", "B=upper&a=1&a_b=x&y=z&appid=wx1&body=测试 商品&nonce_str=n&sign=SIGN"},
		{"appid", "B=upper&a=1&a_b=x&y=z&body=测试 商品&nonce_str=n&sign=SIGN"},
	}
	for _, tt := range tests {
		if got := string(p.SortedQuery(nil, tt.skip)); got != tt.want {
			t.Errorf("SortedQuery(skip %q)\n got %s\nwant %s", tt.skip, got, tt.want)
		}
	}
	if got := string(p.SortedQuery([]byte("prefix:"), "sign")); !strings.HasPrefix(got, "prefix:B=upper&") {
		t.Errorf("SortedQuery does not append to dst: %s", got)
	}
	if got := string(Params{{Name: "a"}, {Name: "b"}}.SortedQuery(nil, "")); got != "" {
		t.Errorf("all-empty params = %q", got)
	}
	if got := string(Params(nil).SortedQuery(nil, "sign")); got != "" {
		t.Errorf("nil params = %q", got)
	}
	// more than the 32 pre-sized slots
	var many Params
	for c := 'z'; c >= 'A'; c-- {
		if c >= 'a' || c <= 'Z' {
			many = append(many, Param{Name: string(c), Value: "1"})
		}
	}
	got := string(many.SortedQuery(nil, ""))
	if !strings.HasPrefix(got, "A=1&B=1&") || !strings.HasSuffix(got, "&y=1&z=1") || strings.Count(got, "&") != 51 {
		t.Errorf("52 params: %s", got)
	}
}

// SortedQuery decides most comparisons on the names' first 8 bytes
// (nameKey): names that share them, are prefixes of each other, are shorter
// or longer than 8 bytes, hold NUL or bytes past ASCII, must still come in
// the order of sort.Strings, in the insertion sort (up to 48) and past it.
func TestSortedQueryOrder(t *testing.T) {
	names := []string{"refund_fee_type", "refund_fee", "refund_f", "refund_", "refund_fee\x00", "refund_fea",
		"a", "a\x00", "a\x00b", "ab", "", "\xff", "\xffa", "é", "sign_type", "sign", "sign_typ", "sign_type2",
		"out_trade_no", "out_refund_no", "Z", "_", "0", "zzzzzzzzz", "zzzzzzzz", "zzzzzzz"}
	for _, many := range []bool{false, true} {
		var p Params
		for i, n := range names {
			p = append(p, Param{Name: n, Value: strconv.Itoa(i)})
			if many { // past 48 entries the sort is slices.SortFunc
				p = append(p, Param{Name: n + "~" + strconv.Itoa(i), Value: "x"})
			}
		}
		var sorted []string
		for _, x := range p {
			sorted = append(sorted, x.Name)
		}
		sort.Strings(sorted)
		var want []string // names are unique here, so each one's value is found by name
		for _, n := range sorted {
			want = append(want, n+"="+p[slices.IndexFunc(p, func(x Param) bool { return x.Name == n })].Value)
		}
		if got := string(p.SortedQuery(nil, "no such name")); got != strings.Join(want, "&") {
			t.Errorf("%d parameters:\n got %q\nwant %q", len(p), got, strings.Join(want, "&"))
		}
	}
}

func TestParamsAccessors(t *testing.T) {
	p := Params{{Name: "a", Value: "1"}, {Name: "empty"}, {Name: "a", Value: "2"}}
	if p.Get("a") != "1" || p.Get("missing") != "" || p.Get("empty") != "" {
		t.Fatal("Get does not return the first value")
	}
	if !p.Has("empty") || p.Has("missing") {
		t.Fatal("Has")
	}
	m := p.Map()
	if len(m) != 2 || m["empty"] != "" {
		t.Fatalf("Map = %v", m)
	}
}

// Standard vectors: MD5 from RFC 1321 appendix A.5, SHA-256 from FIPS 180-2
// appendix B.1, HMAC-SHA256 from RFC 4231 test case 2.
func TestHashHex(t *testing.T) {
	if got := string(AppendMD5Hex(nil, []byte("abc"), false)); got != "900150983cd24fb0d6963f7d28e17f72" {
		t.Errorf("AppendMD5Hex = %s", got)
	}
	if got := string(AppendMD5Hex(nil, []byte("abc"), true)); got != "900150983CD24FB0D6963F7D28E17F72" {
		t.Errorf("AppendMD5Hex upper = %s", got)
	}
	if got := SHA256Hex([]byte("abc"), false); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("SHA256Hex = %s", got)
	}
	const rfc4231 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got := HMACSHA256Hex("Jefe", []byte("what do ya want for nothing?"), false); got != rfc4231 {
		t.Errorf("HMACSHA256Hex = %s", got)
	}
	if got := HMACSHA256Hex("Jefe", []byte("what do ya want for nothing?"), true); got != strings.ToUpper(rfc4231) {
		t.Errorf("HMACSHA256Hex upper = %s", got)
	}
	pool := NewHMACPool("Jefe")
	for i := 0; i < 3; i++ { // pooled states are reset between uses
		if got := pool.Hex([]byte("what do ya want for nothing?"), false); got != rfc4231 {
			t.Errorf("HMACPool round %d = %s", i, got)
		}
		// the upper-case path wechat_v2 and 2C2P sign with, appended to dst
		if got := string(pool.AppendHex([]byte("x"), []byte("what do ya want for nothing?"), true)); got != "x"+strings.ToUpper(rfc4231) {
			t.Errorf("HMACPool.AppendHex round %d = %s", i, got)
		}
	}
}

func TestBufPool(t *testing.T) {
	b := GetBuf()
	*b = append(*b, "dirty"...)
	PutBuf(b)
	if c := GetBuf(); len(*c) != 0 {
		t.Fatalf("GetBuf returned %d stale bytes", len(*c))
	}
	big := make([]byte, 0, 128<<10)
	PutBuf(&big) // an oversized buffer is dropped, not pooled; must not panic

	// A string to sign ends with the merchant's key: what goes back to the
	// pool holds none of it, whether pooled or dropped.
	for _, size := range []int{0, 128 << 10} {
		s := GetBuf()
		if size > 0 {
			*s = make([]byte, 0, size)
		}
		*s = append(*s, "a=1&key=192006250b4c09247ec02edce69f6a2d"...)
		written := (*s)[:len(*s)]
		PutBuf(s)
		for i, c := range written {
			if c != 0 {
				t.Fatalf("capacity %d: byte %d is %q after PutBuf", size, i, c)
			}
		}
	}
}

func BenchmarkNonce(b *testing.B) {
	b.ReportAllocs()
	var buf [32]byte
	for b.Loop() {
		AppendNonce(buf[:0], len(buf))
	}
}

// BenchmarkSortedQuery is the string a wechat_v2 unifiedorder signs: the
// largest parameter set of a pay, in the order the client builds it.
func BenchmarkSortedQuery(b *testing.B) {
	p := Params{
		{Name: "appid", Value: "wx8888888888888888"}, {Name: "mch_id", Value: "1900000109"},
		{Name: "nonce_str", Value: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"}, {Name: "sign_type", Value: "MD5"},
		{Name: "body", Value: "Latte"}, {Name: "out_trade_no", Value: "BENCH-1"}, {Name: "total_fee", Value: "1234"},
		{Name: "fee_type", Value: "CNY"}, {Name: "spbill_create_ip", Value: "127.0.0.1"},
		{Name: "notify_url", Value: "https://merchant.example/webhooks/wechat_v2"}, {Name: "trade_type", Value: "JSAPI"},
		{Name: "openid", Value: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = p.SortedQuery(buf[:0], "sign")
	}
}

// FuzzSortedQuery: for any distinct names (the fuzzer's text split at '|',
// any bytes), SortedQuery writes the parameters in sort.Strings order, in
// the insertion sort and, with many set, past 48 parameters.
func FuzzSortedQuery(f *testing.F) {
	f.Add("refund_fee|refund_fee_type|refund_f|a\x00|a|\xff|é|sign", false)
	f.Add("zzzzzzzz|zzzzzzz|zzzzzzzzz|\x00\x00\x00\x00\x00\x00\x00\x00|\x00", true)
	f.Fuzz(func(t *testing.T, text string, many bool) {
		var names []string // in the fuzzer's order
		seen := map[string]bool{}
		add := func(n string) {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		for _, n := range strings.Split(text, "|") {
			add(n)
		}
		for i := 0; many && len(names) <= 48; i++ {
			add(names[i%len(names)] + "\x00" + strconv.Itoa(i))
		}
		p := make(Params, len(names))
		value := make(map[string]string, len(names))
		for i, n := range names {
			p[i] = Param{Name: n, Value: "v" + strconv.Itoa(i)}
			value[n] = p[i].Value
		}
		sorted := slices.Clone(names)
		sort.Strings(sorted)
		var want []string
		for _, n := range sorted {
			want = append(want, n+"="+value[n])
		}
		if got := string(p.SortedQuery(nil, "\xff\xff no such name")); got != strings.Join(want, "&") {
			t.Fatalf("%d parameters:\n got %q\nwant %q", len(p), got, strings.Join(want, "&"))
		}
	})
}

// SortedQueryAmbiguous: a value holding "&name=" for a name that sorts
// between its field and the next one has a second reading of the signed
// string; any other '&' or '=' has none.
func TestSortedQueryAmbiguous(t *testing.T) {
	p := func(kv ...string) Params {
		var out Params
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, Param{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	attachOnly := func(field, _ string) bool { return field == "attach" }
	tests := []struct {
		name      string
		p         Params
		tolerated func(field, name string) bool
		want      bool
	}{
		{"no ampersand", p("a", "1", "c", "2"), nil, false},
		{"a field moved into the value before it", p("a", "1&b=2", "c", "3"), nil, true},
		{"document order does not matter", p("c", "3", "a", "1&b=2"), nil, true},
		{"moved into the last value", p("a", "1", "c", "3&d=4"), nil, true},
		// d="2&c=3": a field whose value ran on over the next one
		{"a name sorting after the next field", p("a", "1&d=2", "c", "3"), nil, true},
		{"a name sorting before its own field", p("b", "1&a=2", "c", "3"), nil, false},
		{"no '=' after '&'", p("a", "1&b", "c", "3"), nil, false},
		{"an empty name", p("a", "1&=2", "c", "3"), nil, false},
		{"'&' inside the would-be name", p("c", "1&x&b=2", "d", "3"), nil, false},
		{"a later '&' starts a name", p("a", "1&x&d=2", "c", "3"), nil, true},
		{"the second '&' is the ambiguous one", p("a", "1&z=0&b=2", "c", "3"), nil, true},
		{"an empty next field is not signed", p("a", "1&b=2", "b", "", "c", "3"), nil, true},
		{"the skipped field is not signed", p("a", "1&b=2", "sign", "S", "c", "3"), nil, true},
		{"tolerated", p("attach", "1&b=2", "c", "3"), attachOnly, false},
		{"not tolerated for another field", p("a", "1&b=2", "c", "3"), attachOnly, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.SortedQueryAmbiguous("sign", tt.tolerated); got != tt.want {
				t.Fatalf("SortedQueryAmbiguous(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}
