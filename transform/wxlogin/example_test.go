package wxlogin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxlogin"
)

// exchange sends a prepared call to WeChat (baseURL:
// https://api.weixin.qq.com in production, here the sandbox) and decodes
// its answer. The call's query holds the AppSecret: never log the URL, nor
// the text of the HTTP client's error, which quotes it.
func exchange(baseURL string, call *transform.Call) ([]byte, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawQuery = call.Path, call.RawQuery
	req, err := http.NewRequest(call.Method, u.String(), nil)
	if err != nil {
		return nil, transform.Upstream("the code2Session request could not be made")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, transform.Upstream("WeChat could not be reached")
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, transform.MaxAnswer))
	if err != nil {
		return nil, transform.Upstream("WeChat's answer could not be read")
	}
	return call.Decode(resp.StatusCode, resp.Header, answer)
}

// The mini program's wx.login code exchanged for the user's openid
// (code2Session) without Caddy. The sandbox plays WeChat: every code logs
// in the same test user once, and codes starting with "invalid" answer
// WeChat's 40029.
func Example() {
	cfg := wxlogin.Config{AppID: "wx8888888888888888", AppSecret: "sandbox-app-secret"}
	sandbox, err := wxlogin.NewSandbox(cfg)
	if err != nil {
		panic(err)
	}
	wechat := httptest.NewServer(sandbox)
	defer wechat.Close()

	client, err := wxlogin.NewClient(cfg)
	if err != nil {
		panic(err)
	}
	for _, code := range []string{"081Kq4Ga1ZVXCK0xvPIa1Q2LdK4Kq4G9", "081Kq4Ga1ZVXCK0xvPIa1Q2LdK4Kq4G9", "invalid-code"} {
		call, err := client.Prepare(context.Background(), transform.OpLogin, []byte(`{"code":"`+code+`"}`))
		if err != nil {
			panic(err)
		}
		answer, err := exchange(wechat.URL, call)
		var e *transform.Error
		if errors.As(err, &e) {
			fmt.Println(e.Status, e.Code, e.ProviderCode)
			continue
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(string(answer)) // session_key only with Config.ExposeSessionKey
	}
	// Output:
	// {"openid":"os7xVv419cwT89c3EhFacTtXD_84"}
	// 422 provider_rejected 40163
	// 422 provider_rejected 40029
}
