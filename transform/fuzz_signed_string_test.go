package transform

import (
	"slices"
	"strings"
	"testing"
)

// fuzzParams reads the fuzzer's text as parameters: entries separated by
// '|', name and value split at the first '\t'. Names holding '&' or '=',
// empty names (no XML element has one) and a name seen before (HasDuplicate
// refuses the document first) are left out.
func fuzzParams(text string) Params {
	var p Params
	seen := map[string]bool{}
	for _, e := range strings.Split(text, "|") {
		name, value, _ := strings.Cut(e, "\t")
		if name == "" || strings.ContainsAny(name, "&=") || seen[name] {
			continue
		}
		seen[name] = true
		p = append(p, Param{Name: name, Value: value})
	}
	return p
}

// fuzzTolerated stands for wechat_v2's freeTextPairs: pairs in attach are
// tolerated unless their name starts with 'w' (one of "WeChat's").
func fuzzTolerated(field, name string) bool {
	return field == "attach" && !strings.HasPrefix(name, "w")
}

// FuzzSortedQueryAmbiguous: when SortedQueryAmbiguous is false, the string
// SortedQuery writes has no second reading as sorted k=v pairs that keeps
// every boundary of the first and adds one (a signed field moved into the
// value before it), unless tolerated accepts the added name. The readings
// are found here by scanning the signed string itself, not p's values.
func FuzzSortedQueryAmbiguous(f *testing.F) {
	// sign_test.go's TestSortedQueryAmbiguous rows and the wechat_v2 attacks
	// (result_code moved into out_trade_no; attach with the merchant's pairs).
	for _, s := range []string{
		"a\t1|c\t2", "a\t1&b=2|c\t3", "c\t3|a\t1&b=2", "a\t1|c\t3&d=4", "a\t1&d=2|c\t3", "b\t1&a=2|c\t3",
		"a\t1&b|c\t3", "a\t1&=2|c\t3", "a\t1&x&d=2|c\t3", "a\t1&z=0&b=2|c\t3", "a\t1&b=2|b\t|c\t3",
		"a\t1&b=2|sign\tS|c\t3", "attach\t1&b=2|c\t3", "attach\t1&wb=2|c\t3",
		"out_trade_no\tO1&result_code=SUCCESS|return_code\tSUCCESS|sign\tX|time_end\t20261206",
		"attach\tstore=1&employee=7|bank_type\tCFT|device_info\tstore=1&employee=7|fee_type\tCNY",
		"a\t&b=2|c\t3", "a\t1&b=|c\t3", "a\t1&sign=2|z\t3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := fuzzParams(text)
		if p.HasDuplicate() {
			t.Fatalf("fuzzParams gave a duplicate: %q", text)
		}
		s := string(p.SortedQuery(nil, "sign"))
		// The first reading's pairs, sorted by name as SortedQuery sorts:
		// where each starts in s.
		type pair struct {
			start       int
			name, value string
		}
		var pairs []pair
		for _, kv := range p {
			if kv.Value != "" && kv.Name != "sign" {
				pairs = append(pairs, pair{name: kv.Name, value: kv.Value})
			}
		}
		slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.name, b.name) })
		var joined []string
		for i, at := 0, 0; i < len(pairs); i++ {
			pairs[i].start = at
			at += len(pairs[i].name) + 1 + len(pairs[i].value) + 1
			joined = append(joined, pairs[i].name+"="+pairs[i].value)
		}
		if strings.Join(joined, "&") != s {
			t.Fatalf("SortedQuery %q, pairs %q", s, joined)
		}
		boundary := map[int]int{} // start in s -> index in pairs
		for i, pr := range pairs {
			boundary[pr.start] = i
		}
		ambiguous := p.SortedQueryAmbiguous("sign", nil)
		toleratedAmbiguous := p.SortedQueryAmbiguous("sign", fuzzTolerated)
		if toleratedAmbiguous && !ambiguous {
			t.Fatalf("tolerating made %v ambiguous", p)
		}
		// Every '&' of s that is not a boundary, read as the start of an
		// added pair inside pair i.
		for amp := 0; amp < len(s); amp++ {
			if s[amp] != '&' {
				continue
			}
			if _, ok := boundary[amp+1]; ok {
				continue
			}
			i := 0
			for i+1 < len(pairs) && pairs[i+1].start <= amp {
				i++
			}
			end := len(s) // where pair i's value ends (before the next '&' boundary)
			next := ""
			if i+1 < len(pairs) {
				end, next = pairs[i+1].start-1, pairs[i+1].name
			}
			eq := strings.IndexByte(s[amp+1:end], '=')
			if eq <= 0 {
				continue
			}
			name := s[amp+1 : amp+1+eq]
			valueStart := pairs[i].start + len(pairs[i].name) + 1
			// A name sorting before the next field splits a pair out of
			// this value; one sorting at or after it runs on over the
			// following pairs up to the next name sorting after it (its
			// value is never empty then).
			swallows := next != "" && name >= next
			if strings.IndexByte(name, '&') >= 0 || name == "sign" || amp == valueStart || (amp+1+eq+1 == end && !swallows) {
				continue // not a reading SortedQuery could have written
			}
			if name <= pairs[i].name {
				continue // the added pair would be out of order
			}
			if !ambiguous {
				t.Fatalf("%q reads also with %s=... split out of %s (swallowing what follows: %v): SortedQueryAmbiguous is false", s, name, pairs[i].name, swallows)
			}
			if !toleratedAmbiguous && !fuzzTolerated(pairs[i].name, name) {
				t.Fatalf("%q reads also with %s=... split out of %s: ambiguous is false under tolerated", s, name, pairs[i].name)
			}
		}
		if ambiguous && !strings.Contains(s, "&") {
			t.Fatalf("%q has a single reading, yet is ambiguous", s)
		}
	})
}

// FuzzHasDuplicate: HasDuplicate agrees with a map of the names seen, below
// and past its 32-parameter switch to a map.
func FuzzHasDuplicate(f *testing.F) {
	f.Add("a|b|c", 0)
	f.Add("a|b|a", 0)
	f.Add("return_code|sign|return_code", 40)
	f.Add("x", 33)
	f.Fuzz(func(t *testing.T, text string, pad int) {
		var p Params
		for _, n := range strings.Split(text, "|") {
			p = append(p, Param{Name: n})
		}
		pad = min(max(pad, 0), 64)
		for i := range pad { // distinct filler names none of the fuzzer's can equal
			p = append(p, Param{Name: "\xff\xfe" + strings.Repeat("\xfd", i)})
		}
		seen, want := map[string]bool{}, false
		for _, kv := range p {
			want = want || seen[kv.Name]
			seen[kv.Name] = true
		}
		if got := p.HasDuplicate(); got != want {
			t.Fatalf("HasDuplicate of %d names %q = %v, want %v", len(p), text, got, want)
		}
	})
}

// FuzzPaymentStatusAppendJSON: the hand-written status object is byte-equal
// to encoding/json's (HTML escaping off) for the same struct, paid_at left
// out unless the order is succeeded or refunded.
func FuzzPaymentStatusAppendJSON(f *testing.F) {
	f.Add("O1", "4200000001", StatusSucceeded, "12.34", "CNY", "2026-12-06T10:00:00+08:00", "SUCCESS")
	f.Add("O1", "", StatusFailed, "1", "JPY", "2026-12-06T10:00:00+08:00", "PAYERROR")
	f.Add("O1", "", StatusRefunded, "0.01", "CNY", "", "REFUND")
	f.Add("\x00\"\\\u2028<>&", "\xff\xfe", "succeeded ", "\t\n\r", "\u2029", "\x7f", "\u4e2d")
	type plain PaymentStatus // no MarshalJSON: encoding/json's own output
	f.Fuzz(func(t *testing.T, orderID, providerOrderID, status, amount, currency, paidAt, providerStatus string) {
		s := PaymentStatus{Provider: "wechat_v2", OrderID: orderID, ProviderOrderID: providerOrderID, Status: status,
			Amount: amount, Currency: currency, PaidAt: paidAt, ProviderStatus: providerStatus}
		got := string(s.AppendJSON(nil))
		want := plain(s)
		if status != StatusSucceeded && status != StatusRefunded {
			want.PaidAt = ""
		}
		if w := stdJSON(t, want); got != w {
			t.Fatalf("\n got %s\nwant %s", got, w)
		}
		if m := string(Marshal(&s)); m != got {
			t.Fatalf("Marshal %s, AppendJSON %s", m, got)
		}
	})
}

// unescapeEventReference reads back the reference EventID wrote: %XX (upper
// case hex) is one byte, and a '%' not followed by two such digits is not
// something EventID writes.
func unescapeEventReference(s string) (string, bool) {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, lo := strings.IndexByte(hex, s[i+1]), strings.IndexByte(hex, s[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), true
}

// FuzzEventID: the id of a reference holds no control byte and no byte
// past ASCII (it is the Minipay-Event-Id header) and decodes back to the reference, so two
// references never share an id.
func FuzzEventID(f *testing.F) {
	f.Add("4200000001202612060000000001", "")
	f.Add("a\x00b", "a%00b")
	f.Add("100%", "100%25")
	f.Add("%25", "%")
	f.Add("\x7f\r\n%", "x:y")
	f.Add("订单é", "%E8%AE%A2%E5%8D%95%C3%A9")
	f.Fuzz(func(t *testing.T, reference, other string) {
		const provider, typ = "latipay", EventPaymentSucceeded
		id := EventID(provider, reference, typ)
		for i := 0; i < len(id); i++ {
			if c := id[i]; c < 0x20 || c >= 0x7f {
				t.Fatalf("EventID(%q) = %q holds byte %#x", reference, id, c)
			}
		}
		middle, ok := strings.CutPrefix(id, provider+":")
		if ok {
			middle, ok = strings.CutSuffix(middle, ":"+typ)
		}
		if !ok {
			t.Fatalf("EventID(%q) = %q is not provider:reference:type", reference, id)
		}
		if back, ok := unescapeEventReference(middle); !ok || back != reference {
			t.Fatalf("EventID(%q) = %q reads back as %q (%v)", reference, id, back, ok)
		}
		if other != reference && EventID(provider, other, typ) == id {
			t.Fatalf("EventID(%q) = EventID(%q) = %q", reference, other, id)
		}
	})
}
