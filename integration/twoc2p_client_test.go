package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// twoc2pClientRequest is the WCMINI payload as docs/providers/2c2p.md
// ("Request" 1.) lists it, written with encoding/xml: a client of 2C2P
// that knows the documentation, not this plugin.
type twoc2pClientRequest struct {
	XMLName               xml.Name `xml:"PaymentRequest"`
	TimeStamp             string   `xml:"timeStamp"`
	MerchantID            string   `xml:"merchantID"`
	UniqueTransactionCode string   `xml:"uniqueTransactionCode"`
	Desc                  string   `xml:"desc"`
	Amt                   string   `xml:"amt"`
	CurrencyCode          string   `xml:"currencyCode"`
	PanCountry            string   `xml:"panCountry,omitempty"`
	CardholderName        string   `xml:"cardholderName,omitempty"`
	PaymentChannel        string   `xml:"paymentChannel"`
	AppID                 string   `xml:"miniProgramData>wechat>appID"`
	OpenID                string   `xml:"miniProgramData>wechat>openID"`
}

// twoc2pClientAnswer is the PaymentResponse payload (docs/providers/2c2p.md
// "Response").
type twoc2pClientAnswer struct {
	XMLName               xml.Name `xml:"PaymentResponse"`
	MerchantID            string   `xml:"merchantID"`
	RespCode              string   `xml:"respCode"`
	Amt                   string   `xml:"amt"`
	UniqueTransactionCode string   `xml:"uniqueTransactionCode"`
	TranRef               string   `xml:"tranRef"`
	Status                string   `xml:"status"`
	FailReason            string   `xml:"failReason"`
	CurrencyCode          string   `xml:"currencyCode"`
	Wechat                string   `xml:"miniProgramData>wechat"`
}

// twoc2pClientSeal is steps 2-4 of docs/providers/2c2p.md "Request": the
// payload's base64, its signature, the envelope, base64 again.
func twoc2pClientSeal(inner []byte, key string) string {
	payload := base64.StdEncoding.EncodeToString(inner)
	return base64.StdEncoding.EncodeToString([]byte("<PaymentRequest><version>9.9</version><payload>" + payload +
		"</payload><signature>" + twoc2pSign(payload, key) + "</signature></PaymentRequest>"))
}

// twoc2pClientOpen reads a PaymentResponse envelope as a client of 2C2P
// does: the signature over the payload's base64 text first, then the
// payload. It fails the test when the envelope is not one or not signed
// with key.
func twoc2pClientOpen(t *testing.T, text []byte, key string) twoc2pClientAnswer {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatalf("not base64: %.80q", text)
	}
	var env struct {
		XMLName   xml.Name `xml:"PaymentResponse"`
		Version   string   `xml:"version"`
		Payload   string   `xml:"payload"`
		Signature string   `xml:"signature"`
	}
	if err := xml.Unmarshal(raw, &env); err != nil || env.Version != "9.9" {
		t.Fatalf("envelope %s: %v", raw, err)
	}
	if env.Signature != twoc2pSign(env.Payload, key) {
		t.Fatalf("signature %s does not verify: %s", env.Signature, raw)
	}
	inner, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var a twoc2pClientAnswer
	if err := xml.Unmarshal(inner, &a); err != nil {
		t.Fatalf("payload %s: %v", inner, err)
	}
	return a
}

// twoc2pBackend records the notifications the sandbox posts to the backend
// URL registered for the merchant (the sandbox's notify_url).
type twoc2pBackend struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []string // the paymentResponse form values
	kind []string // their Content-Types
}

func newTwoC2PBackend(t *testing.T) *twoc2pBackend {
	b := &twoc2pBackend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		form, _ := url.ParseQuery(string(body))
		b.mu.Lock()
		b.got = append(b.got, form.Get("paymentResponse"))
		b.kind = append(b.kind, r.Header.Get("Content-Type"))
		b.mu.Unlock()
		_, _ = io.WriteString(w, "OK")
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *twoc2pBackend) take() (values, kinds []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	values, kinds, b.got, b.kind = b.got, b.kind, nil, nil
	return values, kinds
}

// TestTwoC2PSandboxAsAClient: minipay_sandbox spoken to directly by a 2C2P
// client written from docs/providers/2c2p.md with the standard library
// (encoding/xml, crypto/hmac), in the forms such clients send (the fields as
// listed, optional ones, an XML declaration and indentation, a multipart
// form, gzip accepted): every answer is a signed PaymentResponse, respCode
// 32 with the wx.requestPayment JSON for a good request and 99/F with a
// reason for what 2C2P refuses; /sandbox/complete posts the signed result to
// the backend URL registered for the merchant (the sandbox's notify_url).
func TestTwoC2PSandboxAsAClient(t *testing.T) {
	backend := newTwoC2PBackend(t)
	port := itoa(freePort(t))
	config := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + `
:` + port + ` {
	bind 127.0.0.1
	minipay_sandbox {
		2c2p {
			merchant_id ` + twoc2pMerchant + `
			secret_key ` + twoc2pKey + `
			app_id ` + appID + `
			notify_url ` + backend.srv.URL + `/2c2p/backend
		}
	}
}
`
	tc := startCaddy(t, config)
	sandbox := "http://127.0.0.1:" + port
	endpoint := sandbox + "/2C2PFrontEnd/SecurePayment/Payment.aspx"
	now := time.Now().Format("020106150405") // ddMMyyHHmmss

	request := func(order, amt, currency string, optional bool) twoc2pClientRequest {
		r := twoc2pClientRequest{TimeStamp: now, MerchantID: twoc2pMerchant, UniqueTransactionCode: order, Desc: "Kaya toast & kopi",
			Amt: amt, CurrencyCode: currency, PaymentChannel: "WCMINI", AppID: appID, OpenID: twoc2pOpenID}
		if optional {
			r.PanCountry, r.CardholderName = "SG", "Tan Ah Kow"
		}
		return r
	}
	compact := func(r twoc2pClientRequest) []byte {
		b, err := xml.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	indented := func(r twoc2pClientRequest) []byte {
		b, err := xml.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte(xml.Header), b...)
	}
	urlEncoded := func(envelope string) (string, []byte) {
		return "application/x-www-form-urlencoded", []byte(url.Values{"paymentRequest": {envelope}}.Encode())
	}
	multipartForm := func(envelope string) (string, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("paymentRequest", envelope)
		_ = mw.Close()
		return mw.FormDataContentType(), buf.Bytes()
	}
	// post sends one request; gzipOK asks for a compressed answer, which
	// is then inflated here, as the client's own transport would not.
	post := func(t *testing.T, contentType string, body []byte, gzipOK bool) twoc2pClientAnswer {
		t.Helper()
		accept := "identity"
		if gzipOK {
			accept = "gzip"
		}
		r := do(t, tc, http.MethodPost, endpoint, contentType, body, "Accept-Encoding", accept)
		answer := r.body
		if gzipOK {
			if r.header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Accept-Encoding gzip: Content-Encoding %q", r.header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(answer))
			if err != nil {
				t.Fatal(err)
			}
			if answer, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Fatalf("answer %d %q: %s", r.status, r.header.Get("Content-Type"), answer)
		}
		return twoc2pClientOpen(t, answer, twoc2pKey)
	}

	tranRefs := map[string]string{}
	for _, tt := range []struct {
		name, order, amt, currency string
		optional                   bool
		write                      func(twoc2pClientRequest) []byte
		form                       func(string) (string, []byte)
		gzipOK                     bool
	}{
		{"the documented fields, URL-encoded form", "CL-1", "000000001234", "702", false, compact, urlEncoded, false},
		{"panCountry and cardholderName too", "CL-2", "000000000100", "764", true, compact, urlEncoded, false},
		{"an XML declaration and indentation", "CL-3", "000000000100", "392", false, indented, urlEncoded, false},
		{"a multipart form", "CL-4", "000000001234", "702", false, compact, multipartForm, false},
		{"gzip accepted", "CL-5", "000000001234", "702", false, compact, urlEncoded, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			contentType, body := tt.form(twoc2pClientSeal(tt.write(request(tt.order, tt.amt, tt.currency, tt.optional)), twoc2pKey))
			a := post(t, contentType, body, tt.gzipOK)
			if a.RespCode != "32" || a.MerchantID != twoc2pMerchant || a.UniqueTransactionCode != tt.order || a.Amt != tt.amt ||
				a.CurrencyCode != tt.currency || a.TranRef == "" {
				t.Fatalf("answer %+v", a)
			}
			// miniProgramData/wechat: the wx.requestPayment object, every value a non-empty string
			var wx map[string]any
			if err := json.Unmarshal([]byte(a.Wechat), &wx); err != nil {
				t.Fatalf("wechat %q: %v", a.Wechat, err)
			}
			for _, k := range []string{"timeStamp", "nonceStr", "package", "signType", "paySign"} {
				if v, ok := wx[k].(string); !ok || v == "" {
					t.Fatalf("wechat %s: no %s", a.Wechat, k)
				}
			}
			if !strings.HasPrefix(wx["package"].(string), "prepay_id=") {
				t.Fatalf("package %v", wx["package"])
			}
			tranRefs[tt.order] = a.TranRef
		})
	}

	// What 2C2P refuses: HTTP 200, a signed answer, respCode 99, status F, a reason.
	signedOver := func(inner []byte, message string) string { // the signature over another text than the payload's base64
		payload := base64.StdEncoding.EncodeToString(inner)
		return base64.StdEncoding.EncodeToString([]byte("<PaymentRequest><version>9.9</version><payload>" + payload +
			"</payload><signature>" + twoc2pSign(message, twoc2pKey) + "</signature></PaymentRequest>"))
	}
	good := compact(request("CL-R", "000000001234", "702", false))
	for _, tt := range []struct{ name, envelope string }{
		{"signed with another key", twoc2pClientSeal(good, "another-key")},
		{"signed over the XML instead of its base64", signedOver(good, string(good))},
		{"amt not 12 digits", twoc2pClientSeal(compact(request("CL-R", "12.34", "702", false)), twoc2pKey)},
		{"an alphabetic currencyCode", twoc2pClientSeal(compact(request("CL-R", "000000001234", "SGD", false)), twoc2pKey)},
		{"another channel", twoc2pClientSeal(bytes.Replace(good, []byte("WCMINI"), []byte("123"), 1), twoc2pKey)},
		{"another mini program", twoc2pClientSeal(bytes.Replace(good, []byte(appID), []byte("wx0000000000000000"), 1), twoc2pKey)},
		{"the order paid already", twoc2pClientSeal(compact(request("CL-1", "000000001234", "702", false)), twoc2pKey)},
	} {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			if tt.name == "the order paid already" {
				if r := postJSON(t, tc, sandbox+"/sandbox/complete", `{"provider":"2c2p","order_id":"CL-1","result":"succeeded"}`); r.status != 200 {
					t.Fatalf("complete: %d %s", r.status, r.body)
				}
				backend.take()
			}
			contentType, body := urlEncoded(tt.envelope)
			if a := post(t, contentType, body, false); a.RespCode != "99" || a.Status != "F" || a.FailReason == "" || a.Wechat != "" {
				t.Fatalf("answer %+v", a)
			}
		})
	}

	// The payer pays or gives up: the signed result is posted as the form
	// field paymentResponse to the merchant's registered backend URL.
	for _, tt := range []struct{ order, result, respCode, status, amt string }{
		{"CL-2", "succeeded", "00", "A", "000000000100"},
		{"CL-3", "failed", "99", "F", "000000000100"},
	} {
		r := postJSON(t, tc, sandbox+"/sandbox/complete", `{"provider":"2c2p","order_id":"`+tt.order+`","result":"`+tt.result+`"}`)
		if c := r.json(t); r.status != 200 || c["acknowledged"] != true || c["notify_url"] != backend.srv.URL+"/2c2p/backend" {
			t.Fatalf("complete %s: %d %s", tt.order, r.status, r.body)
		}
		values, kinds := backend.take()
		if len(values) != 1 || kinds[0] != "application/x-www-form-urlencoded" {
			t.Fatalf("%s: the backend received %d notifications (%q)", tt.order, len(values), kinds)
		}
		n := twoc2pClientOpen(t, []byte(values[0]), twoc2pKey)
		if n.RespCode != tt.respCode || n.Status != tt.status || n.UniqueTransactionCode != tt.order || n.MerchantID != twoc2pMerchant ||
			n.Amt != tt.amt || n.TranRef != tranRefs[tt.order] {
			t.Fatalf("notification %+v, the pay answer's tranRef %s", n, tranRefs[tt.order])
		}
	}
}
