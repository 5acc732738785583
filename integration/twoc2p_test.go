package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// 2C2P's public demo merchant and secret key (docs/providers/2c2p.md).
const (
	twoc2pMerchant = "JT01"
	twoc2pKey      = "7jYcp4FxFdf0"
	twoc2pOpenID   = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
)

// The demo server's two real answers (transformtest), the 2C2P demo
// answers of docs/providers/2c2p.md "Known-answer vectors" (the
// activemerchant fixture): respCode 00 (status A, tranRef 3200632) and
// respCode 99 ("Invalid Card Number.").
const (
	twoc2pDemoApproved = transformtest.TwoC2PDemoApproved
	twoc2pDemoDeclined = transformtest.TwoC2PDemoDeclined
)

// twoc2pDemoRequestOrder is the order of the captured demo request, which
// the demo server answered with transformtest.TwoC2PDemoAnswerToRequestGzip
// (docs/providers/2c2p.md "Known-answer vectors").
const twoc2pDemoRequestOrder = "7570917b60"

// twoc2pSign is docs/providers/2c2p.md's signature, with the standard library only.
func twoc2pSign(payload, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(payload))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// twoc2pSeal writes a signed PaymentResponse envelope by hand.
func twoc2pSeal(inner, key string) string {
	payload := base64.StdEncoding.EncodeToString([]byte(inner))
	return base64.StdEncoding.EncodeToString([]byte("<PaymentResponse><version>9.9</version><payload>" + payload +
		"</payload><signature>" + twoc2pSign(payload, key) + "</signature></PaymentResponse>"))
}

// twoc2pAnswer is a respCode 32 (or other) payload as 2C2P writes it.
func twoc2pAnswer(orderID, amt, respCode, status, tranRef string) string {
	wechat := ""
	if respCode == "32" {
		wechat = `<miniProgramData><wechat>{"timeStamp":"1795346400","package":"prepay_id=wx20261122100000fake2c2p000001","nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","signType":"HMAC-SHA256","paySign":"86641182781CC02AFAFDE56FD441760023D2BA8AE9F6FFB47F25C9D344DA1D87"}</wechat></miniProgramData>`
	}
	return "<PaymentResponse><timeStamp>221126100000</timeStamp><merchantID>" + twoc2pMerchant + "</merchantID><respCode>" + respCode +
		"</respCode><pan></pan><amt>" + amt + "</amt><uniqueTransactionCode>" + orderID + "</uniqueTransactionCode><tranRef>" + tranRef +
		"</tranRef><approvalCode></approvalCode><refNumber></refNumber><eci></eci><dateTime>221126100000</dateTime><status>" + status +
		"</status><failReason>Approved</failReason><userDefined1></userDefined1><paymentChannel>WCMINI</paymentChannel>" +
		"<backendInvoice></backendInvoice><currencyCode>702</currencyCode>" + wechat + "</PaymentResponse>"
}

// twoc2pSent is what the fake read of one request.
type twoc2pSent struct {
	path, contentType                                     string
	merchantID, orderID, amt, currencyCode, channel, desc string
	appID, openID, timeStamp                              string
}

// fake2C2P is an independent 2C2P server: it reads the request with the
// standard library, refuses it (HTTP 400) unless the demo key signed it,
// and answers by the order id's prefix, like the demo server (text/html,
// gzip on some).
type fake2C2P struct {
	srv  *httptest.Server
	mu   sync.Mutex
	sent []twoc2pSent
}

func newFake2C2P(t *testing.T) *fake2C2P {
	f := &fake2C2P{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake2C2P) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	form, err := url.ParseQuery(string(body))
	var env struct {
		Version   string `xml:"version"`
		Payload   string `xml:"payload"`
		Signature string `xml:"signature"`
	}
	raw, err2 := base64.StdEncoding.DecodeString(form.Get("paymentRequest"))
	if err != nil || err2 != nil || xml.Unmarshal(raw, &env) != nil || env.Version != "9.9" ||
		env.Signature != twoc2pSign(env.Payload, twoc2pKey) {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	inner, _ := base64.StdEncoding.DecodeString(env.Payload)
	var p twoc2pClientRequest // the payload as docs/providers/2c2p.md lists it
	if xml.Unmarshal(inner, &p) != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.sent = append(f.sent, twoc2pSent{r.URL.Path, r.Header.Get("Content-Type"), p.MerchantID, p.UniqueTransactionCode, p.Amt,
		p.CurrencyCode, p.PaymentChannel, p.Desc, p.AppID, p.OpenID, p.TimeStamp})
	f.mu.Unlock()
	id := p.UniqueTransactionCode
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch {
	case id == twoc2pDemoRequestOrder: // the demo server's own answer to this order, byte for byte
		gz, _ := base64.StdEncoding.DecodeString(transformtest.TwoC2PDemoAnswerToRequestGzip)
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gz)
	case strings.HasPrefix(id, "APPROVED"):
		_, _ = w.Write([]byte(twoc2pDemoApproved))
	case strings.HasPrefix(id, "DECLINED"):
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(transformtest.Gzip([]byte(twoc2pDemoDeclined)))
	case strings.HasPrefix(id, "GZIP"):
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(transformtest.Gzip([]byte(twoc2pSeal(twoc2pAnswer(id, p.Amt, "32", "", "4100001"), twoc2pKey))))
	case strings.HasPrefix(id, "RAWGZIP"): // compressed, but not labelled so
		_, _ = w.Write(transformtest.Gzip([]byte(twoc2pSeal(twoc2pAnswer(id, p.Amt, "32", "", "4100002"), twoc2pKey))))
	case strings.HasPrefix(id, "NOORDER"): // an answer that does not echo the order
		_, _ = w.Write([]byte(twoc2pSeal(strings.Replace(twoc2pAnswer(id, p.Amt, "32", "", "4100004"), "<uniqueTransactionCode>"+id+"</uniqueTransactionCode>", "", 1), twoc2pKey)))
	case strings.HasPrefix(id, "OTHERORDER"):
		_, _ = w.Write([]byte(twoc2pSeal(twoc2pAnswer("SOMEONE-ELSE", p.Amt, "32", "", "4100005"), twoc2pKey)))
	case strings.HasPrefix(id, "FORGED"):
		_, _ = w.Write([]byte(twoc2pSeal(twoc2pAnswer(id, p.Amt, "32", "", "4100003"), "0000000000000")))
	case strings.HasPrefix(id, "HTTP500"):
		http.Error(w, "<html>Server Error in '/' Application.</html>", http.StatusInternalServerError)
	case strings.HasPrefix(id, "GARBAGE"):
		_, _ = w.Write([]byte("<html><body>Payment.aspx</body></html>"))
	default:
		_, _ = w.Write([]byte(twoc2pSeal(twoc2pAnswer(id, p.Amt, "32", "", "4100000"), twoc2pKey)))
	}
}

func (f *fake2C2P) last() twoc2pSent {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) == 0 {
		return twoc2pSent{}
	}
	return f.sent[len(f.sent)-1]
}

// twoc2pConfig: a merchant site with 2C2P routes to the sandbox and to the
// fake, the webhook route to the merchant backend, and the sandbox.
func twoc2pConfig(t *testing.T, logFile, fake, merchantBackend string) (config, base, sandbox string) {
	merchant, sb := itoa(freePort(t)), itoa(freePort(t))
	provider := `
			merchant_id ` + twoc2pMerchant + `
			secret_key ` + twoc2pKey + `
			app_id ` + appID
	config = globalOptions(logFile) + `
:` + merchant + ` {
	handle /2c2p/* {
		minipay 2c2p {` + provider + `
		}
		reverse_proxy 127.0.0.1:` + sb + `
	}
	handle /fake2c2p/* {
		minipay 2c2p {` + provider + `
		}
		reverse_proxy ` + strings.TrimPrefix(fake, "http://") + `
	}
	handle /live2c2p/* {
		minipay 2c2p {` + provider + `
			payment_path /SecurePayment/Payment.aspx
		}
		reverse_proxy 127.0.0.1:` + sb + `
	}
	handle /webhooks/2c2p {
		minipay_webhook 2c2p {
			merchant_id ` + twoc2pMerchant + `
			secret_key ` + twoc2pKey + `
		}
		reverse_proxy ` + strings.TrimPrefix(merchantBackend, "http://") + `
	}
}

:` + sb + ` {
	bind 127.0.0.1
	minipay_sandbox {
		2c2p {` + provider + `
		}
	}
}
`
	return config, "http://localhost:" + merchant, "http://localhost:" + sb
}

func twoc2pPay(orderID, amount, currency, notifyURL string) string {
	s := `{"order_id":"` + orderID + `","amount":"` + amount + `","currency":"` + currency +
		`","description":"Kaya toast & kopi","openid":"` + twoc2pOpenID + `"`
	if notifyURL != "" {
		s += `,"notify_url":"` + notifyURL + `"`
	}
	return s + "}"
}

var (
	upperHex64 = regexp.MustCompile(`^[0-9A-F]{64}$`)
	digitsOnly = regexp.MustCompile(`^[0-9]+$`)
	base64Text = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)
)

// TestTwoC2PSandboxPayAndWebhook: pay through minipay 2c2p → reverse_proxy →
// minipay_sandbox, then the sandbox's signed backend notification through
// minipay_webhook 2c2p → the merchant backend, and forged ones stopped.
func TestTwoC2PSandboxPayAndWebhook(t *testing.T) {
	merchant := newMerchantBackend(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	config, base, sandbox := twoc2pConfig(t, logFile, "http://127.0.0.1:9", merchant.srv.URL)
	tc := startCaddy(t, config)
	notify := base + "/webhooks/2c2p"

	pay := postJSON(t, tc, base+"/2c2p/pay", twoc2pPay("2C2P-1", "12.34", "SGD", notify))
	if pay.status != 200 || pay.header.Get("Content-Type") != "application/json" {
		t.Fatalf("pay: %d %s", pay.status, pay.body)
	}
	p := pay.json(t)
	if !digitsOnly.MatchString(str(p["timeStamp"])) || len(str(p["nonceStr"])) != 32 || !strings.HasPrefix(str(p["package"]), "prepay_id=wx") ||
		p["signType"] != "HMAC-SHA256" || !upperHex64.MatchString(str(p["paySign"])) || p["provider"] != "2c2p" ||
		p["order_id"] != "2C2P-1" || !digitsOnly.MatchString(str(p["provider_order_id"])) || len(p) != 8 {
		t.Fatalf("pay answer: %s", pay.body)
	}
	// the same order again: still unpaid, a fresh object for the same prepay
	if again := postJSON(t, tc, base+"/2c2p/pay", twoc2pPay("2C2P-1", "12.34", "SGD", notify)); again.status != 200 ||
		again.json(t)["package"] != p["package"] || again.json(t)["provider_order_id"] != p["provider_order_id"] {
		t.Fatalf("pay again: %d %s", again.status, again.body)
	}
	// a route with the live hosts' payment_path reaches the sandbox too
	if live := postJSON(t, tc, base+"/live2c2p/pay", twoc2pPay("2C2P-L", "1.00", "SGD", "")); live.status != 200 || live.json(t)["order_id"] != "2C2P-L" {
		t.Fatalf("pay through payment_path /SecurePayment/Payment.aspx: %d %s", live.status, live.body)
	}
	// the sandbox compresses its answer only for a client that accepts gzip (q=0 refuses it)
	for accept, gz := range map[string]bool{"gzip": true, "x-gzip": true, "gzip;q=0": false, "identity": false} {
		req, _ := http.NewRequest(http.MethodPost, sandbox+"/2C2PFrontEnd/SecurePayment/Payment.aspx", strings.NewReader(transformtest.TwoC2PDemoRequestForm))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept-Encoding", accept)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if got := res.Header.Get("Content-Encoding") == "gzip"; got != gz || res.StatusCode != 200 || (!gz && !base64Text.Match(body)) {
			t.Fatalf("Accept-Encoding %q: %d, Content-Encoding %q: %.40q", accept, res.StatusCode, res.Header.Get("Content-Encoding"), body)
		}
	}
	// a business refusal of the sandbox is a 422 with 2C2P's code and reason
	if other := postJSON(t, tc, base+"/2c2p/pay", twoc2pPay("2C2P-1", "99.00", "SGD", notify)); other.status != 422 ||
		str(other.errorOf(t)["provider_code"]) != "99" || str(other.errorOf(t)["provider_message"]) != "Duplicate unique transaction code." {
		t.Fatalf("same order, other amount: %d %s", other.status, other.body)
	}
	for _, tt := range []struct{ name, op, body, code, field string }{
		{"query is no 2c2p operation", "query", `{"order_id":"2C2P-1"}`, "unknown_operation", ""},
		{"JPY with decimals", "pay", twoc2pPay("2C2P-9", "1.5", "JPY", ""), "invalid_request", "amount"},
		{"country", "pay", strings.Replace(twoc2pPay("2C2P-9", "1", "SGD", ""), "}", `,"country":"Singapore"}`, 1), "invalid_request", "country"},
	} {
		r := postJSON(t, tc, base+"/2c2p/"+tt.op, tt.body)
		if e := r.errorOf(t); e["code"] != tt.code || str(e["field"]) != tt.field {
			t.Fatalf("%s: %d %s", tt.name, r.status, r.body)
		}
	}

	// the payer pays: the sandbox posts 2C2P's signed notification to notify_url
	done := postJSON(t, tc, sandbox+"/sandbox/complete", `{"provider":"2c2p","order_id":"2C2P-1","result":"succeeded"}`)
	c := done.json(t)
	// minipay's ACK is a bare 200 (README "2C2P"): the answer shows no response_body
	if _, body := c["response_body"]; done.status != 200 || c["acknowledged"] != true || c["response_status"] != float64(200) || body || c["notify_url"] != notify {
		t.Fatalf("complete: %d %s", done.status, done.body)
	}
	// the console lists it as acknowledged, with no answer to show
	list := string(do(t, tc, http.MethodGet, sandbox+"/sandbox/?part=list", "", nil).body)
	_, note, found := strings.Cut(list, `data-order-id="2C2P-1" data-result="succeeded"`)
	if note, _, _ = strings.Cut(note, "</li>"); !found || !strings.Contains(note, "HTTP 200 · ✓ exact ACK") || strings.Contains(note, `class="answer"`) {
		t.Fatalf("console: %s", note)
	}
	got := merchant.take()
	if len(got) != 1 {
		t.Fatalf("merchant received %d events", len(got))
	}
	ev := got[0].event
	data, _ := ev["data"].(map[string]any)
	if ev["type"] != "payment.succeeded" || ev["provider"] != "2c2p" || ev["order_id"] != "2C2P-1" || ev["amount"] != "12.34" ||
		ev["currency"] != "SGD" || ev["provider_order_id"] != p["provider_order_id"] ||
		ev["id"] != "2c2p:"+str(p["provider_order_id"])+":payment.succeeded" || got[0].header.Get("Minipay-Event-Id") != ev["id"] ||
		got[0].header.Get("Minipay-Provider") != "2c2p" || data["respCode"] != "00" || data["status"] != "A" || data["amt"] != "000000001234" {
		t.Fatalf("event %v", ev)
	}
	// 2C2P retries: the same event id, so the merchant can deduplicate
	postJSON(t, tc, sandbox+"/sandbox/complete", `{"provider":"2c2p","order_id":"2C2P-1","result":"succeeded"}`)
	if retry := merchant.take(); len(retry) != 1 || retry[0].event["id"] != ev["id"] {
		t.Fatalf("retried notification: %v", retry)
	}
	// a failed payment, the merchant backend down: no ACK, so 2C2P retries
	if r := postJSON(t, tc, base+"/2c2p/pay", twoc2pPay("2C2P-2", "100", "JPY", notify)); r.status != 200 {
		t.Fatalf("pay JPY: %d %s", r.status, r.body)
	}
	merchant.status.Store(500)
	failed := postJSON(t, tc, sandbox+"/sandbox/complete", `{"provider":"2c2p","order_id":"2C2P-2","result":"failed"}`).json(t)
	merchant.status.Store(200)
	if failed["acknowledged"] != false || failed["response_status"] != float64(502) {
		t.Fatalf("complete with the backend down: %v", failed)
	}
	if got := merchant.take(); len(got) != 1 || got[0].event["type"] != "payment.failed" || got[0].event["amount"] != "100" || got[0].event["currency"] != "JPY" {
		t.Fatalf("failed event %v", got)
	}

	// notifications minipay must stop: nothing reaches the merchant
	signedPayload := func(inner string) (payload, sig string) {
		payload = base64.StdEncoding.EncodeToString([]byte(inner))
		return payload, twoc2pSign(payload, twoc2pKey)
	}
	goodPayload, goodSig := signedPayload(twoc2pAnswer("2C2P-7", "000000001234", "00", "A", "3209999"))
	tamperedPayload, _ := signedPayload(twoc2pAnswer("2C2P-7", "000000000001", "00", "A", "3209999"))
	etreePayload, etreeSig := signedPayload("<?xml version='1.0' encoding='us-ascii'?>\n" + twoc2pAnswer("2C2P-7", "000000001234", "00", "A", "3209999"))
	envelope := func(payload, sig string) string {
		return base64.StdEncoding.EncodeToString([]byte("<PaymentResponse><version>9.9</version><payload>" + payload +
			"</payload><signature>" + sig + "</signature></PaymentResponse>"))
	}
	formOf := func(env string) string { return url.Values{"paymentResponse": {env}}.Encode() }
	const formType = "application/x-www-form-urlencoded"
	tests := []struct {
		name, contentType, body string
		status                  int
		typ, amount, currency   string
	}{
		{"valid form", formType, formOf(envelope(goodPayload, goodSig)), 200, "payment.succeeded", "12.34", "SGD"},
		{"valid raw body: the demo server's approved answer", "text/plain", twoc2pDemoApproved, 200, "payment.succeeded", "1.00", "SGD"},
		{"the declined demo answer", formType, formOf(twoc2pDemoDeclined), 200, "payment.failed", "", ""},
		{"valid raw body labelled a form, as curl -d sends it", formType, twoc2pDemoApproved, 200, "payment.succeeded", "1.00", "SGD"},
		{"valid multipart form, as curl -F sends it", "multipart/form-data; boundary=b0", "--b0\r\nContent-Disposition: form-data; name=\"paymentResponse\"\r\n\r\n" +
			twoc2pDemoApproved + "\r\n--b0--\r\n", 200, "payment.succeeded", "1.00", "SGD"},
		// envelope and payload as Python's ElementTree writes them (xml_declaration=True)
		{"envelope and payload declaring us-ascii (ElementTree)", formType, formOf(base64.StdEncoding.EncodeToString([]byte(
			"<?xml version='1.0' encoding='us-ascii'?>\n<PaymentResponse><version>9.9</version><payload>" + etreePayload +
				"</payload><signature>" + etreeSig + "</signature></PaymentResponse>"))), 200, "payment.succeeded", "12.34", "SGD"},
		// approved and failed at once: forwarded, never as a terminal state
		{"respCode 00 with status F", formType, formOf(twoc2pSeal(twoc2pAnswer("2C2P-8", "000000001234", "00", "F", "3209998"), twoc2pKey)), 200, "unknown", "12.34", "SGD"},
		{"respCode 99 with status A", formType, formOf(twoc2pSeal(twoc2pAnswer("2C2P-9", "000000001234", "99", "A", "3209997"), twoc2pKey)), 200, "unknown", "12.34", "SGD"},
		{"forged", formType, formOf(twoc2pSeal(twoc2pAnswer("2C2P-7", "000000001234", "00", "A", "3209999"), "0000000000000")), 401, "", "", ""},
		{"tampered amount", formType, formOf(envelope(tamperedPayload, goodSig)), 401, "", "", ""},
		{"foreign merchant", formType, formOf(twoc2pSeal(strings.Replace(twoc2pAnswer("2C2P-7", "000000001234", "00", "A", "3209999"),
			"<merchantID>JT01</merchantID>", "<merchantID>JT02</merchantID>", 1), twoc2pKey)), 401, "", "", ""},
		{"unsigned", formType, formOf(envelope(goodPayload, "")), 401, "", "", ""},
		{"not an envelope", "application/json", `{"respCode":"00"}`, 401, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tc, http.MethodPost, notify, tt.contentType, []byte(tt.body))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			got := merchant.take()
			if tt.status != 200 {
				if len(got) != 0 || len(r.body) == 0 || strings.Contains(string(r.body), twoc2pKey) {
					t.Fatalf("refused notification: merchant got %d events, answer %q", len(got), r.body)
				}
				return
			}
			// the ACK is the status alone (2C2P reads only the status), sent
			// byte for byte: no body, Content-Length 0, no Content-Type
			if len(r.body) != 0 || r.header.Get("Content-Length") != "0" || r.header.Values("Content-Type") != nil || len(got) != 1 {
				t.Fatalf("ACK %q %v, merchant got %d events", r.body, r.header, len(got))
			}
			if e := got[0].event; e["type"] != tt.typ || str(e["amount"]) != tt.amount || str(e["currency"]) != tt.currency {
				t.Fatalf("event %v", e)
			}
		})
	}

	logs := logText(t, logFile)
	mustContain(t, logs, `"outcome":"unverified"`, "warn line for a forged notification")
	if strings.Contains(logs, twoc2pKey) || strings.Contains(logs, twoc2pOpenID) {
		t.Fatal("the log holds the secret key or a clear openid")
	}
}

// TestTwoC2PIndependentServer: minipay against an independent 2C2P that
// answers the demo server's real answers (respCode 00 and 99: not 32, so
// 2C2P refused to start a WeChat payment), gzip-compressed text/html,
// forged and broken answers.
func TestTwoC2PIndependentServer(t *testing.T) {
	fake := newFake2C2P(t)
	config, base, _ := twoc2pConfig(t, filepath.Join(t.TempDir(), "caddy.log"), fake.srv.URL, "http://127.0.0.1:9")
	tc := startCaddy(t, config)

	tests := []struct {
		name, order, amount, currency string
		status                        int
		code, providerCode, message   string
		tranRef                       string
	}{
		{"respCode 32", "OK-1", "12.34", "SGD", 200, "", "", "", "4100000"},
		{"gzip text/html (Content-Encoding)", "GZIP-1", "12.34", "SGD", 200, "", "", "", "4100001"},
		{"gzip body without Content-Encoding", "RAWGZIP-1", "12.34", "SGD", 200, "", "", "", "4100002"},
		{"the approved demo answer: respCode 00, not 32", "APPROVED-1", "1.00", "SGD", 422, "provider_rejected", "00", "Approved", ""},
		{"the declined demo answer, gzip", "DECLINED-1", "1.00", "SGD", 422, "provider_rejected", "99", "Invalid Card Number.", ""},
		{"the demo server's answer to the captured request, its gzip bytes as they arrived", twoc2pDemoRequestOrder, "1.00", "SGD", 422, "provider_rejected", "00", "Approved", ""},
		{"an answer without uniqueTransactionCode", "NOORDER-1", "12.34", "SGD", 502, "upstream_error", "", "", ""},
		{"an answer for another order", "OTHERORDER-1", "12.34", "SGD", 502, "upstream_error", "", "", ""},
		{"forged answer", "FORGED-1", "12.34", "SGD", 502, "upstream_signature_invalid", "", "", ""},
		{"HTTP 500", "HTTP500-1", "12.34", "SGD", 502, "upstream_error", "", "", ""},
		{"an HTML page", "GARBAGE-1", "12.34", "SGD", 502, "upstream_error", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postJSON(t, tc, base+"/fake2c2p/pay", twoc2pPay(tt.order, tt.amount, tt.currency, ""))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if strings.Contains(string(r.body), twoc2pKey) {
				t.Fatal("the answer holds the secret key")
			}
			if tt.status == 200 {
				p := r.json(t)
				if p["package"] != "prepay_id=wx20261122100000fake2c2p000001" || p["paySign"] != "86641182781CC02AFAFDE56FD441760023D2BA8AE9F6FFB47F25C9D344DA1D87" ||
					p["timeStamp"] != "1795346400" || p["provider_order_id"] != tt.tranRef || p["order_id"] != tt.order {
					t.Fatalf("answer %s", r.body)
				}
				return
			}
			e := r.errorOf(t)
			if e["code"] != tt.code || str(e["provider_code"]) != tt.providerCode || str(e["provider_message"]) != tt.message {
				t.Fatalf("error %v", e)
			}
		})
	}

	// what the independent server received, read with the standard library
	for _, tt := range []struct{ amount, currency, amt, numeric string }{
		{"12.34", "SGD", "000000001234", "702"}, {"100", "JPY", "000000000100", "392"}, {"0.01", "THB", "000000000001", "764"},
		{"1.234", "KWD", "000000001234", "414"}, {"0.5", "BHD", "000000000500", "048"}, {"250000", "VND", "000000250000", "704"},
	} {
		if r := postJSON(t, tc, base+"/fake2c2p/pay", twoc2pPay("AMT-"+tt.currency, tt.amount, tt.currency, "")); r.status != 200 {
			t.Fatalf("pay %s: %d %s", tt.currency, r.status, r.body)
		}
		s := fake.last()
		if s.path != "/2C2PFrontEnd/SecurePayment/Payment.aspx" || s.contentType != "application/x-www-form-urlencoded" ||
			s.merchantID != twoc2pMerchant || s.orderID != "AMT-"+tt.currency || s.amt != tt.amt || s.currencyCode != tt.numeric ||
			s.channel != "WCMINI" || s.desc != "Kaya toast & kopi" || s.appID != appID || s.openID != twoc2pOpenID || len(s.timeStamp) != 12 {
			t.Fatalf("sent %+v", s)
		}
	}
}

// TestTwoC2PNotificationPairsThroughCaddy: the two real demo answers, posted
// to minipay_webhook 2c2p as 2C2P posts a notification, give the events
// their payloads name (the approved one: order dd0cf2540f, tranRef 3200632,
// 1.00 SGD; the declined one: no tranRef, so its id is its order's, and no
// amount, its currencyCode being empty), and every respCode/status pair
// docs/providers/2c2p.md documents maps as README 2C2P says, through a real
// Caddy (the unit table is TestEventType).
func TestTwoC2PNotificationPairsThroughCaddy(t *testing.T) {
	merchant := newMerchantBackend(t)
	config, base, _ := twoc2pConfig(t, filepath.Join(t.TempDir(), "caddy.log"), "http://127.0.0.1:9", merchant.srv.URL)
	tc := startCaddy(t, config)
	seal := func(order, respCode, status, tranRef string) string {
		return twoc2pSeal(twoc2pAnswer(order, "000000001234", respCode, status, tranRef), twoc2pKey)
	}
	for _, tt := range []struct {
		name, envelope, id, order, amount, currency string
	}{
		{"the approved demo answer", twoc2pDemoApproved, "2c2p:3200632:payment.succeeded", "dd0cf2540f", "1.00", "SGD"},
		{"the declined demo answer", twoc2pDemoDeclined, "2c2p:1be3c59843:payment.failed", "1be3c59843", "", ""},
		{"00, status A", seal("PAIR-1", "00", "A", "4300001"), "2c2p:4300001:payment.succeeded", "PAIR-1", "12.34", "SGD"},
		{"00 without status", seal("PAIR-2", "00", "", "4300002"), "2c2p:4300002:payment.succeeded", "PAIR-2", "12.34", "SGD"},
		{"99 without status", seal("PAIR-3", "99", "", "4300003"), "2c2p:4300003:payment.failed", "PAIR-3", "12.34", "SGD"},
		{"another failure code with status F", seal("PAIR-4", "05", "F", "4300004"), "2c2p:4300004:payment.failed", "PAIR-4", "12.34", "SGD"},
		{"001: pending", seal("PAIR-5", "001", "", "4300005"), "2c2p:4300005:payment.pending", "PAIR-5", "12.34", "SGD"},
		{"32: pending", seal("PAIR-6", "32", "", "4300006"), "2c2p:4300006:payment.pending", "PAIR-6", "12.34", "SGD"},
		{"001 with status F: failed", seal("PAIR-7", "001", "F", "4300007"), "2c2p:4300007:payment.failed", "PAIR-7", "12.34", "SGD"},
		{"32 with status A: contradicts itself", seal("PAIR-8", "32", "A", "4300008"), "2c2p:4300008:unknown", "PAIR-8", "12.34", "SGD"},
		{"an undocumented code", seal("PAIR-9", "05", "", "4300009"), "2c2p:4300009:unknown", "PAIR-9", "12.34", "SGD"},
		{"no tranRef: the order's id", seal("PAIR-10", "00", "A", ""), "2c2p:PAIR-10:payment.succeeded", "PAIR-10", "12.34", "SGD"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"paymentResponse": {tt.envelope}}.Encode()
			r := do(t, tc, http.MethodPost, base+"/webhooks/2c2p", "application/x-www-form-urlencoded", []byte(form))
			got := merchant.take()
			if r.status != 200 || len(r.body) != 0 || len(got) != 1 {
				t.Fatalf("%d %q, the merchant received %d events", r.status, r.body, len(got))
			}
			ev := got[0].event
			typ := tt.id[strings.LastIndexByte(tt.id, ':')+1:]
			if ev["id"] != tt.id || ev["type"] != typ || ev["order_id"] != tt.order || str(ev["amount"]) != tt.amount ||
				str(ev["currency"]) != tt.currency || got[0].header.Get("Minipay-Event-Id") != tt.id {
				t.Fatalf("event %v", ev)
			}
		})
	}
}
