package latipay

import (
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// Latipay's published known answers (docs/providers/latipay.md "Known-answer vectors",
// from Latipay/latipay.github.io src/v2/latipay-hosted-online.md and
// latipay-wechat-mini-app.md), api_key 111222333. Vectors 1 and 2 are the
// hosted-online parameters (payment_method alipay, ...): they test the
// generic signer, not a mini app body.
var onlineParams = transform.Params{
	{Name: "user_id", Value: "U000334333"}, {Name: "wallet_id", Value: "W00000001"}, {Name: "amount", Value: "120.00"},
	{Name: "payment_method", Value: "alipay"}, {Name: "return_url", Value: "https://merchantsite.com/checkout"},
	{Name: "callback_url", Value: "https://merchantsite.com/confirm"}, {Name: "merchant_reference", Value: "dsi39ej430sks03"},
	{Name: "ip", Value: "122.122.122.1"}, {Name: "version", Value: "2.0"}, {Name: "product_name", Value: "Pinot Noir, Otago"},
}

func TestSignKnownAnswers(t *testing.T) {
	tests := []struct {
		name    string
		params  transform.Params
		message string // as printed by the docs, api_key appended
		want    string
	}{
		{"vector 1: online payment", onlineParams,
			"amount=120.00&callback_url=https://merchantsite.com/confirm&ip=122.122.122.1&merchant_reference=dsi39ej430sks03&payment_method=alipay&product_name=Pinot Noir, Otago&return_url=https://merchantsite.com/checkout&user_id=U000334333&version=2.0&wallet_id=W00000001111222333",
			"8d1bea078eaacdae8388852851ec39e2e8561cdce64f359421d85ed4844496ec"},
		{"vector 2: with app_id", append(onlineParams[:len(onlineParams):len(onlineParams)], transform.Param{Name: "app_id", Value: "wx721398712681232"}),
			"amount=120.00&app_id=wx721398712681232&callback_url=https://merchantsite.com/confirm&ip=122.122.122.1&merchant_reference=dsi39ej430sks03&payment_method=alipay&product_name=Pinot Noir, Otago&return_url=https://merchantsite.com/checkout&user_id=U000334333&version=2.0&wallet_id=W00000001111222333",
			"5c732083dbae8b6402bb329a0d1862de2f2337e4bc5b1ee721218fc2c3271db9"},
		{"vector 3: query", transform.Params{{Name: "merchant_reference", Value: "6000324"}, {Name: "user_id", Value: "U000000013"}},
			"merchant_reference=6000324&user_id=U000000013111222333",
			"58f93f458880120d650611f2452917a25a39edc2f5e3a03baac73a7a49bc81f4"},
		{"vector 4: refund", transform.Params{
			{Name: "user_id", Value: "U000334333"}, {Name: "order_id", Value: "23479798sdf7987234"},
			{Name: "refund_amount", Value: "120.00"}, {Name: "reference", Value: "notes about this refund"}},
			"order_id=23479798sdf7987234&reference=notes about this refund&refund_amount=120.00&user_id=U000334333111222333",
			"3052b51072570b743bf9a12a20a45b0adf280aee84907ef0e54d1079fb3f961c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.params.SortedQuery(nil, "signature")) + vecAPIKey; got != tt.message {
				t.Fatalf("message\n got %s\nwant %s", got, tt.message)
			}
			if got := Sign(tt.params, vecAPIKey); got != tt.want {
				t.Fatalf("Sign = %s, want %s", got, tt.want)
			}
			if got := refSign(tt.params.Map(), vecAPIKey); got != tt.want {
				t.Fatalf("refSign = %s, want %s", got, tt.want)
			}
			// signature, api_key and empty values are outside the message
			extra := append(tt.params[:len(tt.params):len(tt.params)],
				transform.Param{Name: "signature", Value: "ignored"}, transform.Param{Name: "api_key", Value: vecAPIKey},
				transform.Param{Name: "backPage_url", Value: ""})
			if got := Sign(extra, vecAPIKey); got != tt.want {
				t.Fatalf("Sign with signature, api_key and an empty value = %s", got)
			}
			signed := append(tt.params[:len(tt.params):len(tt.params)], transform.Param{Name: "signature", Value: tt.want})
			if !Verify(signed, vecAPIKey) || Verify(signed, otherKey) {
				t.Fatal("Verify disagrees with the vector")
			}
			// caddy minipay sign: the docs' message with its key masked, and the vector
			if text, sig := ExplainSign(extra, vecAPIKey); text != strings.TrimSuffix(tt.message, vecAPIKey)+transform.Masked || sig != tt.want {
				t.Fatalf("ExplainSign = %s, %s", text, sig)
			}
		})
	}
}

// The notification vector (latipay-hosted-online.md "Asynchronous
// Notification"): dsi39ej430sks03alipaypaidNZD120.00 under 111222333.
func TestNotifySignKnownAnswer(t *testing.T) {
	const want = "840151e0dc39496e22b410b83058b4ddd633b786936c505ae978fae029a1e0f1"
	if got := NotifySign("dsi39ej430sks03", "alipay", "paid", "NZD", "120.00", vecAPIKey); got != want {
		t.Fatalf("NotifySign = %s, want %s", got, want)
	}
	if got := refNotify("dsi39ej430sks03", "alipay", "paid", "NZD", "120.00", vecAPIKey); got != want {
		t.Fatalf("refNotify = %s", got)
	}
	// The amount's text is signed, not its value.
	if NotifySign("dsi39ej430sks03", "alipay", "paid", "NZD", "120", vecAPIKey) == want {
		t.Fatal("120 and 120.00 sign alike")
	}
}
