package cbtis_test

import (
	"fmt"
	"net/http"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
)

// CBTIS's documented refund_success example, byte for byte, with its apikey
// and signature (docs/providers/cbtis.md, Known-answer vectors): the
// signature is sha256(raw body + "." + key) in the Signature header, so
// verify the body exactly as received, before parsing it.
func ExampleWebhook_Verify() {
	const body = `{"notify_type":"refund_success","data":{"uid":39172931,"refund_id":"C34368224017070000",` +
		`"merchant_refund_id":"P2164521756312637123","order_amount":"105.00","create_time":"2023-08-23T18:25:43.511Z",` +
		`"refund_time":"2023-08-23T18:28:16.511Z"}}`
	const apiKey = "6d0e8fa7b10c40c3a48c0c2be41cb178"
	fmt.Println(cbtis.Signature([]byte(body), apiKey))

	webhook, err := cbtis.NewWebhook(cbtis.Config{UID: "39172931", APIKey: apiKey})
	if err != nil {
		panic(err)
	}
	header := http.Header{"Content-Type": {"application/json"}}
	header.Set(cbtis.DefaultSignatureHeader, "3ce5a54d8a76590179f0f4192a6c0efddf20e118966b6276b1bfbbc0b33f362a")
	event, err := webhook.Verify(transform.Notification{Header: header, Body: []byte(body)})
	if err != nil {
		panic(err)
	}
	fmt.Println(event.ID)
	fmt.Println(event.Type, event.RefundID, event.OccurredAt)
	// The example names no currency, so the event states no amount; data
	// holds every signed field as sent.
	fmt.Printf("amount %q, order_amount %s\n", event.Amount, event.Data["order_amount"])
	// Output:
	// 3ce5a54d8a76590179f0f4192a6c0efddf20e118966b6276b1bfbbc0b33f362a
	// cbtis:C34368224017070000:refund.succeeded
	// refund.succeeded P2164521756312637123 2023-08-23T18:28:16.511Z
	// amount "", order_amount 105.00
}
