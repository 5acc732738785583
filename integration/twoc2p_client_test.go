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
	"os"
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
	// BackendReturnURL is not in the documentation: the notify_url minipay
	// adds (README "2C2P"), read by the test of the fields on the wire.
	BackendReturnURL string `xml:"backendReturnUrl,omitempty"`
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

// twoc2pWire is what an independent 2C2P read of one pay request: the
// path, the envelope's version, whether the signature verified under the
// demo key, and the payload's fields.
type twoc2pWire struct {
	path, version        string
	verified             bool
	panCountry, merchant string
	backendURL, appID    string
	order                string
}

// TestTwoC2PEveryFieldOnTheWire: every field of the 2c2p provider
// (README "2C2P": merchant_id, secret_key, app_id, version, pan_country,
// payment_path, notify_url), given in a Caddyfile and in JSON, with
// merchant_id from {env.*} and secret_key from {file.*}, reaches 2C2P as the
// README says (read by an independent server with the standard library),
// and the webhook in both forms, with dedupe, verifies with them and
// forwards a retried notification once.
func TestTwoC2PEveryFieldOnTheWire(t *testing.T) {
	var mu sync.Mutex
	var wire []twoc2pWire
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		form, _ := url.ParseQuery(string(body))
		raw, _ := base64.StdEncoding.DecodeString(form.Get("paymentRequest"))
		var env struct {
			Version   string `xml:"version"`
			Payload   string `xml:"payload"`
			Signature string `xml:"signature"`
		}
		_ = xml.Unmarshal(raw, &env)
		inner, _ := base64.StdEncoding.DecodeString(env.Payload)
		var p twoc2pClientRequest
		_ = xml.Unmarshal(inner, &p)
		mu.Lock()
		wire = append(wire, twoc2pWire{r.URL.Path, env.Version, env.Signature == twoc2pSign(env.Payload, twoc2pKey),
			p.PanCountry, p.MerchantID, p.BackendReturnURL, p.AppID, p.UniqueTransactionCode})
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, twoc2pSeal(twoc2pAnswer(p.UniqueTransactionCode, p.Amt, "32", "", "4200000"), twoc2pKey))
	}))
	t.Cleanup(fake.Close)
	merchant := newMerchantBackend(t)
	keyFile := filepath.Join(t.TempDir(), "2c2p-secret") // not *.key: caddytest rewrites such paths
	if err := os.WriteFile(keyFile, []byte(twoc2pKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MINIPAY_TEST_2C2P_MERCHANT", twoc2pMerchant)
	const notifyURL = "https://shop.example/webhooks/2c2p?tenant=7"

	port := itoa(freePort(t))
	caddyfile := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + `
:` + port + ` {
	bind 127.0.0.1
	handle /2c2p/* {
		minipay 2c2p {
			merchant_id {env.MINIPAY_TEST_2C2P_MERCHANT}
			secret_key {file.` + keyFile + `}
			app_id ` + appID + `
			version 9.8
			pan_country TH
			payment_path /SecurePayment/Payment.aspx
			notify_url "` + notifyURL + `"
		}
		reverse_proxy ` + strings.TrimPrefix(fake.URL, "http://") + `
	}
	handle /webhooks/2c2p {
		minipay_webhook 2c2p {
			merchant_id {env.MINIPAY_TEST_2C2P_MERCHANT}
			secret_key {file.` + keyFile + `}
			dedupe 25h
		}
		reverse_proxy ` + strings.TrimPrefix(merchant.srv.URL, "http://") + `
	}
}
`
	jsonConfig := `{"admin":{"listen":"` + adminAddr + `"},"storage":{"module":"file_system","root":"` + storageDir() + `"},
"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:` + port + `"],"routes":[
 {"match":[{"path":["/2c2p/*"]}],"handle":[
  {"handler":"minipay","provider":{"name":"2c2p","merchant_id":"{env.MINIPAY_TEST_2C2P_MERCHANT}","secret_key":"{file.` + keyFile + `}",
   "app_id":"` + appID + `","version":"9.8","pan_country":"TH","payment_path":"/SecurePayment/Payment.aspx","notify_url":"` + notifyURL + `"}},
  {"handler":"reverse_proxy","upstreams":[{"dial":"` + strings.TrimPrefix(fake.URL, "http://") + `"}]}]},
 {"match":[{"path":["/webhooks/2c2p"]}],"handle":[
  {"handler":"minipay_webhook","dedupe":"25h","provider":{"name":"2c2p","merchant_id":"{env.MINIPAY_TEST_2C2P_MERCHANT}","secret_key":"{file.` + keyFile + `}"}},
  {"handler":"reverse_proxy","upstreams":[{"dial":"` + strings.TrimPrefix(merchant.srv.URL, "http://") + `"}]}]}
]}}}}}`

	for i, tt := range []struct{ name, config, configType string }{
		{"Caddyfile", caddyfile, "caddyfile"},
		{"JSON", jsonConfig, "json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := startCaddyAs(t, tt.config, tt.configType)
			base := "http://127.0.0.1:" + port
			order := "FIELDS-" + itoa(i)
			// the configured pan_country and notify_url, unless the request gives its own
			for _, req := range []struct{ body, country, backend string }{
				{twoc2pPay(order, "12.34", "SGD", ""), "TH", notifyURL},
				{strings.Replace(twoc2pPay(order+"B", "12.34", "SGD", "https://shop.example/n"), "}", `,"country":"SG"}`, 1), "SG", "https://shop.example/n"},
			} {
				r := postJSON(t, tc, base+"/2c2p/pay", req.body)
				if r.status != 200 || r.json(t)["provider_order_id"] != "4200000" {
					t.Fatalf("pay: %d %s", r.status, r.body)
				}
				mu.Lock()
				got := wire[len(wire)-1]
				mu.Unlock()
				want := twoc2pWire{"/SecurePayment/Payment.aspx", "9.8", true, req.country, twoc2pMerchant, req.backend, appID, got.order}
				if got != want || !strings.HasPrefix(got.order, order) {
					t.Fatalf("2C2P read %+v\nwant %+v", got, want)
				}
			}
			// a notification and 2C2P's retry of it: two ACKs, one event
			notification := url.Values{"paymentResponse": {twoc2pSeal(twoc2pAnswer(order, "000000001234", "00", "A", "4200000"+itoa(i)), twoc2pKey)}}.Encode()
			for try := 0; try < 2; try++ {
				if r := do(t, tc, http.MethodPost, base+"/webhooks/2c2p", "application/x-www-form-urlencoded", []byte(notification)); r.status != 200 || len(r.body) != 0 {
					t.Fatalf("notification, try %d: %d %s", try, r.status, r.body)
				}
			}
			if got := merchant.take(); len(got) != 1 || got[0].event["id"] != "2c2p:4200000"+itoa(i)+":payment.succeeded" || got[0].event["order_id"] != order {
				t.Fatalf("the merchant received %v", got)
			}
			// another key's notification is refused
			forged := url.Values{"paymentResponse": {twoc2pSeal(twoc2pAnswer(order, "000000001234", "00", "A", "4299999"), "another-key")}}.Encode()
			if r := do(t, tc, http.MethodPost, base+"/webhooks/2c2p", "application/x-www-form-urlencoded", []byte(forged)); r.status != 401 || len(merchant.take()) != 0 {
				t.Fatalf("forged notification: %d %s", r.status, r.body)
			}
		})
	}
}
