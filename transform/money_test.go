package transform

import (
	"errors"
	"net/http"
	"testing"
)

// wantInvalid asserts err is README "Errors"'s 400 invalid_request naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *transform.Error", err, err)
	}
	if e.Status != http.StatusBadRequest || e.Code != CodeInvalidRequest || e.Field != field {
		t.Fatalf("error = {status %d, code %q, field %q}, want {400, %q, %q}", e.Status, e.Code, e.Field, CodeInvalidRequest, field)
	}
	if e.Message == "" {
		t.Fatal("error has an empty message")
	}
}

// README "Merchant API": a decimal string in major units, in an ISO 4217
// alphabetic code, with at most the currency's minor-unit exponent of
// decimals (ISO 4217: CNY 2, JPY 0, BHD and KWD 3, CLF 4).
func TestParseMoney(t *testing.T) {
	tests := []struct {
		amount, currency string
		minor            int64
		digits           uint8
	}{
		{"12.34", "CNY", 1234, 2},
		{"0.01", "CNY", 1, 2},
		{"1", "CNY", 100, 2},
		{"1.5", "CNY", 150, 2},
		{"0.5", "CNY", 50, 2},
		{"1.00", "CNY", 100, 2},
		{"9999999999.99", "CNY", 999_999_999_999, 2},
		{"100", "JPY", 100, 0},
		{"1", "JPY", 1, 0},
		{"999999999999", "JPY", 999_999_999_999, 0},
		{"1.234", "BHD", 1234, 3},
		{"1.234", "KWD", 1234, 3},
		{"0.001", "KWD", 1, 3},
		{"2", "KWD", 2000, 3},
		{"1.2345", "CLF", 12345, 4},
		{"12.30", "USD", 1230, 2},
		// ISO 4217's list (SIX, its maintenance agency): the Caribbean guilder XCG
		// (532, 2 digits) replaced the Netherlands Antillean guilder ANG on 31 March
		// 2025; a maintained table knows it (README Merchant API "Money").
		{"12.34", "XCG", 1234, 2},
	}
	for _, tt := range tests {
		t.Run(tt.currency+"_"+tt.amount, func(t *testing.T) {
			m, err := ParseMoney(tt.amount, tt.currency, "amount", "currency")
			if err != nil {
				t.Fatalf("ParseMoney(%q, %q) = %v", tt.amount, tt.currency, err)
			}
			want := Money{Minor: tt.minor, Currency: tt.currency, Digits: tt.digits}
			if m != want {
				t.Fatalf("ParseMoney(%q, %q) = %+v, want %+v", tt.amount, tt.currency, m, want)
			}
		})
	}
}

func TestParseMoneyRejects(t *testing.T) {
	tests := []struct {
		name, amount, currency, field string
	}{
		{"empty amount", "", "CNY", "amount"},
		{"negative", "-1", "CNY", "amount"},
		{"plus sign", "+1", "CNY", "amount"},
		{"exponent", "1e2", "CNY", "amount"},
		{"upper exponent", "1E2", "CNY", "amount"},
		{"zero", "0", "CNY", "amount"},
		{"zero with decimals", "0.00", "CNY", "amount"},
		{"trailing dot", "1.", "CNY", "amount"},
		{"leading dot", ".5", "CNY", "amount"},
		{"leading zero", "01.00", "CNY", "amount"},
		{"leading zeros", "007", "CNY", "amount"},
		{"leading space", " 1", "CNY", "amount"},
		{"trailing space", "1 ", "CNY", "amount"},
		{"comma", "1,00", "CNY", "amount"},
		{"two dots", "1.2.3", "CNY", "amount"},
		{"three decimals for CNY", "1.234", "CNY", "amount"},
		{"decimals for JPY", "1.5", "JPY", "amount"},
		{"decimal zero for JPY", "1.0", "JPY", "amount"},
		{"four decimals for KWD", "1.2345", "KWD", "amount"},
		{"hex", "0x10", "CNY", "amount"},
		{"infinity", "Inf", "CNY", "amount"},
		{"NaN", "NaN", "CNY", "amount"},
		{"full-width digit", "１", "CNY", "amount"},
		{"too large CNY", "10000000000", "CNY", "amount"},
		{"too large JPY", "1000000000000", "JPY", "amount"},
		{"overflow", "99999999999999999999999", "CNY", "amount"},
		{"unknown currency", "1", "XYZ", "currency"},
		{"withdrawn currency ANG (XCG since 2025)", "1", "ANG", "currency"},
		{"lowercase currency", "1", "cny", "currency"},
		{"mixed case currency", "1", "Cny", "currency"},
		{"empty currency", "1", "", "currency"},
		{"numeric currency", "1", "156", "currency"},
		{"long currency", "1", "CNYY", "currency"},
		{"currency with space", "1", "CNY ", "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMoney(tt.amount, tt.currency, "amount", "currency")
			if err == nil {
				t.Fatalf("ParseMoney(%q, %q) = %+v, want an error", tt.amount, tt.currency, m)
			}
			wantInvalid(t, err, tt.field)
		})
	}
}

// The field names are the caller's: a second amount is reported as itself.
func TestParseMoneyFieldNames(t *testing.T) {
	_, err := ParseMoney("1.001", "CNY", "total_amount", "total_currency")
	wantInvalid(t, err, "total_amount")
	_, err = ParseMoney("1", "ABC", "total_amount", "total_currency")
	wantInvalid(t, err, "total_currency")
}

func TestMoneyString(t *testing.T) {
	tests := []struct {
		m     Money
		str   string
		minor string
		num   string
	}{
		{Money{1234, "CNY", 2}, "12.34", "1234", "156"},
		{Money{1230, "CNY", 2}, "12.30", "1230", "156"},
		{Money{5, "CNY", 2}, "0.05", "5", "156"},
		{Money{50, "CNY", 2}, "0.50", "50", "156"},
		{Money{100, "CNY", 2}, "1.00", "100", "156"},
		{Money{0, "CNY", 2}, "0.00", "0", "156"},
		{Money{100, "JPY", 0}, "100", "100", "392"},
		{Money{7, "JPY", 0}, "7", "7", "392"},
		{Money{1234, "KWD", 3}, "1.234", "1234", "414"},
		{Money{1, "BHD", 3}, "0.001", "1", "048"},
		{Money{12000, "BHD", 3}, "12.000", "12000", "048"},
		{Money{999_999_999_999, "USD", 2}, "9999999999.99", "999999999999", "840"},
	}
	for _, tt := range tests {
		t.Run(tt.str+tt.m.Currency, func(t *testing.T) {
			if got := tt.m.String(); got != tt.str {
				t.Errorf("String = %q, want %q", got, tt.str)
			}
			if got := tt.m.MinorText(); got != tt.minor {
				t.Errorf("MinorText = %q, want %q", got, tt.minor)
			}
			if got := tt.m.NumericCode(); got != tt.num {
				t.Errorf("NumericCode = %q, want %q", got, tt.num)
			}
		})
	}
}

// String is the inverse of ParseMoney on the canonical form.
func TestMoneyStringParses(t *testing.T) {
	for _, s := range []string{"0.01", "12.34", "1.00", "100.10"} {
		m, err := ParseMoney(s, "CNY", "amount", "currency")
		if err != nil || m.String() != s {
			t.Fatalf("ParseMoney(%q).String() = %q, %v", s, m.String(), err)
		}
	}
}

func TestMoneyFromMinorText(t *testing.T) {
	tests := []struct {
		text, currency string
		ok             bool
		want           Money
	}{
		{"1234", "CNY", true, Money{1234, "CNY", 2}},
		{"1", "JPY", true, Money{1, "JPY", 0}},
		{"0", "CNY", true, Money{0, "CNY", 2}},
		{"999999999999", "CNY", true, Money{999_999_999_999, "CNY", 2}},
		{"", "CNY", false, Money{}},
		{"-1", "CNY", false, Money{}},
		{"+1", "CNY", false, Money{}},
		{"12.34", "CNY", false, Money{}},
		{"1e3", "CNY", false, Money{}},
		{" 1", "CNY", false, Money{}},
		{"1 ", "CNY", false, Money{}},
		{"0x10", "CNY", false, Money{}},
		{"1000000000000", "CNY", false, Money{}},
		{"99999999999999999999", "CNY", false, Money{}},
		{"100", "XYZ", false, Money{}},
		{"100", "cny", false, Money{}},
	}
	for _, tt := range tests {
		t.Run(tt.currency+"_"+tt.text, func(t *testing.T) {
			m, ok := MoneyFromMinorText(tt.text, tt.currency)
			if ok != tt.ok || m != tt.want {
				t.Fatalf("MoneyFromMinorText(%q, %q) = %+v, %v; want %+v, %v", tt.text, tt.currency, m, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMoneyFromMinor(t *testing.T) {
	if m, ok := MoneyFromMinor(1234, "CNY"); !ok || m != (Money{1234, "CNY", 2}) {
		t.Fatalf("MoneyFromMinor(1234, CNY) = %+v, %v", m, ok)
	}
	for _, bad := range []struct {
		minor int64
		code  string
	}{{-1, "CNY"}, {1_000_000_000_000, "CNY"}, {1, "XYZ"}, {1, ""}} {
		if m, ok := MoneyFromMinor(bad.minor, bad.code); ok {
			t.Errorf("MoneyFromMinor(%d, %q) = %+v, want refusal", bad.minor, bad.code, m)
		}
	}
}

// TestMoneyFromDecimal: a provider's decimal amount in major units (CBTIS's)
// reads as MoneyFromMinorText reads WeChat's fen, zero included.
func TestMoneyFromDecimal(t *testing.T) {
	tests := []struct {
		amount, code string
		want         string // the amount's String, or "" when it does not read
	}{
		{"12.30", "HKD", "12.30"},
		{"12.3", "HKD", "12.30"},
		{"12.300", "HKD", "12.30"},
		{"105.000", "JPY", "105"},
		{"12", "KWD", "12.000"},
		{"0", "HKD", "0.00"},
		{"0.00", "HKD", "0.00"},
		{"0.000", "JPY", "0"},
		{"12.345", "HKD", ""},
		{"-1", "HKD", ""},
		{"1e2", "HKD", ""},
		{"01", "HKD", ""},
		{"00", "HKD", ""},
		{".5", "HKD", ""},
		{"12.", "HKD", ""},
		{"0.", "HKD", ""},
		{"12.0.0", "HKD", ""},
		{"0", "Hkd", ""},
		{"", "HKD", ""},
		{"0", "hkd", ""},
		{"0", "XYZ", ""},
		{"1", "", ""},
		{"1000000000000", "JPY", ""},
	}
	for _, tt := range tests {
		m, ok := MoneyFromDecimal(tt.amount, tt.code)
		if got := map[bool]string{true: m.String()}[ok]; got != tt.want || ok && m.Currency != tt.code {
			t.Errorf("MoneyFromDecimal(%q, %q) = %q %s, %v, want %q", tt.amount, tt.code, got, m.Currency, ok, tt.want)
		}
	}
}
