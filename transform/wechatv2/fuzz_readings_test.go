package wechatv2

import (
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// readings returns every parameter set whose signed string (names sorted,
// k=v joined with '&', empty values and sign left out) is s: each choice of
// the '&' that separate pairs, each pair a name that can be an element's
// (XML name bytes, no '=') and a non-empty value, the names strictly
// increasing. nil when s has more '&' than are worth enumerating.
func readings(s string) []transform.Params {
	var amps []int
	for i := 0; i < len(s); i++ {
		if s[i] == '&' {
			amps = append(amps, i)
		}
	}
	if len(amps) > 12 {
		return nil
	}
	var out []transform.Params
	for mask := 0; mask < 1<<len(amps); mask++ {
		var p transform.Params
		start, ok := 0, true
		for k := 0; k <= len(amps) && ok; k++ {
			end := len(s)
			if k < len(amps) {
				if mask&(1<<k) == 0 {
					continue
				}
				end = amps[k]
			}
			name, value, found := strings.Cut(s[start:end], "=")
			ok = found && value != "" && elementName(name) && name != "sign" && (len(p) == 0 || p[len(p)-1].Name < name)
			p = append(p, transform.Param{Name: name, Value: value})
			start = end + 1
		}
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// elementName mirrors the names transform.ParseFlatXML reads.
func elementName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// FuzzSignedStringReadings: of all the documents that sign alike (every
// reading of one signed string), Verify's checks for a second reading
// (SortedQueryAmbiguous with freeTextPairs, pairOutsideFreeText,
// splitFromFreeText, deviceInfoFromAttach) pass at most one, so a captured notification cannot
// be rewritten into another that verifies.
func FuzzSignedStringReadings(f *testing.F) {
	f.Add("appid=wx1&attach=a=1&b=2&bank_type=CFT&cash_fee=1")
	f.Add("attach=plan=pro&auth=7f3a&bank_type=CFT")
	f.Add("attach=x&fz=1&bank_type=CFT&cash_fee=1234&fee_type=USD")
	f.Add("bank_type=CFT&cash_fee=1234&device_info=store&coupon_fee=5&fee_type=CNY")
	f.Add("device_info=POS&e=1&fee_type=CNY")
	f.Add("out_trade_no=O1&result_code=SUCCESS&return_code=SUCCESS")
	f.Add("attach=x&&bank_type=CFT")
	f.Add("attach=uid=5&openid=oX&total_fee=1&bank_type=CFT&cash_fee=1&openid=o2&total_fee=1")
	f.Add("attach=x&device_info=D&bank_type=CFT&fee_type=CNY")
	f.Add("attach=a=1&bank_type=X&bank_type=CFT&cash_fee=1")
	f.Add("attach=a=1&openid=Q&cash_fee=1&openid=o2")
	f.Add("attach=x&cash_fee=1&device_info=D&bank_type=CFT&cash_fee=1234&fee_type=CNY")
	f.Fuzz(func(t *testing.T, s string) {
		var passed []transform.Params
		for _, p := range readings(s) {
			if !p.SortedQueryAmbiguous("sign", freeTextPairs(p)) && !pairOutsideFreeText(p) && !splitFromFreeText(p) && !deviceInfoFromAttach(p) {
				passed = append(passed, p)
			}
		}
		if len(passed) > 1 {
			t.Fatalf("%q has %d readings that pass: %v", s, len(passed), passed)
		}
	})
}
