package wxpay

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// Known answers from docs/providers/wechat_v2.md: the official example of
// the v2 signature rules ("4_3"), also asserted by binarywang/WxJava's
// SignUtils test, and the official wx.requestPayment paySign example.
func TestSignKnownAnswers(t *testing.T) {
	params := transform.Params{
		{Name: "appid", Value: "wxd930ea5d5a258f4f"},
		{Name: "mch_id", Value: "10000100"},
		{Name: "device_info", Value: "1000"},
		{Name: "body", Value: "test"},
		{Name: "nonce_str", Value: "ibuaiVcKdpRxkhJA"},
	}
	const key = "192006250b4c09247ec02edce69f6a2d"
	const wantBase = "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA"
	if got := string(params.SortedQuery(nil, "sign")); got != wantBase {
		t.Fatalf("base string\n got %s\nwant %s", got, wantBase)
	}
	tests := []struct {
		signType, want string
	}{
		{SignMD5, "9A0A8659F005D6984697E2CA0A9CF3B7"},
		{SignHMACSHA256, "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"},
	}
	for _, tt := range tests {
		t.Run(tt.signType, func(t *testing.T) {
			if got := Sign(params, key, tt.signType); got != tt.want {
				t.Fatalf("Sign = %s, want %s", got, tt.want)
			}
			signed := append(params[:len(params):len(params)], transform.Param{Name: "sign", Value: tt.want})
			if !Verify(signed, key, tt.signType) {
				t.Fatal("Verify rejects the official signature")
			}
			// an empty parameter is not signed; a new non-empty one is
			if !Verify(append(signed[:len(signed):len(signed)], transform.Param{Name: "attach"}), key, tt.signType) {
				t.Fatal("an empty extra field changed the signature")
			}
			if Verify(append(signed[:len(signed):len(signed)], transform.Param{Name: "new_field", Value: "x"}), key, tt.signType) {
				t.Fatal("a non-empty extra field was not covered by the signature")
			}
			// Explain (caddy minipay verify): the documented string, key masked.
			text, sig := NewSigner(key).Explain(signed, tt.signType)
			if text != wantBase+"&key=***" || sig != tt.want {
				t.Fatalf("Explain = %s, %s", text, sig)
			}
		})
	}
}

func TestPaySignKnownAnswer(t *testing.T) {
	got := PaySign("wxd678efh567hg6787", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		"prepay_id=wx2017033010242291fcfe0db70013231072", "MD5", "1490840662", "qazwsxedcrfvtgbyhnujmikolp111111")
	if want := "22D9B4E54AB1950F51E0649E8810ACD6"; got != want {
		t.Fatalf("PaySign = %s, want %s", got, want)
	}
}
