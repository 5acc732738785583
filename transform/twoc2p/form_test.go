package twoc2p

import (
	"context"
	"encoding/base64"
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
