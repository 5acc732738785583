package transform

import (
	"strconv"
	"strings"

	"github.com/bojanz/currency"
)

// Money is an amount in a currency's minor units (fen for CNY, cents for USD,
// yen for JPY), with the currency's ISO 4217 exponent.
type Money struct {
	Minor    int64  // the amount in minor units: 1234 for "12.34" CNY
	Currency string // the ISO 4217 alphabetic code
	Digits   uint8  // the currency's minor-unit exponent: 2 for CNY, 0 for JPY
}

// maxMinor keeps amounts inside what every provider accepts (2C2P's twelve
// digits are the narrowest) and far from int64 overflow.
const maxMinor = 999_999_999_999

// ParseMoney reads a decimal string in major units ("12.34") in an ISO 4217
// alphabetic currency. It refuses signs, exponents, zero, more decimals than
// the currency has and unknown currencies; the error names amountField or
// currencyField, so a caller can pass "total_amount" for a second amount.
func ParseMoney(amount, code, amountField, currencyField string) (Money, error) {
	if amount == "" {
		return Money{}, Invalid(amountField, "is required")
	}
	if code == "" {
		return Money{}, Invalid(currencyField, "is required")
	}
	digits, ok := currency.GetDigits(code)
	if !ok || len(code) != 3 || strings.ToUpper(code) != code {
		return Money{}, Invalid(currencyField, "is not an ISO 4217 currency code")
	}
	whole, frac, hasDot := strings.Cut(amount, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return Money{}, Invalid(amountField, "must be a positive decimal number such as \"12.34\"")
	}
	if len(frac) > int(digits) {
		return Money{}, Invalid(amountField, "has more decimals than "+code+" allows ("+strconv.Itoa(int(digits))+")")
	}
	if len(whole) > 1 && whole[0] == '0' {
		return Money{}, Invalid(amountField, "must not have leading zeros")
	}
	if len(whole)+int(digits) > 12 {
		return Money{}, Invalid(amountField, "is too large")
	}
	var minor int64
	for i := 0; i < len(whole); i++ {
		minor = minor*10 + int64(whole[i]-'0')
	}
	for i := 0; i < int(digits); i++ {
		minor *= 10
		if i < len(frac) {
			minor += int64(frac[i] - '0')
		}
	}
	if minor == 0 {
		return Money{}, Invalid(amountField, "must be greater than zero")
	}
	return Money{Minor: minor, Currency: code, Digits: digits}, nil
}

// MoneyFromMinor builds Money from an integer amount of minor units, as the
// providers send it (WeChat's total_fee in fen).
func MoneyFromMinor(minor int64, code string) (Money, bool) {
	digits, ok := currency.GetDigits(code)
	if !ok || minor < 0 || minor > maxMinor {
		return Money{}, false
	}
	return Money{Minor: minor, Currency: code, Digits: digits}, true
}

// MoneyFromMinorText is MoneyFromMinor for a decimal integer text.
func MoneyFromMinorText(minor, code string) (Money, bool) {
	if minor == "" || !allDigits(minor) || len(minor) > 12 {
		return Money{}, false
	}
	n, err := strconv.ParseInt(minor, 10, 64)
	if err != nil {
		return Money{}, false
	}
	return MoneyFromMinor(n, code)
}

// MoneyFromDecimal reads an amount a provider wrote in major units (CBTIS's
// "12.30"), as MoneyFromMinorText reads WeChat's fen: zero included (what
// the provider said, where ParseMoney holds the merchant's request to a
// positive amount), trailing zeros past the currency's decimals tolerated
// ("105.000" JPY-style padding), otherwise ParseMoney's grammar: a dot
// with no digit after it ("12.") is no amount.
func MoneyFromDecimal(s, code string) (Money, bool) {
	if whole, frac, ok := strings.Cut(s, "."); ok {
		if frac == "" {
			return Money{}, false
		}
		frac = strings.TrimRight(frac, "0")
		s = whole
		if frac != "" {
			s += "." + frac
		}
	}
	if s == "0" { // MoneyFromMinor checks the code as ParseMoney does
		return MoneyFromMinor(0, code)
	}
	m, err := ParseMoney(s, code, "amount", "currency")
	return m, err == nil
}

// String is the amount in major units with exactly the currency's number of
// decimals ("12.30", "100" for JPY): the form of every amount the plugin
// answers with.
func (m Money) String() string {
	s := strconv.FormatInt(m.Minor, 10)
	if m.Digits == 0 {
		return s
	}
	d := int(m.Digits)
	if len(s) <= d {
		s = strings.Repeat("0", d-len(s)+1) + s
	}
	return s[:len(s)-d] + "." + s[len(s)-d:]
}

// MinorText is the amount as an integer of minor units ("1234").
func (m Money) MinorText() string { return strconv.FormatInt(m.Minor, 10) }

// NumericCode is the ISO 4217 numeric code ("156" for CNY).
func (m Money) NumericCode() string {
	n, _ := currency.GetNumericCode(m.Currency)
	return n
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
