package transform_test

import (
	"errors"
	"fmt"

	"github.com/minipay/caddy-minipay/transform"
)

// The merchant's amounts are decimal strings in major units; providers get
// minor units (WeChat's fen), and every amount minipay answers with has the
// currency's number of decimals.
func ExampleParseMoney() {
	for _, in := range [][2]string{{"12.3", "CNY"}, {"1000", "JPY"}, {"12.345", "CNY"}, {"1e3", "USD"}} {
		m, err := transform.ParseMoney(in[0], in[1], "amount", "currency")
		if err != nil {
			fmt.Println(in[0], in[1], "->", err)
			continue
		}
		fmt.Println(in[0], in[1], "->", m.MinorText(), "minor units,", m.String(), m.Currency, m.NumericCode())
	}
	// Output:
	// 12.3 CNY -> 1230 minor units, 12.30 CNY 156
	// 1000 JPY -> 1000 minor units, 1000 JPY 392
	// 12.345 CNY -> invalid_request: amount has more decimals than CNY allows (2)
	// 1e3 USD -> invalid_request: amount must be a positive decimal number such as "12.34"
}

// A provider's answer in minor units (WeChat's total_fee) read back into
// the decimal form of the merchant API.
func ExampleMoneyFromMinorText() {
	m, ok := transform.MoneyFromMinorText("1234", "CNY")
	fmt.Println(m, m.Currency, ok)
	// Output:
	// 12.34 CNY true
}

// Every failure of Prepare and Decode is a *transform.Error: its Status is
// the HTTP status the merchant API answers with, JSON its body.
func ExampleError() {
	err := error(transform.Rejected("ORDERPAID", "该订单已支付"))
	var e *transform.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, string(e.JSON()))
	}
	// Output:
	// 422 {"error":{"code":"provider_rejected","message":"the provider rejected the request","provider_code":"ORDERPAID","provider_message":"该订单已支付"}}
}
