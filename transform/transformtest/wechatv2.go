package transformtest

import (
	"bytes"
	"crypto/aes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
)

// WeChatV2ReqInfo writes a refund notification's req_info with the
// standard library alone, as docs/providers/wechat_v2.md (Refund
// notification) states it: AES-256-ECB, PKCS#7, under the lowercase hex MD5
// of the API key, base64. The unit and integration tests share it; it is
// none of the plugin's code.
func WeChatV2ReqInfo(apiKey, plain string) string {
	sum := md5.Sum([]byte(apiKey))
	b, err := aes.NewCipher([]byte(hex.EncodeToString(sum[:])))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append([]byte(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	for i := 0; i < len(buf); i += aes.BlockSize {
		b.Encrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// WeChatV2ErrCodes are the err_code values WeChat Pay v2 documents for a
// result_code FAIL answer, by merchant operation (the 错误码 tables of the
// unifiedorder, orderquery, closeorder, refund and refundquery pages listed
// in docs/providers/wechat_v2.md Sources), shared by the unit and
// integration tests of the error mapping (README Errors).
var WeChatV2ErrCodes = map[string][]string{
	"pay": {"NOAUTH", "NOTENOUGH", "ORDERPAID", "ORDERCLOSED", "SYSTEMERROR", "APPID_NOT_EXIST", "MCHID_NOT_EXIST",
		"APPID_MCHID_NOT_MATCH", "LACK_PARAMS", "OUT_TRADE_NO_USED", "SIGNERROR", "XML_FORMAT_ERROR", "REQUIRE_POST_METHOD",
		"POST_DATA_EMPTY", "NOT_UTF8", "INVALID_REQUEST"},
	"query": {"ORDERNOTEXIST", "SYSTEMERROR"},
	"close": {"ORDERPAID", "SYSTEMERROR", "ORDERCLOSED", "SIGNERROR", "REQUIRE_POST_METHOD", "XML_FORMAT_ERROR"},
	"refund": {"SYSTEMERROR", "BIZERR_NEED_RETRY", "TRADE_OVERDUE", "ERROR", "USER_ACCOUNT_ABNORMAL", "INVALID_REQ_TOO_MUCH",
		"NOTENOUGH", "INVALID_TRANSACTIONID", "PARAM_ERROR", "APPID_NOT_EXIST", "MCHID_NOT_EXIST", "ORDERNOTEXIST",
		"REQUIRE_POST_METHOD", "SIGNERROR", "XML_FORMAT_ERROR", "FREQUENCY_LIMITED", "NOAUTH", "CERT_ERROR",
		"REFUND_FEE_MISMATCH", "ORDER_NOT_READY"},
	"refund_query": {"SYSTEMERROR", "REFUNDNOTEXIST", "INVALID_TRANSACTIONID", "PARAM_ERROR", "APPID_NOT_EXIST",
		"MCHID_NOT_EXIST", "REQUIRE_POST_METHOD", "SIGNERROR", "XML_FORMAT_ERROR"},
}

// WeChatV2ReturnMsgs are return_msg texts of WeChat Pay v2's unsigned
// return_code FAIL answers (签名错误 for a wrong key, parameter and XML
// format errors), one with XML's special characters and a CDATA end, and
// an empty one.
var WeChatV2ReturnMsgs = []string{"签名错误", "参数格式校验错误", "XML格式错误", "mch_id参数格式错误 <&> ]]>", "invalid spbill_create_ip", ""}
