package wechatpay

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// vectorsDir holds the fixtures of the known-answer vectors that
// transform/wechatv3's tests use (docs/providers/wechat_v3.md).
const vectorsDir = "../../transform/wechatv3/testdata"

func vectorFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSDKReproducesVectors shows that the known answers transform/wechatv3
// is tested against are the official SDK's answers too: its signer gives
// vectors 1, 3, 4 and 5 of docs/providers/wechat_v3.md byte for byte, its
// message format gives vector 2, its AES-GCM decryption gives vector 7, and
// its verifier and AES-GCM decryption accept vectors 6, 8 and 9.
func TestSDKReproducesVectors(t *testing.T) {
	key, err := utils.LoadPrivateKey(vectorFile(t, "wechat_v3-test-private-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ name, message, want string }{
		{"1 signature", "source",
			"BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg=="},
		{"3 Authorization", "POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n" + vectorFile(t, "wechat_v3-auth-body.json") + "\n",
			"pZiQhrF522xeAq+RRHDJybp2Pa+UY+kdjK/7ttFy6n20wjQGCBWdMWasBFz0gS+hxH3ljSj6KXmwA2jtjZTsdZoWBf5SDw1OfgmXpI0onXKS08kt7+mnMkJFpuT3QtlDBtfOcW5DQjA2JezMtJLsVDfd1cja8EyDVkRAmVeI2ZK3/+OFZirZ9Qt10l7ojFZyc2nb8yOCi6w1W2UUEZenveeim5v9qFLZbTupUkzR8TwjSJXOKK4EA+OY6HACrFD8QeaKvezTwQbGqTiH3gZvajrbuK4iHIZKThBs413j4xRau+ZocaMYm18dgCX2DitoYqjpsmIiL69zeD8dWz4LuQ=="},
		{"4 paySign", "wxd678efh567hg6787\n1490840662\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx2017033010242291fcfe0db70013231072\n",
			"AbYoQ6i9MZnUERVuk9Z/WnUqdEpgcUFSoNP63CP3vdq3pcCHaEmg5jE4sfVRYAv2m+MQBaLRhBPgmzbA3GQ1r13nLZo36Gx2aaJfKhB+OuWVom/g8+rsV3zpfiqJPVJUZjJtd/RKDoNExad/6dBrL/9QdoqcJlFZxa36GagpmN7tvYQxu5/cJRq2lr/AEtqV8y/FLHO6VAmVOLmaT3Z29rOvSt/0vTZjj2wFI8Q6nXjdg6FWrDEs4w/1fcbLwQA3FO4R/HSUUgQcoLd6seD+Fsb55CCSNk0CFDLMdwSmnKKbbGg8GLOzZ0c8JivLOnBRVIgwH6oJujdgzbYcbW9jTg=="},
		{"5 answer", "1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{\"prepay_id\":\"wx26112221580621e9b071c00d9e093b0000\"}\n",
			"MKsnsdC3plTZu7xrynhiOvBr3fCo3idyGVXjoIvn3R2EhfRylEi8CeV+OGKk+/3uOERkGM8zy5Z6nb/Zxv1nzgzcIyR5zNqi+/6ckyPPuGWFFzNihnH/9E9IY0TeLLsMjuS+CpirWvEuhBDU2np6J9ohoyyj4UHjv4r18sOXXUnYks2A+H1VqL4yiGb+TJeb65U8Tu91XHCDzGadOImUUmeVTEedhnbuha1z6I5iDpHsARqJZiH/iOw2cTkO0ZbXPtWIWcsl5JLVkRcdOjPD8Eu+MRIGleOCyAemAnb1u2b68iY6I/YgLwoZxvtrbKru7Iz74HbLPVXfPoLO4dtVEA=="},
	} {
		got, err := utils.SignSHA256WithRSA(v.message, key)
		if err != nil || got != v.want {
			t.Errorf("vector %s: the SDK signs %q (err %v), want %q", v.name, got, err, v.want)
		}
	}

	// Vector 2: the Authorization message of a GET.
	if got := fmt.Sprintf(consts.SignatureMessageFormat, "GET", "/v3/certificates", int64(1624523846), "A1B2C3D4E5F6G7", ""); got != "GET\n/v3/certificates\n1624523846\nA1B2C3D4E5F6G7\n\n" {
		t.Errorf("vector 2: the SDK's message is %q", got)
	}
	// Vector 7: AES-GCM with the SDK's 16-byte test key.
	if plain, err := utils.DecryptAES256GCM("testAPIv3Key0000", "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8", "wCq51qZv4Yfg", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC"); err != nil || plain != "Hello World" {
		t.Errorf("vector 7: the SDK decrypts %q (err %v)", plain, err)
	}
	// Vector 6: the SDK's own notification (PAYSCORE.USER_OPEN_SERVICE), in
	// the fixture file the plugin's test reads, under the test certificate.
	cert, err := utils.LoadCertificate(vectorFile(t, "wechat_v3-test-platform-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	payscore := vectorFile(t, "wechat_v3-notify-payscore.json")
	const sig6 = "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1IBLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY406ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q=="
	v6 := verifiers.NewSHA256WithRSAVerifier(core.NewCertificateMapWithList([]*x509.Certificate{cert}))
	if err := v6.Verify(context.Background(), "D7CE59D1F522D701", "1624523846\nEcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz\n"+payscore+"\n", sig6); err != nil {
		t.Errorf("vector 6: the SDK's verifier refuses its own notification: %v", err)
	}
	var n6 struct {
		Resource struct {
			Ciphertext     string `json:"ciphertext"`
			Nonce          string `json:"nonce"`
			AssociatedData string `json:"associated_data"`
		} `json:"resource"`
	}
	if err := json.Unmarshal([]byte(payscore), &n6); err != nil {
		t.Fatal(err)
	}
	const want6 = `{"mchid":"1234567890","appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","out_contract_code":"21640bdbd08e473e828f3206a2741c6e"}`
	if plain, err := utils.DecryptAES256GCM("testMchAPIv3Key0", n6.Resource.AssociatedData, n6.Resource.Nonce, n6.Resource.Ciphertext); err != nil || plain != want6 {
		t.Errorf("vector 6: the SDK decrypts %q (err %v)", plain, err)
	}

	// Vector 8: a payment notification. Its timestamp is in the past, so the
	// SDK's verifier is given the message the validator would build.
	pub, err := utils.LoadPublicKey(vectorFile(t, "wechat_v3-test-public-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body := vectorFile(t, "wechat_v3-notify-transaction.json")
	const sig = "MyX3nAFI/IKXsFAZevHLajbACTzZTP1AtwRdwdYY9ZHf1YUS3l4tSSv0pWMfK2mvoFOpcRLzbKlm9LE3RNAHesnw8Q43n7PeTAZKhAH5zqJjrqCyNiSvYt7e1ypgbGFGrY8wIjOpdNMuqqEVxaPFYhvI/DZVNwWzfV8YG2KTFetZO7u1Ez4zilZ7MxVOzb7RlrNh6xp3qBnvP87vu4VUWflqwm1hYP2voyCwOLl+UvLBWCK2OsBMAQOSPJtxJDWemZE1RwPICTrBezk9iFnHScOhYxsHdt0LX2HmXqmCAsJC6vhFVMPKogQDfA5fWMcpPrLP5S/wmGOKleMmzCYL2w=="
	v := verifiers.NewSHA256WithRSAPubkeyVerifier("D7CE59D1F522D701", *pub)
	if err := v.Verify(context.Background(), "D7CE59D1F522D701", "1795917606\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"+body+"\n", sig); err != nil {
		t.Errorf("vector 8: the SDK's verifier refuses the notification: %v", err)
	}
	var n struct {
		Resource struct {
			Ciphertext     string `json:"ciphertext"`
			Nonce          string `json:"nonce"`
			AssociatedData string `json:"associated_data"`
		} `json:"resource"`
	}
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatal(err)
	}
	plain, err := utils.DecryptAES256GCM("a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2", n.Resource.AssociatedData, n.Resource.Nonce, n.Resource.Ciphertext)
	if err != nil || plain != vectorFile(t, "wechat_v3-notify-transaction.plain.json") {
		t.Errorf("vector 8: the SDK decrypts %q (err %v)", plain, err)
	}

	// Vector 9: a refund notification whose resource has an empty
	// associated_data, which the SDK verifies and decrypts as the plugin does.
	const ct9 = "MgMUgbyNHHkWNoSkNOa+WsLZR9wg1CC727zxwxRyk2LmyRNwpIJRSRxblaAmQ10wcnEMZnEl9cN15ClBKQSsT0XcdnoxyKYNI9IWwMr+i6iztBzuyV8ME+7vCaHIy8WqSUND8rIX0Vqb3rQu1iCM8NVxhNPi68sj6x+RK94FG3KCd+c1oyUCYmlcRK0nNEsms58Eq8HweFaBUF3vpR44PFgnugFQcCovfICUOVyyLl64QMhArQSrtYLaNbuLIxifGxZEJ2ODUxgBHZxD003NcmGHiIby8yw2FiX4gebHA9rRk8Q+4b2MaI3aNmEREQc9MRIuZJfiV2aa1sYdFBtwcY3WOWESq57EyJny7/HI30NLUSecJ6CkTrIjCI95l1/ep5siAKbo02799eaXe21r83jdTPkTGh96cENzm7G7k9nFU6ES7aaGyJKx+WJhmu5psswPb+Ew9ky0d+S1QqwBVkkTJw6mEq57EQHmVBuL54rhp6Q2otJFFBwK/EsaBXLuvaqMic5EXqQmTc06E7DCY5LEDQSHK3b911i55g=="
	body9 := `{"id":"EV-2026112910100500001","create_time":"2026-11-29T10:10:06+08:00","resource_type":"encrypt-resource",` +
		`"event_type":"REFUND.SUCCESS","summary":"退款成功","resource":{"original_type":"refund","algorithm":"AEAD_AES_256_GCM",` +
		`"ciphertext":"` + ct9 + `","associated_data":"","nonce":"fdasflkja484"}}`
	const sig9 = "OZHsvQk6GSKFbix0lLcHAF24Ajet9bOEwAgkPSSTQf44nj0GGC7WJsTxgv1UequsY2rsvaw/nQQmRfIXeuMj+I8lRdN6u8ldqaNik5n6L8+NqaGewh2yLxqOsSE3nUjl74SDQ4ZzFf/UVKqJo8u939jACXbgjzppzHu2nZxrbvbVPDLVoUnNtcoXHsBqcwcMfygdgVQhXjHCyqVh6AJOFAHAmV7c33hkhKN1VfNhmp+9wdIPk6FgTrHQGUyzFrZw6zkxjAEopk9AAQkvdWD7bcBrXtwLlKn5TGewzigIvaoPcPuYOQYllOdY57TU6WGH68QGDohe5r7bnuEIojhN8w=="
	if err := v.Verify(context.Background(), "D7CE59D1F522D701", "1795918206\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"+body9+"\n", sig9); err != nil {
		t.Errorf("vector 9: the SDK's verifier refuses the notification: %v", err)
	}
	const want9 = `{"mchid":"1230000109","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000202611291234567890",` +
		`"out_refund_no":"1217752501201407033233368018-R1","refund_id":"50300000002026112912345678901","refund_status":"SUCCESS",` +
		`"success_time":"2026-11-29T10:10:05+08:00","user_received_account":"支付用户零钱",` +
		`"amount":{"total":100,"refund":100,"payer_total":100,"payer_refund":80}}`
	if plain, err := utils.DecryptAES256GCM("a7cde1ZJB1kG2e7VfTs3jQzaAa8tKtW2", "", "fdasflkja484", ct9); err != nil || plain != want9 {
		t.Errorf("vector 9: the SDK decrypts %q (err %v)", plain, err)
	}
}
