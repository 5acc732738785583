package twoc2p

import (
	"testing"

	"github.com/bojanz/currency"
)

// FuzzMoneyFromAmt: a notification's amt and currencyCode (ISO 4217
// numeric, docs/providers/2c2p.md) are read only as an amount of the
// currency that numeric code names, which Amount12 writes back as the amt
// sent when it came as 2C2P's twelve digits.
func FuzzMoneyFromAmt(f *testing.F) {
	f.Add("000000001234", "702")
	f.Add("000000000100", "392")
	f.Add("999999999999", "048")
	f.Add("1234", "156")
	f.Add("000000001234", "000")
	f.Add("000000001234", "70")
	f.Fuzz(func(t *testing.T, amt, numeric string) {
		m, ok := MoneyFromAmt(amt, numeric)
		if !ok {
			return
		}
		if n, known := currency.GetNumericCode(m.Currency); !known || n != numeric {
			t.Fatalf("%q %q read in %s (numeric %q)", amt, numeric, m.Currency, n)
		}
		if len(amt) == 12 && Amount12(m) != amt {
			t.Fatalf("%q %q read as %+v, written back %q", amt, numeric, m, Amount12(m))
		}
	})
}
