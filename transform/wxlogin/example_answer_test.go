package wxlogin_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxlogin"
)

// Reading an answer of code2Session: WeChat answers its errors with HTTP
// 200 and an errcode (docs/providers/wechat_login.md, Answer). ReadAnswer
// returns session_key as WeChat sent it; Client's Decode leaves it out
// unless Config.ExposeSessionKey is set.
func ExampleReadAnswer() {
	result, err := wxlogin.ReadAnswer(http.StatusOK, []byte(`{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}`))
	fmt.Println(result.OpenID, result.SessionKey, err)
	_, err = wxlogin.ReadAnswer(http.StatusOK, []byte(`{"errcode":40163,"errmsg":"code been used"}`))
	var e *transform.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code, e.ProviderCode, e.ProviderMessage)
	}
	// Output:
	// oUpF8uMuAJO_M2pxb1Q9zNjWeS6o tiihtNczf5v6AKRyjwEUhQ== <nil>
	// 422 provider_rejected 40163 code been used
}
