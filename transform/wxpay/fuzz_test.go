package wxpay

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// refSign is WeChat's v2 rule written out with the standard library alone
// (docs/providers/wechat_v2.md, "Signature"): the non-empty parameters but
// sign, sorted by name, k=v joined with '&', then "&key=" and the key; MD5,
// or HMAC-SHA256 keyed with the key; uppercase hex.
func refSign(p transform.Params, key string, hmacSHA256 bool) string {
	var pairs []string
	for _, kv := range p {
		if kv.Value != "" && kv.Name != "sign" {
			pairs = append(pairs, kv.Name+"="+kv.Value)
		}
	}
	slices.SortFunc(pairs, func(a, b string) int {
		an, _, _ := strings.Cut(a, "=")
		bn, _, _ := strings.Cut(b, "=")
		return strings.Compare(an, bn)
	})
	msg := strings.Join(pairs, "&") + "&key=" + key
	if hmacSHA256 {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(msg))
		return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
	}
	sum := md5.Sum([]byte(msg))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// paramsOf reads "name=value" lines as parameters; ok is false when a name
// is given twice (every caller refuses such a document: HasDuplicate).
func paramsOf(text string) (p transform.Params, ok bool) {
	seen := map[string]bool{}
	for line := range strings.SplitSeq(text, "\n") {
		name, value, _ := strings.Cut(line, "=")
		if seen[name] {
			return nil, false
		}
		seen[name] = true
		p = append(p, transform.Param{Name: name, Value: value})
	}
	return p, true
}

// FuzzVerify: Verify accepts a parameter set exactly when its sign is, in
// either case, the signature refSign computes under the key and sign type
// (any other sign type being MD5, as Sign reads it), and Sign is that
// signature; in particular a set re-signed under another key (the fuzzer's)
// is refused unless both keys sign it alike.
func FuzzVerify(f *testing.F) {
	const key = "192006250b4c09247ec02edce69f6a2d" // docs/providers/wechat_v2.md's official example
	example := "appid=wxd930ea5d5a258f4f\nmch_id=10000100\ndevice_info=1000\nbody=test\nnonce_str=ibuaiVcKdpRxkhJA"
	f.Add(example, key, false, "")
	f.Add(example, key, true, "")
	f.Add(example, key+"x", false, "")
	f.Add(example+"\nsign=9a0a8659f005d6984697e2ca0a9cf3b7", "", false, "sign")
	f.Add("a=1&key=x\nb=", "x", true, "")
	f.Add("\x00=\na\x00=1\na=2", key, false, "")
	f.Fuzz(func(t *testing.T, text, signingKey string, hmacSHA256 bool, keep string) {
		p, ok := paramsOf(text)
		if !ok {
			return
		}
		signType := SignMD5
		if hmacSHA256 {
			signType = SignHMACSHA256
		}
		if got, want := Sign(p, key, signType), refSign(p, key, hmacSHA256); got != want {
			t.Fatalf("Sign %s, the rule's %s", got, want)
		}
		// The fuzzer's own sign is kept when keep says so; else the set is
		// signed under the fuzzer's key.
		if keep != "sign" {
			p = append(slices.DeleteFunc(p, func(kv transform.Param) bool { return kv.Name == "sign" }),
				transform.Param{Name: "sign", Value: refSign(p, signingKey, hmacSHA256)})
		}
		want := p.Get("sign") != "" && strings.EqualFold(p.Get("sign"), refSign(p, key, hmacSHA256))
		if got := Verify(p, key, signType); got != want {
			t.Fatalf("Verify %v, the rule's %v (signed under %q): %q", got, want, signingKey, p)
		}
	})
}

// FuzzPaySign: the wx.requestPayment paySign is the v2 signature of its
// five parameters (appId, nonceStr, package, signType, timeStamp), by
// refSign, for any values, AppendPaySign's prepay_id= package included.
func FuzzPaySign(f *testing.F) {
	// docs/providers/wechat_v2.md's official paySign example.
	f.Add("wxd678efh567hg6787", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "wx2017033010242291fcfe0db70013231072", SignMD5, "1490840662", "qazwsxedcrfvtgbyhnujmikolp111111")
	f.Add("", "", "", "", "", "")
	f.Add("a&b=c", "n", "", SignHMACSHA256, "1", "k")
	f.Fuzz(func(t *testing.T, appID, nonceStr, prepayID, signType, timeStamp, key string) {
		params := transform.Params{{Name: "appId", Value: appID}, {Name: "nonceStr", Value: nonceStr},
			{Name: "package", Value: "prepay_id=" + prepayID}, {Name: "signType", Value: signType}, {Name: "timeStamp", Value: timeStamp}}
		want := refSign(params, key, signType == SignHMACSHA256)
		if got := PaySign(appID, nonceStr, "prepay_id="+prepayID, signType, timeStamp, key); got != want {
			t.Fatalf("PaySign %s, the rule's %s", got, want)
		}
		if got := string(NewSigner(key).AppendPaySign(nil, appID, nonceStr, prepayID, signType, timeStamp)); got != want {
			t.Fatalf("AppendPaySign %s, the rule's %s", got, want)
		}
	})
}
