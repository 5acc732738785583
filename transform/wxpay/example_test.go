package wxpay_test

import (
	"fmt"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// WeChat Pay's v2 signature over its official example parameters
// (docs/providers/wechat_v2.md, Known-answer vectors): every non-empty
// parameter but sign, sorted, "&key=" and the API key appended.
func ExampleSign() {
	params := transform.Params{
		{Name: "appid", Value: "wxd930ea5d5a258f4f"}, {Name: "mch_id", Value: "10000100"},
		{Name: "device_info", Value: "1000"}, {Name: "body", Value: "test"}, {Name: "nonce_str", Value: "ibuaiVcKdpRxkhJA"},
	}
	const apiKey = "192006250b4c09247ec02edce69f6a2d"
	fmt.Println(wxpay.Sign(params, apiKey, wxpay.SignMD5))
	fmt.Println(wxpay.Sign(params, apiKey, wxpay.SignHMACSHA256))
	params = append(params, transform.Param{Name: "sign", Value: "9A0A8659F005D6984697E2CA0A9CF3B7"})
	fmt.Println(wxpay.Verify(params, apiKey, wxpay.SignMD5))
	// Output:
	// 9A0A8659F005D6984697E2CA0A9CF3B7
	// 6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6
	// true
}

// The paySign of wx.requestPayment for WeChat Pay v2, over WeChat's official
// example (docs/providers/wechat_v2.md, Known-answer vectors): appId with a
// capital I, never the unifiedorder sign.
func ExamplePaySign() {
	fmt.Println(wxpay.PaySign("wxd678efh567hg6787", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		"prepay_id=wx2017033010242291fcfe0db70013231072", wxpay.SignMD5, "1490840662", "qazwsxedcrfvtgbyhnujmikolp111111"))
	// Output:
	// 22D9B4E54AB1950F51E0649E8810ACD6
}
