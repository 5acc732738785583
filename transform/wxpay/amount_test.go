package wxpay

import (
	"errors"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// TestCheckAmount: WeChat's amount fields are Int (docs/providers/wechat_v2.md
// "unifiedorder fields"), so 2147483647 minor units is the largest amount,
// whatever the currency's exponent; one more is a 400 naming the field.
func TestCheckAmount(t *testing.T) {
	tests := []struct {
		amount, currency string
		ok               bool
	}{
		{"21474836.47", "CNY", true},
		{"21474836.48", "CNY", false},
		{"9999999999.99", "CNY", false},
		{"2147483647", "JPY", true},
		{"2147483648", "JPY", false},
		{"2147483.647", "KWD", true},
		{"2147483.648", "KWD", false},
		{"0.01", "CNY", true},
	}
	for _, tt := range tests {
		t.Run(tt.amount+" "+tt.currency, func(t *testing.T) {
			m, err := transform.ParseMoney(tt.amount, tt.currency, "amount", "currency")
			if err != nil {
				t.Fatal(err)
			}
			err = CheckAmount(m, "total_amount")
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckAmount = %v, want nil", err)
				}
				return
			}
			var e *transform.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Field != "total_amount" {
				t.Fatalf("CheckAmount = %v, want a 400 naming total_amount", err)
			}
		})
	}
}
