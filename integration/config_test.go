package integration

import (
	"strings"
	"testing"
)

// TestProviderObjectWithoutName: a JSON provider object whose "name" is
// missing, empty or not a string fails the load saying so, for each of the
// three handlers. Caddy's own module loader would answer "module name not
// specified with key 'name' in map[api_key:… app_id:…]": the whole object,
// secrets included, in the /load answer and in Caddy's log.
func TestProviderObjectWithoutName(t *testing.T) {
	const secret = "s3cr3t-0123456789abcdef01234567"
	objects := []struct{ name, object string }{
		{"no name", `{"app_id":"` + appID + `","mch_id":"` + mchID + `","api_key":"` + secret + `"}`},
		{"empty name", `{"name":"","api_key":"` + secret + `"}`},
		{"null name", `{"name":null,"api_key":"` + secret + `"}`},
		{"name not a string", `{"name":5,"api_key":"` + secret + `"}`},
		{"name in another case", `{"Name":"wechat_v2","api_key":"` + secret + `"}`},
	}
	tc := caddytestTester(t)
	for _, o := range objects {
		for _, h := range []struct{ handler, config, want string }{
			{"minipay", `{"handler":"minipay","provider":` + o.object + `}`, `minipay: the provider object needs "name"`},
			{"minipay_webhook", `{"handler":"minipay_webhook","provider":` + o.object + `}`, `minipay_webhook: the provider object needs "name"`},
			{"minipay_sandbox", `{"handler":"minipay_sandbox","providers":[{"name":"wechat_login","app_id":"` + appID + `","app_secret":"` + appSecret + `"},` + o.object + `]}`,
				`minipay_sandbox: providers[1]: the provider object needs "name"`},
		} {
			t.Run(o.name+"/"+h.handler, func(t *testing.T) {
				err := tc.loadJSON(h.config)
				if err == nil || !strings.Contains(err.Error(), h.want) {
					t.Fatalf("load error %v, want it to contain %q", err, h.want)
				}
				for _, s := range []string{secret, appSecret} {
					if strings.Contains(err.Error(), s) {
						t.Fatalf("the load error echoes a secret: %v", err)
					}
				}
			})
		}
	}
}
