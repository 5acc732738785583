package twoc2p

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// The reference signer reproduces the published signatures before any test
// relies on it.
func TestRefSignKnownAnswers(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"request", demoRequestEnvelope(t), demoRequestSignature},
		{"approved", demoApproved, demoApprovedSignature},
		{"declined", demoDeclined, demoDeclinedSignature},
	} {
		env, err := refOpen(tt.text)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if env.Signature != tt.want || refSign(env.Payload, demoSecretKey) != tt.want {
			t.Fatalf("%s: signature %s, reference %s, want %s", tt.name, env.Signature, refSign(env.Payload, demoSecretKey), tt.want)
		}
	}
}

// demoRequestEnvelope is the envelope text of 2c2p-demo-request.form.
func demoRequestEnvelope(t testing.TB) string {
	t.Helper()
	f, err := url.ParseQuery(demoRequestForm)
	if err != nil || len(f["paymentRequest"]) != 1 {
		t.Fatalf("the demo request form does not parse: %v", err)
	}
	return f["paymentRequest"][0]
}

// TestDemoRequestKnownAnswer: the real request's payload signs, with Sign,
// to the signature 2C2P accepted, and decodes to what was sent.
func TestDemoRequestKnownAnswer(t *testing.T) {
	text, err := EnvelopeText([]byte(demoRequestForm), "application/x-www-form-urlencoded", FieldRequest)
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvelope(text, RootRequest)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(env.Payload, demoSecretKey); got != demoRequestSignature {
		t.Fatalf("Sign = %s, want %s", got, demoRequestSignature)
	}
	if env.Version != "9.9" || env.Signature != demoRequestSignature || !env.Verify(demoSecretKey) || env.Verify(otherKey) {
		t.Fatalf("envelope %+v", env)
	}
	p, err := env.Fields()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"amt": "000000000100", "currencyCode": "702", "panCountry": "SG", "cardholderName": "Longbob Longsen",
		"merchantID": "JT01", "uniqueTransactionCode": "7570917b60", "desc": "Store Purchase",
	}
	for k, v := range want {
		if p.Get(k) != v {
			t.Fatalf("%s = %q, want %q", k, p.Get(k), v)
		}
	}
}

// TestDemoResponsesKnownAnswer: both demo answers verify under the demo
// key, fail under another, and decode.
func TestDemoResponsesKnownAnswer(t *testing.T) {
	tests := []struct {
		name, text, signature string
		want                  map[string]string
	}{
		{"approved", demoApproved, demoApprovedSignature, map[string]string{
			"respCode": "00", "status": "A", "tranRef": "3200632", "approvalCode": "631496", "amt": "000000000100",
			"currencyCode": "702", "failReason": "Approved", "uniqueTransactionCode": "dd0cf2540f", "merchantID": "JT01",
			"timeStamp": "270820193307", "dateTime": "270820203307", "bankName": "JPMORGAN CHASE BANK NA", "fxRate": "0.0",
		}},
		{"declined", demoDeclined, demoDeclinedSignature, map[string]string{
			"respCode": "99", "status": "F", "tranRef": "", "failReason": "Invalid Card Number.",
			"uniqueTransactionCode": "1be3c59843", "currencyCode": "", "pan": "411111XXXXX1111",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ParseEnvelope([]byte(tt.text), RootResponse)
			if err != nil {
				t.Fatal(err)
			}
			if env.Signature != tt.signature || Sign(env.Payload, demoSecretKey) != tt.signature {
				t.Fatalf("signature %s", env.Signature)
			}
			p, err := Open([]byte(tt.text), RootResponse, demoSecretKey)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if !p.Has(k) || p.Get(k) != v {
					t.Fatalf("%s = %q, want %q", k, p.Get(k), v)
				}
			}
			if len(p) != 36 {
				t.Fatalf("%d fields, want the demo answer's 36", len(p))
			}
			if _, err := Open([]byte(tt.text), RootResponse, otherKey); !errors.Is(err, transform.ErrBadSignature) {
				t.Fatalf("verified under another key: %v", err)
			}
			if _, err := Open([]byte(tt.text), RootRequest, demoSecretKey); !errors.Is(err, transform.ErrMalformed) {
				t.Fatalf("a PaymentResponse read as a PaymentRequest: %v", err)
			}
		})
	}
}

// TestSealReproducesTheDemoExchange: sealing each fixture's own payload
// with the demo key gives the fixture back byte for byte: the request as
// the form body 2C2P's demo server took (paymentRequest=, the envelope
// URL-encoded as Pay sends it), and both answers as the demo server sent
// them.
func TestSealReproducesTheDemoExchange(t *testing.T) {
	_, text := demoAnswerToRequest(t)
	answerToRequest := string(text)
	for _, tt := range []struct{ name, root, text, want string }{
		{"request", RootRequest, demoRequestEnvelope(t), demoRequestForm},
		{"approved", RootResponse, demoApproved, demoApproved},
		{"declined", RootResponse, demoDeclined, demoDeclined},
		{"the answer to the request", RootResponse, answerToRequest, answerToRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ParseEnvelope([]byte(tt.text), tt.root)
			if err != nil {
				t.Fatal(err)
			}
			inner, err := base64.StdEncoding.DecodeString(env.Payload)
			if err != nil {
				t.Fatal(err)
			}
			got := Seal(tt.root, "9.9", inner, demoSecretKey)
			if tt.root == RootRequest {
				got = FieldRequest + "=" + url.QueryEscape(got)
			}
			if got != strings.TrimSpace(tt.want) {
				t.Fatalf("sealed\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestPooledSignerReproducesTheDemoExchange: the Client's, Webhook's and
// Sandbox's signer, whose HMAC states are pooled per key and reset before
// each use, seals every fixture back byte for byte and verifies the
// published signatures (and refuses them under another key), from many
// goroutines at once, each state serving many signatures in turn.
func TestPooledSignerReproducesTheDemoExchange(t *testing.T) {
	demo, other := newSigner(demoSecretKey), newSigner(otherKey)
	type fixture struct{ root, text, want string }
	var fixtures []fixture
	for _, f := range []fixture{
		{RootRequest, demoRequestEnvelope(t), demoRequestForm},
		{RootResponse, demoApproved, demoApproved},
		{RootResponse, demoDeclined, demoDeclined},
	} {
		f.want = strings.TrimSpace(f.want)
		if f.root == RootRequest {
			f.want = strings.TrimPrefix(f.want, FieldRequest+"=")
			if unescaped, err := url.QueryUnescape(f.want); err == nil {
				f.want = unescaped
			}
		}
		fixtures = append(fixtures, f)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*50*len(fixtures)*4) // room for every failure: none blocks
	for range 8 {
		wg.Go(func() {
			for range 50 {
				for _, f := range fixtures {
					env, err := ParseEnvelope([]byte(f.text), f.root)
					if err != nil {
						errs <- err.Error()
						return
					}
					inner, _ := base64.StdEncoding.DecodeString(env.Payload)
					switch {
					case seal(f.root, "9.9", inner, demo) != f.want:
						errs <- f.root + ": sealed differently"
					case !env.verify(demo) || env.verify(other):
						errs <- f.root + ": verified " + env.Signature + " wrongly"
					case demo.sign(env.Payload) != env.Signature:
						errs <- f.root + ": signed " + demo.sign(env.Payload) + ", want " + env.Signature
					}
					if _, err := openExplained([]byte(f.text), f.root, demo, nil); err != nil {
						errs <- f.root + ": " + err.Error()
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestOneByteChangeFailsVerification changes every byte of each fixture's
// payload (and of its signature) in turn; none may verify.
func TestOneByteChangeFailsVerification(t *testing.T) {
	_, answerToRequest := demoAnswerToRequest(t)
	for _, tt := range []struct{ name, root, text string }{
		{"request", RootRequest, demoRequestEnvelope(t)},
		{"approved", RootResponse, demoApproved},
		{"declined", RootResponse, demoDeclined},
		{"the answer to the request", RootResponse, string(answerToRequest)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, err := ParseEnvelope([]byte(tt.text), tt.root)
			if err != nil || !env.Verify(demoSecretKey) {
				t.Fatalf("the fixture does not verify: %v", err)
			}
			for i := range len(env.Payload) {
				changed := *env
				changed.Payload = flipByte(env.Payload, i)
				if changed.Verify(demoSecretKey) {
					t.Fatalf("payload changed at byte %d verifies", i)
				}
				sealed := reseal(tt.root, changed)
				if _, err := Open([]byte(sealed), tt.root, demoSecretKey); !errors.Is(err, transform.ErrBadSignature) {
					t.Fatalf("payload changed at byte %d: Open = %v", i, err)
				}
			}
			for i := range len(env.Signature) {
				changed := *env
				changed.Signature = env.Signature[:i] + string("0123456789ABCDEF"[(strings.IndexByte("0123456789ABCDEF", env.Signature[i])+1)%16]) + env.Signature[i+1:]
				if changed.Verify(demoSecretKey) {
					t.Fatalf("signature changed at byte %d verifies", i)
				}
			}
		})
	}
}

// reseal writes an envelope back with its (possibly altered) values.
func reseal(root string, e Envelope) string {
	return base64.StdEncoding.EncodeToString([]byte("<" + root + "><version>" + e.Version + "</version><payload>" +
		e.Payload + "</payload><signature>" + e.Signature + "</signature></" + root + ">"))
}

// TestSealFormat: Seal writes docs/providers/2c2p.md's envelope exactly, signed as
// refSign signs.
func TestSealFormat(t *testing.T) {
	inner := []byte(`<PaymentResponse><respCode>32</respCode></PaymentResponse>`)
	text := Seal(RootResponse, "9.9", inner, demoSecretKey)
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	payload := base64.StdEncoding.EncodeToString(inner)
	want := "<PaymentResponse><version>9.9</version><payload>" + payload + "</payload><signature>" +
		refSign(payload, demoSecretKey) + "</signature></PaymentResponse>"
	if string(raw) != want {
		t.Fatalf("envelope\n%s\nwant\n%s", raw, want)
	}
	if text != refSeal(RootResponse, string(inner), demoSecretKey) {
		t.Fatal("Seal and refSeal disagree")
	}
}

func TestParseEnvelopeRefuses(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	good := base64.StdEncoding.EncodeToString([]byte(answerXML()))
	sig := refSign(good, demoSecretKey)
	tests := []struct {
		name, text string
		want       error
	}{
		{"not base64", "<PaymentResponse/>", transform.ErrMalformed},
		{"empty", "", transform.ErrMalformed},
		{"base64 of JSON", b64(`{"payload":"x"}`), transform.ErrMalformed},
		{"doctype", b64(`<!DOCTYPE PaymentResponse [<!ENTITY x "y">]><PaymentResponse><payload>&x;</payload></PaymentResponse>`), transform.ErrMalformed},
		{"other root", b64("<PaymentRequest><payload>" + good + "</payload><signature>" + sig + "</signature></PaymentRequest>"), transform.ErrMalformed},
		{"two payloads", b64("<PaymentResponse><payload>" + good + "</payload><payload>" + good + "</payload><signature>" + sig + "</signature></PaymentResponse>"), transform.ErrMalformed},
		{"two signatures", b64("<PaymentResponse><payload>" + good + "</payload><signature>" + sig + "</signature><signature>" + sig + "</signature></PaymentResponse>"), transform.ErrMalformed},
		{"nested signature", b64("<PaymentResponse><payload>" + good + "</payload><signature><x>" + sig + "</x></signature></PaymentResponse>"), transform.ErrMalformed},
		{"no payload", b64("<PaymentResponse><signature>" + sig + "</signature></PaymentResponse>"), transform.ErrMalformed},
		{"no signature", b64("<PaymentResponse><payload>" + good + "</payload></PaymentResponse>"), transform.ErrUnsigned},
		{"empty signature", b64("<PaymentResponse><payload>" + good + "</payload><signature></signature></PaymentResponse>"), transform.ErrUnsigned},
		{"signature of another key", b64("<PaymentResponse><payload>" + good + "</payload><signature>" + refSign(good, otherKey) + "</signature></PaymentResponse>"), transform.ErrBadSignature},
		{"payload not base64 but signed", b64("<PaymentResponse><payload>%%%</payload><signature>" + refSign("%%%", demoSecretKey) + "</signature></PaymentResponse>"), transform.ErrMalformed},
		{"payload of another root, signed", refSeal("PaymentResponse", "<PaymentRequest/>", demoSecretKey), transform.ErrMalformed},
		{"payload nested too deep, signed", refSeal("PaymentResponse", "<PaymentResponse><a><b><c><d><e>x</e></d></c></b></a></PaymentResponse>", demoSecretKey), transform.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open([]byte(tt.text), RootResponse, demoSecretKey)
			if !errors.Is(err, tt.want) || p != nil {
				t.Fatalf("Open = %v, %v; want %v", p, err, tt.want)
			}
		})
	}
	// the well-formed one, lower-case hex and a CDATA payload included
	for _, text := range []string{
		b64("<PaymentResponse><version>9.9</version><payload>" + good + "</payload><signature>" + sig + "</signature></PaymentResponse>"),
		b64("<PaymentResponse><payload><![CDATA[" + good + "]]></payload><signature>" + strings.ToLower(sig) + "</signature><extra/></PaymentResponse>"),
	} {
		p, err := Open([]byte(text), RootResponse, demoSecretKey)
		if err != nil || p.Get("respCode") != "32" || !strings.HasPrefix(p.Get("miniProgramData/wechat"), `{"timeStamp"`) {
			t.Fatalf("Open = %v, %v", p, err)
		}
	}
}

func TestEnvelopeText(t *testing.T) {
	env := refSeal(RootResponse, answerXML(), demoSecretKey)
	tests := []struct {
		name        string
		body        []byte
		contentType string
		ok          bool
	}{
		{"raw text/html", []byte(env), "text/html; charset=utf-8", true},
		{"raw with whitespace", []byte("\r\n  " + env + "\n"), "", true},
		{"form", form(FieldResponse, env), "application/x-www-form-urlencoded", true},
		{"form without content type", form(FieldResponse, env), "", true},
		{"form not URL-encoded", []byte(FieldResponse + "=" + env), "application/x-www-form-urlencoded", true},
		{"gzip is not inflated", gzipped([]byte(env)), "text/html", false},
		{"form with the field twice", []byte(string(form(FieldResponse, env)) + "&" + string(form(FieldResponse, env))), "application/x-www-form-urlencoded", false},
		{"form without the field", form("other", env), "application/x-www-form-urlencoded", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EnvelopeText(tt.body, tt.contentType, FieldResponse)
			if tt.ok != (err == nil && string(got) == env) {
				t.Fatalf("err = %v, text %.60q…", err, got)
			}
			if tt.ok && string(got) != env {
				t.Fatalf("text %.60q…", got)
			}
		})
	}
}

// TestInflateAnswer: a pay answer compressed by a transport that left no
// Content-Encoding is inflated, up to 1 MiB.
func TestInflateAnswer(t *testing.T) {
	env := refSeal(RootResponse, answerXML(), demoSecretKey)
	for _, body := range [][]byte{[]byte(env), gzipped([]byte(env))} {
		if got, err := InflateAnswer(body); err != nil || string(got) != env {
			t.Fatalf("InflateAnswer = %.60q, %v", got, err)
		}
	}
	if _, err := InflateAnswer([]byte{0x1f, 0x8b, 0x08, 0, 1, 2}); err == nil {
		t.Fatal("a broken gzip stream was read")
	}
	if _, err := InflateAnswer(gzipped([]byte(strings.Repeat("A", maxInflated+1)))); err == nil {
		t.Fatal("an answer inflating past the bound was read")
	}
}

func TestParsePayloadPaths(t *testing.T) {
	p, err := ParsePayload([]byte(`<PaymentRequest><a>1</a><miniProgramData><wechat><appID>wx1</appID><openID>o</openID></wechat></miniProgramData><b/></PaymentRequest>`), RootRequest)
	if err != nil {
		t.Fatal(err)
	}
	want := transform.Params{{Name: "a", Value: "1"}, {Name: "miniProgramData/wechat/appID", Value: "wx1"},
		{Name: "miniProgramData/wechat/openID", Value: "o"}, {Name: "b", Value: ""}}
	if len(p) != len(want) {
		t.Fatalf("%v", p)
	}
	for i := range want {
		if p[i] != want[i] {
			t.Fatalf("%v, want %v", p, want)
		}
	}
}

// appendElement writes what etree wrote before it, with the settings Pay
// and the sandbox used (explicit end tags, canonical text), and ParsePayload
// reads every value back unchanged.
func TestAppendElementAsEtree(t *testing.T) {
	for _, v := range []string{"", "Kaya toast", `Tea <"Special"> & 'more'`, "a]]>b", "x\r\ny\rz\t", "茶 😀", "&amp;&#13;"} {
		doc := etree.NewDocument()
		doc.WriteSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalText: true}
		doc.CreateElement(RootRequest).CreateElement("desc").SetText(v)
		want, err := doc.WriteToString()
		if err != nil {
			t.Fatal(err)
		}
		got := string(append(appendElement([]byte("<"+RootRequest+">"), "desc", v), "</"+RootRequest+">"...))
		if got != want {
			t.Fatalf("appendElement(%q)\n got %q\nwant %q", v, got, want)
		}
		p, err := ParsePayload([]byte(got), RootRequest)
		if err != nil || len(p) != 1 || p[0] != (transform.Param{Name: "desc", Value: v}) {
			t.Fatalf("%q reads back as %q, %v", got, p, err)
		}
	}
}

// ParsePayload reads with transform.ParseNestedXML: what 2C2P never writes
// (attributes, prefixes, mixed content, DTDs, nesting past maxDepth) is
// refused.
func TestParsePayloadRefuses(t *testing.T) {
	for _, doc := range []string{
		`<PaymentResponse><respCode x="1">32</respCode></PaymentResponse>`,
		`<PaymentResponse><x:a xmlns:x="u">1</x:a></PaymentResponse>`,
		`<PaymentResponse><miniProgramData>x<wechat>{}</wechat></miniProgramData></PaymentResponse>`,
		`<PaymentResponse><respCode>32</respCode><![CDATA[t]]></PaymentResponse>`,
		`<!DOCTYPE PaymentResponse [<!ENTITY e "32">]><PaymentResponse><respCode>&e;</respCode></PaymentResponse>`,
		`<PaymentResponse><a><b><c><d><e>x</e></d></c></b></a></PaymentResponse>`,
		`<PaymentRequest><respCode>32</respCode></PaymentRequest>`,
		// A name given twice: the signature covers both values, and Get (the
		// event's order_id) and the event's data (the last) would disagree.
		`<PaymentResponse><uniqueTransactionCode>O1</uniqueTransactionCode><respCode>00</respCode><uniqueTransactionCode>O2</uniqueTransactionCode></PaymentResponse>`,
		`<PaymentResponse><miniProgramData><wechat>a</wechat></miniProgramData><miniProgramData><wechat>b</wechat></miniProgramData></PaymentResponse>`,
	} {
		if p, err := ParsePayload([]byte(doc), RootResponse); !errors.Is(err, transform.ErrMalformed) || p != nil {
			t.Fatalf("ParsePayload(%q) = %q, %v", doc, p, err)
		}
	}
	p, err := ParsePayload([]byte(`<PaymentResponse><a><b><c><d>x</d></c></b></a></PaymentResponse>`), RootResponse)
	if err != nil || len(p) != 1 || p[0] != (transform.Param{Name: "a/b/c/d", Value: "x"}) {
		t.Fatalf("four levels: %q, %v", p, err)
	}
}

// TestDemoAnswerToTheRequest: the demo server's answer to the captured
// request itself (transformtest.TwoC2PDemoAnswerToRequestGzip: the gzip bytes
// as they arrived, from the pre_scrubbed transcript of the test file the
// fixtures come from, docs/providers/2c2p.md "Known-answer vectors"). Inflated
// with compress/gzip and with InflateAnswer alike, it verifies under the demo
// key with the signature 2C2P wrote, fails under another key, and names the
// request's own order (7570917b60): 2C2P echoes the order in
// uniqueTransactionCode, which is what Pay holds a respCode 32 to. Its
// respCode 00 (a card approval) is no WeChat prepay: a pay of that order
// reading it gets 2C2P's refusal, 422 with 00 and "Approved".
func TestDemoAnswerToTheRequest(t *testing.T) {
	gz, text := demoAnswerToRequest(t)
	if inflated, err := InflateAnswer(gz); err != nil || !bytes.Equal(inflated, text) {
		t.Fatalf("InflateAnswer: %v", err)
	}
	env, err := refOpen(string(text))
	if err != nil || env.Version != "9.9" || env.Signature != demoAnswerToRequestSignature ||
		refSign(env.Payload, demoSecretKey) != demoAnswerToRequestSignature || Sign(env.Payload, demoSecretKey) != demoAnswerToRequestSignature {
		t.Fatalf("envelope %+v: %v", env, err)
	}
	p, err := Open(text, RootResponse, demoSecretKey)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"respCode": "00", "status": "A", "tranRef": "3224219", "approvalCode": "554684", "amt": "000000000100", "currencyCode": "702",
		"uniqueTransactionCode": "7570917b60", "merchantID": "JT01", "failReason": "Approved", "timeStamp": "040920021434", "dateTime": "040920031434",
	} {
		if !p.Has(k) || p.Get(k) != v {
			t.Fatalf("%s = %q, want %q", k, p.Get(k), v)
		}
	}
	if len(p) != 36 {
		t.Fatalf("%d fields, want 36", len(p))
	}
	if _, err := Open(text, RootResponse, otherKey); !errors.Is(err, transform.ErrBadSignature) {
		t.Fatalf("verified under another key: %v", err)
	}
	// the request it answers names the same order
	reqEnv, err := ParseEnvelope([]byte(demoRequestEnvelope(t)), RootRequest)
	if err != nil {
		t.Fatal(err)
	}
	req, err := reqEnv.Fields()
	if err != nil || req.Get("uniqueTransactionCode") != p.Get("uniqueTransactionCode") {
		t.Fatalf("the request's order %q, the answer's %q (%v)", req.Get("uniqueTransactionCode"), p.Get("uniqueTransactionCode"), err)
	}

	c := newClient(t, Config{MerchantID: demoMerchantID, SecretKey: demoSecretKey, AppID: testAppID})
	call, err := c.Prepare(context.Background(), "pay",
		[]byte(`{"order_id":"7570917b60","amount":"1.00","currency":"SGD","description":"Store Purchase","openid":"`+testOpenID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = call.Decode(200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, gz)
	if e := wantError(t, err, 422, "provider_rejected"); e.ProviderCode != "00" || e.ProviderMessage != "Approved" {
		t.Fatalf("provider_code %q, provider_message %q", e.ProviderCode, e.ProviderMessage)
	}
}

// TestRequestTimeStampIs2C2PsClock: the captured request sent no
// timeStamp, so the demo server wrote its own time of receipt in the
// answer's (2C2P's SecurePay manual: "if empty, system will take the server
// received date time"): 040920021434 for the transcript's HTTP Date,
// 3 Sep 2020 19:14:34 GMT, i.e. UTC+7, and dateTime 040920031434 in UTC+8
// (docs/providers/2c2p.md "Times"). A pay at that moment sends the
// timeStamp 2C2P itself would have written.
func TestRequestTimeStampIs2C2PsClock(t *testing.T) {
	_, text := demoAnswerToRequest(t)
	answer, err := Open(text, RootResponse, demoSecretKey)
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2020, time.September, 3, 19, 14, 34, 0, time.UTC) // Date: Thu, 03 Sep 2020 19:14:34 GMT
	c := newClient(t, testConfig())
	c.Now = func() time.Time { return received }
	call, err := c.Prepare(context.Background(), "pay", []byte(`{"order_id":"7570917b60","amount":"1.00","currency":"SGD","description":"Store Purchase","openid":"`+testOpenID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := decodeSent(t, call.Body)
	if sent.TimeStamp != "040920021434" || sent.TimeStamp != answer.Get("timeStamp") {
		t.Fatalf("timeStamp %q, 2C2P wrote %q for that moment", sent.TimeStamp, answer.Get("timeStamp"))
	}
	if answer.Get("dateTime") != received.In(transform.UTC8).Format(timeLayout) {
		t.Fatalf("dateTime %q is not UTC+8", answer.Get("dateTime"))
	}
}

// demoAnswerToRequest is transformtest.TwoC2PDemoAnswerToRequestGzip's bytes
// and its envelope text, inflated with compress/gzip.
func demoAnswerToRequest(t testing.TB) (gz, text []byte) {
	t.Helper()
	gz, err := base64.StdEncoding.DecodeString(transformtest.TwoC2PDemoAnswerToRequestGzip)
	if err != nil || len(gz) != 2013 { // "reading 2013 bytes", as the transcript says
		t.Fatalf("%d bytes: %v", len(gz), err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if text, err = io.ReadAll(zr); err != nil {
		t.Fatal(err)
	}
	return gz, text
}
