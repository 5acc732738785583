package twoc2p

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

const (
	testAppID  = "wx8888888888888888"
	testOpenID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
	otherKey   = "not-the-secret-key"
)

func testConfig() Config {
	return Config{MerchantID: demoMerchantID, SecretKey: demoSecretKey, AppID: testAppID}
}

func newClient(t testing.TB, cfg Config) *Client {
	c := transformtest.Must(t, NewClient, cfg)
	c.Now = transformtest.Clock
	return c
}

// refSign is docs/providers/2c2p.md's rule written out independently of Sign: uppercase
// hex HMAC-SHA256, key = the secret key's bytes, message = the base64 text.
func refSign(payloadB64, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(payloadB64))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// refEnvelope is an envelope read with encoding/xml, not etree.
type refEnvelope struct {
	XMLName   xml.Name
	Version   string `xml:"version"`
	Payload   string `xml:"payload"`
	Signature string `xml:"signature"`
}

// refOpen decodes an envelope's base64 text with the standard library only.
func refOpen(text string) (refEnvelope, error) {
	var env refEnvelope
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return env, err
	}
	err = xml.Unmarshal(raw, &env)
	return env, err
}

// refSeal builds an envelope by string concatenation (not Seal), signed
// with refSign.
func refSeal(root, inner, key string) string {
	payload := base64.StdEncoding.EncodeToString([]byte(inner))
	return base64.StdEncoding.EncodeToString([]byte("<" + root + "><version>9.9</version><payload>" + payload +
		"</payload><signature>" + refSign(payload, key) + "</signature></" + root + ">"))
}

// answerXML is a PaymentResponse payload with the demo server's fields,
// written by hand; kv pairs override or add fields (in order).
func answerXML(kv ...string) string {
	fields := [][2]string{
		{"timeStamp", "221126100000"}, {"merchantID", demoMerchantID}, {"respCode", "32"}, {"pan", ""},
		{"amt", "000000001234"}, {"uniqueTransactionCode", "ORDER-1"}, {"tranRef", "3200632"},
		{"approvalCode", ""}, {"refNumber", ""}, {"eci", ""}, {"dateTime", "221126100000"}, {"status", ""},
		{"failReason", "Pending"}, {"userDefined1", ""}, {"paymentChannel", "WCMINI"}, {"backendInvoice", ""},
		{"currencyCode", "702"},
		{"miniProgramData", `<wechat>{"timeStamp":"1795346400","package":"prepay_id=wx2026112210000012345678901234567890","nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","signType":"HMAC-SHA256","paySign":"86641182781CC02AFAFDE56FD441760023D2BA8AE9F6FFB47F25C9D344DA1D87"}</wechat>`},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for j := range fields {
			if fields[j][0] == kv[i] {
				fields[j][1], found = kv[i+1], true
			}
		}
		if !found {
			fields = append(fields, [2]string{kv[i], kv[i+1]})
		}
	}
	var b strings.Builder
	b.WriteString("<PaymentResponse>")
	for _, f := range fields {
		if f[0] == "-" || f[1] == "-" { // "-" drops a field
			continue
		}
		b.WriteString("<" + f[0] + ">" + f[1] + "</" + f[0] + ">")
	}
	b.WriteString("</PaymentResponse>")
	return b.String()
}

func without(name string) []string { return []string{name, "-"} }

func gzipped(b []byte) []byte { return transformtest.Gzip(b) }

func form(field, value string) []byte {
	return []byte(url.Values{field: {value}}.Encode())
}

const testBoundary = "minipay-test-boundary"

var multipartHeader = http.Header{"Content-Type": {"multipart/form-data; boundary=" + testBoundary}}

// multipartForm is a multipart/form-data body (what curl -F sends) with the
// given field, value pairs, written by hand.
func multipartForm(kv ...string) []byte {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"" + kv[i] + "\"\r\n\r\n" + kv[i+1] + "\r\n")
	}
	b.WriteString("--" + testBoundary + "--\r\n")
	return []byte(b.String())
}

// wrap76 breaks base64 text into MIME's 76-character lines.
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// wantError asserts err is a *transform.Error with status and code.
func wantError(t *testing.T, err error, status int, code string) *transform.Error {
	t.Helper()
	return transformtest.WantError(t, err, status, code, demoSecretKey)
}

// flipByte changes s[i] to another base64 character.
func flipByte(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// refDecode is the XML of an envelope's base64 text.
func refDecode(t testing.TB, text string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
