package twoc2p

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// FuzzAppendFormBase64: the form value Pay writes is byte-equal to
// url.QueryEscape of the standard base64, as it was written before, at
// every length (the chunks' boundaries and the padding included).
func FuzzAppendFormBase64(f *testing.F) {
	for _, s := range []string{"", "a", "ab", "abc", strings.Repeat("\xfb\xff\xbf", 40), strings.Repeat("x", 47), strings.Repeat("y", 48), strings.Repeat("z", 49)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got := string(appendFormBase64([]byte("paymentRequest="), src))
		if want := "paymentRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(src)); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", src, got, want)
		}
	})
}

// TestPayBodyAllocations: the envelope is written in one buffer of its
// size, and its base64 straight into the form body, URL-encoded: the
// envelope outgrew its estimate by two bytes, and its base64 and the
// escaped base64 were copies of their own (15 allocations, now 10). The
// form body still reads back to an envelope that verifies.
func TestPayBodyAllocations(t *testing.T) {
	c := newClient(t, testConfig())
	body := []byte(`{"order_id":"ORDER-1","amount":"12.34","currency":"SGD","description":"Kaya toast","openid":"` + testOpenID + `"}`)
	var call *transform.Call
	var err error
	allocs := transformtest.FewestAllocs(20, func() { call, err = c.Prepare(context.Background(), transform.OpPay, body) })
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(call.Body))
	if err != nil || len(form[FieldRequest]) != 1 {
		t.Fatalf("body %s: %v", call.Body, err)
	}
	env, err := ParseEnvelope([]byte(form[FieldRequest][0]), RootRequest)
	if err != nil || !env.Verify(demoSecretKey) {
		t.Fatalf("the body's envelope does not verify: %v", err)
	}
	if allocs > 10 {
		t.Errorf("%v allocations to prepare a pay", allocs)
	}
}

// TestPayBodyAsQueryEscape: Pay's form body is byte for byte what the code
// before appendFormBase64 sent, paymentRequest= and url.QueryEscape of the
// standard base64 of the envelope, the envelope written out here by hand
// (docs/providers/2c2p.md step 4: version, the inner document's base64,
// its signature by refSign), for descriptions whose lengths give every
// padding and every chunk boundary of the base64 and whose bytes give '+'
// and '/' in it, under the default version and another.
func TestPayBodyAsQueryEscape(t *testing.T) {
	for _, version := range []string{"", "9.9", "8.5"} {
		cfg := testConfig()
		cfg.Version = version
		c := newClient(t, cfg)
		for n := 1; n <= 100; n++ {
			desc := strings.Repeat("\u00fe?>~", n/4) + "\u00fe?>~"[:n%4] // U+00FE, '?' and '>' make '+' and '/'
			body, _ := json.Marshal(map[string]string{"order_id": "ORDER-1", "amount": "12.34", "currency": "SGD", "description": desc, "openid": testOpenID})
			call, err := c.Prepare(context.Background(), transform.OpPay, body)
			if err != nil {
				t.Fatalf("%q: %v", desc, err)
			}
			form, err := url.ParseQuery(string(call.Body))
			if err != nil {
				t.Fatal(err)
			}
			env, err := refOpen(form.Get(FieldRequest))
			if err != nil {
				t.Fatal(err)
			}
			inner, err := base64.StdEncoding.DecodeString(env.Payload)
			if err != nil || !strings.Contains(string(inner), "<desc>") {
				t.Fatalf("payload %q: %v", env.Payload, err)
			}
			payload := base64.StdEncoding.EncodeToString(inner)
			v := cmp.Or(version, "9.9")
			envelope := "<" + RootRequest + "><version>" + v + "</version><payload>" + payload +
				"</payload><signature>" + refSign(payload, demoSecretKey) + "</signature></" + RootRequest + ">"
			want := FieldRequest + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(envelope)))
			if string(call.Body) != want {
				t.Fatalf("version %q, description %q:\n got %s\nwant %s", version, desc, call.Body, want)
			}
		}
	}
}
