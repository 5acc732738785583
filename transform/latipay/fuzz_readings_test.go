package latipay

import (
	"strings"
	"testing"
)

// FuzzSignedConcatenationReadings: the notification signature covers
// merchant_reference + payment_method + status + currency + amount with no
// separator, so every cut of one signed string into five fields signs
// alike; CheckGrammar must pass at most one of them, with the wallet's
// currency configured or not.
func FuzzSignedConcatenationReadings(f *testing.F) {
	f.Add("dsi39ej430sks03alipaypaidNZD120.00")
	f.Add("O-1wechatwechatpendingAUD1.5")
	f.Add("unionpayunionpayfailedCNY0.01")
	f.Add("x|*-_moneymorecanceledJPY100")
	f.Fuzz(func(t *testing.T, s string) {
		for _, wallet := range []string{"", "NZD"} {
			var passed []Signed
			for i := 1; i < len(s); i++ {
				for _, pm := range paymentMethods {
					rest, ok := strings.CutPrefix(s[i:], pm)
					if !ok {
						continue
					}
					for st := range statuses {
						tail, ok := strings.CutPrefix(rest, st)
						if !ok || len(tail) < 4 {
							continue
						}
						r := Signed{s[:i], pm, st, tail[:3], tail[3:]}
						if _, err := r.CheckGrammar(wallet); err == nil {
							passed = append(passed, r)
						}
					}
				}
			}
			if len(passed) > 1 {
				t.Fatalf("%q (wallet %q) has %d readings that pass: %+v", s, wallet, len(passed), passed)
			}
		}
	})
}
