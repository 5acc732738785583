package integration

import (
	"net/url"
	"os"
	"path/filepath"
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

// TestIndependentV3CryptoKnownAnswers: the WeChat Pay v3 side these tests
// write with crypto/rsa and crypto/cipher directly (rsaSign, rsaVerify,
// gcmSeal and the messages of v3Message, by which the fake WeChat servers
// sign answers and notifications and judge minipay's Authorization and
// paySign) reproduces the known-answer vectors of docs/providers/wechat_v3.md
// before any test trusts it. The key is wechatpay-go's published test key
// (core/auth/signers/sha256withrsa_signer_test.go), kept beside the unit
// tests; vectors 1, 2 and 7 are wechatpay-go's own, 3 to 5 the page's.
func TestIndependentV3CryptoKnownAnswers(t *testing.T) {
	key := v3PrivateKeyAt(t, filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-test-private-key.pem"))
	// Vector 1 (wechatpay-go sha256withrsa_signer_test.go): RSASSA-PKCS1-v1_5
	// is deterministic, so the reference signer writes the published bytes.
	const sourceSig = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg=="
	if got := rsaSign(t, key, "source"); got != sourceSig {
		t.Errorf("rsaSign(source) = %s, want vector 1", got)
	}
	// Vector 2 (wechatpay-go wechat_pay_credential_test.go): the request message.
	if got := v3Message("GET", "/v3/certificates", "1624523846", "A1B2C3D4E5F6G7", ""); got != "GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n" {
		t.Errorf("v3Message, vector 2 = %q", got)
	}
	authBody, err := os.ReadFile(filepath.Join("..", "transform", "wechatv3", "testdata", "wechat_v3-auth-body.json"))
	if err != nil {
		t.Fatal(err)
	}
	pub := &key.PublicKey
	for _, v := range []struct{ name, msg, sig string }{
		{"vector 1, source", "source", sourceSig},
		{"vector 3, Authorization", v3Message("POST", "/v3/pay/transactions/jsapi", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", string(authBody)),
			"pZiQhrF522xeAq+RRHDJybp2Pa+UY+kdjK/7ttFy6n20wjQGCBWdMWasBFz0gS+hxH3ljSj6KXmwA2jtjZTsdZoWBf5SDw1OfgmXpI0onXKS08kt7+mnMkJFpuT3QtlDBtfOcW5DQjA2JezMtJLsVDfd1cja8EyDVkRAmVeI2ZK3/+OFZirZ9Qt10l7ojFZyc2nb8yOCi6w1W2UUEZenveeim5v9qFLZbTupUkzR8TwjSJXOKK4EA+OY6HACrFD8QeaKvezTwQbGqTiH3gZvajrbuK4iHIZKThBs413j4xRau+ZocaMYm18dgCX2DitoYqjpsmIiL69zeD8dWz4LuQ=="},
		{"vector 4, paySign", v3Message("wxd678efh567hg6787", "1490840662", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "prepay_id=wx2017033010242291fcfe0db70013231072"),
			"AbYoQ6i9MZnUERVuk9Z/WnUqdEpgcUFSoNP63CP3vdq3pcCHaEmg5jE4sfVRYAv2m+MQBaLRhBPgmzbA3GQ1r13nLZo36Gx2aaJfKhB+OuWVom/g8+rsV3zpfiqJPVJUZjJtd/RKDoNExad/6dBrL/9QdoqcJlFZxa36GagpmN7tvYQxu5/cJRq2lr/AEtqV8y/FLHO6VAmVOLmaT3Z29rOvSt/0vTZjj2wFI8Q6nXjdg6FWrDEs4w/1fcbLwQA3FO4R/HSUUgQcoLd6seD+Fsb55CCSNk0CFDLMdwSmnKKbbGg8GLOzZ0c8JivLOnBRVIgwH6oJujdgzbYcbW9jTg=="},
		{"vector 5, answer", v3Message("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", `{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}`),
			"MKsnsdC3plTZu7xrynhiOvBr3fCo3idyGVXjoIvn3R2EhfRylEi8CeV+OGKk+/3uOERkGM8zy5Z6nb/Zxv1nzgzcIyR5zNqi+/6ckyPPuGWFFzNihnH/9E9IY0TeLLsMjuS+CpirWvEuhBDU2np6J9ohoyyj4UHjv4r18sOXXUnYks2A+H1VqL4yiGb+TJeb65U8Tu91XHCDzGadOImUUmeVTEedhnbuha1z6I5iDpHsARqJZiH/iOw2cTkO0ZbXPtWIWcsl5JLVkRcdOjPD8Eu+MRIGleOCyAemAnb1u2b68iY6I/YgLwoZxvtrbKru7Iz74HbLPVXfPoLO4dtVEA=="},
	} {
		if !rsaVerify(pub, v.msg, v.sig) {
			t.Errorf("rsaVerify rejects %s", v.name)
		}
		if rsaVerify(pub, v.msg+" ", v.sig) {
			t.Errorf("rsaVerify accepts %s over another message", v.name)
		}
	}
	// Vector 7 (wechatpay-go utils/aes_test.go, a 16-byte key).
	if got := gcmSeal(t, "testAPIv3Key0000", "wCq51qZv4Yfg", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", "Hello World"); got != "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC" {
		t.Errorf("gcmSeal, vector 7 = %s", got)
	}
}
