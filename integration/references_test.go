package integration

import (
	"net/url"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestIndependentSignersKnownAnswers: the signers these tests write from
// the provider pages with the standard library (the fake providers' and
// the checks' side) reproduce the published known-answer vectors before
// any test trusts them to judge the plugin; a reference wrong the same way
// as the plugin would pass everything. Sources: docs/providers/wechat_v2.md,
// docs/providers/latipay.md, docs/providers/2c2p.md and
// docs/providers/cbtis.md, "Known-answer vectors".
func TestIndependentSignersKnownAnswers(t *testing.T) {
	v2 := map[string]string{"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000", "body": "test",
		"nonce_str": "ibuaiVcKdpRxkhJA", "sign": "ignored", "attach": ""}
	latipayOnline := map[string]string{"user_id": "U000334333", "wallet_id": "W00000001", "amount": "120.00",
		"payment_method": "alipay", "return_url": "https://merchantsite.com/checkout", "callback_url": "https://merchantsite.com/confirm",
		"merchant_reference": "dsi39ej430sks03", "ip": "122.122.122.1", "version": "2.0", "product_name": "Pinot Noir, Otago",
		"signature": "ignored"}
	latipayRefund := map[string]string{"user_id": "U000334333", "order_id": "23479798sdf7987234", "refund_amount": "120.00",
		"reference": "notes about this refund"}
	tests := []struct{ name, got, want string }{
		{"v2DocSignKey MD5", v2DocSignKey(v2, "192006250b4c09247ec02edce69f6a2d", "MD5"), "9A0A8659F005D6984697E2CA0A9CF3B7"},
		{"v2DocSignKey HMAC-SHA256", v2DocSignKey(v2, "192006250b4c09247ec02edce69f6a2d", "HMAC-SHA256"),
			"6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"},
		{"v2Digest paySign", v2Digest("appId=wxd678efh567hg6787&nonceStr=5K8264ILTKCH16CQ2502SI8ZNMTM67VS&package=prepay_id=wx2017033010242291fcfe0db70013231072"+
			"&signType=MD5&timeStamp=1490840662&key=qazwsxedcrfvtgbyhnujmikolp111111", "qazwsxedcrfvtgbyhnujmikolp111111", "MD5"),
			"22D9B4E54AB1950F51E0649E8810ACD6"},
		{"latipayRequestSign vector 1", latipayRequestSign("111222333", latipayOnline), "8d1bea078eaacdae8388852851ec39e2e8561cdce64f359421d85ed4844496ec"},
		{"latipaySortedSign vector 4", latipaySortedSign(latipayRefund, "111222333"), "3052b51072570b743bf9a12a20a45b0adf280aee84907ef0e54d1079fb3f961c"},
		{"latipayNotify", latipayNotify("111222333", url.Values{"merchant_reference": {"dsi39ej430sks03"}, "payment_method": {"alipay"},
			"status": {"paid"}, "currency": {"NZD"}, "amount": {"120.00"}, "order_id": {"not signed"}}),
			"840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1"},
		{"cbtisSign", cbtisSign([]byte(transformtest.CBTISVectorBody), "6d0e8fa7b10c40c3a48c0c2be41cb178"),
			"3ce5a54d8a76590179f0f4192a6c0efddf20e118966b6276b1bfbbc0b33f362a"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
	// 2C2P: the demo answer's envelope, opened by the reference client,
	// carries the published signature, which twoc2pSign reproduces.
	a := twoc2pClientOpen(t, []byte(transformtest.TwoC2PDemoApproved), "7jYcp4FxFdf0")
	if a.RespCode != "00" || a.TranRef != "3200632" {
		t.Errorf("the approved demo answer reads as %+v", a)
	}
}
