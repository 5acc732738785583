package latipay_test

import (
	"fmt"
	"net/http"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/latipay"
)

// Latipay's notification example, byte for byte, with its published
// signature (docs/providers/latipay.md, Known-answer vector 5; api_key
// 111222333): only merchant_reference, payment_method, status, currency and
// amount are signed, so order_id and pay_time reach the event as
// "unverified.*" only.
func ExampleWebhook_Verify() {
	webhook, err := latipay.NewWebhook(latipay.Config{APIKey: "111222333", Currency: "NZD"})
	if err != nil {
		panic(err)
	}
	body := `merchant_reference=dsi39ej430sks03&order_id=2017232323345678&amount=120.00&currency=NZD&payment_method=alipay` +
		`&pay_time=2017-07-07%2010%3A53%3A50&status=paid&signature=840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1`
	event, err := webhook.Verify(transform.Notification{
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(body)})
	if err != nil {
		panic(err)
	}
	fmt.Println(event.ID, event.Type, event.OrderID, event.Amount, event.Currency)
	fmt.Println(event.Data["unverified.order_id"], event.Data["unverified.pay_time"])
	_, _, ack := webhook.Ack()
	fmt.Println(string(ack))
	// Output:
	// latipay:dsi39ej430sks03:payment.succeeded payment.succeeded dsi39ej430sks03 120.00 NZD
	// 2017232323345678 2017-07-07 10:53:50
	// sent
}
