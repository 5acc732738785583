package wechatv2

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// Vector from docs/providers/wechat_v2.md (computed there, checked with openssl).
func TestRefundInfoKnownAnswer(t *testing.T) {
	key := RefundKey("192006250b4c09247ec02edce69f6a2d")
	if string(key) != "d96eb16afdd491fa1e705096edbc2205" {
		t.Fatalf("RefundKey = %s", key)
	}
	const reqInfo = "WBzGpzQuNpcFxIlFjUUD9BZv+lpBMzd2SHiKCkwfALWid5G8ZvfOussfMIHLbKJmcnxPKdb1ZJEqTAp8ysQv+xa1fj+Eorgndx3fNxf3KAYa3LPgsjvZgxaeYyrhV05Kbjkj6ywg27cEyTTaPZFYNg=="
	const want = "<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_status><![CDATA[SUCCESS]]></refund_status></root>"
	plain, err := DecryptRefundInfo(reqInfo, key)
	if err != nil || string(plain) != want {
		t.Fatalf("DecryptRefundInfo = %q, %v", plain, err)
	}
	enc, err := EncryptRefundInfo([]byte(want), key)
	if err != nil || enc != reqInfo {
		t.Fatalf("EncryptRefundInfo = %q, %v; want the published req_info", enc, err)
	}
	// the reference writer the refund notification tests build req_info with
	if got := transformtest.WeChatV2ReqInfo("192006250b4c09247ec02edce69f6a2d", want); got != reqInfo {
		t.Fatalf("transformtest.WeChatV2ReqInfo = %q; want the published req_info", got)
	}
	if _, err := DecryptRefundInfo(reqInfo, RefundKey("00000000000000000000000000000000")); err == nil {
		t.Fatal("a foreign key decrypted req_info")
	}
}
