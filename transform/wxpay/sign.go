// Package wxpay is what every WeChat-based provider shares: WeChat Pay's v2
// signature (MD5 or HMAC-SHA256 over the sorted parameters), the
// wx.requestPayment paySign the mini program hands to WeChat, and v3's
// RSA-SHA256 over newline-terminated lines (rsa.go), and WeChat's notify_url
// rule (notify.go). wechat_v2 signs its
// calls and paySign with it, wechat_v3 its requests and RSA paySign; 2C2P's
// and Latipay's sandboxes sign the wx.requestPayment object they emulate
// with it. It imports no provider. The rules and vectors:
// docs/providers/wechat_v2.md and wechat_v3.md.
package wxpay

import (
	"crypto/sha256"

	"github.com/minipay/caddy-minipay/transform"
)

// Sign types of the v2 signature and of paySign.
const (
	SignMD5        = "MD5"
	SignHMACSHA256 = "HMAC-SHA256"
)

// Sign computes the v2 signature of params (every non-empty parameter but
// sign, sorted, "&key=" + apiKey appended), MD5 or HMAC-SHA256, uppercase hex.
func Sign(params transform.Params, apiKey, signType string) string {
	return NewSigner(apiKey).Sign(params, signType)
}

// Verify recomputes the signature over every received parameter (fields
// WeChat adds later included) and compares it in constant time.
func Verify(params transform.Params, apiKey, signType string) bool {
	return NewSigner(apiKey).Verify(params, signType)
}

// PaySign is the wx.requestPayment signature over appId, nonceStr, package,
// signType and timeStamp (capital I in appId; never the unifiedorder sign).
func PaySign(appID, nonceStr, pkg, signType, timeStamp, apiKey string) string {
	return NewSigner(apiKey).PaySign(appID, nonceStr, pkg, signType, timeStamp)
}

// Signer signs with one merchant key. Clients, webhooks and sandboxes keep
// one, so HMAC states are pooled instead of built per signature.
type Signer struct {
	key  string
	hmac *transform.HMACPool
}

// NewSigner returns the Signer of apiKey.
func NewSigner(apiKey string) Signer {
	return Signer{key: apiKey, hmac: transform.NewHMACPool(apiKey)}
}

// Sign is the package's Sign with the Signer's key.
func (s Signer) Sign(params transform.Params, signType string) string {
	var sig [2 * sha256.Size]byte
	return string(s.AppendSign(sig[:0], params, signType))
}

// AppendSign appends Sign's result to dst: into a caller's stack buffer it
// allocates nothing.
func (s Signer) AppendSign(dst []byte, params transform.Params, signType string) []byte {
	buf := transform.GetBuf()
	defer transform.PutBuf(buf)
	*buf = params.SortedQuery(*buf, "sign")
	return s.appendDigest(dst, buf, signType)
}

// appendDigest appends "&key=" and the key to the string to sign in buf and
// appends the uppercase hex digest of it to dst.
func (s Signer) appendDigest(dst []byte, buf *[]byte, signType string) []byte {
	b := append(*buf, "&key="...)
	b = append(b, s.key...)
	*buf = b
	if signType == SignHMACSHA256 {
		return s.hmac.AppendHex(dst, b, true)
	}
	return transform.AppendMD5Hex(dst, b, true)
}

// Explain is Sign's input with the key masked, and Sign's result.
func (s Signer) Explain(params transform.Params, signType string) (stringToSign, signature string) {
	return string(params.SortedQuery(nil, "sign")) + "&key=" + transform.Masked, s.Sign(params, signType)
}

// Verify is the package's Verify with the Signer's key.
func (s Signer) Verify(params transform.Params, signType string) bool {
	got := params.Get("sign")
	var want [2 * sha256.Size]byte
	return got != "" && transform.EqualHexConstantTime(got, s.AppendSign(want[:0], params, signType))
}

// PaySign is the package's PaySign with the Signer's key.
func (s Signer) PaySign(appID, nonceStr, pkg, signType, timeStamp string) string {
	var sig [2 * sha256.Size]byte
	return string(s.appendPaySign(sig[:0], appID, nonceStr, "", pkg, signType, timeStamp))
}

// AppendPaySign appends PaySign's result for package "prepay_id=" + prepayID
// to dst. Nothing it is given escapes, so a caller's stack buffers (and
// strings converted from them) stay on its stack: this allocates nothing.
func (s Signer) AppendPaySign(dst []byte, appID, nonceStr, prepayID, signType, timeStamp string) []byte {
	return s.appendPaySign(dst, appID, nonceStr, "prepay_id=", prepayID, signType, timeStamp)
}

// appendPaySign signs Sign's string of the five wx.requestPayment
// parameters, written in their sorted order (appId < nonceStr < package <
// signType < timeStamp) with empty values left out as Sign leaves them out;
// package is pkgPrefix + pkg.
func (s Signer) appendPaySign(dst []byte, appID, nonceStr, pkgPrefix, pkg, signType, timeStamp string) []byte {
	buf := transform.GetBuf()
	defer transform.PutBuf(buf)
	b := appendParam((*buf)[:0], "appId", appID)
	b = appendParam(b, "nonceStr", nonceStr)
	if pkgPrefix != "" || pkg != "" {
		if len(b) > 0 {
			b = append(b, '&')
		}
		b = append(b, "package="...)
		b = append(b, pkgPrefix...)
		b = append(b, pkg...)
	}
	b = appendParam(b, "signType", signType)
	b = appendParam(b, "timeStamp", timeStamp)
	*buf = b
	return s.appendDigest(dst, buf, signType)
}

// appendParam appends name=value to a string to sign, '&' first unless it
// is the first; an empty value is not signed.
func appendParam(b []byte, name, value string) []byte {
	if len(value) == 0 {
		return b
	}
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = append(b, name...)
	b = append(b, '=')
	return append(b, value...)
}
