package wechatv2

import (
	"crypto/aes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"

	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// WeChat Pay v2's signatures: calls, answers and payment notifications are
// signed with the v2 signature and wx.requestPayment with paySign, both in
// transform/wxpay (shared with the providers that pay through WeChat);
// refund notifications are not signed but encrypted under the API key.

// Sign types (sign_type) of the v2 signature.
const (
	SignMD5        = wxpay.SignMD5
	SignHMACSHA256 = wxpay.SignHMACSHA256
)

// RefundKey is the AES-256 key of refund notifications: the lowercase hex
// MD5 of the API key, used as 32 ASCII bytes.
func RefundKey(apiKey string) []byte {
	sum := md5.Sum([]byte(apiKey))
	return []byte(hex.EncodeToString(sum[:]))
}

// DecryptRefundInfo decrypts req_info: base64, AES-256-ECB, PKCS#7.
func DecryptRefundInfo(reqInfo string, key []byte) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(reqInfo)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, ErrRefundDecrypt
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrRefundDecrypt
	}
	out := make([]byte, len(ct))
	for i := 0; i < len(ct); i += aes.BlockSize {
		block.Decrypt(out[i:i+aes.BlockSize], ct[i:i+aes.BlockSize])
	}
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, ErrRefundDecrypt
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, ErrRefundDecrypt
		}
	}
	return out[:len(out)-pad], nil
}

// EncryptRefundInfo is the provider side of DecryptRefundInfo (the sandbox).
func EncryptRefundInfo(plain, key []byte) (string, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := make([]byte, len(plain)+pad)
	copy(buf, plain)
	for i := len(plain); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	for i := 0; i < len(buf); i += aes.BlockSize {
		block.Encrypt(buf[i:i+aes.BlockSize], buf[i:i+aes.BlockSize])
	}
	return base64.StdEncoding.EncodeToString(buf), nil
}
