package wxpay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
)

// SignTypeRSA is the signType of a paySign made with the merchant's RSA key
// (WeChat Pay API v3; docs/providers/wechat_v3.md, "wx.requestPayment").
const SignTypeRSA = "RSA"

// SignRSA is base64(RSASSA-PKCS1-v1_5(SHA-256(msg))) with key: the signature
// of WeChat Pay v3's requests, answers, notifications and paySign.
func SignRSA(key *rsa.PrivateKey, msg []byte) (string, error) {
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// AppendLines appends each line followed by \n: the shape of every message
// WeChat Pay v3 signs (requests, answers, notifications, paySign).
func AppendLines(dst []byte, lines ...string) []byte {
	for _, l := range lines {
		dst = append(dst, l...)
		dst = append(dst, '\n')
	}
	return dst
}

// AppendPayMessageRSA appends the message of the RSA paySign:
// appId\ntimeStamp\nnonceStr\npackage\n (every line ends with \n).
func AppendPayMessageRSA(dst []byte, appID, timeStamp, nonceStr, pkg string) []byte {
	return AppendLines(dst, appID, timeStamp, nonceStr, pkg)
}

// PaySignRSA is the wx.requestPayment signature of signType RSA: the
// merchant's RSA-SHA256 over appId\ntimeStamp\nnonceStr\npackage\n, appId
// being the mini program the payer uses (sub_appid for a sub-merchant's).
func PaySignRSA(appID, timeStamp, nonceStr, pkg string, key *rsa.PrivateKey) (string, error) {
	var buf [256]byte
	return SignRSA(key, AppendPayMessageRSA(buf[:0], appID, timeStamp, nonceStr, pkg))
}
