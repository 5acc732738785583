package wechatpay

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
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
// vectors 1, 3, 4 and 5 of docs/providers/wechat_v3.md byte for byte, and
// its verifier and AES-GCM decryption accept vector 8.
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
}
