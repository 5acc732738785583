package wechatv2

import (
	"cmp"
	"crypto/aes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/minipay/caddy-minipay/transform"
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

// RequestSigning implements transform.RequestExplainer: `caddy minipay
// sign` signs a request with the API key, in the sign type ExplainRequest
// chooses.
func (*Config) RequestSigning() transform.RequestSigning {
	return transform.RequestSigning{Fields: []transform.RequestField{
		{Name: "api_key", Usage: "<key>"}, {Name: "sign_type", Usage: "MD5|HMAC-SHA256", Optional: true}}}
}

// ExplainRequest signs a wechat_v2 <xml> document with the sign type
// --set gives (SignType), else the one the document names (signed
// itself), else MD5. Both, and different, is a usage error: WeChat checks
// a request with the type it names, so the other type's signature would be
// refused.
func (c *Config) ExplainRequest(r transform.MerchantRequest) (transform.RequestExplanation, error) {
	root, p, err := transform.ParseFlatXML(r.Body)
	if err != nil || root != "xml" {
		return transform.RequestExplanation{}, errors.New("the input is not a flat <xml> document")
	}
	// Both are named in the message only as one of the two sign types: a
	// value typed in the wrong place may be a key.
	known := func(t string) bool { return t == wxpay.SignMD5 || t == wxpay.SignHMACSHA256 }
	// A wx.requestPayment object (appId, nonceStr, package, signType,
	// timeStamp) names its type as signType: paySign is checked with it.
	element := "sign_type"
	if !p.Has(element) && p.Has("signType") {
		element = "signType"
	}
	named := p.Get(element)
	if set := c.SignType; known(set) && known(named) && set != named {
		return transform.RequestExplanation{}, fmt.Errorf("--set sign_type=%s, but the document names %s %q, which WeChat checks it with: set the same, or leave --set sign_type out", set, element, named)
	}
	signType := cmp.Or(c.SignType, named, wxpay.SignMD5)
	if signType != wxpay.SignMD5 && signType != wxpay.SignHMACSHA256 {
		return transform.RequestExplanation{}, errors.New("sign_type must be MD5 or HMAC-SHA256")
	}
	text, sig := wxpay.NewSigner(c.APIKey).Explain(p, signType)
	return transform.RequestExplanation{SignType: signType, StringToSign: text, Signature: sig}, nil
}
