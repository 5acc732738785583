package wechatv2_test

import (
	"fmt"

	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// A refund notification carries no sign: its req_info decrypts under the
// lowercase hex MD5 of the API key, and decrypting is what authenticates it.
// The key, req_info and plaintext are docs/providers/wechat_v2.md's
// Known-answer vector. Webhook.Verify does this (and the checks after it)
// for a whole notification.
func ExampleDecryptRefundInfo() {
	key := wechatv2.RefundKey("192006250b4c09247ec02edce69f6a2d")
	fmt.Println(string(key))
	plain, err := wechatv2.DecryptRefundInfo("WBzGpzQuNpcFxIlFjUUD9BZv+lpBMzd2SHiKCkwfALWid5G8ZvfOussfMIHLbKJmcnxPKdb1ZJEqTAp8ysQv+xa1fj+Eorgndx3fNxf3KAYa3LPgsjvZgxaeYyrhV05Kbjkj6ywg27cEyTTaPZFYNg==", key)
	fmt.Println(string(plain), err)
	// Output:
	// d96eb16afdd491fa1e705096edbc2205
	// <root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_status><![CDATA[SUCCESS]]></refund_status></root> <nil>
}
