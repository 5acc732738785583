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

// The official paySign example (docs/providers/wechat_v2.md), and the same
// parameters with signType HMAC-SHA256, which WeChat publishes no example
// of; its paySign was computed outside Go from the rule on that page:
//
//	printf '%s' 'appId=wxd678efh567hg6787&nonceStr=5K8264ILTKCH16CQ2502SI8ZNMTM67VS&package=prepay_id=wx2017033010242291fcfe0db70013231072&signType=HMAC-SHA256&timeStamp=1490840662&key=qazwsxedcrfvtgbyhnujmikolp111111' |
//	openssl dgst -sha256 -hmac qazwsxedcrfvtgbyhnujmikolp111111
//
// (gopay's GetMiniPaySign agrees: bench/gopay TestPaySignJudgedByGopay).
func TestPaySignKnownAnswer(t *testing.T) {
	const (
		key      = "qazwsxedcrfvtgbyhnujmikolp111111"
		prepayID = "wx2017033010242291fcfe0db70013231072"
	)
	for _, tt := range []struct{ signType, want string }{
		{SignMD5, "22D9B4E54AB1950F51E0649E8810ACD6"},
		{SignHMACSHA256, "FB9D1EFB5C509131BBFF729F88A99CA2DE9B724D06D3B3262832A53083862BC0"},
	} {
		t.Run(tt.signType, func(t *testing.T) {
			if got := PaySign("wxd678efh567hg6787", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "prepay_id="+prepayID, tt.signType, "1490840662", key); got != tt.want {
				t.Fatalf("PaySign = %s, want %s", got, tt.want)
			}
			// the pay answer's path (wechat_v2 Client.Decode)
			if got := string(NewSigner(key).AppendPaySign(nil, "wxd678efh567hg6787", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", prepayID, tt.signType, "1490840662")); got != tt.want {
				t.Fatalf("AppendPaySign = %s, want %s", got, tt.want)
			}
		})
	}
}

// PaySign writes its five parameters in their sorted order instead of
// sorting them: it must sign what Sign (pinned by the official vectors
// above) signs over the same parameters, empty ones left out included, and
// AppendPaySign what PaySign signs for "prepay_id=" + the prepay id.
func TestPaySignIsSignOfItsParameters(t *testing.T) {
	const key = "qazwsxedcrfvtgbyhnujmikolp111111"
	tests := []struct {
		name                                    string
		appID, nonceStr, prepayID, signType, ts string
	}{
		{"official example", "wxd678efh567hg6787", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "wx2017033010242291fcfe0db70013231072", SignMD5, "1490840662"},
		{"HMAC-SHA256", "wxd678efh567hg6787", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "wx2017033010242291fcfe0db70013231072", SignHMACSHA256, "1490840662"},
		{"no appId", "", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "wx1", SignMD5, "1490840662"},
		{"no nonce", "wxd678efh567hg6787", "", "wx1", SignMD5, "1490840662"},
		{"no time stamp", "wxd678efh567hg6787", "N", "wx1", SignMD5, ""},
		{"no sign type (MD5)", "wxd678efh567hg6787", "N", "wx1", "", "1490840662"},
		{"empty prepay id", "wxd678efh567hg6787", "N", "", SignMD5, "1490840662"},
	}
	s := NewSigner(key)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkg := "prepay_id=" + tt.prepayID
			want := Sign(transform.Params{
				{Name: "timeStamp", Value: tt.ts}, {Name: "package", Value: pkg}, {Name: "appId", Value: tt.appID},
				{Name: "signType", Value: tt.signType}, {Name: "nonceStr", Value: tt.nonceStr},
			}, key, tt.signType)
			if got := s.PaySign(tt.appID, tt.nonceStr, pkg, tt.signType, tt.ts); got != want {
				t.Errorf("PaySign = %s, Sign = %s", got, want)
			}
			if got := string(s.AppendPaySign([]byte("x"), tt.appID, tt.nonceStr, tt.prepayID, tt.signType, tt.ts)); got != "x"+want {
				t.Errorf("AppendPaySign = %s, want x%s", got, want)
			}
		})
	}
	// a package of its own (PaySign's argument) that is empty is left out too
	if got, want := s.PaySign("wx1", "N", "", SignMD5, "1"), Sign(transform.Params{{Name: "appId", Value: "wx1"},
		{Name: "nonceStr", Value: "N"}, {Name: "signType", Value: SignMD5}, {Name: "timeStamp", Value: "1"}}, key, SignMD5); got != want {
		t.Errorf("PaySign without package = %s, want %s", got, want)
	}
}
