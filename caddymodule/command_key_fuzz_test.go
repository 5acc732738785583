package caddymodule

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
)

// FuzzCommandNeverPrintsTheKey: `caddy minipay verify`, for every provider,
// prints its configured key nowhere, on stdout or stderr, whatever the key
// (one the provider refuses included) and whatever the input, which may
// hold the key as is or URL-encoded (README caddy minipay verify: "No
// secret is ever printed"). Keys shorter than 10 bytes, or that could be
// part of the command's own words (no digit), or hold the mask's '*' or
// printable's '\', are left out.
func FuzzCommandNeverPrintsTheKey(f *testing.F) {
	providers := fuzzProviders(f)
	f.Add(uint8(0), "8934e7d15453e97507ef794cf7b0519d", []byte("<xml><attach>8934e7d15453e97507ef794cf7b0519d</attach></xml>"), "")
	f.Add(uint8(1), "6d0e8fa7b10c40c3a48c0c2be41cb178", []byte(`{"memo":"6d0e8fa7b10c40c3a48c0c2be41cb178"}`), "6d0e8fa7b10c40c3a48c0c2be41cb178")
	f.Add(uint8(2), "k3y/with space 42", []byte("merchant_reference=k3y%2Fwith%20space%2042&signature=00"), "")
	f.Add(uint8(3), "7jYcp4FxFdf0", []byte("paymentResponse=7jYcp4FxFdf0"), "")
	f.Add(uint8(4), "sandbox-apiv3-key-0123456789abcd", []byte(`{"id":"sandbox-apiv3-key-0123456789abcd"}`), "x")
	f.Fuzz(func(t *testing.T, which uint8, key string, body []byte, sig string) {
		if len(key) < 10 || strings.ContainsAny(key, `*\`) || !strings.ContainsAny(key, "0123456789") || strings.ContainsAny(key, "\x00\r\n") {
			return
		}
		p := providers[int(which)%len(providers)]
		args := []string{"verify", "--provider", p.name, "--at", fuzzAt, "--file", "-"}
		for _, s := range p.sets {
			if k, _, _ := strings.Cut(s, "="); k == "api_key" || k == "secret_key" || k == "api_v3_key" {
				s = k + "=" + key
			}
			args = append(args, "--set", s)
		}
		if p.hdr != nil {
			for _, h := range p.hdr(sig) {
				args = append(args, "--header", h)
			}
		}
		var out, errOut bytes.Buffer
		runMinipay(args, bytes.NewReader(body), &out, &errOut)
		printed := out.String() + errOut.String()
		for _, e := range []string{key, url.QueryEscape(key), url.PathEscape(key)} {
			if strings.Contains(printed, e) {
				t.Fatalf("%s: key %q printed (as %q):\n%s", p.name, key, e, printed)
			}
		}
	})
}
