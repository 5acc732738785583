package transform

import (
	"math/big"
	"regexp"
	"testing"
)

// FuzzMoneyFromMinorText: a provider's amount in minor units (WeChat's
// total_fee, 2C2P's amt) is read exactly when it is 1 to 12 ASCII digits
// in a currency ParseMoney takes, and then as the number those digits
// write (math/big's reading), in that currency with its exponent; the
// amount the plugin answers with (String) reads back the same.
func FuzzMoneyFromMinorText(f *testing.F) {
	for _, s := range []string{"1234", "0", "000000001234", "999999999999", "1000000000000", "", "+1", "-1", "1e3", "12.5", " 1", "٣"} {
		for _, c := range []string{"CNY", "JPY", "BHD", "cny", "XXX", ""} {
			f.Add(s, c)
		}
	}
	digitsOnly := regexp.MustCompile(`^[0-9]{1,12}$`)
	f.Fuzz(func(t *testing.T, s, code string) {
		m, ok := MoneyFromMinorText(s, code)
		_, codeErr := ParseMoney("1", code, "amount", "currency")
		if want := digitsOnly.MatchString(s) && codeErr == nil; ok != want {
			t.Fatalf("%q %q: read %v, want %v", s, code, ok, want)
		}
		if !ok {
			if m != (Money{}) {
				t.Fatalf("%q %q refused with %+v", s, code, m)
			}
			return
		}
		n, _ := new(big.Int).SetString(s, 10)
		if !n.IsInt64() || n.Int64() != m.Minor || m.Currency != code {
			t.Fatalf("%q %s read as %+v", s, code, m)
		}
		if back, ok := MoneyFromDecimal(m.String(), code); !ok || back != m {
			t.Fatalf("%+v written %q reads back as %+v (%v)", m, m.String(), back, ok)
		}
	})
}
