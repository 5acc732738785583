package wxpay

import (
	"math"
	"strconv"

	"github.com/minipay/caddy-minipay/transform"
)

// MaxMinorUnits is the largest amount WeChat's integer amount fields carry: v2's
// total_fee and refund_fee and v3's amount.total and amount.refund are
// documented as Int, a 32-bit Integer in the Java SDKs (docs/providers/wechat_v2.md
// "unifiedorder fields", docs/providers/wechat_v3.md "Operations"), narrower
// than the merchant API's twelve digits of minor units.
const MaxMinorUnits = math.MaxInt32

// CheckAmount refuses an amount WeChat cannot carry, naming the request's
// field, before anything is sent (README Merchant API "Money").
func CheckAmount(m transform.Money, field string) error {
	if m.Minor > MaxMinorUnits {
		return transform.Invalid(field, "is too large for WeChat Pay (at most "+
			transform.Money{Minor: MaxMinorUnits, Currency: m.Currency, Digits: m.Digits}.String()+" "+m.Currency+
			", "+strconv.Itoa(MaxMinorUnits)+" in minor units)")
	}
	return nil
}

// CheckRefundAmounts is CheckAmount for a refund's amount, then its total.
func CheckRefundAmounts(req *transform.RefundRequest) error {
	if err := CheckAmount(req.Money, "amount"); err != nil {
		return err
	}
	return CheckAmount(req.Total, "total_amount")
}
