package integration

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestMerchantTextReachesEveryProvider: README Merchant API lets a text
// field hold anything printable, so the merchant's text carries what each
// provider's format treats specially: XML's <&> and a CDATA end ]]>
// (wechat_v2, 2C2P), the &k=v of a sorted signed string (wechat_v2,
// Latipay), quotes and backslashes (JSON), tab, line feed, U+2028 and an
// astral character, spaces at either end. An independent provider written
// from docs/providers with the standard library reads what a real Caddy
// sent: each value arrives exactly as the merchant wrote it, and the
// request's signature verifies over those values.
func TestMerchantTextReachesEveryProvider(t *testing.T) {
	const (
		description = ` 拿铁 <&> ]]> "q" 'a' \ %41+x &body=1 |` + "\t\n\u2028😀 "
		attach      = `a=1&b=<2>]]>&sign=X`
		payerName   = ` O'Neil & 张 <Co> `
		openid      = `o<&>]]>"'\A_-~`
	)
	type wire struct{ path, body string }
	var mu sync.Mutex
	got := map[string]wire{}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" { // CBTIS's token (docs/providers/cbtis.md "Authentication")
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"tok","expires_in":3600}`)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		got[strings.Split(r.URL.Path, "/")[1]] = wire{r.URL.Path, string(body)}
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable) // what was sent is the point, not the answer
	}))
	t.Cleanup(fake.Close)
	upstream := strings.TrimPrefix(fake.URL, "http://")

	port := freePort(t)
	route := func(name, provider, fields string) string {
		return "\thandle /" + name + "/* {\n\t\tminipay " + provider + " {\n" + fields + "\t\t}\n\t\treverse_proxy " + upstream + "\n\t}\n"
	}
	config := globalOptions(filepath.Join(t.TempDir(), "caddy.log")) + ":" + itoa(port) + " {\n\tbind 127.0.0.1\n" +
		route("pay", "wechat_v2", "\t\tapp_id "+appID+"\n\t\tmch_id "+mchID+"\n\t\tapi_key "+apiKey+"\n\t\tsign_type HMAC-SHA256\n\t\tnotify_url https://m.example/n\n\t\tclient_ip 10.0.0.1\n") +
		route("v3", "wechat_v3", v3Merchant(t, v3PublicKeyMode(t))+"\t\tnotify_url https://m.example/n\n") +
		route("2C2PFrontEnd", "2c2p", "\t\tmerchant_id "+twoc2pMerchant+"\n\t\tsecret_key "+twoc2pKey+"\n\t\tapp_id "+appID+"\n") +
		route("latipay", "latipay", "\t\tuser_id "+latipayUserID+"\n\t\twallet_id "+latipayWalletID+"\n\t\tapi_key "+latipayAPIKey+
			"\n\t\tapp_id "+latipayAppID+"\n\t\tcurrency NZD\n\t\tnotify_url https://m.example/n\n") +
		route("mch-api", "cbtis", "\t\tuid "+cbtisUID+"\n\t\tclient_secret "+cbtisSecret+"\n\t\tsub_app_id "+cbtisSubAppID+
			"\n\t\ttoken_url "+fake.URL+"/token\n") + "}\n"
	tc := startCaddy(t, config)
	base := "http://127.0.0.1:" + itoa(port)

	pay := func(route, currency string) {
		t.Helper()
		body, err := json.Marshal(map[string]string{"order_id": "TXT-1", "amount": "1.00", "currency": currency,
			"description": description, "openid": openid, "attach": attach, "payer_name": payerName})
		if err != nil {
			t.Fatal(err)
		}
		if r := do(t, tc, http.MethodPost, base+"/"+route+"/pay", "application/json", body); r.status != 502 {
			t.Fatalf("%s pay: %d %s, want the fake's 503 as a 502", route, r.status, r.body)
		}
	}
	take := func(key string) wire {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		w, ok := got[key]
		if !ok {
			t.Fatalf("nothing reached %s", key)
		}
		return w
	}
	want := func(provider, field, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s %s arrived as %q, want %q", provider, field, got, want)
		}
	}

	t.Run("wechat_v2", func(t *testing.T) {
		pay("pay", "CNY")
		var doc struct {
			Fields []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		}
		if err := xml.Unmarshal([]byte(take("pay").body), &doc); err != nil {
			t.Fatal(err)
		}
		p := map[string]string{}
		for _, f := range doc.Fields {
			p[f.XMLName.Local] = f.Value
		}
		want("wechat_v2", "body", p["body"], description)
		want("wechat_v2", "attach", p["attach"], attach)
		want("wechat_v2", "openid", p["openid"], openid)
		want("wechat_v2", "sign", p["sign"], v2DocSign(p, "HMAC-SHA256"))
	})
	t.Run("wechat_v3", func(t *testing.T) {
		pay("v3", "CNY")
		var b struct {
			Description, Attach string
			Payer               struct{ OpenID string }
		}
		if err := json.Unmarshal([]byte(take("v3").body), &b); err != nil {
			t.Fatal(err)
		}
		want("wechat_v3", "description", b.Description, description)
		want("wechat_v3", "attach", b.Attach, attach)
		want("wechat_v3", "payer.openid", b.Payer.OpenID, openid)
	})
	t.Run("2c2p", func(t *testing.T) {
		pay("2C2PFrontEnd", "SGD")
		form, err := url.ParseQuery(take("2C2PFrontEnd").body)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(form.Get("paymentRequest"))
		var env struct {
			Payload   string `xml:"payload"`
			Signature string `xml:"signature"`
		}
		if err := xml.Unmarshal(raw, &env); err != nil {
			t.Fatalf("envelope %q: %v", raw, err)
		}
		want("2c2p", "signature", env.Signature, twoc2pSign(env.Payload, twoc2pKey))
		inner, _ := base64.StdEncoding.DecodeString(env.Payload)
		var p struct { // docs/providers/2c2p.md "Request payload"
			Desc           string `xml:"desc"`
			CardholderName string `xml:"cardholderName"`
			UserDefined1   string `xml:"userDefined1"`
			OpenID         string `xml:"miniProgramData>wechat>openID"`
		}
		if err := xml.Unmarshal(inner, &p); err != nil {
			t.Fatalf("payload %q: %v", inner, err)
		}
		want("2c2p", "desc", p.Desc, description)
		want("2c2p", "cardholderName", p.CardholderName, payerName)
		want("2c2p", "userDefined1", p.UserDefined1, attach)
		want("2c2p", "openID", p.OpenID, openid)
	})
	t.Run("latipay", func(t *testing.T) {
		pay("latipay", "NZD")
		var p map[string]string
		if err := json.Unmarshal([]byte(take("v2").body), &p); err != nil {
			t.Fatal(err)
		}
		want("latipay", "product_name", p["product_name"], description)
		want("latipay", "open_id", p["open_id"], openid)
		want("latipay", "signature", p["signature"], latipaySortedSign(p, latipayAPIKey))
	})
	t.Run("cbtis", func(t *testing.T) {
		pay("mch-api", "HKD")
		var b struct {
			Description   string
			PaymentMethod struct {
				WeChat struct {
					SubOpenID string `json:"sub_openid"`
				} `json:"wechat"`
			} `json:"payment_method"`
		}
		if err := json.Unmarshal([]byte(take("mch-api").body), &b); err != nil {
			t.Fatal(err)
		}
		want("cbtis", "description", b.Description, description)
		want("cbtis", "sub_openid", b.PaymentMethod.WeChat.SubOpenID, openid)
	})
}
