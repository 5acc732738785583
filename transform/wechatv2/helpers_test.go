package wechatv2

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// The merchant identity of the official signature example (docs/providers/wechat_v2.md
// "Known-answer vectors"): appid, mch_id and the 32-byte API key.
const (
	vecAppID  = "wxd930ea5d5a258f4f"
	vecMchID  = "10000100"
	vecAPIKey = "192006250b4c09247ec02edce69f6a2d"
	otherKey  = "ffffffffffffffffffffffffffffffff"
	notifyURL = "https://merchant.example/wechat/notify"
	clientIP  = "203.0.113.7"
	openID    = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
)

// Service-provider mode: the sub-merchant's mini program is the appid of the
// official paySign example.
const (
	spAppID    = "wx8888888888888888"
	spMchID    = "1900000100"
	spSubAppID = "wxd678efh567hg6787"
	spSubMchID = "1900000109"
)

func testConfig(signType string) Config {
	return Config{AppID: vecAppID, MchID: vecMchID, APIKey: vecAPIKey, SignType: signType, NotifyURL: notifyURL, ClientIP: clientIP}
}

func spConfig() Config {
	c := testConfig(SignMD5)
	c.AppID, c.MchID, c.SubAppID, c.SubMchID = spAppID, spMchID, spSubAppID, spSubMchID
	return c
}

func newClient(t testing.TB, cfg Config) *Client {
	c := transformtest.Must(t, NewClient, cfg)
	c.Now = transformtest.Clock
	return c
}

// refSign is docs/providers/wechat_v2.md's signature rule written out independently of
// Sign: non-empty parameters but sign, sorted by name, k=v joined with '&',
// "&key=" appended, MD5 or HMAC-SHA256 (key = API key), uppercase hex.
func refSign(p transform.Params, key, signType string) string {
	var kv []transform.Param
	for _, x := range p {
		if x.Value != "" && x.Name != "sign" {
			kv = append(kv, x)
		}
	}
	sort.SliceStable(kv, func(i, j int) bool { return kv[i].Name < kv[j].Name })
	var parts []string
	for _, x := range kv {
		parts = append(parts, x.Name+"="+x.Value)
	}
	msg := []byte(strings.Join(parts, "&") + "&key=" + key)
	if signType == SignHMACSHA256 {
		m := hmac.New(sha256.New, []byte(key))
		m.Write(msg)
		return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
	}
	sum := md5.Sum(msg)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// The reference signer reproduces the published vectors before any test
// relies on it.
func TestRefSignKnownAnswers(t *testing.T) {
	p := transform.Params{
		{Name: "appid", Value: "wxd930ea5d5a258f4f"}, {Name: "mch_id", Value: "10000100"},
		{Name: "device_info", Value: "1000"}, {Name: "body", Value: "test"}, {Name: "nonce_str", Value: "ibuaiVcKdpRxkhJA"},
	}
	if got := refSign(p, vecAPIKey, SignMD5); got != "9A0A8659F005D6984697E2CA0A9CF3B7" {
		t.Fatalf("MD5 = %s", got)
	}
	if got := refSign(p, vecAPIKey, SignHMACSHA256); got != "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6" {
		t.Fatalf("HMAC-SHA256 = %s", got)
	}
	pay := transform.Params{
		{Name: "appId", Value: "wxd678efh567hg6787"}, {Name: "nonceStr", Value: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"},
		{Name: "package", Value: "prepay_id=wx2017033010242291fcfe0db70013231072"}, {Name: "signType", Value: "MD5"},
		{Name: "timeStamp", Value: "1490840662"},
	}
	if got := refSign(pay, "qazwsxedcrfvtgbyhnujmikolp111111", SignMD5); got != "22D9B4E54AB1950F51E0649E8810ACD6" {
		t.Fatalf("paySign = %s", got)
	}
}

// signedXML appends a sign computed by refSign and writes the document.
func signedXML(p transform.Params, key, signType string) []byte {
	p = append(p[:len(p):len(p)], transform.Param{Name: "sign", Value: refSign(p, key, signType)})
	return transform.AppendFlatXML(nil, "xml", p)
}

func parseXML(t testing.TB, body []byte) transform.Params {
	t.Helper()
	root, p, err := transform.ParseFlatXML(body)
	if err != nil || root != "xml" {
		t.Fatalf("not a flat <xml> document (%v): %s", err, body)
	}
	return p
}

// wantError asserts err is a *transform.Error with status and code.
func wantError(t *testing.T, err error, status int, code string) *transform.Error {
	t.Helper()
	return transformtest.WantError(t, err, status, code, vecAPIKey)
}
