package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// CBTIS's published notification example (docs/providers/cbtis.md
// "Known-answer vectors"), signed with cbtisAPIKey.
const (
	cbtisVectorBody = transformtest.CBTISVectorBody
	cbtisVectorSig  = transformtest.CBTISVectorSignature
)

// cbtisVectorEvent is the event README CBTIS describes for the vector: the
// merchant's refund id, CBTIS's refund_id in the id, refund_time, no amount
// (it carries only order_amount, the order's total), every data member as
// a string (uid, a JSON number, as written) plus notify_type.
const cbtisVectorEvent = `{"id":"cbtis:C34368224017070000:refund.succeeded","provider":"cbtis","type":"refund.succeeded",
 "order_id":"","refund_id":"P2164521756312637123","occurred_at":"2023-08-23T18:28:16.511Z",
 "data":{"uid":"39172931","refund_id":"C34368224017070000","merchant_refund_id":"P2164521756312637123","order_amount":"105.00",
  "create_time":"2023-08-23T18:25:43.511Z","refund_time":"2023-08-23T18:28:16.511Z","notify_type":"refund_success"}}`

// TestCBTISPublishedVectorThroughCaddy posts CBTIS's published notification
// to minipay_webhook cbtis routes of a real Caddy configured by Caddyfile
// and by JSON: the default Signature header, a signature_header of the
// configuration's own (any case on the wire; Signature is then not read),
// and uid 39172931 (the vector's, a JSON number) or another merchant's. The
// ACK is 200 with the body success exactly; every refusal is a 401 that
// reaches no merchant.
func TestCBTISPublishedVectorThroughCaddy(t *testing.T) {
	merchant := newMerchantBackend(t)
	backend := strings.TrimPrefix(merchant.srv.URL, "http://")
	port := itoa(freePort(t))
	configs := map[string]struct{ config, kind string }{
		"Caddyfile": {`{
	skip_install_trust
	admin ` + adminAddr + `
	storage file_system ` + storageDir() + `
	grace_period 1ns
}
:` + port + ` {
	handle /hook/default {
		minipay_webhook cbtis {
			api_key ` + cbtisAPIKey + `
			uid ` + cbtisUID + `
		}
		reverse_proxy ` + backend + `
	}
	handle /hook/custom {
		minipay_webhook cbtis {
			client_secret ` + cbtisAPIKey + `
			signature_header X-Cbtis-Sign
		}
		reverse_proxy ` + backend + `
	}
	handle /hook/other {
		minipay_webhook cbtis {
			api_key ` + cbtisAPIKey + `
			uid 39172932
		}
		reverse_proxy ` + backend + `
	}
}
`, "caddyfile"},
		"JSON": {`{"admin":{"listen":"` + adminAddr + `"},"storage":{"module":"file_system","root":"` + storageDir() + `"},"apps":{"http":{"grace_period":1,"servers":{"s":{"listen":[":` + port + `"],"routes":[
	{"match":[{"path":["/hook/default"]}],"handle":[{"handler":"minipay_webhook","provider":{"name":"cbtis","api_key":"` + cbtisAPIKey + `","uid":"` + cbtisUID + `"}},
		{"handler":"reverse_proxy","upstreams":[{"dial":"` + backend + `"}]}]},
	{"match":[{"path":["/hook/custom"]}],"handle":[{"handler":"minipay_webhook","provider":{"name":"cbtis","client_secret":"` + cbtisAPIKey + `","signature_header":"X-Cbtis-Sign"}},
		{"handler":"reverse_proxy","upstreams":[{"dial":"` + backend + `"}]}]},
	{"match":[{"path":["/hook/other"]}],"handle":[{"handler":"minipay_webhook","provider":{"name":"cbtis","api_key":"` + cbtisAPIKey + `","uid":"39172932"}},
		{"handler":"reverse_proxy","upstreams":[{"dial":"` + backend + `"}]}]}]}}}}}`, "json"},
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(cbtisVectorEvent), &want); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, body string
		header           [2]string // name and value, written as is on the wire
		acked            bool
	}{
		{"published vector", "/hook/default", cbtisVectorBody, [2]string{"Signature", cbtisVectorSig}, true},
		{"header name in lower case", "/hook/default", cbtisVectorBody, [2]string{"signature", cbtisVectorSig}, true},
		{"signature in upper-case hex", "/hook/default", cbtisVectorBody, [2]string{"SIGNATURE", strings.ToUpper(cbtisVectorSig)}, true},
		{"configured header", "/hook/custom", cbtisVectorBody, [2]string{"X-Cbtis-Sign", cbtisVectorSig}, true},
		{"configured header, lower case", "/hook/custom", cbtisVectorBody, [2]string{"x-cbtis-sign", cbtisVectorSig}, true},
		{"Signature where another header is configured", "/hook/custom", cbtisVectorBody, [2]string{"Signature", cbtisVectorSig}, false},
		{"a final line break the signature does not cover", "/hook/default", cbtisVectorBody + "\n", [2]string{"Signature", cbtisVectorSig}, false},
		{"uid written as a string is another body", "/hook/default", strings.Replace(cbtisVectorBody, `39172931`, `"39172931"`, 1), [2]string{"Signature", cbtisVectorSig}, false},
		{"another merchant's uid configured", "/hook/other", cbtisVectorBody, [2]string{"Signature", cbtisVectorSig}, false},
		{"no signature", "/hook/default", cbtisVectorBody, [2]string{"X-Other", cbtisVectorSig}, false},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			tc := startCaddyAs(t, cfg.config, cfg.kind)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+tt.path, strings.NewReader(tt.body))
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Content-Type", "application/json")
					req.Header[tt.header[0]] = []string{tt.header[1]} // not canonicalized: sent as written
					res, err := tc.Client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					ack, _ := io.ReadAll(res.Body)
					res.Body.Close()
					got := merchant.take()
					if !tt.acked {
						if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(string(ack), "fail: ") || len(got) != 0 {
							t.Fatalf("%d %q, %d events forwarded; want 401 fail: and none", res.StatusCode, ack, len(got))
						}
						return
					}
					if res.StatusCode != http.StatusOK || string(ack) != "success" {
						t.Fatalf("ACK %d %q, want 200 \"success\"", res.StatusCode, ack)
					}
					if len(got) != 1 || !reflect.DeepEqual(got[0].event, want) {
						t.Fatalf("forwarded %d events: %v\nwant %v", len(got), got, want)
					}
					if h := got[0].header; h.Get("Minipay-Event-Id") != "cbtis:C34368224017070000:refund.succeeded" ||
						h.Get("Minipay-Provider") != "cbtis" || h.Get("Signature") != "" || h.Get("X-Cbtis-Sign") != "" {
						t.Fatalf("forwarded headers %v", h)
					}
				})
			}
		})
	}
}

// TestCBTISRefundEventWithoutMerchantRefundID: a refund_success that names
// no merchant refund id (a refund made in CBTIS's portal; the CBTIS provider
// has no refund call) is still a refund event, and README Webhooks says
// refund_id is present on refund events: the merchant backend behind a real
// Caddy receives "refund_id":"", as it receives "order_id":"" when the
// notification names no order, never an event without the member.
func TestCBTISRefundEventWithoutMerchantRefundID(t *testing.T) {
	merchant := newMerchantBackend(t)
	port := itoa(freePort(t))
	tc := startCaddyAs(t, `{
	skip_install_trust
	admin `+adminAddr+`
	storage file_system `+storageDir()+`
	grace_period 1ns
}
:`+port+` {
	minipay_webhook cbtis {
		api_key `+cbtisAPIKey+`
	}
	reverse_proxy `+strings.TrimPrefix(merchant.srv.URL, "http://")+`
}
`, "caddyfile")
	tests := []struct{ name, body, id string }{
		{"merchant_refund_id absent", `{"notify_type":"refund_success","data":{"uid":39172931,"refund_id":"C34368224017070007","order_amount":"105.00","refund_time":"2023-08-23T18:28:16.511Z"}}`,
			"cbtis:C34368224017070007:refund.succeeded"},
		{"merchant_refund_id empty", `{"notify_type":"refund_success","data":{"uid":39172931,"refund_id":"C34368224017070008","merchant_refund_id":""}}`,
			"cbtis:C34368224017070008:refund.succeeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/notify", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Signature", cbtisSign([]byte(tt.body), cbtisAPIKey))
			res, err := tc.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			ack, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || string(ack) != "success" {
				t.Fatalf("ACK %d %q, want 200 \"success\"", res.StatusCode, ack)
			}
			got := merchant.take()
			if len(got) != 1 {
				t.Fatalf("forwarded %d events, want 1", len(got))
			}
			ev := got[0].event
			refundID, named := ev["refund_id"]
			if ev["type"] != "refund.succeeded" || ev["id"] != tt.id || !named || refundID != "" || ev["order_id"] != "" {
				t.Fatalf("event %v: want a refund.succeeded %s with refund_id and order_id \"\"", ev, tt.id)
			}
		})
	}
}
