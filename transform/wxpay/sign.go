// Package wxpay is what every WeChat-based provider shares: WeChat Pay's v2
// signature (MD5 or HMAC-SHA256 over the sorted parameters) and the
// wx.requestPayment paySign the mini program hands to WeChat. wechat_v2
// signs its calls with it; 2C2P's and Latipay's sandboxes sign the
// wx.requestPayment object they emulate with it. It imports no provider.
// The rules and vectors: docs/providers/wechat_v2.md.
package wxpay

import "github.com/minipay/caddy-minipay/transform"

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
	buf := transform.GetBuf()
	defer transform.PutBuf(buf)
	b := params.SortedQuery(*buf, "sign")
	b = append(b, "&key="...)
	b = append(b, s.key...)
	*buf = b
	if signType == SignHMACSHA256 {
		return s.hmac.Hex(b, true)
	}
	return transform.MD5Hex(b, true)
}

// Explain is Sign's input with the key masked, and Sign's result.
func (s Signer) Explain(params transform.Params, signType string) (stringToSign, signature string) {
	return string(params.SortedQuery(nil, "sign")) + "&key=" + transform.Masked, s.Sign(params, signType)
}

// Verify is the package's Verify with the Signer's key.
func (s Signer) Verify(params transform.Params, signType string) bool {
	got := params.Get("sign")
	return got != "" && transform.EqualHexConstantTime(got, s.Sign(params, signType))
}

// PaySign is the package's PaySign with the Signer's key.
func (s Signer) PaySign(appID, nonceStr, pkg, signType, timeStamp string) string {
	p := [5]transform.Param{
		{Name: "appId", Value: appID}, {Name: "nonceStr", Value: nonceStr},
		{Name: "package", Value: pkg}, {Name: "signType", Value: signType},
		{Name: "timeStamp", Value: timeStamp},
	}
	return s.Sign(p[:], signType)
}
