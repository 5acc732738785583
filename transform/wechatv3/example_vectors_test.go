package wechatv3_test

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// A payment notification as WeChat posts it, verified in platform
// certificate mode: docs/providers/wechat_v3.md Known-answer vector 8 (the
// body and certificate are in testdata; the webhook's clock is pinned to
// the signed timestamp, as a notification older than 300 s is refused).
func ExampleWebhook_Verify() {
	certificate, err := os.ReadFile("testdata/wechat_v3-test-platform-cert.pem")
	if err != nil {
		panic(err)
	}
	body, err := os.ReadFile("testdata/wechat_v3-notify-transaction.json")
	if err != nil {
		panic(err)
	}
	webhook, err := wechatv3.NewWebhook(wechatv3.Config{AppID: "wxd678efh567hg6787", MchID: "1230000109",
		APIv3Key: "a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2", PlatformCertificate: string(certificate)})
	if err != nil {
		panic(err)
	}
	webhook.Now = func() time.Time { return time.Unix(1795917606, 0) }

	header := http.Header{}
	header.Set(wechatv3.HeaderSerial, "D7CE59D1F522D701")
	header.Set(wechatv3.HeaderTimestamp, "1795917606")
	header.Set(wechatv3.HeaderNonce, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
	header.Set(wechatv3.HeaderSignature, "MyX3nAFI/IKXsFAZevHLajbACTzZTP1AtwRdwdYY9ZHf1YUS3l4tSSv0pWMfK2mvoFOpcRLzbKlm9LE3RNAHesnw8Q43n7PeTAZKhAH5zqJjrqCyNiSvYt7e1ypgbGFGrY8wIjOpdNMuqqEVxaPFYhvI/DZVNwWzfV8YG2KTFetZO7u1Ez4zilZ7MxVOzb7RlrNh6xp3qBnvP87vu4VUWflqwm1hYP2voyCwOLl+UvLBWCK2OsBMAQOSPJtxJDWemZE1RwPICTrBezk9iFnHScOhYxsHdt0LX2HmXqmCAsJC6vhFVMPKogQDfA5fWMcpPrLP5S/wmGOKleMmzCYL2w==")
	event, err := webhook.Verify(transform.Notification{Header: header, Body: body})
	if err != nil {
		panic(err)
	}
	fmt.Println(event.ID)
	fmt.Println(event.Type, event.OrderID, event.ProviderOrderID, event.Amount, event.Currency, event.OccurredAt)
	// Output:
	// wechat_v3:4200000000202611291234567890:payment.succeeded
	// payment.succeeded 1217752501201407033233368018 4200000000202611291234567890 1.00 CNY 2026-11-29T10:00:05+08:00
}

// The RSA paySign of wx.requestPayment (signType RSA) over WeChat's paySign
// example with wechatpay-go's published test key: docs/providers/wechat_v3.md
// Known-answer vector 4. Client's pay answer carries it already.
func Example_paySign() {
	keyPEM, err := os.ReadFile("testdata/wechat_v3-test-private-key.pem")
	if err != nil {
		panic(err)
	}
	key, err := wechatv3.ParsePrivateKey(string(keyPEM))
	if err != nil {
		panic(err)
	}
	paySign, err := wxpay.PaySignRSA("wxd678efh567hg6787", "1490840662", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
		"prepay_id=wx2017033010242291fcfe0db70013231072", key)
	fmt.Println(paySign, err)
	// Output:
	// AbYoQ6i9MZnUERVuk9Z/WnUqdEpgcUFSoNP63CP3vdq3pcCHaEmg5jE4sfVRYAv2m+MQBaLRhBPgmzbA3GQ1r13nLZo36Gx2aaJfKhB+OuWVom/g8+rsV3zpfiqJPVJUZjJtd/RKDoNExad/6dBrL/9QdoqcJlFZxa36GagpmN7tvYQxu5/cJRq2lr/AEtqV8y/FLHO6VAmVOLmaT3Z29rOvSt/0vTZjj2wFI8Q6nXjdg6FWrDEs4w/1fcbLwQA3FO4R/HSUUgQcoLd6seD+Fsb55CCSNk0CFDLMdwSmnKKbbGg8GLOzZ0c8JivLOnBRVIgwH6oJujdgzbYcbW9jTg== <nil>
}
